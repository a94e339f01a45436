//! 2-D incompressible Navier–Stokes in vorticity form, pseudo-spectral, on
//! the GPU (`shaders/spectral.wgsl`): the solver that produces the fine
//! truth and runs the coarse model (docs/specification.md §2), and the
//! job that simulates truth trajectories ([`trajectory`]).

pub mod closure;
pub mod diagnostics;
pub mod eddy;
mod preset;
pub mod restrict;
mod solver;
pub mod trajectory;

pub use preset::{Grf, GrfScale, Preset, PresetSpec};
pub use solver::{NsConfig, NsSolver, StochasticForcing, TimeScheme};
pub use trajectory::{TrajectoryJob, TrajectoryPlan, TrajectorySummary};
