//! `diffclosure simulate`: truth trajectories of a preset on the GPU, with
//! snapshots written to safetensors, a progress bar and resumable state.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::GpuArgs;
use crate::data::io::{self, NamedTensor};
use crate::gpu::Gpu;
use crate::ns::closure::{ClosureRecorder, FIELDS};
use crate::ns::restrict::Restriction;
use crate::ns::{NsConfig, NsSolver, Preset, TimeScheme};

/// Options of `diffclosure simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Preset: seed (Kolmogorov flow, default) or reference (the paper's code).
    #[arg(long, default_value = "seed", value_parser = parse_preset)]
    preset: Preset,
    /// Grid points per side (power of two); default: the preset's fine grid.
    #[arg(long)]
    grid: Option<usize>,
    /// Number of trajectories (independent initial conditions).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Seed of the initial conditions and the stochastic forcing.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// End time; default: the end of the preset's data window.
    #[arg(long, conflicts_with = "steps")]
    t_end: Option<f64>,
    /// Number of steps instead of --t-end.
    #[arg(long)]
    steps: Option<usize>,
    /// Time of the first snapshot; default: the start of the preset's data
    /// window (0 with --steps or a --t-end before it).
    #[arg(long)]
    t_start: Option<f64>,
    /// Steps between snapshots; default: the preset's (10).
    #[arg(long)]
    snapshot_every: Option<usize>,
    /// Time step; default: the preset's.
    #[arg(long)]
    dt: Option<f64>,
    /// Explicit scheme for advection: heun (2nd order) or euler.
    #[arg(long, default_value = "heun", value_parser = parse_scheme)]
    scheme: TimeScheme,
    /// Start from this vorticity (safetensors tensor `vorticity`, shape
    /// [n, n], [B, n, n] or [T, B, n, n] — the last snapshot is used)
    /// instead of a Gaussian random field.
    #[arg(long)]
    init: Option<PathBuf>,
    /// Coarse grids to record the restricted vorticity and closure terms on
    /// (`omega_m`, `G_m`, `H_m`, `sgs_m`, each [T, B, m, m]),
    /// comma-separated, e.g. 64,128; default: the preset's coarse grid when
    /// it is below --grid. `--coarse none` records none.
    #[arg(long)]
    coarse: Option<String>,
    /// Fine-to-coarse restriction: spectral (sharp cutoff, default) or
    /// stride (every (n/m)-th point, the reference code's).
    #[arg(long, default_value = "spectral", value_parser = parse_restriction)]
    restriction: Restriction,
    /// Do not store the fine vorticity, only the coarse fields and `time`
    /// (a file for coupled runs, a fraction of the size; `spectrum` and
    /// `--init` need the fine field and refuse such a file).
    #[arg(long)]
    no_fine: bool,
    /// Output file (safetensors: `vorticity` [T, B, n, n], `time` [T], and
    /// the coarse fields).
    #[arg(long)]
    out: PathBuf,
    /// Steps between state checkpoints (`OUT.state`; also written at the
    /// first snapshot after that many steps).
    #[arg(long, default_value_t = 2000)]
    checkpoint_every: usize,
    /// Continue from `OUT.state` left by an interrupted run.
    #[arg(long)]
    resume: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// The reason alone: clap already says "invalid value".
fn reason(e: crate::Error) -> String {
    match e {
        crate::Error::InvalidArgument(m) => m,
        other => other.to_string(),
    }
}

fn parse_preset(s: &str) -> std::result::Result<Preset, String> {
    s.parse().map_err(reason)
}

fn parse_restriction(s: &str) -> std::result::Result<Restriction, String> {
    s.parse().map_err(reason)
}

fn parse_scheme(s: &str) -> std::result::Result<TimeScheme, String> {
    match s.to_ascii_lowercase().as_str() {
        "heun" => Ok(TimeScheme::Heun),
        "euler" => Ok(TimeScheme::Euler),
        other => Err(format!("unknown scheme '{other}': expected heun or euler")),
    }
}

/// The run, resolved from the arguments and the preset.
struct Plan {
    cfg: NsConfig,
    coarse: Vec<usize>,
    steps: usize,
    first_snapshot: usize,
    every: usize,
}

