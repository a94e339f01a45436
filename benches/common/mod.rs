//! Shared by the criterion benches (a subdirectory, so cargo does not take
//! it for a bench target of its own).

#![allow(dead_code)]

use diffclosure::gpu::Gpu;

/// The adapter from DIFFCLOSURE_BACKEND / DIFFCLOSURE_ADAPTER (else the
/// best), announced on stderr; `None`, with the reason, when there is none
/// (the GPU benchmarks are then skipped).
pub fn gpu() -> Option<Gpu> {
    match Gpu::from_env() {
        Ok(g) => {
            eprintln!("adapter: {}", g.describe());
            Some(g)
        }
        Err(e) => {
            eprintln!("no GPU adapter, GPU benchmarks skipped: {e}");
            None
        }
    }
}

/// Deterministic values in [-1, 1] (a multiplicative hash of the index).
pub fn values(seed: u32, len: usize) -> Vec<f32> {
    (0..len as u32)
        .map(|i| ((i.wrapping_mul(2_654_435_761) ^ seed) % 2001) as f32 / 1000.0 - 1.0)
        .collect()
}
