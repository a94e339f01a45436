//! The training job: fit the score network to a closure dataset by
//! denoising score matching ([`Trainer`]), epoch by epoch, with the
//! checkpoint as its output (written atomically every `checkpoint_every`
//! epochs and at the end; `resume` continues it bit-exactly), a CSV loss
//! log, a time cap and an export of the weights alone.
//!
//! [`TrainJob`] is the configuration: the network and hyper-parameters
//! requested ([`ScoreOverrides`], [`TrainOverrides`]) over the defaults or,
//! when resuming, over the checkpoint's (which they may not contradict).
//! [`TrainJob::plan`] reads and checks everything before any GPU work;
//! [`TrainPlan::run`] trains.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use crate::data::dataset::Samples;
use crate::data::io;
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::job::{CommandLine, Progress};
use crate::job_bail;
use crate::score::checkpoint::{self, Checkpoint};
use crate::score::init::init_params;
use crate::score::model::ScoreFno;
use crate::score::spectral_conv::Method;
use crate::score::train::{TrainConfig, TrainState, Trainer};
use crate::score::ScoreConfig;

/// The network requested: a JSON file's values, then the fields', over a
/// base configuration (the defaults, or a resumed checkpoint's).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScoreOverrides {
    /// A JSON object with any of `width`, `modes`, `layers`, `embed_dim`,
    /// `fc_hidden` (non-negative integers), `vorticity`, `sparse`
    /// (booleans).
    pub config_file: Option<PathBuf>,
    /// Channels of the Fourier layers.
    pub width: Option<usize>,
    /// Kept Fourier modes per axis.
    pub modes: Option<usize>,
    /// Fourier layers per pipeline.
    pub layers: Option<usize>,
    /// Gaussian Fourier time-feature dimension.
    pub embed_dim: Option<usize>,
    /// Hidden size of the last pointwise MLP.
    pub fc_hidden: Option<usize>,
    /// Ablation: no vorticity pipeline.
    pub no_vorticity: bool,
    /// Ablation: no sparse-observation pipeline.
    pub no_sparse: bool,
}

impl ScoreOverrides {
    /// The configuration these values make of `base`.
    ///
    /// # Errors
    /// [`Error::Io`] for an unreadable file; [`Error::Job`] for a file that
    /// is not a JSON object of the known keys and types; a configuration
    /// [`ScoreConfig::validate`] refuses.
    pub fn apply(&self, base: &ScoreConfig) -> Result<ScoreConfig> {
        let mut c = base.clone();
        if let Some(p) = &self.config_file {
            apply_json(p, &mut c)?;
        }
        c.width = self.width.unwrap_or(c.width);
        c.modes = self.modes.unwrap_or(c.modes);
        c.layers = self.layers.unwrap_or(c.layers);
        c.embed_dim = self.embed_dim.unwrap_or(c.embed_dim);
        c.fc_hidden = self.fc_hidden.unwrap_or(c.fc_hidden);
        c.vorticity &= !self.no_vorticity;
        c.sparse &= !self.no_sparse;
        c.validate()?;
        Ok(c)
    }
}

/// Sets the values of the JSON object in file `p` in `c`.
fn apply_json(p: &Path, c: &mut ScoreConfig) -> Result<()> {
    let text = std::fs::read_to_string(p).map_err(|error| Error::Io {
        path: p.to_path_buf(),
        error,
    })?;
    let bad = |what: String| Error::Job(format!("{}: {what}", p.display()));
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad("expected a JSON object".into()))?;
    for (k, val) in obj {
        let num = || {
            val.as_u64()
                .map(|x| x as usize)
                .ok_or_else(|| bad(format!("'{k}' must be a non-negative integer")))
        };
        let flag = || {
            val.as_bool()
                .ok_or_else(|| bad(format!("'{k}' must be true or false")))
        };
        match k.as_str() {
            "width" => c.width = num()?,
            "modes" => c.modes = num()?,
            "layers" => c.layers = num()?,
            "embed_dim" => c.embed_dim = num()?,
            "fc_hidden" => c.fc_hidden = num()?,
            "vorticity" => c.vorticity = flag()?,
            "sparse" => c.sparse = flag()?,
            other => return Err(bad(format!("unknown key '{other}'"))),
        }
    }
    Ok(())
}

