//! Initial parameters of ScoreFno, as the PyTorch baseline's defaults.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::score::config::ScoreConfig;

/// Scale of the Gaussian Fourier time frequencies (docs/specification.md §6).
pub const TIME_FEATURE_SCALE: f64 = 30.0;

/// A flat parameter vector for `cfg` drawn from `seed` (ChaCha8, stable
/// across versions): Linear / 1×1 conv weights and biases `U(−1/√fan_in,
/// 1/√fan_in)` (PyTorch's defaults), the re and im parts of spectral
/// weights `U(0, 1)/(cin·cout)` (the baseline's `SpectralConv2d`), the
/// fixed time frequencies `t_feat.W ~ N(0, 30²)`; 0 in the padding.
pub fn init_params(cfg: &ScoreConfig, seed: u64) -> Vec<f32> {
    let specs = cfg.params();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut flat = vec![0.0f32; cfg.flat_len()];
    for s in &specs {
        let out = &mut flat[s.offset..s.offset + s.len()];
        if s.name == "t_feat.W" {
            for v in out.iter_mut() {
                // Box–Muller; 1 − u keeps the logarithm finite.
                let (u1, u2): (f64, f64) = (rng.random(), rng.random());
                let r = (-2.0 * (1.0 - u1).ln()).sqrt();
                *v = (TIME_FEATURE_SCALE * r * (std::f64::consts::TAU * u2).cos()) as f32;
            }
        } else if s.name.ends_with(".w_pos") || s.name.ends_with(".w_neg") {
            let scale = 1.0 / (s.shape[0] * s.shape[1]) as f64;
            for v in out.iter_mut() {
                *v = (scale * rng.random::<f64>()) as f32;
            }
        } else {
            // weight [cout, cin(, 1, 1)] or bias [cout] of the layer whose
            // weight fixes fan_in.
            let layer = s.name.rsplit_once('.').map_or("", |(l, _)| l);
            let fan_in: usize = specs
                .iter()
                .find(|w| w.name == format!("{layer}.weight"))
                .map_or(1, |w| w.shape[1..].iter().product());
            let bound = 1.0 / (fan_in as f64).sqrt();
            for v in out.iter_mut() {
                *v = (bound * (2.0 * rng.random::<f64>() - 1.0)) as f32;
            }
        }
    }
    flat
}
