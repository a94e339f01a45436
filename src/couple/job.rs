//! The coupled-run job: the coarse model of a closure scenario run from a
//! truth snapshot (a [`crate::ns::trajectory`] file with the coarse grid
//! recorded) with no closure, the learned closure sampled online on the
//! GPU, the deterministic part of the exact term, or an eddy-viscosity
//! baseline; snapshots beside the restricted truth in a file of format
//! [`FORMAT`]; resumable bit for bit from `OUT.partial` ([`Resumable`]).
//!
//! [`CoupledJob`] is the configuration; [`CoupledJob::plan`] reads and
//! checks the truth, the model and an interrupted run's progress before
//! any GPU work; [`CoupledPlan::run`] steps and writes the file.
//!
//! The file: `vorticity` `[F, B·M, m, m]` (the members of trajectory `j`
//! are rows `j·M .. j·M + M`), `truth` `[F, B, m, m]` (restricted), `time`
//! `[F]`; metadata: the settings, the wall time, the resident memory, and
//! for eddy closures `eddy_c_mean` (the mean C = C_S² or C_L³ at the
//! output times) and `eddy_constant` (the C_S / C_L of a constant one).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use super::{coarse_config, Closure, CoupledRun, LearnedClosure};
use crate::data::dataset::{Scenario, Sensors};
use crate::data::io::{self, NamedTensor, TensorFile};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::job::{CommandLine, MissingPartial, Progress, Resumable};
use crate::job_bail;
use crate::ns::eddy::{Coefficient, EddyClosure, EddyViscosity};
use crate::ns::trajectory::parse_meta;
use crate::ns::{NsConfig, NsSolver, Preset, TimeScheme};
use crate::score::checkpoint::{self, Checkpoint};
use crate::score::spectral_conv::Method;
use crate::sde::SamplerConfig;

/// The `format` metadata value of a coupled-run file.
pub const FORMAT: &str = "diffclosure.coupled.v1";

/// The closure of a coupled job.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ClosureKind {
    /// The coarse model alone.
    None,
    /// The score network, one sample per trajectory.
    Learned,
    /// The mean of several draws of the network (the deterministic
    /// closure mean).
    Mean,
    /// The exact deterministic part of the term from the coarse state
    /// (ν∆ω for G, −u·∇ω for H; none for sgs).
    Oracle,
    /// An eddy viscosity (the classical LES baselines).
    Eddy(EddyViscosity),
}

impl ClosureKind {
    /// Whether the closure samples the score network.
    pub fn is_learned(self) -> bool {
        matches!(self, Self::Learned | Self::Mean)
    }
}

impl FromStr for ClosureKind {
    type Err = Error;

    /// `none`, `learned`, `mean`, `oracle`, `smagorinsky`, `leith`,
    /// `dynamic-smagorinsky`, `dynamic-leith`.
    fn from_str(name: &str) -> Result<Self> {
        Ok(match name {
            "none" => Self::None,
            "learned" => Self::Learned,
            "mean" => Self::Mean,
            "oracle" => Self::Oracle,
            other => match other.parse::<EddyViscosity>() {
                Ok(e) => Self::Eddy(e),
                Err(_) => job_bail!(
                    "--closure {other}: expected none, learned, mean, oracle, smagorinsky, leith, dynamic-smagorinsky or dynamic-leith"
                ),
            },
        })
    }
}

impl fmt::Display for ClosureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Learned => f.write_str("learned"),
            Self::Mean => f.write_str("mean"),
            Self::Oracle => f.write_str("oracle"),
            Self::Eddy(e) => write!(f, "{e}"),
        }
    }
}

/// A coupled-run job: the coarse model on an `grid × grid` grid from the
/// truth snapshot at `start`, over `span`, with a closure.
#[derive(Clone, Debug, PartialEq)]
pub struct CoupledJob {
    /// Truth trajectories (a trajectory file with the coarse grid
    /// recorded: `omega_m` and the closure terms).
    pub truth: PathBuf,
    /// Which term the coarse model omits and the closure supplies.
    pub scenario: Scenario,
    /// The closure.
    pub closure: ClosureKind,
    /// The constant C_S / C_L of a constant eddy viscosity; `None`: its
    /// default.
    pub coefficient: Option<f64>,
    /// Between samples (`every > 1`), perturb the held sample by fresh
    /// white noise of this standard deviation at every step (in the
    /// closure term's units; 0: hold) (learned closure only).
    pub perturb: f64,
    /// Draws averaged per sample by [`ClosureKind::Mean`].
    pub mean_samples: usize,
    /// Trained score network (the learned closures).
    pub model: Option<PathBuf>,
    /// Coarse grid m.
    pub grid: usize,
    /// Start time: the truth snapshot at or after it; `None`: the first.
    pub start: Option<f64>,
    /// Simulated time to run (whole snapshot intervals of the truth);
    /// `None`: to the truth's last snapshot.
    pub span: Option<f64>,
    /// Solver steps between closure samples (held in between).
    pub every: usize,
    /// Ensemble members M per truth trajectory (independent closure
    /// noise).
    pub ensemble: usize,
    /// Condition on the truth's sensor values; `None`: when the model has
    /// the sparse pipeline.
    pub observations: Option<bool>,
    /// The sampler and its schedule (its `sde` is replaced by the
    /// model's).
    pub sampler: SamplerConfig,
    /// Sample at noise levels outside the model's training range.
    pub allow_untrained_noise: bool,
    /// Seed of the closure noise.
    pub seed: u64,
    /// The output file.
    pub out: PathBuf,
    /// No progress display.
    pub quiet: bool,
    /// Continue an interrupted run from `OUT.partial`.
    pub resume: bool,
    /// Output intervals between saves of `OUT.partial`.
    pub checkpoint_every: usize,
}

