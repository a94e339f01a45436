//! 2-D FFTs on the CPU in f64 with `rustfft`, in NumPy's conventions
//! (forward unnormalised, inverse `1/(H W)`, half spectrum `[H, W/2+1]`).
//! Fields are row-major `[H, W]`; complex values as `Complex64`.

use std::sync::Arc;

use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};

/// The forward or inverse 1-D transform of length `len`.
fn plan(len: usize, inverse: bool) -> Arc<dyn Fft<f64>> {
    let mut planner = FftPlanner::new();
    if inverse {
        planner.plan_fft_inverse(len)
    } else {
        planner.plan_fft_forward(len)
    }
}

fn transform_rows(data: &mut [Complex64], h: usize, w: usize, inverse: bool) {
    let fft = plan(w, inverse);
    for row in data.chunks_exact_mut(w).take(h) {
        fft.process(row);
    }
}

fn transform_cols(data: &mut [Complex64], h: usize, w: usize, inverse: bool) {
    let fft = plan(h, inverse);
    let mut col = vec![Complex64::new(0.0, 0.0); h];
    for x in 0..w {
        for y in 0..h {
            col[y] = data[y * w + x];
        }
        fft.process(&mut col);
        for y in 0..h {
            data[y * w + x] = col[y];
        }
    }
}

/// Complex 2-D FFT of one `[h, w]` field; `inverse` scales by `1/(h w)`.
pub fn c2c(field: &[Complex64], h: usize, w: usize, inverse: bool) -> Vec<Complex64> {
    let mut d = field.to_vec();
    transform_rows(&mut d, h, w, inverse);
    transform_cols(&mut d, h, w, inverse);
    if inverse {
        let s = 1.0 / (h * w) as f64;
        d.iter_mut().for_each(|v| *v *= s);
    }
    d
}

/// Real 2-D FFT of one `[h, w]` field: half spectrum `[h, w/2+1]`.
pub fn r2c(field: &[f64], h: usize, w: usize) -> Vec<Complex64> {
    let full: Vec<Complex64> = field.iter().map(|&x| Complex64::new(x, 0.0)).collect();
    let spec = c2c(&full, h, w, false);
    let half = w / 2 + 1;
    (0..h)
        .flat_map(|y| spec[y * w..y * w + half].to_vec())
        .collect()
}

/// Inverse real 2-D FFT of a half spectrum `[h, w/2+1]` to `[h, w]`,
/// scaled by `1/(h w)`: the columns are inverted as complex, then each row
/// is completed by Hermitian symmetry with the imaginary parts of the
/// `kx = 0` and `kx = w/2` bins dropped (`numpy.fft.irfft2`).
pub fn c2r(spec: &[Complex64], h: usize, w: usize) -> Vec<f64> {
    let half = w / 2 + 1;
    let mut cols = spec.to_vec();
    transform_cols(&mut cols, h, half, true);
    let mut out = Vec::with_capacity(h * w);
    let fft = plan(w, true);
    for y in 0..h {
        let row = &cols[y * half..(y + 1) * half];
        let mut full = vec![Complex64::new(0.0, 0.0); w];
        full[..half].copy_from_slice(row);
        full[0].im = 0.0;
        full[w / 2].im = 0.0;
        for k in 1..w / 2 {
            full[w - k] = row[k].conj();
        }
        fft.process(&mut full);
        out.extend(full.iter().map(|v| v.re / (h * w) as f64));
    }
    out
}
