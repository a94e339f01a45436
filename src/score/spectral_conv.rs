//! The FNO spectral convolution on the GPU as truncated DFTs, forward and
//! backward (`shaders/spectral_conv.wgsl`; the maths is in that file's
//! header and in [`crate::score`]).

use crate::error::{Error, Result};
use crate::fft::{Fft2d, Transform};
use crate::gpu::{DType, Gpu, KernelSpec, ShaderSource, Slot, Tensor};
use crate::score::config::ParamSpec;
use crate::score::linear::Act;

/// `shaders/spectral_conv.wgsl`: the spectral convolution as truncated DFTs, forward and backward.
pub const SHADER: ShaderSource = crate::shader!("spectral_conv.wgsl");

crate::gpu::layout::wgsl_struct! {
    #[wgsl(SHADER, Params, test params_mirror_wgsl)]
    #[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        batch: u32,
        cin: u32,
        cout: u32,
        h: u32,
        w: u32,
        m: u32,
        real_off: u32,
        real_bs: u32,
        chan: u32,
        w_pos: u32,
        w_neg: u32,
        scale0: f32,
        scale_rest: f32,
        sign: f32,
        _pad: [u32; 2],
    }
}

const fn spec(entry: &'static str) -> KernelSpec {
    KernelSpec::new(SHADER, entry, Slot::TWO_IN)
}
const ROW_DFT: KernelSpec = spec("row_dft");
const COL_DFT: KernelSpec = spec("col_dft");
const COL_IDFT: KernelSpec = spec("col_idft");
const ROW_IDFT: KernelSpec = spec("row_idft");
const MIX_FORWARD: KernelSpec = spec("mix_forward");
const MIX_BACKWARD_INPUT: KernelSpec = spec("mix_backward_input");
const MIX_BACKWARD_WEIGHT: KernelSpec = spec("mix_backward_weight");
const GATHER_MODES: KernelSpec = spec("gather_modes");
const SCATTER_MODES: KernelSpec = spec("scatter_modes");
const COPY_FIELDS: KernelSpec = spec("copy_fields");

/// How the kept modes are computed: both give the same numbers (to f32
/// rounding); which is faster depends on the adapter and the shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Method {
    /// Truncated DFTs: only the kept modes, forward and inverse (row and
    /// column DFT kernels).
    #[default]
    Dft,
    /// Full r2c / c2r FFTs of every field and a gather / scatter of the
    /// kept modes (needs `cin = cout`; other layers use the DFTs).
    Fft,
}

crate::names::name_table! {
    Method, "spectral method";
    Dft => "dft",
    Fft => "fft",
}

/// The FFT route's buffers: a plan for `B·C` fields, their half spectra
/// and a contiguous copy of the fields (for channel slices).
struct FftParts {
    plan: Fft2d,
    half: Tensor,
    fields: Tensor,
}

/// Twiddle tables `(cos, sin)(2π j / N)`, `j < N`, for the two axes of an
/// `h × w` grid (computed in f64, stored f32).
pub struct Twiddles {
    /// Rows (`H`) and columns (`W`).
    pub h: usize,
    /// Columns.
    pub w: usize,
    th: Tensor,
    tw: Tensor,
}

impl Twiddles {
    /// Tables for an `h × w` grid (powers of two ≥ 4).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for other sizes.
    pub fn new(gpu: &Gpu, h: usize, w: usize) -> Result<Self> {
        for n in [h, w] {
            if !n.is_power_of_two() || n < 4 {
                return Err(Error::InvalidArgument(format!(
                    "spectral convolution grid {h}x{w}: sides must be powers of two >= 4"
                )));
            }
        }
        let table = |n: usize| -> Result<Tensor> {
            let v: Vec<f32> = (0..n)
                .flat_map(|j| {
                    let a = 2.0 * std::f64::consts::PI * j as f64 / n as f64;
                    [a.cos() as f32, a.sin() as f32]
                })
                .collect();
            Tensor::from_f32(gpu, &[n], DType::C32, &v)
        };
        Ok(Self {
            h,
            w,
            th: table(h)?,
            tw: table(w)?,
        })
    }
}

