//! The sampling job: closure samples of a trained score network for the
//! conditions of a dataset, in batches on the GPU, resumable (from
//! `OUT.partial`, [`crate::job::Resumable`]) and shardable over a cluster
//! ([`Shard`]); its output is a samples file ([`super::samples`]).
//!
//! [`SampleJob`] is the configuration; [`SampleJob::plan`] reads and checks
//! the model, the dataset and an interrupted run's progress before any GPU
//! work; [`SamplePlan::run`] samples and writes the file.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::data::dataset::Samples;
use crate::data::io::{self, NamedTensor};
use crate::error::{Error, Result};
use crate::gpu::{DType, Gpu, Tensor};
use crate::job::{self, CommandLine, MissingPartial, Progress, Resumable};
use crate::job_bail;
use crate::plot::gif::heatmap_gif;
use crate::plot::heatmap::{heatmap_strip_png, HeatmapOptions};
use crate::score::checkpoint::{self, Checkpoint};
use crate::score::spectral_conv::Method;
use crate::sde::generate::Generator;
use crate::sde::samples::{self, Shard, FORMAT};
use crate::sde::{frame_steps, Frames, Noise, SamplerConfig};

impl SamplerConfig {
    /// This schedule for a model with checkpoint metadata `model_meta`:
    /// with its SDE (`sde.s`; 26, the reference code's, when the checkpoint
    /// predates the key), checked, and refused outside its training noise
    /// range `[train.t_min, train.t_max]` unless `allow_untrained_noise`.
    ///
    /// # Errors
    /// A bad `sde.s`; a schedule [`SamplerConfig::times`] refuses; as
    /// [`checkpoint::check_noise_range`].
    pub fn for_model(
        mut self,
        model_meta: &HashMap<String, String>,
        allow_untrained_noise: bool,
    ) -> Result<Self> {
        self.sde = checkpoint::sde_of(model_meta)?;
        self.times()?;
        if !allow_untrained_noise {
            checkpoint::check_noise_range(model_meta, &self)?;
        }
        Ok(self)
    }

    /// The metadata that records the sampler and its schedule in an output
    /// file (`sampler`, `steps`, `t_max`, `t_min`, `rho`, `final_step`).
    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        vec![
            ("sampler", self.sampler.to_string()),
            ("steps", self.steps.to_string()),
            ("t_max", self.t_max.to_string()),
            ("t_min", self.t_min.to_string()),
            ("rho", self.rho.to_string()),
            ("final_step", self.final_step.to_string()),
        ]
    }

    /// Writes the sampler flags `sample` and `couple` share onto `c`,
    /// those that differ from [`SamplerConfig::default`], and
    /// `--allow-untrained-noise`. The SDE is not a flag: every job takes
    /// its model's.
    pub fn push_flags(&self, c: &mut CommandLine, allow_untrained_noise: bool) {
        let d = Self::default();
        c.unless_default("--sampler", self.sampler, d.sampler)
            .unless_default("--steps", self.steps, d.steps)
            .unless_default("--t-max", self.t_max, d.t_max)
            .unless_default("--t-min", self.t_min, d.t_min)
            .unless_default("--rho", self.rho, d.rho)
            .unless_default("--final-step", self.final_step, d.final_step)
            .flag("--allow-unstable", self.allow_unstable)
            .flag("--allow-untrained-noise", allow_untrained_noise);
    }
}