impl CoupledJob {
    /// A job on `truth` written to `out` with the command line's defaults:
    /// scenario G, the learned closure sampled every step (no model yet),
    /// grid 64, the whole truth, one member, the default sampler, seed 0,
    /// a progress save every 100 output intervals.
    pub fn new(truth: &Path, out: &Path) -> Self {
        Self {
            truth: truth.to_path_buf(),
            scenario: Scenario::G,
            closure: ClosureKind::Learned,
            coefficient: None,
            perturb: 0.0,
            mean_samples: 8,
            model: None,
            grid: 64,
            start: None,
            span: None,
            every: 1,
            ensemble: 1,
            observations: None,
            sampler: SamplerConfig::default(),
            allow_untrained_noise: false,
            seed: 0,
            out: out.to_path_buf(),
            quiet: false,
            resume: false,
            checkpoint_every: 100,
        }
    }

    /// The closure with the coefficient applied, after checking the
    /// settings that need no file.
    fn check(&self) -> Result<ClosureKind> {
        // The coarse grids a truth can hold (`simulate --coarse`).
        if !self.grid.is_power_of_two() || self.grid < 8 {
            job_bail!(
                "--grid {}: coarse grids are powers of two, at least 8 (as `simulate --coarse` records them)",
                self.grid
            );
        }
        let kind = match (self.closure, self.coefficient) {
            (kind, None) => kind,
            (ClosureKind::Eddy(mut e), Some(c)) if e.coefficient != Coefficient::Dynamic => {
                if !(c.is_finite() && c >= 0.0) {
                    job_bail!("--coefficient {c}: must be finite and >= 0");
                }
                e.coefficient = Coefficient::Constant(c);
                ClosureKind::Eddy(e)
            }
            _ => job_bail!("--coefficient is only used with --closure smagorinsky or leith"),
        };
        let learned = kind.is_learned();
        if self.mean_samples == 0 {
            job_bail!("--mean-samples must be >= 1");
        }
        if !(self.perturb.is_finite() && self.perturb >= 0.0) {
            job_bail!("--perturb {}: must be finite and >= 0", self.perturb);
        }
        if self.perturb > 0.0 && kind != ClosureKind::Learned {
            job_bail!("--perturb is only used with --closure learned");
        }
        if self.every == 0 || self.ensemble == 0 {
            job_bail!("--every and --ensemble must be >= 1");
        }
        if !learned && self.model.is_some() {
            job_bail!("--model is only used with --closure learned or mean");
        }
        if kind == ClosureKind::Oracle && self.scenario == Scenario::Sgs {
            job_bail!("--closure oracle: the sgs term has no part computable from the coarse state (its exact value needs the fine run)");
        }
        if let ClosureKind::Eddy(e) = kind {
            if self.scenario == Scenario::H {
                job_bail!("--closure {e}: an eddy viscosity cannot stand in for the convection the H model omits; use it with --scenario sgs (or g, as a diffusion)");
            }
            if e.coefficient == Coefficient::Dynamic && self.grid < 16 {
                job_bail!(
                    "--closure {e}: the dynamic procedure needs a grid of at least 16, got {}",
                    self.grid
                );
            }
        }
        if !learned && (self.every != 1 || self.ensemble != 1) {
            job_bail!("--every and --ensemble are only used with --closure learned or mean (the other closures are deterministic)");
        }
        if self.perturb > 0.0 && self.every == 1 {
            job_bail!("--perturb acts between samples: it needs --every > 1");
        }
        if let Some(span) = self.span {
            if !(span.is_finite() && span > 0.0) {
                job_bail!("--span {span}: must be a positive time");
            }
        }
        if self.checkpoint_every == 0 {
            job_bail!("--checkpoint-every must be >= 1");
        }
        Ok(kind)
    }

