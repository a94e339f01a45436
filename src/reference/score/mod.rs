//! The conditional score network ScoreFno in f64 on the CPU: forward and a
//! hand-written reverse mode, the ground truth of the GPU kernels.
//!
//! The network is the one of `src/score/mod.rs` (docs/specification.md §6), whose
//! parameter names follow the PyTorch baseline
//! (`benches/baselines/torch_score_fno.py`). Parameters come as ONE flat
//! vector laid out by [`ScoreConfig::params`] (complex tensors as
//! `[..., 2]` = (re, im)). Fields are row-major `[B, C, H, W]`, rows along
//! `H` (the first axis, `y`).
//!
//! Every building block has its forward and its backward side by side and
//! is public, so that a GPU kernel can be compared with its twin alone.
//! Backward functions take the upstream gradient `dy` (same shape as the
//! output) and return the gradients of their inputs and weights; complex
//! weight gradients are `(∂L/∂re, ∂L/∂im)`.

use std::collections::HashMap;
use std::f64::consts::PI;

use crate::score::ScoreConfig;

mod bicubic;
mod linear;
mod spectral_conv;

pub use bicubic::{bicubic, bicubic_backward, bicubic_taps};
pub use linear::{
    erf, gelu, gelu_backward, gelu_deriv, gelu_scalar, linear, linear_backward, silu,
    silu_backward, silu_deriv, silu_scalar, Dense, DenseGrads,
};
pub use spectral_conv::{
    spectral_conv, spectral_conv_backward, test_layer, Spectral, SpectralGrads,
};

/// `s` of the VE-SDE schedule (docs/specification.md §5).
pub const SDE_SIGMA: f64 = 26.0;

/// Scale of PyTorch's Gaussian Fourier time features (`t_feat.W ~ N(0, 30²)`).
pub const TIME_FEATURE_SCALE: f64 = 30.0;

/// `A` of PyTorch's bicubic kernel (Keys' cubic convolution).
pub const CUBIC_A: f64 = -0.75;

/// Sizes of a batch of fields `[B, C, H, W]` (the channel count travels
/// with the layer that reads or writes it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    /// `B`.
    pub batch: usize,
    /// `H` (rows, `y`).
    pub h: usize,
    /// `W` (columns, `x`).
    pub w: usize,
}

impl Grid {
    /// Points per field, `H W`.
    pub fn hw(&self) -> usize {
        self.h * self.w
    }
}

// ---------------------------------------------------------------------------
// The VE-SDE schedule
// ---------------------------------------------------------------------------

/// Marginal std of the VE-SDE, `σ(t) = sqrt((26^{2t} − 1) / (2 ln 26))`
/// (docs/specification.md §5); `expm1` keeps full precision at small `t`.
pub fn sigma(t: f64) -> f64 {
    let ln_s = SDE_SIGMA.ln();
    ((2.0 * t * ln_s).exp_m1() / (2.0 * ln_s)).sqrt()
}

// ---------------------------------------------------------------------------
// Lifting and time embedding
// ---------------------------------------------------------------------------

/// Coordinate `i/(size−1)` of grid index `i` (0 when `size = 1`): PyTorch's
/// `linspace(0, 1, size)` up to an ulp (it fills the upper half from the
/// end), and exactly 0 and 1 at the ends.
pub fn grid_coord(i: usize, size: usize) -> f64 {
    if size > 1 {
        i as f64 / (size - 1) as f64
    } else {
        0.0
    }
}

/// Input of the lifting: `[a, g_y, g_x]` `[B, 3, H, W]` from the field
/// `a` `[B, H, W]`, `g_y[i, j] = i/(H−1)`, `g_x[i, j] = j/(W−1)` (the
/// baseline's `grid_channels`, `meshgrid(indexing="ij")`).
pub fn lift_input(field: &[f64], g: Grid) -> Vec<f64> {
    let hw = g.hw();
    assert_eq!(field.len(), g.batch * hw, "lift_input: field size");
    let mut v = vec![0.0; g.batch * 3 * hw];
    for b in 0..g.batch {
        v[3 * b * hw..][..hw].copy_from_slice(&field[b * hw..][..hw]);
        for i in 0..g.h {
            for j in 0..g.w {
                v[(3 * b + 1) * hw + i * g.w + j] = grid_coord(i, g.h);
                v[(3 * b + 2) * hw + i * g.w + j] = grid_coord(j, g.w);
            }
        }
    }
    v
}

