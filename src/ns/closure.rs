//! Closure terms of a fine run, restricted to coarse grids (science.md §3):
//! what datasets are made of.

use crate::error::{Error, Result};
use crate::fft::{Fft2d, Transform};
use crate::gpu::{DType, Gpu, Tensor};
use crate::ns::restrict::record_truncation;
use crate::ns::NsSolver;

/// The fields recorded per coarse grid `m`, each `[B, m, m]`:
/// `omega_m` (restricted vorticity), `G_m` (`νΔω + σξ`), `H_m` (`−u·∇ω`).
pub const FIELDS: [&str; 3] = ["omega", "G", "H"];

struct Grid {
    m: usize,
    omega_hat: Tensor,
    terms_hat: Tensor,
    omega: Tensor,
    terms: Tensor,
    fft1: Fft2d,
    fft2: Fft2d,
}

/// Restricts the fine state and its closure terms to coarse grids by
/// spectral truncation and returns them in physical space.
pub struct ClosureRecorder {
    gpu: Gpu,
    batch: usize,
    grids: Vec<Grid>,
}

impl ClosureRecorder {
    /// A recorder for `batch` trajectories on a fine grid `n`, to the coarse
    /// grids `ms` (each a power of two, 8 ≤ m ≤ n).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a grid that is not a power of two in
    /// `[8, n]`.
    pub fn new(gpu: &Gpu, batch: usize, n: usize, ms: &[usize]) -> Result<Self> {
        let grids = ms
            .iter()
            .map(|&m| {
                if !m.is_power_of_two() || m < 8 || m > n {
                    return Err(Error::InvalidArgument(format!(
                        "coarse grid {m}: must be a power of two in [8, {n}] (the fine grid)"
                    )));
                }
                let h = m / 2 + 1;
                Ok(Grid {
                    m,
                    omega_hat: Tensor::zeros(gpu, &[batch, m, h], DType::C32)?,
                    terms_hat: Tensor::zeros(gpu, &[batch, 2, m, h], DType::C32)?,
                    omega: Tensor::zeros(gpu, &[batch, m, m], DType::F32)?,
                    terms: Tensor::zeros(gpu, &[batch, 2, m, m], DType::F32)?,
                    fft1: Fft2d::new(gpu, batch, m, m)?,
                    fft2: Fft2d::new(gpu, 2 * batch, m, m)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            gpu: gpu.clone(),
            batch,
            grids,
        })
    }

    /// Advances `solver` by one step while recording the closure terms of
    /// the state it starts from, and returns `(name, [B, m, m] values)` for
    /// every coarse grid: `omega_m`, `G_m`, `H_m`.
    ///
    /// # Errors
    /// As [`NsSolver::step_recording_closures`] and [`Gpu::read`].
    pub fn step_and_record(&self, solver: &mut NsSolver) -> Result<Vec<(String, Vec<f32>)>> {
        // The state before the step: restrict it first.
        let mut enc = self.gpu.encoder("restrict state");
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for g in &self.grids {
                record_truncation(&self.gpu, &mut pass, solver.vorticity_hat(), &g.omega_hat)?;
            }
        }
        self.gpu.submit(enc);
        solver.step_recording_closures()?;
        let mut enc = self.gpu.encoder("restrict closures");
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for g in &self.grids {
                record_truncation(&self.gpu, &mut pass, solver.closure_terms(), &g.terms_hat)?;
                g.fft1
                    .record(&mut pass, Transform::C2r, &g.omega_hat, &g.omega)?;
                g.fft2
                    .record(&mut pass, Transform::C2r, &g.terms_hat, &g.terms)?;
            }
        }
        self.gpu.submit(enc);
        let mut out = Vec::new();
        for g in &self.grids {
            let r = self.gpu.read(&[&g.omega, &g.terms])?;
            let per = g.m * g.m;
            let (mut gt, mut ht) = (
                Vec::with_capacity(self.batch * per),
                Vec::with_capacity(self.batch * per),
            );
            for s in r[1].chunks_exact(2 * per) {
                gt.extend_from_slice(&s[..per]);
                ht.extend_from_slice(&s[per..]);
            }
            out.push((format!("omega_{}", g.m), r[0].clone()));
            out.push((format!("G_{}", g.m), gt));
            out.push((format!("H_{}", g.m), ht));
        }
        Ok(out)
    }
}