    /// Reads and checks everything before any GPU work: the settings, the
    /// output (and, with `resume`, the interrupted run's progress), the
    /// truth's fields and the window of the run, the model and whether it
    /// fits the run.
    ///
    /// # Errors
    /// [`Error::Job`] or [`Error::InvalidArgument`] naming what does not
    /// fit: settings of another closure, a truth without the grid's fields
    /// or too short for the span, a model of another scenario, grid or
    /// preset, a schedule outside the model's noise range, an existing
    /// output, a progress file of another job; read errors.
    pub fn plan(&self) -> Result<CoupledPlan> {
        let kind = self.check()?;
        let inputs: Vec<&Path> = std::iter::once(&self.truth)
            .chain(&self.model)
            .map(PathBuf::as_path)
            .collect();
        let resumable = Resumable::open(&self.out, &inputs, self.resume, MissingPartial::Refuse)?;
        let truth = Truth::read(self)?;
        let (m, b) = (self.grid, truth.trajectories);
        let fine = NsConfig {
            batch: b * self.ensemble,
            seed: self.seed,
            ..truth.fine.clone()
        };
        let mut cfg = coarse_config(self.scenario, &fine, m);
        if kind == ClosureKind::Oracle {
            // The coarse model with the omitted term's deterministic part
            // put back: ν∆ω (G) or its own convection (H).
            cfg.nu = fine.nu;
            cfg.advection = true;
        }
        cfg.validate()?;
        let model = if kind.is_learned() {
            Some(self.model(&truth)?)
        } else {
            None
        };
        let mut plan = CoupledPlan {
            job: self.clone(),
            kind,
            resumable,
            cfg,
            truth,
            model,
            identity: Vec::new(),
            resumed: None,
        };
        plan.identity = plan.identity();
        let identity = plan.identity.iter().map(|(k, v)| (*k, v.as_str()));
        if let Some(f) = plan.resumable.load(identity)? {
            plan.resumed = Some(Partial::read(
                plan.resumable.partial(),
                &f,
                (b * self.ensemble, m),
            )?);
        }
        Ok(plan)
    }

    /// [`Self::plan`], then [`CoupledPlan::run`].
    ///
    /// # Errors
    /// As those.
    pub fn run(&self, gpu: &Gpu) -> Result<CoupledSummary> {
        self.plan()?.run(gpu)
    }

    /// The arguments of the `diffclosure couple` command that runs this
    /// job: the truth, scenario, grid, closure and output always, every
    /// other setting where it differs from [`Self::new`]'s (the command
    /// line's defaults). A constant eddy viscosity's own non-default
    /// coefficient (with `coefficient` unset) is written as
    /// `--coefficient`: the same run, which the command line holds in
    /// `coefficient`.
    pub fn command_line(&self) -> Vec<String> {
        let d = Self::new(&self.truth, &self.out);
        let (every, every_default) = (self.checkpoint_every, d.checkpoint_every);
        let coefficient = self.coefficient.or(match self.closure {
            ClosureKind::Eddy(EddyViscosity {
                coefficient: Coefficient::Constant(c),
                ..
            }) if Coefficient::Constant(c) != Coefficient::DEFAULT => Some(c),
            _ => None,
        });
        let mut c = CommandLine::new("couple");
        c.arg("--truth", self.truth.display())
            .arg("--scenario", self.scenario.to_string().to_lowercase())
            .arg("--grid", self.grid)
            .arg("--closure", self.closure)
            .opt("--coefficient", coefficient)
            .unless_default("--perturb", self.perturb, d.perturb)
            .unless_default("--mean-samples", self.mean_samples, d.mean_samples)
            .opt_path("--model", self.model.as_deref())
            .unless_default("--every", self.every, d.every)
            .unless_default("--ensemble", self.ensemble, d.ensemble)
            .opt("--start", self.start)
            .opt("--span", self.span)
            .opt("--observations", self.observations);
        self.sampler.push_flags(&mut c, self.allow_untrained_noise);
        c.unless_default("--seed", self.seed, d.seed)
            .arg("--out", self.out.display())
            .progress(every, every_default, self.quiet, self.resume);
        c.into_words()
    }