/// How the spectral convolutions of a training run are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spectral {
    /// Whichever is faster on this adapter for this shape (timed at the
    /// start; two runs may then differ at f32 rounding).
    Auto,
    /// This one.
    Fixed(Method),
}

impl std::fmt::Display for Spectral {
    /// `auto`, `dft` or `fft`, as `train --spectral` takes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Fixed(m) => write!(f, "{m}"),
        }
    }
}

impl FromStr for Spectral {
    type Err = Error;
    /// `auto`, or a [`Method`] (`dft`, `fft`).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "auto" => Ok(Self::Auto),
            m => m.parse().map(Self::Fixed),
        }
    }
}

/// The hyper-parameters requested (`None`: the default, or a resumed
/// checkpoint's value; a resumed run refuses values that differ from it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainOverrides {
    /// Samples per optimizer step [default: 32].
    pub batch: Option<usize>,
    /// Samples per forward/backward [default: the largest that fits].
    pub micro_batch: Option<usize>,
    /// Adam learning rate [default: 1e-3].
    pub lr: Option<f64>,
    /// Epochs between learning-rate decays [default: 200].
    pub lr_step: Option<u64>,
    /// Decay factor [default: 0.5].
    pub lr_gamma: Option<f64>,
    /// Smallest diffusion time of the loss [default: 1e-5].
    pub t_min: Option<f64>,
    /// Largest diffusion time of the loss [default: 1].
    pub t_max: Option<f64>,
    /// Seed of the initial weights, batch order and noise [default: 0].
    pub seed: Option<u64>,
    /// Spectral convolutions [default: DFTs; a resumed run's own].
    pub spectral: Option<Spectral>,
}

impl TrainOverrides {
    /// The hyper-parameters these values make of `base` (the defaults, or
    /// with `resuming` a checkpoint's, which they may not contradict).
    ///
    /// # Errors
    /// [`Error::Job`] naming a flag that differs from the checkpoint's.
    pub fn resolve(&self, base: &TrainConfig, resuming: bool) -> Result<TrainConfig> {
        let spectral = match self.spectral {
            None | Some(Spectral::Auto) if resuming => base.spectral,
            None => Some(Method::Dft),
            Some(Spectral::Auto) => None,
            Some(Spectral::Fixed(m)) => {
                if resuming && base.spectral.is_some_and(|b| b != m) {
                    job_bail!(
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
                    job_bail!("--{name} {v} differs from the checkpoint's {base}: a resumed run keeps its hyper-parameters")
                }
                Some(v) => Ok(v),
                None => Ok(base),
            }
        }
        Ok(TrainConfig {
            batch: pick(self.batch, base.batch, "batch", resuming)?,
            micro_batch: match (self.micro_batch, base.micro_batch) {
                (Some(v), Some(b)) if resuming && v != b => {
                    job_bail!("--micro-batch {v} differs from the checkpoint's {b}: a resumed run keeps it (the sums would change)")
                }
                (Some(v), _) => Some(v),
                (None, b) => b,
            },
            lr: pick(self.lr, base.lr, "lr", resuming)?,
            lr_step: pick(self.lr_step, base.lr_step, "lr-step", resuming)?,
            lr_gamma: pick(self.lr_gamma, base.lr_gamma, "lr-gamma", resuming)?,
            t_min: pick(self.t_min, base.t_min, "t-min", resuming)?,
            t_max: pick(self.t_max, base.t_max, "t-max", resuming)?,
            seed: pick(self.seed, base.seed, "seed", resuming)?,
            spectral,
        })
    }
}

/// A training job.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainJob {
    /// Training split written by the dataset stage.
    pub data: PathBuf,
    /// The checkpoint (the job's output, and its resume point).
    pub out: PathBuf,
    /// Continue the run saved in `out` (weights, Adam, RNG, epoch).
    pub resume: bool,
    /// Train until this many epochs are done in total [default: 10; on
    /// resume, the interrupted run's].
    pub epochs: Option<u64>,
    /// The network requested.
    pub network: ScoreOverrides,
    /// The hyper-parameters requested.
    pub hyper: TrainOverrides,
    /// Epochs between checkpoints.
    pub checkpoint_every: u64,
    /// Stop at the first epoch end after this many minutes of this
    /// process's training (the checkpoint and export are written there).
    pub max_minutes: Option<f64>,
    /// Steps between loss read-backs (progress, the log and the NaN guard).
    pub log_every: u64,
    /// A new CSV file of `step,epoch,loss` lines at every read-back; a
    /// resumed run continues it (dropping the lines logged after the
    /// checkpoint it resumes from).
    pub loss_log: Option<PathBuf>,
    /// At the end, also write the weights alone here (no Adam state).
    pub export: Option<PathBuf>,
    /// The command line recorded in the checkpoint (`train.command`).
    pub command: String,
    /// No progress display (and no line per epoch).
    pub quiet: bool,
}

