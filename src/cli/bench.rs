//! `diffclosure bench`: throughput on the adapter at hand, without cargo
//! (criterion's `cargo bench` gives the same figures with statistics).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::cli::GpuArgs;
use crate::data::dataset::Samples;
use crate::data::io;
use crate::gpu::Gpu;
use crate::ns::{NsSolver, Preset, TimeScheme};
use crate::score::init::init_params;
use crate::score::model::ScoreFno;
use crate::score::spectral_conv::Method;
use crate::score::train::{TrainConfig, Trainer};
use crate::score::ScoreConfig;
use crate::sde::generate::Generator;
use crate::sde::{Noise, SamplerConfig};

/// What `diffclosure bench` measures.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Navier–Stokes steps per second (the preset's physics: forcing, drag,
    /// stochastic forcing), by default at 256² batch 1 and 64² batch 16
    /// with both schemes.
    Ns(NsBenchArgs),
    /// ScoreFno forward ms/sample (64² batch 1 and 16, 128² and 256² batch
    /// 4) and training-step ms/sample (64², batch 32), reference sizes.
    Model(ModelBenchArgs),
    /// Closure samples per second of the reverse sampler (default: the
    /// fast sampler, EM 10 steps from t_max = 0.1) at 64² batch 1 and 16,
    /// reference network sizes, one encoder per batch including the
    /// readback of the samples.
    Sampler(SamplerBenchArgs),
    /// Wall seconds per simulated second of the truth run, the coarse
    /// model alone, with eddy viscosity and with the learned closure
    /// (every 1 and 5 steps, 10- and 5-step samplers), and the ratios to
    /// the coarse model alone, in one process.
    Couple(super::bench_couple::CoupleBenchArgs),
}

/// Options of `diffclosure bench sampler`.
#[derive(Args, Debug)]
pub struct SamplerBenchArgs {
    #[command(flatten)]
    net: NetArgs,
    /// Grid points per side.
    #[arg(long, default_value_t = 64)]
    grid: usize,
    /// Batch sizes, comma-separated.
    #[arg(long, default_value = "1,16", value_delimiter = ',')]
    batches: Vec<usize>,
    /// Sampler: em, heun or ode.
    #[arg(long, default_value = "em")]
    sampler: String,
    /// Sampler steps.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Start time of the reverse run.
    #[arg(long, default_value_t = 0.1)]
    t_max: f64,
    /// Spectral convolutions: dft or fft.
    #[arg(long, default_value = "fft")]
    spectral: String,
    /// Seconds per repeat.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Repeats per case; the median is reported.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The network measured (reference sizes by default), random weights.
#[derive(Args, Debug)]
pub struct NetArgs {
    /// Channels of the Fourier layers.
    #[arg(long, default_value_t = 20)]
    width: usize,
    /// Kept modes per axis.
    #[arg(long, default_value_t = 8)]
    modes: usize,
    /// Fourier layers per pipeline.
    #[arg(long, default_value_t = 4)]
    layers: usize,
    /// Time-feature dimension.
    #[arg(long, default_value_t = 256)]
    embed_dim: usize,
    /// Hidden size of the last MLP.
    #[arg(long, default_value_t = 128)]
    fc_hidden: usize,
    /// Sensors per axis (the baseline's 16 × 16).
    #[arg(long, default_value_t = 16)]
    pub(super) sensors: usize,
}

impl NetArgs {
    pub(super) fn config(&self) -> Result<ScoreConfig> {
        let cfg = ScoreConfig {
            width: self.width,
            modes: self.modes,
            layers: self.layers,
            embed_dim: self.embed_dim,
            fc_hidden: self.fc_hidden,
            vorticity: true,
            sparse: true,
        };
        cfg.validate()?;
        if self.sensors == 0 {
            bail!("--sensors must be >= 1");
        }
        Ok(cfg)
    }

