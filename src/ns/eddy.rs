//! Eddy-viscosity closures: the classical baselines of the sgs scenario
//! (docs/specification.md §3), as GPU kernels (`eddy_*` in `shaders/spectral.wgsl`).
//!
//! In vorticity form the sub-grid term is modelled as a diffusion with an
//! eddy viscosity `ν_e`:
//! `−τ ≈ ∇·(ν_e ∇ω̄)`, with
//! * Smagorinsky (1963): `ν_e = (C_S Δ)² |S̄|`, `|S̄| = √(2 S̄_ij S̄_ij)`;
//! * Leith (1996): `ν_e = (C_L Δ)³ |∇ω̄|`;
//!
//! `Δ = L / m` the coarse grid spacing (the sharp cutoff filter of the
//! fine → coarse restriction). The dynamic versions (Germano et al. 1991,
//! least squares of Lilly 1992, in the vorticity form of Maulik & San 2017)
//! compute the coefficient `C` (`C_S²` or `C_L³`) of every trajectory at
//! every call from a test filter of width `2Δ` (a sharp cutoff at half the
//! grid's wavenumbers), averaged over the domain and clipped at 0.
//!
//! The term is computed from the solver's current state and written into
//! [`NsSolver::closure_hat`], all in one compute pass with no host round
//! trip; the solver then holds it through the step (first order in the
//! closure, as the learned closure).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::fft::{Fft2d, Transform};
use crate::gpu::{DType, Gpu, Kernel, KernelSpec, Slot, Tensor};
use crate::ns::solver::SHADER;

use super::solver::Params;
use super::{NsConfig, NsSolver};

/// The eddy-viscosity model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EddyModel {
    /// `ν_e = C Δ² |S|` (`C = C_S²`).
    Smagorinsky,
    /// `ν_e = C Δ³ |∇ω|` (`C = C_L³`).
    Leith,
}

impl EddyModel {
    /// The power `q` of `C_S` / `C_L` and of `Δ` in `ν_e`.
    pub fn power(self) -> i32 {
        match self {
            EddyModel::Smagorinsky => 2,
            EddyModel::Leith => 3,
        }
    }
}

impl fmt::Display for EddyModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EddyModel::Smagorinsky => "smagorinsky",
            EddyModel::Leith => "leith",
        })
    }
}

/// The coefficient of an eddy-viscosity closure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Coefficient {
    /// A fixed `C_S` or `C_L` (dimensionless; Lilly's theoretical
    /// `C_S ≈ 0.17` is the usual choice, [`Coefficient::DEFAULT`]).
    Constant(f64),
    /// The dynamic procedure: `C` per trajectory at every call.
    Dynamic,
}

impl Coefficient {
    /// The default constant `C_S` / `C_L` = 0.17 (Lilly 1967).
    pub const DEFAULT: Coefficient = Coefficient::Constant(0.17);
}

/// An eddy-viscosity closure: model and coefficient.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EddyViscosity {
    /// The model.
    pub model: EddyModel,
    /// Its coefficient.
    pub coefficient: Coefficient,
}

impl fmt::Display for EddyViscosity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.coefficient {
            Coefficient::Dynamic => write!(f, "dynamic-{}", self.model),
            Coefficient::Constant(_) => write!(f, "{}", self.model),
        }
    }
}

impl FromStr for EddyViscosity {
    type Err = Error;

    /// `smagorinsky`, `leith` (constant 0.17), `dynamic-smagorinsky`,
    /// `dynamic-leith`.
    fn from_str(s: &str) -> Result<Self> {
        let (dynamic, name) = match s.strip_prefix("dynamic-") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let model = match name {
            "smagorinsky" => EddyModel::Smagorinsky,
            "leith" => EddyModel::Leith,
            _ => {
                return Err(Error::InvalidArgument(format!(
                "eddy viscosity {s:?}: expected smagorinsky, leith, dynamic-smagorinsky or dynamic-leith"
            )))
            }
        };
        Ok(Self {
            model,
            coefficient: if dynamic {
                Coefficient::Dynamic
            } else {
                Coefficient::DEFAULT
            },
        })
    }
}

