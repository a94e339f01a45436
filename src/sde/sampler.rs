//! Reverse-time samplers of the VE-SDE (docs/specification.md §5): Euler–Maruyama,
//! stochastic Heun and the probability-flow ODE (Heun) over the Karras
//! schedule, each ending with one noise-free step from `t_min` to `t = 0`.
//! Every step is a kernel of `shaders/sde.wgsl`; a whole trajectory is
//! recorded into one compute pass, with no host round trip.
//!
//! The schedule of `N` steps (the reference code's): `N` Karras times
//! `t_max = t_0 > … > t_{N−1} = t_min`, then `t_N = 0`. Steps `0 … N−2`
//! integrate the reverse SDE or ODE from `t_i` to `t_{i+1}`,
//! `h = t_i − t_{i+1}`, score `S = ∇ log p_t`:
//! * EM: `x ← x + g_i² S(x, t_i) h + g_i √h z`;
//! * Heun (reverse SDE, drift by the trapezoidal rule with one shared
//!   noise): `x̃ = x + g_i² S_i h + η z`,
//!   `x ← x + ½ (g_i² S_i + g_{i+1}² S(x̃, t_{i+1})) h + η z` with
//!   `η = √(σ_i² − σ_{i+1}²)`, the exact noise variance of the step (with
//!   `g_i √h` the variance would only be first order in `h`);
//! * probability-flow ODE `dx/dt = −½ g² S`: the same Heun step, drift
//!   halved, `η = 0` (Karras et al. 2022, Algorithm 1).
//!
//! The last step, from `t_min` to 0, is first order and noise-free for
//! every sampler ([`FinalStep`]): the score cannot be evaluated at 0, and a
//! sample left at `t_min` keeps noise of level σ(t_min) ≈ 0.032 — on a
//! smooth closure of rms ≈ 0.1, most of its error.

use crate::error::{Error, Result};
use crate::gpu::{Gpu, KernelSpec, ShaderSource, Slot, Tensor};
use crate::rng::{Distribution, Rng};
use crate::score::model::{ScoreFno, Workspace};
use crate::sde::{karras_times, VeSde};

/// `shaders/sde.wgsl`: the reverse-SDE / probability-flow steps.
const SHADER: ShaderSource = crate::shader!("sde.wgsl");

/// The reverse-time integrator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampler {
    /// Euler–Maruyama on the reverse SDE (1st order; one score per step).
    EulerMaruyama,
    /// Stochastic Heun on the reverse SDE (2nd order in the drift; two
    /// scores per step).
    Heun,
    /// Heun on the probability-flow ODE (deterministic after the prior
    /// draw; two scores per step).
    ProbabilityFlow,
}

impl Sampler {
    /// Score evaluations of a `steps`-step run: one per step for EM; two
    /// per step for Heun and the ODE but one for the first-order final
    /// step (`2N − 1`).
    pub fn evals(self, steps: usize) -> usize {
        match self {
            Sampler::EulerMaruyama => steps,
            Sampler::Heun | Sampler::ProbabilityFlow => (2 * steps).saturating_sub(1),
        }
    }
}

// The names `--sampler` takes and samples files record; the reference
// code's names (euler-maruyama, pc, pf-ode) as aliases.
crate::names::name_table! {
    Sampler, "sampler";
    EulerMaruyama => "em" | "euler-maruyama",
    Heun => "heun" | "pc",
    ProbabilityFlow => "ode" | "pf-ode",
}

/// The noise-free step from `t_min` to `t = 0` that ends every reverse run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FinalStep {
    /// Tweedie's posterior mean `x + σ(t_min)² S(x, t_min) = E[U_0 | U_{t_min} = x]`:
    /// the least-squares estimate of the clean sample, exact for any data
    /// distribution (Efron 2011); on a Gaussian target `N(μ, v)` it removes
    /// the σ(t_min)² excess variance and leaves `v² / (v + σ(t_min)²)`.
    #[default]
    Tweedie,
    /// The reference code's last Euler–Maruyama step to 0, noise-free:
    /// `x + g(t_min)² S(x, t_min) t_min`, i.e. Tweedie's step scaled by
    /// `g² t_min / σ² = 1 + O(t_min ln s)` (1.003 at `t_min = 1e-3`).
    /// Offered to reproduce that code's samples.
    Euler,
}

