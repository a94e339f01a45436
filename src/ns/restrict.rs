//! Fine → coarse restriction of half spectra on the GPU
//! (`shaders/restrict.wgsl`): the sharp spectral cutoff filter of
//! science.md §3 (the default restriction of datasets).

use crate::error::{Error, Result};
use crate::gpu::{Gpu, KernelSpec, Shader, Slot, Tensor};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    m: u32,
    len: u32,
    scale: f32,
}

const TRUNCATE: KernelSpec = KernelSpec {
    shader: Shader::Restrict,
    entry: "truncate",
    slots: &[Slot::Uniform, Slot::Read, Slot::ReadWrite],
};

/// Records the spectral truncation of `fine` (`[.., n, n/2+1]` complex)
/// into `coarse` (`[.., m, m/2+1]`, same leading dims), `m <= n`: bins with
/// `|kx|, |ky| < m/2` are kept and scaled by `(m/n)²` (point values are
/// preserved for band-limited fields); the coarse Nyquist bins are zeroed.
///
/// # Errors
/// [`Error::Shape`] for mismatched tensors or `m > n`.
pub fn record_truncation(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    fine: &Tensor,
    coarse: &Tensor,
) -> Result<()> {
    let (fs, cs) = (&fine.shape, &coarse.shape);
    let dims = |s: &[usize]| (s.len() >= 2).then(|| (s[s.len() - 2], s[s.len() - 1]));
    let (Some((n, hn)), Some((m, hm))) = (dims(fs), dims(cs)) else {
        return Err(Error::Shape(format!(
            "restriction needs [.., n, n/2+1] tensors, got {fs:?} -> {cs:?}"
        )));
    };
    let batch = |s: &[usize]| s[..s.len() - 2].iter().product::<usize>();
    if hn != n / 2 + 1 || hm != m / 2 + 1 || m > n || batch(fs) != batch(cs) {
        return Err(Error::Shape(format!(
            "restriction from {fs:?} to {cs:?}: need half spectra [.., n, n/2+1] -> [.., m, m/2+1] with m <= n and equal leading dims"
        )));
    }
    let kernel = gpu.kernel(&TRUNCATE, &[])?;
    let len = coarse.len();
    let p = Params {
        n: n as u32,
        m: m as u32,
        len: len as u32,
        scale: ((m * m) as f64 / (n * n) as f64) as f32,
    };
    let uniform = gpu.uniform("restrict params", &p);
    let bg = gpu.bind(
        &kernel,
        &[
            uniform.as_entire_binding(),
            fine.buffer.as_entire_binding(),
            coarse.buffer.as_entire_binding(),
        ],
    );
    gpu.dispatch(pass, &kernel, &bg, len.div_ceil(64) as u32);
    Ok(())
}
