//! Pointwise linear layers (`nn.Linear` at every point, 1×1 convolutions)
//! on the GPU, forward and backward (`shaders/linear.wgsl`).

use crate::error::{Error, Result};
use crate::gpu::{DType, Gpu, KernelSpec, ShaderSource, Slot, Tensor};
use crate::score::config::ParamSpec;

/// `shaders/linear.wgsl`: the pointwise linear layers, forward and backward.
pub const SHADER: ShaderSource = crate::shader!("linear.wgsl");

/// A channel slice of an activation tensor `[B, C, H, W]` (or `[B, C, P]`):
/// channels `c0 .. c0 + channels`, all points.
#[derive(Clone, Copy, Debug)]
pub struct Act<'a> {
    /// The whole tensor, f32, `[B, C, ...]`.
    pub tensor: &'a Tensor,
    /// First channel of the slice.
    pub c0: usize,
    /// Channels in the slice.
    pub channels: usize,
}

impl<'a> Act<'a> {
    /// All channels of `tensor`.
    pub fn all(tensor: &'a Tensor) -> Self {
        Self {
            tensor,
            c0: 0,
            channels: tensor.shape.get(1).copied().unwrap_or(0),
        }
    }

    /// Channels `c0 .. c0 + channels` of `tensor`.
    pub fn slice(tensor: &'a Tensor, c0: usize, channels: usize) -> Self {
        Self {
            tensor,
            c0,
            channels,
        }
    }

    /// `(batch, total channels, points)`.
    fn dims(&self) -> Result<(usize, usize, usize)> {
        let s = &self.tensor.shape;
        if s.len() < 3 || self.tensor.dtype != DType::F32 || self.c0 + self.channels > s[1] {
            return Err(Error::Shape(format!(
                "activation slice {}..{} of {s:?} ({:?}): need an f32 [B, C, ...] tensor with the channels in range",
                self.c0,
                self.c0 + self.channels,
                self.tensor.dtype
            )));
        }
        Ok((s[0], s[1], s[2..].iter().product()))
    }

    /// `(element offset, batch stride)`.
    fn layout(&self) -> Result<(u32, u32)> {
        let (_, c, p) = self.dims()?;
        Ok(((self.c0 * p) as u32, (c * p) as u32))
    }
}

crate::gpu::layout::wgsl_struct! {
    #[wgsl(SHADER, Params, test params_mirror_wgsl)]
    #[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        p: u32,
        cin: u32,
        cout: u32,
        batch: u32,
        x_off: u32,
        x_bs: u32,
        out_off: u32,
        out_bs: u32,
        add_off: u32,
        add_bs: u32,
        w_off: u32,
        w_so: u32,
        w_si: u32,
        b_off: u32,
        temb_off: u32,
        temb_bs: u32,
        temb_os: u32,
        _pad: [u32; 3],
    }
}

const FORWARD: KernelSpec = KernelSpec::new(
    SHADER,
    "forward",
    &[
        Slot::Uniform,
        Slot::Read,
        Slot::Read,
        Slot::Read,
        Slot::Read,
        Slot::ReadWrite,
        Slot::ReadWrite,
    ],
);
const ACTIVATION_BACKWARD: KernelSpec =
    KernelSpec::new(SHADER, "activation_backward", Slot::TWO_IN);
const WEIGHT_GRAD_PARTIAL: KernelSpec =
    KernelSpec::new(SHADER, "weight_grad_partial", Slot::TWO_IN);
const ACTIVATION_FORWARD: KernelSpec = KernelSpec::new(SHADER, "activation_forward", Slot::IN_OUT);
const CHANNEL_SUMS: KernelSpec = KernelSpec::new(SHADER, "channel_sums", Slot::IN_OUT);
const WEIGHT_GRAD_REDUCE: KernelSpec = KernelSpec::new(SHADER, "weight_grad_reduce", Slot::IN_OUT);

/// The nonlinearity after a layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Activation {
    /// None.
    #[default]
    Identity,
    /// `z Φ(z)` (exact, erf-based, PyTorch's default `F.gelu`).
    Gelu,
    /// `z σ(z)`.
    Silu,
}

impl Activation {
    fn code(self) -> f64 {
        match self {
            Activation::Identity => 0.0,
            Activation::Gelu => 1.0,
            Activation::Silu => 2.0,
        }
    }
}

/// A per-sample, per-channel vector broadcast over points, `temb[b, o]`:
/// a `[.., C, Bp]` tensor (channel-major, batch as the point axis, as the
/// time-embedding MLP produces it): element `(b, o)` at `o · Bp + b`.
#[derive(Clone, Copy, Debug)]
pub struct Broadcast<'a> {
    /// `[.., C, Bp]` f32 with `C ≥ cout`, `Bp ≥ B`.
    pub tensor: &'a Tensor,
}

