//! The trajectory job: truth trajectories of a [`Preset`] on the GPU, with
//! snapshots of the fine vorticity and of the restricted vorticity and
//! closure terms on coarse grids, written to one safetensors file of
//! format [`FORMAT`]; resumable from `OUT.partial` ([`Resumable`]).
//!
//! [`TrajectoryJob`] is the configuration; [`TrajectoryJob::plan`] checks
//! it, the output and an `--init` file or an interrupted run's progress
//! before any GPU work; [`TrajectoryPlan::run`] steps and writes the file.
//!
//! The file: `vorticity` `[T, B, n, n]` (unless `fine` is off), for each
//! coarse grid `m` the fields `omega_m`, `G_m`, `H_m`, `sgs_m`
//! `[T, B, m, m]`, and `time` `[T]`; metadata: `format`, the preset and
//! its physics, the run's settings (docs/formats.md lists the keys).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::data::io::{self, NamedTensor, TensorFile};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::job::{CommandLine, MissingPartial, Progress, Resumable};
use crate::job_bail;
use crate::ns::closure::{ClosureRecorder, FIELDS};
use crate::ns::restrict::Restriction;
use crate::ns::{NsConfig, NsSolver, Preset, TimeScheme};

/// The `format` metadata value of a trajectory file.
pub const FORMAT: &str = "diffclosure.trajectory.v1";

/// Metadata that must be equal between an interrupted run and its
/// resumption.
const RESUME_KEYS: [&str; 13] = [
    "preset",
    "grid",
    "batch",
    "seed",
    "dt",
    "scheme",
    "steps",
    "snapshot_every",
    "first_snapshot_step",
    "coarse",
    "restriction",
    "fine_stored",
    "stochastic",
];

/// A trajectory job: `batch` trajectories of a preset from random (or
/// given) initial vorticity, snapshots every `snapshot_every` steps from
/// `t_start` on.
#[derive(Clone, Debug, PartialEq)]
pub struct TrajectoryJob {
    /// The flow: domain, viscosity, forcing, noise, initial field.
    pub preset: Preset,
    /// Grid points per side n (a power of two); `None`: the preset's fine
    /// grid.
    pub grid: Option<usize>,
    /// Trajectories B (independent initial conditions).
    pub batch: usize,
    /// Seed of the initial conditions and the stochastic forcing.
    pub seed: u64,
    /// Number of steps; when `None`, `t_end / dt` rounded.
    pub steps: Option<usize>,
    /// End time (model time units; used when `steps` is `None`); `None`:
    /// the end of the preset's data window.
    pub t_end: Option<f64>,
    /// Time of the first snapshot; `None`: the start of the preset's data
    /// window (0 with `steps`, or with a `t_end` before that window).
    pub t_start: Option<f64>,
    /// Steps between snapshots; `None`: the preset's.
    pub snapshot_every: Option<usize>,
    /// Time step; `None`: the preset's.
    pub dt: Option<f64>,
    /// Explicit scheme of the advection.
    pub scheme: TimeScheme,
    /// A file whose tensor `vorticity` (`[n, n]`, `[B, n, n]` or
    /// `[T, B, n, n]`: the last snapshot) is the initial state, instead of
    /// the preset's Gaussian random field.
    pub init: Option<PathBuf>,
    /// Coarse grids m to record `omega_m`, `G_m`, `H_m`, `sgs_m` on;
    /// `None`: the preset's coarse grid when it is below the fine grid.
    pub coarse: Option<Vec<usize>>,
    /// Fine-to-coarse restriction.
    pub restriction: Restriction,
    /// Store the fine vorticity (off: only the coarse fields and `time`).
    pub fine: bool,
    /// The output file.
    pub out: PathBuf,
    /// Steps between progress saves to `OUT.partial` (also written at the
    /// first snapshot after that many steps).
    pub checkpoint_every: usize,
    /// Continue an interrupted run from `OUT.partial`.
    pub resume: bool,
    /// No progress display.
    pub quiet: bool,
}

