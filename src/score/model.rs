//! ScoreFno (docs/specification.md §6) forward and backward on the GPU: the layers of
//! [`crate::score::linear`], [`crate::score::spectral_conv`] and
//! [`crate::score::bicubic`] chained over a [`Workspace`] of activations.

use crate::error::{Error, Result};
use crate::gpu::{DType, Gpu, Tensor};
use crate::score::bicubic::Bicubic;
use crate::score::config::{ParamSpec, ScoreConfig};
use crate::score::inputs::{LiftInput, TimeFeatures};
use crate::score::linear::{
    record_activation_backward, record_activation_forward, record_channel_sums, Act, Activation,
    Broadcast, Epilogue, Linear,
};
use crate::score::spectral_conv::{Method, Scratch, SpectralConv, Twiddles};

/// One pipeline: lifting and `L` Fourier layers.
#[derive(Clone, Debug)]
struct Pipeline {
    lift: Linear,
    spec: Vec<SpectralConv>,
    pw: Vec<Linear>,
}

impl Pipeline {
    fn new(specs: &[ParamSpec], lift: &str, stack: &str, layers: usize) -> Result<Self> {
        Ok(Self {
            lift: Linear::from_params(specs, lift)?,
            spec: (0..layers)
                .map(|i| SpectralConv::from_params(specs, &format!("{stack}.spec.{i}")))
                .collect::<Result<_>>()?,
            pw: (0..layers)
                .map(|i| Linear::from_params(specs, &format!("{stack}.pw.{i}")))
                .collect::<Result<_>>()?,
        })
    }
}

/// The network's layers, located in the flat parameter vector.
#[derive(Clone, Debug)]
pub struct ScoreFno {
    cfg: ScoreConfig,
    specs: Vec<ParamSpec>,
    freq_off: usize,
    t_mlp: [Linear; 2],
    x: Pipeline,
    w: Option<Pipeline>,
    /// `s_spec_a`, `s_spec_b` and the pipeline.
    s: Option<(SpectralConv, SpectralConv, Pipeline)>,
    /// fuse1, fuse2, fuse3, fc1, fc2.
    fusion: [Linear; 5],
}

/// Activations of one pipeline's Fourier stack.
struct StackTape {
    /// `[B, 3, P]` lifting input (field, g_y, g_x).
    lift_in: Tensor,
    /// Layer inputs `a_0 .. a_{L−1}` `[B, width, n, n]` (the last layer
    /// writes into the concat tensor).
    acts: Vec<Tensor>,
    /// Pre-activations of the GELU layers `0 .. L−2`.
    pres: Vec<Tensor>,
    /// Kept input spectra, one per layer.
    spectra: Vec<Tensor>,
    /// Gradient of the lifting input `[B, 3, P]` (channel 0: the field's).
    d_lift_in: Tensor,
}

/// The sparse pipeline's extra activations.
struct SparseTape {
    /// `[B, width, S²]` (padded to a multiple of 4 points).
    lifted: Tensor,
    d_lifted: Tensor,
    up: Tensor,
    pre_a: Tensor,
    act_a: Tensor,
    spectrum_a: Tensor,
    spectrum_b: Tensor,
    bicubic: Bicubic,
}

/// Inputs, activations, gradients and scratch of one batch size on one
/// grid. The caller writes the inputs, records the forward (and the
/// backward after writing `d_out`) and reads `out`.
pub struct Workspace {
    /// `B`.
    pub batch: usize,
    /// Grid side `n`.
    pub n: usize,
    /// Sensor grid side `S`.
    pub sensors: usize,
    /// Noisy closure sample `U_t` `[B, n, n]`.
    pub x: Tensor,
    /// Vorticity `[B, n, n]`.
    pub w: Tensor,
    /// Sparse observations `[B, S, S]`.
    pub s: Tensor,
    /// Diffusion times `[B]`.
    pub t: Tensor,
    /// Network output before the division by σ(t), `[B, 1, n, n]`
    /// (= score · σ(t)).
    pub out: Tensor,
    /// Gradient of the loss with respect to `out` (written by the caller
    /// or the loss kernel before the backward).
    pub d_out: Tensor,
    bp: usize,
    tfeat: Tensor,
    t_pre: Tensor,
    t_act: Tensor,
    temb: Tensor,
    d_temb: Tensor,
    d_tact: Tensor,
    d_tpre: Tensor,
    stacks: Vec<StackTape>,
    sparse: Option<SparseTape>,
    cat: Tensor,
    /// fuse1..3 and fc1: (pre-activation, activation).
    fusion: Vec<(Tensor, Tensor)>,
    spec_out: Tensor,
    g: [Tensor; 2],
    sg: [Tensor; 2],
    partial: Tensor,
    scratch: Scratch,
    tw: Twiddles,
}