impl TrainJob {
    /// A fresh job on `data` writing `out`, with the command line's
    /// defaults: 10 epochs, the default network and hyper-parameters, a
    /// checkpoint every epoch, the loss read every 10 steps.
    pub fn new(data: &Path, out: &Path) -> Self {
        Self {
            data: data.to_path_buf(),
            out: out.to_path_buf(),
            resume: false,
            epochs: None,
            network: ScoreOverrides::default(),
            hyper: TrainOverrides::default(),
            checkpoint_every: 1,
            max_minutes: None,
            log_every: 10,
            loss_log: None,
            export: None,
            command: String::new(),
            quiet: false,
        }
    }

    /// Reads and checks everything before any GPU work: the arguments, the
    /// dataset, the outputs, and with `resume` the checkpoint and whether
    /// the request and the dataset fit it.
    ///
    /// # Errors
    /// [`Error::Job`] or [`Error::InvalidArgument`] naming what does not
    /// fit (sizes of 0, files that are the same, an existing output, a
    /// missing or different checkpoint to resume, a batch larger than the
    /// dataset, a network that cannot run on its grid); read errors.
    pub fn plan(&self) -> Result<TrainPlan> {
        if self.checkpoint_every == 0 || self.log_every == 0 {
            job_bail!("--checkpoint-every and --log-every must be >= 1");
        }
        if let Some(m) = self.max_minutes {
            if !(m.is_finite() && m > 0.0) {
                job_bail!("--max-minutes {m}: must be a positive number of minutes");
            }
        }
        let (data_path, out) = (&self.data, &self.out);
        if io::same_file(data_path, out) {
            job_bail!("--data and --out are the same file");
        }
        if let Some(log) = &self.loss_log {
            if io::same_file(log, data_path) || io::same_file(log, out) {
                job_bail!("--loss-log must be another file than --data and --out");
            }
            if !self.resume {
                io::refuse_existing(log)?;
            }
        }
        let data = Samples::read(data_path)?;
        if data.meta.get("split").map(String::as_str) == Some("test") {
            eprintln!(
                "warning: {} is a test split (metadata split = test); train on the train split",
                data_path.display()
            );
        }
        if let Some(e) = &self.export {
            if io::same_file(e, data_path) || io::same_file(e, out) {
                job_bail!("--export must be another file than --data and --out");
            }
            io::refuse_existing(e)?;
            io::check_writable(e)?;
        }
        let plan = if self.resume {
            self.resumed_plan(data)?
        } else {
            io::refuse_existing(out)?;
            let config = self.network.apply(&ScoreConfig::default())?;
            let train = self.hyper.resolve(&TrainConfig::default(), false)?;
            let params = init_params(&config, train.seed);
            TrainPlan {
                job: self.clone(),
                epochs: self.epochs.unwrap_or(10),
                model: ScoreFno::new(&config)?,
                config,
                train,
                params,
                resume: None,
                wall_before: 0.0,
                data,
            }
        };
        if plan.epochs == 0 || plan.epochs > 1_000_000 {
            job_bail!("--epochs {}: must be in 1..=1000000", plan.epochs);
        }
        io::check_writable(out)?;
        plan.config.check_grid(plan.data.grid)?;
        if plan.train.batch > plan.data.len {
            job_bail!(
                "--batch {} is larger than the dataset ({} samples)",
                plan.train.batch,
                plan.data.len
            );
        }
        Ok(plan)
    }