    fn describe(&self, model: &ScoreFno) -> String {
        format!(
            "ScoreFno width {}, modes {}, {} layers, embed {}, fc {}, {}x{} sensors; {} parameters",
            self.width,
            self.modes,
            self.layers,
            self.embed_dim,
            self.fc_hidden,
            self.sensors,
            self.sensors,
            model.params().iter().map(|p| p.len()).sum::<usize>()
        )
    }
}

/// Options of `diffclosure bench model`.
#[derive(Args, Debug)]
pub struct ModelBenchArgs {
    #[command(flatten)]
    net: NetArgs,
    /// Only these cases (comma-separated: f64x1, f64x16, f128x4, f256x4,
    /// t64x32); default: all.
    #[arg(long)]
    cases: Option<String>,
    /// Seconds per repeat (the call count is chosen to fill it).
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Repeats per case; the median is reported.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Spectral convolutions: dft, fft, or auto (the faster per case,
    /// timed first; both timings are printed).
    #[arg(long, default_value = "auto")]
    spectral: String,
    /// Also time every dispatch once (timestamp queries) and print where
    /// the time goes, per kernel family.
    #[arg(long)]
    profile: bool,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Options of `diffclosure bench ns`.
#[derive(Args, Debug)]
pub struct NsBenchArgs {
    /// Grid points per side; with --batch, measures only this case.
    #[arg(long, requires = "batch")]
    grid: Option<usize>,
    /// Trajectories stepped together (with --grid).
    #[arg(long, requires = "grid")]
    batch: Option<usize>,
    /// Preset whose physics is stepped.
    #[arg(long, default_value = "seed")]
    preset: String,
    /// Seconds of stepping per repeat (the step count is chosen to fill it).
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Repeats per case; the median is reported.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// One measured case.
#[derive(Serialize, Debug)]
struct NsResult {
    grid: usize,
    batch: usize,
    scheme: String,
    steps_per_repeat: usize,
    /// Median over the repeats.
    steps_per_s: f64,
    ms_per_step: f64,
    /// Steps × batch per second.
    trajectory_steps_per_s: f64,
    /// Slowest and fastest repeat, steps/s.
    min_steps_per_s: f64,
    max_steps_per_s: f64,
}

/// Runs `diffclosure bench`.
///
/// # Errors
/// Bad arguments (before any GPU work), no adapter, a failing kernel.
pub fn run(gpu_args: &GpuArgs, cmd: &BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Ns(a) => run_ns(gpu_args, a),
        BenchCommand::Model(a) => run_model(gpu_args, a),
        BenchCommand::Sampler(a) => run_sampler(gpu_args, a),
        BenchCommand::Couple(a) => super::bench_couple::run_couple(gpu_args, a),
    }
}

fn run_ns(gpu_args: &GpuArgs, a: &NsBenchArgs) -> Result<()> {
    let preset: Preset = a.preset.parse()?;
    if !(a.seconds.is_finite() && a.seconds > 0.0) || a.repeats == 0 {
        bail!("--seconds must be > 0 and --repeats >= 1");
    }
    let cases = match (a.grid, a.batch) {
        (Some(n), Some(b)) => vec![(n, b)],
        _ => vec![(256, 1), (64, 16)],
    };
    for &(n, b) in &cases {
        preset.config(n, b, 1).validate()?;
    }
    if let Some(p) = &a.json {
        io::refuse_existing(p)?;
        io::check_writable(p)?;
    }
    let gpu = Gpu::new(&gpu_args.options()?)?;
    println!("adapter: {}", gpu.describe());
    println!(
        "{:>6} {:>6} {:>6} {:>10} {:>10} {:>14}",
        "grid", "batch", "scheme", "steps/s", "ms/step", "traj-steps/s"
    );
    let mut results = Vec::new();
    for &(n, b) in &cases {
        for scheme in [TimeScheme::Heun, TimeScheme::Euler] {
            let r = measure_ns(&gpu, preset, n, b, scheme, a.seconds, a.repeats)?;
            println!(
                "{:>6} {:>6} {:>6} {:>10.1} {:>10.3} {:>14.1}",
                format!("{n}²"),
                b,
                r.scheme,
                r.steps_per_s,
                r.ms_per_step,
                r.trajectory_steps_per_s
            );
            results.push(r);
        }
    }
    if let Some(p) = &a.json {
        let doc = serde_json::json!({ "adapter": gpu.describe(), "preset": preset.to_string(), "ns": results });
        io::write_bytes_atomic(p, serde_json::to_string_pretty(&doc)?.as_bytes())?;
        println!("wrote {}", p.display());
    }
    Ok(())
}

/// Steps/s of one case: steps are recorded back to back (64 per
/// submission) exactly as `simulate` runs them, timed to the GPU's
/// completion.
fn measure_ns(
    gpu: &Gpu,
    preset: Preset,
    n: usize,
    b: usize,
    scheme: TimeScheme,
    seconds: f64,
    repeats: usize,
) -> Result<NsResult> {
    let mut cfg = preset.config(n, b, 1);
    cfg.scheme = scheme;
    let mut solver = NsSolver::new(gpu, &cfg, Some(&preset.forcing(n)))?;
    let w = preset.spec().initial.sample_hat(gpu, b, n, cfg.length, 1)?;
    solver.set_vorticity_hat(&w)?;
    let timed = |solver: &mut NsSolver, steps: usize| -> Result<f64> {
        let t = Instant::now();
        solver.step(steps)?;
        gpu.wait()?;
        Ok(t.elapsed().as_secs_f64())
    };
    // Warm-up (pipelines, caches), then size the repeats from a short run.
    timed(&mut solver, 2)?;
    let probe = 8;
    let per_step = timed(&mut solver, probe)? / probe as f64;
    let steps = ((seconds / per_step.max(1e-9)).round() as usize).clamp(1, 1_000_000);
    let mut rates: Vec<f64> = (0..repeats)
        .map(|_| timed(&mut solver, steps).map(|s| steps as f64 / s))
        .collect::<Result<_>>()?;
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    Ok(NsResult {
        grid: n,
        batch: b,
        scheme: format!("{scheme:?}").to_lowercase(),
        steps_per_repeat: steps,
        steps_per_s: median,
        ms_per_step: 1e3 / median,
        trajectory_steps_per_s: median * b as f64,
        min_steps_per_s: rates[0],
        max_steps_per_s: rates[rates.len() - 1],
    })
}

/// A model benchmark case: forward or training step, grid, batch.
#[derive(Clone, Copy, Debug, PartialEq)]
struct ModelCase {
    train: bool,
    n: usize,
    batch: usize,
}

impl ModelCase {
    fn name(&self) -> String {
        format!(
            "{}{}x{}",
            if self.train { "t" } else { "f" },
            self.n,
            self.batch
        )
    }
}

/// One measured model case.
#[derive(Serialize, Debug)]
struct ModelResult {
    case: String,
    kind: &'static str,
    grid: usize,
    batch: usize,
    micro_batch: usize,
    spectral: String,
    calls_per_repeat: usize,
    ms_per_call: f64,
    ms_per_sample: f64,
    samples_per_s: f64,
    /// (kernel family, share of the GPU time of one call) with --profile.
    profile: Vec<(String, f64)>,
}

fn run_model(gpu_args: &GpuArgs, a: &ModelBenchArgs) -> Result<()> {
    let cfg = a.net.config()?;
    if !(a.seconds.is_finite() && a.seconds > 0.0) || a.repeats == 0 {
        bail!("--seconds must be > 0, --repeats >= 1");
    }
    let all = [
        ModelCase {
            train: false,
            n: 64,
            batch: 1,
        },
        ModelCase {
            train: false,
            n: 64,
            batch: 16,
        },
        ModelCase {
            train: false,
            n: 128,
            batch: 4,
        },
        ModelCase {
            train: false,
            n: 256,
            batch: 4,
        },
        ModelCase {
            train: true,
            n: 64,
            batch: 32,
        },
    ];
    let cases: Vec<ModelCase> = match &a.cases {
        None => all.to_vec(),
        Some(list) => list
            .split(',')
            .map(|c| {
                all.iter()
                    .find(|k| k.name() == c.trim())
                    .copied()
                    .ok_or_else(|| anyhow::anyhow!("unknown case '{c}': expected one of f64x1, f64x16, f128x4, f256x4, t64x32"))
            })
            .collect::<Result<_>>()?,
    };
    for c in &cases {
        cfg.check_grid(c.n)?;
    }
    let fixed: Option<Method> = match a.spectral.trim() {
        "auto" => None,
        m => Some(m.parse()?),
    };
    if let Some(p) = &a.json {
        io::refuse_existing(p)?;
        io::check_writable(p)?;
    }
    let gpu = Gpu::new(&gpu_args.options()?)?;
    let model = ScoreFno::new(&cfg)?;
    let params = init_params(&cfg, 1);
    println!("adapter: {}", gpu.describe());
    println!("{}", a.net.describe(&model));
    println!(
        "{:>8} {:>6} {:>6} {:>8} {:>10} {:>12} {:>10}",
        "case", "grid", "batch", "spectral", "ms/call", "ms/sample", "samples/s"
    );
    let mut results = Vec::new();
    for c in cases {
        let methods = match fixed {
            Some(m) => vec![m],
            None => vec![Method::Dft, Method::Fft],
        };
        let mut best: Option<ModelResult> = None;
        for m in methods {
            let r = measure_model(&gpu, &model, &params, c, a, m)?;
            println!(
                "{:>8} {:>6} {:>6} {:>8} {:>10.2} {:>12.3} {:>10.1}",
                r.case,
                format!("{}²", r.grid),
                r.batch,
                r.spectral,
                r.ms_per_call,
                r.ms_per_sample,
                r.samples_per_s
            );
            if best.as_ref().is_none_or(|b| r.ms_per_call < b.ms_per_call) {
                best = Some(r);
            }
        }
        let Some(r) = best else { continue };
        for (family, share) in &r.profile {
            println!("{:>30} {:>5.1} %", family, 100.0 * share);
        }
        results.push(r);
    }
    if let Some(p) = &a.json {
        let doc = serde_json::json!({ "adapter": gpu.describe(), "config": cfg.to_metadata(), "model": results });
        io::write_bytes_atomic(p, serde_json::to_string_pretty(&doc)?.as_bytes())?;
        println!("wrote {}", p.display());
    }
    Ok(())
}

/// Times one case: forward calls (one submission each, as a sampler would
/// issue them) or training steps, median over the repeats.
fn measure_model(
    gpu: &Gpu,
    model: &ScoreFno,
    params: &[f32],
    c: ModelCase,
    a: &ModelBenchArgs,
    method: Method,
) -> Result<ModelResult> {
    let n = c.n;
    let mut call: Box<dyn FnMut() -> Result<()>>;
    let micro;
    if c.train {
        let len = 2 * c.batch;
        let data = Samples {
            grid: n,
            sensors: a.net.sensors,
            len,
            omega: synthetic(1, len * n * n),
            target: synthetic(2, len * n * n),
            obs: synthetic(3, len * a.net.sensors * a.net.sensors),
            meta: Default::default(),
        };
        let tcfg = TrainConfig {
            batch: c.batch,
            spectral: Some(method),
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(gpu, model.clone(), params, &data, tcfg, None)?;
        micro = trainer.micro_batch();
        call = Box::new(move || Ok(trainer.step()?));
    } else {
        let ws = model.workspace(gpu, c.batch, n, a.net.sensors, method)?;
        ws.x.write(gpu, &synthetic(4, c.batch * n * n))?;
        ws.w.write(gpu, &synthetic(5, c.batch * n * n))?;
        ws.s.write(gpu, &synthetic(6, c.batch * a.net.sensors * a.net.sensors))?;
        ws.t.write(gpu, &vec![0.3; c.batch])?;
        let p = crate::gpu::Tensor::from_f32(gpu, &[params.len()], crate::gpu::DType::F32, params)?;
        let (model, gpu2) = (model.clone(), gpu.clone());
        micro = c.batch;
        call = Box::new(move || {
            let mut enc = gpu2.encoder("bench forward");
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                model.record_forward(&gpu2, &mut pass, &p, &ws)?;
            }
            gpu2.submit(enc);
            Ok(())
        });
    }
    let (calls, t) = median_seconds(gpu, &mut *call, a.seconds, a.repeats)?;
    let mut profile = Vec::new();
    if a.profile && gpu.time_dispatches(2048) {
        call()?;
        gpu.wait()?;
        let mut by: Vec<(String, f64)> = Vec::new();
        for (label, ns) in gpu.dispatch_times()? {
            let family = label.split('[').next().unwrap_or(&label).to_string();
            match by.iter_mut().find(|(f, _)| *f == family) {
                Some(e) => e.1 += ns,
                None => by.push((family, ns)),
            }
        }
        let total: f64 = by.iter().map(|e| e.1).sum();
        by.sort_by(|x, y| y.1.total_cmp(&x.1));
        profile = by
            .into_iter()
            .map(|(f, ns)| (f, ns / total.max(1.0)))
            .collect();
    }
    Ok(ModelResult {
        case: c.name(),
        kind: if c.train { "train step" } else { "forward" },
        grid: n,
        batch: c.batch,
        micro_batch: micro,
        spectral: method.to_string(),
        calls_per_repeat: calls,
        ms_per_call: 1e3 * t,
        ms_per_sample: 1e3 * t / c.batch as f64,
        samples_per_s: c.batch as f64 / t,
        profile,
    })
}

fn run_sampler(gpu_args: &GpuArgs, a: &SamplerBenchArgs) -> Result<()> {
    let cfg = a.net.config()?;
    let scfg = SamplerConfig {
        sampler: a.sampler.parse()?,
        steps: a.steps,
        t_max: a.t_max,
        ..Default::default()
    };
    scfg.times()?;
    cfg.check_grid(a.grid)?;
    let method: Method = a.spectral.parse()?;
    if !(a.seconds.is_finite() && a.seconds > 0.0) || a.repeats == 0 {
        bail!("--seconds must be > 0, --repeats >= 1");
    }
    if a.batches.is_empty() || a.batches.contains(&0) {
        bail!("--batches: sizes >= 1");
    }
    if let Some(p) = &a.json {
        io::refuse_existing(p)?;
        io::check_writable(p)?;
    }
    let gpu = Gpu::new(&gpu_args.options()?)?;
    let params = init_params(&cfg, 1);
    println!("adapter: {}", gpu.describe());
    println!("{}", a.net.describe(&ScoreFno::new(&cfg)?));
    println!(
        "sampler {} x{} from t_max = {} ({} score evaluations), {}x{} grid, spectral {method}",
        scfg.sampler,
        scfg.steps,
        scfg.t_max,
        scfg.sampler.evals(scfg.steps),
        a.grid,
        a.grid
    );
    println!(
        "{:>6} {:>12} {:>10} {:>16}",
        "batch", "ms/batch", "samples/s", "ms/eval/sample"
    );
    let n = a.grid;
    let mut results = Vec::new();
    for &b in &a.batches {
        let s = a.net.sensors;
        let data = Samples {
            grid: n,
            sensors: s,
            len: b,
            omega: synthetic(5, b * n * n),
            target: synthetic(2, b * n * n),
            obs: synthetic(6, b * s * s),
            meta: Default::default(),
        };
        let g = Generator::new(&gpu, &cfg, &params, &data, scfg, b, method)?;
        let conds: Vec<usize> = (0..b).collect();
        let noise = Noise::batch(0, b * n * n);
        let mut call = || -> Result<()> {
            g.run(&conds, &noise, None)?;
            Ok(())
        };
        let (calls, t) = median_seconds(&gpu, &mut call, a.seconds, a.repeats)?;
        let r = serde_json::json!({
            "grid": n, "batch": b, "sampler": scfg.sampler.to_string(), "steps": scfg.steps,
            "t_max": scfg.t_max, "spectral": method.to_string(), "calls_per_repeat": calls,
            "ms_per_batch": 1e3 * t, "samples_per_s": b as f64 / t,
            "ms_per_eval_per_sample": 1e3 * t / (b * scfg.sampler.evals(scfg.steps)) as f64,
        });
        println!(
            "{:>6} {:>12.1} {:>10.2} {:>16.2}",
            b,
            1e3 * t,
            b as f64 / t,
            1e3 * t / (b * scfg.sampler.evals(scfg.steps)) as f64
        );
        results.push(r);
    }
    if let Some(p) = &a.json {
        let doc = serde_json::json!({ "adapter": gpu.describe(), "config": cfg.to_metadata(), "sampler": results });
        io::write_bytes_atomic(p, serde_json::to_string_pretty(&doc)?.as_bytes())?;
        println!("wrote {}", p.display());
    }
    Ok(())
}

/// Seconds per call of `call` (which records and submits GPU work): one
/// warm-up call, then `repeats` repeats of as many calls as fill
/// `seconds`, each timed to the GPU's completion; the median repeat.
/// Returns (calls per repeat, seconds per call).
pub(super) fn median_seconds(
    gpu: &Gpu,
    call: &mut dyn FnMut() -> Result<()>,
    seconds: f64,
    repeats: usize,
) -> Result<(usize, f64)> {
    let mut timed = |calls: usize| -> Result<f64> {
        let t = Instant::now();
        for _ in 0..calls {
            call()?;
        }
        gpu.wait()?;
        Ok(t.elapsed().as_secs_f64())
    };
    timed(1)?;
    let per = timed(1)?;
    let calls = ((seconds / per.max(1e-6)).round() as usize).clamp(1, 10_000);
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| timed(calls).map(|s| s / calls as f64))
        .collect::<Result<_>>()?;
    times.sort_by(f64::total_cmp);
    Ok((calls, times[times.len() / 2]))
}

/// Deterministic O(1) test values (a hash of the index), no RNG needed.
fn synthetic(seed: u64, len: usize) -> Vec<f32> {
    (0..len as u64)
        .map(|i| {
            let mut z = (i ^ (seed << 40)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            z ^= z >> 31;
            z = z.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z ^= z >> 29;
            ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}