/// Scratch spectra of one spectral convolution shape (reusable by every
/// layer with at most `channels` channels on the same grid and batch),
/// and the [`Method`] those layers use.
pub struct Scratch {
    rows: Tensor,
    modes: Tensor,
    modes2: Tensor,
    fft: Option<FftParts>,
    batch: usize,
    channels: usize,
    h: usize,
    m: usize,
}

impl Scratch {
    /// Scratch for `batch` samples of up to `channels` channels on an
    /// `h × w` grid with `m` modes, computing them by `method`.
    ///
    /// # Errors
    /// As [`Tensor::zeros`] and [`Fft2d::new`].
    pub fn new(
        gpu: &Gpu,
        batch: usize,
        channels: usize,
        (h, w): (usize, usize),
        m: usize,
        method: Method,
    ) -> Result<Self> {
        let bc = batch * channels;
        let fft = match method {
            Method::Dft => None,
            Method::Fft => Some(FftParts {
                plan: Fft2d::new(gpu, bc, h, w)?,
                half: Tensor::zeros(gpu, &[bc, h, w / 2 + 1], DType::C32)?,
                fields: Tensor::zeros(gpu, &[bc, h, w], DType::F32)?,
            }),
        };
        Ok(Self {
            rows: Tensor::zeros(gpu, &[bc, h, m], DType::C32)?,
            modes: Tensor::zeros(gpu, &[bc, 2 * m, m], DType::C32)?,
            modes2: Tensor::zeros(gpu, &[bc, 2 * m, m], DType::C32)?,
            fft,
            batch,
            channels,
            h,
            m,
        })
    }

    /// The method in use.
    pub fn method(&self) -> Method {
        if self.fft.is_some() {
            Method::Fft
        } else {
            Method::Dft
        }
    }
}

/// One spectral convolution: `w_pos`, `w_neg` `[cin, cout, m, m]` complex
/// in the flat parameter vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpectralConv {
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Kept modes per axis.
    pub modes: usize,
    /// Offset of `w_pos` (f32 elements).
    pub w_pos: usize,
    /// Offset of `w_neg`.
    pub w_neg: usize,
}

impl SpectralConv {
    /// The layer `name` (`name.w_pos`, `name.w_neg`, `[cin, cout, m, m, 2]`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the tensors are missing or misshapen.
    pub fn from_params(specs: &[ParamSpec], name: &str) -> Result<Self> {
        let find = |suffix: &str| ParamSpec::find(specs, &format!("{name}.{suffix}"));
        let (p, n) = (find("w_pos")?, find("w_neg")?);
        let s = &p.shape;
        if s.len() != 5 || s[2] != s[3] || s[4] != 2 || n.shape != *s {
            return Err(Error::InvalidArgument(format!(
                "{name}: w_pos {:?}, w_neg {:?} are not [cin, cout, m, m, 2]",
                p.shape, n.shape
            )));
        }
        Ok(Self {
            cin: s[0],
            cout: s[1],
            modes: s[2],
            w_pos: p.offset,
            w_neg: n.offset,
        })
    }

    /// Length of the kept input spectrum `[B, cin, 2m, m]` (complex).
    pub fn spectrum_shape(&self, batch: usize) -> [usize; 4] {
        [batch, self.cin, 2 * self.modes, self.modes]
    }

    fn base(&self, x: &Act<'_>, out: &Act<'_>, tw: &Twiddles, scratch: &Scratch) -> Result<Params> {
        let (xs, os) = (&x.tensor.shape, &out.tensor.shape);
        let m = self.modes;
        let ok = xs.len() == 4
            && os.len() == 4
            && xs[0] == os[0]
            && xs[2..] == os[2..]
            && xs[2] == tw.h
            && xs[3] == tw.w
            && x.channels == self.cin
            && out.channels == self.cout
            && x.c0 + x.channels <= xs[1]
            && out.c0 + out.channels <= os[1]
            && 2 * m <= tw.h
            && 2 * m <= tw.w
            && scratch.batch == xs[0]
            && scratch.channels >= self.cin.max(self.cout)
            && scratch.h == tw.h
            && scratch.m == m;
        if !ok {
            return Err(Error::Shape(format!(
                "spectral conv {}->{} ({m} modes): input {} channels of {xs:?}, output {} channels of {os:?}, grid {}x{}, scratch {}x{} channels, {} rows, {} modes",
                self.cin, self.cout, x.channels, out.channels, tw.h, tw.w, scratch.batch, scratch.channels, scratch.h, scratch.m
            )));
        }
        Ok(Params {
            batch: xs[0] as u32,
            cin: self.cin as u32,
            cout: self.cout as u32,
            h: tw.h as u32,
            w: tw.w as u32,
            m: m as u32,
            w_pos: self.w_pos as u32,
            w_neg: self.w_neg as u32,
            ..Default::default()
        })
    }