impl TrajectoryJob {
    /// A job of `preset` written to `out` with the command line's defaults:
    /// one trajectory of seed 0 on the preset's grids over its data window,
    /// Heun, spectral restriction, the fine field stored, a progress save
    /// every 2000 steps.
    pub fn new(preset: Preset, out: &Path) -> Self {
        Self {
            preset,
            grid: None,
            batch: 1,
            seed: 0,
            steps: None,
            t_end: None,
            t_start: None,
            snapshot_every: None,
            dt: None,
            scheme: TimeScheme::Heun,
            init: None,
            coarse: None,
            restriction: Restriction::default(),
            fine: true,
            out: out.to_path_buf(),
            checkpoint_every: 2000,
            resume: false,
            quiet: false,
        }
    }

    /// Resolves the run from the job and the preset and checks everything
    /// before any GPU work: the settings, the memory the snapshots need,
    /// the output, and the `init` file or (with `resume`) the interrupted
    /// run's progress.
    ///
    /// # Errors
    /// [`Error::Job`] or [`Error::InvalidArgument`] naming what does not
    /// fit: 0 steps, a snapshot time after the end, bad coarse grids,
    /// snapshots that do not fit in memory, an existing output, a progress
    /// file of another run, an `init` field of the wrong shape; read
    /// errors.
    pub fn plan(&self) -> Result<TrajectoryPlan> {
        let spec = self.preset.spec();
        let n = self.grid.unwrap_or(spec.fine_n);
        let mut cfg = self.preset.config(n, self.batch, self.seed);
        cfg.scheme = self.scheme;
        if let Some(dt) = self.dt {
            cfg.dt = dt;
        }
        cfg.validate()?;
        let steps = match (self.steps, self.t_end) {
            (Some(s), _) => s,
            (None, t) => {
                let t = t.unwrap_or(spec.window.1);
                if !(t.is_finite() && t > 0.0) {
                    job_bail!("--t-end {t}: must be a positive time");
                }
                (t / cfg.dt).round() as usize
            }
        };
        if steps == 0 {
            job_bail!("nothing to do: 0 steps");
        }
        let every = self.snapshot_every.unwrap_or(spec.snapshot_every);
        if every == 0 || self.checkpoint_every == 0 {
            job_bail!("--snapshot-every and --checkpoint-every must be >= 1");
        }
        let t_start = self.t_start.unwrap_or(
            if self.steps.is_some() || self.t_end.is_some_and(|t| t < spec.window.0) {
                0.0
            } else {
                spec.window.0
            },
        );
        if !(t_start.is_finite() && t_start >= 0.0) {
            job_bail!("--t-start {t_start}: must be a time >= 0");
        }
        let first_snapshot = (t_start / cfg.dt).round() as usize;
        if first_snapshot > steps {
            job_bail!(
                "--t-start {t_start} is after the end of the run (t = {})",
                steps as f64 * cfg.dt
            );
        }
        let coarse = self
            .coarse
            .clone()
            .unwrap_or_else(|| [spec.coarse_n].into_iter().filter(|m| *m < n).collect());
        for (i, &m) in coarse.iter().enumerate() {
            if !m.is_power_of_two() || m < 8 || m > n {
                job_bail!("--coarse {m}: must be a power of two in [8, {n}] (the fine grid)");
            }
            if coarse[..i].contains(&m) {
                job_bail!("--coarse lists {m} twice");
            }
        }
        if !self.fine && coarse.is_empty() {
            job_bail!("--no-fine without coarse grids would store no field: pass --coarse");
        }
        check_output_size(&cfg, &coarse, (steps - first_snapshot) / every + 1)?;
        let inputs: Vec<&Path> = self.init.iter().map(PathBuf::as_path).collect();
        let resumable = Resumable::open(&self.out, &inputs, self.resume, MissingPartial::Refuse)?;
        let mut plan = TrajectoryPlan {
            job: self.clone(),
            cfg,
            coarse,
            steps,
            first_snapshot,
            every,
            resumable,
            meta: HashMap::new(),
            start: Start::Random,
        };
        plan.meta = plan.metadata();
        let identity = RESUME_KEYS.map(|k| (k, plan.meta[k].as_str()));
        plan.start = match plan.resumable.load(identity)? {
            Some(f) => plan.resumed(f)?,
            None => match &self.init {
                Some(p) => Start::Init(read_init(p, n, self.batch)?),
                None => Start::Random,
            },
        };
        Ok(plan)
    }

