//! The cost of a coupled run (docs/specification.md §7): wall seconds per
//! simulated second of the truth run, the coarse model without closure,
//! with an eddy-viscosity closure and with the learned closure sampled
//! every k steps by samplers of several step counts, all in one process on
//! one adapter, and the ratio of each to the closure-free coarse run.

use std::collections::HashMap;

use serde::Serialize;

use super::model::Net;
use super::{median_seconds, Section, Table, Timing};
use crate::couple::{coarse_config, Closure, CoupledRun, LearnedClosure};
use crate::data::dataset::Scenario;
use crate::gpu::Gpu;
use crate::ns::eddy::{EddyClosure, EddyViscosity};
use crate::ns::{NsConfig, NsSolver, Preset};
use crate::score::spectral_conv::Method;
use crate::sde::{Sampler, SamplerConfig};
use crate::Result;

/// The coupled-run section: the truth and coarse solvers of a preset, the
/// network of the learned closure, and the closures' schedules.
#[derive(Clone, Debug)]
pub struct CoupleBench {
    /// The network (its grid check passed for the coarse grid).
    pub net: Net,
    /// Physics, time step, forcing and initial condition.
    pub preset: Preset,
    /// The truth run, `batch` trajectories; from [`configs`].
    pub fine: NsConfig,
    /// Scenario G's coarse model of it (n >= 16, as the dynamic eddy
    /// viscosity needs); from [`configs`].
    pub coarse: NsConfig,
    /// Solver steps between closure samples, each >= 1.
    pub every: Vec<usize>,
    /// Steps of the Euler–Maruyama samplers (from t_max = 0.1), each >= 1.
    pub steps: Vec<usize>,
    /// Per case.
    pub timing: Timing,
}

/// The truth configuration of `preset` for `batch` trajectories on
/// `fine × fine` and scenario G's coarse model of it on `grid × grid`.
///
/// # Errors
/// [`crate::Error::InvalidArgument`] where either fails
/// [`NsConfig::validate`].
pub fn configs(
    preset: Preset,
    fine: usize,
    grid: usize,
    batch: usize,
) -> Result<(NsConfig, NsConfig)> {
    let fine = preset.config(fine, batch, 1);
    fine.validate()?;
    let coarse = coarse_config(Scenario::G, &fine, grid);
    coarse.validate()?;
    Ok((fine, coarse))
}

/// One measured case of the section.
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

/// Results of the coupled-run section.
#[derive(Serialize, Debug)]
pub struct CoupleSection {
    preset: String,
    batch: usize,
    fine: usize,
    grid: usize,
    config: HashMap<String, String>,
    couple: Vec<CoupleResult>,
}

impl CoupleBench {
    /// The coarse model with `closure`, from the preset's initial
    /// condition on the coarse grid.
    fn coarse_run(&self, gpu: &Gpu, closure: Closure) -> Result<CoupledRun> {
        let (c, p) = (&self.coarse, self.preset);
        let mut solver = NsSolver::new(gpu, c, Some(&p.forcing(c.n)))?;
        let wc = p
            .spec()
            .initial
            .sample_hat(gpu, c.batch, c.n, c.length, 1)?;
        solver.set_vorticity_hat(&wc)?;
        CoupledRun::new(gpu, Scenario::G, solver, closure)
    }

    /// The learned closure sampled every `every` steps by `steps` EM steps.
    fn learned(&self, gpu: &Gpu, steps: usize, every: usize) -> Result<Closure> {
        let scfg = SamplerConfig {
            sampler: Sampler::EulerMaruyama,
            steps,
            ..Default::default()
        };
        let closure = LearnedClosure::new(
            gpu,
            (&self.net.config, &self.net.params),
            (self.coarse.batch, self.coarse.n, self.net.sensors),
            scfg,
            Method::Fft,
            0,
        )?;
        Ok(Closure::Learned {
            closure: Box::new(closure),
            every,
            frame_steps: usize::MAX,
            perturb: 0.0,
        })
    }
}

impl Section for CoupleBench {
    const NAME: &'static str = "couple";
    type Output = CoupleSection;

    fn measure(&self, gpu: &Gpu) -> Result<CoupleSection> {
        let (fine, preset, timing) = (&self.fine, self.preset, self.timing);
        println!(
            "preset {preset}, dt = {}, batch {}: truth {}², coarse {}² (scenario G's coarse model)",
            fine.dt, fine.batch, fine.n, self.coarse.n
        );
        let w = preset
            .spec()
            .initial
            .sample_hat(gpu, fine.batch, fine.n, fine.length, 1)?;
        // (case, steps per call, (calls per repeat, seconds per call)).
        let mut rows: Vec<(String, usize, (usize, f64))> = Vec::new();
        {
            let mut truth = NsSolver::new(gpu, fine, Some(&preset.forcing(fine.n)))?;
            truth.set_vorticity_hat(&w)?;
            let mut call = || truth.step(1);
            let r = median_seconds(gpu, &mut call, timing)?;
            rows.push((format!("truth {}² (no restriction)", fine.n), 1, r));
        }
        // One call = `every` steps, so that a learned closure samples once.
        let mut time_run = |name: String, mut run: CoupledRun, every: usize| -> Result<()> {
            let mut call = || -> Result<()> {
                for _ in 0..every {
                    run.step()?;
                }
                Ok(())
            };
            let r = median_seconds(gpu, &mut call, timing)?;
            rows.push((name, every, r));
            Ok(())
        };
        time_run("no closure".into(), self.coarse_run(gpu, Closure::None)?, 1)?;
        for e in ["smagorinsky", "dynamic-smagorinsky"] {
            let kind: EddyViscosity = e.parse()?;
            let closure = Closure::Eddy(Box::new(EddyClosure::new(gpu, &self.coarse, kind)?));
            time_run(e.into(), self.coarse_run(gpu, closure)?, 1)?;
        }
        for &steps in &self.steps {
            for &every in &self.every {
                let closure = self.learned(gpu, steps, every)?;
                let name = format!("learned, EM x{steps}, every {every}");
                time_run(name, self.coarse_run(gpu, closure)?, every)?;
            }
        }
        let per_sim_s = |every: usize, t: f64| t / (every as f64 * fine.dt);
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
            batch: fine.batch,
            fine: fine.n,
            grid: self.coarse.n,
            config: self.net.config.to_metadata(),
            couple,
        })
    }

    fn timing_mut(&mut self) -> &mut Timing {
        &mut self.timing
    }
}