    /// Records `out = SpectralConv(x)` (`x` `[B, cin, H, W]`, `out`
    /// `[B, cout, H, W]` slices, overwritten) and keeps the input's kept
    /// modes in `spectrum` (`[B, cin, 2m, m]` complex) for the backward.
    ///
    /// # Errors
    /// [`Error::Shape`] for mismatched shapes.
    #[allow(clippy::too_many_arguments)]
    pub fn record_forward(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        params: &Tensor,
        tw: &Twiddles,
        x: Act<'_>,
        spectrum: &Tensor,
        out: Act<'_>,
        scratch: &Scratch,
    ) -> Result<()> {
        let p = self.base(&x, &out, tw, scratch)?;
        self.check_spectrum(spectrum, p.batch as usize)?;
        self.analyse(gpu, pass, p, tw, scratch, &x, false, spectrum)?;
        mix(
            gpu,
            pass,
            &MIX_FORWARD,
            p,
            spectrum,
            params,
            &scratch.modes,
            false,
        )?;
        self.synthesise(
            gpu,
            pass,
            p,
            tw,
            scratch,
            &scratch.modes,
            false,
            &out,
            false,
        )
    }

    /// Records the backward of [`SpectralConv::record_forward`]: from
    /// `dout` (`[B, cout, H, W]`) and the kept `spectrum`, the weight
    /// gradients into the flat `grads` (added when `accumulate_grads`) and
    /// the input gradient added to `dx` (`[B, cin, H, W]`; overwritten
    /// unless `accumulate_dx`).
    ///
    /// # Errors
    /// [`Error::Shape`] for mismatched shapes.
    #[allow(clippy::too_many_arguments)]
    pub fn record_backward(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        params: &Tensor,
        tw: &Twiddles,
        dout: Act<'_>,
        spectrum: &Tensor,
        dx: Act<'_>,
        grads: &Tensor,
        accumulate_dx: bool,
        accumulate_grads: bool,
        scratch: &Scratch,
    ) -> Result<()> {
        let p = self.base(&dx, &dout, tw, scratch)?;
        self.check_spectrum(spectrum, p.batch as usize)?;
        let (dmodes, dspectrum) = (&scratch.modes, &scratch.modes2);
        self.analyse(gpu, pass, p, tw, scratch, &dout, true, dmodes)?;
        mix(
            gpu,
            pass,
            &MIX_BACKWARD_WEIGHT,
            p,
            spectrum,
            dmodes,
            grads,
            accumulate_grads,
        )?;
        mix(
            gpu,
            pass,
            &MIX_BACKWARD_INPUT,
            p,
            dmodes,
            params,
            dspectrum,
            false,
        )?;
        self.synthesise(
            gpu,
            pass,
            p,
            tw,
            scratch,
            dspectrum,
            true,
            &dx,
            accumulate_dx,
        )
    }

    /// The kept modes of the fields `a` into `modes` (`[B, C, 2m, m]`):
    /// `rfft2(a)` on the kept bins, or for the backward (`adjoint`) the
    /// gradient with respect to the output of [`Self::synthesise`],
    /// `c(kx)/(HW) rfft2(a)` (`c` = 1 for kx = 0, else 2).
    #[allow(clippy::too_many_arguments)]
    fn analyse(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        p: Params,
        tw: &Twiddles,
        s: &Scratch,
        a: &Act<'_>,
        adjoint: bool,
        modes_out: &Tensor,
    ) -> Result<()> {
        let hw = f64::from(p.h * p.w) as f32;
        let scale = if adjoint {
            (1.0 / hw, 2.0 / hw)
        } else {
            (1.0, 1.0)
        };
        if let Some(f) = self.fft_parts(s) {
            let fields = to_fields(gpu, pass, p, a, f)?;
            f.plan.record(pass, Transform::R2c, fields, &f.half)?;
            return modes(
                gpu,
                pass,
                &GATHER_MODES,
                p,
                a.channels,
                scale,
                &f.half,
                modes_out,
            );
        }
        row(
            gpu, pass, &ROW_DFT, p, a, scale.0, scale.1, &tw.tw, &s.rows, false,
        )?;
        col(
            gpu, pass, &COL_DFT, p, a.channels, -1.0, &s.rows, &tw.th, modes_out,
        )
    }

