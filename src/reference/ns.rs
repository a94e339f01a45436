//! One pseudo-spectral Navier–Stokes step on the CPU in f64: the twin of
//! `src/ns/solver.rs` + `shaders/spectral.wgsl` (same equations, same
//! conventions: half spectra `[n, n/2+1]`, x along the last axis,
//! `u = (∂ψ/∂y, −∂ψ/∂x)`, `−Δψ = ω`, 2/3-rule dealiasing, Nyquist bins of
//! odd derivatives zeroed, Crank–Nicolson with explicit Euler or Heun).

use rustfft::num_complex::Complex64;

use super::fft;

/// Parameters of the reference step (one field).
#[derive(Clone, Debug)]
pub struct NsParams {
    /// Grid points per side.
    pub n: usize,
    /// Domain side L.
    pub length: f64,
    /// Viscosity.
    pub nu: f64,
    /// Linear drag.
    pub drag: f64,
    /// Time step.
    pub dt: f64,
    /// Heun (true) or forward Euler (false).
    pub heun: bool,
}

/// Integer wavenumbers (jx, jy) of half-spectrum bin (iy, ix).
pub fn wavenumbers(n: usize, iy: usize, ix: usize) -> (i64, i64) {
    let jy = if iy <= n / 2 {
        iy as i64
    } else {
        iy as i64 - n as i64
    };
    (ix as i64, jy)
}

pub fn deriv(n: usize, j: i64, kappa: f64) -> f64 {
    if 2 * j.unsigned_abs() as usize == n {
        0.0
    } else {
        j as f64 * kappa
    }
}

/// Spectrum of `u·∇ω` (not dealiased) for the half spectrum `w`.
pub fn advection_hat(p: &NsParams, w: &[Complex64]) -> Vec<Complex64> {
    let n = p.n;
    let half = n / 2 + 1;
    let kappa = 2.0 * std::f64::consts::PI / p.length;
    let i = Complex64::new(0.0, 1.0);
    let mut spectra = vec![vec![Complex64::new(0.0, 0.0); n * half]; 4];
    for iy in 0..n {
        for ix in 0..half {
            let (jx, jy) = wavenumbers(n, iy, ix);
            let (kx, ky) = (jx as f64 * kappa, jy as f64 * kappa);
            let k2 = kx * kx + ky * ky;
            let wk = w[iy * half + ix];
            let psi = if k2 == 0.0 {
                Complex64::new(0.0, 0.0)
            } else {
                wk / k2
            };
            let (dx, dy) = (deriv(n, jx, kappa), deriv(n, jy, kappa));
            let at = iy * half + ix;
            spectra[0][at] = i * dy * psi;
            spectra[1][at] = -i * dx * psi;
            spectra[2][at] = i * dx * wk;
            spectra[3][at] = i * dy * wk;
        }
    }
    let f: Vec<Vec<f64>> = spectra.iter().map(|s| fft::c2r(s, n, n)).collect();
    let adv: Vec<f64> = (0..n * n)
        .map(|j| f[0][j] * f[2][j] + f[1][j] * f[3][j])
        .collect();
    fft::r2c(&adv, n, n)
}

/// One CN step: `((1−a) w + dt (f − mask·adv)) / (1+a)`, `a = dt/2 (ν|k|² + drag)`.
fn update(p: &NsParams, w: &[Complex64], adv: &[Complex64], f: &[Complex64]) -> Vec<Complex64> {
    let n = p.n;
    let half = n / 2 + 1;
    let kappa = 2.0 * std::f64::consts::PI / p.length;
    (0..n * half)
        .map(|at| {
            let (jx, jy) = wavenumbers(n, at / half, at % half);
            let (kx, ky) = (jx as f64 * kappa, jy as f64 * kappa);
            let a = 0.5 * p.dt * (p.nu * (kx * kx + ky * ky) + p.drag);
            let keep = 3 * jx.unsigned_abs() as usize <= n && 3 * jy.unsigned_abs() as usize <= n;
            let adv = if keep {
                adv[at]
            } else {
                Complex64::new(0.0, 0.0)
            };
            ((1.0 - a) * w[at] + p.dt * (f[at] - adv)) / (1.0 + a)
        })
        .collect()
}

/// One time step of the half spectrum `w` with forcing half spectrum `f`.
pub fn step(p: &NsParams, w: &[Complex64], f: &[Complex64]) -> Vec<Complex64> {
    let n1 = advection_hat(p, w);
    let pred = update(p, w, &n1, f);
    if !p.heun {
        return pred;
    }
    let n2 = advection_hat(p, &pred);
    let avg: Vec<Complex64> = n1.iter().zip(&n2).map(|(a, b)| 0.5 * (a + b)).collect();
    update(p, w, &avg, f)
}

/// Spectral truncation of a half spectrum `[n, n/2+1]` to `[m, m/2+1]`
/// (the twin of `shaders/restrict.wgsl`): bins with `|kx|, |ky| < m/2`
/// kept and scaled by `(m/n)²`, the coarse Nyquist bins zeroed.
pub fn truncate(spec: &[Complex64], n: usize, m: usize) -> Vec<Complex64> {
    let (hn, hm) = (n / 2 + 1, m / 2 + 1);
    let s = (m * m) as f64 / (n * n) as f64;
    (0..m * hm)
        .map(|at| {
            let (iy, ix) = (at / hm, at % hm);
            if 2 * ix == m || 2 * iy == m {
                return Complex64::new(0.0, 0.0);
            }
            let fy = if iy > m / 2 { iy + n - m } else { iy };
            spec[fy * hn + ix] * s
        })
        .collect()
}