const GRADIENTS: KernelSpec = KernelSpec::new(SHADER, "eddy_gradients", Slot::IN_OUT);
const FLUX: KernelSpec = KernelSpec::new(SHADER, "eddy_flux", Slot::IN_OUT);
const DIVERGENCE: KernelSpec = KernelSpec::new(SHADER, "eddy_divergence", Slot::IN_OUT);
const COEFFICIENT: KernelSpec = KernelSpec::new(SHADER, "eddy_coefficient", Slot::TWO_IN);
const APPLY: KernelSpec = KernelSpec::new(SHADER, "eddy_apply", Slot::TWO_IN);

/// One filter level: its uniform (cutoff, Δ) and its `(D, J)` output.
struct Level {
    params: wgpu::Buffer,
    /// `[B, 2, n, n/2+1]`: `D = ∇·(Δ^q s ∇ω)` and `J = u·∇ω` of the
    /// filtered state, dealiased.
    terms: Tensor,
}

/// An eddy-viscosity closure for the batch and grid of one coarse solver.
pub struct EddyClosure {
    gpu: Gpu,
    cfg: NsConfig,
    kind: EddyViscosity,
    /// The grid-filter level and, for the dynamic coefficient, the test one.
    base: Level,
    test: Option<Level>,
    /// `C` per trajectory `[B]`.
    coefficient: Tensor,
    fields_hat: Tensor,
    fields: Tensor,
    flux: Tensor,
    flux_hat: Tensor,
    fft6: Fft2d,
    fft3: Fft2d,
    kernels: [std::sync::Arc<Kernel>; 5],
}

impl EddyClosure {
    /// The closure `kind` for solvers of configuration `cfg` (the coarse
    /// model: its grid spacing is `Δ`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a bad configuration, a constant that
    /// is not finite and ≥ 0, or a dynamic closure on a grid under 16
    /// (no room for a test filter); kernel build errors.
    pub fn new(gpu: &Gpu, cfg: &NsConfig, kind: EddyViscosity) -> Result<Self> {
        cfg.validate()?;
        let (b, n) = (cfg.batch, cfg.n);
        let h = n / 2 + 1;
        let q = kind.model.power();
        let c = match kind.coefficient {
            Coefficient::Constant(c) if c.is_finite() && c >= 0.0 => c.powi(q),
            Coefficient::Constant(c) => {
                return Err(Error::InvalidArgument(format!(
                    "eddy-viscosity constant {c}: must be finite and >= 0"
                )))
            }
            Coefficient::Dynamic if n < 16 => {
                return Err(Error::InvalidArgument(format!(
                    "the dynamic procedure needs a grid of at least 16, got {n}"
                )))
            }
            Coefficient::Dynamic => 0.0,
        };
        let delta = cfg.dx();
        let level = |cutoff: usize, delta: f64| -> Result<Level> {
            let p = Params {
                cutoff: cutoff as u32,
                delta: delta as f32,
                leith: u32::from(kind.model == EddyModel::Leith),
                ..Params::grid(cfg)
            };
            Ok(Level {
                params: gpu.uniform("eddy params", &p),
                terms: Tensor::zeros(gpu, &[b, 2, n, h], DType::C32)?,
            })
        };
        let test = match kind.coefficient {
            Coefficient::Dynamic => Some(level(n / 4, 2.0 * delta)?),
            Coefficient::Constant(_) => None,
        };
        Ok(Self {
            gpu: gpu.clone(),
            cfg: cfg.clone(),
            kind,
            base: level(n, delta)?,
            test,
            coefficient: Tensor::from_f32(gpu, &[b], DType::F32, &vec![c as f32; b])?,
            fields_hat: Tensor::zeros(gpu, &[b, 6, n, h], DType::C32)?,
            fields: Tensor::zeros(gpu, &[b, 6, n, n], DType::F32)?,
            flux: Tensor::zeros(gpu, &[b, 3, n, n], DType::F32)?,
            flux_hat: Tensor::zeros(gpu, &[b, 3, n, h], DType::C32)?,
            fft6: Fft2d::new(gpu, 6 * b, n, n)?,
            fft3: Fft2d::new(gpu, 3 * b, n, n)?,
            kernels: [
                gpu.kernel(&GRADIENTS, &[])?,
                gpu.kernel(&FLUX, &[])?,
                gpu.kernel(&DIVERGENCE, &[])?,
                gpu.kernel(&COEFFICIENT, &[])?,
                gpu.kernel(&APPLY, &[])?,
            ],
        })
    }

