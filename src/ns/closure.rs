//! Closure terms of a fine run, restricted to coarse grids (docs/specification.md §3):
//! what datasets are made of.

use crate::error::{Error, Result};
use crate::fft::{Fft2d, Transform};
use crate::gpu::{DType, Gpu, Tensor};
use crate::ns::restrict::{record_stride, record_truncation, Restriction};
use crate::ns::{NsConfig, NsSolver};

/// The fields recorded per coarse grid `m`, each `[B, m, m]`:
/// `omega_m` (restricted vorticity ‾ω), `G_m` (‾(νΔω + σξ)), `H_m`
/// (‾(−u·∇ω)) and `sgs_m` (`−τ = ‾u·∇‾ω − ‾(u·∇ω)`, the LES sub-grid term
/// of a coarse model that keeps its own convection).
pub const FIELDS: [&str; 4] = ["omega", "G", "H", "sgs"];

struct Grid {
    m: usize,
    /// A coarse solver whose state is ‾ω: it evaluates the coarse
    /// convection of the sub-grid term.
    coarse: NsSolver,
    terms_hat: Tensor,
    sgs_hat: Tensor,
    omega: Tensor,
    terms: Tensor,
    sgs: Tensor,
    fft1: Fft2d,
    fft2: Fft2d,
}

/// Physical fine fields for striding: `[B, n, n]` and `[B, 2, n, n]`.
struct FineFields {
    omega: Tensor,
    terms: Tensor,
    fft1: Fft2d,
    fft2: Fft2d,
}

/// Restricts the fine state and its closure terms to coarse grids and
/// returns them in physical space.
pub struct ClosureRecorder {
    gpu: Gpu,
    batch: usize,
    restriction: Restriction,
    grids: Vec<Grid>,
    fine: Option<FineFields>,
}

