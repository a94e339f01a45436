//! A coupled run: the coarse model of a closure scenario advanced with its
//! closure term from none, the oracle (the restricted terms of a fine run
//! stepped alongside) or the learned closure.

use crate::data::dataset::Scenario;
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::ns::closure::ClosureRecorder;
use crate::ns::eddy::EddyClosure;
use crate::ns::{NsConfig, NsSolver};

use super::LearnedClosure;

/// The coarse model of `scenario` on an `m × m` grid for a truth run
/// `fine` (docs/specification.md §3): for G the coarse model omits ν∆ω and the
/// stochastic forcing (both are in G); for H it omits its advection; for
/// sgs it keeps everything but the stochastic forcing, which no coarse
/// model can know (the truth runs of H and sgs should have none).
pub fn coarse_config(scenario: Scenario, fine: &NsConfig, m: usize) -> NsConfig {
    let base = NsConfig {
        n: m,
        stochastic: None,
        ..fine.clone()
    };
    match scenario {
        Scenario::G => NsConfig { nu: 0.0, ..base },
        Scenario::H => NsConfig {
            advection: false,
            ..base
        },
        Scenario::Sgs => base,
    }
}

/// Where the closure term comes from.
pub enum Closure {
    /// No closure (the coarse model alone).
    None,
    /// The exact term of a fine run stepped alongside, restricted at every
    /// step (a sanity check of the coupling: it reproduces the restricted
    /// truth to the time-stepping error).
    Oracle {
        /// The fine (truth) solver.
        fine: Box<NsSolver>,
        /// Its restriction to the coarse grid.
        recorder: Box<ClosureRecorder>,
    },
    /// An eddy-viscosity closure (Smagorinsky, Leith, constant or
    /// dynamic), computed from the state at every step.
    Eddy(Box<EddyClosure>),
    /// The score network, sampled every `every` steps and held between
    /// (with `perturb > 0`: plus fresh white noise of that standard
    /// deviation at every step between samples).
    Learned {
        /// The closure sampler.
        closure: Box<LearnedClosure>,
        /// Steps between samples.
        every: usize,
        /// Steps per observation frame (the truth's output interval).
        frame_steps: usize,
        /// Perturbation amplitude between samples (0: hold).
        perturb: f64,
    },
}

/// The coarse solver and its closure.
pub struct CoupledRun {
    gpu: Gpu,
    scenario: Scenario,
    solver: NsSolver,
    closure: Closure,
    steps: u64,
}

impl CoupledRun {
    /// A run of `solver` (the coarse model, see [`coarse_config`]) with
    /// `closure` for `scenario`. With the oracle, the coarse state is set
    /// to the restricted fine state at the first step.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an oracle that does not record the
    /// solver's grid, or a learned closure sampled every 0 steps.
    pub fn new(gpu: &Gpu, scenario: Scenario, solver: NsSolver, closure: Closure) -> Result<Self> {
        match &closure {
            Closure::Oracle { recorder, .. } if recorder.spectra(solver.config().n).is_none() => {
                return Err(Error::InvalidArgument(format!(
                    "the oracle does not record the coarse grid {}",
                    solver.config().n
                )))
            }
            Closure::Learned {
                every,
                frame_steps,
                perturb,
                ..
            } if *every == 0 || *frame_steps == 0 || !(perturb.is_finite() && *perturb >= 0.0) => {
                return Err(Error::InvalidArgument(
                    "the closure must be sampled every >= 1 steps, frames >= 1 step, perturbed by a finite amplitude >= 0".into(),
                ))
            }
            _ => {}
        }
        Ok(Self {
            gpu: gpu.clone(),
            scenario,
            solver,
            closure,
            steps: 0,
        })
    }

    /// The coarse solver.
    pub fn solver(&self) -> &NsSolver {
        &self.solver
    }

    /// The closure.
    pub fn closure(&self) -> &Closure {
        &self.closure
    }

    /// The closure, mutable (to read or advance an oracle's fine run).
    pub fn closure_mut(&mut self) -> &mut Closure {
        &mut self.closure
    }