/// Lifting `Linear(3, width)` of `[a, g_y, g_x]` at every point: `[B, H, W]`
/// → `[B, width, H, W]`.
pub fn lift(d: &Dense, field: &[f64], g: Grid) -> Vec<f64> {
    linear(d, &lift_input(field, g), g.batch, g.hw())
}

/// Backward of [`lift`]: `dx` is the gradient of the field `[B, H, W]`
/// (the grid channels are constants).
pub fn lift_backward(d: &Dense, field: &[f64], g: Grid, dy: &[f64]) -> DenseGrads {
    let hw = g.hw();
    let mut grads = linear_backward(d, &lift_input(field, g), g.batch, hw, dy);
    grads.dx = (0..g.batch)
        .flat_map(|b| grads.dx[3 * b * hw..][..hw].to_vec())
        .collect();
    grads
}

/// Gaussian Fourier features `[sin(2π t W_j) …, cos(2π t W_j) …]`
/// `[B, 2·len(W)]` (the baseline's `GaussianFourierFeatures`).
pub fn time_features(t: &[f64], freqs: &[f64]) -> Vec<f64> {
    let half = freqs.len();
    let mut f = vec![0.0; t.len() * 2 * half];
    for (b, &tb) in t.iter().enumerate() {
        for (j, &wj) in freqs.iter().enumerate() {
            let p = 2.0 * PI * tb * wj;
            f[b * 2 * half + j] = p.sin();
            f[b * 2 * half + half + j] = p.cos();
        }
    }
    f
}

/// Activations of the time embedding.
#[derive(Clone, Debug)]
pub struct TimeTape {
    /// Fourier features `[B, E]`.
    pub feats: Vec<f64>,
    /// `t_mlp.0` output before SiLU, `[B, E]`.
    pub hidden: Vec<f64>,
    /// `temb = t_mlp.2(SiLU(hidden))`, `[B, width]`.
    pub temb: Vec<f64>,
}

/// Time embedding `temb = t_mlp.2(SiLU(t_mlp.0(features(t))))` `[B, width]`.
pub fn time_embedding(mlp0: &Dense, mlp2: &Dense, freqs: &[f64], t: &[f64]) -> TimeTape {
    let batch = t.len();
    let feats = time_features(t, freqs);
    let hidden = linear(mlp0, &feats, batch, 1);
    let temb = linear(mlp2, &silu(&hidden), batch, 1);
    TimeTape {
        feats,
        hidden,
        temb,
    }
}

/// Backward of [`time_embedding`]: the gradients of `t_mlp.0` and
/// `t_mlp.2` (the features' gradient is dropped: `t` and `t_feat.W` are
/// not trained).
pub fn time_embedding_backward(
    mlp0: &Dense,
    mlp2: &Dense,
    tape: &TimeTape,
    d_temb: &[f64],
) -> (DenseGrads, DenseGrads) {
    let batch = tape.temb.len() / mlp2.cout;
    let g2 = linear_backward(mlp2, &silu(&tape.hidden), batch, 1, d_temb);
    let d_hidden = silu_backward(&tape.hidden, &g2.dx);
    let g0 = linear_backward(mlp0, &tape.feats, batch, 1, &d_hidden);
    (g0, g2)
}

// ---------------------------------------------------------------------------
// Fourier layers
// ---------------------------------------------------------------------------

/// One Fourier layer: its spectral convolution and 1×1 convolution.
#[derive(Clone, Copy, Debug)]
pub struct Layer<'a> {
    /// `*.spec.i`.
    pub spec: Spectral<'a>,
    /// `*.pw.i`.
    pub pw: Dense<'a>,
}

/// Gradients of one [`Layer`].
#[derive(Clone, Debug)]
pub struct LayerGrads {
    /// Of the spectral convolution (its `dx` is the spectral share only).
    pub spec: SpectralGrads,
    /// Of the 1×1 convolution (its `dx` is the pointwise share only).
    pub pw: DenseGrads,
}