    /// [`Self::plan`], then [`TrainPlan::run`].
    ///
    /// # Errors
    /// As those.
    pub fn run(&self, gpu: &Gpu) -> Result<TrainSummary> {
        self.plan()?.run(gpu)
    }

    /// The arguments of the `diffclosure train` command that runs this
    /// job: the data and checkpoint, every requested value (`Some`: a
    /// value of the run, or on resume one the checkpoint must hold) and
    /// every other setting where it differs from [`Self::new`]'s (the
    /// command line's defaults). `command` is not an argument: it is the
    /// record of this line, which the command line fills in itself.
    pub fn command_line(&self) -> Vec<String> {
        let (d, n, h) = (Self::new(&self.data, &self.out), &self.network, &self.hyper);
        let (every, every_default) = (self.checkpoint_every, d.checkpoint_every);
        let mut c = CommandLine::new("train");
        c.arg("--data", self.data.display())
            .arg("--out", self.out.display())
            .opt_path("--export", self.export.as_deref())
            .opt_path("--loss-log", self.loss_log.as_deref())
            .opt("--epochs", self.epochs)
            .opt_path("--config", n.config_file.as_deref())
            .opt("--width", n.width)
            .opt("--modes", n.modes)
            .opt("--layers", n.layers)
            .opt("--embed-dim", n.embed_dim)
            .opt("--fc-hidden", n.fc_hidden)
            .flag("--no-vorticity", n.no_vorticity)
            .flag("--no-sparse", n.no_sparse)
            .opt("--batch", h.batch)
            .opt("--micro-batch", h.micro_batch)
            .opt("--lr", h.lr)
            .opt("--lr-step", h.lr_step)
            .opt("--lr-gamma", h.lr_gamma)
            .opt("--t-min", h.t_min)
            .opt("--t-max", h.t_max)
            .opt("--seed", h.seed)
            .opt("--spectral", h.spectral)
            .opt("--max-minutes", self.max_minutes)
            .unless_default("--log-every", self.log_every, d.log_every)
            .progress(every, every_default, self.quiet, self.resume);
        c.into_words()
    }

    /// The plan of a resumed run: the checkpoint's network, state and
    /// hyper-parameters, after checking the request and `data` against it.
    fn resumed_plan(&self, data: Samples) -> Result<TrainPlan> {
        let out = &self.out;
        if !out.exists() {
            job_bail!(
                "--resume: {} does not exist (nothing to resume)",
                out.display()
            );
        }
        let ck = checkpoint::load(out)?;
        let requested = self.network.apply(&ck.config)?;
        if requested != ck.config {
            let (h, r) = (ck.config.to_metadata(), requested.to_metadata());
            let mut diff: Vec<String> = h
                .iter()
                .filter(|(k, v)| r.get(*k) != Some(v))
                .map(|(k, v)| format!("{} = {v}, not {}", &k[6..], r[k]))
                .collect();
            diff.sort();
            job_bail!(
                "{} holds a network with {}: a resumed run keeps its network",
                out.display(),
                diff.join(", ")
            );
        }
        let epochs = match self.epochs {
            Some(e) => e,
            None => ck.get(out, "train.epochs")?,
        };
        for (key, have) in [
            ("data.grid", data.grid.to_string()),
            ("data.sensors", data.sensors.to_string()),
            (
                "data.scenario",
                data.meta.get("scenario").cloned().unwrap_or_default(),
            ),
            ("train.samples", data.len.to_string()),
        ] {
            let want: String = ck.get(out, key)?;
            if want != have {
                job_bail!(
                    "{} was trained with {key} = {want}, {} has {have}",
                    out.display(),
                    self.data.display()
                );
            }
        }
        let (base, state, adam_step) = train_state(out, &ck)?;
        // Checkpoints from before the wall time was recorded count from 0.
        let wall_before = ck
            .meta
            .get("train.wall_s")
            .and_then(|w| w.parse().ok())
            .unwrap_or(0.0);
        let train = self.hyper.resolve(&base, true)?;
        let Some((m, v)) = ck.optimizer else {
            job_bail!("{}: no optimizer state to resume", out.display());
        };
        Ok(TrainPlan {
            job: self.clone(),
            epochs,
            model: ScoreFno::new(&ck.config)?,
            config: ck.config,
            train,
            params: ck.params,
            resume: Some((state, adam_step, m, v)),
            wall_before,
            data,
        })
    }
}

