//! Bicubic interpolation of the sparse pipeline (docs/specification.md §6) on the GPU:
//! two dense per-axis maps (`shaders/bicubic.wgsl`), forward and backward.

use crate::error::{Error, Result};
use crate::gpu::{DType, Gpu, KernelSpec, ShaderSource, Slot, Tensor};
use crate::score::linear::Act;

/// `shaders/bicubic.wgsl`: the dense per-axis maps of the bicubic interpolation.
pub const SHADER: ShaderSource = crate::shader!("bicubic.wgsl");

/// `A` of PyTorch's bicubic kernel (Keys' cubic convolution).
const CUBIC_A: f64 = -0.75;

crate::gpu::layout::wgsl_struct! {
    #[wgsl(SHADER, Params, test params_mirror_wgsl)]
    #[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        batch: u32,
        chan: u32,
        na_in: u32,
        na_out: u32,
        nk: u32,
        in_off: u32,
        in_bs: u32,
        in_cs: u32,
        in_sa: u32,
        in_sk: u32,
        out_off: u32,
        out_bs: u32,
        out_cs: u32,
        out_sa: u32,
        out_sk: u32,
        m_off: u32,
        m_so: u32,
        m_si: u32,
        _pad: [u32; 2],
    }
}

const RESAMPLE: KernelSpec = KernelSpec::new(SHADER, "resample", Slot::TWO_IN);

/// The `[dst, src]` matrix of PyTorch's `interpolate(mode="bicubic",
/// align_corners=True)` along one axis: output `y` samples the source at
/// `y (src−1)/(dst−1)` with Keys' cubic (A = −0.75) over 4 taps, indices
/// clamped to the border.
pub fn bicubic_matrix(src: usize, dst: usize) -> Vec<f64> {
    let conv1 = |x: f64| ((CUBIC_A + 2.0) * x - (CUBIC_A + 3.0)) * x * x + 1.0;
    let conv2 = |x: f64| ((CUBIC_A * x - 5.0 * CUBIC_A) * x + 8.0 * CUBIC_A) * x - 4.0 * CUBIC_A;
    let scale = if dst > 1 {
        (src as f64 - 1.0) / (dst as f64 - 1.0)
    } else {
        0.0
    };
    let mut m = vec![0.0; dst * src];
    for y in 0..dst {
        let real = scale * y as f64;
        let i0 = real.floor();
        let t = real - i0;
        let w = [conv2(t + 1.0), conv1(t), conv1(1.0 - t), conv2(2.0 - t)];
        for (k, wk) in w.iter().enumerate() {
            let i = (i0 as i64 - 1 + k as i64).clamp(0, src as i64 - 1) as usize;
            m[y * src + i] += wk;
        }
    }
    m
}

/// Bicubic upsampling of `s × s` fields to `h × w`, with its scratch.
pub struct Bicubic {
    s: usize,
    h: usize,
    w: usize,
    /// `[h, s]` then `[w, s]`.
    mats: Tensor,
    /// `[B, C, s, w]`: after the column map.
    tmp: Tensor,
}

impl Bicubic {
    /// For `batch` samples of `channels` channels, `s × s` → `h × w`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty size.
    pub fn new(
        gpu: &Gpu,
        batch: usize,
        channels: usize,
        s: usize,
        h: usize,
        w: usize,
    ) -> Result<Self> {
        if s == 0 || h == 0 || w == 0 || batch == 0 || channels == 0 {
            return Err(Error::InvalidArgument(format!(
                "bicubic {s}x{s} -> {h}x{w}, batch {batch}, {channels} channels: sizes must be >= 1"
            )));
        }
        let mats: Vec<f32> = bicubic_matrix(s, h)
            .into_iter()
            .chain(bicubic_matrix(s, w))
            .map(|v| v as f32)
            .collect();
        Ok(Self {
            s,
            h,
            w,
            mats: Tensor::from_f32(gpu, &[mats.len()], DType::F32, &mats)?,
            tmp: Tensor::zeros(gpu, &[batch, channels, s, w], DType::F32)?,
        })
    }

    /// `(offset, batch stride, channel stride)` of a slice whose points
    /// hold an `rows × cols` field (possibly padded).
    fn layout(a: &Act<'_>, rows: usize, cols: usize) -> Result<(u32, u32, u32)> {
        let s = &a.tensor.shape;
        let p: usize = s[2..].iter().product();
        if s.len() < 3 || p < rows * cols || a.c0 + a.channels > s[1] {
            return Err(Error::Shape(format!(
                "bicubic: slice {}..{} of {s:?} cannot hold {rows}x{cols} fields",
                a.c0,
                a.c0 + a.channels
            )));
        }
        Ok(((a.c0 * p) as u32, (s[1] * p) as u32, p as u32))
    }