impl Broadcast<'_> {
    /// `(C, Bp)`.
    fn dims(&self) -> Result<(usize, usize)> {
        let s = &self.tensor.shape;
        if s.len() < 2 || s[..s.len() - 2].iter().product::<usize>() != 1 {
            return Err(Error::Shape(format!(
                "broadcast term {s:?}: expected [.., C, Bp] with one matrix"
            )));
        }
        Ok((s[s.len() - 2], s[s.len() - 1]))
    }
}

/// What the forward adds to `W x + b` and applies after it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Epilogue<'a> {
    /// Added `[B, cout, P]` (the spectral convolution's output).
    pub add: Option<Act<'a>>,
    /// Added per sample and channel, broadcast over points (the time
    /// embedding).
    pub temb: Option<Broadcast<'a>>,
    /// The nonlinearity after the sum.
    pub activation: Activation,
    /// Keep the pre-activation here (for the backward of the GELU).
    pub pre: Option<Act<'a>>,
}

/// One pointwise linear layer: `cout × cin` weights and `cout` biases in
/// the flat parameter vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Linear {
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Offset of `weight` (`[cout, cin]` row-major) in the flat vector.
    pub w_off: usize,
    /// Offset of `bias` (`[cout]`).
    pub b_off: usize,
}

/// Points per split-K chunk of the weight gradient: the largest multiple
/// of 4 up to 256 that divides `points` (a multiple of 4), so that a chunk
/// lies within one sample.
fn chunk(points: usize) -> usize {
    (4..=256.min(points))
        .rev()
        .find(|c| c % 4 == 0 && points.is_multiple_of(*c))
        .unwrap_or(4)
}

impl Linear {
    /// The layer `name` (`name.weight` `[cout, cin]` or `[cout, cin, 1, 1]`,
    /// `name.bias` `[cout]`) of a parameter layout.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the tensors are missing or misshapen.
    pub fn from_params(specs: &[ParamSpec], name: &str) -> Result<Self> {
        let find = |suffix: &str| ParamSpec::find(specs, &format!("{name}.{suffix}"));
        let (w, b) = (find("weight")?, find("bias")?);
        let (cout, cin) = (w.shape[0], w.shape.get(1).copied().unwrap_or(0));
        if w.len() != cout * cin || b.shape != [cout] {
            return Err(Error::InvalidArgument(format!(
                "{name}: weight {:?} and bias {:?} are not a linear layer",
                w.shape, b.shape
            )));
        }
        Ok(Self {
            cin,
            cout,
            w_off: w.offset,
            b_off: b.offset,
        })
    }

    fn check(&self, x: &Act<'_>, out: &Act<'_>, cin: usize, cout: usize) -> Result<Params> {
        let (bx, _, px) = x.dims()?;
        let (bo, _, po) = out.dims()?;
        if x.channels != cin || out.channels != cout || bx != bo || px != po || px % 4 != 0 {
            return Err(Error::Shape(format!(
                "linear {cin}->{cout}: input {} channels of {:?}, output {} channels of {:?} (points must match and be a multiple of 4)",
                x.channels, x.tensor.shape, out.channels, out.tensor.shape
            )));
        }
        let ((x_off, x_bs), (out_off, out_bs)) = (x.layout()?, out.layout()?);
        Ok(Params {
            p: px as u32,
            cin: cin as u32,
            cout: cout as u32,
            batch: bx as u32,
            x_off,
            x_bs,
            out_off,
            out_bs,
            w_off: self.w_off as u32,
            b_off: self.b_off as u32,
            ..Default::default()
        })
    }

    /// Records `out = act(W x + b (+ add) (+ temb))` for `x` `[B, cin, P]`,
    /// `out` `[B, cout, P]` (P a multiple of 4); `params` is the flat
    /// parameter vector.
    ///
    /// # Errors
    /// [`Error::Shape`] for mismatched slices.
    pub fn record_forward(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        params: &Tensor,
        x: Act<'_>,
        out: Act<'_>,
        epi: Epilogue<'_>,
    ) -> Result<()> {
        let mut p = self.check(&x, &out, self.cin, self.cout)?;
        p.w_so = self.cin as u32;
        p.w_si = 1;
        if let Some(add) = &epi.add {
            self.check(&x, add, self.cin, self.cout)?;
            (p.add_off, p.add_bs) = add.layout()?;
        }
        if let Some(pre) = &epi.pre {
            if pre.layout()? != out.layout()? || pre.dims()? != out.dims()? {
                return Err(Error::Shape(
                    "the pre-activation must be laid out as the output".into(),
                ));
            }
        }
        if let Some(t) = epi.temb {
            let (c, bp) = t.dims()?;
            if c < self.cout || bp < p.batch as usize {
                return Err(Error::Shape(format!(
                    "broadcast term {:?}, expected [>= {}, >= {}]",
                    t.tensor.shape, self.cout, p.batch
                )));
            }
            p.temb_bs = 1;
            p.temb_os = bp as u32;
        }
        let constants = [
            ("HAS_BIAS", 1.0),
            ("HAS_ADD", f64::from(u8::from(epi.add.is_some()))),
            ("HAS_TEMB", f64::from(u8::from(epi.temb.is_some()))),
            ("ACTIVATION", epi.activation.code()),
            ("STORE_PRE", f64::from(u8::from(epi.pre.is_some()))),
        ];
        let (add, temb) = (
            epi.add.map_or(x.tensor, |a| a.tensor),
            epi.temb.map_or(x.tensor, |t| t.tensor),
        );
        dispatch_forward(
            gpu,
            pass,
            &p,
            &constants,
            [
                x.tensor,
                params,
                add,
                temb,
                out.tensor,
                epi.pre.unwrap_or(out).tensor,
            ],
        )
    }