    /// The closure's kind.
    pub fn kind(&self) -> EddyViscosity {
        self.kind
    }

    /// The coefficient `C` (`C_S²` or `C_L³`) of every trajectory used by
    /// the last [`EddyClosure::record`], `[B]` (read back).
    ///
    /// # Errors
    /// As [`Gpu::read`].
    pub fn coefficients(&self) -> Result<Vec<f32>> {
        self.gpu.read_one(&self.coefficient)
    }

    /// The terms `(D, J)` of the grid level `[B, 2, n, n/2+1]` written by
    /// the last record (`D = ∇·(Δ^q s ∇ω)` with `C = 1`; for tests).
    pub fn terms(&self) -> &Tensor {
        &self.base.terms
    }

    /// Records the closure term `C ∇·(Δ^q s ∇ω)` of `solver`'s current
    /// state into its [`NsSolver::closure_hat`].
    ///
    /// # Errors
    /// [`Error::Shape`] if the solver's batch or grid differ from this
    /// closure's; kernel errors.
    pub fn record(&self, encoder: &mut wgpu::CommandEncoder, solver: &NsSolver) -> Result<()> {
        let c = solver.config();
        if c.batch != self.cfg.batch || c.n != self.cfg.n {
            return Err(Error::Shape(format!(
                "eddy closure for {} trajectories on {}², solver with {} on {}²",
                self.cfg.batch, self.cfg.n, c.batch, c.n
            )));
        }
        let w = solver.vorticity_hat();
        let pass = &mut encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("eddy closure"),
            timestamp_writes: None,
        });
        self.record_level(pass, &self.base, w)?;
        let [.., coefficient, apply] = &self.kernels;
        if let Some(test) = &self.test {
            self.record_level(pass, test, w)?;
            let bg = self.gpu.bind_params(
                coefficient,
                &test.params,
                &[&self.base.terms, &test.terms, &self.coefficient],
            );
            self.gpu
                .dispatch(pass, coefficient, &bg, self.cfg.batch as u32);
        }
        let bg = self.gpu.bind_params(
            apply,
            &self.base.params,
            &[&self.coefficient, &self.base.terms, solver.closure_hat()],
        );
        self.gpu.dispatch(pass, apply, &bg, self.spec_groups());
        Ok(())
    }

    fn spec_groups(&self) -> u32 {
        let n = self.cfg.n;
        (self.cfg.batch * n * (n / 2 + 1)).div_ceil(64) as u32
    }

    /// `(D, J)` of `w` filtered at `level`'s cutoff into `level.terms`.
    fn record_level(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        level: &Level,
        w: &Tensor,
    ) -> Result<()> {
        let [gradients, flux, divergence, ..] = &self.kernels;
        let n = self.cfg.n;
        let phys_groups = (self.cfg.batch * n * n).div_ceil(64) as u32;
        let bg = self
            .gpu
            .bind_params(gradients, &level.params, &[w, &self.fields_hat]);
        self.gpu.dispatch(pass, gradients, &bg, self.spec_groups());
        self.fft6
            .record(pass, Transform::C2r, &self.fields_hat, &self.fields)?;
        let bg = self
            .gpu
            .bind_params(flux, &level.params, &[&self.fields, &self.flux]);
        self.gpu.dispatch(pass, flux, &bg, phys_groups);
        self.fft3
            .record(pass, Transform::R2c, &self.flux, &self.flux_hat)?;
        let bg = self
            .gpu
            .bind_params(divergence, &level.params, &[&self.flux_hat, &level.terms]);
        self.gpu.dispatch(pass, divergence, &bg, self.spec_groups());
        Ok(())
    }
}