    /// The fields `out` from the kept modes `modes_in`: `irfft2` of the
    /// zero-filled half spectrum, or for the backward (`adjoint`) the
    /// adjoint of `rfft2` restricted to the kept bins, `Σ_k Re(M_k e^{iθ})`
    /// = `HW irfft2(M / c(kx))`; added to `out` when `accumulate`.
    #[allow(clippy::too_many_arguments)]
    fn synthesise(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        p: Params,
        tw: &Twiddles,
        s: &Scratch,
        modes_in: &Tensor,
        adjoint: bool,
        out: &Act<'_>,
        accumulate: bool,
    ) -> Result<()> {
        let hw = f64::from(p.h * p.w) as f32;
        if let Some(f) = self.fft_parts(s) {
            // c2r itself applies c(kx)/(HW).
            let scale = if adjoint { (hw, 0.5 * hw) } else { (1.0, 1.0) };
            modes(
                gpu,
                pass,
                &SCATTER_MODES,
                p,
                out.channels,
                scale,
                modes_in,
                &f.half,
            )?;
            return from_fields(gpu, pass, p, f, out, accumulate);
        }
        let scale = if adjoint {
            (1.0, 1.0)
        } else {
            (1.0 / hw, 2.0 / hw)
        };
        col(
            gpu,
            pass,
            &COL_IDFT,
            p,
            out.channels,
            1.0,
            modes_in,
            &tw.th,
            &s.rows,
        )?;
        row(
            gpu, pass, &ROW_IDFT, p, out, scale.0, scale.1, &tw.tw, &s.rows, accumulate,
        )
    }

    /// The FFT route's buffers when the scratch uses it and this layer can
    /// (square channel count: one plan serves input and output).
    fn fft_parts<'s>(&self, s: &'s Scratch) -> Option<&'s FftParts> {
        s.fft
            .as_ref()
            .filter(|_| self.cin == self.cout && self.cin == s.channels)
    }

    fn check_spectrum(&self, spectrum: &Tensor, batch: usize) -> Result<()> {
        if spectrum.shape != self.spectrum_shape(batch) || spectrum.dtype != DType::C32 {
            return Err(Error::Shape(format!(
                "kept spectrum {:?}, expected complex {:?}",
                spectrum.shape,
                self.spectrum_shape(batch)
            )));
        }
        Ok(())
    }
}

/// A row transform between the real slice `real` and `rows` (row_idft adds
/// to `real` when `accumulate`).
#[allow(clippy::too_many_arguments)]
fn row(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    spec: &KernelSpec,
    mut p: Params,
    real: &Act<'_>,
    scale0: f32,
    scale_rest: f32,
    table: &Tensor,
    rows: &Tensor,
    accumulate: bool,
) -> Result<()> {
    let s = &real.tensor.shape;
    let per = s[2] * s[3];
    p.real_off = (real.c0 * per) as u32;
    p.real_bs = (s[1] * per) as u32;
    p.chan = real.channels as u32;
    p.scale0 = scale0;
    p.scale_rest = scale_rest;
    let (input, output, work) = if spec.entry == "row_dft" {
        let groups = (p.m as usize).div_ceil(4);
        (
            real.tensor,
            rows,
            p.batch as usize * real.channels * s[2] * groups,
        )
    } else {
        (
            rows,
            real.tensor,
            p.batch as usize * real.channels * s[2] * s[3] / 4,
        )
    };
    run(
        gpu,
        pass,
        spec,
        &p,
        accumulate,
        [input, table, output],
        work,
    )
}

/// The fields of `a` as one contiguous `[B·C, H, W]` tensor: `a` itself
/// when it is a whole tensor, else a copy in `f.fields`.
fn to_fields<'t>(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    p: Params,
    a: &Act<'t>,
    f: &'t FftParts,
) -> Result<&'t Tensor> {
    if a.c0 == 0 && a.channels == a.tensor.shape[1] {
        return Ok(a.tensor);
    }
    copy(gpu, pass, p, a, f, 0, false)?;
    Ok(&f.fields)
}