/// A sampling job: `samples_per_condition` samples for each of the
/// chosen conditions of a dataset (or this shard's part of them).
#[derive(Clone, Debug, PartialEq)]
pub struct SampleJob {
    /// Trained score network (a `train` checkpoint).
    pub model: PathBuf,
    /// Dataset split whose vorticity and sensor values condition the
    /// samples.
    pub data: PathBuf,
    /// The grid the caller expects the dataset to have (a guard against
    /// a mixed-up file); `None`: the dataset's.
    pub grid: Option<usize>,
    /// Samples per condition K.
    pub samples_per_condition: usize,
    /// Conditions, evenly spaced through the dataset; `None`: all.
    pub conditions: Option<usize>,
    /// The sampler and its schedule (its `sde` is replaced by the model's:
    /// [`SamplerConfig::for_model`]).
    pub sampler: SamplerConfig,
    /// Sample at noise levels outside the model's training range.
    pub allow_untrained_noise: bool,
    /// Seed of the noise (a sample's noise depends only on the seed and
    /// its place in the job).
    pub seed: u64,
    /// Samples per GPU batch.
    pub batch: usize,
    /// How the spectral convolutions are computed.
    pub spectral: Method,
    /// This run's part of the job.
    pub shard: Shard,
    /// The job's output (this shard's: [`Shard::path`]).
    pub out: PathBuf,
    /// Continue an interrupted run from `OUT.partial` (a missing one
    /// starts afresh: array jobs are re-queued with `--resume`).
    pub resume: bool,
    /// Batches between progress saves to `OUT.partial`.
    pub checkpoint_every: usize,
    /// A directory for the denoising trajectory figures of the job's first
    /// sample (drawn by shard 0).
    pub trajectory: Option<PathBuf>,
    /// No progress display.
    pub quiet: bool,
}

impl SampleJob {
    /// A job of `model` on the conditions of `data`, written to `out`, with
    /// the command line's defaults: every condition, one sample each, the
    /// default sampler, seed 0, batches of 16, FFT spectral convolutions,
    /// the whole job, a progress save every 20 batches.
    pub fn new(model: &Path, data: &Path, out: &Path) -> Self {
        Self {
            model: model.to_path_buf(),
            data: data.to_path_buf(),
            grid: None,
            samples_per_condition: 1,
            conditions: None,
            sampler: SamplerConfig::default(),
            allow_untrained_noise: false,
            seed: 0,
            batch: 16,
            spectral: Method::Fft,
            shard: Shard::WHOLE,
            out: out.to_path_buf(),
            resume: false,
            checkpoint_every: 20,
            trajectory: None,
            quiet: false,
        }
    }

    /// Reads and checks everything before any GPU work: the arguments, the
    /// output (and an interrupted run's progress, with `resume`), the model
    /// and the dataset and whether they fit each other.
    ///
    /// # Errors
    /// [`Error::Job`] or [`Error::InvalidArgument`] naming what does not
    /// fit: sizes of 0, a model and dataset of other grids, presets,
    /// scenarios or sensors, a schedule outside the model's noise range,
    /// more shards than conditions, an existing output, a progress file of
    /// another job; read errors.
    pub fn plan(&self) -> Result<SamplePlan> {
        let k = self.samples_per_condition;
        if k == 0 || self.batch == 0 || self.checkpoint_every == 0 {
            job_bail!("--samples-per-condition, --batch and --checkpoint-every must be >= 1");
        }
        let out = self.shard.path(&self.out);
        let resumable = Resumable::open(
            &out,
            &[&self.model, &self.data],
            self.resume,
            MissingPartial::StartFresh,
        )?;
        let ck = checkpoint::load(&self.model)?;
        let cfg = self
            .sampler
            .for_model(&ck.meta, self.allow_untrained_noise)
            .map_err(|e| e.context(format!("sampling {}", self.model.display())))?;
        let data = Samples::read(&self.data)?;
        self.check_fit(&ck, &data)?;
        let all = samples::conditions(data.len, self.conditions)?;
        let mine = self.shard.range(all.len())?;
        let mut meta = self.metadata(&cfg, &data, &ck, all.len());
        meta.insert(
            "shard".into(),
            format!("{}/{}", self.shard.index, self.shard.count),
        );
        meta.insert("first_condition".into(), mine.start.to_string());
        meta.insert("model".into(), self.model.display().to_string());
        meta.insert("data".into(), self.data.display().to_string());
        meta.insert("batch".into(), self.batch.to_string());

        // Resume: the samples done so far, from a run of the same job:
        // everything but where the inputs lie (their hashes are compared)
        // and the batch size (a sample's noise does not depend on it).
        let n = data.grid;
        let items = mine.len() * k;
        let mut done = Vec::with_capacity(items * n * n);
        let identity = meta
            .iter()
            .filter(|(k, _)| !["model", "data", "batch"].contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()));
        if let Some(f) = resumable.load(identity)? {
            let partial = resumable.partial();
            let s = f.get(partial, "samples")?;
            if s.data.len() % (n * n) != 0 || s.data.len() > items * n * n {
                job_bail!(
                    "{}: samples tensor of {} values",
                    partial.display(),
                    s.data.len()
                );
            }
            done.extend_from_slice(&s.data);
            eprintln!(
                "resuming {}: {} of {items} samples done",
                partial.display(),
                done.len() / (n * n)
            );
        }

