//! Shared by the criterion benches (a subdirectory, so cargo does not take
//! it for a bench target of its own).

// Each bench target compiles this module and uses only part of it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

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

/// Wall time of `iters` calls of `call` (each records and submits GPU
/// work), to the GPU's completion: a criterion `iter_custom` body.
pub fn timed(gpu: &Gpu, iters: u64, mut call: impl FnMut()) -> Duration {
    let t = Instant::now();
    for _ in 0..iters {
        call();
    }
    gpu.wait().expect("wait");
    t.elapsed()
}