/// Pre-activation of a Fourier layer `SpectralConv(v) + W v + b (+ temb)`,
/// `[B, width, H, W]`; `temb [B, width]` broadcast over space.
pub fn fourier_layer(l: &Layer, v: &[f64], g: Grid, temb: Option<&[f64]>) -> Vec<f64> {
    let hw = g.hw();
    let mut y = spectral_conv(&l.spec, v, g);
    for (a, b) in y.iter_mut().zip(linear(&l.pw, v, g.batch, hw)) {
        *a += b;
    }
    if let Some(temb) = temb {
        assert_eq!(temb.len(), g.batch * l.pw.cout, "fourier_layer: temb size");
        for (plane, &e) in y.chunks_exact_mut(hw).zip(temb) {
            plane.iter_mut().for_each(|y| *y += e);
        }
    }
    y
}

/// Backward of [`fourier_layer`] (`v` = its input, `dy` the gradient of its
/// pre-activation): `(dv, layer grads, dtemb [B, width] when temb was added)`.
pub fn fourier_layer_backward(
    l: &Layer,
    v: &[f64],
    g: Grid,
    dy: &[f64],
    with_temb: bool,
) -> (Vec<f64>, LayerGrads, Option<Vec<f64>>) {
    let spec = spectral_conv_backward(&l.spec, v, g, dy);
    let pw = linear_backward(&l.pw, v, g.batch, g.hw(), dy);
    let dv = spec.dx.iter().zip(&pw.dx).map(|(a, b)| a + b).collect();
    let dtemb = with_temb.then(|| dy.chunks_exact(g.hw()).map(|p| p.iter().sum()).collect());
    (dv, LayerGrads { spec, pw }, dtemb)
}

/// Activations of a stack of Fourier layers.
#[derive(Clone, Debug)]
pub struct StackTape {
    /// Input of each layer (`inputs[0]` = the stack's input).
    pub inputs: Vec<Vec<f64>>,
    /// Pre-activation of each layer; the last one is the stack's output.
    pub pres: Vec<Vec<f64>>,
}

impl StackTape {
    /// The stack's output (the last layer has no GELU).
    pub fn output(&self) -> &[f64] {
        self.pres.last().expect("a stack has layers")
    }
}

/// A `FourierStack`: `v ← fourier_layer(v)`, GELU between the layers,
/// none after the last (docs/specification.md §6).
pub fn fno_stack(layers: &[Layer], v: &[f64], g: Grid, temb: Option<&[f64]>) -> StackTape {
    let mut tape = StackTape {
        inputs: vec![v.to_vec()],
        pres: Vec::new(),
    };
    for (i, l) in layers.iter().enumerate() {
        let pre = fourier_layer(l, &tape.inputs[i], g, temb);
        if i + 1 < layers.len() {
            tape.inputs.push(gelu(&pre));
        }
        tape.pres.push(pre);
    }
    tape
}

/// Backward of [`fno_stack`]: `(dv, per-layer grads, dtemb summed over the
/// layers when temb was added)`.
pub fn fno_stack_backward(
    layers: &[Layer],
    tape: &StackTape,
    g: Grid,
    d_out: &[f64],
    with_temb: bool,
) -> (Vec<f64>, Vec<LayerGrads>, Option<Vec<f64>>) {
    let mut d = d_out.to_vec();
    let mut grads = Vec::with_capacity(layers.len());
    let mut dtemb: Option<Vec<f64>> = None;
    for (i, l) in layers.iter().enumerate().rev() {
        if i + 1 < layers.len() {
            d = gelu_backward(&tape.pres[i], &d);
        }
        let (dv, lg, dt) = fourier_layer_backward(l, &tape.inputs[i], g, &d, with_temb);
        if let Some(dt) = dt {
            match &mut dtemb {
                Some(acc) => acc.iter_mut().zip(dt).for_each(|(a, b)| *a += b),
                None => dtemb = Some(dt),
            }
        }
        grads.push(lg);
        d = dv;
    }
    grads.reverse();
    (d, grads, dtemb)
}

// ---------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------

/// Name → range of each tensor in the flat parameter vector.
struct Layout {
    ranges: HashMap<String, std::ops::Range<usize>>,
}

