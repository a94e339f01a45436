//! The batched pseudo-spectral solver: state, kernels and time stepping.
//!
//! State: the vorticity half spectrum `ω̂` `[B, n, n/2+1]` (complex), in
//! two ping-pong buffers. One right-hand-side evaluation is
//! `velocity_gradients` → c2r of `(u, v, ∂ω/∂x, ∂ω/∂y)` → `advection`
//! (`u·∇ω` in physical space) → r2c; the update is Crank–Nicolson for
//! `ν Δω − drag ω` with the (2/3-dealiased) advection and the forcing
//! explicit: forward Euler (1st order) or Heun (predictor–corrector, 2nd
//! order), as the PyTorch baseline `benches/baselines/torch_ns.py`.
//! Everything stays on the GPU; a step records 7 (Euler) or 14 (Heun)
//! dispatches and no host round trip.

use crate::error::{Error, Result};
use crate::fft::{Fft2d, Transform};
use crate::gpu::{DType, Gpu, Kernel, KernelSpec, ShaderSource, Slot, Tensor};
use crate::rng::{Distribution, Rng};

/// `shaders/spectral.wgsl`: the solver's right-hand side and update, and
/// the eddy closures of `ns::eddy` (one uniform, shared helpers).
pub const SHADER: ShaderSource = crate::shader!("spectral.wgsl");

/// Explicit scheme for the advection and forcing terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeScheme {
    /// Forward Euler (CN–FE): first order, one evaluation per step.
    Euler,
    /// Heun predictor–corrector (CN–Heun): second order, two evaluations.
    Heun,
}

// The names `--scheme` takes and trajectory files record.
crate::names::name_table! {
    TimeScheme, "scheme";
    Heun => "heun",
    Euler => "euler",
}

/// Additive spatially correlated white-in-time forcing `σ ξ`: the Q-Wiener
/// forcing of the reference code (Lord, Powell & Shardlow, "An Introduction
/// to Computational Stochastic PDEs", Alg. 4.5 / 10.6). Per step the
/// vorticity receives `dt σ ξ̂(k)`, `ξ̂(k) = exp(−α|k|²/2) n²/(L√dt) z(k)`,
/// `z` the Hermitian part of complex white noise summed over `kappa` draws.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StochasticForcing {
    /// Spectral decay α (in units of length²; |k| in radians per length).
    pub alpha: f64,
    /// Number of summed normal draws κ (variance κ per component).
    pub kappa: u32,
    /// Amplitude σ.
    pub sigma: f64,
}

/// Physical and numerical parameters of a run.
#[derive(Clone, Debug)]
pub struct NsConfig {
    /// Grid points per side (power of two, 8 ..= 1024).
    pub n: usize,
    /// Side of the periodic square domain `[0, L)²`.
    pub length: f64,
    /// Kinematic viscosity ν.
    pub nu: f64,
    /// Linear drag coefficient (the `−drag·ω` term; 0 for none).
    pub drag: f64,
    /// Time step.
    pub dt: f64,
    /// Explicit scheme.
    pub scheme: TimeScheme,
    /// Trajectories advanced together.
    pub batch: usize,
    /// Stochastic forcing, if any.
    pub stochastic: Option<StochasticForcing>,
    /// Seed of the stochastic forcing's random stream.
    pub seed: u64,
    /// Whether the model computes its own advection `u·∇ω` (false for the
    /// coarse model of the H scenario, which gets it from the closure).
    pub advection: bool,
}

impl NsConfig {
    /// Grid spacing `L / n`.
    pub fn dx(&self) -> f64 {
        self.length / self.n as f64
    }