    /// Loads the model and checks it against the run; gathers the
    /// observations of every output frame.
    fn model(&self, truth: &Truth) -> Result<Model> {
        let path = self
            .model
            .as_ref()
            .ok_or_else(|| Error::Job("--closure learned and mean need --model".into()))?;
        let m = self.grid;
        let ck = checkpoint::load(path)?;
        if let Some(s) = ck.meta.get("data.scenario") {
            if s.parse::<Scenario>().ok() != Some(self.scenario) {
                job_bail!(
                    "{} was trained on scenario {s}, the run is {}",
                    path.display(),
                    self.scenario
                );
            }
        }
        ck.config.check_grid(m)?;
        checkpoint::check_preset(&ck.meta, &truth.metadata)
            .map_err(|e| e.context(format!("{} with {}", path.display(), self.truth.display())))?;
        let use_obs = self.observations.unwrap_or(ck.config.sparse);
        if ck.config.sparse && !use_obs {
            job_bail!(
                "{} has the sparse pipeline: it needs --observations true",
                path.display()
            );
        }
        let sensors: usize = if use_obs {
            ck.get(path, "data.sensors")?
        } else {
            1
        };
        let observations = if use_obs {
            // The sensors sit on the training grid's points (dataset's
            // default --sensor-grid).
            let base: usize = ck.get(path, "data.grid")?;
            let idx = Sensors {
                per_axis: sensors,
                base,
            }
            .indices(m);
            let per = m * m;
            let mut o =
                Vec::with_capacity(truth.target.len() / per * self.ensemble * sensors * sensors);
            for frame in truth.target.chunks_exact(truth.trajectories * per) {
                let mut at = Vec::with_capacity(truth.trajectories * sensors * sensors);
                for u in frame.chunks_exact(per) {
                    Sensors::extend_values(&idx, u, m, &mut at);
                }
                o.extend(replicate(&at, sensors * sensors, self.ensemble));
            }
            Some(o)
        } else {
            None
        };
        let sampler = (self.sampler)
            .for_model(&ck.meta, self.allow_untrained_noise)
            .map_err(|e| e.context(format!("sampling {}", path.display())))?;
        Ok(Model {
            ck,
            sensors,
            observations,
            sampler,
        })
    }
}

/// The sampler's options as recorded in the job's identity and output
/// ([`SamplerConfig::metadata`]), its step count as `sampler_steps`
/// (`steps` counts solver steps here).
fn sampler_metadata(cfg: &SamplerConfig) -> Vec<(&'static str, String)> {
    cfg.metadata()
        .into_iter()
        .map(|(k, v)| (if k == "steps" { "sampler_steps" } else { k }, v))
        .collect()
}

/// The ensemble's members of trajectory `j` are rows `j·M .. j·M + M`:
/// each `per`-value field of `frame` repeated `members` times.
fn replicate(frame: &[f32], per: usize, members: usize) -> Vec<f32> {
    frame
        .chunks_exact(per)
        .flat_map(|f| std::iter::repeat_n(f, members).flatten().copied())
        .collect()
}

/// The part of the truth file the run covers.
struct Truth {
    /// The file's metadata (the preset is checked against the model's).
    metadata: HashMap<String, String>,
    /// The fine run's configuration (batch and seed to be set).
    fine: NsConfig,
    preset: Preset,
    /// Trajectories B.
    trajectories: usize,
    /// Solver steps per snapshot interval of the truth.
    frame_steps: usize,
    /// The truth's snapshot the run starts from.
    first: usize,
    /// The restricted vorticity `[F, B, m, m]` of the run's frames.
    omega: Vec<f32>,
    /// The scenario's closure term `[F, B, m, m]` of the run's frames.
    target: Vec<f32>,
    /// The times `[F]` of the run's frames.
    time: Vec<f32>,
    /// The truth as a resumed piece names it: its canonical path.
    id: String,
}