/// Columns of the time-MLP activations: the batch padded to a multiple of
/// 4 (a power of two up to 256, so that the gradient chunks divide it).
fn padded_batch(b: usize) -> usize {
    if b <= 256 {
        b.next_power_of_two().max(4)
    } else {
        b.div_ceil(256) * 256
    }
}

impl ScoreFno {
    /// The layers of `cfg`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an invalid configuration.
    pub fn new(cfg: &ScoreConfig) -> Result<Self> {
        cfg.validate()?;
        let specs = cfg.params();
        let l = cfg.layers;
        let freq_off = ParamSpec::find(&specs, "t_feat.W")?.offset;
        let s = if cfg.sparse {
            Some((
                SpectralConv::from_params(&specs, "s_spec_a")?,
                SpectralConv::from_params(&specs, "s_spec_b")?,
                Pipeline::new(&specs, "lift_s", "fno_s", l)?,
            ))
        } else {
            None
        };
        Ok(Self {
            t_mlp: [
                Linear::from_params(&specs, "t_mlp.0")?,
                Linear::from_params(&specs, "t_mlp.2")?,
            ],
            x: Pipeline::new(&specs, "lift_x", "fno_x", l)?,
            w: if cfg.vorticity {
                Some(Pipeline::new(&specs, "lift_w", "fno_w", l)?)
            } else {
                None
            },
            s,
            fusion: [
                Linear::from_params(&specs, "fuse1")?,
                Linear::from_params(&specs, "fuse2")?,
                Linear::from_params(&specs, "fuse3")?,
                Linear::from_params(&specs, "fc1")?,
                Linear::from_params(&specs, "fc2")?,
            ],
            freq_off,
            cfg: cfg.clone(),
            specs,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ScoreConfig {
        &self.cfg
    }

    /// The parameter layout.
    pub fn params(&self) -> &[ParamSpec] {
        &self.specs
    }

    /// The pipelines in concat order (x, ω, s).
    fn pipelines(&self) -> Vec<&Pipeline> {
        let mut v = vec![&self.x];
        v.extend(self.w.as_ref());
        v.extend(self.s.as_ref().map(|s| &s.2));
        v
    }

    /// Allocates a workspace for `batch` samples on an `n × n` grid with
    /// `sensors × sensors` observations, its spectral convolutions computed
    /// by `method`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a grid the modes do not fit or an
    /// empty batch; allocation errors.
    pub fn workspace(
        &self,
        gpu: &Gpu,
        batch: usize,
        n: usize,
        sensors: usize,
        method: Method,
    ) -> Result<Workspace> {
        self.cfg.check_grid(n)?;
        if batch == 0 || sensors == 0 {
            return Err(Error::InvalidArgument(format!(
                "workspace: batch {batch} and sensors {sensors} must be >= 1"
            )));
        }
        // Every activation is bound whole: the widest must fit one binding.
        let widest = self
            .cfg
            .fc_hidden
            .max(self.cfg.pipelines() * self.cfg.width)
            .max(2 * self.cfg.width);
        let bytes = 4 * batch as u128 * widest as u128 * (n * n) as u128;
        let limit = u128::from(gpu.limits.max_storage_buffer_binding_size);
        if bytes > limit {
            return Err(Error::InvalidArgument(format!(
                "{batch} samples of {widest} channels on {n}² are {} MiB, over the adapter's {} MiB storage binding limit: use a smaller (micro-)batch or a narrower network",
                bytes >> 20,
                limit >> 20
            )));
        }
        let (c, e, fc, m) = (
            self.cfg.width,
            self.cfg.embed_dim,
            self.cfg.fc_hidden,
            self.cfg.modes,
        );
        let k = self.cfg.pipelines();
        let (p, ps) = (n * n, (sensors * sensors).div_ceil(4) * 4);
        let bp = padded_batch(batch);
        let f32s = |shape: &[usize]| Tensor::zeros(gpu, shape, DType::F32);
        let field = || f32s(&[batch, c, n, n]);
        let layers = self.cfg.layers;
        let stack = |pts: usize| -> Result<StackTape> {
            Ok(StackTape {
                lift_in: f32s(&[batch, 3, pts])?,
                acts: (0..layers).map(|_| field()).collect::<Result<_>>()?,
                pres: (0..layers - 1).map(|_| field()).collect::<Result<_>>()?,
                spectra: (0..layers)
                    .map(|_| Tensor::zeros(gpu, &[batch, c, 2 * m, m], DType::C32))
                    .collect::<Result<_>>()?,
                d_lift_in: f32s(&[batch, 3, pts])?,
            })
        };
        let mut stacks = vec![stack(p)?];
        if self.w.is_some() {
            stacks.push(stack(p)?);
        }
        let sparse = match &self.s {
            Some(_) => {
                stacks.push(stack(ps)?);
                Some(SparseTape {
                    lifted: f32s(&[batch, c, ps])?,
                    d_lifted: f32s(&[batch, c, ps])?,
                    up: field()?,
                    pre_a: field()?,
                    act_a: field()?,
                    spectrum_a: Tensor::zeros(gpu, &[batch, c, 2 * m, m], DType::C32)?,
                    spectrum_b: Tensor::zeros(gpu, &[batch, c, 2 * m, m], DType::C32)?,
                    bicubic: Bicubic::new(gpu, batch, c, sensors, n, n)?,
                })
            }
            None => None,
        };
        let widths = [2 * c, c, c, fc];
        let fusion = widths
            .iter()
            .map(|&w| Ok((f32s(&[batch, w, n, n])?, f32s(&[batch, w, n, n])?)))
            .collect::<Result<_>>()?;
        let gmax = fc.max(k * c).max(2 * c);
        // Weight-gradient scratch: each layer at the points it runs on.
        let mut partial = self
            .t_mlp
            .iter()
            .map(|l| l.partial_len(1, bp))
            .max()
            .unwrap_or(0);
        for (k, pipe) in self.pipelines().into_iter().enumerate() {
            let sparse = self.s.is_some() && k == self.cfg.pipelines() - 1;
            let lift_points = if sparse { ps } else { p };
            partial = partial.max(pipe.lift.partial_len(batch, lift_points));
            for l in &pipe.pw {
                partial = partial.max(l.partial_len(batch, p));
            }
        }
        for l in &self.fusion {
            partial = partial.max(l.partial_len(batch, p));
        }
        Ok(Workspace {
            batch,
            n,
            sensors,
            x: f32s(&[batch, n, n])?,
            w: f32s(&[batch, n, n])?,
            s: f32s(&[batch, sensors, sensors])?,
            t: f32s(&[batch])?,
            out: f32s(&[batch, 1, n, n])?,
            d_out: f32s(&[batch, 1, n, n])?,
            bp,
            tfeat: f32s(&[1, e, bp])?,
            t_pre: f32s(&[1, e, bp])?,
            t_act: f32s(&[1, e, bp])?,
            temb: f32s(&[1, c, bp])?,
            d_temb: f32s(&[1, c, bp])?,
            d_tact: f32s(&[1, e, bp])?,
            d_tpre: f32s(&[1, e, bp])?,
            stacks,
            sparse,
            cat: f32s(&[batch, k * c, n, n])?,
            fusion,
            spec_out: field()?,
            g: [f32s(&[batch, gmax, n, n])?, f32s(&[batch, gmax, n, n])?],
            sg: [field()?, field()?],
            partial: f32s(&[partial.max(1)])?,
            scratch: Scratch::new(gpu, batch, c, (n, n), m, method)?,
            tw: Twiddles::new(gpu, n, n)?,
        })
    }

    /// Records the forward pass: from the workspace's inputs to `out`
    /// (`params`: the flat parameter vector, f32).
    ///
    /// # Errors
    /// [`Error::Shape`] for a parameter vector of another length.
    pub fn record_forward(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        params: &Tensor,
        ws: &Workspace,
    ) -> Result<()> {
        if params.len() != self.cfg.flat_len() {
            return Err(Error::Shape(format!(
                "parameter vector of {} elements, the config needs {}",
                params.len(),
                self.cfg.flat_len()
            )));
        }
        let c = self.cfg.width;
        // Time embedding [1, C, Bp].
        let features = TimeFeatures {
            batch: ws.batch,
            bp: ws.bp,
            embed: self.cfg.embed_dim,
            freq_off: self.freq_off,
        };
        features.record(gpu, pass, &ws.t, params, &ws.tfeat)?;
        self.t_mlp[0].record_forward(
            gpu,
            pass,
            params,
            Act::all(&ws.tfeat),
            Act::all(&ws.t_act),
            Epilogue {
                activation: Activation::Silu,
                pre: Some(Act::all(&ws.t_pre)),
                ..Default::default()
            },
        )?;
        self.t_mlp[1].record_forward(
            gpu,
            pass,
            params,
            Act::all(&ws.t_act),
            Act::all(&ws.temb),
            Epilogue::default(),
        )?;
        let n = ws.n;
        for (k, pipe) in self.pipelines().into_iter().enumerate() {
            let tape = &ws.stacks[k];
            let out = Act::slice(&ws.cat, k * c, c);
            let first = if k == self.pipelines().len() - 1 && self.s.is_some() {
                self.record_sparse_head(gpu, pass, params, ws)?;
                Act::all(&tape.acts[0])
            } else {
                let field = if k == 0 { &ws.x } else { &ws.w };
                let lift = LiftInput {
                    batch: ws.batch,
                    side: n,
                    p_pad: n * n,
                };
                lift.record(gpu, pass, field, &tape.lift_in)?;
                pipe.lift.record_forward(
                    gpu,
                    pass,
                    params,
                    Act::all(&tape.lift_in),
                    Act::all(&tape.acts[0]),
                    Epilogue::default(),
                )?;
                Act::all(&tape.acts[0])
            };
            let temb = (k == 0).then_some(Broadcast { tensor: &ws.temb });
            self.record_stack(gpu, pass, params, ws, pipe, tape, first, out, temb)?;
        }
        // Fusion head.
        let mut input = Act::all(&ws.cat);
        for (i, layer) in self.fusion[..4].iter().enumerate() {
            let (pre, act) = &ws.fusion[i];
            layer.record_forward(
                gpu,
                pass,
                params,
                input,
                Act::all(act),
                Epilogue {
                    activation: Activation::Gelu,
                    pre: Some(Act::all(pre)),
                    ..Default::default()
                },
            )?;
            input = Act::all(act);
        }
        self.fusion[4].record_forward(
            gpu,
            pass,
            params,
            input,
            Act::all(&ws.out),
            Epilogue::default(),
        )
    }

    /// The sparse pipeline up to the input of its Fourier stack.
    fn record_sparse_head(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        params: &Tensor,
        ws: &Workspace,
    ) -> Result<()> {
        let (Some((spec_a, spec_b, pipe)), Some(sp), Some(tape)) =
            (&self.s, &ws.sparse, ws.stacks.last())
        else {
            return Err(Error::InvalidArgument("the sparse pipeline is off".into()));
        };
        let s = ws.sensors;
        let lift = LiftInput {
            batch: ws.batch,
            side: s,
            p_pad: tape.lift_in.shape[2],
        };
        lift.record(gpu, pass, &ws.s, &tape.lift_in)?;
        pipe.lift.record_forward(
            gpu,
            pass,
            params,
            Act::all(&tape.lift_in),
            Act::all(&sp.lifted),
            Epilogue::default(),
        )?;
        sp.bicubic
            .record_forward(gpu, pass, Act::all(&sp.lifted), Act::all(&sp.up))?;
        spec_a.record_forward(
            gpu,
            pass,
            params,
            &ws.tw,
            Act::all(&sp.up),
            &sp.spectrum_a,
            Act::all(&sp.pre_a),
            &ws.scratch,
        )?;
        record_activation_forward(
            gpu,
            pass,
            Activation::Gelu,
            Act::all(&sp.pre_a),
            Act::all(&sp.act_a),
        )?;
        spec_b.record_forward(
            gpu,
            pass,
            params,
            &ws.tw,
            Act::all(&sp.act_a),
            &sp.spectrum_b,
            Act::all(&tape.acts[0]),
            &ws.scratch,
        )
    }

    /// `L` Fourier layers from `first` (= `tape.acts[0]`) into `out`.
    #[allow(clippy::too_many_arguments)]
    fn record_stack(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        params: &Tensor,
        ws: &Workspace,
        pipe: &Pipeline,
        tape: &StackTape,
        first: Act<'_>,
        out: Act<'_>,
        temb: Option<Broadcast<'_>>,
    ) -> Result<()> {
        let layers = pipe.spec.len();
        let mut input = first;
        for l in 0..layers {
            let last = l == layers - 1;
            let output = if last {
                out
            } else {
                Act::all(&tape.acts[l + 1])
            };
            pipe.spec[l].record_forward(
                gpu,
                pass,
                params,
                &ws.tw,
                input,
                &tape.spectra[l],
                Act::all(&ws.spec_out),
                &ws.scratch,
            )?;
            pipe.pw[l].record_forward(
                gpu,
                pass,
                params,
                input,
                output,
                Epilogue {
                    add: Some(Act::all(&ws.spec_out)),
                    temb,
                    activation: if last {
                        Activation::Identity
                    } else {
                        Activation::Gelu
                    },
                    pre: (!last).then(|| Act::all(&tape.pres[l])),
                },
            )?;
            input = output;
        }
        Ok(())
    }

    /// Records the backward pass from `ws.d_out` (after the forward of the
    /// same inputs): parameter gradients into the flat `grads` (added to
    /// it when `accumulate`), and the gradients of the lifting inputs,
    /// readable with [`Workspace::input_grads`].
    ///
    /// # Errors
    /// [`Error::Shape`] for vectors of another length.
    pub fn record_backward(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        params: &Tensor,
        ws: &Workspace,
        grads: &Tensor,
        accumulate: bool,
    ) -> Result<()> {
        if params.len() != self.cfg.flat_len() || grads.len() != self.cfg.flat_len() {
            return Err(Error::Shape(format!(
                "parameter/gradient vectors of {}/{} elements, the config needs {}",
                params.len(),
                grads.len(),
                self.cfg.flat_len()
            )));
        }
        let c = self.cfg.width;
        let [g0, g1] = &ws.g;
        let wgrad = |layer: &Linear, pass: &mut wgpu::ComputePass<'_>, dz: Act<'_>, x: Act<'_>| {
            layer.record_weight_grad(gpu, pass, dz, x, grads, &ws.partial, accumulate)
        };
        // Fusion head, from d_out back to d(cat) in g0.
        let mut dz = Act::all(&ws.d_out);
        for i in (0..5).rev() {
            let layer = &self.fusion[i];
            let input = if i == 0 {
                Act::all(&ws.cat)
            } else {
                Act::all(&ws.fusion[i - 1].1)
            };
            wgrad(layer, pass, dz, input)?;
            let dx = Act::slice(g0, 0, layer.cin);
            layer.record_input_grad(gpu, pass, params, dz, dx)?;
            if i > 0 {
                let pre = Act::all(&ws.fusion[i - 1].0);
                let next = Act::slice(g1, 0, layer.cin);
                record_activation_backward(gpu, pass, Activation::Gelu, dx, pre, next)?;
                dz = next;
            }
        }
        // Pipelines.
        let pipes = self.pipelines();
        for (k, pipe) in pipes.iter().enumerate() {
            let tape = &ws.stacks[k];
            let d_out = Act::slice(g0, k * c, c);
            let temb = (k == 0).then_some(&ws.d_temb);
            // The stack leaves d(a_0) in sg[0].
            self.record_stack_backward(
                gpu, pass, params, ws, pipe, tape, d_out, temb, grads, accumulate,
            )?;
            let d_first = Act::all(&ws.sg[0]);
            let sparse = k == pipes.len() - 1 && self.s.is_some();
            let (d_lifted, lift_in) = if sparse {
                self.record_sparse_head_backward(gpu, pass, params, ws, grads, accumulate)?
            } else {
                (d_first, Act::all(&tape.lift_in))
            };
            wgrad(&pipe.lift, pass, d_lifted, lift_in)?;
            pipe.lift
                .record_input_grad(gpu, pass, params, d_lifted, Act::all(&tape.d_lift_in))?;
        }
        // Time embedding (d_temb written by the x pipeline).
        let [m0, m2] = &self.t_mlp;
        wgrad(m2, pass, Act::all(&ws.d_temb), Act::all(&ws.t_act))?;
        m2.record_input_grad(
            gpu,
            pass,
            params,
            Act::all(&ws.d_temb),
            Act::all(&ws.d_tact),
        )?;
        record_activation_backward(
            gpu,
            pass,
            Activation::Silu,
            Act::all(&ws.d_tact),
            Act::all(&ws.t_pre),
            Act::all(&ws.d_tpre),
        )?;
        wgrad(m0, pass, Act::all(&ws.d_tpre), Act::all(&ws.tfeat))
    }

    /// Backward of [`ScoreFno::record_stack`]: from `d_out` to d(a_0) in
    /// `ws.sg[0]`, the weight gradients, and the broadcast term's gradient
    /// into `d_temb` when given.
    #[allow(clippy::too_many_arguments)]
    fn record_stack_backward(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        params: &Tensor,
        ws: &Workspace,
        pipe: &Pipeline,
        tape: &StackTape,
        d_out: Act<'_>,
        d_temb: Option<&Tensor>,
        grads: &Tensor,
        accumulate: bool,
    ) -> Result<()> {
        let layers = pipe.spec.len();
        let (da, dzb) = (Act::all(&ws.sg[0]), Act::all(&ws.sg[1]));
        for l in (0..layers).rev() {
            let last = l == layers - 1;
            // d(a_{l+1}) is d_out (last layer) or in sg[0]; dz in sg[1]
            // after a GELU, else d_out itself; d(a_l) goes to sg[0].
            let dz = if last {
                d_out
            } else {
                record_activation_backward(
                    gpu,
                    pass,
                    Activation::Gelu,
                    da,
                    Act::all(&tape.pres[l]),
                    dzb,
                )?;
                dzb
            };
            if let Some(t) = d_temb {
                record_channel_sums(gpu, pass, dz, Broadcast { tensor: t }, !last)?;
            }
            let input = Act::all(&tape.acts[l]);
            pipe.pw[l].record_weight_grad(gpu, pass, dz, input, grads, &ws.partial, accumulate)?;
            pipe.pw[l].record_input_grad(gpu, pass, params, dz, da)?;
            pipe.spec[l].record_backward(
                gpu,
                pass,
                params,
                &ws.tw,
                dz,
                &tape.spectra[l],
                da,
                grads,
                true,
                accumulate,
                &ws.scratch,
            )?;
        }
        Ok(())
    }

    /// Backward of the sparse head from d(a_0) in `ws.sg[0]`: returns the
    /// gradient of the lifted sensors and the lifting input.
    fn record_sparse_head_backward<'w>(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        params: &Tensor,
        ws: &'w Workspace,
        grads: &Tensor,
        accumulate: bool,
    ) -> Result<(Act<'w>, Act<'w>)> {
        let (Some((spec_a, spec_b, _)), Some(sp), Some(tape)) =
            (&self.s, &ws.sparse, ws.stacks.last())
        else {
            return Err(Error::InvalidArgument("the sparse pipeline is off".into()));
        };
        let (s0, s1) = (Act::all(&ws.sg[0]), Act::all(&ws.sg[1]));
        let bwd = |spec: &SpectralConv, pass: &mut wgpu::ComputePass<'_>, dout, spectrum, dx| {
            spec.record_backward(
                gpu,
                pass,
                params,
                &ws.tw,
                dout,
                spectrum,
                dx,
                grads,
                false,
                accumulate,
                &ws.scratch,
            )
        };
        bwd(spec_b, pass, s0, &sp.spectrum_b, s1)?;
        record_activation_backward(gpu, pass, Activation::Gelu, s1, Act::all(&sp.pre_a), s0)?;
        bwd(spec_a, pass, s0, &sp.spectrum_a, s1)?;
        sp.bicubic
            .record_backward(gpu, pass, s1, Act::all(&sp.d_lifted), false)?;
        Ok((Act::all(&sp.d_lifted), Act::all(&tape.lift_in)))
    }
}

