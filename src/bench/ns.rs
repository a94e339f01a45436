//! Navier–Stokes steps per second with a preset's physics (forcing, drag,
//! stochastic forcing), both time schemes; steps are recorded back to back
//! (64 per submission) exactly as `simulate` runs them. `cargo bench
//! --bench ns` times the same [`solver`] with criterion.

use std::time::Instant;

use serde::Serialize;

use super::{median, Section, Table, Timing};
use crate::gpu::Gpu;
use crate::ns::{NsSolver, Preset, TimeScheme};
use crate::Result;

/// The default cases, (grid, batch).
pub const CASES: [(usize, usize); 2] = [(256, 1), (64, 16)];

/// The schemes every case is stepped with, in this order.
pub const SCHEMES: [TimeScheme; 2] = [TimeScheme::Heun, TimeScheme::Euler];

/// The solver section: a preset's physics at each (grid, batch).
#[derive(Clone, Debug)]
pub struct NsBench {
    /// Whose physics is stepped.
    pub preset: Preset,
    /// (grid points per side, trajectories stepped together), each valid
    /// for the preset's [`crate::ns::NsConfig::validate`].
    pub cases: Vec<(usize, usize)>,
    /// Seconds of stepping per repeat, and repeats.
    pub timing: Timing,
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

/// Results of the solver section.
#[derive(Serialize, Debug)]
pub struct NsSection {
    preset: String,
    ns: Vec<NsResult>,
}

/// A solver of `preset`'s physics for `b` trajectories on `n × n` with
/// `scheme`, from the preset's initial vorticity (seed 1), two steps
/// taken (pipelines built, caches warm) and waited for.
///
/// # Errors
/// [`crate::Error::InvalidArgument`] for a configuration the solver
/// refuses; a failing kernel.
pub fn solver(
    gpu: &Gpu,
    preset: Preset,
    n: usize,
    b: usize,
    scheme: TimeScheme,
) -> Result<NsSolver> {
    let mut cfg = preset.config(n, b, 1);
    cfg.scheme = scheme;
    let mut solver = NsSolver::new(gpu, &cfg, Some(&preset.forcing(n)))?;
    let w = preset.spec().initial.sample_hat(gpu, b, n, cfg.length, 1)?;
    solver.set_vorticity_hat(&w)?;
    solver.step(2)?;
    gpu.wait()?;
    Ok(solver)
}

impl NsBench {
    /// Steps/s of one case, timed to the GPU's completion; the repeats'
    /// step count sized from a short run.
    fn measure_case(&self, gpu: &Gpu, n: usize, b: usize, scheme: TimeScheme) -> Result<NsResult> {
        let mut solver = solver(gpu, self.preset, n, b, scheme)?;
        let mut timed = |steps: usize| -> Result<f64> {
            let t = Instant::now();
            solver.step(steps)?;
            gpu.wait()?;
            Ok(t.elapsed().as_secs_f64())
        };
        let probe = 8;
        let per_step = timed(probe)? / probe as f64;
        let steps =
            ((self.timing.seconds() / per_step.max(1e-9)).round() as usize).clamp(1, 1_000_000);
        let rates: Vec<f64> = (0..self.timing.repeats())
            .map(|_| timed(steps).map(|s| steps as f64 / s))
            .collect::<Result<_>>()?;
        let (min, median, max) = median(rates);
        Ok(NsResult {
            grid: n,
            batch: b,
            scheme: scheme.to_string(),
            steps_per_repeat: steps,
            steps_per_s: median,
            ms_per_step: 1e3 / median,
            trajectory_steps_per_s: median * b as f64,
            min_steps_per_s: min,
            max_steps_per_s: max,
        })
    }
}

impl Section for NsBench {
    const NAME: &'static str = "ns";
    type Output = NsSection;

    fn measure(&self, gpu: &Gpu) -> Result<NsSection> {
        let table = Table::new(&[
            ("grid", 6),
            ("batch", 6),
            ("scheme", 6),
            ("steps/s", 10),
            ("ms/step", 10),
            ("traj-steps/s", 14),
        ]);
        let mut ns = Vec::new();
        for &(n, b) in &self.cases {
            for scheme in SCHEMES {
                let r = self.measure_case(gpu, n, b, scheme)?;
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
            preset: self.preset.to_string(),
            ns,
        })
    }

    fn timing_mut(&mut self) -> &mut Timing {
        &mut self.timing
    }
}