impl Truth {
    /// Reads the fields of `job.grid` and resolves the run's frames from
    /// `job.start` and `job.span`.
    fn read(job: &CoupledJob) -> Result<Self> {
        let path = &job.truth;
        let t = io::read(path)?;
        let id = std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.clone())
            .display()
            .to_string();
        let m = job.grid;
        let omega = t.get(path, &format!("omega_{m}")).map_err(|e| {
            let have: Vec<&str> = t
                .tensors
                .keys()
                .filter_map(|k| k.strip_prefix("omega_"))
                .collect();
            e.context(format!(
                "{} has no {m}x{m} fields (it has {}): pass --grid accordingly, or simulate with --coarse {m}",
                path.display(),
                if have.is_empty() { "none".to_string() } else { have.join(", ") }
            ))
        })?;
        let target_name = match job.scenario {
            Scenario::G => "G",
            Scenario::H => "H",
            Scenario::Sgs => "sgs",
        };
        let target = t.get(path, &format!("{target_name}_{m}"))?;
        let time = &t.get(path, "time")?.data;
        let (frames, b) = (omega.shape[0], omega.shape[1]);
        let every: usize = parse_meta(&t, path, "snapshot_every")?;
        let dt: f64 = parse_meta(&t, path, "dt")?;
        let f0 = match job.start {
            None => 0,
            Some(s) => time
                .iter()
                .position(|&v| f64::from(v) >= s - 0.5 * dt)
                .ok_or_else(|| {
                    Error::Job(format!(
                        "--start {s}: the truth ends at t = {}",
                        time[frames - 1]
                    ))
                })?,
        };
        let out_frames = match job.span {
            None => frames - f0,
            Some(span) => {
                let need = (span / (dt * every as f64)).round() as usize + 1;
                if f0 + need > frames {
                    job_bail!(
                        "--span {span} from t = {} needs snapshots to t = {:.3}, the truth ends at t = {}",
                        time[f0],
                        f64::from(time[f0]) + span,
                        time[frames - 1]
                    );
                }
                let covered = (need - 1) as f64 * dt * every as f64;
                if need < 2 {
                    job_bail!(
                        "--span {span}: shorter than the truth's snapshot interval {}",
                        dt * every as f64
                    );
                }
                if (covered - span).abs() > 1e-9 * span.max(1.0) {
                    eprintln!(
                        "note: --span {span} rounded to {covered} (whole snapshot intervals of the truth)"
                    );
                }
                need
            }
        };
        if out_frames < 2 {
            job_bail!("the run would cover less than one snapshot interval");
        }
        let fine = NsConfig {
            n: parse_meta(&t, path, "grid")?,
            length: parse_meta(&t, path, "length")?,
            nu: parse_meta(&t, path, "nu")?,
            drag: parse_meta(&t, path, "drag")?,
            dt,
            scheme: match t.meta(path, "scheme")? {
                "euler" => TimeScheme::Euler,
                _ => TimeScheme::Heun,
            },
            batch: b,
            stochastic: None,
            seed: 0,
            advection: true,
        };
        let preset: Preset = t.meta(path, "preset")?.parse()?;
        let frames = f0 * b * m * m..(f0 + out_frames) * b * m * m;
        Ok(Self {
            fine,
            preset,
            trajectories: b,
            frame_steps: every,
            first: f0,
            omega: omega.data[frames.clone()].to_vec(),
            target: target.data[frames].to_vec(),
            time: time[f0..f0 + out_frames].to_vec(),
            id,
            metadata: t.metadata,
        })
    }

    /// Output frames F.
    fn frames(&self) -> usize {
        self.time.len()
    }
}

/// The learned closure's network, sensors and sampler.
struct Model {
    ck: Checkpoint,
    /// Sensors per axis S (1 without observations).
    sensors: usize,
    /// The sensor values `[F, B·M, S, S]`, when conditioned on them.
    observations: Option<Vec<f32>>,
    sampler: SamplerConfig,
}

/// What `OUT.partial` holds.
struct Partial {
    steps: u64,
    draws: u64,
    wall_s: f64,
    snapshots: Vec<f32>,
    state: Vec<f32>,
    closure: Vec<f32>,
    eddy_c: Vec<f32>,
    sample: Vec<f32>,
}

impl Partial {
    /// The progress in `f` (read from `path`, its identity checked) of a
    /// run of `bm` trajectories on `m × m`.
    fn read(path: &Path, f: &TensorFile, (bm, m): (usize, usize)) -> Result<Self> {
        let h = m / 2 + 1;
        let (snap, state, closure) = (
            f.get(path, "vorticity")?,
            f.get(path, "state")?,
            f.get(path, "closure")?,
        );
        if state.shape != [bm, m, h, 2]
            || closure.shape != state.shape
            || snap.data.len() % (bm * m * m) != 0
        {
            job_bail!("{}: tensors of the wrong shape", path.display());
        }
        Ok(Self {
            steps: parse_meta(f, path, "steps_done")?,
            draws: parse_meta(f, path, "draws")?,
            wall_s: parse_meta(f, path, "wall_s")?,
            snapshots: snap.data.clone(),
            state: state.data.clone(),
            closure: closure.data.clone(),
            eddy_c: f.get(path, "eddy_c")?.data.clone(),
            sample: f.get(path, "sample")?.data.clone(),
        })
    }
}

/// A checked coupled job, ready to run: the coarse model, the truth's
/// frames, the model and the progress of an interrupted run.
pub struct CoupledPlan {
    job: CoupledJob,
    /// The closure, its coefficient applied.
    kind: ClosureKind,
    resumable: Resumable,
    /// The coarse model.
    cfg: NsConfig,
    truth: Truth,
    model: Option<Model>,
    /// What identifies the job: a resumed piece must continue the same one.
    identity: Vec<(&'static str, String)>,
    resumed: Option<Partial>,
}

/// Resident memory of the process (MiB).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResidentMemory {
    /// After the first snapshot of this process.
    pub first_snapshot: f64,
    /// At the end.
    pub end: f64,
    /// The peak.
    pub peak: f64,
}

