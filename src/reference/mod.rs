//! CPU references (f64) of the GPU kernel families: the ground truth of
//! the tests (the unit tests beside each reference and the integration
//! suite of `tests/`), used by nothing on the hot path.
//!
//! A public module of the library, not a test-only one: the integration
//! suite is another crate and sees only public items, and a cargo feature
//! would need the suite to enable it on its own package. The price is
//! `rustfft` as a normal dependency (compiled once, not on every rebuild)
//! and these few hundred lines in every build of the library.

pub mod eddy;
pub mod fd;
pub mod fft;
pub mod ns;
pub mod philox;
pub mod score;
pub mod sde;

use std::sync::OnceLock;

use crate::gpu::{Gpu, GpuOptions};

/// The shared GPU context of a test binary (adapter from
/// `DIFFCLOSURE_BACKEND` / `DIFFCLOSURE_ADAPTER`, else the best one):
/// one device per process, so that tests share its compiled kernels.
///
/// # Panics
/// Without a GPU adapter (install Mesa's lavapipe on a machine without a
/// GPU: `apt-get install -y mesa-vulkan-drivers`) or with an invalid
/// `DIFFCLOSURE_BACKEND`.
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

/// Deterministic test data: `n` values of a splitmix64 stream from `seed`
/// mapped to [-1, 1) (24-bit resolution, exact in f32).
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

/// `v` widened to f64 (GPU results against a reference).
pub fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// `[B, C, P]` values of the channel slice `c0..c0+c` of a `[B, ctot, P]`
/// tensor's data `data`.
pub fn channel_slice(
    data: &[f32],
    b: usize,
    ctot: usize,
    p: usize,
    c0: usize,
    c: usize,
) -> Vec<f64> {
    (0..b)
        .flat_map(|bi| data[(bi * ctot + c0) * p..(bi * ctot + c0 + c) * p].iter())
        .map(|&x| f64::from(x))
        .collect()
}

/// Max |got − want| over max |want| (equal lengths).
///
/// # Panics
/// When the lengths differ.
pub fn rel_err(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0f64, |a, v| a.max(v.abs())).max(1e-30);
    got.iter()
        .zip(want)
        .fold(0f64, |a, (x, y)| a.max((x - y).abs()))
        / scale
}