// The names `--final-step` takes and samples files record.
crate::names::name_table! {
    FinalStep, "final step";
    Tweedie => "tweedie",
    Euler => "euler",
}

impl FinalStep {
    /// The step's coefficient on `S(x, t_min)`: `σ(t_min)²` or
    /// `g(t_min)² t_min`.
    pub fn coefficient(self, sde: VeSde, t_min: f64) -> f64 {
        match self {
            FinalStep::Tweedie => sde.sigma(t_min).powi(2),
            FinalStep::Euler => sde.g(t_min).powi(2) * t_min,
        }
    }
}

/// A sampler and its schedule (defaults: the reference code's fast
/// sampler, EM, 10 steps from `t_max = 0.1` over `t_min = 1e-3` to 0,
/// ρ = 7, a Tweedie final step).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplerConfig {
    /// The integrator.
    pub sampler: Sampler,
    /// Steps `N`, the final step included (the schedule has `N + 1`
    /// times, the last 0).
    pub steps: usize,
    /// Start time of the reverse run.
    pub t_max: f64,
    /// The last Karras time, where the final step to 0 evaluates the
    /// score (> 0: the score is singular at 0; unused for `N = 1`).
    pub t_min: f64,
    /// Karras ρ.
    pub rho: f64,
    /// The forward SDE.
    pub sde: VeSde,
    /// The step from `t_min` to 0.
    pub final_step: FinalStep,
    /// Run a schedule that [`SamplerConfig::check_stability`] refuses.
    pub allow_unstable: bool,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self {
            sampler: Sampler::EulerMaruyama,
            steps: 10,
            t_max: 0.1,
            t_min: 1e-3,
            rho: 7.0,
            sde: VeSde::default(),
            final_step: FinalStep::Tweedie,
            allow_unstable: false,
        }
    }
}

impl SamplerConfig {
    /// The `N + 1` times `t_max = t_0 > … > t_{N−1} = t_min > t_N = 0`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `N = 0`, `t_max > 10` (σ overflows
    /// f32 far beyond), a schedule [`karras_times`] refuses, or a step
    /// beyond its scheme's stability ([`SamplerConfig::check_stability`]).
    pub fn times(&self) -> Result<Vec<f64>> {
        if self.steps == 0 {
            return Err(Error::InvalidArgument(
                "the sampler needs at least 1 step (--steps 0)".into(),
            ));
        }
        if self.t_max > 10.0 {
            return Err(Error::InvalidArgument(format!(
                "t_max = {} is above 10 (σ(10) ≈ 1e13)",
                self.t_max
            )));
        }
        if !(0.0 < self.t_min
            && self.t_min < self.t_max
            && self.t_max.is_finite()
            && self.rho > 0.0)
        {
            return Err(Error::InvalidArgument(format!(
                "sampler times t_max = {}, t_min = {}, rho = {}: need 0 < t_min < t_max and rho > 0",
                self.t_max, self.t_min, self.rho
            )));
        }
        let mut times = karras_times(self.t_max, self.t_min, self.rho, self.steps)?;
        times.push(0.0);
        self.check_stability(&times)?;
        Ok(times)
    }

    /// The factors by which integrator step `i` of `times` multiplies a
    /// deviation `y = x − μ` from the mean of a narrow Gaussian target
    /// (variance → 0, score `−y/σ(t)²`: the stiffest case, the one a
    /// near-deterministic closure reaches) and the step's own noise. With
    /// `c = λ g² h / σ²` (λ = ½ for the ODE): EM `(1 − c_i, 1)`; Heun and
    /// the ODE `(1 − ½ c_i − ½ c_{i+1} (1 − c_i), 1 − ½ c_{i+1})` (the
    /// corrector's score at `t_{i+1}` sees the predictor's noise; the ODE
    /// has none).
    pub fn step_factors(&self, times: &[f64], i: usize) -> (f64, f64) {
        let (t0, t1) = (times[i], times[i + 1]);
        let h = t0 - t1;
        let lambda = match self.sampler {
            Sampler::ProbabilityFlow => 0.5,
            _ => 1.0,
        };
        let c = |t: f64| lambda * self.sde.g(t).powi(2) * h / self.sde.sigma(t).powi(2);
        match self.sampler {
            Sampler::EulerMaruyama => (1.0 - c(t0), 1.0),
            Sampler::Heun | Sampler::ProbabilityFlow => {
                let (c0, c1) = (c(t0), c(t1));
                let noise = if self.sampler == Sampler::Heun {
                    1.0 - 0.5 * c1
                } else {
                    0.0
                };
                (1.0 - 0.5 * c0 - 0.5 * c1 * (1.0 - c0), noise)
            }
        }
    }