impl Layout {
    fn new(cfg: &ScoreConfig) -> Self {
        let ranges = cfg
            .params()
            .into_iter()
            .map(|p| {
                let len = p.len();
                (p.name, p.offset..p.offset + len)
            })
            .collect();
        Self { ranges }
    }

    fn range(&self, name: &str) -> std::ops::Range<usize> {
        self.ranges
            .get(name)
            .unwrap_or_else(|| panic!("no parameter '{name}'"))
            .clone()
    }

    fn get<'a>(&self, p: &'a [f64], name: &str) -> &'a [f64] {
        &p[self.range(name)]
    }

    fn add(&self, grads: &mut [f64], name: &str, g: &[f64]) {
        let r = self.range(name);
        assert_eq!(r.len(), g.len(), "gradient of '{name}'");
        grads[r].iter_mut().zip(g).for_each(|(a, b)| *a += b);
    }

    fn dense<'a>(&self, p: &'a [f64], name: &str, cin: usize, cout: usize) -> Dense<'a> {
        Dense {
            cin,
            cout,
            weight: self.get(p, &format!("{name}.weight")),
            bias: self.get(p, &format!("{name}.bias")),
        }
    }

    fn spectral<'a>(&self, p: &'a [f64], name: &str, cfg: &ScoreConfig) -> Spectral<'a> {
        Spectral {
            cin: cfg.width,
            cout: cfg.width,
            modes: cfg.modes,
            w_pos: self.get(p, &format!("{name}.w_pos")),
            w_neg: self.get(p, &format!("{name}.w_neg")),
        }
    }

    fn stack<'a>(&self, p: &'a [f64], name: &str, cfg: &ScoreConfig) -> Vec<Layer<'a>> {
        (0..cfg.layers)
            .map(|i| Layer {
                spec: self.spectral(p, &format!("{name}.spec.{i}"), cfg),
                pw: self.dense(p, &format!("{name}.pw.{i}"), cfg.width, cfg.width),
            })
            .collect()
    }

    fn add_dense(&self, grads: &mut [f64], name: &str, g: &DenseGrads) {
        self.add(grads, &format!("{name}.weight"), &g.dweight);
        self.add(grads, &format!("{name}.bias"), &g.dbias);
    }

    fn add_spectral(&self, grads: &mut [f64], name: &str, g: &SpectralGrads) {
        self.add(grads, &format!("{name}.w_pos"), &g.dw_pos);
        self.add(grads, &format!("{name}.w_neg"), &g.dw_neg);
    }

    fn add_stack(&self, grads: &mut [f64], name: &str, g: &[LayerGrads]) {
        for (i, lg) in g.iter().enumerate() {
            self.add_spectral(grads, &format!("{name}.spec.{i}"), &lg.spec);
            self.add_dense(grads, &format!("{name}.pw.{i}"), &lg.pw);
        }
    }
}

/// splitmix64: the test-data generator (deterministic, no dependency).
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * PI * v).cos()
    }
}

/// [`init_params_scaled`] with the baseline's time-feature scale 30.
pub fn init_params(cfg: &ScoreConfig, seed: u64) -> Vec<f64> {
    init_params_scaled(cfg, seed, TIME_FEATURE_SCALE)
}

/// A deterministic initialisation like the baseline's PyTorch defaults:
/// Linear / 1×1 conv weights and biases `U(−1/√fan_in, 1/√fan_in)`, the re
/// and im parts of spectral weights `U(0, 1)/(cin·cout)`, `t_feat.W ~ N(0,
/// time_scale²)`; 0 in the alignment padding.
///
/// The time-feature scale only changes how fast the features oscillate in
/// `t`; nothing here differentiates with respect to `t` or `t_feat.W`, so
/// the finite-difference tests can keep 30.
pub fn init_params_scaled(cfg: &ScoreConfig, seed: u64, time_scale: f64) -> Vec<f64> {
    let specs = cfg.params();
    let fan_in = |weight: &str| -> usize {
        let s = specs.iter().find(|s| s.name == weight).expect("weight");
        s.shape[1..].iter().product()
    };
    let mut rng = SplitMix(seed);
    let mut p = vec![0.0; cfg.flat_len()];
    for s in &specs {
        let out = &mut p[s.offset..s.offset + s.len()];
        if s.name == "t_feat.W" {
            out.iter_mut().for_each(|v| *v = time_scale * rng.normal());
        } else if s.name.ends_with(".w_pos") || s.name.ends_with(".w_neg") {
            let scale = 1.0 / (s.shape[0] * s.shape[1]) as f64;
            out.iter_mut().for_each(|v| *v = scale * rng.uniform());
        } else {
            let weight = match s.name.strip_suffix(".bias") {
                Some(stem) => format!("{stem}.weight"),
                None => s.name.clone(),
            };
            let bound = 1.0 / (fan_in(&weight) as f64).sqrt();
            out.iter_mut()
                .for_each(|v| *v = bound * (2.0 * rng.uniform() - 1.0));
        }
    }
    p
}