impl Plan {
    fn new(a: &SimulateArgs) -> Result<Self> {
        let spec = a.preset.spec();
        let n = a.grid.unwrap_or(spec.fine_n);
        let mut cfg = a.preset.config(n, a.batch, a.seed);
        cfg.scheme = a.scheme;
        if let Some(dt) = a.dt {
            cfg.dt = dt;
        }
        cfg.validate()?;
        let steps = match (a.steps, a.t_end) {
            (Some(s), _) => s,
            (None, t) => {
                let t = t.unwrap_or(spec.window.1);
                if !(t.is_finite() && t > 0.0) {
                    bail!("--t-end {t}: must be a positive time");
                }
                (t / cfg.dt).round() as usize
            }
        };
        if steps == 0 {
            bail!("nothing to do: 0 steps");
        }
        let every = a.snapshot_every.unwrap_or(spec.snapshot_every);
        if every == 0 || a.checkpoint_every == 0 {
            bail!("--snapshot-every and --checkpoint-every must be >= 1");
        }
        let t_start = a.t_start.unwrap_or(
            if a.steps.is_some() || a.t_end.is_some_and(|t| t < spec.window.0) {
                0.0
            } else {
                spec.window.0
            },
        );
        if !(t_start.is_finite() && t_start >= 0.0) {
            bail!("--t-start {t_start}: must be a time >= 0");
        }
        let first_snapshot = (t_start / cfg.dt).round() as usize;
        if first_snapshot > steps {
            bail!(
                "--t-start {t_start} is after the end of the run (t = {})",
                steps as f64 * cfg.dt
            );
        }
        let coarse = match a.coarse.as_deref().map(str::trim) {
            None => [spec.coarse_n].into_iter().filter(|m| *m < n).collect(),
            Some("none") | Some("") => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|x| {
                    x.trim().parse::<usize>().map_err(|_| {
                        anyhow::anyhow!("--coarse '{list}': expected grid sizes like 64,128")
                    })
                })
                .collect::<Result<Vec<_>>>()?,
        };
        for (i, &m) in coarse.iter().enumerate() {
            if !m.is_power_of_two() || m < 8 || m > n {
                bail!("--coarse {m}: must be a power of two in [8, {n}] (the fine grid)");
            }
            if coarse[..i].contains(&m) {
                bail!("--coarse lists {m} twice");
            }
        }
        if a.no_fine && coarse.is_empty() {
            bail!("--no-fine without coarse grids would store no field: pass --coarse");
        }
        let plan = Self {
            cfg,
            coarse,
            steps,
            first_snapshot,
            every,
        };
        plan.check_output_size()?;
        Ok(plan)
    }

    /// The snapshots are gathered in memory and written at the end: refuse
    /// a run whose output would not fit in the memory available now.
    fn check_output_size(&self) -> Result<()> {
        let snapshots = (self.steps - self.first_snapshot) / self.every + 1;
        let (b, n) = (self.cfg.batch, self.cfg.n);
        let per: usize = b * n * n
            + self
                .coarse
                .iter()
                .map(|m| FIELDS.len() * b * m * m)
                .sum::<usize>();
        let bytes = snapshots as f64 * per as f64 * 4.0;
        let gib = |x: f64| x / f64::from(1u32 << 30);
        if let Some(avail) = available_memory() {
            if bytes > 0.8 * avail {
                bail!(
                    "{snapshots} snapshots of {b} x {n}² (and the coarse fields) make {:.1} GiB, more than the {:.1} GiB of memory available: \
                     take fewer steps, a larger --snapshot-every, a later --t-start or a smaller --batch",
                    gib(bytes),
                    gib(avail)
                );
            }
        } else if bytes > 64.0 * f64::from(1u32 << 30) {
            bail!("{snapshots} snapshots make {:.1} GiB: take fewer steps or a larger --snapshot-every", gib(bytes));
        }
        Ok(())
    }

    /// Step indices at which snapshots are taken.
    fn snapshot_steps(&self) -> impl Iterator<Item = usize> + '_ {
        (self.first_snapshot..=self.steps).step_by(self.every)
    }

    fn metadata(&self, a: &SimulateArgs) -> HashMap<String, String> {
        let c = &self.cfg;
        let mut m = HashMap::new();
        let mut put = |k: &str, v: String| {
            m.insert(k.to_string(), v);
        };
        put("format", "diffclosure.trajectory.v1".into());
        put("preset", a.preset.to_string());
        put("forcing", a.preset.spec().forcing_formula.into());
        put("grid", c.n.to_string());
        put("length", c.length.to_string());
        put("nu", c.nu.to_string());
        put("drag", c.drag.to_string());
        put("dt", c.dt.to_string());
        put("scheme", format!("{:?}", c.scheme).to_lowercase());
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
        put("fine_stored", (!a.no_fine).to_string());
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
}

fn state_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".state");
    out.with_file_name(name)
}

