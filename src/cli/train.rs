//! `diffclosure train`: fit the conditional score network to a closure
//! dataset by denoising score matching, on the GPU, with resumable
//! checkpoints.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::GpuArgs;
use crate::data::dataset::Samples;
use crate::data::io;
use crate::gpu::Gpu;
use crate::score::checkpoint::{self, Checkpoint};
use crate::score::init::init_params;
use crate::score::model::ScoreFno;
use crate::score::spectral_conv::Method;
use crate::score::train::{TrainConfig, TrainState, Trainer};
use crate::score::ScoreConfig;

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

/// The network configuration from --config and the flags over `base`
/// (the defaults, or a resumed checkpoint's).
fn score_config(a: &TrainArgs, base: &ScoreConfig) -> Result<ScoreConfig> {
    let mut c = base.clone();
    if let Some(p) = &a.config {
        let text = std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{}: not JSON", p.display()))?;
        let obj = v
            .as_object()
            .with_context(|| format!("{}: expected a JSON object", p.display()))?;
        for (k, val) in obj {
            let num = || {
                val.as_u64().map(|x| x as usize).with_context(|| {
                    format!("{}: '{k}' must be a non-negative integer", p.display())
                })
            };
            let flag = || {
                val.as_bool()
                    .with_context(|| format!("{}: '{k}' must be true or false", p.display()))
            };
            match k.as_str() {
                "width" => c.width = num()?,
                "modes" => c.modes = num()?,
                "layers" => c.layers = num()?,
                "embed_dim" => c.embed_dim = num()?,
                "fc_hidden" => c.fc_hidden = num()?,
                "vorticity" => c.vorticity = flag()?,
                "sparse" => c.sparse = flag()?,
                other => bail!("{}: unknown key '{other}'", p.display()),
            }
        }
    }
    c.width = a.width.unwrap_or(c.width);
    c.modes = a.modes.unwrap_or(c.modes);
    c.layers = a.layers.unwrap_or(c.layers);
    c.embed_dim = a.embed_dim.unwrap_or(c.embed_dim);
    c.fc_hidden = a.fc_hidden.unwrap_or(c.fc_hidden);
    c.vorticity &= !a.no_vorticity;
    c.sparse &= !a.no_sparse;
    c.validate()?;
    Ok(c)
}

/// The training hyper-parameters: the flags over `base` (the defaults, or
/// a resumed checkpoint's values, which flags may not contradict).
fn train_config(a: &TrainArgs, base: &TrainConfig, resuming: bool) -> Result<TrainConfig> {
    let spectral = match a.spectral.as_deref().map(str::trim) {
        None if resuming => base.spectral,
        None => Some(Method::Dft),
        Some("auto") if resuming => base.spectral,
        Some("auto") => None,
        Some(m) => {
            let m: Method = m.parse()?;
            if resuming && base.spectral.is_some_and(|b| b != m) {
                bail!(
                    "--spectral {m} differs from the checkpoint's {}: a resumed run keeps its method",
                    base.spectral.map_or("?".to_string(), |b| b.to_string())
                );
            }
            Some(m)
        }
    };
    fn pick<T: PartialEq + std::fmt::Display + Copy>(
        flag: Option<T>,
        base: T,
        name: &str,
        resuming: bool,
    ) -> Result<T> {
        match flag {
            Some(v) if resuming && v != base => {
                bail!("--{name} {v} differs from the checkpoint's {base}: a resumed run keeps its hyper-parameters")
            }
            Some(v) => Ok(v),
            None => Ok(base),
        }
    }
    Ok(TrainConfig {
        batch: pick(a.batch, base.batch, "batch", resuming)?,
        micro_batch: match (a.micro_batch, base.micro_batch) {
            (Some(v), Some(b)) if resuming && v != b => {
                bail!("--micro-batch {v} differs from the checkpoint's {b}: a resumed run keeps it (the sums would change)")
            }
            (Some(v), _) => Some(v),
            (None, b) => b,
        },
        lr: pick(a.lr, base.lr, "lr", resuming)?,
        lr_step: pick(a.lr_step, base.lr_step, "lr-step", resuming)?,
        lr_gamma: pick(a.lr_gamma, base.lr_gamma, "lr-gamma", resuming)?,
        t_min: pick(a.t_min, base.t_min, "t-min", resuming)?,
        t_max: pick(a.t_max, base.t_max, "t-max", resuming)?,
        seed: pick(a.seed, base.seed, "seed", resuming)?,
        spectral,
    })
}