/// What a coupled run did.
#[derive(Clone, Debug, PartialEq)]
pub struct CoupledSummary {
    /// The file written.
    pub out: PathBuf,
    /// Truth trajectories B.
    pub trajectories: usize,
    /// Ensemble members M per trajectory.
    pub ensemble: usize,
    /// Coarse grid m.
    pub grid: usize,
    /// The times of the first and last output frames.
    pub time: (f32, f32),
    /// The closure (its coefficient applied).
    pub closure: ClosureKind,
    /// Solver steps between closure samples (the learned closures).
    pub every: Option<usize>,
    /// Wall seconds of the run (of every piece of a resumed one).
    pub wall_s: f64,
    /// Simulated seconds.
    pub simulated_s: f64,
    /// The adapter, as [`Gpu::describe`].
    pub adapter: String,
    /// Resident memory (Linux): a driver that grows per submission shows
    /// as the difference of the end and the first snapshot.
    pub memory: Option<ResidentMemory>,
}

impl fmt::Display for CoupledSummary {
    /// The lines `couple` prints: the file, its trajectories, members,
    /// grid, span and closure, the wall time per simulated second on the
    /// adapter, and the resident memory where measured.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wrote {} ({} trajectories x {} members on {m}x{m}, t = {} .. {}, closure {}{}): {:.2} s wall per simulated second on {}",
            self.out.display(),
            self.trajectories,
            self.ensemble,
            self.time.0,
            self.time.1,
            self.closure,
            self.every.map_or(String::new(), |e| format!(" every {e} steps")),
            self.wall_s / self.simulated_s,
            self.adapter,
            m = self.grid,
        )?;
        if let Some(rss) = self.memory {
            write!(
                f,
                "\nresident memory: {:.0} MiB after the first snapshot, {:.0} MiB at the end ({:+.0} MiB), peak {:.0} MiB",
                rss.first_snapshot,
                rss.end,
                rss.end - rss.first_snapshot,
                rss.peak
            )?;
        }
        Ok(())
    }
}

impl CoupledPlan {
    /// The coarse model's configuration.
    pub fn config(&self) -> &NsConfig {
        &self.cfg
    }

    /// Solver steps of the whole run.
    pub fn steps(&self) -> usize {
        (self.truth.frames() - 1) * self.truth.frame_steps
    }

    fn identity(&self) -> Vec<(&'static str, String)> {
        let a = &self.job;
        let mut id: Vec<(&'static str, String)> = vec![
            ("truth", self.truth.id.clone()),
            ("scenario", a.scenario.to_string()),
            ("closure", a.closure.to_string()),
            ("coefficient", format!("{:?}", a.coefficient)),
            ("model", format!("{:?}", a.model)),
            ("grid", a.grid.to_string()),
            ("start_frame", self.truth.first.to_string()),
            ("frames", self.truth.frames().to_string()),
            ("every", a.every.to_string()),
            ("ensemble", a.ensemble.to_string()),
            ("observations", format!("{:?}", a.observations)),
            ("seed", a.seed.to_string()),
            ("mean_samples", a.mean_samples.to_string()),
            ("perturb", a.perturb.to_string()),
        ];
        id.extend(sampler_metadata(&a.sampler));
        id
    }

    /// The closure of the run.
    fn closure(&self, gpu: &Gpu) -> Result<Closure> {
        let a = &self.job;
        Ok(match (&self.model, self.kind) {
            (_, ClosureKind::Eddy(e)) => {
                Closure::Eddy(Box::new(EddyClosure::new(gpu, &self.cfg, e)?))
            }
            (None, _) => Closure::None,
            (Some(model), kind) => {
                let k = if kind == ClosureKind::Mean {
                    a.mean_samples
                } else {
                    1
                };
                let mut c = LearnedClosure::mean_of(
                    gpu,
                    (&model.ck.config, &model.ck.params),
                    (self.cfg.batch, a.grid, model.sensors),
                    model.sampler,
                    Method::Fft,
                    a.seed,
                    k,
                )?;
                if let Some(o) = &model.observations {
                    c.set_observations(o, self.truth.frames())?;
                }
                Closure::Learned {
                    closure: Box::new(c),
                    every: a.every,
                    frame_steps: self.truth.frame_steps,
                    perturb: a.perturb,
                }
            }
        })
    }

