//! `diffclosure couple`: the coarse model of a closure scenario run from a
//! truth snapshot with no closure, the learned closure sampled online on
//! the GPU, the deterministic part of the exact term, or an eddy-viscosity
//! baseline; snapshots beside the restricted truth.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{GpuArgs, SamplerArgs};
use crate::couple::{coarse_config, Closure, CoupledRun, LearnedClosure};
use crate::data::dataset::{Scenario, Sensors};
use crate::data::io::{self, NamedTensor};
use crate::gpu::Gpu;
use crate::ns::eddy::{Coefficient, EddyClosure, EddyViscosity};
use crate::ns::{NsConfig, NsSolver, Preset, TimeScheme};
use crate::score::checkpoint;
use crate::score::spectral_conv::Method;

/// The `format` metadata value of a coupled-run file.
pub const FORMAT: &str = "diffclosure.coupled.v1";

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

/// The closure of a coupled run.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ClosureKind {
    None,
    Learned,
    Mean,
    Oracle,
    Eddy(EddyViscosity),
}

impl ClosureKind {
    fn parse(name: &str, coefficient: Option<f64>) -> Result<Self> {
        let kind = match name {
            "none" => Self::None,
            "learned" => Self::Learned,
            "mean" => Self::Mean,
            "oracle" => Self::Oracle,
            other => match other.parse::<EddyViscosity>() {
                Ok(e) => Self::Eddy(e),
                Err(_) => bail!(
                    "--closure {other}: expected none, learned, mean, oracle, smagorinsky, leith, dynamic-smagorinsky or dynamic-leith"
                ),
            },
        };
        match (kind, coefficient) {
            (_, None) => Ok(kind),
            (Self::Eddy(mut e), Some(c)) if e.coefficient != Coefficient::Dynamic => {
                if !(c.is_finite() && c >= 0.0) {
                    bail!("--coefficient {c}: must be finite and >= 0");
                }
                e.coefficient = Coefficient::Constant(c);
                Ok(Self::Eddy(e))
            }
            _ => bail!("--coefficient is only used with --closure smagorinsky or leith"),
        }
    }
}