/// The hyper-parameters, the loop's position and Adam's step of a
/// checkpoint.
fn train_state(path: &Path, ck: &Checkpoint) -> Result<(TrainConfig, TrainState, u64)> {
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

/// Opens the loss log for appending: a new file with its header, or on
/// resume the old one without the lines after step `resumed_at` (logged by
/// the interrupted run after its last checkpoint; they are logged again).
fn open_loss_log(path: &Path, resumed_at: u64) -> Result<std::fs::File> {
    let io_err = |error| Error::Io {
        path: path.to_path_buf(),
        error,
    };
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
    let mut f = std::fs::File::create(path).map_err(io_err)?;
    f.write_all(kept.as_bytes()).map_err(io_err)?;
    Ok(f)
}

/// A checked training job, ready to run.
pub struct TrainPlan {
    job: TrainJob,
    data: Samples,
    config: ScoreConfig,
    model: ScoreFno,
    train: TrainConfig,
    /// Epochs to reach in total.
    epochs: u64,
    /// The initial or resumed weights.
    params: Vec<f32>,
    /// A resumed run's position, Adam step and moments.
    resume: Option<(TrainState, u64, Vec<f32>, Vec<f32>)>,
    /// Training seconds of the earlier pieces of the run.
    wall_before: f64,
}

/// How a training run ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TrainOutcome {
    /// All the epochs are done.
    Trained,
    /// Stopped at an epoch end by the time cap, after this many minutes.
    Stopped {
        /// Minutes this process trained.
        minutes: f64,
    },
    /// The checkpoint already held the epochs asked for: nothing was
    /// trained (the export, if asked, was written from it).
    AlreadyDone,
}

/// What a training run did.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSummary {
    /// How it ended.
    pub outcome: TrainOutcome,
    /// The checkpoint.
    pub out: PathBuf,
    /// Where training stands at the end.
    pub state: TrainState,
    /// Epochs the run aims at.
    pub epochs: u64,
    /// Samples per optimizer step.
    pub batch: usize,
    /// Samples per forward/backward.
    pub micro_batch: usize,
    /// How the spectral convolutions were computed.
    pub spectral: Method,
    /// The last loss read (NaN if none).
    pub loss: f64,
    /// The first loss this process read.
    pub first_loss: Option<f64>,
    /// The weights-only file written, if any.
    pub export: Option<PathBuf>,
    /// The adapter, as [`Gpu::describe`].
    pub adapter: String,
}

impl std::fmt::Display for TrainSummary {
    /// The lines `train` prints: how the run ended (nothing to do, or
    /// stopped by the time cap), where training stands and its loss, and
    /// the export.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.state;
        let mut lines = Vec::new();
        match self.outcome {
            TrainOutcome::AlreadyDone => lines.push(format!(
                "{} is already at epoch {} (step {}); nothing to do for --epochs {}",
                self.out.display(),
                s.epoch,
                s.step,
                self.epochs
            )),
            TrainOutcome::Stopped { minutes } => lines.push(format!(
                "stopped at epoch {} of {} after the --max-minutes budget ({minutes:.1} min); `--resume` continues",
                s.epoch, self.epochs
            )),
            TrainOutcome::Trained => {}
        }
        if self.outcome != TrainOutcome::AlreadyDone {
            lines.push(format!(
                "trained to epoch {} (step {}, {} samples per step in micro-batches of {}, spectral convolutions by {}): loss {:.4e} (first read {:.4e}); wrote {} on {}",
                s.epoch,
                s.step,
                self.batch,
                self.micro_batch,
                self.spectral,
                self.loss,
                self.first_loss.unwrap_or(f64::NAN),
                self.out.display(),
                self.adapter
            ));
        }
        if let Some(e) = &self.export {
            lines.push(format!("wrote the weights alone to {}", e.display()));
        }
        f.write_str(&lines.join("\n"))
    }
}

