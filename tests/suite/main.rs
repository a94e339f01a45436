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

use diffclosure::score::ScoreConfig;

/// Records `f` into one compute pass of a new encoder labelled `label` and
/// submits it.
pub fn in_one_pass(label: &str, f: impl FnOnce(&mut wgpu::ComputePass<'_>)) {
    let g = gpu();
    let mut enc = g.encoder(label);
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        f(&mut pass);
    }
    g.submit(enc);
}

/// max |v| (0 for no values): the scale of a reference.
pub fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0f64, |a, x| a.max(x.abs()))
}

/// max |got − want| of f32 GPU results against f64 values, pair by pair.
pub fn max_abs_err(got: &[f32], want: &[f64]) -> f64 {
    got.iter()
        .zip(want)
        .fold(0f64, |a, (x, y)| a.max((f64::from(*x) - y).abs()))
}

/// The tests' tiny score network: width 4, 4 modes, 2 layers, an
/// 8-dimensional time embedding, 8 hidden units of the projection, both
/// conditioning pipelines (vorticity and sparse observations).
pub fn tiny_config() -> ScoreConfig {
    ScoreConfig {
        width: 4,
        modes: 4,
        layers: 2,
        embed_dim: 8,
        fc_hidden: 8,
        vorticity: true,
        sparse: true,
    }
}