    /// Refuses (unless `allow_unstable`) a schedule with an integrator
    /// step that amplifies deviations from a narrow target or its own
    /// noise (a [`step_factors`](Self::step_factors) factor beyond ±1):
    /// there the run grows instead of converging. Heun with a few steps
    /// lands its corrector at a small σ with `c_{i+1} = g²h/σ² ≫ 1`
    /// (k-diffusion's known failure): `--sampler heun --steps 2` from 0.1
    /// multiplies by ≈ −18 and leaves ≈ 10⁵ times the variance the target
    /// has at `t_min`. EM contracts whenever `c < 2`; its few-step runs
    /// are inaccurate (too much noise), not unstable, and pass.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the step, its factor and the fix.
    pub fn check_stability(&self, times: &[f64]) -> Result<()> {
        if self.allow_unstable {
            return Ok(());
        }
        for i in 0..times.len().saturating_sub(2) {
            let (a, b) = self.step_factors(times, i);
            let worst = if a.abs() >= b.abs() { a } else { b };
            // NaN (a degenerate schedule) is refused too.
            if worst.is_nan() || worst.abs() > 1.0 {
                return Err(Error::InvalidArgument(format!(
                    "{} with {} steps from t_max = {} to t_min = {}: step {} (t = {:.3e} → {:.3e}) multiplies deviations from a narrow target by {worst:.3} (|factor| > 1: the run grows instead of converging); use more steps, a smaller t_max, a larger t_min or the em sampler (or allow it explicitly)",
                    self.sampler,
                    self.steps,
                    self.t_max,
                    self.t_min,
                    i + 1,
                    times[i],
                    times[i + 1]
                )));
            }
        }
        Ok(())
    }
}

/// Where a score comes from: the sampler writes the evaluation point into
/// [`ScoreSource::input`], records the source, and reads
/// `σ(t) · ∇ log p_t` from [`ScoreSource::output`] (the network's output
/// before its division by σ, so that the sampler folds 1/σ into the step
/// coefficient in f64).
pub trait ScoreSource {
    /// The evaluation point, `[B, n, n]` (also the sampler's state).
    fn input(&self) -> &Tensor;
    /// `σ(t) ∇ log p_t(input)`, `[B, n, n]`.
    fn output(&self) -> &Tensor;
    /// Records the evaluation at time `t` into `pass`.
    ///
    /// # Errors
    /// Kernel build errors.
    fn record(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass<'_>, t: f64) -> Result<()>;
}

/// The score network as a score source: conditioned on the workspace's
/// vorticity `w` and observations `s`, which the caller writes first.
pub struct NetworkScore<'a> {
    /// The network.
    pub model: &'a ScoreFno,
    /// Its flat parameter vector.
    pub params: &'a Tensor,
    /// The workspace (`x` is the sampler's state).
    pub ws: &'a Workspace,
}

impl ScoreSource for NetworkScore<'_> {
    fn input(&self) -> &Tensor {
        &self.ws.x
    }
    fn output(&self) -> &Tensor {
        &self.ws.out
    }
    fn record(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass<'_>, t: f64) -> Result<()> {
        let p = Params {
            count: self.ws.batch as u32,
            t: t as f32,
            ..Default::default()
        };
        record(gpu, pass, &FILL_TIME, &p, &[&self.ws.t], self.ws.batch)?;
        self.model.record_forward(gpu, pass, self.params, self.ws)
    }
}

/// A per-point two-Gaussian mixture `w1 N(μ1, v1) + (1 − w1) N(μ2, v2)`
/// (`w1 = 1`: one Gaussian). Its VE-diffused density at time `t` is the
/// same mixture with variances `v_k + σ(t)²`, whose score is exact: the
/// samplers' test without a network.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mixture {
    /// Weight of the first component, in `[0, 1]`.
    pub w1: f64,
    /// Mean and variance of the first component.
    pub mu1: f64,
    /// Variance of the first component (> 0).
    pub var1: f64,
    /// Mean of the second component.
    pub mu2: f64,
    /// Variance of the second component (> 0).
    pub var2: f64,
}