impl TrainPlan {
    /// Trains to the planned epoch (or the time cap), writing the
    /// checkpoint every `checkpoint_every` epochs and at the end, the loss
    /// log and the export.
    ///
    /// # Errors
    /// A loss or parameter that becomes non-finite (the last good
    /// checkpoint is kept); GPU and I/O errors.
    pub fn run(self, gpu: &Gpu) -> Result<TrainSummary> {
        let Self {
            job,
            data,
            config,
            model,
            train,
            epochs,
            params,
            resume,
            wall_before,
        } = self;
        let out = &job.out;
        let resume_ref = resume
            .as_ref()
            .map(|(s, k, m, v)| (*s, *k, m.as_slice(), v.as_slice()));
        let mut trainer = Trainer::new(gpu, model, &params, &data, train.clone(), resume_ref)?;
        let start = trainer.state();
        let total = epochs * trainer.steps_per_epoch();
        let adapter = gpu.describe();
        let summary = |trainer: &Trainer, outcome, loss, first_loss| TrainSummary {
            outcome,
            out: out.clone(),
            state: trainer.state(),
            epochs,
            batch: train.batch,
            micro_batch: trainer.micro_batch(),
            spectral: trainer.method(),
            loss,
            first_loss,
            export: job.export.clone(),
            adapter: adapter.clone(),
        };
        if start.step >= total {
            if let Some(e) = &job.export {
                let ck = checkpoint::load(out)?;
                checkpoint::save(e, &ck.config, &ck.params, None, &ck.meta)?;
            }
            return Ok(summary(&trainer, TrainOutcome::AlreadyDone, f64::NAN, None));
        }
        let mut progress = Progress::new(
            "train",
            total,
            "steps",
            "{bar:30} {pos}/{len} steps, epoch {msg} [{elapsed} < {eta}]",
            job.quiet,
        )
        .at_milestones();
        progress.set_position(start.step);
        let t0 = Instant::now();
        let mut loss = f64::NAN;
        let mut first_loss = None;
        let mut loss_log = match &job.loss_log {
            Some(p) => Some((p, open_loss_log(p, start.step)?)),
            None => None,
        };
        let samples_per_s = |s: &TrainState| {
            (s.step - start.step) as f64 * train.batch as f64 / t0.elapsed().as_secs_f64()
        };
        let save = |trainer: &Trainer, loss: f64, last: bool| -> Result<()> {
            let (p, m, v) = trainer.read_state()?;
            if let Some(i) = p.iter().position(|x| !x.is_finite()) {
                job_bail!(
                    "a parameter became non-finite (index {i}) by step {}; {} keeps the last good checkpoint",
                    trainer.state().step,
                    out.display()
                );
            }
            let meta = metadata(
                (&job, &train, &data),
                trainer,
                epochs,
                (loss, wall_before + t0.elapsed().as_secs_f64(), &adapter),
            );
            checkpoint::save(out, &config, &p, Some((&m, &v)), &meta)?;
            match &job.export {
                Some(e) if last => checkpoint::save(e, &config, &p, None, &meta),
                _ => Ok(()),
            }
        };
        let mut outcome = TrainOutcome::Trained;
        while trainer.state().step < total {
            trainer.step()?;
            let s = trainer.state();
            let epoch_done = s.batch_in_epoch == 0;
            if s.step % job.log_every == 0 || epoch_done || s.step == total {
                loss = trainer.loss()?;
                if !loss.is_finite() {
                    let kept = if out.exists() {
                        format!("{} keeps the last good checkpoint", out.display())
                    } else {
                        "no checkpoint was written".to_string()
                    };
                    job_bail!(
                        "the loss became {loss} by step {} (read every --log-every {} steps); {kept}",
                        s.step,
                        job.log_every
                    );
                }
                first_loss.get_or_insert(loss);
                if let Some((p, f)) = &mut loss_log {
                    writeln!(f, "{},{},{loss:e}", s.step, s.epoch).map_err(|error| Error::Io {
                        path: p.to_path_buf(),
                        error,
                    })?;
                }
                progress.set_message(format!(
                    "{}, loss {loss:.4e}, {:.1} samples/s",
                    s.epoch,
                    samples_per_s(&s)
                ));
            }
            progress.set_position(s.step);
            let out_of_time = epoch_done
                && job
                    .max_minutes
                    .is_some_and(|m| t0.elapsed().as_secs_f64() >= 60.0 * m);
            let last = s.step == total || out_of_time;
            if (epoch_done && s.epoch % job.checkpoint_every == 0) || last {
                save(&trainer, loss, last)?;
            }
            if epoch_done {
                progress.milestone(|| {
                    format!(
                        "epoch {} done: step {}, loss {loss:.4e}, {:.1} samples/s",
                        s.epoch,
                        s.step,
                        samples_per_s(&s)
                    )
                });
            }
            if out_of_time && s.step < total {
                outcome = TrainOutcome::Stopped {
                    minutes: t0.elapsed().as_secs_f64() / 60.0,
                };
                break;
            }
        }
        progress.finish();
        Ok(summary(&trainer, outcome, loss, first_loss))
    }
}