        // The trajectory is drawn by shard 0; its files are checked now.
        let trajectory = self.trajectory.clone().filter(|_| self.shard.index == 0);
        if let Some(dir) = &trajectory {
            std::fs::create_dir_all(dir).map_err(|error| Error::Io {
                path: dir.clone(),
                error,
            })?;
            io::refuse_existing(&dir.join("trajectory.png"))?;
            io::refuse_existing(&dir.join("trajectory.gif"))?;
        } else if self.trajectory.is_some() {
            eprintln!("--trajectory: drawn by shard 0 only");
        }
        Ok(SamplePlan {
            job: self.clone(),
            resumable,
            ck,
            cfg,
            data,
            all,
            mine,
            meta,
            done,
            trajectory,
        })
    }

    /// [`Self::plan`], then [`SamplePlan::run`].
    ///
    /// # Errors
    /// As those.
    pub fn run(&self, gpu: &Gpu) -> Result<SampleSummary> {
        self.plan()?.run(gpu)
    }

    /// The arguments of the `diffclosure sample` command that runs this
    /// job: the model, data, output and samples per condition always,
    /// every other setting where it differs from [`Self::new`]'s (the
    /// command line's defaults); a shard as `i/n` (a Slurm shard as the
    /// piece it resolved to).
    pub fn command_line(&self) -> Vec<String> {
        let d = Self::new(&self.model, &self.data, &self.out);
        let (every, every_default) = (self.checkpoint_every, d.checkpoint_every);
        let mut c = CommandLine::new("sample");
        c.arg("--model", self.model.display())
            .arg("--data", self.data.display())
            .opt("--grid", self.grid)
            .opt("--conditions", self.conditions)
            .arg("--samples-per-condition", self.samples_per_condition);
        self.sampler.push_flags(&mut c, self.allow_untrained_noise);
        c.unless_default("--seed", self.seed, d.seed)
            .unless_default("--batch", self.batch, d.batch)
            .unless_default("--spectral", self.spectral, d.spectral)
            .opt(
                "--shard",
                (self.shard != Shard::WHOLE)
                    .then(|| format!("{}/{}", self.shard.index, self.shard.count)),
            )
            .arg("--out", self.out.display())
            .opt_path("--trajectory", self.trajectory.as_deref())
            .progress(every, every_default, self.quiet, self.resume);
        c.into_words()
    }

    /// Refuses a model and dataset that do not fit each other: another
    /// grid than `self.grid`, too many modes for the grid, another preset
    /// or scenario, other sensors for a sparse-observation network.
    fn check_fit(&self, ck: &Checkpoint, data: &Samples) -> Result<()> {
        let (model, path) = (self.model.display(), self.data.display());
        let n = data.grid;
        if let Some(g) = self.grid {
            if g != n {
                job_bail!(
                    "--grid {g}, but {path} holds a {n}x{n} dataset: build the {g}x{g} test set with `diffclosure dataset --grid {g} --sensor-grid <training grid>`"
                );
            }
        }
        ck.config.check_grid(n).map_err(|e| {
            e.context(format!(
                "{model} ({} modes) cannot run on the {n}x{n} data of {path}",
                ck.config.modes
            ))
        })?;
        checkpoint::check_preset(&ck.meta, &data.meta)
            .map_err(|e| e.context(format!("{model} with {path}")))?;
        let scenario = data.meta.get("scenario").cloned().unwrap_or_default();
        if let Some(trained) = ck.meta.get("data.scenario") {
            if *trained != scenario {
                job_bail!("{model} was trained on scenario {trained}, {path} holds {scenario}");
            }
        }
        if ck.config.sparse {
            if let Some(trained) = ck.meta.get("data.sensors") {
                if *trained != data.sensors.to_string() {
                    job_bail!(
                        "{model} was trained with {trained}x{trained} sensors; {path} has {s}x{s}: the sparse pipeline needs the sensors it was trained on",
                        s = data.sensors
                    );
                }
            }
        }
        Ok(())
    }

    /// The metadata that identifies the job (every shard and resumed piece
    /// of it must carry the same).
    fn metadata(
        &self,
        cfg: &SamplerConfig,
        data: &Samples,
        ck: &Checkpoint,
        conditions: usize,
    ) -> HashMap<String, String> {
        let mut m = HashMap::new();
        let mut put = |k: &str, v: String| {
            m.insert(k.to_string(), v);
        };
        put("format", FORMAT.into());
        put("model.hash", job::fingerprint(&[&ck.params]));
        put(
            "data.hash",
            job::fingerprint(&[&data.omega, &data.obs, &data.target]),
        );
        put("data.samples", data.len.to_string());
        put("grid", data.grid.to_string());
        put("sensors", data.sensors.to_string());
        put(
            "scenario",
            data.meta.get("scenario").cloned().unwrap_or_default(),
        );
        for (k, v) in cfg.metadata() {
            put(k, v);
        }
        put("sde.s", cfg.sde.s.to_string());
        put("seed", self.seed.to_string());
        put(
            "samples_per_condition",
            self.samples_per_condition.to_string(),
        );
        put("conditions", conditions.to_string());
        put("spectral", self.spectral.to_string());
        for (k, v) in &ck.meta {
            if k.starts_with("score.") || k == "train.epoch" || k == "train.samples" {
                put(&format!("model.{k}"), v.clone());
            }
        }
        m
    }
}