    /// [`Self::plan`], then [`TrajectoryPlan::run`].
    ///
    /// # Errors
    /// As those.
    pub fn run(&self, gpu: &Gpu) -> Result<TrajectorySummary> {
        self.plan()?.run(gpu)
    }

    /// The arguments of the `diffclosure simulate` command that runs this
    /// job: the preset, batch, seed and restriction always (they say what
    /// the data is), every other setting where it differs from
    /// [`Self::new`]'s (the command line's defaults). `t_end` is left out
    /// when `steps` is given: the run ignores it then (and the command line
    /// takes only one of them).
    pub fn command_line(&self) -> Vec<String> {
        let d = Self::new(self.preset, &self.out);
        let (every, every_default) = (self.checkpoint_every, d.checkpoint_every);
        let coarse = self.coarse.as_ref().map(|grids| {
            if grids.is_empty() {
                "none".to_string()
            } else {
                grids
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            }
        });
        let mut c = CommandLine::new("simulate");
        c.arg("--preset", self.preset)
            .opt("--grid", self.grid)
            .arg("--batch", self.batch)
            .arg("--seed", self.seed)
            .opt("--t-end", self.t_end.filter(|_| self.steps.is_none()))
            .opt("--steps", self.steps)
            .opt("--t-start", self.t_start)
            .opt("--snapshot-every", self.snapshot_every)
            .opt("--coarse", coarse)
            .arg("--restriction", self.restriction)
            .flag("--no-fine", !self.fine)
            .opt("--dt", self.dt)
            .unless_default("--scheme", self.scheme, d.scheme)
            .opt_path("--init", self.init.as_deref())
            .arg("--out", self.out.display())
            .progress(every, every_default, self.quiet, self.resume);
        c.into_words()
    }
}

/// Where the run starts.
enum Start {
    /// The preset's Gaussian random field.
    Random,
    /// The `init` file's fields `[B, n, n]`.
    Init(Vec<f32>),
    /// An interrupted run's progress.
    Resumed(Progressed),
}

/// What `OUT.partial` holds: the solver's state and the snapshots so far.
struct Progressed {
    step: usize,
    rng_counter: u64,
    /// The vorticity spectrum `[B, n, n/2 + 1, 2]`.
    w_hat: Vec<f32>,
    /// The recorded fields by name (as [`TrajectoryPlan::records`]).
    records: BTreeMap<String, Vec<f32>>,
    times: Vec<f32>,
}

/// Every recorded field, by name: (per-snapshot shape, values).
type Records = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// A checked trajectory job, ready to run: the solver's configuration, the
/// coarse grids, the snapshot steps, the output's metadata and where the
/// run starts.
pub struct TrajectoryPlan {
    job: TrajectoryJob,
    cfg: NsConfig,
    coarse: Vec<usize>,
    steps: usize,
    first_snapshot: usize,
    every: usize,
    resumable: Resumable,
    meta: HashMap<String, String>,
    start: Start,
}

/// What a trajectory run did.
#[derive(Clone, Debug, PartialEq)]
pub struct TrajectorySummary {
    /// The file written.
    pub out: PathBuf,
    /// Snapshots T in the file.
    pub snapshots: usize,
    /// Trajectories B.
    pub batch: usize,
    /// Fine grid side n.
    pub grid: usize,
    /// Whether the fine vorticity is stored.
    pub fine_stored: bool,
    /// The end time of the run (steps · dt); the run starts at t = 0.
    pub t_end: f64,
    /// The times of the first and last snapshot in the file (the data
    /// window: later than 0 when the spin-up is not stored).
    pub snapshot_times: (f64, f64),
    /// The adapter, as [`Gpu::describe`].
    pub adapter: String,
}

