//! `diffclosure bench`: throughput on the adapter at hand, without cargo
//! (criterion's `cargo bench` gives the same figures with statistics).
//!
//! Every section (`fft`, `ns`, `model`, `sampler`, `couple`) is measured by
//! [`crate::bench`]; here its options are checked and converted before any
//! GPU work ([`SectionArgs`]), the adapter opened, and `--json` written
//! with the adapter and the time. `bench all` measures every section at
//! its subcommand's defaults in one process and writes them together, each
//! under its name exactly as the section's own `--json` document holds it
//! (less the adapter and time).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::bench_args::{timing_error, FftBenchArgs, NsBenchArgs, SectionArgs};
use super::bench_net_args::{CoupleBenchArgs, ModelBenchArgs, SamplerBenchArgs};
use crate::bench::{write_document, All, Section};
use crate::cli::GpuArgs;
use crate::data::io;
use crate::gpu::Gpu;

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
fn run_one<A: SectionArgs>(gpu_args: &GpuArgs, a: &A) -> Result<()> {
    let section = a.plan()?;
    check_output(a.json())?;
    let started = SystemTime::now();
    let gpu = open_gpu(gpu_args)?;
    let out = section.measure(&gpu)?;
    if let Some(p) = a.json() {
        write_document(p, &gpu.describe(), started, &out)?;
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
/// `diffclosure bench <section>` with no options uses), planned.
fn defaults<A: SectionArgs + clap::Args + clap::FromArgMatches>() -> Result<A::Section> {
    let cmd = A::augment_args(clap::Command::new("bench"));
    A::from_arg_matches(&cmd.try_get_matches_from(["bench"])?)?.plan()
}

fn run_all(gpu_args: &GpuArgs, a: &AllBenchArgs) -> Result<()> {
    let mut all = All {
        fft: defaults::<FftBenchArgs>()?,
        ns: defaults::<NsBenchArgs>()?,
        model: defaults::<ModelBenchArgs>()?,
        sampler: defaults::<SamplerBenchArgs>()?,
        couple: defaults::<CoupleBenchArgs>()?,
        quick: false,
    };
    // The only refusal: a timing override out of range.
    all.adjust(a.quick, a.seconds, a.repeats)
        .map_err(|_| timing_error())?;
    check_output(a.json.as_deref())?;
    let started = SystemTime::now();
    let gpu = open_gpu(gpu_args)?;
    let results = all.measure(&gpu)?;
    if let Some(p) = &a.json {
        write_document(p, &gpu.describe(), started, &results)?;
    }
    Ok(())
}