    /// Records `dx = Wᵀ dz` (`dz` `[B, cout, P]`, `dx` `[B, cin, P]`,
    /// overwritten).
    ///
    /// # Errors
    /// [`Error::Shape`] for mismatched slices.
    pub fn record_input_grad(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        params: &Tensor,
        dz: Act<'_>,
        dx: Act<'_>,
    ) -> Result<()> {
        // The forward kernel with the roles of cin and cout swapped.
        let mut p = self.check(&dz, &dx, self.cout, self.cin)?;
        p.w_so = 1;
        p.w_si = self.cin as u32;
        dispatch_forward(
            gpu,
            pass,
            &p,
            &[("HAS_BIAS", 0.0)],
            [
                dz.tensor, params, dz.tensor, dz.tensor, dx.tensor, dx.tensor,
            ],
        )
    }

    /// Length of the scratch tensor [`Linear::record_weight_grad`] needs for
    /// a batch of `batch` samples of `points` points.
    pub fn partial_len(&self, batch: usize, points: usize) -> usize {
        batch * (points / chunk(points)) * self.cout * (self.cin + 1)
    }

    /// Records `dW = Σ_{b,p} dz xᵀ` and `dbias = Σ_{b,p} dz` into the flat
    /// gradient vector `grads` (same layout as the parameters), added to
    /// what is there when `accumulate` (micro-batches). `partial` is f32
    /// scratch of at least [`Linear::partial_len`] elements.
    ///
    /// # Errors
    /// [`Error::Shape`] for mismatched slices or a short scratch.
    #[allow(clippy::too_many_arguments)]
    pub fn record_weight_grad(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        dz: Act<'_>,
        x: Act<'_>,
        grads: &Tensor,
        partial: &Tensor,
        accumulate: bool,
    ) -> Result<()> {
        let mut p = self.check(&x, &dz, self.cin, self.cout)?;
        p.w_so = self.cin as u32;
        p.w_si = 1;
        let (b, pts) = (p.batch as usize, p.p as usize);
        if partial.len() < self.partial_len(b, pts) {
            return Err(Error::Shape(format!(
                "weight-gradient scratch of {} elements, need {}",
                partial.len(),
                self.partial_len(b, pts)
            )));
        }
        let chunk = chunk(pts) as f64;
        let uniform = gpu.uniform("linear weight grad", &p);
        let k = gpu.kernel(&WEIGHT_GRAD_PARTIAL, &[("CHUNK", chunk)])?;
        let bg = gpu.bind_params(&k, &uniform, &[dz.tensor, x.tensor, partial]);
        let work = self.partial_len(b, pts);
        gpu.dispatch(pass, &k, &bg, work.div_ceil(64) as u32);
        let k = gpu.kernel(
            &WEIGHT_GRAD_REDUCE,
            &[
                ("CHUNK", chunk),
                ("ACCUMULATE", f64::from(u8::from(accumulate))),
            ],
        )?;
        let bg = gpu.bind_params(&k, &uniform, &[partial, grads]);
        gpu.dispatch(
            pass,
            &k,
            &bg,
            (self.cout * (self.cin + 1)).div_ceil(64) as u32,
        );
        Ok(())
    }
}

fn dispatch_forward(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    p: &Params,
    constants: &[(&str, f64)],
    tensors: [&Tensor; 6],
) -> Result<()> {
    let k = gpu.kernel(&FORWARD, constants)?;
    let uniform = gpu.uniform("linear", p);
    let bg = gpu.bind_params(&k, &uniform, &tensors);
    // Workgroups: (sample, tile of 8 outputs, block of 64 × 4 points).
    let groups = p.batch as usize * (p.cout as usize).div_ceil(8) * (p.p as usize / 4).div_ceil(64);
    gpu.dispatch(pass, &k, &bg, groups as u32);
    Ok(())
}