/// The checkpoint metadata of a run at the trainer's state.
fn metadata(
    (job, t, data): (&TrainJob, &TrainConfig, &Samples),
    trainer: &Trainer,
    epochs: u64,
    (loss, wall_s, adapter): (f64, f64, &str),
) -> HashMap<String, String> {
    let state = trainer.state();
    let mut m = HashMap::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.to_string(), v);
    };
    put("train.batch", t.batch.to_string());
    put("train.micro_batch", trainer.micro_batch().to_string());
    put("train.epochs", epochs.to_string());
    put("train.samples", data.len.to_string());
    put("train.lr", t.lr.to_string());
    put("train.lr_step", t.lr_step.to_string());
    put("train.lr_gamma", t.lr_gamma.to_string());
    put("train.t_min", t.t_min.to_string());
    put("train.t_max", t.t_max.to_string());
    put("train.seed", t.seed.to_string());
    put("train.spectral", trainer.method().to_string());
    put("train.step", state.step.to_string());
    put("train.epoch", state.epoch.to_string());
    put("train.batch_in_epoch", state.batch_in_epoch.to_string());
    put("train.rng_counter", state.rng_counter.to_string());
    put("train.adam_step", trainer.adam_step().to_string());
    put("train.loss", loss.to_string());
    put("train.wall_s", format!("{wall_s:.1}"));
    put("train.adapter", adapter.to_string());
    put("train.command", job.command.clone());
    put("data.source", job.data.display().to_string());
    put("data.grid", data.grid.to_string());
    put("data.sensors", data.sensors.to_string());
    for key in ["scenario", "preset", "restriction"] {
        if let Some(v) = data.meta.get(key) {
            put(&format!("data.{key}"), v.clone());
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_over_the_base_and_resumed_runs_keep_theirs() {
        let o = ScoreOverrides {
            width: Some(6),
            no_sparse: true,
            ..Default::default()
        };
        let c = o.apply(&ScoreConfig::default()).unwrap();
        assert_eq!((c.width, c.sparse, c.modes), (6, false, 8));
        let base = TrainConfig {
            spectral: Some(Method::Fft),
            ..Default::default()
        };
        let h = TrainOverrides {
            lr: Some(0.5),
            ..Default::default()
        };
        let e = h.resolve(&base, true).unwrap_err().to_string();
        assert!(e.contains("--lr 0.5 differs"), "{e}");
        assert_eq!(h.resolve(&base, false).unwrap().lr, 0.5);
        // A fresh run: DFTs unless asked; a resumed one keeps its method.
        let none = TrainOverrides::default();
        assert_eq!(
            none.resolve(&base, false).unwrap().spectral,
            Some(Method::Dft)
        );
        assert_eq!(
            none.resolve(&base, true).unwrap().spectral,
            Some(Method::Fft)
        );
        let auto = TrainOverrides {
            spectral: Some("auto".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(auto.resolve(&base, false).unwrap().spectral, None);
        assert!("fast".parse::<Spectral>().is_err());
    }
}
