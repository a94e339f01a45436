//! `diffclosure bench couple`: the cost of a coupled run (science.md §7,
//! issue "online coupled simulation"): wall seconds per simulated second of
//! the truth run, the coarse model without closure, with an eddy-viscosity
//! closure and with the learned closure sampled every k steps by samplers
//! of several step counts, all in one process on one adapter, and the ratio
//! of each to the closure-free coarse run.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use super::bench::{median_seconds, NetArgs};
use crate::cli::GpuArgs;
use crate::couple::{coarse_config, Closure, CoupledRun, LearnedClosure};
use crate::data::dataset::Scenario;
use crate::data::io;
use crate::gpu::Gpu;
use crate::ns::eddy::{EddyClosure, EddyViscosity};
use crate::ns::{NsSolver, Preset};
use crate::score::checkpoint;
use crate::score::init::init_params;
use crate::score::spectral_conv::Method;
use crate::score::ScoreConfig;
use crate::sde::{Sampler, SamplerConfig};

/// Options of `diffclosure bench couple`.
#[derive(Args, Debug)]
pub struct CoupleBenchArgs {
    #[command(flatten)]
    net: NetArgs,
    /// A trained checkpoint to time instead of the random network of the
    /// --width/--modes/... sizes (its config and weights).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Preset of the truth run (physics, time step, forcing).
    #[arg(long, default_value = "seed")]
    preset: String,
    /// Truth grid.
    #[arg(long, default_value_t = 256)]
    fine: usize,
    /// Coarse grid.
    #[arg(long, default_value_t = 64)]
    grid: usize,
    /// Trajectories advanced together.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Solver steps between closure samples, comma-separated.
    #[arg(long, default_value = "1,5", value_delimiter = ',')]
    every: Vec<usize>,
    /// Sampler steps (Euler–Maruyama from t_max = 0.1), comma-separated.
    #[arg(long, default_value = "10,5", value_delimiter = ',')]
    steps: Vec<usize>,
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

/// Runs `diffclosure bench couple`.
///
/// # Errors
/// Bad arguments (before any GPU work), no adapter, a failing kernel.
pub fn run_couple(gpu_args: &GpuArgs, a: &CoupleBenchArgs) -> Result<()> {
    let preset: Preset = a.preset.parse()?;
    if !(a.seconds.is_finite() && a.seconds > 0.0) || a.repeats == 0 {
        bail!("--seconds must be > 0 and --repeats >= 1");
    }
    if a.every.is_empty() || a.every.contains(&0) || a.steps.is_empty() || a.steps.contains(&0) {
        bail!("--every and --steps: values >= 1");
    }
    if a.batch == 0 {
        bail!("--batch must be >= 1");
    }
    let (cfg, params, sensors): (ScoreConfig, Vec<f32>, usize) = match &a.model {
        Some(p) => {
            let ck = checkpoint::load(p)?;
            let s = if ck.config.sparse {
                ck.get(p, "data.sensors")?
            } else {
                1
            };
            (ck.config, ck.params, s)
        }
        None => {
            let cfg = a.net.config()?;
            let params = init_params(&cfg, 1);
            (cfg, params, a.net.sensors)
        }
    };
    cfg.check_grid(a.grid)?;
    if a.grid < 16 {
        bail!(
            "--grid {}: the dynamic eddy viscosity needs at least 16",
            a.grid
        );
    }
    let fine = preset.config(a.fine, a.batch, 1);
    fine.validate()?;
    let coarse = coarse_config(Scenario::G, &fine, a.grid);
    coarse.validate()?;
    if let Some(p) = &a.json {
        io::refuse_existing(p)?;
        io::check_writable(p)?;
    }
    let gpu = Gpu::new(&gpu_args.options()?)?;
    println!("adapter: {}", gpu.describe());
    println!(
        "preset {preset}, dt = {}, batch {}: truth {}², coarse {}² (scenario G's coarse model)",
        fine.dt, a.batch, a.fine, a.grid
    );
    let dt = fine.dt;
    let w = preset
        .spec()
        .initial
        .sample_hat(&gpu, a.batch, a.fine, fine.length, 1)?;
    let mut results = Vec::new();
    let mut report = |name: String, every: usize, (calls, t): (usize, f64)| {
        // One call = `every` steps.
        let s_per_s = t / (every as f64 * dt);
        results.push(serde_json::json!({
            "case": name, "steps_per_call": every, "calls_per_repeat": calls,
            "wall_s_per_simulated_s": s_per_s,
        }));
        s_per_s
    };
    let mut rows: Vec<(String, f64)> = Vec::new();
    {
        let mut truth = NsSolver::new(&gpu, &fine, Some(&preset.forcing(a.fine)))?;
        truth.set_vorticity_hat(&w)?;
        let mut call = || -> Result<()> { Ok(truth.step(1)?) };
        let r = median_seconds(&gpu, &mut call, a.seconds, a.repeats)?;
        let name = format!("truth {}² (no restriction)", a.fine);
        rows.push((name.clone(), report(name, 1, r)));
    }
    let coarse_run = |closure: Closure| -> Result<CoupledRun> {
        let mut solver = NsSolver::new(&gpu, &coarse, Some(&preset.forcing(a.grid)))?;
        let wc = preset
            .spec()
            .initial
            .sample_hat(&gpu, a.batch, a.grid, coarse.length, 1)?;
        solver.set_vorticity_hat(&wc)?;
        Ok(CoupledRun::new(&gpu, Scenario::G, solver, closure)?)
    };
    let mut time_run = |name: String, mut run: CoupledRun, every: usize| -> Result<()> {
        let mut call = || -> Result<()> {
            for _ in 0..every {
                run.step()?;
            }
            Ok(())
        };
        let r = median_seconds(&gpu, &mut call, a.seconds, a.repeats)?;
        rows.push((name.clone(), report(name, every, r)));
        Ok(())
    };
    time_run("no closure".into(), coarse_run(Closure::None)?, 1)?;
    for e in ["smagorinsky", "dynamic-smagorinsky"] {
        let kind: EddyViscosity = e.parse()?;
        let closure = Closure::Eddy(Box::new(EddyClosure::new(&gpu, &coarse, kind)?));
        time_run(e.into(), coarse_run(closure)?, 1)?;
    }
    for &steps in &a.steps {
        for &every in &a.every {
            let scfg = SamplerConfig {
                sampler: Sampler::EulerMaruyama,
                steps,
                ..Default::default()
            };
            let closure = LearnedClosure::new(
                &gpu,
                (&cfg, &params),
                (a.batch, a.grid, sensors),
                scfg,
                Method::Fft,
                0,
            )?;
            let closure = Closure::Learned {
                closure: Box::new(closure),
                every,
                frame_steps: usize::MAX,
                perturb: 0.0,
            };
            let name = format!("learned, EM x{steps}, every {every}");
            time_run(name, coarse_run(closure)?, every)?;
        }
    }
    let base = rows
        .iter()
        .find(|r| r.0 == "no closure")
        .map_or(1.0, |r| r.1);
    println!(
        "{:<40} {:>14} {:>14}",
        "case", "s / sim. s", "vs no closure"
    );
    for (name, s) in &rows {
        println!("{name:<40} {s:>14.3} {:>13.2}x", s / base);
    }
    if let Some(p) = &a.json {
        let doc = serde_json::json!({
            "adapter": gpu.describe(), "preset": preset.to_string(), "batch": a.batch,
            "fine": a.fine, "grid": a.grid, "config": cfg.to_metadata(), "couple": results,
        });
        io::write_bytes_atomic(p, serde_json::to_string_pretty(&doc)?.as_bytes())?;
        println!("wrote {}", p.display());
    }
    Ok(())
}