impl ClosureRecorder {
    /// A recorder for the fine run `fine` (its grid `n`, batch `B`,
    /// domain, ν and dt) to the coarse grids `ms` (each a power of two,
    /// 8 ≤ m ≤ n), by `restriction`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a grid that is not a power of two in
    /// `[8, n]`.
    pub fn new(gpu: &Gpu, fine: &NsConfig, ms: &[usize], restriction: Restriction) -> Result<Self> {
        let (batch, n) = (fine.batch, fine.n);
        let grids = ms
            .iter()
            .map(|&m| {
                if !m.is_power_of_two() || m < 8 || m > n {
                    return Err(Error::InvalidArgument(format!(
                        "coarse grid {m}: must be a power of two in [8, {n}] (the fine grid)"
                    )));
                }
                let h = m / 2 + 1;
                let coarse_cfg = NsConfig {
                    n: m,
                    stochastic: None,
                    advection: true,
                    ..fine.clone()
                };
                Ok(Grid {
                    m,
                    coarse: NsSolver::new(gpu, &coarse_cfg, None)?,
                    terms_hat: Tensor::zeros(gpu, &[batch, 2, m, h], DType::C32)?,
                    sgs_hat: Tensor::zeros(gpu, &[batch, m, h], DType::C32)?,
                    omega: Tensor::zeros(gpu, &[batch, m, m], DType::F32)?,
                    terms: Tensor::zeros(gpu, &[batch, 2, m, m], DType::F32)?,
                    sgs: Tensor::zeros(gpu, &[batch, m, m], DType::F32)?,
                    fft1: Fft2d::new(gpu, batch, m, m)?,
                    fft2: Fft2d::new(gpu, 2 * batch, m, m)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let fine = match restriction {
            Restriction::Spectral => None,
            Restriction::Stride => Some(FineFields {
                omega: Tensor::zeros(gpu, &[batch, n, n], DType::F32)?,
                terms: Tensor::zeros(gpu, &[batch, 2, n, n], DType::F32)?,
                fft1: Fft2d::new(gpu, batch, n, n)?,
                fft2: Fft2d::new(gpu, 2 * batch, n, n)?,
            }),
        };
        Ok(Self {
            gpu: gpu.clone(),
            batch,
            restriction,
            grids,
            fine,
        })
    }

    /// The restriction in use.
    pub fn restriction(&self) -> Restriction {
        self.restriction
    }

    /// Records the restriction of the fine state (`terms` false: ω̂
    /// `[B, n, n/2+1]` into the coarse solver's state) or of the fine closure
    /// terms (`terms` true: `[B, 2, n, n/2+1]` into `terms_hat`) to grid `g`.
    /// Striding goes through physical space and leaves the coarse physical
    /// fields in `g.omega` / `g.terms`.
    fn restrict(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        g: &Grid,
        fine_hat: &Tensor,
        terms: bool,
    ) -> Result<()> {
        let coarse_hat = if terms {
            &g.terms_hat
        } else {
            g.coarse.vorticity_hat()
        };
        let Some(f) = &self.fine else {
            return record_truncation(&self.gpu, pass, fine_hat, coarse_hat);
        };
        let (fine_phys, fine_fft, phys, fft) = if terms {
            (&f.terms, &f.fft2, &g.terms, &g.fft2)
        } else {
            (&f.omega, &f.fft1, &g.omega, &g.fft1)
        };
        fine_fft.record(pass, Transform::C2r, fine_hat, fine_phys)?;
        record_stride(&self.gpu, pass, fine_phys, phys)?;
        fft.record(pass, Transform::R2c, phys, coarse_hat)
    }

    /// Advances `solver` by one step while recording the closure terms of
    /// the state it starts from; the restricted spectra stay on the GPU
    /// ([`ClosureRecorder::spectra`]) and are transformed to physical space
    /// for [`ClosureRecorder::read`].
    ///
    /// # Errors
    /// As [`NsSolver::step_recording_closures`].
    pub fn step(&self, solver: &mut NsSolver) -> Result<()> {
        // The state before the step: restrict it first, into each coarse
        // solver's state.
        let mut enc = self.gpu.encoder("restrict state");
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for g in &self.grids {
                self.restrict(&mut pass, g, solver.vorticity_hat(), false)?;
            }
        }
        self.gpu.submit(enc);
        solver.step_recording_closures()?;
        let mut enc = self.gpu.encoder("restrict closures");
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for g in &self.grids {
                self.restrict(&mut pass, g, solver.closure_terms(), true)?;
                g.coarse
                    .record_subgrid_term(&mut pass, &g.terms_hat, &g.sgs_hat)?;
                g.fft1.record(
                    &mut pass,
                    Transform::C2r,
                    g.coarse.vorticity_hat(),
                    &g.omega,
                )?;
                g.fft2
                    .record(&mut pass, Transform::C2r, &g.terms_hat, &g.terms)?;
                g.fft1
                    .record(&mut pass, Transform::C2r, &g.sgs_hat, &g.sgs)?;
            }
        }
        self.gpu.submit(enc);
        Ok(())
    }

    /// The restricted spectra of grid `m` after [`ClosureRecorder::step`]:
    /// ‾ω̂ `[B, m, m/2+1]`, (Ĝ, Ĥ) `[B, 2, m, m/2+1]` and the sub-grid term
    /// `[B, m, m/2+1]`; `None` if `m` is not recorded.
    pub fn spectra(&self, m: usize) -> Option<(&Tensor, &Tensor, &Tensor)> {
        self.grids
            .iter()
            .find(|g| g.m == m)
            .map(|g| (g.coarse.vorticity_hat(), &g.terms_hat, &g.sgs_hat))
    }

    /// Reads the fields of every coarse grid as `(name, [B, m, m] values)`
    /// with the names of [`FIELDS`] suffixed by `_m`.
    ///
    /// # Errors
    /// As [`Gpu::read`].
    pub fn read(&self) -> Result<Vec<(String, Vec<f32>)>> {
        let mut out = Vec::new();
        for g in &self.grids {
            let mut r = self.gpu.read(&[&g.omega, &g.terms, &g.sgs])?;
            let per = g.m * g.m;
            let (mut gt, mut ht) = (
                Vec::with_capacity(self.batch * per),
                Vec::with_capacity(self.batch * per),
            );
            for s in r[1].chunks_exact(2 * per) {
                gt.extend_from_slice(&s[..per]);
                ht.extend_from_slice(&s[per..]);
            }
            let sgs = r.pop().unwrap_or_default();
            let omega = std::mem::take(&mut r[0]);
            for (name, values) in FIELDS.iter().zip([omega, gt, ht, sgs]) {
                out.push((format!("{name}_{}", g.m), values));
            }
        }
        Ok(out)
    }

    /// [`ClosureRecorder::step`] then [`ClosureRecorder::read`].
    ///
    /// # Errors
    /// As those.
    pub fn step_and_record(&self, solver: &mut NsSolver) -> Result<Vec<(String, Vec<f32>)>> {
        self.step(solver)?;
        self.read()
    }
}