/// The checkpoint metadata of a run.
#[allow(clippy::too_many_arguments)]
fn metadata(
    t: &TrainConfig,
    (method, micro_batch, epochs): (Method, usize, u64),
    state: TrainState,
    adam_step: u64,
    data: &Samples,
    data_path: &Path,
    (loss, wall_s, adapter): (f64, f64, &str),
) -> HashMap<String, String> {
    let mut m = HashMap::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.to_string(), v);
    };
    put("train.batch", t.batch.to_string());
    put("train.micro_batch", micro_batch.to_string());
    put("train.epochs", epochs.to_string());
    put("train.samples", data.len.to_string());
    put("train.lr", t.lr.to_string());
    put("train.lr_step", t.lr_step.to_string());
    put("train.lr_gamma", t.lr_gamma.to_string());
    put("train.t_min", t.t_min.to_string());
    put("train.t_max", t.t_max.to_string());
    put("train.seed", t.seed.to_string());
    put("train.spectral", method.to_string());
    put("train.step", state.step.to_string());
    put("train.epoch", state.epoch.to_string());
    put("train.batch_in_epoch", state.batch_in_epoch.to_string());
    put("train.rng_counter", state.rng_counter.to_string());
    put("train.adam_step", adam_step.to_string());
    put("train.loss", loss.to_string());
    put("train.wall_s", format!("{wall_s:.1}"));
    put("train.adapter", adapter.to_string());
    put("train.command", super::command_line());
    put("data.source", data_path.display().to_string());
    put("data.grid", data.grid.to_string());
    put("data.sensors", data.sensors.to_string());
    for key in ["scenario", "preset", "restriction"] {
        if let Some(v) = data.meta.get(key) {
            put(&format!("data.{key}"), v.clone());
        }
    }
    m
}

/// Opens the loss log for appending: a new file with its header, or on
/// resume the old one without the lines after step `resumed_at` (logged by
/// the interrupted run after its last checkpoint; they are logged again).
fn open_loss_log(path: &Path, resumed_at: u64) -> Result<std::fs::File> {
    use std::io::Write;
    let mut kept = String::from("step,epoch,loss\n");
    if let Ok(old) = std::fs::read_to_string(path) {
        for line in old.lines().skip(1) {
            match line.split(',').next().and_then(|s| s.parse::<u64>().ok()) {
                Some(step) if step <= resumed_at => {
                    kept.push_str(line);
                    kept.push('\n');
                }
                _ => {}
            }
        }
    }
    let mut f = std::fs::File::create(path).with_context(|| format!("{}", path.display()))?;
    f.write_all(kept.as_bytes())
        .with_context(|| format!("{}", path.display()))?;
    Ok(f)
}

/// The training state of a checkpoint.
fn resumed(path: &Path, ck: &Checkpoint) -> Result<(TrainConfig, TrainState, u64)> {
    let base = TrainConfig {
        batch: ck.get(path, "train.batch")?,
        micro_batch: Some(ck.get(path, "train.micro_batch")?),
        lr: ck.get(path, "train.lr")?,
        lr_step: ck.get(path, "train.lr_step")?,
        lr_gamma: ck.get(path, "train.lr_gamma")?,
        t_min: ck.get(path, "train.t_min")?,
        t_max: ck.get(path, "train.t_max")?,
        seed: ck.get(path, "train.seed")?,
        spectral: Some(ck.get(path, "train.spectral")?),
    };
    let state = TrainState {
        step: ck.get(path, "train.step")?,
        epoch: ck.get(path, "train.epoch")?,
        batch_in_epoch: ck.get(path, "train.batch_in_epoch")?,
        rng_counter: ck.get(path, "train.rng_counter")?,
    };
    Ok((base, state, ck.get(path, "train.adam_step")?))
}