/// A checked sampling job, ready to run: its model, dataset, conditions and
/// the progress of an interrupted run.
pub struct SamplePlan {
    job: SampleJob,
    resumable: Resumable,
    ck: Checkpoint,
    cfg: SamplerConfig,
    data: Samples,
    /// The job's conditions (dataset indices).
    all: Vec<usize>,
    /// This shard's positions among them.
    mine: Range<usize>,
    meta: HashMap<String, String>,
    /// Samples done (resumed), `[done, n, n]` flat.
    done: Vec<f32>,
    trajectory: Option<PathBuf>,
}

/// What a sampling run did.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleSummary {
    /// The file written (this shard's).
    pub out: PathBuf,
    /// Conditions in the file.
    pub conditions: usize,
    /// Samples per condition K.
    pub samples_per_condition: usize,
    /// Grid side n.
    pub grid: usize,
    /// The sampler and schedule run (with the model's SDE).
    pub sampler: SamplerConfig,
    /// Samples this process drew (a resumed run times its own part).
    pub timed_samples: usize,
    /// Seconds this process sampled.
    pub wall_s: f64,
    /// The adapter, as [`Gpu::describe`].
    pub adapter: String,
}

impl std::fmt::Display for SampleSummary {
    /// The line `sample` prints: the file, its conditions, samples, grid
    /// and sampler, and the speed on the adapter.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cfg = self.sampler;
        write!(
            f,
            "wrote {} ({} conditions x {} samples on {n}x{n}, {} {} steps from t_max = {}): {:.2} samples/s ({:.1} ms per score evaluation per sample) on {}",
            self.out.display(),
            self.conditions,
            self.samples_per_condition,
            cfg.sampler,
            cfg.steps,
            cfg.t_max,
            self.samples_per_second(),
            self.ms_per_evaluation(),
            self.adapter,
            n = self.grid,
        )
    }
}