/// Reads `--init`: the last snapshot of tensor `vorticity`, broadcast over
/// the batch when it holds one field.
fn read_init(path: &Path, n: usize, batch: usize) -> Result<Vec<f32>> {
    let f = io::read(path)?;
    let t = f.get(path, "vorticity")?;
    let s = &t.shape;
    let ok_grid = s.len() >= 2 && s[s.len() - 2] == n && s[s.len() - 1] == n;
    if !ok_grid || s.len() > 4 {
        bail!(
            "{}: vorticity has shape {s:?}; expected [{n}, {n}], [B, {n}, {n}] or [T, B, {n}, {n}] for --grid {n}",
            path.display()
        );
    }
    let b = if s.len() >= 3 { s[s.len() - 3] } else { 1 };
    if t.data.len() < b * n * n || b == 0 {
        bail!(
            "{}: vorticity has shape {s:?}: no field in it",
            path.display()
        );
    }
    let last = &t.data[t.data.len() - b * n * n..];
    if let Some(i) = last.iter().position(|v| !v.is_finite()) {
        bail!(
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
        _ => bail!(
            "{}: holds {b} fields, but --batch is {batch} (give 1 field or {batch})",
            path.display()
        ),
    }
}

/// Runs `diffclosure simulate`.
///
/// # Errors
/// Bad arguments or input files (before any GPU work), an existing output,
/// a CFL number over 1 or a non-finite state (the state checkpoint is kept).
pub fn run(gpu_args: &GpuArgs, a: &SimulateArgs) -> Result<()> {
    let plan = Plan::new(a)?;
    let (n, b) = (plan.cfg.n, plan.cfg.batch);
    io::refuse_existing(&a.out)?;
    // Fail now, not after hours of simulation, if the output cannot be written.
    io::check_writable(&a.out)?;
    let state = state_path(&a.out);
    if state.exists() && !a.resume {
        bail!(
            "{} exists (an interrupted run): pass --resume to continue it, or remove it",
            state.display()
        );
    }
    if a.resume && !state.exists() {
        bail!(
            "--resume: no interrupted run to continue ({} does not exist)",
            state.display()
        );
    }
    let init = match (&a.init, a.resume) {
        (Some(p), false) => Some(read_init(p, n, b)?),
        _ => None,
    };
    let mut meta = plan.metadata(a);
    let gpu = Gpu::new(&gpu_args.options()?)?;
    let forcing = a.preset.forcing(n);
    let mut solver = NsSolver::new(&gpu, &plan.cfg, Some(&forcing))?;

    // Every recorded field, by name: (per-snapshot shape, values).
    let mut records: BTreeMap<String, (Vec<usize>, Vec<f32>)> = BTreeMap::new();
    if !a.no_fine {
        records.insert("vorticity".into(), (vec![b, n, n], Vec::new()));
    }
    for &m in &plan.coarse {
        for f in FIELDS {
            records.insert(format!("{f}_{m}"), (vec![b, m, m], Vec::new()));
        }
    }
    let mut times: Vec<f32> = Vec::new();
    let mut step = 0;
    if a.resume {
        let f = io::read(&state)?;
        for key in RESUME_KEYS {
            let (have, want) = (f.meta(&state, key)?, meta[key].as_str());
            if have != want {
                bail!(
                    "{}: was run with {key} = {have}, now {want}: arguments must match to resume",
                    state.display()
                );
            }
        }
        // The start is the interrupted run's; an --init given again must
        // name the same one.
        let init = f.meta(&state, "init")?.to_string();
        if a.init.is_some() && meta["init"] != init {
            bail!(
                "{}: was started from {init}, now --init {}: arguments must match to resume (or drop --init)",
                state.display(),
                meta["init"]
            );
        }
        meta.insert("init".into(), init);
        step = f.meta(&state, "step")?.parse().context("state step")?;
        solver.set_rng_counter(
            f.meta(&state, "rng_counter")?
                .parse()
                .context("state rng_counter")?,
        );
        solver.set_vorticity_hat(&f.get(&state, "w_hat")?.data)?;
        for (name, (_, data)) in records.iter_mut() {
            *data = f.get(&state, name)?.data.clone();
        }
        times = f.get(&state, "time")?.data.clone();
    } else if let Some(w) = init {
        solver.set_vorticity(&w)?;
    } else {
        let grf = a.preset.spec().initial;
        solver.set_vorticity_hat(&grf.sample_hat(
            &gpu,
            b,
            n,
            plan.cfg.length,
            a.seed ^ 0x5EED_0001,
        )?)?;
    }
    let recorder = ClosureRecorder::new(&gpu, &plan.cfg, &plan.coarse, a.restriction)?;

    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(plan.steps as u64)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} steps {msg} [{elapsed_precise} < {eta_precise}]",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(step as u64);
    if step == 0 {
        // Refuse a time step over the CFL limit before running at all.
        let cfl = solver.cfl()?;
        if !cfl.is_finite() {
            bail!("the initial state has non-finite velocities (CFL = {cfl})");
        }
        if cfl > 1.0 {
            bail!(
                "CFL number {cfl:.3} > 1 for the initial state: reduce --dt (now {})",
                plan.cfg.dt
            );
        }
        if cfl > 0.5 {
            bar.println(format!(
                "warning: CFL number {cfl:.3} for the initial state: the explicit scheme may go unstable; consider a smaller --dt"
            ));
        }
    }
    // Snapshots already recorded (by a resumed run) are not taken again.
    let mut targets = plan.snapshot_steps().skip(times.len()).peekable();
    let every = a.checkpoint_every;
    let mut last_checkpoint = step;
    loop {
        let next_snapshot = targets.peek().copied();
        // Stop at the next snapshot, checkpoint or the end, whichever comes
        // first, so that spin-up also shows progress, checks the state and
        // is checkpointed.
        let stop = [
            next_snapshot,
            Some(last_checkpoint + every),
            Some(plan.steps),
        ]
        .into_iter()
        .flatten()
        .filter(|s| *s >= step)
        .min()
        .unwrap_or(plan.steps);
        solver.step(stop - step)?;
        step = stop;
        let t = step as f64 * plan.cfg.dt;
        let cfl = solver.cfl()?;
        if !cfl.is_finite() {
            let kept = if state.exists() {
                format!("; the last checkpoint ({}) is kept", state.display())
            } else {
                String::new()
            };
            bail!("the state became non-finite between the last check and t = {t:.4}{kept}");
        }
        if cfl > 1.0 {
            bail!(
                "CFL number {cfl:.3} > 1 at t = {t:.4}: reduce --dt (now {})",
                plan.cfg.dt
            );
        }
        if cfl > 0.5 {
            bar.println(format!("warning: CFL number {cfl:.3} at t = {t:.4}"));
        }
        if next_snapshot == Some(step) {
            targets.next();
            push(&mut records, "vorticity", &solver.vorticity()?);
            if !plan.coarse.is_empty() {
                // The closure terms of this state come out of the next step.
                for (name, values) in recorder.step_and_record(&mut solver)? {
                    push(&mut records, &name, &values);
                }
                step += 1;
            }
            times.push(t as f32);
        }
        bar.set_position(step.min(plan.steps) as u64);
        bar.set_message(format!("t = {t:.3}, CFL {cfl:.3}"));
        let done = targets.peek().is_none() && step >= plan.steps;
        if done {
            break;
        }
        if step >= last_checkpoint + every {
            last_checkpoint = step;
            write_state(&state, &solver, &meta, step, &records, &times)?;
        }
    }
    bar.finish_and_clear();
    let count = times.len();
    let tensors = output_tensors(&records, &times);
    let named: Vec<(&str, &NamedTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    io::write_new_atomic(&a.out, &named, &meta)?;
    if state.exists() {
        std::fs::remove_file(&state).with_context(|| format!("removing {}", state.display()))?;
    }
    println!(
        "wrote {} ({count} snapshots of {b} x {n}x{n}{}, t = 0..{}) on {}",
        a.out.display(),
        if a.no_fine {
            ", coarse fields only"
        } else {
            ""
        },
        plan.steps as f64 * plan.cfg.dt,
        gpu.describe()
    );
    Ok(())
}

/// Memory available to this process (Linux `MemAvailable`), in bytes.
fn available_memory() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

/// Metadata that must be equal between an interrupted run and its resumption.
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

fn push(records: &mut BTreeMap<String, (Vec<usize>, Vec<f32>)>, name: &str, values: &[f32]) {
    if let Some((_, data)) = records.get_mut(name) {
        data.extend_from_slice(values);
    }
}

/// `[T, ..]` tensors of every record, and `time` `[T]`.
fn output_tensors(
    records: &BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    times: &[f32],
) -> Vec<(String, NamedTensor)> {
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

fn write_state(
    path: &Path,
    solver: &NsSolver,
    meta: &HashMap<String, String>,
    step: usize,
    records: &BTreeMap<String, (Vec<usize>, Vec<f32>)>,
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
    io::write_atomic(path, &named, &m)?;
    Ok(())
}
