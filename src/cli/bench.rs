//! `diffclosure bench`: throughput on the adapter at hand, without cargo
//! (criterion's `cargo bench` gives the same figures with statistics).
//!
//! Every section (`fft`, `ns`, `model`, `sampler`, `couple`) is a
//! [`Bench`]: its options are checked before any GPU work, then it is
//! measured on one open adapter, printing a [`Table`] as cases finish, and
//! returns a serializable result. `--json` writes that result with the
//! adapter and the time; `bench all` measures every section in one process
//! and writes them together, each under its name and exactly as the
//! section's own `--json` document holds it (less the adapter and time).

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::bench_couple::CoupleBenchArgs;
use super::bench_fft::FftBenchArgs;
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
    /// Batched 2-D FFTs per second (r2c + c2r and c2c round trips, our
    /// WGSL FFT), by default at 64² batch 16, 128² batch 4, 256² batch 1.
    Fft(FftBenchArgs),
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
    Couple(CoupleBenchArgs),
    /// Every section above at its default cases (random weights, no input
    /// files) in one process on one adapter, as one JSON document.
    All(AllBenchArgs),
}

/// One section of `diffclosure bench`.
pub(super) trait Bench {
    /// The section's subcommand, and its key in JSON documents.
    const NAME: &'static str;
    /// The options resolved and checked, before any GPU work.
    type Plan;
    /// The section's results (a JSON object).
    type Output: Serialize;
    /// Checks the options without touching the GPU.
    ///
    /// # Errors
    /// Bad options, an unreadable input file.
    fn plan(&self) -> Result<Self::Plan>;
    /// Measures on `gpu`, printing a table as cases finish.
    ///
    /// # Errors
    /// A failing kernel or device.
    fn measure(&self, gpu: &Gpu, plan: Self::Plan) -> Result<Self::Output>;
    /// `--json`, where the section's own run writes its results.
    fn json(&self) -> Option<&Path>;
    /// `--seconds` and `--repeats`, for `bench all` to override.
    fn timing(&mut self) -> (&mut f64, &mut usize);
    /// `bench all --quick`: one repeat of 0.25 s per case.
    fn quicken(&mut self) {
        let (seconds, repeats) = self.timing();
        (*seconds, *repeats) = (0.25, 1);
    }
}

/// The [`Bench::json`] and [`Bench::timing`] of options with `json`,
/// `seconds` and `repeats` fields (every section's).
macro_rules! bench_option_fields {
    () => {
        fn json(&self) -> Option<&std::path::Path> {
            self.json.as_deref()
        }

        fn timing(&mut self) -> (&mut f64, &mut usize) {
            (&mut self.seconds, &mut self.repeats)
        }
    };
}
pub(super) use bench_option_fields;

/// The cases of a section: the one of `--grid` and `--batch` if given
/// (clap requires both or neither), else the defaults.
pub(super) fn grid_cases(
    grid: Option<usize>,
    batch: Option<usize>,
    defaults: &[(usize, usize)],
) -> Vec<(usize, usize)> {
    match (grid, batch) {
        (Some(n), Some(b)) => vec![(n, b)],
        _ => defaults.to_vec(),
    }
}

/// Runs `diffclosure bench`.
///
/// # Errors
/// Bad arguments (before any GPU work), no adapter, a failing kernel.
pub fn run(gpu_args: &GpuArgs, cmd: &BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Fft(a) => run_one(gpu_args, a),
        BenchCommand::Ns(a) => run_one(gpu_args, a),
        BenchCommand::Model(a) => run_one(gpu_args, a),
        BenchCommand::Sampler(a) => run_one(gpu_args, a),
        BenchCommand::Couple(a) => run_one(gpu_args, a),
        BenchCommand::All(a) => run_all(gpu_args, a),
    }
}

/// One section on its own: plan, open the adapter, measure, write `--json`.
fn run_one<B: Bench>(gpu_args: &GpuArgs, b: &B) -> Result<()> {
    let plan = b.plan()?;
    check_output(b.json())?;
    let started = SystemTime::now();
    let gpu = open_gpu(gpu_args)?;
    let out = serde_json::to_value(b.measure(&gpu, plan)?)?;
    if let Some(p) = b.json() {
        write_document(p, &gpu, started, out)?;
    }
    Ok(())
}