impl std::fmt::Display for TrajectorySummary {
    /// The line `simulate` prints: the file, its snapshots, grid and span,
    /// and the adapter.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "wrote {} ({} snapshots of {} x {n}x{n}{}, at t = {:.2} .. {:.2} of a run over t = 0 .. {}) on {}",
            self.out.display(),
            self.snapshots,
            self.batch,
            if self.fine_stored {
                ""
            } else {
                ", coarse fields only"
            },
            self.snapshot_times.0,
            self.snapshot_times.1,
            self.t_end,
            self.adapter,
            n = self.grid,
        )
    }
}

impl TrajectoryPlan {
    /// The solver's configuration (fine grid, batch, time step, …).
    pub fn config(&self) -> &NsConfig {
        &self.cfg
    }

    /// Solver steps of the whole run.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The coarse grids recorded.
    pub fn coarse(&self) -> &[usize] {
        &self.coarse
    }

    /// Step indices at which snapshots are taken.
    fn snapshot_steps(&self) -> impl Iterator<Item = usize> + '_ {
        (self.first_snapshot..=self.steps).step_by(self.every)
    }

    fn metadata(&self) -> HashMap<String, String> {
        let (c, a) = (&self.cfg, &self.job);
        let mut m = HashMap::new();
        let mut put = |k: &str, v: String| {
            m.insert(k.to_string(), v);
        };
        put("format", FORMAT.into());
        put("preset", a.preset.to_string());
        put("forcing", a.preset.spec().forcing_formula.into());
        put("grid", c.n.to_string());
        put("length", c.length.to_string());
        put("nu", c.nu.to_string());
        put("drag", c.drag.to_string());
        put("dt", c.dt.to_string());
        put("scheme", c.scheme.to_string());
        put("batch", c.batch.to_string());
        put("seed", c.seed.to_string());
        put("steps", self.steps.to_string());
        put("snapshot_every", self.every.to_string());
        put(
            "coarse",
            self.coarse
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
        put("restriction", a.restriction.to_string());
        put("fine_stored", a.fine.to_string());
        put("first_snapshot_step", self.first_snapshot.to_string());
        put(
            "stochastic",
            c.stochastic.map_or("none".into(), |s| {
                format!("alpha={} kappa={} sigma={}", s.alpha, s.kappa, s.sigma)
            }),
        );
        put(
            "init",
            a.init
                .as_ref()
                .map_or("grf".into(), |p| p.display().to_string()),
        );
        put("version", env!("CARGO_PKG_VERSION").into());
        m
    }

    /// The fields recorded at every snapshot, empty: (per-snapshot shape,
    /// values).
    fn records(&self) -> Records {
        let (b, n) = (self.cfg.batch, self.cfg.n);
        let mut records = Records::new();
        if self.job.fine {
            records.insert("vorticity".into(), (vec![b, n, n], Vec::new()));
        }
        for &m in &self.coarse {
            for f in FIELDS {
                records.insert(format!("{f}_{m}"), (vec![b, m, m], Vec::new()));
            }
        }
        records
    }

    /// The progress of an interrupted run (its identity already checked);
    /// its start (`init`) becomes this run's.
    fn resumed(&mut self, f: TensorFile) -> Result<Start> {
        let path = &self.resumable.partial().to_path_buf();
        // The start is the interrupted run's; an init given again must
        // name the same one.
        let init = f.meta(path, "init")?.to_string();
        if self.job.init.is_some() && self.meta["init"] != init {
            job_bail!(
                "{}: was started from {init}, now --init {}: arguments must match to resume (or drop --init)",
                path.display(),
                self.meta["init"]
            );
        }
        self.meta.insert("init".into(), init);
        let mut records = BTreeMap::new();
        for name in self.records().into_keys() {
            let data = f.get(path, &name)?.data.clone();
            records.insert(name, data);
        }
        Ok(Start::Resumed(Progressed {
            step: parse_meta(&f, path, "step")?,
            rng_counter: parse_meta(&f, path, "rng_counter")?,
            w_hat: f.get(path, "w_hat")?.data.clone(),
            records,
            times: f.get(path, "time")?.data.clone(),
        }))
    }

    /// Steps the trajectories, taking the snapshots, checking the CFL
    /// number at every stop (a snapshot, a progress save, the end) and
    /// saving progress every `checkpoint_every` steps; writes the file.
    ///
    /// # Errors
    /// A CFL number over 1 or a non-finite state (the last progress save
    /// is kept); GPU and I/O errors.
    pub fn run(mut self, gpu: &Gpu) -> Result<TrajectorySummary> {
        let (n, b) = (self.cfg.n, self.cfg.batch);
        let a = &self.job;
        let forcing = a.preset.forcing(n);
        let mut solver = NsSolver::new(gpu, &self.cfg, Some(&forcing))?;
        let mut records = self.records();
        let mut times: Vec<f32> = Vec::new();
        let mut step = 0;
        match std::mem::replace(&mut self.start, Start::Random) {
            Start::Resumed(p) => {
                step = p.step;
                solver.set_rng_counter(p.rng_counter);
                solver.set_vorticity_hat(&p.w_hat)?;
                for (name, data) in p.records {
                    if let Some((_, d)) = records.get_mut(&name) {
                        *d = data;
                    }
                }
                times = p.times;
            }
            Start::Init(w) => solver.set_vorticity(&w)?,
            Start::Random => {
                let grf = a.preset.spec().initial;
                solver.set_vorticity_hat(&grf.sample_hat(
                    gpu,
                    b,
                    n,
                    self.cfg.length,
                    a.seed ^ 0x5EED_0001,
                )?)?;
            }
        }
        let recorder = ClosureRecorder::new(gpu, &self.cfg, &self.coarse, a.restriction)?;

        let mut progress = Progress::new(
            "simulate",
            self.steps as u64,
            "steps",
            "{bar:40} {pos}/{len} steps {msg} [{elapsed_precise} < {eta_precise}]",
            a.quiet,
        );
        progress.set_position(step as u64);
        if step == 0 {
            // Refuse a time step over the CFL limit before running at all.
            let cfl = solver.cfl()?;
            if !cfl.is_finite() {
                job_bail!("the initial state has non-finite velocities (CFL = {cfl})");
            }
            if cfl > 1.0 {
                job_bail!(
                    "CFL number {cfl:.3} > 1 for the initial state: reduce --dt (now {})",
                    self.cfg.dt
                );
            }
            if cfl > 0.5 {
                progress.println(format!(
                    "warning: CFL number {cfl:.3} for the initial state: the explicit scheme may go unstable; consider a smaller --dt"
                ));
            }
        }
        // Snapshots already recorded (by a resumed run) are not taken again.
        let mut targets = self.snapshot_steps().skip(times.len()).peekable();
        let every = a.checkpoint_every;
        let mut last_checkpoint = step;
        loop {
            let next_snapshot = targets.peek().copied();
            // Stop at the next snapshot, checkpoint or the end, whichever
            // comes first, so that spin-up also shows progress, checks the
            // state and is checkpointed.
            let stop = [
                next_snapshot,
                Some(last_checkpoint + every),
                Some(self.steps),
            ]
            .into_iter()
            .flatten()
            .filter(|s| *s >= step)
            .min()
            .unwrap_or(self.steps);
            solver.step(stop - step)?;
            step = stop;
            let t = step as f64 * self.cfg.dt;
            let cfl = solver.cfl()?;
            if !cfl.is_finite() {
                let partial = self.resumable.partial();
                let kept = if partial.exists() {
                    format!("; the last checkpoint ({}) is kept", partial.display())
                } else {
                    String::new()
                };
                job_bail!(
                    "the state became non-finite between the last check and t = {t:.4}{kept}"
                );
            }
            if cfl > 1.0 {
                job_bail!(
                    "CFL number {cfl:.3} > 1 at t = {t:.4}: reduce --dt (now {})",
                    self.cfg.dt
                );
            }
            if cfl > 0.5 {
                progress.println(format!("warning: CFL number {cfl:.3} at t = {t:.4}"));
            }
            if next_snapshot == Some(step) {
                targets.next();
                push(&mut records, "vorticity", &solver.vorticity()?);
                if !self.coarse.is_empty() {
                    // The closure terms of this state come out of the next
                    // step.
                    for (name, values) in recorder.step_and_record(&mut solver)? {
                        push(&mut records, &name, &values);
                    }
                    step += 1;
                }
                times.push(t as f32);
            }
            progress.set_position(step.min(self.steps) as u64);
            progress.set_message(format!("t = {t:.3}, CFL {cfl:.3}"));
            let done = targets.peek().is_none() && step >= self.steps;
            if done {
                break;
            }
            if step >= last_checkpoint + every {
                last_checkpoint = step;
                save_progress(&self.resumable, &solver, &self.meta, step, &records, &times)?;
            }
        }
        progress.finish();
        let tensors = output_tensors(&records, &times);
        let named: Vec<(&str, &NamedTensor)> =
            tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
        self.resumable.finish(&named, &self.meta)?;
        Ok(TrajectorySummary {
            out: self.resumable.out().to_path_buf(),
            snapshots: times.len(),
            batch: b,
            grid: n,
            fine_stored: a.fine,
            t_end: self.steps as f64 * self.cfg.dt,
            snapshot_times: (
                times.first().map_or(0.0, |&t| f64::from(t)),
                times.last().map_or(0.0, |&t| f64::from(t)),
            ),
            adapter: gpu.describe(),
        })
    }
}