// ---------------------------------------------------------------------------
// The network
// ---------------------------------------------------------------------------

/// Inputs of one batch.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// `B`.
    pub batch: usize,
    /// Working grid side `n`.
    pub n: usize,
    /// Sensor grid side `S`.
    pub s_res: usize,
    /// Noisy closure `U_t` `[B, n, n]`.
    pub x: Vec<f64>,
    /// Vorticity `[B, n, n]` (ignored when the pipeline is off).
    pub w: Vec<f64>,
    /// Sparse observations `[B, S, S]` (ignored when the pipeline is off).
    pub s: Vec<f64>,
    /// Diffusion times `[B]`.
    pub t: Vec<f64>,
}

impl Inputs {
    fn grid(&self) -> Grid {
        Grid {
            batch: self.batch,
            h: self.n,
            w: self.n,
        }
    }

    fn sensor_grid(&self) -> Grid {
        Grid {
            batch: self.batch,
            h: self.s_res,
            w: self.s_res,
        }
    }

    fn check(&self, cfg: &ScoreConfig) {
        let nn = self.batch * self.n * self.n;
        assert_eq!(self.x.len(), nn, "inputs: x size");
        assert_eq!(self.t.len(), self.batch, "inputs: t size");
        if cfg.vorticity {
            assert_eq!(self.w.len(), nn, "inputs: w size");
        }
        if cfg.sparse {
            assert_eq!(
                self.s.len(),
                self.batch * self.s_res * self.s_res,
                "inputs: s size"
            );
        }
    }
}

/// The sparse pipeline's activations.
#[derive(Clone, Debug)]
pub struct SparseTape {
    /// `lift_s` output on the sensor grid `[B, width, S, S]`.
    pub lifted: Vec<f64>,
    /// Bicubic to the working grid `[B, width, n, n]`.
    pub up: Vec<f64>,
    /// `s_spec_a` output `[B, width, n, n]` (GELU follows).
    pub pre_a: Vec<f64>,
    /// The Fourier stack; `inputs[0]` is the `s_spec_b` output.
    pub stack: StackTape,
}

/// The fusion head's activations (`[B, C, n, n]` each).
#[derive(Clone, Debug)]
pub struct FusionTape {
    /// Concatenated pipeline outputs (x, ω, s) `[B, P·width, n, n]`.
    pub cat: Vec<f64>,
    /// `fuse1`, `fuse2`, `fuse3`, `fc1` outputs before their GELU.
    pub pres: [Vec<f64>; 4],
}

/// Forward pass with its tape.
#[derive(Clone, Debug)]
pub struct Forward {
    /// The score `[B, n, n]`.
    pub score: Vec<f64>,
    /// `fc2` output (score · σ(t)) `[B, n, n]`.
    pub out: Vec<f64>,
    /// `σ(t)` `[B]`.
    pub sigma: Vec<f64>,
    /// Time embedding.
    pub time: TimeTape,
    /// Noisy-sample pipeline; `inputs[0]` is the `lift_x` output.
    pub x_stack: StackTape,
    /// Vorticity pipeline; `inputs[0]` is the `lift_w` output.
    pub w_stack: Option<StackTape>,
    /// Sparse pipeline.
    pub s_branch: Option<SparseTape>,
    /// Fusion head.
    pub fusion: FusionTape,
}