    /// Checks the configuration before any GPU work.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the offending value.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if !self.n.is_power_of_two() || !(8..=1024).contains(&self.n) {
            return bad(format!(
                "grid n = {}: must be a power of two in [8, 1024]",
                self.n
            ));
        }
        if self.batch == 0 {
            return bad("batch must be >= 1".into());
        }
        if let Some(sf) = self.stochastic {
            if !(sf.alpha.is_finite() && sf.alpha >= 0.0 && sf.sigma.is_finite() && sf.kappa >= 1) {
                return bad(format!(
                    "stochastic forcing {sf:?}: needs alpha >= 0, finite sigma, kappa >= 1"
                ));
            }
        }
        for (name, v, positive) in [
            ("length", self.length, true),
            ("dt", self.dt, true),
            ("nu", self.nu, false),
            ("drag", self.drag, false),
        ] {
            if !v.is_finite() || v < 0.0 || (positive && v == 0.0) {
                return bad(format!(
                    "{name} = {v}: must be finite and {}",
                    if positive { "> 0" } else { ">= 0" }
                ));
            }
        }
        Ok(())
    }
}

crate::gpu::layout::wgsl_struct! {
    #[wgsl(SHADER, Params, test params_mirror_wgsl)]
    /// The uniform of `shaders/spectral.wgsl` (its `Params`, field for field).
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    pub(crate) struct Params {
        pub n: u32,
        pub half: u32,
        pub spec_len: u32,
        pub phys_len: u32,
        pub kappa: f32,
        pub nu: f32,
        pub drag: f32,
        pub dt: f32,
        pub c1: f32,
        pub c2: f32,
        pub noise_alpha: f32,
        pub noise_scale: f32,
        pub cutoff: u32,
        pub delta: f32,
        pub leith: u32,
        pub pad: u32,
    }
}

impl Params {
    /// The grid and physics of `cfg` with no advection weights, no
    /// stochastic forcing and no filter.
    pub(crate) fn grid(cfg: &NsConfig) -> Self {
        let (n, b) = (cfg.n, cfg.batch);
        let half = n / 2 + 1;
        Self {
            n: n as u32,
            half: half as u32,
            spec_len: (b * n * half) as u32,
            phys_len: (b * n * n) as u32,
            kappa: (2.0 * std::f64::consts::PI / cfg.length) as f32,
            nu: cfg.nu as f32,
            drag: cfg.drag as f32,
            dt: cfg.dt as f32,
            c1: 0.0,
            c2: 0.0,
            noise_alpha: 0.0,
            noise_scale: 0.0,
            cutoff: n as u32,
            delta: 0.0,
            leith: 0,
            pad: 0,
        }
    }
}

const GRADS: KernelSpec = KernelSpec::new(SHADER, "velocity_gradients", Slot::IN_OUT);
const ADVECTION: KernelSpec = KernelSpec::new(SHADER, "advection", Slot::IN_OUT);
const UPDATE: KernelSpec = KernelSpec::new(
    SHADER,
    "cn_update",
    &[
        Slot::Uniform,
        Slot::Read,
        Slot::Read,
        Slot::Read,
        Slot::Read,
        Slot::ReadWrite,
        Slot::Read,
        Slot::Read,
    ],
);
const CLOSURES: KernelSpec = KernelSpec::new(
    SHADER,
    "closure_terms",
    &[
        Slot::Uniform,
        Slot::Read,
        Slot::Read,
        Slot::Read,
        Slot::ReadWrite,
    ],
);
const SUBGRID: KernelSpec = KernelSpec::new(SHADER, "subgrid_term", Slot::TWO_IN);

/// A batch of trajectories advanced together on the GPU.
pub struct NsSolver {
    gpu: Gpu,
    cfg: NsConfig,
    /// Ping-pong vorticity spectra `[B, n, n/2+1]`; `w[cur]` is the state.
    w: [Tensor; 2],
    cur: usize,
    n1: Tensor,
    n2: Tensor,
    grads_hat: Tensor,
    grads: Tensor,
    adv: Tensor,
    forcing: Tensor,
    /// Normals for the stochastic forcing, refilled every step.
    noise: Option<Tensor>,
    /// External closure term (spectral, added every step; zeros by default).
    closure: Tensor,
    closures_k: std::sync::Arc<Kernel>,
    /// closure_terms of w[0] / w[1] into `closure_out`.
    closures_bg: [wgpu::BindGroup; 2],
    closure_out: Tensor,
    /// The Euler-weight parameters (also read by `subgrid_term`).
    params: wgpu::Buffer,
    rng: Rng,
    fft: Fft2d,
    fft4: Fft2d,
    grads_k: std::sync::Arc<Kernel>,
    adv_k: std::sync::Arc<Kernel>,
    update_k: std::sync::Arc<Kernel>,
    /// velocity_gradients reading w[0] / w[1].
    grads_bg: [wgpu::BindGroup; 2],
    adv_bg: wgpu::BindGroup,
    /// Euler/predictor update from w[c] into w[1-c], for c = 0, 1.
    predict_bg: [wgpu::BindGroup; 2],
    /// Heun corrector from w[c] (with n1, n2) into w[1-c].
    correct_bg: [wgpu::BindGroup; 2],
    spec_groups: u32,
    phys_groups: u32,
}

