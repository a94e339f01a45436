//! Exact f64 moments of the reverse-time samplers on a Gaussian target
//! (docs/specification.md §5), written from the schemes' definitions independently of
//! the kernels' coefficient code.
//!
//! For data `N(μ, v0)` the VE-diffused score is `S(x, t) = −y / (v0 +
//! σ(t)²)`, `y = x − μ`, linear in `y`, so every sampler maps the mean and
//! variance of `y` by a closed recursion. The continuous reverse SDE keeps
//! the exact marginal `N(0, v0 + σ²)` of `y` and scales its mean by
//! `(v0 + σ(t)²)/(v0 + σ(T)²)`; the probability-flow ODE scales `y` itself
//! by the square root of that.

use crate::sde::{FinalStep, Sampler, VeSde};

/// Mean and variance of `y = x − μ` after the sampler, from `(m, v)` at
/// `times[0]` (`times`: the decreasing schedule, `N + 1` values ending
/// `t_min, 0`): `N − 1` integrator steps, then the noise-free final step.
pub fn gaussian_moments(
    sampler: Sampler,
    sde: VeSde,
    times: &[f64],
    final_step: FinalStep,
    v0: f64,
    (mut m, mut v): (f64, f64),
) -> (f64, f64) {
    let n = times.len() - 1;
    // The drift over a step of length h at time t, per unit of y: −c y.
    let c = |t: f64, h: f64| sde.g(t).powi(2) * h / (v0 + sde.sigma(t).powi(2));
    for i in 0..n - 1 {
        let (t0, t1) = (times[i], times[i + 1]);
        let h = t0 - t1;
        let (a, noise_var) = match sampler {
            Sampler::EulerMaruyama => (1.0 - c(t0, h), sde.g(t0).powi(2) * h),
            Sampler::Heun | Sampler::ProbabilityFlow => {
                let lambda = if sampler == Sampler::Heun { 1.0 } else { 0.5 };
                let (c0, c1) = (lambda * c(t0, h), lambda * c(t1, h));
                // ỹ = (1 − c0) y + η z; y' = y − ½ (c0 y + c1 ỹ) + η z.
                let a = 1.0 - 0.5 * c0 - 0.5 * c1 * (1.0 - c0);
                let eta2 = if sampler == Sampler::ProbabilityFlow {
                    0.0
                } else {
                    sde.sigma(t0).powi(2) - sde.sigma(t1).powi(2)
                };
                (a, eta2 * (1.0 - 0.5 * c1).powi(2))
            }
        };
        m *= a;
        v = a * a * v + noise_var;
    }
    let a = final_factor(sde, times[n - 1], final_step, v0);
    (m * a, a * a * v)
}

/// The final step's factor on `y` at `t`: `y − k S = y (1 − k / (v0 +
/// σ(t)²))` with `k = σ(t)²` (Tweedie) or `g(t)² t` (Euler).
pub fn final_factor(sde: VeSde, t: f64, final_step: FinalStep, v0: f64) -> f64 {
    let k = match final_step {
        FinalStep::Tweedie => sde.sigma(t).powi(2),
        FinalStep::Euler => sde.g(t).powi(2) * t,
    };
    1.0 - k / (v0 + sde.sigma(t).powi(2))
}

/// The exact (continuous-time) mean and variance of `y` after the run:
/// the reverse SDE or ODE solved exactly from `(m, v0 + σ(t_max)²)` at
/// `t_max` down to `t_min`, then the same final step — the limit of
/// [`gaussian_moments`] as the integrator steps go to zero.
pub fn gaussian_exact(
    sampler: Sampler,
    sde: VeSde,
    (t_max, t_min): (f64, f64),
    final_step: FinalStep,
    v0: f64,
    m: f64,
) -> (f64, f64) {
    let ratio = (v0 + sde.sigma(t_min).powi(2)) / (v0 + sde.sigma(t_max).powi(2));
    let scale = match sampler {
        Sampler::ProbabilityFlow => ratio.sqrt(),
        _ => ratio,
    };
    let a = final_factor(sde, t_min, final_step, v0);
    (m * scale * a, (v0 + sde.sigma(t_min).powi(2)) * a * a)
}

/// The standard normal CDF Φ(x) (Abramowitz & Stegun 7.1.26 for erf,
/// absolute error < 1.5e-7: far below the tests' sampling errors).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}
