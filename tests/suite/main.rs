//! Integration tests: GPU kernels against the CPU references of
//! `diffclosure::reference` (the kernel families' own tests sit beside
//! their references, as unit tests), shader validation, and the CLI.
//!
//! One test binary (one link, one shared GPU context). The tests need a
//! GPU adapter; on a machine without a GPU install Mesa's lavapipe
//! (`apt-get install -y mesa-vulkan-drivers`).

mod cli;
mod cli_couple;
mod cli_demo;
mod cli_jobs;
mod cli_sample;
mod cli_train;
mod couple;
mod eddy;
mod fft;
mod io;
mod metrics;
mod ns;
mod plot;
mod rng;
mod runtime;
mod score_kernels;
mod score_reference;
mod score_train;
mod sde;
mod shaders;

pub use diffclosure::reference;
pub use diffclosure::reference::{gpu, test_data};