/// Gradients of a scalar loss.
#[derive(Clone, Debug)]
pub struct Grads {
    /// Flat, laid out as the parameters; 0 in the padding and for the
    /// fixed `t_feat.W`.
    pub params: Vec<f64>,
    /// Of `x` `[B, n, n]`.
    pub x: Vec<f64>,
    /// Of `w` (zeros when the vorticity pipeline is off).
    pub w: Vec<f64>,
    /// Of `s` (zeros when the sparse pipeline is off).
    pub s: Vec<f64>,
}

/// The fusion head's layers: `fuse1..3` then `fc1`, `fc2`.
fn fusion_layers<'a>(
    cfg: &ScoreConfig,
    lay: &Layout,
    p: &'a [f64],
) -> [(&'static str, Dense<'a>); 5] {
    let w = cfg.width;
    [
        ("fuse1", lay.dense(p, "fuse1", cfg.pipelines() * w, 2 * w)),
        ("fuse2", lay.dense(p, "fuse2", 2 * w, w)),
        ("fuse3", lay.dense(p, "fuse3", w, w)),
        ("fc1", lay.dense(p, "fc1", w, cfg.fc_hidden)),
        ("fc2", lay.dense(p, "fc2", cfg.fc_hidden, 1)),
    ]
}

/// Concatenation along channels of `[B, C_k, P]` blocks.
fn concat_channels(parts: &[(&[f64], usize)], batch: usize, points: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for b in 0..batch {
        for &(v, c) in parts {
            out.extend_from_slice(&v[b * c * points..][..c * points]);
        }
    }
    out
}

/// Inverse of [`concat_channels`] (the backward of a concatenation).
fn split_channels(v: &[f64], channels: &[usize], batch: usize, points: usize) -> Vec<Vec<f64>> {
    let total: usize = channels.iter().sum();
    let mut out: Vec<Vec<f64>> = channels.iter().map(|_| Vec::new()).collect();
    for b in 0..batch {
        let mut off = b * total * points;
        for (o, &c) in out.iter_mut().zip(channels) {
            o.extend_from_slice(&v[off..off + c * points]);
            off += c * points;
        }
    }
    out
}

/// The score `s_θ(x, ω, s, t)` `[B, n, n]` and its tape (src/score/mod.rs).
pub fn forward(cfg: &ScoreConfig, params: &[f64], inp: &Inputs) -> Forward {
    assert_eq!(
        params.len(),
        cfg.flat_len(),
        "forward: parameter vector size"
    );
    inp.check(cfg);
    let lay = Layout::new(cfg);
    let (wd, e) = (cfg.width, cfg.embed_dim);
    let g = inp.grid();
    let hw = g.hw();

    let time = time_embedding(
        &lay.dense(params, "t_mlp.0", e, e),
        &lay.dense(params, "t_mlp.2", e, wd),
        lay.get(params, "t_feat.W"),
        &inp.t,
    );

    let lifted_x = lift(&lay.dense(params, "lift_x", 3, wd), &inp.x, g);
    let x_stack = fno_stack(
        &lay.stack(params, "fno_x", cfg),
        &lifted_x,
        g,
        Some(&time.temb),
    );

    let w_stack = cfg.vorticity.then(|| {
        let lifted = lift(&lay.dense(params, "lift_w", 3, wd), &inp.w, g);
        fno_stack(&lay.stack(params, "fno_w", cfg), &lifted, g, None)
    });

    let s_branch = cfg.sparse.then(|| {
        let sg = inp.sensor_grid();
        let lifted = lift(&lay.dense(params, "lift_s", 3, wd), &inp.s, sg);
        let up = bicubic(&lifted, g.batch * wd, (sg.h, sg.w), (g.h, g.w));
        let pre_a = spectral_conv(&lay.spectral(params, "s_spec_a", cfg), &up, g);
        let b = spectral_conv(&lay.spectral(params, "s_spec_b", cfg), &gelu(&pre_a), g);
        let stack = fno_stack(&lay.stack(params, "fno_s", cfg), &b, g, None);
        SparseTape {
            lifted,
            up,
            pre_a,
            stack,
        }
    });

    let mut parts = vec![(x_stack.output(), wd)];
    if let Some(st) = &w_stack {
        parts.push((st.output(), wd));
    }
    if let Some(sb) = &s_branch {
        parts.push((sb.stack.output(), wd));
    }
    let cat = concat_channels(&parts, g.batch, hw);

    // fuse1 → GELU → fuse2 → GELU → fuse3 → GELU → fc1 → GELU → fc2.
    let layers = fusion_layers(cfg, &lay, params);
    let mut pres: Vec<Vec<f64>> = Vec::with_capacity(4);
    let mut h = cat.clone();
    for (_, d) in &layers[..4] {
        let pre = linear(d, &h, g.batch, hw);
        h = gelu(&pre);
        pres.push(pre);
    }
    let out = linear(&layers[4].1, &h, g.batch, hw);

    let sigma: Vec<f64> = inp.t.iter().map(|&t| sigma(t)).collect();
    let score = out
        .chunks_exact(hw)
        .zip(&sigma)
        .flat_map(|(o, &s)| o.iter().map(move |v| v / s))
        .collect();
    Forward {
        score,
        out,
        sigma,
        time,
        x_stack,
        w_stack,
        s_branch,
        fusion: FusionTape {
            cat,
            pres: pres.try_into().expect("four fusion layers"),
        },
    }
}