impl NsSolver {
    /// A solver with zero vorticity and the physical forcing field
    /// `forcing` (`[n, n]`, the same for every trajectory; `None` = 0).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a bad configuration, [`Error::Shape`]
    /// for a forcing of the wrong size or with NaN/Inf; both before any GPU
    /// work.
    pub fn new(gpu: &Gpu, cfg: &NsConfig, forcing: Option<&[f32]>) -> Result<Self> {
        cfg.validate()?;
        let (n, b) = (cfg.n, cfg.batch);
        let half = n / 2 + 1;
        if let Some(f) = forcing {
            if f.len() != n * n || f.iter().any(|v| !v.is_finite()) {
                return Err(Error::Shape(format!(
                    "forcing must be {n}x{n} finite values, got {} values",
                    f.len()
                )));
            }
        }
        let spec = |shape: &[usize]| Tensor::zeros(gpu, shape, DType::C32);
        let w = [spec(&[b, n, half])?, spec(&[b, n, half])?];
        let fft = Fft2d::new(gpu, b, n, n)?;
        let fft4 = Fft2d::new(gpu, 4 * b, n, n)?;
        let forcing_hat = spec(&[1, n, half])?;
        if let Some(f) = forcing {
            let phys = Tensor::from_f32(gpu, &[1, n, n], DType::F32, f)?;
            let mut enc = gpu.encoder("forcing spectrum");
            Fft2d::new(gpu, 1, n, n)?.run(&mut enc, Transform::R2c, &phys, &forcing_hat)?;
            gpu.submit(enc);
        }
        let n1 = spec(&[b, n, half])?;
        let n2 = spec(&[b, n, half])?;
        let grads_hat = spec(&[b, 4, n, half])?;
        let grads = Tensor::zeros(gpu, &[b, 4, n, n], DType::F32)?;
        let adv_phys = Tensor::zeros(gpu, &[b, n, n], DType::F32)?;
        let params = |c1: f32, c2: f32| Params {
            c1,
            c2,
            noise_alpha: cfg.stochastic.map_or(0.0, |s| s.alpha as f32),
            noise_scale: cfg.stochastic.map_or(0.0, |s| {
                (s.sigma * f64::from(s.kappa).sqrt() * (n * n) as f64
                    / (cfg.length * cfg.dt.sqrt())) as f32
            }),
            ..Params::grid(cfg)
        };
        // Without advection both weights are 0 (and it is never computed).
        let adv = if cfg.advection { 1.0 } else { 0.0 };
        let euler = gpu.uniform("ns euler", &params(adv, 0.0));
        let heun = gpu.uniform("ns heun", &params(0.5 * adv, 0.5 * adv));
        let grads_k = gpu.kernel(&GRADS, &[])?;
        let adv_k = gpu.kernel(&ADVECTION, &[])?;
        let update_k = gpu.kernel(&UPDATE, &[])?;
        let grads_bg = [0, 1].map(|c| gpu.bind_params(&grads_k, &euler, &[&w[c], &grads_hat]));
        let adv_bg = gpu.bind_params(&adv_k, &euler, &[&grads, &adv_phys]);
        let noise = match cfg.stochastic {
            Some(_) => Some(spec(&[b, n, half])?),
            None => None,
        };
        // Without stochastic forcing the noise slot is bound to a tensor the
        // kernel never reads (noise_scale = 0).
        let noise_binding = noise.as_ref().unwrap_or(&n1);
        let closure = spec(&[b, n, half])?;
        let closure_out = spec(&[b, 2, n, half])?;
        let closures_k = gpu.kernel(&CLOSURES, &[])?;
        let closures_bg = [0, 1].map(|c| {
            let tensors = [&w[c], &n1, noise_binding, &closure_out];
            gpu.bind_params(&closures_k, &euler, &tensors)
        });
        let update_bg = |c: usize, u: &wgpu::Buffer, second: &Tensor| {
            let tensors = [
                &w[c],
                &n1,
                second,
                &forcing_hat,
                &w[1 - c],
                noise_binding,
                &closure,
            ];
            gpu.bind_params(&update_k, u, &tensors)
        };
        let predict_bg = [0, 1].map(|c| update_bg(c, &euler, &n1));
        let correct_bg = [0, 1].map(|c| update_bg(c, &heun, &n2));
        Ok(Self {
            gpu: gpu.clone(),
            cfg: cfg.clone(),
            spec_groups: (b * n * half).div_ceil(64) as u32,
            phys_groups: (b * n * n).div_ceil(64) as u32,
            w,
            cur: 0,
            n1,
            n2,
            grads_hat,
            grads,
            adv: adv_phys,
            forcing: forcing_hat,
            noise,
            closure,
            closures_k,
            closures_bg,
            closure_out,
            params: euler,
            rng: Rng::new(cfg.seed),
            fft,
            fft4,
            grads_k,
            adv_k,
            update_k,
            grads_bg,
            adv_bg,
            predict_bg,
            correct_bg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &NsConfig {
        &self.cfg
    }

    /// Position of the stochastic forcing's random stream (save it with the
    /// state to resume bit-exactly).
    pub fn rng_counter(&self) -> u64 {
        self.rng.counter()
    }

    /// Restores the random stream position saved by [`NsSolver::rng_counter`].
    pub fn set_rng_counter(&mut self, counter: u64) {
        self.rng = Rng::with_counter(self.cfg.seed, counter);
    }

    /// The forcing half spectrum `[1, n, n/2+1]`.
    pub fn forcing_hat(&self) -> &Tensor {
        &self.forcing
    }

    /// The current vorticity half spectrum `[B, n, n/2+1]`.
    pub fn vorticity_hat(&self) -> &Tensor {
        &self.w[self.cur]
    }

    /// Reads the current vorticity half spectra back, `[B, n, n/2+1]`
    /// interleaved complex (exact state, for checkpoints).
    ///
    /// # Errors
    /// As [`Gpu::read`].
    pub fn read_vorticity_hat(&self) -> Result<Vec<f32>> {
        self.gpu.read_one(&self.w[self.cur])
    }

    /// Sets the vorticity of every trajectory from physical values
    /// `[B, n, n]`.
    ///
    /// # Errors
    /// [`Error::Shape`] for a wrong length or NaN/Inf values (nothing is
    /// changed then).
    pub fn set_vorticity(&mut self, w: &[f32]) -> Result<()> {
        let (n, b) = (self.cfg.n, self.cfg.batch);
        if w.len() != b * n * n || w.iter().any(|v| !v.is_finite()) {
            return Err(Error::Shape(format!(
                "vorticity must be {b}x{n}x{n} finite values, got {} values",
                w.len()
            )));
        }
        let phys = Tensor::from_f32(&self.gpu, &[b, n, n], DType::F32, w)?;
        let mut enc = self.gpu.encoder("set vorticity");
        self.fft
            .run(&mut enc, Transform::R2c, &phys, &self.w[self.cur])?;
        self.gpu.submit(enc);
        Ok(())
    }

    /// Sets the vorticity half spectra `[B, n, n/2+1]` (interleaved complex).
    ///
    /// # Errors
    /// [`Error::Shape`] for a wrong length or NaN/Inf values.
    pub fn set_vorticity_hat(&mut self, w_hat: &[f32]) -> Result<()> {
        let t = &self.w[self.cur];
        if w_hat.len() != t.floats() || w_hat.iter().any(|v| !v.is_finite()) {
            return Err(Error::Shape(format!(
                "vorticity spectrum must be {:?} finite complex values, got {} floats",
                t.shape,
                w_hat.len()
            )));
        }
        t.write(&self.gpu, w_hat)
    }

    /// Reads the physical vorticity `[B, n, n]` back.
    ///
    /// # Errors
    /// As [`Gpu::read`].
    pub fn vorticity(&self) -> Result<Vec<f32>> {
        let mut enc = self.gpu.encoder("vorticity");
        self.fft
            .run(&mut enc, Transform::C2r, &self.w[self.cur], &self.adv)?;
        self.gpu.submit(enc);
        self.gpu.read_one(&self.adv)
    }

    /// Reads `(u, v, ∂ω/∂x, ∂ω/∂y)` of the current state back, `[B, 4, n, n]`.
    ///
    /// # Errors
    /// As [`Gpu::read`].
    pub fn velocity_and_gradients(&self) -> Result<Vec<f32>> {
        let mut enc = self.gpu.encoder("velocity");
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            self.record_gradients(&mut pass, self.cur)?;
        }
        self.gpu.submit(enc);
        self.gpu.read_one(&self.grads)
    }

    /// CFL number `max|u| dt / dx` of the current state (reads the
    /// velocity back; call it at output intervals, not every step); NaN
    /// when any velocity is not finite (a blown-up state).
    ///
    /// # Errors
    /// As [`Gpu::read`].
    pub fn cfl(&self) -> Result<f64> {
        let f = self.velocity_and_gradients()?;
        let per = self.cfg.n * self.cfg.n;
        let umax = f
            .chunks_exact(4 * per)
            .flat_map(|s| s[..per].iter().zip(&s[per..2 * per]))
            .map(|(u, v)| f64::from(u * u + v * v).sqrt())
            // Not f64::max, which drops NaN: a blow-up must show.
            .fold(0.0, |a: f64, b| {
                if a.is_nan() || b.is_nan() {
                    f64::NAN
                } else {
                    a.max(b)
                }
            });
        Ok(umax * self.cfg.dt / self.cfg.dx())
    }

    /// Records `(u, v, ∂ω/∂x, ∂ω/∂y)` of `w[c]` into `grads` (physical).
    fn record_gradients(&self, pass: &mut wgpu::ComputePass<'_>, c: usize) -> Result<()> {
        self.gpu
            .dispatch(pass, &self.grads_k, &self.grads_bg[c], self.spec_groups);
        self.fft4
            .record(pass, Transform::C2r, &self.grads_hat, &self.grads)
    }

    /// Records one right-hand-side evaluation: the dealiasing is applied by
    /// the update, so `out` holds the raw spectrum of `u·∇ω` of `w[c]`.
    fn record_advection(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        c: usize,
        out: &Tensor,
    ) -> Result<()> {
        self.record_gradients(pass, c)?;
        self.gpu
            .dispatch(pass, &self.adv_k, &self.adv_bg, self.phys_groups);
        self.fft.record(pass, Transform::R2c, &self.adv, out)
    }

    /// Records `steps` time steps into `encoder` (one compute pass).
    ///
    /// # Errors
    /// [`Error::Shader`] if a pipeline fails to build.
    pub fn record_steps(&mut self, encoder: &mut wgpu::CommandEncoder, steps: usize) -> Result<()> {
        self.record(encoder, steps, false)
    }

    /// One time step that also writes the closure terms of the state it
    /// starts from into [`NsSolver::closure_terms`]: `G = νΔω + σξ` (ξ: this
    /// step's stochastic forcing) and `H = −u·∇ω` (dealiased; needs
    /// `advection`).
    ///
    /// # Errors
    /// As [`NsSolver::record_steps`].
    pub fn step_recording_closures(&mut self) -> Result<()> {
        let mut enc = self.gpu.encoder("ns closures");
        self.record(&mut enc, 1, true)?;
        self.gpu.submit(enc);
        Ok(())
    }

    fn record(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        steps: usize,
        closures: bool,
    ) -> Result<()> {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("ns steps"),
            timestamp_writes: None,
        });
        for i in 0..steps {
            let c = self.cur;
            if let Some(noise) = &self.noise {
                self.rng
                    .record(&self.gpu, &mut pass, Distribution::Normal, noise)?;
            }
            if self.cfg.advection {
                self.record_advection(&mut pass, c, &self.n1)?;
            }
            if closures && i == 0 {
                self.gpu.dispatch(
                    &mut pass,
                    &self.closures_k,
                    &self.closures_bg[c],
                    self.spec_groups,
                );
            }
            self.gpu.dispatch(
                &mut pass,
                &self.update_k,
                &self.predict_bg[c],
                self.spec_groups,
            );
            if self.cfg.scheme == TimeScheme::Heun {
                if self.cfg.advection {
                    self.record_advection(&mut pass, 1 - c, &self.n2)?;
                }
                self.gpu.dispatch(
                    &mut pass,
                    &self.update_k,
                    &self.correct_bg[c],
                    self.spec_groups,
                );
            }
            self.cur = 1 - c;
        }
        Ok(())
    }