/// Refuses an existing output and an unwritable directory (before any GPU
/// work).
fn check_output(json: Option<&Path>) -> Result<()> {
    if let Some(p) = json {
        io::refuse_existing(p)?;
        io::check_writable(p)?;
    }
    Ok(())
}

/// Opens the selected adapter and names it.
fn open_gpu(gpu_args: &GpuArgs) -> Result<Gpu> {
    let gpu = Gpu::new(&gpu_args.options()?)?;
    println!("adapter: {}", gpu.describe());
    Ok(gpu)
}

/// Writes `{"adapter", "diffclosure", "unix_time", "date", ...body}`
/// (`started`: when the measurement began).
fn write_document(
    path: &Path,
    gpu: &Gpu,
    started: SystemTime,
    body: serde_json::Value,
) -> Result<()> {
    let unix = started
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut doc = serde_json::Map::new();
    doc.insert("adapter".into(), gpu.describe().into());
    doc.insert("diffclosure".into(), env!("CARGO_PKG_VERSION").into());
    doc.insert("unix_time".into(), unix.into());
    doc.insert("date".into(), iso_utc(unix).into());
    match body {
        serde_json::Value::Object(m) => doc.extend(m),
        other => {
            doc.insert("results".into(), other);
        }
    }
    let text = serde_json::to_string_pretty(&serde_json::Value::Object(doc))?;
    io::write_bytes_atomic(path, text.as_bytes())?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Seconds since the Unix epoch as an ISO 8601 UTC time (the proleptic
/// Gregorian calendar; days to civil date as in H. Hinnant's algorithm).
fn iso_utc(unix: u64) -> String {
    let (days, secs) = ((unix / 86_400) as i64, unix % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// `--seconds` > 0 and `--repeats` >= 1.
pub(super) fn check_timing(seconds: f64, repeats: usize) -> Result<()> {
    if !(seconds.is_finite() && seconds > 0.0) || repeats == 0 {
        bail!("--seconds must be > 0 and --repeats >= 1");
    }
    Ok(())
}

/// A text table printed row by row as cases finish: `(header, width)`
/// columns, right-aligned, left-aligned for a negative width.
pub(super) struct Table(Vec<isize>);

impl Table {
    /// Prints the header line.
    pub(super) fn new(columns: &[(&str, isize)]) -> Self {
        let t = Table(columns.iter().map(|c| c.1).collect());
        t.row(&columns.iter().map(|c| c.0.to_string()).collect::<Vec<_>>());
        t
    }

    /// Prints one row (one cell per column).
    pub(super) fn row(&self, cells: &[String]) {
        let line: Vec<String> = cells
            .iter()
            .zip(&self.0)
            .map(|(c, &w)| {
                if w < 0 {
                    format!("{c:<0$}", w.unsigned_abs())
                } else {
                    format!("{c:>0$}", w.unsigned_abs())
                }
            })
            .collect();
        println!("{}", line.join(" "));
    }
}

/// Options of `diffclosure bench all`.
#[derive(Args, Debug)]
pub struct AllBenchArgs {
    /// About 2–3 minutes on lavapipe (2 cores) instead of 5–8: one repeat
    /// of 0.25 s per case (after two warm-up calls; a call longer than a
    /// repeat still runs once), and the network timed with the FFT route
    /// only (as the sampler and couple sections run it), not both.
    #[arg(long)]
    quick: bool,
    /// Seconds per repeat in every section (default: each section's own,
    /// as its subcommand).
    #[arg(long)]
    seconds: Option<f64>,
    /// Repeats per case in every section (default: each section's own).
    #[arg(long)]
    repeats: Option<usize>,
    /// Also write all results here as one JSON document:
    /// {"adapter", "date", "unix_time", "seconds" (per section), "fft",
    /// "ns", "model", "sampler", "couple"}.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// A section's options at its subcommand's defaults (what
/// `diffclosure bench <section>` with no options uses).
fn defaults<T: clap::Args + clap::FromArgMatches>() -> Result<T> {
    let cmd = T::augment_args(clap::Command::new("bench"));
    Ok(T::from_arg_matches(&cmd.try_get_matches_from(["bench"])?)?)
}

/// A section at its defaults with `bench all`'s timing overrides, planned.
fn all_section<B: Bench + clap::Args + clap::FromArgMatches>(
    a: &AllBenchArgs,
) -> Result<(B, B::Plan)> {
    let mut b: B = defaults()?;
    if a.quick {
        b.quicken();
    }
    let (seconds, repeats) = b.timing();
    if let Some(s) = a.seconds {
        *seconds = s;
    }
    if let Some(r) = a.repeats {
        *repeats = r;
    }
    let plan = b.plan()?;
    Ok((b, plan))
}

/// Measures one section of `bench all` into `doc` under its name, and its
/// wall time into `seconds`.
fn measure_into<B: Bench>(
    gpu: &Gpu,
    (b, plan): (B, B::Plan),
    doc: &mut serde_json::Map<String, serde_json::Value>,
    seconds: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    println!("\n== bench {} ==", B::NAME);
    let t = Instant::now();
    let out = b.measure(gpu, plan)?;
    doc.insert(B::NAME.into(), serde_json::to_value(out)?);
    let s = t.elapsed().as_secs_f64();
    seconds.insert(B::NAME.into(), s.into());
    println!("({} in {s:.1} s)", B::NAME);
    Ok(())
}

fn run_all(gpu_args: &GpuArgs, a: &AllBenchArgs) -> Result<()> {
    let fft = all_section::<FftBenchArgs>(a)?;
    let ns = all_section::<NsBenchArgs>(a)?;
    let model = all_section::<ModelBenchArgs>(a)?;
    let sampler = all_section::<SamplerBenchArgs>(a)?;
    let couple = all_section::<CoupleBenchArgs>(a)?;
    check_output(a.json.as_deref())?;
    let started = SystemTime::now();
    let t0 = Instant::now();
    let gpu = open_gpu(gpu_args)?;
    let mut doc = serde_json::Map::new();
    let mut seconds = serde_json::Map::new();
    measure_into(&gpu, fft, &mut doc, &mut seconds)?;
    measure_into(&gpu, ns, &mut doc, &mut seconds)?;
    measure_into(&gpu, model, &mut doc, &mut seconds)?;
    measure_into(&gpu, sampler, &mut doc, &mut seconds)?;
    measure_into(&gpu, couple, &mut doc, &mut seconds)?;
    let total = t0.elapsed().as_secs_f64();
    println!("\nall sections in {total:.1} s");
    seconds.insert("total".into(), total.into());
    doc.insert("quick".into(), a.quick.into());
    doc.insert("seconds".into(), seconds.into());
    if let Some(p) = &a.json {
        write_document(p, &gpu, started, doc.into())?;
    }
    Ok(())
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

/// Results of `bench ns`.
#[derive(Serialize, Debug)]
pub(super) struct NsSection {
    preset: String,
    ns: Vec<NsResult>,
}

impl Bench for NsBenchArgs {
    const NAME: &'static str = "ns";
    type Plan = (Preset, Vec<(usize, usize)>);
    type Output = NsSection;

    fn plan(&self) -> Result<Self::Plan> {
        let preset: Preset = self.preset.parse()?;
        check_timing(self.seconds, self.repeats)?;
        let cases = grid_cases(self.grid, self.batch, &[(256, 1), (64, 16)]);
        for &(n, b) in &cases {
            preset.config(n, b, 1).validate()?;
        }
        Ok((preset, cases))
    }

    fn measure(&self, gpu: &Gpu, (preset, cases): Self::Plan) -> Result<NsSection> {
        let table = Table::new(&[
            ("grid", 6),
            ("batch", 6),
            ("scheme", 6),
            ("steps/s", 10),
            ("ms/step", 10),
            ("traj-steps/s", 14),
        ]);
        let mut ns = Vec::new();
        for &(n, b) in &cases {
            for scheme in [TimeScheme::Heun, TimeScheme::Euler] {
                let r = measure_ns(gpu, preset, n, b, scheme, self.seconds, self.repeats)?;
                table.row(&[
                    format!("{n}²"),
                    b.to_string(),
                    r.scheme.clone(),
                    format!("{:.1}", r.steps_per_s),
                    format!("{:.3}", r.ms_per_step),
                    format!("{:.1}", r.trajectory_steps_per_s),
                ]);
                ns.push(r);
            }
        }
        Ok(NsSection {
            preset: preset.to_string(),
            ns,
        })
    }

    bench_option_fields!();
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
pub(super) struct ModelCase {
    train: bool,
    n: usize,
    batch: usize,
}

impl ModelCase {
    /// Every case, in the order measured.
    const ALL: [ModelCase; 5] = [
        ModelCase::forward(64, 1),
        ModelCase::forward(64, 16),
        ModelCase::forward(128, 4),
        ModelCase::forward(256, 4),
        ModelCase {
            train: true,
            n: 64,
            batch: 32,
        },
    ];

    const fn forward(n: usize, batch: usize) -> Self {
        ModelCase {
            train: false,
            n,
            batch,
        }
    }

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

/// Results of `bench model`.
#[derive(Serialize, Debug)]
pub(super) struct ModelSection {
    config: std::collections::HashMap<String, String>,
    parameters: usize,
    model: Vec<ModelResult>,
}

impl Bench for ModelBenchArgs {
    const NAME: &'static str = "model";
    /// Network, cases, spectral route (`None`: auto).
    type Plan = (ScoreConfig, Vec<ModelCase>, Option<Method>);
    type Output = ModelSection;

    fn plan(&self) -> Result<Self::Plan> {
        let cfg = self.net.config()?;
        check_timing(self.seconds, self.repeats)?;
        let cases: Vec<ModelCase> = match &self.cases {
            None => ModelCase::ALL.to_vec(),
            Some(list) => list
                .split(',')
                .map(|c| {
                    ModelCase::ALL
                        .iter()
                        .find(|k| k.name() == c.trim())
                        .copied()
                        .ok_or_else(|| anyhow::anyhow!("unknown case '{c}': expected one of f64x1, f64x16, f128x4, f256x4, t64x32"))
                })
                .collect::<Result<_>>()?,
        };
        for c in &cases {
            cfg.check_grid(c.n)?;
        }
        let fixed: Option<Method> = match self.spectral.trim() {
            "auto" => None,
            m => Some(m.parse()?),
        };
        Ok((cfg, cases, fixed))
    }

    fn measure(&self, gpu: &Gpu, (cfg, cases, fixed): Self::Plan) -> Result<ModelSection> {
        let model = ScoreFno::new(&cfg)?;
        let params = init_params(&cfg, 1);
        println!("{}", self.net.describe(&model));
        let table = Table::new(&[
            ("case", 8),
            ("grid", 6),
            ("batch", 6),
            ("spectral", 8),
            ("ms/call", 10),
            ("ms/sample", 12),
            ("samples/s", 10),
        ]);
        let mut results = Vec::new();
        for c in cases {
            let methods = match fixed {
                Some(m) => vec![m],
                None => vec![Method::Dft, Method::Fft],
            };
            let mut best: Option<ModelResult> = None;
            for m in methods {
                let r = measure_model(gpu, &model, &params, c, self, m)?;
                table.row(&[
                    r.case.clone(),
                    format!("{}²", r.grid),
                    r.batch.to_string(),
                    r.spectral.clone(),
                    format!("{:.2}", r.ms_per_call),
                    format!("{:.3}", r.ms_per_sample),
                    format!("{:.1}", r.samples_per_s),
                ]);
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
        Ok(ModelSection {
            config: cfg.to_metadata(),
            parameters: params.len(),
            model: results,
        })
    }

    bench_option_fields!();

    fn quicken(&mut self) {
        (self.seconds, self.repeats) = (0.25, 1);
        self.spectral = Method::Fft.to_string();
    }
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

/// One measured sampler case (one batch size).
#[derive(Serialize, Debug)]
struct SamplerResult {
    grid: usize,
    batch: usize,
    sampler: String,
    steps: usize,
    t_max: f64,
    spectral: String,
    calls_per_repeat: usize,
    ms_per_batch: f64,
    samples_per_s: f64,
    ms_per_eval_per_sample: f64,
}

/// Results of `bench sampler`.
#[derive(Serialize, Debug)]
pub(super) struct SamplerSection {
    config: std::collections::HashMap<String, String>,
    sampler: Vec<SamplerResult>,
}

impl Bench for SamplerBenchArgs {
    const NAME: &'static str = "sampler";
    type Plan = (ScoreConfig, SamplerConfig, Method);
    type Output = SamplerSection;

    fn plan(&self) -> Result<Self::Plan> {
        let cfg = self.net.config()?;
        let scfg = SamplerConfig {
            sampler: self.sampler.parse()?,
            steps: self.steps,
            t_max: self.t_max,
            ..Default::default()
        };
        scfg.times()?;
        cfg.check_grid(self.grid)?;
        let method: Method = self.spectral.parse()?;
        check_timing(self.seconds, self.repeats)?;
        if self.batches.is_empty() || self.batches.contains(&0) {
            bail!("--batches: sizes >= 1");
        }
        Ok((cfg, scfg, method))
    }

    fn measure(&self, gpu: &Gpu, (cfg, scfg, method): Self::Plan) -> Result<SamplerSection> {
        let params = init_params(&cfg, 1);
        println!("{}", self.net.describe(&ScoreFno::new(&cfg)?));
        let evals = scfg.sampler.evals(scfg.steps);
        println!(
            "sampler {} x{} from t_max = {} ({evals} score evaluations), {}x{} grid, spectral {method}",
            scfg.sampler, scfg.steps, scfg.t_max, self.grid, self.grid
        );
        let table = Table::new(&[
            ("batch", 6),
            ("ms/batch", 12),
            ("samples/s", 10),
            ("ms/eval/sample", 16),
        ]);
        let (n, s) = (self.grid, self.net.sensors);
        let mut results = Vec::new();
        for &b in &self.batches {
            let data = Samples {
                grid: n,
                sensors: s,
                len: b,
                omega: synthetic(5, b * n * n),
                target: synthetic(2, b * n * n),
                obs: synthetic(6, b * s * s),
                meta: Default::default(),
            };
            let g = Generator::new(gpu, &cfg, &params, &data, scfg, b, method)?;
            let conds: Vec<usize> = (0..b).collect();
            let noise = Noise::batch(0, b * n * n);
            let mut call = || -> Result<()> {
                g.run(&conds, &noise, None)?;
                Ok(())
            };
            let (calls, t) = median_seconds(gpu, &mut call, self.seconds, self.repeats)?;
            let r = SamplerResult {
                grid: n,
                batch: b,
                sampler: scfg.sampler.to_string(),
                steps: scfg.steps,
                t_max: scfg.t_max,
                spectral: method.to_string(),
                calls_per_repeat: calls,
                ms_per_batch: 1e3 * t,
                samples_per_s: b as f64 / t,
                ms_per_eval_per_sample: 1e3 * t / (b * evals) as f64,
            };
            table.row(&[
                b.to_string(),
                format!("{:.1}", r.ms_per_batch),
                format!("{:.2}", r.samples_per_s),
                format!("{:.2}", r.ms_per_eval_per_sample),
            ]);
            results.push(r);
        }
        Ok(SamplerSection {
            config: cfg.to_metadata(),
            sampler: results,
        })
    }

    bench_option_fields!();
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
pub(super) fn synthetic(seed: u64, len: usize) -> Vec<f32> {
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

#[cfg(test)]
mod tests {
    use super::iso_utc;

    #[test]
    fn iso_utc_dates() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        // 2000-02-29 (a leap day of a century leap year) 12:34:56.
        assert_eq!(iso_utc(951_827_696), "2000-02-29T12:34:56Z");
        assert_eq!(iso_utc(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