impl ScoreFno {
    /// The faster [`Method`] for the spectral convolutions of this network
    /// at `batch` samples on an `n × n` grid on this adapter: one layer's
    /// forward and backward timed both ways (best of 3, wall clock to the
    /// GPU's completion).
    ///
    /// # Errors
    /// As [`ScoreFno::workspace`].
    pub fn fastest_method(&self, gpu: &Gpu, batch: usize, n: usize) -> Result<Method> {
        self.cfg.check_grid(n)?;
        let (c, m) = (self.cfg.width, self.cfg.modes);
        let layer = self.x.spec[0];
        let params = Tensor::zeros(gpu, &[self.cfg.flat_len()], DType::F32)?;
        let grads = Tensor::zeros(gpu, &[self.cfg.flat_len()], DType::F32)?;
        let x = Tensor::zeros(gpu, &[batch, c, n, n], DType::F32)?;
        let y = Tensor::zeros(gpu, &[batch, c, n, n], DType::F32)?;
        let spectrum = Tensor::zeros(gpu, &layer.spectrum_shape(batch), DType::C32)?;
        let tw = Twiddles::new(gpu, n, n)?;
        let mut best = (f64::INFINITY, Method::Dft);
        for method in [Method::Dft, Method::Fft] {
            let scratch = Scratch::new(gpu, batch, c, (n, n), m, method)?;
            let mut time = f64::INFINITY;
            for _ in 0..4 {
                let t = std::time::Instant::now();
                let mut enc = gpu.encoder("spectral method");
                {
                    let mut pass = enc.begin_compute_pass(&Default::default());
                    let (xa, ya) = (Act::all(&x), Act::all(&y));
                    layer.record_forward(
                        gpu, &mut pass, &params, &tw, xa, &spectrum, ya, &scratch,
                    )?;
                    layer.record_backward(
                        gpu, &mut pass, &params, &tw, ya, &spectrum, xa, &grads, false, false,
                        &scratch,
                    )?;
                }
                gpu.submit(enc);
                gpu.wait()?;
                // The minimum drops the first round, which builds pipelines.
                time = time.min(t.elapsed().as_secs_f64());
            }
            if time < best.0 {
                best = (time, method);
            }
        }
        Ok(best.1)
    }
}

impl Workspace {
    /// How the spectral convolutions are computed.
    pub fn method(&self) -> Method {
        self.scratch.method()
    }

    /// The gradient tensors of the lifting inputs `[B, 3, P]` of the
    /// pipelines in concat order (x, ω, s; channel 0 is the field's
    /// gradient; the sparse one has `S²` points padded to a multiple of 4).
    pub fn input_grads(&self) -> Vec<&Tensor> {
        self.stacks.iter().map(|s| &s.d_lift_in).collect()
    }
}