impl SampleSummary {
    /// Samples per second of this process.
    pub fn samples_per_second(&self) -> f64 {
        self.timed_samples as f64 / self.wall_s
    }

    /// Milliseconds per score evaluation per sample.
    pub fn ms_per_evaluation(&self) -> f64 {
        let evals = self.timed_samples.max(1) * self.sampler.sampler.evals(self.sampler.steps);
        1e3 * self.wall_s / evals as f64
    }
}

impl SamplePlan {
    /// The output path (this shard's).
    pub fn out(&self) -> &Path {
        self.resumable.out()
    }

    /// Draws the samples not yet done, in batches, saving progress every
    /// `checkpoint_every` batches, and writes the samples file (and the
    /// trajectory figures) when done.
    ///
    /// # Errors
    /// A non-finite sample; GPU, plot and I/O errors (the progress saved
    /// so far is kept).
    pub fn run(mut self, gpu: &Gpu) -> Result<SampleSummary> {
        let (job, cfg, data) = (&self.job, self.cfg, &self.data);
        let (k, n) = (job.samples_per_condition, data.grid);
        let mine = &self.all[self.mine.clone()];
        let c0 = self.mine.start;
        let items = mine.len() * k;
        let generator = Generator::new(
            gpu,
            &self.ck.config,
            &self.ck.params,
            data,
            cfg,
            job.batch,
            job.spectral,
        )?;
        let b = generator.batch();
        // Pipelines are compiled before the clock starts.
        generator.prepare()?;
        // Philox blocks of 4 normals; n is a power of two >= 4, so a
        // sample's n² values start on a block boundary.
        let stride = (self.all.len() * k * n * n).div_ceil(4) as u64;
        let mut progress = Progress::new(
            "sample",
            items as u64,
            "samples",
            "{bar:30} {pos}/{len} samples [{elapsed} < {eta}] {msg}",
            job.quiet,
        );
        let mut samples = std::mem::take(&mut self.done);
        let done0 = samples.len() / (n * n);
        progress.set_position(done0 as u64);
        // Moves the samples into the tensor and back: no copy.
        let save_partial = |samples: &mut Vec<f32>| -> Result<()> {
            let t = NamedTensor {
                shape: vec![samples.len() / (n * n), n, n],
                data: std::mem::take(samples),
            };
            let r = self.resumable.save(&[("samples", &t)], &self.meta);
            *samples = t.data;
            r
        };
        // The trajectory: the first batch of shard 0, frames of its slot 0.
        let (strip_steps, gif_steps) = (frame_steps(cfg.steps, 24), frame_steps(cfg.steps, 60));
        let steps: Vec<usize> = strip_steps.iter().chain(&gif_steps).copied().collect();
        let mut frames_done = self.trajectory.is_none();
        if self.trajectory.is_some() && done0 > 0 {
            eprintln!("--resume: the trajectory was drawn by the first part of the run (or not at all); skipped");
            frames_done = true;
        }
        let t0 = Instant::now();
        let mut batches = 0;
        let mut done = done0;
        while done < items {
            let count = b.min(items - done);
            let conds: Vec<usize> = (done..done + count).map(|g| mine[g / k]).collect();
            let noise = Noise {
                seed: job.seed,
                stride,
                offset: (((c0 * k + done) * n * n) / 4) as u64,
            };
            let frame_tensor = if frames_done {
                None
            } else {
                Some(Tensor::zeros(gpu, &[steps.len(), n, n], DType::F32)?)
            };
            let frames = frame_tensor.as_ref().map(|tensor| Frames {
                tensor,
                steps: &steps,
                points: n * n,
            });
            let x = generator.run(&conds, &noise, frames.as_ref())?;
            if let Some(i) = x.iter().position(|v| !v.is_finite()) {
                job_bail!(
                    "sample {} has a non-finite value (index {})",
                    done + i / (n * n),
                    i % (n * n)
                );
            }
            samples.extend_from_slice(&x);
            if let (Some(f), Some(dir)) = (&frame_tensor, &self.trajectory) {
                let v = gpu.read_one(f)?;
                let (strip, gif) = v.split_at(strip_steps.len() * n * n);
                let truth = &data.target[conds[0] * n * n..(conds[0] + 1) * n * n];
                // Each frame's time and noise level (the state after step
                // i is at times[i]; the last is t = 0).
                let times = cfg.times()?;
                let labels: Vec<String> = strip_steps
                    .iter()
                    .map(|&i| format!("t={:.3}\nσ={:.3}", times[i], cfg.sde.sigma(times[i])))
                    .collect();
                write_trajectory(dir, strip, gif, truth, n, &labels)?;
                frames_done = true;
            }
            done += count;
            batches += 1;
            progress.set_position(done as u64);
            progress.set_message(format!(
                "{:.2} samples/s",
                (done - done0) as f64 / t0.elapsed().as_secs_f64()
            ));
            if batches % job.checkpoint_every == 0 && done < items {
                save_partial(&mut samples)?;
            }
        }
        progress.finish();
        let wall = t0.elapsed().as_secs_f64();
        // Timing of this process's part (a resumed run times its own part).
        let mut meta = self.meta.clone();
        meta.insert("wall_s".into(), format!("{wall:.3}"));
        meta.insert("timed_samples".into(), (done - done0).to_string());
        meta.insert("adapter".into(), gpu.describe());
        let target: Vec<f32> = mine
            .iter()
            .flat_map(|&c| data.target[c * n * n..(c + 1) * n * n].iter().copied())
            .collect();
        let cond = mine.iter().map(|&c| c as f32).collect();
        let tensors = samples::tensors((samples, cond, target), (k, n));
        let refs: Vec<(&str, &NamedTensor)> = tensors.iter().map(|(k, v)| (*k, v)).collect();
        self.resumable.finish(&refs, &meta)?;
        Ok(SampleSummary {
            out: self.resumable.out().to_path_buf(),
            conditions: mine.len(),
            samples_per_condition: k,
            grid: n,
            sampler: cfg,
            timed_samples: done - done0,
            wall_s: wall,
            adapter: gpu.describe(),
        })
    }
}

