//! `diffclosure bench`: throughput on the adapter at hand, without cargo
//! (criterion's `cargo bench` gives the same figures with statistics).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::cli::GpuArgs;
use crate::data::io;
use crate::gpu::Gpu;
use crate::ns::{NsSolver, Preset, TimeScheme};

/// What `diffclosure bench` measures.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Navier–Stokes steps per second (the preset's physics: forcing, drag,
    /// stochastic forcing), by default at 256² batch 1 and 64² batch 16
    /// with both schemes.
    Ns(NsBenchArgs),
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