/// Runs `diffclosure train`.
///
/// # Errors
/// Bad arguments, a dataset or checkpoint that does not fit (all before
/// any GPU work), a loss that becomes NaN/Inf (the last good checkpoint is
/// kept), I/O errors.
pub fn run(gpu_args: &GpuArgs, a: &TrainArgs) -> Result<()> {
    if a.checkpoint_every == 0 || a.log_every == 0 {
        bail!("--checkpoint-every and --log-every must be >= 1");
    }
    if let Some(m) = a.max_minutes {
        if !(m.is_finite() && m > 0.0) {
            bail!("--max-minutes {m}: must be a positive number of minutes");
        }
    }
    if io::same_file(&a.data, &a.out) {
        bail!("--data and --out are the same file");
    }
    if let Some(log) = &a.loss_log {
        if io::same_file(log, &a.data) || io::same_file(log, &a.out) {
            bail!("--loss-log must be another file than --data and --out");
        }
        if !a.resume {
            io::refuse_existing(log)?;
        }
    }
    let data = Samples::read(&a.data)?;
    if data.meta.get("split").map(String::as_str) == Some("test") {
        eprintln!(
            "warning: {} is a test split (metadata split = test); train on the train split",
            a.data.display()
        );
    }
    if let Some(e) = &a.export {
        if io::same_file(e, &a.data) || io::same_file(e, &a.out) {
            bail!("--export must be another file than --data and --out");
        }
        io::refuse_existing(e)?;
        io::check_writable(e)?;
    }
    let mut epochs = a.epochs.unwrap_or(10);
    let mut wall_before = 0.0;
    let (cfg, tcfg, resume, params) = if a.resume {
        if !a.out.exists() {
            bail!(
                "--resume: {} does not exist (nothing to resume)",
                a.out.display()
            );
        }
        let ck = checkpoint::load(&a.out)?;
        let requested = score_config(a, &ck.config)?;
        if requested != ck.config {
            let (h, r) = (ck.config.to_metadata(), requested.to_metadata());
            let mut diff: Vec<String> = h
                .iter()
                .filter(|(k, v)| r.get(*k) != Some(v))
                .map(|(k, v)| format!("{} = {v}, not {}", &k[6..], r[k]))
                .collect();
            diff.sort();
            bail!(
                "{} holds a network with {}: a resumed run keeps its network",
                a.out.display(),
                diff.join(", ")
            );
        }
        epochs = a.epochs.unwrap_or(ck.get(&a.out, "train.epochs")?);
        for (key, have) in [
            ("data.grid", data.grid.to_string()),
            ("data.sensors", data.sensors.to_string()),
            (
                "data.scenario",
                data.meta.get("scenario").cloned().unwrap_or_default(),
            ),
            ("train.samples", data.len.to_string()),
        ] {
            let want: String = ck.get(&a.out, key)?;
            if want != have {
                bail!(
                    "{} was trained with {key} = {want}, {} has {have}",
                    a.out.display(),
                    a.data.display()
                );
            }
        }
        let (base, state, adam_step) = resumed(&a.out, &ck)?;
        // Checkpoints from before the wall time was recorded count from 0.
        wall_before = ck
            .meta
            .get("train.wall_s")
            .and_then(|w| w.parse().ok())
            .unwrap_or(0.0);
        let tcfg = train_config(a, &base, true)?;
        let (m, v) = ck
            .optimizer
            .clone()
            .with_context(|| format!("{}: no optimizer state to resume", a.out.display()))?;
        (
            ck.config.clone(),
            tcfg,
            Some((state, adam_step, m, v)),
            ck.params,
        )
    } else {
        io::refuse_existing(&a.out)?;
        let requested = score_config(a, &ScoreConfig::default())?;
        let tcfg = train_config(a, &TrainConfig::default(), false)?;
        let params = init_params(&requested, tcfg.seed);
        (requested, tcfg, None, params)
    };
    if epochs == 0 || epochs > 1_000_000 {
        bail!("--epochs {epochs}: must be in 1..=1000000");
    }
    io::check_writable(&a.out)?;
    cfg.check_grid(data.grid)?;
    if tcfg.batch > data.len {
        bail!(
            "--batch {} is larger than the dataset ({} samples)",
            tcfg.batch,
            data.len
        );
    }
    let model = ScoreFno::new(&cfg)?;
    let gpu = Gpu::new(&gpu_args.options()?)?;
    let resume_ref = resume
        .as_ref()
        .map(|(s, k, m, v)| (*s, *k, m.as_slice(), v.as_slice()));
    let mut trainer = Trainer::new(&gpu, model, &params, &data, tcfg.clone(), resume_ref)?;
    let per_epoch = trainer.steps_per_epoch();
    let start = trainer.state();
    let total = epochs * per_epoch;
    if start.step >= total {
        println!(
            "{} is already at epoch {} (step {}); nothing to do for --epochs {epochs}",
            a.out.display(),
            start.epoch,
            start.step,
        );
        if let Some(e) = &a.export {
            let ck = checkpoint::load(&a.out)?;
            checkpoint::save(e, &ck.config, &ck.params, None, &ck.meta)?;
            println!("wrote the weights alone to {}", e.display());
        }
        return Ok(());
    }
    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    let on_terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps, epoch {msg} [{elapsed} < {eta}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(start.step);
    let t0 = Instant::now();
    let adapter = gpu.describe();
    let mut loss = f64::NAN;
    let mut first_loss = None;
    let mut loss_log = match &a.loss_log {
        Some(p) => Some(open_loss_log(p, start.step)?),
        None => None,
    };
    let save = |trainer: &Trainer, loss: f64, last: bool| -> Result<()> {
        let (p, m, v) = trainer.read_state()?;
        if let Some(i) = p.iter().position(|x| !x.is_finite()) {
            bail!(
                "a parameter became non-finite (index {i}) by step {}; {} keeps the last good checkpoint",
                trainer.state().step,
                a.out.display()
            );
        }
        let meta = metadata(
            &tcfg,
            (trainer.method(), trainer.micro_batch(), epochs),
            trainer.state(),
            trainer.adam_step(),
            &data,
            &a.data,
            (loss, wall_before + t0.elapsed().as_secs_f64(), &adapter),
        );
        checkpoint::save(&a.out, &cfg, &p, Some((&m, &v)), &meta)?;
        if last {
            if let Some(e) = &a.export {
                checkpoint::save(e, &cfg, &p, None, &meta)?;
            }
        }
        Ok(())
    };
    while trainer.state().step < total {
        trainer.step()?;
        let s = trainer.state();
        let epoch_done = s.batch_in_epoch == 0;
        if s.step % a.log_every == 0 || epoch_done || s.step == total {
            loss = trainer.loss()?;
            if !loss.is_finite() {
                let kept = if a.out.exists() {
                    format!("{} keeps the last good checkpoint", a.out.display())
                } else {
                    "no checkpoint was written".to_string()
                };
                bail!(
                    "the loss became {loss} by step {} (read every --log-every {} steps); {kept}",
                    s.step,
                    a.log_every
                );
            }
            first_loss.get_or_insert(loss);
            if let Some(f) = &mut loss_log {
                use std::io::Write;
                writeln!(f, "{},{},{loss:e}", s.step, s.epoch)?;
            }
            let done = (s.step - start.step) as f64 * tcfg.batch as f64;
            bar.set_message(format!(
                "{}, loss {loss:.4e}, {:.1} samples/s",
                s.epoch,
                done / t0.elapsed().as_secs_f64()
            ));
        }
        bar.set_position(s.step);
        let out_of_time = epoch_done
            && a.max_minutes
                .is_some_and(|m| t0.elapsed().as_secs_f64() >= 60.0 * m);
        let last = s.step == total || out_of_time;
        if (epoch_done && s.epoch % a.checkpoint_every == 0) || last {
            save(&trainer, loss, last)?;
        }
        // Without a terminal the bar is hidden: one line per epoch instead.
        if epoch_done && !a.quiet && !on_terminal {
            println!(
                "epoch {} done: step {}, loss {loss:.4e}, {:.1} samples/s",
                s.epoch,
                s.step,
                (s.step - start.step) as f64 * tcfg.batch as f64 / t0.elapsed().as_secs_f64()
            );
        }
        if out_of_time && s.step < total {
            bar.finish_and_clear();
            println!(
                "stopped at epoch {} of {epochs} after the --max-minutes budget ({:.1} min); `--resume` continues",
                s.epoch,
                t0.elapsed().as_secs_f64() / 60.0
            );
            break;
        }
    }
    bar.finish_and_clear();
    let s = trainer.state();
    println!(
        "trained to epoch {} (step {}, {} samples per step in micro-batches of {}, spectral convolutions by {}): loss {:.4e} (first read {:.4e}); wrote {} on {}",
        s.epoch,
        s.step,
        tcfg.batch,
        trainer.micro_batch(),
        trainer.method(),
        loss,
        first_loss.unwrap_or(f64::NAN),
        a.out.display(),
        gpu.describe()
    );
    if let Some(e) = &a.export {
        println!("wrote the weights alone to {}", e.display());
    }
    Ok(())
}