/// c2r of `f.half` into the slice `out` (added to it when `accumulate`).
fn from_fields(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    p: Params,
    f: &FftParts,
    out: &Act<'_>,
    accumulate: bool,
) -> Result<()> {
    if !accumulate && out.c0 == 0 && out.channels == out.tensor.shape[1] {
        return f.plan.record(pass, Transform::C2r, &f.half, out.tensor);
    }
    f.plan.record(pass, Transform::C2r, &f.half, &f.fields)?;
    copy(gpu, pass, p, out, f, 1, accumulate)
}

/// Copies between the slice `a` and `f.fields` (`dir` 0: slice → fields,
/// 1: fields → slice).
fn copy(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    mut p: Params,
    a: &Act<'_>,
    f: &FftParts,
    dir: u32,
    accumulate: bool,
) -> Result<()> {
    let s = &a.tensor.shape;
    let per = s[2] * s[3];
    p.real_off = (a.c0 * per) as u32;
    p.real_bs = (s[1] * per) as u32;
    p.chan = a.channels as u32;
    p.cin = dir;
    let work = p.batch as usize * a.channels * per / 4;
    let (src, dst) = if dir == 0 {
        (a.tensor, &f.fields)
    } else {
        (&f.fields, a.tensor)
    };
    run(
        gpu,
        pass,
        &COPY_FIELDS,
        &p,
        accumulate,
        [src, src, dst],
        work,
    )
}

/// gather_modes / scatter_modes of `chan`-channel fields with the column
/// factors `(s(0), s(kx > 0))`.
#[allow(clippy::too_many_arguments)]
fn modes(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    spec: &KernelSpec,
    mut p: Params,
    chan: usize,
    (scale0, scale_rest): (f32, f32),
    input: &Tensor,
    output: &Tensor,
) -> Result<()> {
    p.chan = chan as u32;
    p.scale0 = scale0;
    p.scale_rest = scale_rest;
    let (b, m, h, w) = (p.batch as usize, p.m as usize, p.h as usize, p.w as usize);
    let work = if spec.entry == "gather_modes" {
        b * chan * 2 * m * m
    } else {
        b * chan * h * (w / 2 + 1)
    };
    run(gpu, pass, spec, &p, false, [input, input, output], work)
}

/// A column transform of `chan`-channel fields from `input` to `output`.
#[allow(clippy::too_many_arguments)]
fn col(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    spec: &KernelSpec,
    mut p: Params,
    chan: usize,
    sign: f32,
    input: &Tensor,
    table: &Tensor,
    output: &Tensor,
) -> Result<()> {
    p.chan = chan as u32;
    p.sign = sign;
    let (b, m, h) = (p.batch as usize, p.m as usize, p.h as usize);
    let work = if spec.entry == "col_dft" {
        b * chan * m * (2 * m).div_ceil(4)
    } else {
        b * chan * m * h / 4
    };
    run(gpu, pass, spec, &p, false, [input, table, output], work)
}

/// A mode-mixing kernel (forward or one of its two backward halves).
#[allow(clippy::too_many_arguments)]
fn mix(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    spec: &KernelSpec,
    p: Params,
    a: &Tensor,
    b: &Tensor,
    out: &Tensor,
    accumulate: bool,
) -> Result<()> {
    let modes = 2 * (p.m * p.m) as usize;
    let (batch, cin, cout) = (p.batch as usize, p.cin as usize, p.cout as usize);
    let work = match spec.entry {
        "mix_forward" => batch * cout * modes,
        "mix_backward_input" => batch * cin * modes,
        _ => cin * cout * modes,
    };
    run(gpu, pass, spec, &p, accumulate, [a, b, out], work)
}

fn run(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    spec: &KernelSpec,
    p: &Params,
    accumulate: bool,
    bindings: [&Tensor; 3],
    work: usize,
) -> Result<()> {
    let constants = [("ACCUMULATE", f64::from(u8::from(accumulate)))];
    gpu.record_flat_with(pass, spec, &constants, p, &bindings, work)
}