/// Records `out = act(input)` elementwise over matching slices.
///
/// # Errors
/// [`Error::Shape`] for slices of different sizes.
pub fn record_activation_forward(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    activation: Activation,
    input: Act<'_>,
    out: Act<'_>,
) -> Result<()> {
    let (di, dout) = (input.dims()?, out.dims()?);
    if di.0 != dout.0 || di.2 != dout.2 || input.channels != out.channels || di.2 % 4 != 0 {
        return Err(Error::Shape(format!(
            "activation: input {:?}, output {:?} slices differ",
            input.tensor.shape, out.tensor.shape
        )));
    }
    let ((x_off, x_bs), (out_off, out_bs)) = (input.layout()?, out.layout()?);
    let offsets = Params {
        x_off,
        x_bs,
        out_off,
        out_bs,
        ..Default::default()
    };
    let tensors = [input.tensor, out.tensor];
    let extent = (di.0, out.channels, di.2);
    record_elementwise(
        gpu,
        pass,
        &ACTIVATION_FORWARD,
        activation,
        extent,
        offsets,
        &tensors,
    )
}

/// Records the elementwise activation kernel `spec` over `(batch,
/// channels, points)` slices placed by `offsets`, four values an
/// invocation.
fn record_elementwise(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    spec: &KernelSpec,
    activation: Activation,
    (batch, channels, points): (usize, usize, usize),
    offsets: Params,
    tensors: &[&Tensor],
) -> Result<()> {
    let p = Params {
        p: points as u32,
        cout: channels as u32,
        batch: batch as u32,
        ..offsets
    };
    let constants = [("ACTIVATION", activation.code())];
    let work = batch * channels * points / 4;
    gpu.record_flat_with(pass, spec, &constants, &p, tensors, work)
}

/// Records the gradient of a [`Broadcast`] term: `out[o, b] (+)= Σ_p
/// dz[b, o, p]` for `b < B`, and 0 in the padding columns `b ≥ B`.
///
/// # Errors
/// [`Error::Shape`] if `out` is not `[.., C, Bp]` with `C` = the slice's
/// channels and `Bp ≥ B`.
pub fn record_channel_sums(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    dz: Act<'_>,
    out: Broadcast<'_>,
    accumulate: bool,
) -> Result<()> {
    let (b, _, pts) = dz.dims()?;
    let (c, bp) = out.dims()?;
    if c != dz.channels || bp < b || pts % 4 != 0 {
        return Err(Error::Shape(format!(
            "channel sums of {} channels of {:?} into {:?}",
            dz.channels, dz.tensor.shape, out.tensor.shape
        )));
    }
    let (out_off, out_bs) = dz.layout()?;
    let p = Params {
        p: pts as u32,
        cout: c as u32,
        batch: b as u32,
        out_off,
        out_bs,
        temb_os: bp as u32,
        ..Default::default()
    };
    gpu.record_flat_with(
        pass,
        &CHANNEL_SUMS,
        &[("ACCUMULATE", f64::from(u8::from(accumulate)))],
        &p,
        &[dz.tensor, out.tensor],
        c * bp,
    )
}

/// Records `dz = dout · act'(pre)` elementwise over matching slices.
///
/// # Errors
/// [`Error::Shape`] for slices of different sizes.
pub fn record_activation_backward(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    activation: Activation,
    dout: Act<'_>,
    pre: Act<'_>,
    dz: Act<'_>,
) -> Result<()> {
    let (dims, pre_dims, dz_dims) = (dout.dims()?, pre.dims()?, dz.dims()?);
    let same =
        |d: (usize, usize, usize), c: usize| d.0 == dims.0 && d.2 == dims.2 && c == dout.channels;
    if !same(pre_dims, pre.channels) || !same(dz_dims, dz.channels) || dims.2 % 4 != 0 {
        return Err(Error::Shape(format!(
            "activation backward: dout {:?}, pre {:?}, dz {:?} slices differ",
            dout.tensor.shape, pre.tensor.shape, dz.tensor.shape
        )));
    }
    let ((out_off, out_bs), (x_off, x_bs), (add_off, add_bs)) =
        (dout.layout()?, dz.layout()?, pre.layout()?);
    let offsets = Params {
        out_off,
        out_bs,
        x_off,
        x_bs,
        add_off,
        add_bs,
        ..Default::default()
    };
    let tensors = [dout.tensor, pre.tensor, dz.tensor];
    let extent = (dims.0, dout.channels, dims.2);
    record_elementwise(
        gpu,
        pass,
        &ACTIVATION_BACKWARD,
        activation,
        extent,
        offsets,
        &tensors,
    )
}