impl Mixture {
    /// A single Gaussian `N(mu, var)`.
    pub fn gaussian(mu: f64, var: f64) -> Self {
        Self {
            w1: 1.0,
            mu1: mu,
            var1: var,
            mu2: 0.0,
            var2: 1.0,
        }
    }

    /// Mean and variance of the mixture diffused to noise level `sigma`.
    pub fn moments(&self, sigma: f64) -> (f64, f64) {
        let w2 = 1.0 - self.w1;
        let s2 = sigma * sigma;
        let mean = self.w1 * self.mu1 + w2 * self.mu2;
        let second = self.w1 * (self.var1 + s2 + self.mu1 * self.mu1)
            + w2 * (self.var2 + s2 + self.mu2 * self.mu2);
        (mean, second - mean * mean)
    }
}

/// [`Mixture`]'s exact score over `count` independent points.
pub struct MixtureScore {
    /// The density.
    pub mixture: Mixture,
    /// The forward SDE (σ(t)).
    pub sde: VeSde,
    x: Tensor,
    out: Tensor,
}

impl MixtureScore {
    /// Buffers for `count` points.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a weight outside `[0, 1]` or a
    /// non-positive variance; allocation errors.
    pub fn new(gpu: &Gpu, mixture: Mixture, sde: VeSde, count: usize) -> Result<Self> {
        if !((0.0..=1.0).contains(&mixture.w1) && mixture.var1 > 0.0 && mixture.var2 > 0.0) {
            return Err(Error::InvalidArgument(format!("{mixture:?}")));
        }
        Ok(Self {
            mixture,
            sde,
            x: Tensor::zeros(gpu, &[count], crate::gpu::DType::F32)?,
            out: Tensor::zeros(gpu, &[count], crate::gpu::DType::F32)?,
        })
    }
}

impl ScoreSource for MixtureScore {
    fn input(&self) -> &Tensor {
        &self.x
    }
    fn output(&self) -> &Tensor {
        &self.out
    }
    fn record(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass<'_>, t: f64) -> Result<()> {
        let m = self.mixture;
        let p = Params {
            count: self.x.len() as u32,
            t: self.sde.sigma(t) as f32,
            w1: m.w1 as f32,
            mu1: m.mu1 as f32,
            var1: m.var1 as f32,
            mu2: m.mu2 as f32,
            var2: m.var2 as f32,
            ..Default::default()
        };
        record(
            gpu,
            pass,
            &MIXTURE_SCORE,
            &p,
            &[&self.x, &self.out],
            p.count as usize,
        )
    }
}

/// The random numbers of a run: draw `j` (0: the prior, `i + 1`: step `i`)
/// of point `p` of this batch is Philox block `offset + j · stride + p/4`
/// of `seed`. With `stride` covering a whole job's points and `offset` this
/// batch's first point, a point's numbers do not depend on how the job is
/// cut into batches or shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Noise {
    /// The Philox key.
    pub seed: u64,
    /// Blocks between two draws (≥ the batch's points / 4).
    pub stride: u64,
    /// Block of this batch's first point.
    pub offset: u64,
}

impl Noise {
    /// The numbers of one batch of `points` on its own.
    pub fn batch(seed: u64, points: usize) -> Self {
        Self {
            seed,
            stride: points.div_ceil(4) as u64,
            offset: 0,
        }
    }

    fn draw(&self, j: usize) -> Rng {
        Rng::with_counter(self.seed, self.offset + j as u64 * self.stride)
    }
}

/// How the reverse run starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// `x = σ(t_max) z`: the reference code's prior (the data's own scale
    /// neglected against σ(t_max)).
    Prior,
    /// The caller has written `x_{t_max}` into the source's input.
    Given,
}

/// Snapshots of a reverse run (the denoising trajectory): after each step
/// listed in `steps` (0: the start, `i`: after step `i`), the first
/// `points` values of the state go to frame slot `j` of `tensor`
/// (`[steps.len(), points]`).
pub struct Frames<'a> {
    /// Destination, `[steps.len(), points]`.
    pub tensor: &'a Tensor,
    /// Steps to keep, each in `0 ..= N`.
    pub steps: &'a [usize],
    /// Values per frame (`n²`: the batch's first sample).
    pub points: usize,
}