    /// Records `out = interp(input)`: `input` `[B, C, s·s (+ padding)]`,
    /// `out` `[B, C, h, w]` (overwritten).
    ///
    /// # Errors
    /// [`Error::Shape`] for mismatched slices.
    pub fn record_forward(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        input: Act<'_>,
        out: Act<'_>,
    ) -> Result<()> {
        let (s, h, w) = (self.s, self.h, self.w);
        let tmp = Act::slice(&self.tmp, 0, input.channels);
        self.check(&input, &out)?;
        // Columns: [s, s] -> [s, w] with M_x [w, s].
        self.map(
            gpu,
            pass,
            &input,
            (s, s),
            &tmp,
            (s, w),
            false,
            (s, w, (h * s) as u32, s as u32, 1),
            false,
        )?;
        // Rows: [s, w] -> [h, w] with M_y [h, s].
        self.map(
            gpu,
            pass,
            &tmp,
            (s, w),
            &out,
            (h, w),
            true,
            (s, h, 0, s as u32, 1),
            false,
        )
    }

    /// Records the backward: `dinput = interpᵀ(dout)` (added to `dinput`
    /// when `accumulate`; padding points are never written).
    ///
    /// # Errors
    /// [`Error::Shape`] for mismatched slices.
    pub fn record_backward(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        dout: Act<'_>,
        dinput: Act<'_>,
        accumulate: bool,
    ) -> Result<()> {
        let (s, h, w) = (self.s, self.h, self.w);
        let tmp = Act::slice(&self.tmp, 0, dout.channels);
        self.check(&dinput, &dout)?;
        // Rows: [h, w] -> [s, w] with M_yᵀ.
        self.map(
            gpu,
            pass,
            &dout,
            (h, w),
            &tmp,
            (s, w),
            true,
            (h, s, 0, 1, s as u32),
            false,
        )?;
        // Columns: [s, w] -> [s, s] with M_xᵀ.
        self.map(
            gpu,
            pass,
            &tmp,
            (s, w),
            &dinput,
            (s, s),
            false,
            (w, s, (h * s) as u32, 1, s as u32),
            accumulate,
        )
    }

    fn check(&self, small: &Act<'_>, big: &Act<'_>) -> Result<()> {
        let (bs, bb) = (small.tensor.shape[0], big.tensor.shape[0]);
        if small.channels != big.channels
            || bs != bb
            || small.channels > self.tmp.shape[1]
            || bs != self.tmp.shape[0]
        {
            return Err(Error::Shape(format!(
                "bicubic: {} channels of {:?} vs {} channels of {:?} (scratch {:?})",
                small.channels, small.tensor.shape, big.channels, big.tensor.shape, self.tmp.shape
            )));
        }
        Ok(())
    }

    /// One map along rows (`along_rows`) or columns from `src` (`rows × cols`
    /// fields) to `dst`; `m = (na_in, na_out, m_off, m_so, m_si)`.
    #[allow(clippy::too_many_arguments)]
    fn map(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        src: &Act<'_>,
        src_dims: (usize, usize),
        dst: &Act<'_>,
        dst_dims: (usize, usize),
        along_rows: bool,
        m: (usize, usize, u32, u32, u32),
        accumulate: bool,
    ) -> Result<()> {
        let (in_off, in_bs, in_cs) = Self::layout(src, src_dims.0, src_dims.1)?;
        let (out_off, out_bs, out_cs) = Self::layout(dst, dst_dims.0, dst_dims.1)?;
        let (sc, dc) = (src_dims.1 as u32, dst_dims.1 as u32);
        // Rows: the other axis is the columns (stride 1), the transformed
        // axis strides by the row length; columns: the other way round.
        let (in_sa, in_sk, out_sa, out_sk, nk) = if along_rows {
            (sc, 1, dc, 1, dst_dims.1)
        } else {
            (1, sc, 1, dc, dst_dims.0)
        };
        let p = Params {
            batch: src.tensor.shape[0] as u32,
            chan: src.channels as u32,
            na_in: m.0 as u32,
            na_out: m.1 as u32,
            nk: nk as u32,
            in_off,
            in_bs,
            in_cs,
            in_sa,
            in_sk,
            out_off,
            out_bs,
            out_cs,
            out_sa,
            out_sk,
            m_off: m.2,
            m_so: m.3,
            m_si: m.4,
            ..Default::default()
        };
        let constants = [("ACCUMULATE", f64::from(u8::from(accumulate)))];
        let tensors = [src.tensor, &self.mats, dst.tensor];
        let work = src.tensor.shape[0] * src.channels * m.1 * nk;
        gpu.record_flat_with(pass, &RESAMPLE, &constants, &p, &tensors, work)
    }
}
