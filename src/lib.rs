//! # diffclosure
//!
//! Stochastic closure models for PDEs, learned as a conditional score-based
//! diffusion model (VE-SDE) whose score network is a Fourier Neural
//! Operator, and run online inside a coarse Navier–Stokes solver — all as
//! hand-written WGSL compute kernels driven from Rust through `wgpu`
//! (Dong, Chen & Wu, J. Comput. Phys. 2025, arXiv:2408.02965).
//!
//! The pipeline: simulate the fine truth on the GPU → restrict it to a
//! dataset of (coarse vorticity, closure term, sparse observations) → train
//! the score network → sample closures with a few reverse-SDE steps →
//! evaluate offline and in a coupled coarse simulation. Fields, weights and
//! solver state stay resident on the GPU.
//!
//! Modules: the [`gpu`] runtime (adapter choice, tensors, kernel registry,
//! readback, profiling), batched 2-D [`fft`]s, the counter-based [`rng`],
//! the Navier–Stokes solver and closure recording ([`ns`]), datasets and
//! safetensors I/O ([`data`]), PNG figures ([`plot`]), the score
//! network's layers, forward and backward, and its training ([`score`]),
//! the VE-SDE, its samplers and batch generation ([`sde`]), the offline
//! and online [`metrics`] reports, the demo pipeline ([`demo`]), and the
//! benchmark workloads ([`mod@bench`]) that `diffclosure bench` and the
//! criterion benches share; [`job`] is the resume mechanism and progress
//! display every long job shares.

pub mod bench;
pub mod cli;
pub mod couple;
pub mod data;
pub mod demo;
pub mod error;
pub mod fft;
pub mod gpu;
pub mod job;
pub mod metrics;
mod names;
pub mod ns;
pub mod plot;
pub mod reference;
pub mod rng;
pub mod score;
pub mod sde;

pub use error::{Error, Result};