    /// Saves the run's progress to `OUT.partial`: the snapshots, the
    /// state and closure spectra, the eddy coefficients, the learned
    /// closure's noise position and held sample (the perturbation between
    /// samples starts from it).
    fn save(
        &self,
        gpu: &Gpu,
        run: &CoupledRun,
        snaps: &[f32],
        eddy_c: &[f32],
        wall: f64,
    ) -> Result<()> {
        let (draws, sample) = match run.closure() {
            Closure::Learned { closure, .. } => (closure.draws(), gpu.read_one(closure.sample())?),
            _ => (0, Vec::new()),
        };
        let (bm, m) = (self.cfg.batch, self.cfg.n);
        let h = m / 2 + 1;
        let t = |shape: Vec<usize>, data: Vec<f32>| NamedTensor { shape, data };
        let tensors = [
            (
                "vorticity",
                t(vec![snaps.len() / (bm * m * m), bm, m, m], snaps.to_vec()),
            ),
            (
                "state",
                t(vec![bm, m, h, 2], run.solver().read_vorticity_hat()?),
            ),
            (
                "closure",
                t(vec![bm, m, h, 2], gpu.read_one(run.solver().closure_hat())?),
            ),
            ("eddy_c", t(vec![eddy_c.len()], eddy_c.to_vec())),
            ("sample", t(vec![sample.len()], sample)),
        ];
        let mut meta: HashMap<String, String> = self
            .identity
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        meta.insert("steps_done".into(), run.steps().to_string());
        meta.insert("draws".into(), draws.to_string());
        meta.insert("wall_s".into(), wall.to_string());
        let refs: Vec<(&str, &NamedTensor)> = tensors.iter().map(|(k, v)| (*k, v)).collect();
        self.resumable.save(&refs, &meta)
    }

    /// Runs the coarse model with its closure from the first frame (or the
    /// interrupted run's progress), checking the CFL number at every output
    /// frame and saving progress every `checkpoint_every` frames; writes
    /// the file.
    ///
    /// # Errors
    /// A run that blows up (a CFL number over 1 or non-finite: nothing is
    /// written); GPU and I/O errors.
    pub fn run(mut self, gpu: &Gpu) -> Result<CoupledSummary> {
        let (m, per) = (self.cfg.n, self.cfg.n * self.cfg.n);
        let (b, every, dt) = (self.truth.trajectories, self.truth.frame_steps, self.cfg.dt);
        let t_start = f64::from(self.truth.time[0]);
        let mut solver = NsSolver::new(gpu, &self.cfg, Some(&self.truth.preset.forcing(m)))?;
        solver.set_vorticity(&replicate(
            &self.truth.omega[..b * per],
            per,
            self.job.ensemble,
        ))?;
        let mut run = CoupledRun::new(gpu, self.job.scenario, solver, self.closure(gpu)?)?;
        let steps = self.steps();
        let mut progress = Progress::new(
            "couple",
            steps as u64,
            "steps",
            "{bar:30} {pos}/{len} steps [{elapsed} < {eta}] {msg}",
            self.job.quiet,
        );
        let mut snaps = run.solver().vorticity()?;
        // The eddy coefficients C (C_S² / C_L³) at the output intervals.
        let mut eddy_c: Vec<f32> = Vec::new();
        let (mut first, mut wall_before) = (1, 0.0);
        if let Some(p) = self.resumed.take() {
            run.resume(p.steps, &p.state, &p.closure)?;
            if let Closure::Learned { closure, .. } = run.closure_mut() {
                closure.set_draws(p.draws);
                closure.set_sample(&p.sample)?;
            }
            snaps = p.snapshots;
            eddy_c = p.eddy_c;
            wall_before = p.wall_s;
            first = p.steps as usize + 1;
            eprintln!(
                "resumed {} at step {} of {steps}",
                self.resumable.partial().display(),
                p.steps
            );
        }
        let t0 = Instant::now();
        // Resident memory after the first snapshot of this process and at
        // the end: a driver that grows per submission shows as their
        // difference.
        let mut rss_first = None;
        for s in first..=steps {
            run.step()?;
            if s % every == 0 {
                let cfl = run.solver().cfl()?;
                if !cfl.is_finite() || cfl > 1.0 {
                    job_bail!(
                        "the coupled run blew up at t = {:.3} (CFL {cfl}); nothing written",
                        t_start + s as f64 * dt
                    );
                }
                snaps.extend(run.solver().vorticity()?);
                if rss_first.is_none() {
                    rss_first = crate::gpu::resident_mib().map(|(rss, _)| rss);
                }
                if let Closure::Eddy(e) = run.closure() {
                    eddy_c.extend(e.coefficients()?);
                }
                progress.set_message(format!("t = {:.2}", t_start + s as f64 * dt));
                if (s / every).is_multiple_of(self.job.checkpoint_every) && s < steps {
                    let wall = wall_before + t0.elapsed().as_secs_f64();
                    self.save(gpu, &run, &snaps, &eddy_c, wall)?;
                }
            }
            progress.set_position(s as u64);
        }
        progress.finish();
        let wall = wall_before + t0.elapsed().as_secs_f64();
        let memory =
            rss_first
                .zip(crate::gpu::resident_mib())
                .map(|(first_snapshot, (end, peak))| ResidentMemory {
                    first_snapshot,
                    end,
                    peak,
                });
        let summary = CoupledSummary {
            out: self.resumable.out().to_path_buf(),
            trajectories: b,
            ensemble: self.job.ensemble,
            grid: m,
            time: (self.truth.time[0], self.truth.time[self.truth.frames() - 1]),
            closure: self.kind,
            every: self.model.as_ref().map(|_| self.job.every),
            wall_s: wall,
            simulated_s: steps as f64 * dt,
            adapter: gpu.describe(),
            memory,
        };
        let meta = self.output_metadata(&summary, &eddy_c);
        let frames = self.truth.frames();
        let tensors = [
            (
                "vorticity",
                NamedTensor {
                    shape: vec![frames, self.cfg.batch, m, m],
                    data: snaps,
                },
            ),
            (
                "truth",
                NamedTensor {
                    shape: vec![frames, b, m, m],
                    data: std::mem::take(&mut self.truth.omega),
                },
            ),
            (
                "time",
                NamedTensor {
                    shape: vec![frames],
                    data: self.truth.time.clone(),
                },
            ),
        ];
        let refs: Vec<(&str, &NamedTensor)> = tensors.iter().map(|(k, v)| (*k, v)).collect();
        self.resumable.finish(&refs, &meta)?;
        Ok(summary)
    }