    /// The external closure term `[B, n, n/2+1]` (spectral, zeros at
    /// creation), added to the right-hand side of every step: write it (or
    /// restrict a fine model's closure into it) between steps.
    pub fn closure_hat(&self) -> &Tensor {
        &self.closure
    }

    /// The closure terms `[B, 2, n, n/2+1]` = (Ĝ, Ĥ) written by
    /// [`NsSolver::step_recording_closures`].
    pub fn closure_terms(&self) -> &Tensor {
        &self.closure_out
    }

    /// Records the LES sub-grid closure `−τ = ‾u·∇‾ω − ‾(u·∇ω)`
    /// (docs/specification.md §3, scenario sgs) of the current state, which must be the restricted
    /// fine vorticity `‾ω`: `restricted_terms` `[B, 2, n, n/2+1]` holds the
    /// restricted fine closure terms (Ĝ, Ĥ) of [`NsSolver::closure_terms`],
    /// and `out` `[B, n, n/2+1]` receives `‾H − H(‾ω)`, what this solver,
    /// with its own dealiased convection, misses. Uses the advection
    /// scratch, so record it between steps.
    ///
    /// # Errors
    /// [`Error::Shape`] for tensors of other shapes; [`Error::InvalidArgument`]
    /// for a solver without advection.
    pub fn record_subgrid_term(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        restricted_terms: &Tensor,
        out: &Tensor,
    ) -> Result<()> {
        let (b, n) = (self.cfg.batch, self.cfg.n);
        let h = n / 2 + 1;
        if restricted_terms.shape != [b, 2, n, h] || out.shape != [b, n, h] {
            return Err(Error::Shape(format!(
                "sub-grid term: terms {:?}, out {:?}; expected [{b}, 2, {n}, {h}] and [{b}, {n}, {h}]",
                restricted_terms.shape, out.shape
            )));
        }
        if !self.cfg.advection {
            return Err(Error::InvalidArgument(
                "the sub-grid term needs a solver with advection".into(),
            ));
        }
        self.record_advection(pass, self.cur, &self.n1)?;
        let kernel = self.gpu.kernel(&SUBGRID, &[])?;
        let tensors = [&self.n1, restricted_terms, out];
        let bg = self.gpu.bind_params(&kernel, &self.params, &tensors);
        self.gpu.dispatch(pass, &kernel, &bg, self.spec_groups);
        Ok(())
    }

    /// Advances `steps` time steps, submitting every 64 steps.
    ///
    /// # Errors
    /// As [`NsSolver::record_steps`].
    pub fn step(&mut self, steps: usize) -> Result<()> {
        let mut left = steps;
        while left > 0 {
            let k = left.min(64);
            let mut enc = self.gpu.encoder("ns");
            self.record_steps(&mut enc, k)?;
            self.gpu.submit(enc);
            left -= k;
        }
        Ok(())
    }
}
