//! Integration tests: GPU kernels against the CPU references of
//! `src/reference/`, shader validation, and the CLI.
//!
//! One test binary (one link, one shared GPU context). The tests need a
//! GPU adapter; on a machine without a GPU install Mesa's lavapipe
//! (`apt-get install -y mesa-vulkan-drivers`).

#[path = "../../src/reference/mod.rs"]
mod reference;

mod cli;
mod cli_couple;
mod cli_demo;
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

use std::sync::OnceLock;

use diffclosure::gpu::{Gpu, GpuOptions};

/// The shared GPU context (adapter from DIFFCLOSURE_BACKEND/ADAPTER, else best).
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| {
        let opts = GpuOptions::from_env().expect("valid DIFFCLOSURE_BACKEND");
        match Gpu::new(&opts) {
            Ok(g) => g,
            Err(e) => panic!("the tests need a GPU adapter: {e}"),
        }
    })
}

/// Deterministic test data: a splitmix64 stream mapped to [-1, 1).
pub fn test_data(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}