    /// Steps done.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Continues a run saved after `steps` steps: the solver's vorticity
    /// and closure half spectra (`[B, n, n/2+1]` interleaved complex, as
    /// [`NsSolver::read_vorticity_hat`] gives them). A learned closure's
    /// noise position is restored separately
    /// ([`LearnedClosure::set_draws`]); the oracle cannot be resumed.
    ///
    /// # Errors
    /// [`Error::Shape`] for spectra of the wrong size or non-finite values;
    /// [`Error::InvalidArgument`] for an oracle run.
    pub fn resume(&mut self, steps: u64, vorticity_hat: &[f32], closure_hat: &[f32]) -> Result<()> {
        if matches!(self.closure, Closure::Oracle { .. }) {
            return Err(Error::InvalidArgument(
                "an oracle run (a fine solver alongside) cannot be resumed".into(),
            ));
        }
        let c = self.solver.closure_hat();
        let bad = |v: &[f32]| v.len() != c.floats() || v.iter().any(|x| !x.is_finite());
        if bad(closure_hat) || bad(vorticity_hat) {
            return Err(Error::Shape(format!(
                "vorticity / closure spectra: {} / {} floats, expected {} finite each",
                vorticity_hat.len(),
                closure_hat.len(),
                c.floats()
            )));
        }
        c.write(&self.gpu, closure_hat)?;
        self.solver.set_vorticity_hat(vorticity_hat)?;
        self.steps = steps;
        Ok(())
    }

    /// Advances the coarse model by one step with its closure term (the
    /// learned closure: one command encoder holding the sample, when due,
    /// and the step).
    ///
    /// # Errors
    /// Kernel build errors; the learned closure's errors.
    pub fn step(&mut self) -> Result<()> {
        match &mut self.closure {
            Closure::None => self.solver.step(1)?,
            Closure::Oracle { fine, recorder } => {
                recorder.step(fine)?;
                let m = self.solver.config().n;
                let (w_bar, terms, sgs) = recorder
                    .spectra(m)
                    .ok_or_else(|| Error::InvalidArgument(format!("grid {m} not recorded")))?;
                let per = self.solver.closure_hat().bytes() / self.solver.config().batch as u64;
                let mut enc = self.gpu.encoder("oracle closure");
                if self.steps == 0 {
                    let dst = self.solver.vorticity_hat();
                    enc.copy_buffer_to_buffer(&w_bar.buffer, 0, &dst.buffer, 0, dst.bytes());
                }
                for b in 0..self.solver.config().batch as u64 {
                    let (src, at) = match self.scenario {
                        Scenario::G => (terms, 2 * b * per),
                        Scenario::H => (terms, (2 * b + 1) * per),
                        Scenario::Sgs => (sgs, b * per),
                    };
                    let dst = &self.solver.closure_hat().buffer;
                    enc.copy_buffer_to_buffer(&src.buffer, at, dst, b * per, per);
                }
                self.solver.record_steps(&mut enc, 1)?;
                self.gpu.submit(enc);
            }
            Closure::Eddy(eddy) => {
                let mut enc = self.gpu.encoder("eddy-viscosity step");
                eddy.record(&mut enc, &self.solver)?;
                self.solver.record_steps(&mut enc, 1)?;
                self.gpu.submit(enc);
            }
            Closure::Learned {
                closure,
                every,
                frame_steps,
                perturb,
            } => {
                let mut enc = self.gpu.encoder("coupled step");
                if self.steps.is_multiple_of(*every as u64) {
                    let frame = (self.steps / *frame_steps as u64) as usize;
                    closure.record(&mut enc, &self.solver, frame)?;
                } else if *perturb > 0.0 {
                    closure.record_perturbed(&mut enc, &self.solver, self.steps, *perturb)?;
                }
                self.solver.record_steps(&mut enc, 1)?;
                self.gpu.submit(enc);
            }
        }
        self.steps += 1;
        Ok(())
    }
}
