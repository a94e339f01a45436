//! Shared by the criterion benches (a subdirectory, so cargo does not take
//! it for a bench target of its own).

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