    /// The output file's metadata.
    fn output_metadata(&self, r: &CoupledSummary, eddy_c: &[f32]) -> HashMap<String, String> {
        let a = &self.job;
        let mut meta: HashMap<String, String> = HashMap::new();
        for (k, v) in [
            ("format", FORMAT.to_string()),
            ("truth", a.truth.display().to_string()),
            ("scenario", a.scenario.to_string()),
            ("closure", a.closure.to_string()),
            ("grid", r.grid.to_string()),
            ("ensemble", r.ensemble.to_string()),
            ("trajectories", r.trajectories.to_string()),
            ("dt", self.cfg.dt.to_string()),
            ("length", self.truth.fine.length.to_string()),
            ("steps", self.steps().to_string()),
            ("wall_s", format!("{:.3}", r.wall_s)),
            ("simulated_s", r.simulated_s.to_string()),
            ("adapter", r.adapter.clone()),
        ] {
            meta.insert(k.into(), v);
        }
        if let Some(rss) = r.memory {
            meta.insert(
                "rss_first_snapshot_mib".into(),
                format!("{:.0}", rss.first_snapshot),
            );
            meta.insert("rss_end_mib".into(), format!("{:.0}", rss.end));
            meta.insert("rss_peak_mib".into(), format!("{:.0}", rss.peak));
        }
        if !eddy_c.is_empty() {
            let mean = eddy_c.iter().map(|&c| f64::from(c)).sum::<f64>() / eddy_c.len() as f64;
            meta.insert("eddy_c_mean".into(), format!("{mean:.4e}"));
        }
        if let ClosureKind::Eddy(e) = self.kind {
            if let Coefficient::Constant(c) = e.coefficient {
                meta.insert("eddy_constant".into(), c.to_string());
            }
        }
        if let Some(model) = &self.model {
            meta.insert("every".into(), a.every.to_string());
            meta.insert(
                "model".into(),
                a.model
                    .as_ref()
                    .map_or(String::new(), |p| p.display().to_string()),
            );
            meta.insert(
                "observations".into(),
                model.observations.is_some().to_string(),
            );
            if self.kind == ClosureKind::Mean {
                meta.insert("mean_samples".into(), a.mean_samples.to_string());
            }
            meta.insert("perturb".into(), a.perturb.to_string());
            for (k, v) in sampler_metadata(&a.sampler) {
                meta.insert(k.into(), v);
            }
            for (k, v) in model.ck.config.to_metadata() {
                meta.insert(format!("model.{k}"), v);
            }
        }
        meta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The output and the partial file record the closure by its name: it
    /// must read back as given.
    #[test]
    fn closure_names_round_trip() {
        for name in [
            "none",
            "learned",
            "mean",
            "oracle",
            "smagorinsky",
            "leith",
            "dynamic-smagorinsky",
            "dynamic-leith",
        ] {
            let kind: ClosureKind = name.parse().unwrap();
            assert_eq!(kind.to_string(), name);
        }
        assert!("Smagorinsky".parse::<ClosureKind>().is_err());
    }
}