/// A value of the metadata of file `f` (read from `path`), parsed.
///
/// # Errors
/// [`Error::Job`] naming the key when it is missing or malformed.
pub(crate) fn parse_meta<T: FromStr>(f: &TensorFile, path: &Path, key: &str) -> Result<T> {
    let v = f.meta(path, key)?;
    v.parse()
        .map_err(|_| Error::Job(format!("{}: metadata {key} = {v:?}", path.display())))
}

/// Reads an initial state: the last snapshot of tensor `vorticity`,
/// broadcast over the batch when it holds one field; a mean is removed.
fn read_init(path: &Path, n: usize, batch: usize) -> Result<Vec<f32>> {
    let f = io::read(path)?;
    let t = f.get(path, "vorticity")?;
    let s = &t.shape;
    let ok_grid = s.len() >= 2 && s[s.len() - 2] == n && s[s.len() - 1] == n;
    if !ok_grid || s.len() > 4 {
        job_bail!(
            "{}: vorticity has shape {s:?}; expected [{n}, {n}], [B, {n}, {n}] or [T, B, {n}, {n}] for --grid {n}",
            path.display()
        );
    }
    let b = if s.len() >= 3 { s[s.len() - 3] } else { 1 };
    if t.data.len() < b * n * n || b == 0 {
        job_bail!(
            "{}: vorticity has shape {s:?}: no field in it",
            path.display()
        );
    }
    let last = &t.data[t.data.len() - b * n * n..];
    if let Some(i) = last.iter().position(|v| !v.is_finite()) {
        job_bail!(
            "{}: vorticity has a non-finite value ({}) at index {i}",
            path.display(),
            last[i]
        );
    }
    // A periodic flow has zero mean vorticity (∮u·dl = 0): remove a mean.
    let mut fields = last.to_vec();
    for (i, f) in fields.chunks_exact_mut(n * n).enumerate() {
        let mean = f.iter().map(|v| f64::from(*v)).sum::<f64>() / (n * n) as f64;
        let rms = (f.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / (n * n) as f64).sqrt();
        if mean.abs() > 1e-6 * rms.max(f64::MIN_POSITIVE) {
            eprintln!(
                "warning: {} field {i} has mean vorticity {mean:.3e}; removed (periodic flows have none)",
                path.display()
            );
            f.iter_mut()
                .for_each(|v| *v = (f64::from(*v) - mean) as f32);
        }
    }
    match b {
        _ if b == batch => Ok(fields),
        1 => Ok(fields.repeat(batch)),
        _ => job_bail!(
            "{}: holds {b} fields, but --batch is {batch} (give 1 field or {batch})",
            path.display()
        ),
    }
}

