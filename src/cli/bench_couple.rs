//! `diffclosure bench couple`: the cost of a coupled run (science.md §7,
//! issue "online coupled simulation"): wall seconds per simulated second of
//! the truth run, the coarse model without closure, with an eddy-viscosity
//! closure and with the learned closure sampled every k steps by samplers
//! of several step counts, all in one process on one adapter, and the ratio
//! of each to the closure-free coarse run.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use serde::Serialize;

use super::bench::{bench_option_fields, check_timing, median_seconds, Bench, NetArgs, Table};
use crate::couple::{coarse_config, Closure, CoupledRun, LearnedClosure};
use crate::data::dataset::Scenario;
use crate::gpu::Gpu;
use crate::ns::eddy::{EddyClosure, EddyViscosity};
use crate::ns::{NsConfig, NsSolver, Preset};
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

/// One measured case of `bench couple`.
#[derive(Serialize, Debug)]
struct CoupleResult {
    case: String,
    /// Solver steps per timed call.
    steps_per_call: usize,
    calls_per_repeat: usize,
    /// Median over the repeats.
    wall_s_per_simulated_s: f64,
    /// Against the coarse model without closure.
    vs_no_closure: f64,
}

/// Results of `bench couple`.
#[derive(Serialize, Debug)]
pub(super) struct CoupleSection {
    preset: String,
    batch: usize,
    fine: usize,
    grid: usize,
    config: HashMap<String, String>,
    couple: Vec<CoupleResult>,
}

/// `bench couple`'s options resolved: the network (config, weights,
/// sensors per axis), the preset and the truth and coarse solvers.
pub(super) struct CouplePlan {
    net: (ScoreConfig, Vec<f32>, usize),
    preset: Preset,
    fine: NsConfig,
    coarse: NsConfig,
}

impl Bench for CoupleBenchArgs {
    const NAME: &'static str = "couple";
    type Plan = CouplePlan;
    type Output = CoupleSection;

    fn plan(&self) -> Result<CouplePlan> {
        let preset: Preset = self.preset.parse()?;
        check_timing(self.seconds, self.repeats)?;
        if self.every.is_empty()
            || self.every.contains(&0)
            || self.steps.is_empty()
            || self.steps.contains(&0)
        {
            bail!("--every and --steps: values >= 1");
        }
        if self.batch == 0 {
            bail!("--batch must be >= 1");
        }
        let net = match &self.model {
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
                let cfg = self.net.config()?;
                let params = init_params(&cfg, 1);
                (cfg, params, self.net.sensors)
            }
        };
        net.0.check_grid(self.grid)?;
        if self.grid < 16 {
            bail!(
                "--grid {}: the dynamic eddy viscosity needs at least 16",
                self.grid
            );
        }
        let fine = preset.config(self.fine, self.batch, 1);
        fine.validate()?;
        let coarse = coarse_config(Scenario::G, &fine, self.grid);
        coarse.validate()?;
        Ok(CouplePlan {
            net,
            preset,
            fine,
            coarse,
        })
    }

    fn measure(&self, gpu: &Gpu, plan: CouplePlan) -> Result<CoupleSection> {
        let CouplePlan {
            net: (cfg, params, sensors),
            preset,
            fine,
            coarse,
        } = plan;
        let a = self;
        println!(
            "preset {preset}, dt = {}, batch {}: truth {}², coarse {}² (scenario G's coarse model)",
            fine.dt, a.batch, a.fine, a.grid
        );
        let dt = fine.dt;
        let w = preset
            .spec()
            .initial
            .sample_hat(gpu, a.batch, a.fine, fine.length, 1)?;
        // (case, steps per call, (calls per repeat, seconds per call)).
        let mut rows: Vec<(String, usize, (usize, f64))> = Vec::new();
        {
            let mut truth = NsSolver::new(gpu, &fine, Some(&preset.forcing(a.fine)))?;
            truth.set_vorticity_hat(&w)?;
            let mut call = || -> Result<()> { Ok(truth.step(1)?) };
            let r = median_seconds(gpu, &mut call, a.seconds, a.repeats)?;
            rows.push((format!("truth {}² (no restriction)", a.fine), 1, r));
        }
        let coarse_run = |closure: Closure| -> Result<CoupledRun> {
            let mut solver = NsSolver::new(gpu, &coarse, Some(&preset.forcing(a.grid)))?;
            let wc = preset
                .spec()
                .initial
                .sample_hat(gpu, a.batch, a.grid, coarse.length, 1)?;
            solver.set_vorticity_hat(&wc)?;
            Ok(CoupledRun::new(gpu, Scenario::G, solver, closure)?)
        };
        let mut time_run = |name: String, mut run: CoupledRun, every: usize| -> Result<()> {
            let mut call = || -> Result<()> {
                for _ in 0..every {
                    run.step()?;
                }
                Ok(())
            };
            let r = median_seconds(gpu, &mut call, a.seconds, a.repeats)?;
            rows.push((name, every, r));
            Ok(())
        };
        time_run("no closure".into(), coarse_run(Closure::None)?, 1)?;
        for e in ["smagorinsky", "dynamic-smagorinsky"] {
            let kind: EddyViscosity = e.parse()?;
            let closure = Closure::Eddy(Box::new(EddyClosure::new(gpu, &coarse, kind)?));
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
                    gpu,
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
        // One call = `every` steps.
        let per_sim_s = |every: usize, t: f64| t / (every as f64 * dt);
        let base = rows
            .iter()
            .find(|r| r.0 == "no closure")
            .map_or(1.0, |r| per_sim_s(r.1, r.2 .1));
        let table = Table::new(&[("case", -40), ("s / sim. s", 14), ("vs no closure", 14)]);
        let mut couple = Vec::new();
        for (case, every, (calls, t)) in rows {
            let s = per_sim_s(every, t);
            table.row(&[case.clone(), format!("{s:.3}"), format!("{:.2}x", s / base)]);
            couple.push(CoupleResult {
                case,
                steps_per_call: every,
                calls_per_repeat: calls,
                wall_s_per_simulated_s: s,
                vs_no_closure: s / base,
            });
        }
        Ok(CoupleSection {
            preset: preset.to_string(),
            batch: a.batch,
            fine: a.fine,
            grid: a.grid,
            config: cfg.to_metadata(),
            couple,
        })
    }

    bench_option_fields!();
}