/// `count` steps out of `0 ..= n` (all if `count > n`), evenly spaced,
/// always with the start and the end: the frames of a trajectory figure.
pub fn frame_steps(n: usize, count: usize) -> Vec<usize> {
    let c = count.clamp(2, n + 1);
    (0..c).map(|j| j * n / (c - 1)).collect()
}

/// One sampler over a batch of `count` points: its schedule and scratch.
pub struct ReverseSampler {
    cfg: SamplerConfig,
    times: Vec<f64>,
    z: Tensor,
    save: Tensor,
    d: Tensor,
}

impl ReverseSampler {
    /// A sampler for states of `count` points.
    ///
    /// # Errors
    /// As [`SamplerConfig::times`]; allocation errors.
    pub fn new(gpu: &Gpu, cfg: SamplerConfig, count: usize) -> Result<Self> {
        let times = cfg.times()?;
        let f = |n| Tensor::zeros(gpu, &[n], crate::gpu::DType::F32);
        let heun = cfg.sampler != Sampler::EulerMaruyama;
        Ok(Self {
            cfg,
            times,
            z: f(count)?,
            save: f(if heun { count } else { 1 })?,
            d: f(if heun { count } else { 1 })?,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SamplerConfig {
        &self.cfg
    }

    /// The schedule `t_0 = t_max > … > t_{N−1} = t_min > t_N = 0`.
    pub fn times(&self) -> &[f64] {
        &self.times
    }

    /// Records a whole reverse run into `pass`: the result is left in
    /// `score.input()`. `frames`, when given, receives snapshots of the
    /// state (see [`Frames`]).
    ///
    /// # Errors
    /// [`Error::Shape`] if the source's buffers do not hold `count` points
    /// or `frames` does not fit; kernel build errors.
    pub fn record(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        score: &dyn ScoreSource,
        noise: &Noise,
        start: Start,
        frames: Option<&Frames<'_>>,
    ) -> Result<()> {
        let (x, out, z) = (score.input(), score.output(), &self.z);
        let count = z.len();
        if x.len() != count || out.len() != count {
            return Err(Error::Shape(format!(
                "sampler for {count} points, score source with {} / {}",
                x.len(),
                out.len()
            )));
        }
        let n = self.cfg.steps;
        if let Some(f) = frames {
            if f.points > count
                || f.tensor.len() != f.steps.len() * f.points
                || f.steps.iter().any(|&s| s > n)
            {
                return Err(Error::Shape(format!(
                    "frames: {} values for steps {:?} of {} points; the run has {n} steps of {count} points",
                    f.tensor.len(),
                    f.steps,
                    f.points
                )));
            }
        }
        let sde = self.cfg.sde;
        // Copies the state after step i (0: the start) into every frame slot
        // that asks for it.
        let frame = |pass: &mut wgpu::ComputePass<'_>, i: usize| -> Result<()> {
            let Some(f) = frames else { return Ok(()) };
            for (slot, _) in f.steps.iter().enumerate().filter(|(_, &s)| s == i) {
                let p = Params {
                    count: f.points as u32,
                    frame: slot as u32,
                    ..Default::default()
                };
                record(gpu, pass, &COPY_FRAME, &p, &[x, f.tensor], f.points)?;
            }
            Ok(())
        };
        let draw = |pass: &mut wgpu::ComputePass<'_>, j: usize| {
            noise.draw(j).record(gpu, pass, Distribution::Normal, z)
        };
        if start == Start::Prior {
            draw(pass, 0)?;
            let p = Params {
                count: count as u32,
                noise: sde.sigma(self.times[0]) as f32,
                ..Default::default()
            };
            record(gpu, pass, &START, &p, &[z, x], count)?;
        }
        frame(pass, 0)?;
        let lambda = match self.cfg.sampler {
            Sampler::ProbabilityFlow => 0.5,
            _ => 1.0,
        };
        for i in 0..n - 1 {
            let (t0, t1) = (self.times[i], self.times[i + 1]);
            let h = t0 - t1;
            // λ g(t)² h / σ(t): the drift per unit of the source's σ·score.
            let drift = |t: f64| (lambda * sde.g(t).powi(2) * h / sde.sigma(t)) as f32;
            let noise_amp = match self.cfg.sampler {
                Sampler::EulerMaruyama => sde.g(t0) * h.sqrt(),
                Sampler::Heun => (sde.sigma(t0).powi(2) - sde.sigma(t1).powi(2)).sqrt(),
                Sampler::ProbabilityFlow => 0.0,
            } as f32;
            if noise_amp != 0.0 {
                draw(pass, i + 1)?;
            }
            score.record(gpu, pass, t0)?;
            let mut p = Params {
                count: count as u32,
                drift: drift(t0),
                noise: noise_amp,
                ..Default::default()
            };
            if self.cfg.sampler == Sampler::EulerMaruyama {
                record(gpu, pass, &EM_STEP, &p, &[out, z, x], count)?;
            } else {
                let b = [out, z, x, &self.save, &self.d];
                record(gpu, pass, &HEUN_PREDICT, &p, &b, count)?;
                score.record(gpu, pass, t1)?;
                p.drift = drift(t1);
                record(gpu, pass, &HEUN_CORRECT, &p, &b, count)?;
            }
            frame(pass, i + 1)?;
        }
        // The final step from t_{N−1} = t_min to 0: first order, noise-free,
        // the same EM kernel with the final step's coefficient (per unit of
        // σ·score) and no noise.
        let t_last = self.times[n - 1];
        score.record(gpu, pass, t_last)?;
        let p = Params {
            count: count as u32,
            drift: (self.cfg.final_step.coefficient(sde, t_last) / sde.sigma(t_last)) as f32,
            noise: 0.0,
            ..Default::default()
        };
        record(gpu, pass, &EM_STEP, &p, &[out, z, x], count)?;
        frame(pass, n)
    }
}

impl ReverseSampler {
    /// Records `x = held + amplitude · z` with `z` standard normals of
    /// `noise`'s first draw (in this sampler's noise buffer): a perturbed
    /// copy of a held sample (the coupled run between closure samples).
    ///
    /// # Errors
    /// [`Error::Shape`] unless `held` and `x` have this sampler's points.
    pub fn record_perturbed(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        held: &Tensor,
        x: &Tensor,
        noise: &Noise,
        amplitude: f64,
    ) -> Result<()> {
        let count = self.z.len();
        if held.len() != count || x.len() != count {
            return Err(Error::Shape(format!(
                "perturbation of {} / {} points, sampler of {count}",
                held.len(),
                x.len()
            )));
        }
        noise
            .draw(0)
            .record(gpu, pass, Distribution::Normal, &self.z)?;
        let p = Params {
            count: count as u32,
            ..Default::default()
        };
        // x = 0, then x += 1 · held + amplitude · z (the Euler–Maruyama update).
        record(gpu, pass, &START, &p, &[&self.z, x], count)?;
        let p = Params {
            drift: 1.0,
            noise: amplitude as f32,
            ..p
        };
        record(gpu, pass, &EM_STEP, &p, &[held, &self.z, x], count)
    }
}

crate::gpu::layout::wgsl_struct! {
    #[wgsl(SHADER, Params, test params_mirror_wgsl)]
    /// The uniform of `shaders/sde.wgsl` (see its field comments).
    #[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        count: u32,
        frame: u32,
        _pad: [u32; 2],
        drift: f32,
        noise: f32,
        t: f32,
        w1: f32,
        mu1: f32,
        var1: f32,
        mu2: f32,
        var2: f32,
    }
}

const R: Slot = Slot::Read;
const RW: Slot = Slot::ReadWrite;
const U: Slot = Slot::Uniform;
const FILL_TIME: KernelSpec = KernelSpec::new(SHADER, "fill_time", &[U, RW]);
const START: KernelSpec = KernelSpec::new(SHADER, "start", Slot::IN_OUT);
const EM_STEP: KernelSpec = KernelSpec::new(SHADER, "em_step", Slot::TWO_IN);
const HEUN_PREDICT: KernelSpec = KernelSpec::new(SHADER, "heun_predict", &[U, R, R, RW, RW, RW]);
const HEUN_CORRECT: KernelSpec = KernelSpec::new(SHADER, "heun_correct", &[U, R, R, RW, RW, RW]);
const MIXTURE_SCORE: KernelSpec = KernelSpec::new(SHADER, "mixture_score", Slot::IN_OUT);
const COPY_FRAME: KernelSpec = KernelSpec::new(SHADER, "copy_frame", Slot::IN_OUT);

fn record(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    spec: &KernelSpec,
    p: &Params,
    bindings: &[&Tensor],
    work: usize,
) -> Result<()> {
    gpu.record_flat(pass, spec, p, bindings, work)
}
