//! Fine → coarse restriction on the GPU (`shaders/restrict.wgsl`), the two
//! of docs/specification.md §3: the sharp spectral cutoff filter (the default) and
//! plain striding (the reference code's).

use crate::error::{Error, Result};
use crate::gpu::{Gpu, KernelSpec, ShaderSource, Slot, Tensor};

/// `shaders/restrict.wgsl`: the spectral and strided restriction filters.
pub const SHADER: ShaderSource = crate::shader!("restrict.wgsl");

/// How a fine field becomes a coarse one (recorded in datasets).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Restriction {
    /// Sharp spectral cutoff: keep `|kx|, |ky| < m/2` ([`record_truncation`]).
    #[default]
    Spectral,
    /// Every `(n/m)`-th grid point ([`record_stride`]); the fine modes above
    /// `m/2` alias onto the coarse ones.
    Stride,
}

crate::names::name_table! {
    Restriction, "restriction";
    Spectral => "spectral",
    Stride => "stride",
}

crate::gpu::layout::wgsl_struct! {
    #[wgsl(SHADER, Params, test params_mirror_wgsl)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        n: u32,
        m: u32,
        len: u32,
        scale: f32,
    }
}

const TRUNCATE: KernelSpec = KernelSpec::new(SHADER, "truncate", Slot::IN_OUT);
const STRIDE: KernelSpec = KernelSpec::new(SHADER, "stride", Slot::IN_OUT);

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
    dispatch(gpu, pass, &TRUNCATE, fine, coarse, n, m)
}

/// Records plain striding of the physical fields `fine` (`[.., n, n]` f32)
/// into `coarse` (`[.., m, m]`, same leading dims): `coarse[y, x] =
/// fine[y n/m, x n/m]`.
///
/// # Errors
/// [`Error::Shape`] for mismatched tensors or `m > n`.
pub fn record_stride(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    fine: &Tensor,
    coarse: &Tensor,
) -> Result<()> {
    let (fs, cs) = (&fine.shape, &coarse.shape);
    let square =
        |s: &[usize]| (s.len() >= 2 && s[s.len() - 2] == s[s.len() - 1]).then(|| s[s.len() - 1]);
    let batch = |s: &[usize]| s[..s.len() - 2].iter().product::<usize>();
    match (square(fs), square(cs)) {
        (Some(n), Some(m)) if m <= n && n % m == 0 && batch(fs) == batch(cs) => {
            dispatch(gpu, pass, &STRIDE, fine, coarse, n, m)
        }
        _ => Err(Error::Shape(format!(
            "striding from {fs:?} to {cs:?}: need [.., n, n] -> [.., m, m] with m dividing n and equal leading dims"
        ))),
    }
}

fn dispatch(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    spec: &KernelSpec,
    fine: &Tensor,
    coarse: &Tensor,
    n: usize,
    m: usize,
) -> Result<()> {
    let len = coarse.len();
    let p = Params {
        n: n as u32,
        m: m as u32,
        len: len as u32,
        scale: ((m * m) as f64 / (n * n) as f64) as f32,
    };
    gpu.record_flat(pass, spec, &p, &[fine, coarse], len)
}
