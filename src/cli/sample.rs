//! `diffclosure sample`: closure samples from a trained score network for
//! the conditions of a dataset (batch generation: headless, resumable,
//! shardable over a cluster), and `diffclosure merge` of the shards.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::cli::{GpuArgs, SamplerArgs};
use crate::gpu::Gpu;
use crate::score::spectral_conv::Method;
use crate::sde::{samples, SampleJob, Shard};

/// Options of `diffclosure sample`.
#[derive(Args, Debug)]
pub struct SampleArgs {
    /// Trained score network (`diffclosure train` checkpoint).
    #[arg(long)]
    model: PathBuf,
    /// Dataset split whose vorticity and sensor values condition the
    /// samples (normally the test split; `dataset --grid 128/256
    /// --sensor-grid 64` builds the finer ones of the resolution study).
    #[arg(long)]
    data: PathBuf,
    /// Grid to sample on: must be the dataset's (the check guards the
    /// resolution study against a mixed-up file) [default: the dataset's].
    #[arg(long)]
    grid: Option<usize>,
    /// Samples per condition K (an ensemble: spread, CRPS).
    #[arg(long, default_value_t = 1)]
    samples_per_condition: usize,
    /// Use this many conditions, evenly spaced through the dataset
    /// [default: all].
    #[arg(long)]
    conditions: Option<usize>,
    #[command(flatten)]
    sampler: SamplerArgs,
    /// Seed of the noise (a sample's noise depends only on the seed and
    /// its place in the job, not on batches or shards).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Samples per GPU batch.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Spectral convolutions by truncated DFTs or FFTs (the results agree
    /// to f32 rounding; fft was the faster on every shape measured).
    #[arg(long, default_value = "fft")]
    spectral: String,
    /// This run's part of the job, `i/n` (0 <= i < n): the conditions are
    /// cut into n contiguous pieces; or `slurm`: the piece of this task of
    /// a Slurm array job ((SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN) /
    /// SLURM_ARRAY_TASK_STEP of SLURM_ARRAY_TASK_COUNT). `%i` and `%n` in
    /// --out are replaced; for a shard of several without them,
    /// `.shard-I-of-N` goes before the extension. `diffclosure merge` joins
    /// the shards. Default: the whole job.
    #[arg(long)]
    shard: Option<String>,
    /// Output samples file (safetensors: `samples` [C, K, n, n],
    /// `condition` [C] (dataset indices), `target` [C, n, n]).
    #[arg(long)]
    out: PathBuf,
    /// Continue an interrupted run from `OUT.partial`.
    #[arg(long)]
    resume: bool,
    /// Batches between progress saves to `OUT.partial`.
    #[arg(long, default_value_t = 20)]
    checkpoint_every: usize,
    /// Write the denoising trajectory of the job's first sample to this
    /// directory (by shard 0): `trajectory.png` (a strip from the noise at
    /// t_max to the sample, at most 24 frames, then the truth) and
    /// `trajectory.gif` (at most 60 frames).
    #[arg(long)]
    trajectory: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// The job these arguments describe.
///
/// # Errors
/// An unknown `--spectral`, a malformed `--shard` (or Slurm variables).
pub(super) fn job(a: &SampleArgs) -> Result<SampleJob> {
    Ok(SampleJob {
        model: a.model.clone(),
        data: a.data.clone(),
        grid: a.grid,
        samples_per_condition: a.samples_per_condition,
        conditions: a.conditions,
        sampler: a.sampler.settings(),
        allow_untrained_noise: a.sampler.allow_untrained_noise(),
        seed: a.seed,
        batch: a.batch,
        spectral: a.spectral.parse::<Method>()?,
        shard: Shard::parse(a.shard.as_deref())?,
        out: a.out.clone(),
        resume: a.resume,
        checkpoint_every: a.checkpoint_every,
        trajectory: a.trajectory.clone(),
        quiet: a.quiet,
    })
}

/// Runs `diffclosure sample`.
///
/// # Errors
/// Bad arguments, a model and dataset that do not fit each other (all
/// before any GPU work), an existing output, I/O errors.
pub fn run(gpu_args: &GpuArgs, a: &SampleArgs) -> Result<()> {
    super::require_inputs([("--model", a.model.as_path()), ("--data", a.data.as_path())])?;
    let plan = job(a)?.plan()?;
    let gpu = Gpu::new(&gpu_args.options()?)?;
    println!("{}", plan.run(&gpu)?);
    Ok(())
}

/// Options of `diffclosure merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Shard files written by `sample --shard i/n` (any order).
    #[arg(required = true, num_args = 1..)]
    inputs: Vec<PathBuf>,
    /// The merged samples file.
    #[arg(long)]
    out: PathBuf,
}

/// Runs `diffclosure merge`: checks that the shards are of one job and
/// tile its conditions, and writes them as one file.
///
/// # Errors
/// Shards of different jobs, missing or repeated shards, an existing
/// output.
pub fn merge(a: &MergeArgs) -> Result<()> {
    super::require_inputs(a.inputs.iter().map(|p| ("merge", p.as_path())))?;
    let r = samples::merge(&a.inputs, &a.out)?;
    println!(
        "merged {} shards into {} ({} conditions x {} samples)",
        r.shards,
        a.out.display(),
        r.conditions,
        r.samples_per_condition
    );
    Ok(())
}
