//! Integral diagnostics and spectra of a vorticity half spectrum, on the
//! host (what is shown or saved is read back anyway).
//!
//! Normalisation (docs/specification.md §7): with `ω̂` the unnormalised DFT of an
//! `n × n` field, `⟨ω²⟩ = Σ_k |ω̂_k|² / n⁴` over the full spectrum (Parseval);
//! the half spectrum counts bins `0 < kx < n/2` twice. Energy
//! `E = ½⟨|u|²⟩ = ½ Σ_k |ω̂_k|² / (|k|² n⁴)`, enstrophy `Z = ½⟨ω²⟩`; the
//! shell spectra sum to them: `Σ_k E(k) = E`, `Σ_k Z(k) = Z`.

/// Energy and enstrophy of one sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Integrals {
    /// `½⟨|u|²⟩`.
    pub energy: f64,
    /// `½⟨ω²⟩`.
    pub enstrophy: f64,
}

/// Visits every half-spectrum bin of one sample with its full-spectrum
/// weight (1 or 2), integer wavenumbers (jx, jy) and |ω̂|² / n⁴.
fn for_bins(w_hat: &[f32], n: usize, mut f: impl FnMut(i64, i64, f64)) {
    let half = n / 2 + 1;
    let norm = 1.0 / (n as f64).powi(4);
    for iy in 0..n {
        let jy = if iy <= n / 2 {
            iy as i64
        } else {
            iy as i64 - n as i64
        };
        for ix in 0..half {
            let at = 2 * (iy * half + ix);
            let (re, im) = (f64::from(w_hat[at]), f64::from(w_hat[at + 1]));
            let weight = if ix == 0 || ix == n / 2 { 1.0 } else { 2.0 };
            f(ix as i64, jy, weight * (re * re + im * im) * norm);
        }
    }
}

/// Energy and enstrophy of each sample of a half-spectrum batch
/// `[B, n, n/2+1]` (interleaved complex) on a domain of side `length`.
pub fn integrals(w_hat: &[f32], n: usize, length: f64) -> Vec<Integrals> {
    let kappa = 2.0 * std::f64::consts::PI / length;
    w_hat
        .chunks_exact(2 * n * (n / 2 + 1))
        .map(|s| {
            let (mut e, mut z) = (0.0, 0.0);
            for_bins(s, n, |jx, jy, p| {
                let k2 = ((jx * jx + jy * jy) as f64) * kappa * kappa;
                if k2 > 0.0 {
                    e += 0.5 * p / k2;
                }
                z += 0.5 * p;
            });
            Integrals {
                energy: e,
                enstrophy: z,
            }
        })
        .collect()
}

/// Shell-summed spectra of one sample: `(E[m], Z[m])`, energy and
/// enstrophy summed over the bins with integer `|k| = sqrt(jx² + jy²)`
/// rounded to `m`, for `m = 0 ..= n/√2`. `Σ E = ½⟨|u|²⟩`, `Σ Z = ½⟨ω²⟩`.
pub fn shell_spectra(w_hat: &[f32], n: usize, length: f64) -> (Vec<f64>, Vec<f64>) {
    let kappa = 2.0 * std::f64::consts::PI / length;
    let shells = (n as f64 * std::f64::consts::FRAC_1_SQRT_2).ceil() as usize + 1;
    let (mut e, mut z) = (vec![0.0; shells], vec![0.0; shells]);
    for_bins(&w_hat[..2 * n * (n / 2 + 1)], n, |jx, jy, p| {
        let j2 = (jx * jx + jy * jy) as f64;
        if j2 > 0.0 {
            let shell = j2.sqrt().round() as usize;
            e[shell] += 0.5 * p / (j2 * kappa * kappa);
            z[shell] += 0.5 * p;
        }
    });
    (e, z)
}

/// Shell-summed energy spectrum of one sample (see [`shell_spectra`]).
pub fn energy_spectrum(w_hat: &[f32], n: usize, length: f64) -> Vec<f64> {
    shell_spectra(w_hat, n, length).0
}

/// Probability density of `values` on `bins` equal bins spanning
/// `[-range, range]`: `(bin centres, density)`, the density normalised so
/// that it integrates to the fraction of values inside the range (1 when
/// none falls outside).
pub fn pdf(values: &[f32], range: f64, bins: usize) -> (Vec<f64>, Vec<f64>) {
    let width = 2.0 * range / bins as f64;
    let mut counts = vec![0usize; bins];
    for &v in values {
        let x = (f64::from(v) + range) / width;
        if x >= 0.0 && (x as usize) < bins {
            counts[x as usize] += 1;
        }
    }
    let centres = (0..bins)
        .map(|i| -range + (i as f64 + 0.5) * width)
        .collect();
    let norm = 1.0 / (values.len().max(1) as f64 * width);
    (centres, counts.iter().map(|&c| c as f64 * norm).collect())
}