/// The trajectory figures: the strip's frames then the truth as PNG, the
/// GIF's frames (each `[n, n]`, concatenated), one colour scale ± max
/// |truth|.
fn write_trajectory(
    dir: &Path,
    strip: &[f32],
    gif: &[f32],
    truth: &[f32],
    n: usize,
    labels: &[String],
) -> Result<()> {
    let limit = truth.iter().map(|v| f64::from(v.abs())).fold(0.0, f64::max);
    let opts = HeatmapOptions {
        limit: (limit > 0.0).then_some(limit),
        min_size: 128,
        ..Default::default()
    };
    let mut panels: Vec<&[f32]> = strip.chunks_exact(n * n).collect();
    panels.push(truth);
    let mut panel_titles = labels.to_vec();
    panel_titles.push("TRUTH\n(target)".into());
    let strip_opts = HeatmapOptions {
        title: Some(
            "denoising trajectory of the first sample: noise at t_max → sample at t = 0, then the truth"
                .into(),
        ),
        panel_titles,
        colorbar: Some("closure term (one scale, ± max |truth|)".into()),
        ..opts.clone()
    };
    heatmap_strip_png(&dir.join("trajectory.png"), &panels, n, n, &strip_opts)?;
    let frames: Vec<&[f32]> = gif.chunks_exact(n * n).collect();
    let gif_opts = HeatmapOptions {
        min_size: 256,
        ..opts
    };
    heatmap_gif(
        &dir.join("trajectory.gif"),
        &frames,
        n,
        n,
        &gif_opts,
        (250, 1500),
    )
}
