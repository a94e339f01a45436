//! Eddy-viscosity closures on the CPU in f64: the twin of `src/ns/eddy.rs`
//! and the `eddy_*` kernels of `shaders/spectral.wgsl` (same conventions
//! as [`super::ns`]).

use rustfft::num_complex::Complex64;

use super::fft;
use super::ns::{deriv, wavenumbers};

/// `(D, J)` of the half spectrum `w` `[n, n/2+1]` filtered to
/// `|jx|, |jy| < cutoff`: `D = ∇·(Δ^q s ∇ω)` (Smagorinsky: `q = 2`,
/// `s = |S|`; Leith: `q = 3`, `s = |∇ω|`) and `J = u·∇ω`, both dealiased
/// by the 2/3 rule.
pub fn terms(
    n: usize,
    length: f64,
    w: &[Complex64],
    cutoff: usize,
    delta: f64,
    leith: bool,
) -> (Vec<Complex64>, Vec<Complex64>) {
    let half = n / 2 + 1;
    let kappa = 2.0 * std::f64::consts::PI / length;
    let i = Complex64::new(0.0, 1.0);
    let zero = Complex64::new(0.0, 0.0);
    let mut spectra = vec![vec![zero; n * half]; 6];
    for at in 0..n * half {
        let (jx, jy) = wavenumbers(n, at / half, at % half);
        let keep = (jx.unsigned_abs() as usize) < cutoff && (jy.unsigned_abs() as usize) < cutoff;
        let wk = if keep { w[at] } else { zero };
        let (kx, ky) = (jx as f64 * kappa, jy as f64 * kappa);
        let k2 = kx * kx + ky * ky;
        let psi = if k2 == 0.0 { zero } else { wk / k2 };
        let (dx, dy) = (deriv(n, jx, kappa), deriv(n, jy, kappa));
        spectra[0][at] = i * dy * psi;
        spectra[1][at] = -i * dx * psi;
        spectra[2][at] = i * dx * wk;
        spectra[3][at] = i * dy * wk;
        spectra[4][at] = -dx * dy * psi;
        spectra[5][at] = 0.5 * (kx * kx - ky * ky) * psi;
    }
    let f: Vec<Vec<f64>> = spectra.iter().map(|s| fft::c2r(s, n, n)).collect();
    let (mut fx, mut fy, mut adv) = (vec![0.0; n * n], vec![0.0; n * n], vec![0.0; n * n]);
    for j in 0..n * n {
        let (wx, wy) = (f[2][j], f[3][j]);
        let nu_e = if leith {
            delta.powi(3) * (wx * wx + wy * wy).sqrt()
        } else {
            delta.powi(2) * 2.0 * (f[4][j] * f[4][j] + f[5][j] * f[5][j]).sqrt()
        };
        fx[j] = nu_e * wx;
        fy[j] = nu_e * wy;
        adv[j] = f[0][j] * wx + f[1][j] * wy;
    }
    let (fx, fy, adv) = (
        fft::r2c(&fx, n, n),
        fft::r2c(&fy, n, n),
        fft::r2c(&adv, n, n),
    );
    let mut d = vec![zero; n * half];
    let mut jt = vec![zero; n * half];
    for at in 0..n * half {
        let (jx, jy) = wavenumbers(n, at / half, at % half);
        if 3 * jx.unsigned_abs() as usize <= n && 3 * jy.unsigned_abs() as usize <= n {
            d[at] = i * (deriv(n, jx, kappa) * fx[at] + deriv(n, jy, kappa) * fy[at]);
            jt[at] = adv[at];
        }
    }
    (d, jt)
}

/// The dynamic coefficient `C = max(0, ⟨−L, M⟩ / ⟨M, M⟩)` over the test
/// band: [`dynamic_ratio`] clipped (no backscatter).
pub fn dynamic_coefficient(
    n: usize,
    base: &(Vec<Complex64>, Vec<Complex64>),
    test: &(Vec<Complex64>, Vec<Complex64>),
    cutoff: usize,
) -> f64 {
    dynamic_ratio(n, base, test, cutoff).max(0.0)
}

/// The unclipped Germano–Lilly ratio `⟨−L, M⟩ / ⟨M, M⟩` over the test
/// band `|jx|, |jy| < cutoff`, `L = J̃ − J_t`, `M = D_t − D̃`, from the
/// terms of the state (`base`) and of its test-filtered state (`test`);
/// 0 when `M = 0`.
pub fn dynamic_ratio(
    n: usize,
    base: &(Vec<Complex64>, Vec<Complex64>),
    test: &(Vec<Complex64>, Vec<Complex64>),
    cutoff: usize,
) -> f64 {
    let half = n / 2 + 1;
    let (mut lm, mut mm) = (0.0, 0.0);
    for at in 0..n * half {
        let (jx, jy) = wavenumbers(n, at / half, at % half);
        if jx.unsigned_abs() as usize >= cutoff || jy.unsigned_abs() as usize >= cutoff {
            continue;
        }
        let weight = if jx == 0 || 2 * jx as usize == n {
            1.0
        } else {
            2.0
        };
        let l = base.1[at] - test.1[at];
        let m = test.0[at] - base.0[at];
        lm -= weight * (l * m.conj()).re;
        mm += weight * m.norm_sqr();
    }
    if mm <= 0.0 {
        0.0
    } else {
        lm / mm
    }
}