/// The snapshots are gathered in memory and written at the end: refuses
/// a run whose output would not fit in the memory available now.
fn check_output_size(cfg: &NsConfig, coarse: &[usize], snapshots: usize) -> Result<()> {
    let (b, n) = (cfg.batch, cfg.n);
    let per: usize = b * n * n
        + coarse
            .iter()
            .map(|m| FIELDS.len() * b * m * m)
            .sum::<usize>();
    let bytes = snapshots as f64 * per as f64 * 4.0;
    let gib = |x: f64| x / f64::from(1u32 << 30);
    if let Some(avail) = available_memory() {
        if bytes > 0.8 * avail {
            job_bail!(
                "{snapshots} snapshots of {b} x {n}² (and the coarse fields) make {:.1} GiB, more than the {:.1} GiB of memory available: \
                 take fewer steps, a larger --snapshot-every, a later --t-start or a smaller --batch",
                gib(bytes),
                gib(avail)
            );
        }
    } else if bytes > 64.0 * f64::from(1u32 << 30) {
        job_bail!(
            "{snapshots} snapshots make {:.1} GiB: take fewer steps or a larger --snapshot-every",
            gib(bytes)
        );
    }
    Ok(())
}

/// Memory available to this process (Linux `MemAvailable`), in bytes.
fn available_memory() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

