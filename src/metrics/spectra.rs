//! Shell-summed spectra of many fields, transformed on the GPU by our FFT
//! and summed into shells on the host
//! ([`crate::ns::diagnostics::shell_spectra`]).

use crate::error::{Error, Result};
use crate::fft::{Fft2d, Transform};
use crate::gpu::{DType, Gpu, Tensor};
use crate::ns::diagnostics::shell_spectra;

/// Fields per GPU transform.
const CHUNK: usize = 16;

/// The mean over `fields` (`[F, n, n]`, row-major) of the shell spectra
/// `(E(k), Z(k))` on a domain of side `length`: `Σ_k E = ½⟨|u|²⟩` treating
/// each field as a vorticity, and `Σ_k Z = ½⟨f²⟩` (minus the mean), the
/// field's own power spectrum. Shells `k = 0 ..= ⌈n/√2⌉`.
///
/// # Errors
/// [`Error::Shape`] unless `fields` holds a whole, non-zero number of
/// `n × n` fields; FFT plan and readback errors.
pub fn mean_shell_spectra(
    gpu: &Gpu,
    fields: &[f32],
    n: usize,
    length: f64,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let p = n * n;
    if p == 0 || fields.is_empty() || !fields.len().is_multiple_of(p) {
        return Err(Error::Shape(format!(
            "{} values are not a whole number of {n}x{n} fields",
            fields.len()
        )));
    }
    let count = fields.len() / p;
    let b = CHUNK.min(count);
    let fft = Fft2d::new(gpu, b, n, n)?;
    let phys = Tensor::zeros(gpu, &[b, n, n], DType::F32)?;
    let spec = Tensor::zeros(gpu, &[b, n, n / 2 + 1], DType::C32)?;
    let (mut e_avg, mut z_avg) = (Vec::new(), Vec::new());
    let c = 1.0 / count as f64;
    for chunk in fields.chunks(b * p) {
        let mut padded = chunk.to_vec();
        padded.resize(b * p, 0.0);
        phys.write(gpu, &padded)?;
        let mut enc = gpu.encoder("spectra");
        fft.run(&mut enc, Transform::R2c, &phys, &spec)?;
        gpu.submit(enc);
        let hat = gpu.read_one(&spec)?;
        for sample in hat.chunks_exact(2 * n * (n / 2 + 1)).take(chunk.len() / p) {
            let (e, z) = shell_spectra(sample, n, length);
            if e_avg.is_empty() {
                e_avg = vec![0.0; e.len()];
                z_avg = vec![0.0; z.len()];
            }
            e_avg.iter_mut().zip(&e).for_each(|(a, v)| *a += c * v);
            z_avg.iter_mut().zip(&z).for_each(|(a, v)| *a += c * v);
        }
    }
    Ok((e_avg, z_avg))
}