/// Reverse mode: the gradients of `L` given `d_score = ∂L/∂score` `[B, n,
/// n]`, with `fwd` the [`forward`] of the same `params` and `inp`.
pub fn backward(
    cfg: &ScoreConfig,
    params: &[f64],
    inp: &Inputs,
    fwd: &Forward,
    d_score: &[f64],
) -> Grads {
    let lay = Layout::new(cfg);
    let (wd, e) = (cfg.width, cfg.embed_dim);
    let g = inp.grid();
    let hw = g.hw();
    assert_eq!(d_score.len(), g.batch * hw, "backward: d_score size");
    let mut gp = vec![0.0; params.len()];

    // score = out / σ(t).
    let d_out: Vec<f64> = d_score
        .chunks_exact(hw)
        .zip(&fwd.sigma)
        .flat_map(|(d, &s)| d.iter().map(move |v| v / s))
        .collect();

    // Fusion head, last layer first; the input of layer k is GELU(pres[k−1]).
    let layers = fusion_layers(cfg, &lay, params);
    let tape = &fwd.fusion;
    let mut d = d_out;
    for k in (0..5).rev() {
        let (name, dense) = &layers[k];
        if k < 4 {
            d = gelu_backward(&tape.pres[k], &d);
        }
        let input = if k == 0 {
            tape.cat.clone()
        } else {
            gelu(&tape.pres[k - 1])
        };
        let gk = linear_backward(dense, &input, g.batch, hw, &d);
        lay.add_dense(&mut gp, name, &gk);
        d = gk.dx;
    }
    let mut channels = vec![wd];
    if cfg.vorticity {
        channels.push(wd);
    }
    if cfg.sparse {
        channels.push(wd);
    }
    let mut d_parts = split_channels(&d, &channels, g.batch, hw).into_iter();

    // Noisy-sample pipeline and the time embedding it feeds.
    let d_hx = d_parts.next().expect("x pipeline");
    let (d_lift, lg, d_temb) = fno_stack_backward(
        &lay.stack(params, "fno_x", cfg),
        &fwd.x_stack,
        g,
        &d_hx,
        true,
    );
    lay.add_stack(&mut gp, "fno_x", &lg);
    let gl = lift_backward(&lay.dense(params, "lift_x", 3, wd), &inp.x, g, &d_lift);
    lay.add_dense(&mut gp, "lift_x", &gl);
    let dx = gl.dx;
    let (g0, g2) = time_embedding_backward(
        &lay.dense(params, "t_mlp.0", e, e),
        &lay.dense(params, "t_mlp.2", e, wd),
        &fwd.time,
        &d_temb.expect("temb gradient"),
    );
    lay.add_dense(&mut gp, "t_mlp.0", &g0);
    lay.add_dense(&mut gp, "t_mlp.2", &g2);

    let mut dw = vec![0.0; inp.w.len()];
    if let Some(st) = &fwd.w_stack {
        let d_hw = d_parts.next().expect("w pipeline");
        let (d_lift, lg, _) =
            fno_stack_backward(&lay.stack(params, "fno_w", cfg), st, g, &d_hw, false);
        lay.add_stack(&mut gp, "fno_w", &lg);
        let gl = lift_backward(&lay.dense(params, "lift_w", 3, wd), &inp.w, g, &d_lift);
        lay.add_dense(&mut gp, "lift_w", &gl);
        dw = gl.dx;
    }

    let mut ds = vec![0.0; inp.s.len()];
    if let Some(sb) = &fwd.s_branch {
        let sg = inp.sensor_grid();
        let d_hs = d_parts.next().expect("s pipeline");
        let (d_b, lg, _) =
            fno_stack_backward(&lay.stack(params, "fno_s", cfg), &sb.stack, g, &d_hs, false);
        lay.add_stack(&mut gp, "fno_s", &lg);
        let spec_b = lay.spectral(params, "s_spec_b", cfg);
        let gb = spectral_conv_backward(&spec_b, &gelu(&sb.pre_a), g, &d_b);
        lay.add_spectral(&mut gp, "s_spec_b", &gb);
        let d_pre_a = gelu_backward(&sb.pre_a, &gb.dx);
        let spec_a = lay.spectral(params, "s_spec_a", cfg);
        let ga = spectral_conv_backward(&spec_a, &sb.up, g, &d_pre_a);
        lay.add_spectral(&mut gp, "s_spec_a", &ga);
        let d_lifted = bicubic_backward(&ga.dx, g.batch * wd, (sg.h, sg.w), (g.h, g.w));
        let gl = lift_backward(&lay.dense(params, "lift_s", 3, wd), &inp.s, sg, &d_lifted);
        lay.add_dense(&mut gp, "lift_s", &gl);
        ds = gl.dx;
    }

    Grads {
        params: gp,
        x: dx,
        w: dw,
        s: ds,
    }
}