fn push(records: &mut Records, name: &str, values: &[f32]) {
    if let Some((_, data)) = records.get_mut(name) {
        data.extend_from_slice(values);
    }
}

/// `[T, ..]` tensors of every record, and `time` `[T]`.
fn output_tensors(records: &Records, times: &[f32]) -> Vec<(String, NamedTensor)> {
    let mut out: Vec<(String, NamedTensor)> = records
        .iter()
        .map(|(name, (shape, data))| {
            let mut s = vec![times.len()];
            s.extend_from_slice(shape);
            (
                name.clone(),
                NamedTensor {
                    shape: s,
                    data: data.clone(),
                },
            )
        })
        .collect();
    out.push((
        "time".into(),
        NamedTensor {
            shape: vec![times.len()],
            data: times.to_vec(),
        },
    ));
    out
}

/// Saves the snapshots so far, the vorticity spectrum `w_hat`, the step
/// and the noise stream's position to `OUT.partial`.
fn save_progress(
    resumable: &Resumable,
    solver: &NsSolver,
    meta: &HashMap<String, String>,
    step: usize,
    records: &Records,
    times: &[f32],
) -> Result<()> {
    let c = solver.config();
    let w_hat = NamedTensor {
        shape: vec![c.batch, c.n, c.n / 2 + 1, 2],
        data: solver.read_vorticity_hat()?,
    };
    let mut tensors = output_tensors(records, times);
    tensors.push(("w_hat".into(), w_hat));
    let named: Vec<(&str, &NamedTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut m = meta.clone();
    m.insert("step".into(), step.to_string());
    m.insert("rng_counter".into(), solver.rng_counter().to_string());
    resumable.save(&named, &m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_resolves_the_preset_and_refuses_bad_settings() {
        let dir = std::env::temp_dir().join(format!("dc-trajectory-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let job = TrajectoryJob {
            grid: Some(32),
            steps: Some(100),
            ..TrajectoryJob::new(Preset::Seed, &dir.join("t.safetensors"))
        };
        let plan = job.plan().unwrap();
        // --steps: snapshots from 0; the preset's coarse grid (64) is not
        // below 32, so none is recorded.
        assert_eq!((plan.steps(), plan.first_snapshot), (100, 0));
        assert!(plan.coarse().is_empty());
        assert_eq!(plan.meta["format"], FORMAT);
        let refused = |j: TrajectoryJob, needle: &str| {
            let e = j.plan().err().expect(needle).to_string();
            assert!(e.contains(needle), "{e}");
        };
        refused(
            TrajectoryJob {
                steps: Some(0),
                ..job.clone()
            },
            "0 steps",
        );
        refused(
            TrajectoryJob {
                coarse: Some(vec![16, 16]),
                ..job.clone()
            },
            "lists 16 twice",
        );
        refused(
            TrajectoryJob {
                fine: false,
                ..job.clone()
            },
            "would store no field",
        );
        refused(
            TrajectoryJob {
                resume: true,
                ..job.clone()
            },
            "nothing to continue",
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