/// Runs `diffclosure couple`.
///
/// # Errors
/// Bad arguments, a model or truth that does not fit the run (a truth too
/// short for the span, a model of another scenario or grid), all before
/// any GPU work; a run that blows up; I/O errors.
pub fn run(gpu_args: &GpuArgs, a: &CoupleArgs) -> Result<()> {
    let scenario: Scenario = a.scenario.parse()?;
    let kind = ClosureKind::parse(&a.closure, a.coefficient)?;
    let learned = matches!(kind, ClosureKind::Learned | ClosureKind::Mean);
    if a.mean_samples == 0 {
        bail!("--mean-samples must be >= 1");
    }
    if !(a.perturb.is_finite() && a.perturb >= 0.0) {
        bail!("--perturb {}: must be finite and >= 0", a.perturb);
    }
    if a.perturb > 0.0 && kind != ClosureKind::Learned {
        bail!("--perturb is only used with --closure learned");
    }
    if a.every == 0 || a.ensemble == 0 {
        bail!("--every and --ensemble must be >= 1");
    }
    if !learned && a.model.is_some() {
        bail!("--model is only used with --closure learned or mean");
    }
    if kind == ClosureKind::Oracle && scenario == Scenario::Sgs {
        bail!("--closure oracle: the sgs term has no part computable from the coarse state (its exact value needs the fine run)");
    }
    if let ClosureKind::Eddy(e) = kind {
        if scenario == Scenario::H {
            bail!("--closure {e}: an eddy viscosity cannot stand in for the convection the H model omits; use it with --scenario sgs (or g, as a diffusion)");
        }
        if e.coefficient == Coefficient::Dynamic && a.grid < 16 {
            bail!(
                "--closure {e}: the dynamic procedure needs a grid of at least 16, got {}",
                a.grid
            );
        }
    }
    if !learned && (a.every != 1 || a.ensemble != 1) {
        bail!("--every and --ensemble are only used with --closure learned or mean (the other closures are deterministic)");
    }
    if a.perturb > 0.0 && a.every == 1 {
        bail!("--perturb acts between samples: it needs --every > 1");
    }
    if let Some(span) = a.span {
        if !(span.is_finite() && span > 0.0) {
            bail!("--span {span}: must be a positive time");
        }
    }
    io::refuse_existing(&a.out)?;
    io::check_writable(&a.out)?;
    let partial = PathBuf::from(format!("{}.partial", a.out.display()));
    if a.checkpoint_every == 0 {
        bail!("--checkpoint-every must be >= 1");
    }
    if !a.resume && partial.exists() {
        bail!(
            "{} exists (an interrupted run): continue it with --resume, or delete it",
            partial.display()
        );
    }
    let t = io::read(&a.truth)?;
    // The truth as a resumed piece must name it: its canonical path.
    let truth_id = std::fs::canonicalize(&a.truth)
        .unwrap_or_else(|_| a.truth.clone())
        .display()
        .to_string();
    let meta = |k: &str| -> Result<&str> { Ok(t.meta(&a.truth, k)?) };
    let m = a.grid;
    let omega = t.get(&a.truth, &format!("omega_{m}")).with_context(|| {
        let have: Vec<&str> = t
            .tensors
            .keys()
            .filter_map(|k| k.strip_prefix("omega_"))
            .collect();
        format!(
            "{} has no {m}x{m} fields (it has {}): pass --grid accordingly, or simulate with --coarse {m}",
            a.truth.display(),
            if have.is_empty() { "none".to_string() } else { have.join(", ") }
        )
    })?;
    let target_name = match scenario {
        Scenario::G => "G",
        Scenario::H => "H",
        Scenario::Sgs => "sgs",
    };
    let target = t.get(&a.truth, &format!("{target_name}_{m}"))?;
    let time = &t.get(&a.truth, "time")?.data;
    let (frames, b) = (omega.shape[0], omega.shape[1]);
    let every: usize = meta("snapshot_every")?.parse()?;
    let dt: f64 = meta("dt")?.parse()?;
    let f0 = match a.start {
        None => 0,
        Some(s) => time
            .iter()
            .position(|&v| f64::from(v) >= s - 0.5 * dt)
            .with_context(|| format!("--start {s}: the truth ends at t = {}", time[frames - 1]))?,
    };
    let out_frames = match a.span {
        None => frames - f0,
        Some(span) => {
            let need = (span / (dt * every as f64)).round() as usize + 1;
            if f0 + need > frames {
                bail!(
                    "--span {span} from t = {} needs snapshots to t = {:.3}, the truth ends at t = {}",
                    time[f0],
                    f64::from(time[f0]) + span,
                    time[frames - 1]
                );
            }
            let covered = (need - 1) as f64 * dt * every as f64;
            if need < 2 {
                bail!(
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
        bail!("the run would cover less than one snapshot interval");
    }
    let preset: Preset = meta("preset")?.parse()?;
    let fine = NsConfig {
        n: meta("grid")?.parse()?,
        length: meta("length")?.parse()?,
        nu: meta("nu")?.parse()?,
        drag: meta("drag")?.parse()?,
        dt,
        scheme: match meta("scheme")? {
            "euler" => TimeScheme::Euler,
            _ => TimeScheme::Heun,
        },
        batch: b * a.ensemble,
        stochastic: None,
        seed: a.seed,
        advection: true,
    };
    let mut cfg = coarse_config(scenario, &fine, m);
    if kind == ClosureKind::Oracle {
        // The coarse model with the omitted term's deterministic part put
        // back: ν∆ω (G) or its own convection (H).
        cfg.nu = fine.nu;
        cfg.advection = true;
    }
    cfg.validate()?;
    let per = m * m;
    // The ensemble's members of trajectory j are rows j·M .. j·M + M.
    let replicate = |frame: &[f32], per: usize| -> Vec<f32> {
        frame
            .chunks_exact(per)
            .flat_map(|f| std::iter::repeat_n(f, a.ensemble).flatten().copied())
            .collect()
    };
    let model = if learned {
        let path = a
            .model
            .as_ref()
            .context("--closure learned and mean need --model")?;
        let ck = checkpoint::load(path)?;
        if let Some(s) = ck.meta.get("data.scenario") {
            if s.parse::<Scenario>().ok() != Some(scenario) {
                bail!(
                    "{} was trained on scenario {s}, the run is {scenario}",
                    path.display()
                );
            }
        }
        ck.config.check_grid(m)?;
        checkpoint::check_preset(&ck.meta, &t.metadata)
            .with_context(|| format!("{} with {}", path.display(), a.truth.display()))?;
        let use_obs = a.observations.unwrap_or(ck.config.sparse);
        if ck.config.sparse && !use_obs {
            bail!(
                "{} has the sparse pipeline: it needs --observations true",
                path.display()
            );
        }
        let s: usize = if use_obs {
            ck.get(path, "data.sensors")?
        } else {
            1
        };
        let obs = if use_obs {
            // The sensors sit on the training grid's points (dataset's
            // default --sensor-grid).
            let base: usize = ck.get(path, "data.grid")?;
            let idx = Sensors { per_axis: s, base }.indices(m);
            let mut o = Vec::with_capacity(out_frames * b * a.ensemble * s * s);
            for f in f0..f0 + out_frames {
                let frame = &target.data[f * b * per..(f + 1) * b * per];
                let mut at = Vec::with_capacity(b * s * s);
                for u in frame.chunks_exact(per) {
                    Sensors::extend_values(&idx, u, m, &mut at);
                }
                o.extend(replicate(&at, s * s));
            }
            Some(o)
        } else {
            None
        };
        let sampler = a
            .sampler
            .config(&ck.meta)
            .with_context(|| format!("sampling {}", path.display()))?;
        Some((ck, s, obs, sampler))
    } else {
        None
    };

    // What identifies the job: a resumed piece must continue the same one.
    let job: Vec<(&str, String)> = vec![
        ("truth", truth_id.clone()),
        ("scenario", scenario.to_string()),
        ("closure", a.closure.clone()),
        ("coefficient", format!("{:?}", a.coefficient)),
        ("model", format!("{:?}", a.model)),
        ("grid", m.to_string()),
        ("start_frame", f0.to_string()),
        ("frames", out_frames.to_string()),
        ("every", a.every.to_string()),
        ("ensemble", a.ensemble.to_string()),
        ("observations", format!("{:?}", a.observations)),
        ("seed", a.seed.to_string()),
        ("mean_samples", a.mean_samples.to_string()),
        ("perturb", a.perturb.to_string()),
    ];
    // The sampler's options (in the job and, for the learned closures, the
    // output), its step count under a name of its own (`steps` counts
    // solver steps here).
    let sampler_meta: Vec<(&str, String)> = a
        .sampler
        .metadata()
        .into_iter()
        .map(|(k, v)| match k {
            "steps" => ("sampler_steps", v),
            _ => (k, v),
        })
        .collect();
    let job: Vec<(&str, String)> = job.into_iter().chain(sampler_meta.clone()).collect();
    let bm = b * a.ensemble;
    let resumed = if a.resume {
        Some(read_partial(&partial, &job, (bm, m))?)
    } else {
        None
    };

    let gpu = Gpu::new(&gpu_args.options()?)?;
    let mut solver = NsSolver::new(&gpu, &cfg, Some(&preset.forcing(m)))?;
    solver.set_vorticity(&replicate(
        &omega.data[f0 * b * per..(f0 + 1) * b * per],
        per,
    ))?;
    let closure = match (&model, kind) {
        (_, ClosureKind::Eddy(e)) => Closure::Eddy(Box::new(EddyClosure::new(&gpu, &cfg, e)?)),
        (None, _) => Closure::None,
        (Some((ck, s, obs, sampler)), _) => {
            let k = if kind == ClosureKind::Mean {
                a.mean_samples
            } else {
                1
            };
            let mut c = LearnedClosure::mean_of(
                &gpu,
                (&ck.config, &ck.params),
                (b * a.ensemble, m, *s),
                *sampler,
                Method::Fft,
                a.seed,
                k,
            )?;
            if let Some(o) = obs {
                c.set_observations(o, out_frames)?;
            }
            Closure::Learned {
                closure: Box::new(c),
                every: a.every,
                frame_steps: every,
                perturb: a.perturb,
            }
        }
    };
    let mut run = CoupledRun::new(&gpu, scenario, solver, closure)?;
    let steps = (out_frames - 1) * every;
    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(steps as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps [{elapsed} < {eta}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut snaps = run.solver().vorticity()?;
    // The eddy coefficients C (C_S² / C_L³) at the output intervals.
    let mut eddy_c: Vec<f32> = Vec::new();
    let (mut first, mut wall_before) = (1, 0.0);
    if let Some(p) = resumed {
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
            partial.display(),
            p.steps
        );
    }
    let t0 = Instant::now();
    let save = |run: &CoupledRun, snaps: &[f32], eddy_c: &[f32], wall: f64| -> Result<()> {
        // The learned closure's noise position and held sample (the
        // perturbation between samples starts from it).
        let (draws, sample) = match run.closure() {
            Closure::Learned { closure, .. } => (closure.draws(), gpu.read_one(closure.sample())?),
            _ => (0, Vec::new()),
        };
        let h = m / 2 + 1;
        let t = |shape: Vec<usize>, data: Vec<f32>| NamedTensor { shape, data };
        let tensors = [
            (
                "vorticity",
                t(vec![snaps.len() / (bm * per), bm, m, m], snaps.to_vec()),
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
        let mut meta: HashMap<String, String> = job
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        meta.insert("steps_done".into(), run.steps().to_string());
        meta.insert("draws".into(), draws.to_string());
        meta.insert("wall_s".into(), wall.to_string());
        let refs: Vec<(&str, &NamedTensor)> = tensors.iter().map(|(k, v)| (*k, v)).collect();
        Ok(io::write_atomic(&partial, &refs, &meta)?)
    };
    // Resident memory after the first snapshot of this process and at the
    // end: a driver that grows per submission shows as their difference.
    let mut rss_first = None;
    for s in first..=steps {
        run.step()?;
        if s % every == 0 {
            let cfl = run.solver().cfl()?;
            if !cfl.is_finite() || cfl > 1.0 {
                bail!(
                    "the coupled run blew up at t = {:.3} (CFL {cfl}); nothing written",
                    f64::from(time[f0]) + s as f64 * dt
                );
            }
            snaps.extend(run.solver().vorticity()?);
            if rss_first.is_none() {
                rss_first = crate::gpu::resident_mib().map(|(rss, _)| rss);
            }
            if let Closure::Eddy(e) = run.closure() {
                eddy_c.extend(e.coefficients()?);
            }
            bar.set_message(format!("t = {:.2}", f64::from(time[f0]) + s as f64 * dt));
            if (s / every).is_multiple_of(a.checkpoint_every) && s < steps {
                save(
                    &run,
                    &snaps,
                    &eddy_c,
                    wall_before + t0.elapsed().as_secs_f64(),
                )?;
            }
        }
        bar.set_position(s as u64);
    }
    bar.finish_and_clear();
    let wall = wall_before + t0.elapsed().as_secs_f64();
    let mut out_meta: HashMap<String, String> = HashMap::new();
    for (k, v) in [
        ("format", FORMAT.to_string()),
        ("truth", a.truth.display().to_string()),
        ("scenario", scenario.to_string()),
        ("closure", a.closure.clone()),
        ("grid", m.to_string()),
        ("ensemble", a.ensemble.to_string()),
        ("trajectories", b.to_string()),
        ("dt", dt.to_string()),
        ("length", fine.length.to_string()),
        ("steps", steps.to_string()),
        ("wall_s", format!("{wall:.3}")),
        ("simulated_s", (steps as f64 * dt).to_string()),
        ("adapter", gpu.describe()),
    ] {
        out_meta.insert(k.into(), v);
    }
    let rss = rss_first.zip(crate::gpu::resident_mib());
    if let Some((first, (end, peak))) = rss {
        out_meta.insert("rss_first_snapshot_mib".into(), format!("{first:.0}"));
        out_meta.insert("rss_end_mib".into(), format!("{end:.0}"));
        out_meta.insert("rss_peak_mib".into(), format!("{peak:.0}"));
    }
    if !eddy_c.is_empty() {
        let mean = eddy_c.iter().map(|&c| f64::from(c)).sum::<f64>() / eddy_c.len() as f64;
        out_meta.insert("eddy_c_mean".into(), format!("{mean:.4e}"));
    }
    if let ClosureKind::Eddy(e) = kind {
        if let Coefficient::Constant(c) = e.coefficient {
            out_meta.insert("eddy_constant".into(), c.to_string());
        }
    }
    if let Some((ck, _, obs, _)) = &model {
        out_meta.insert("every".into(), a.every.to_string());
        out_meta.insert(
            "model".into(),
            a.model
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string()),
        );
        out_meta.insert("observations".into(), obs.is_some().to_string());
        if kind == ClosureKind::Mean {
            out_meta.insert("mean_samples".into(), a.mean_samples.to_string());
        }
        out_meta.insert("perturb".into(), a.perturb.to_string());
        for (k, v) in &sampler_meta {
            out_meta.insert((*k).into(), v.clone());
        }
        for (k, v) in ck.config.to_metadata() {
            out_meta.insert(format!("model.{k}"), v);
        }
    }
    let tensors = [
        (
            "vorticity",
            NamedTensor {
                shape: vec![out_frames, bm, m, m],
                data: snaps,
            },
        ),
        (
            "truth",
            NamedTensor {
                shape: vec![out_frames, b, m, m],
                data: omega.data[f0 * b * per..(f0 + out_frames) * b * per].to_vec(),
            },
        ),
        (
            "time",
            NamedTensor {
                shape: vec![out_frames],
                data: time[f0..f0 + out_frames].to_vec(),
            },
        ),
    ];
    let refs: Vec<(&str, &NamedTensor)> = tensors.iter().map(|(k, v)| (*k, v)).collect();
    io::write_new_atomic(&a.out, &refs, &out_meta)?;
    if partial.exists() {
        std::fs::remove_file(&partial).with_context(|| format!("{}", partial.display()))?;
    }
    println!(
        "wrote {} ({} trajectories x {} members on {m}x{m}, t = {} .. {}, closure {}{}): {:.2} s wall per simulated second on {}",
        a.out.display(),
        b,
        a.ensemble,
        time[f0],
        time[f0 + out_frames - 1],
        a.closure,
        if learned { format!(" every {} steps", a.every) } else { String::new() },
        wall / (steps as f64 * dt),
        gpu.describe()
    );
    if let Some((first, (end, peak))) = rss {
        println!(
            "resident memory: {first:.0} MiB after the first snapshot, {end:.0} MiB at the end ({:+.0} MiB), peak {peak:.0} MiB",
            end - first
        );
    }
    Ok(())
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

/// Reads `OUT.partial` and checks that it belongs to `job` with `bm`
/// trajectories on `m × m`.
fn read_partial(
    path: &std::path::Path,
    job: &[(&str, String)],
    (bm, m): (usize, usize),
) -> Result<Partial> {
    if !path.exists() {
        bail!(
            "--resume: {} does not exist (nothing to continue)",
            path.display()
        );
    }
    let f = io::read(path)?;
    for (k, want) in job {
        let have = f.meta(path, k)?;
        if have != want {
            bail!(
                "{}: {k} = {have}, this run has {want}: --resume continues the same job",
                path.display()
            );
        }
    }
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
        bail!("{}: tensors of the wrong shape", path.display());
    }
    Ok(Partial {
        steps: f.meta(path, "steps_done")?.parse()?,
        draws: f.meta(path, "draws")?.parse()?,
        wall_s: f.meta(path, "wall_s")?.parse()?,
        snapshots: snap.data.clone(),
        state: state.data.clone(),
        closure: closure.data.clone(),
        eddy_c: f.get(path, "eddy_c")?.data.clone(),
        sample: f.get(path, "sample")?.data.clone(),
    })
}