/// Denoising score matching (docs/specification.md §5) for given times and noise:
/// `U_t = x0 + σ(t) z`, `loss = mean_b Σ_pixels (s_θ(U_t) σ(t) + z)²`;
/// returns the loss and its gradients (`Grads::x` is `∂loss/∂x0`).
/// Sizes: `x0`, `z` `[B, n, n]`, `w` `[B, n, n]`, `s` `[B, S, S]`, `t` `[B]`
/// (`w`, `s` may be empty for the ablations that ignore them).
pub fn dsm_loss(
    cfg: &ScoreConfig,
    params: &[f64],
    x0: &[f64],
    w: &[f64],
    s: &[f64],
    t: &[f64],
    z: &[f64],
) -> (f64, Grads) {
    let batch = t.len();
    let side = |len: usize| -> usize {
        let k = (len / batch.max(1)) as f64;
        let n = k.sqrt().round() as usize;
        assert_eq!(n * n * batch, len, "dsm_loss: fields must be [B, n, n]");
        n
    };
    let n = side(x0.len());
    let s_res = if s.is_empty() { 0 } else { side(s.len()) };
    assert_eq!(z.len(), x0.len(), "dsm_loss: noise size");
    let hw = n * n;
    let sig: Vec<f64> = t.iter().map(|&t| sigma(t)).collect();
    let x: Vec<f64> = x0
        .iter()
        .zip(z)
        .enumerate()
        .map(|(k, (&x, &z))| x + sig[k / hw] * z)
        .collect();
    let inp = Inputs {
        batch,
        n,
        s_res,
        x,
        w: w.to_vec(),
        s: s.to_vec(),
        t: t.to_vec(),
    };
    let fwd = forward(cfg, params, &inp);
    // r = score σ + z; loss = Σ r² / B; ∂loss/∂score = 2 r σ / B.
    let mut loss = 0.0;
    let mut d_score = vec![0.0; x0.len()];
    for (k, d) in d_score.iter_mut().enumerate() {
        let s = sig[k / hw];
        let r = fwd.score[k] * s + z[k];
        loss += r * r;
        *d = 2.0 * r * s / batch as f64;
    }
    // U_t depends on x0 with unit slope: ∂loss/∂x0 = ∂loss/∂U_t.
    let grads = backward(cfg, params, &inp, &fwd, &d_score);
    (loss / batch as f64, grads)
}
