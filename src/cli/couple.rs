//! `diffclosure couple`: the arguments of the coupled-run job
//! ([`crate::couple::job`]) and its summary lines.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::cli::{GpuArgs, SamplerArgs};
use crate::couple::CoupledJob;
use crate::data::dataset::Scenario;
use crate::gpu::Gpu;

/// Options of `diffclosure couple`.
#[derive(Args, Debug)]
pub struct CoupleArgs {
    /// Truth trajectories written by `simulate` with the coarse grid
    /// recorded (`omega_m` and the closure terms).
    #[arg(long)]
    truth: PathBuf,
    /// Closure scenario: g, h or sgs (which term the coarse model omits
    /// and the closure supplies).
    #[arg(long, default_value = "g")]
    scenario: String,
    /// Closure: none (the coarse model alone); learned (the score network,
    /// --model); mean (the mean of --mean-samples draws of the network: the
    /// deterministic closure mean); oracle (the exact deterministic part of the term from the
    /// coarse state: ν∆ω for G, −u·∇ω for H; not for sgs); smagorinsky,
    /// leith, dynamic-smagorinsky, dynamic-leith (eddy viscosity, the
    /// classical LES baselines).
    #[arg(long, default_value = "learned")]
    closure: String,
    /// Between samples (--every > 1), perturb the held sample by fresh
    /// white noise of this standard deviation at every step (in the closure
    /// term's units; 0: hold) (--closure learned).
    #[arg(long, default_value_t = 0.0)]
    perturb: f64,
    /// Draws averaged per sample by --closure mean.
    #[arg(long, default_value_t = 8)]
    mean_samples: usize,
    /// The constant C_S / C_L of --closure smagorinsky / leith.
    #[arg(long)]
    coefficient: Option<f64>,
    /// Trained score network (for --closure learned).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Coarse grid.
    #[arg(long, default_value_t = 64)]
    grid: usize,
    /// Start time: the truth snapshot at or after it [default: the first].
    #[arg(long)]
    start: Option<f64>,
    /// Simulated time to run [default: to the truth's last snapshot].
    #[arg(long)]
    span: Option<f64>,
    /// Solver steps between closure samples (held in between).
    #[arg(long, default_value_t = 1)]
    every: usize,
    /// Ensemble members per truth trajectory (independent closure noise).
    #[arg(long, default_value_t = 1)]
    ensemble: usize,
    /// Condition on the truth's sensor values at the current snapshot
    /// (needs a model with the sparse pipeline; the sensors it was trained
    /// on) [default: when the model has the sparse pipeline].
    #[arg(long)]
    observations: Option<bool>,
    #[command(flatten)]
    sampler: SamplerArgs,
    /// Seed of the closure noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output file (safetensors: `vorticity` [F, B·M, m, m], `truth`
    /// [F, B, m, m] (restricted), `time` [F]; metadata: the settings, the
    /// wall time, and for eddy closures `eddy_c_mean`, the mean C = C_S² or
    /// C_L³ at the output times, and `eddy_constant`, the C_S / C_L given).
    #[arg(long)]
    out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Continue an interrupted run from `OUT.partial` (bit for bit: the
    /// state, the held closure term and the noise stream are saved).
    #[arg(long)]
    resume: bool,
    /// Output intervals between saves of `OUT.partial`.
    #[arg(long, default_value_t = 100)]
    checkpoint_every: usize,
}

/// The job these arguments describe.
///
/// # Errors
/// An unknown scenario or closure.
pub(super) fn job(a: &CoupleArgs) -> Result<CoupledJob> {
    let s = &a.sampler;
    Ok(CoupledJob {
        truth: a.truth.clone(),
        scenario: a.scenario.parse::<Scenario>()?,
        closure: a.closure.parse()?,
        coefficient: a.coefficient,
        perturb: a.perturb,
        mean_samples: a.mean_samples,
        model: a.model.clone(),
        grid: a.grid,
        start: a.start,
        span: a.span,
        every: a.every,
        ensemble: a.ensemble,
        observations: a.observations,
        sampler: s.settings(),
        allow_untrained_noise: s.allow_untrained_noise(),
        seed: a.seed,
        out: a.out.clone(),
        quiet: a.quiet,
        resume: a.resume,
        checkpoint_every: a.checkpoint_every,
    })
}

/// Runs `diffclosure couple`.
///
/// # Errors
/// Bad arguments, a model or truth that does not fit the run (a truth too
/// short for the span, a model of another scenario or grid), all before
/// any GPU work; a run that blows up; I/O errors.
pub fn run(gpu_args: &GpuArgs, a: &CoupleArgs) -> Result<()> {
    let model = a.model.iter().map(|m| ("--model", m.as_path()));
    super::require_inputs(std::iter::once(("--truth", a.truth.as_path())).chain(model))?;
    let plan = job(a)?.plan()?;
    let gpu = Gpu::new(&gpu_args.options()?)?;
    println!("{}", plan.run(&gpu)?);
    Ok(())
}
