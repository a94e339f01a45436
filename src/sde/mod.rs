//! The VE-SDE of docs/specification.md §5 and its time schedules (host
//! side; the reverse-SDE steps themselves are WGSL kernels of the samplers
//! in [`sampler`]), batch generation ([`generate`]) and the sampling job
//! ([`job`]) with its samples file, shards and merge ([`samples`]).
//!
//! Forward SDE `dU = sqrt(d[σ²(t)]/dt) dW` with `σ(t) = sqrt((s^{2t} − 1) /
//! (2 ln s))` and diffusion coefficient `g(t) = s^t`, `s = 26` (the
//! reference code's): `d[σ²]/dt = s^{2t} = g²`.

pub mod generate;
pub mod job;
pub mod sampler;
pub mod samples;

pub use sampler::{
    frame_steps, FinalStep, Frames, Mixture, MixtureScore, NetworkScore, Noise, ReverseSampler,
    Sampler, SamplerConfig, ScoreSource, Start,
};

pub use job::{SampleJob, SamplePlan, SampleSummary};
pub use samples::{merge, MergeSummary, Shard, FORMAT as SAMPLES_FORMAT};

/// The VE-SDE with base `s` (docs/specification.md §5; the reference code: 26).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VeSde {
    /// The base `s` of `σ(t)` and `g(t) = s^t`.
    pub s: f64,
}

impl Default for VeSde {
    fn default() -> Self {
        Self { s: 26.0 }
    }
}

impl VeSde {
    /// Marginal standard deviation `σ(t) = sqrt((s^{2t} − 1) / (2 ln s))`
    /// of `U_t | U_0` (computed with `exp_m1`: exact near `t = 0`).
    pub fn sigma(&self, t: f64) -> f64 {
        let ln_s = self.s.ln();
        ((2.0 * t * ln_s).exp_m1() / (2.0 * ln_s)).sqrt()
    }

    /// Diffusion coefficient `g(t) = s^t`.
    pub fn g(&self, t: f64) -> f64 {
        self.s.powf(t)
    }
}

/// The Karras et al. (2022) time schedule of docs/specification.md §5: `n` times from
/// `t_max` down to `t_min`,
/// `t_i = ((1 − r_i) t_max^{1/ρ} + r_i t_min^{1/ρ})^ρ`, `r_i = i/(n−1)`
/// (`n = 1`: `t_max` alone). The convex combination is written out, not as
/// `a + r (c − a)`: for small ρ that form cancels to exactly 0 at `r = 1`
/// (`t_min^{1/ρ}` underflows beside `t_max^{1/ρ}`), a non-finite score.
///
/// # Errors
/// [`crate::Error::InvalidArgument`] unless `0 < t_min < t_max < ∞`,
/// `ρ > 0` and `n ≥ 1`, or when the times in f64 are not strictly
/// decreasing and positive (ρ so small that neighbours round together).
pub fn karras_times(t_max: f64, t_min: f64, rho: f64, n: usize) -> crate::Result<Vec<f64>> {
    if !(0.0 < t_min && t_min < t_max && t_max.is_finite() && rho > 0.0 && n >= 1) {
        return Err(crate::Error::InvalidArgument(format!(
            "Karras schedule t_max = {t_max}, t_min = {t_min}, rho = {rho}, {n} times: need 0 < t_min < t_max, rho > 0, >= 1 time"
        )));
    }
    if n == 1 {
        return Ok(vec![t_max]);
    }
    let (a, c) = (t_max.powf(1.0 / rho), t_min.powf(1.0 / rho));
    let times: Vec<f64> = (0..n)
        .map(|i| {
            let r = i as f64 / (n - 1) as f64;
            ((1.0 - r) * a + r * c).powf(rho)
        })
        .collect();
    if !times.iter().all(|t| t.is_finite() && *t > 0.0) || !times.windows(2).all(|w| w[1] < w[0]) {
        return Err(crate::Error::InvalidArgument(format!(
            "Karras schedule t_max = {t_max}, t_min = {t_min}, rho = {rho}, {n} times is not strictly decreasing and positive in f64 ({times:?}): use a larger rho"
        )));
    }
    Ok(times)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// σ(0) = 0, σ(1)² = (s² − 1)/(2 ln s), d[σ²]/dt = g² (central
    /// difference, 1e-8 relative: h² f''' with h = 1e-5), σ(t)² ≈ t for
    /// small t (the slope of σ² at 0 is g(0)² = 1).
    #[test]
    fn sigma_and_g_are_consistent() {
        let sde = VeSde::default();
        assert_eq!(sde.sigma(0.0), 0.0);
        let want = ((26f64.powi(2) - 1.0) / (2.0 * 26f64.ln())).sqrt();
        assert!((sde.sigma(1.0) - want).abs() < 1e-13 * want);
        for t in [0.01, 0.1, 0.5, 1.0] {
            let h = 1e-5;
            let d = (sde.sigma(t + h).powi(2) - sde.sigma(t - h).powi(2)) / (2.0 * h);
            assert!((d - sde.g(t).powi(2)).abs() < 1e-8 * d, "t = {t}: {d}");
        }
        assert!((sde.sigma(1e-8).powi(2) / 1e-8 - 1.0).abs() < 1e-6);
        // The fast-sampling terminal time of docs/specification.md §5: σ(0.1) ≈ 0.38.
        assert!((sde.sigma(0.1) - 0.38).abs() < 0.01, "{}", sde.sigma(0.1));
    }

    /// Trajectory frames: evenly spaced, first and last included.
    #[test]
    fn frame_steps_span_the_run() {
        assert_eq!(frame_steps(10, 24), (0..=10).collect::<Vec<_>>());
        assert_eq!(frame_steps(1000, 5), vec![0, 250, 500, 750, 1000]);
        assert_eq!(frame_steps(3, 1), vec![0, 3]);
    }

    /// The schedule starts at t_max, ends at t_min, decreases, and with
    /// ρ = 1 is linear.
    #[test]
    fn karras_schedule() {
        let t = karras_times(0.1, 1e-3, 7.0, 10).unwrap();
        assert_eq!(t.len(), 10);
        assert!((t[0] - 0.1).abs() < 1e-15 && (t[9] - 1e-3).abs() < 1e-15);
        assert!(t.windows(2).all(|w| w[1] < w[0]));
        let lin = karras_times(1.0, 0.5, 1.0, 3).unwrap();
        assert!((lin[1] - 0.75).abs() < 1e-15);
        assert!(karras_times(0.1, 0.2, 7.0, 10).is_err());
        assert!(karras_times(0.1, 1e-3, 7.0, 0).is_err());
        assert_eq!(karras_times(0.1, 1e-3, 7.0, 1).unwrap(), vec![0.1]);
    }

    /// Small ρ: `a + r (c − a)` gave exactly 0 at the end for ρ ≲ 0.125
    /// (t_min^{1/ρ} = 1e-24 vanishes beside t_max^{1/ρ} = 1e-8 in f64); the
    /// convex form keeps t_min to rounding. Where neighbours round
    /// together (ρ = 1e-3: every power underflows), the schedule is refused.
    #[test]
    fn karras_schedule_keeps_t_min_for_small_rho() {
        for rho in [0.1, 0.05] {
            let t = karras_times(0.1, 1e-3, rho, 10).unwrap();
            assert!((t[9] / 1e-3 - 1.0).abs() < 1e-9, "rho {rho}: {t:?}");
            assert!(t.windows(2).all(|w| w[1] < w[0] && w[1] > 0.0));
        }
        assert!(karras_times(0.1, 1e-3, 1e-3, 10).is_err());
    }
}
