//! `diffclosure train`: fit the conditional score network to a closure
//! dataset by denoising score matching, on the GPU, with resumable
//! checkpoints.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::cli::GpuArgs;
use crate::gpu::Gpu;
use crate::score::train_job::{ScoreOverrides, TrainJob, TrainOverrides};

/// Options of `diffclosure train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Training split written by `diffclosure dataset`.
    #[arg(long)]
    data: PathBuf,
    /// The checkpoint: written atomically every --checkpoint-every epochs
    /// and at the end (safetensors, PyTorch names).
    #[arg(long)]
    out: PathBuf,
    /// Continue the run saved in --out (weights, Adam, RNG, epoch).
    #[arg(long)]
    resume: bool,
    /// Train until this many epochs are done (in total, when resuming)
    /// [default: 10; on --resume, the interrupted run's].
    #[arg(long)]
    epochs: Option<u64>,
    /// Network configuration as JSON ({"width": 20, "modes": 8, "layers":
    /// 4, "embed_dim": 256, "fc_hidden": 128, "vorticity": true, "sparse":
    /// true}; missing keys keep these defaults); the flags below override.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Channels of the Fourier layers [default: 20].
    #[arg(long)]
    width: Option<usize>,
    /// Kept Fourier modes per axis [default: 8].
    #[arg(long)]
    modes: Option<usize>,
    /// Fourier layers per pipeline [default: 4].
    #[arg(long)]
    layers: Option<usize>,
    /// Gaussian Fourier time-feature dimension [default: 256].
    #[arg(long)]
    embed_dim: Option<usize>,
    /// Hidden size of the last pointwise MLP [default: 128].
    #[arg(long)]
    fc_hidden: Option<usize>,
    /// Ablation: no vorticity pipeline.
    #[arg(long)]
    no_vorticity: bool,
    /// Ablation: no sparse-observation pipeline.
    #[arg(long)]
    no_sparse: bool,
    /// Samples per optimizer step [default: 32].
    #[arg(long)]
    batch: Option<usize>,
    /// Samples per forward/backward (divides --batch) [default: the
    /// largest that fits the adapter's binding limit].
    #[arg(long)]
    micro_batch: Option<usize>,
    /// Adam learning rate [default: 1e-3].
    #[arg(long)]
    lr: Option<f64>,
    /// Multiply the learning rate by --lr-gamma every this many epochs
    /// [default: 200].
    #[arg(long)]
    lr_step: Option<u64>,
    /// Step decay factor [default: 0.5].
    #[arg(long)]
    lr_gamma: Option<f64>,
    /// Smallest diffusion time of the loss [default: 1e-5].
    #[arg(long)]
    t_min: Option<f64>,
    /// Largest diffusion time of the loss (T_train) [default: 1].
    #[arg(long)]
    t_max: Option<f64>,
    /// Seed of the initial weights, the batch order and the noise
    /// [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Spectral convolutions by truncated DFTs (dft), by FFTs (fft), or
    /// whichever is faster on this adapter for this shape (auto, timed at
    /// the start; two runs may then differ at f32 rounding, so the default
    /// is fixed) [default: dft]. A resumed run keeps the one it was
    /// started with.
    #[arg(long)]
    spectral: Option<String>,
    /// Epochs between checkpoints.
    #[arg(long, default_value_t = 1)]
    checkpoint_every: u64,
    /// Stop at the first epoch end after this many minutes of this
    /// process's training (a cap for a GPU lease): the checkpoint (and
    /// --export) are written there, and --resume continues to --epochs.
    #[arg(long)]
    max_minutes: Option<f64>,
    /// Steps between loss read-backs (progress and the NaN guard).
    #[arg(long, default_value_t = 10)]
    log_every: u64,
    /// Write `step,epoch,loss` lines to this new CSV file at every loss
    /// read-back; a resumed run continues it (dropping the lines logged
    /// after the checkpoint it resumes from).
    #[arg(long)]
    loss_log: Option<PathBuf>,
    /// At the end, also write the weights alone to this file (no Adam
    /// state: a third of the size; loads wherever a checkpoint does, but
    /// cannot be resumed), with the same metadata.
    #[arg(long)]
    export: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// The job these arguments describe, recording `command` (the command
/// line) in its checkpoint.
///
/// # Errors
/// An unknown `--spectral`.
pub(super) fn job(a: &TrainArgs, command: String) -> Result<TrainJob> {
    Ok(TrainJob {
        data: a.data.clone(),
        out: a.out.clone(),
        resume: a.resume,
        epochs: a.epochs,
        network: ScoreOverrides {
            config_file: a.config.clone(),
            width: a.width,
            modes: a.modes,
            layers: a.layers,
            embed_dim: a.embed_dim,
            fc_hidden: a.fc_hidden,
            no_vorticity: a.no_vorticity,
            no_sparse: a.no_sparse,
        },
        hyper: TrainOverrides {
            batch: a.batch,
            micro_batch: a.micro_batch,
            lr: a.lr,
            lr_step: a.lr_step,
            lr_gamma: a.lr_gamma,
            t_min: a.t_min,
            t_max: a.t_max,
            seed: a.seed,
            spectral: a.spectral.as_deref().map(str::parse).transpose()?,
        },
        checkpoint_every: a.checkpoint_every,
        max_minutes: a.max_minutes,
        log_every: a.log_every,
        loss_log: a.loss_log.clone(),
        export: a.export.clone(),
        command,
        quiet: a.quiet,
    })
}

/// Runs `diffclosure train`.
///
/// # Errors
/// Bad arguments, a dataset or checkpoint that does not fit (all before
/// any GPU work), a loss that becomes NaN/Inf (the last good checkpoint is
/// kept), I/O errors.
pub fn run(gpu_args: &GpuArgs, a: &TrainArgs) -> Result<()> {
    super::require_inputs([("--data", a.data.as_path())])?;
    let plan = job(a, super::command_line())?.plan()?;
    let gpu = Gpu::new(&gpu_args.options()?)?;
    println!("{}", plan.run(&gpu)?);
    Ok(())
}
