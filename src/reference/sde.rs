//! Exact f64 moments of the reverse-time samplers on a Gaussian target
//! (science.md §5), written from the schemes' definitions independently of
//! the kernels' coefficient code.
//!
//! For data `N(μ, v0)` the VE-diffused score is `S(x, t) = −y / (v0 +
//! σ(t)²)`, `y = x − μ`, linear in `y`, so every sampler maps the mean and
//! variance of `y` by a closed recursion. The continuous reverse SDE keeps
//! the exact marginal `N(0, v0 + σ²)` of `y` and scales its mean by
//! `(v0 + σ(t)²)/(v0 + σ(T)²)`; the probability-flow ODE scales `y` itself
//! by the square root of that.

use diffclosure::sde::{Sampler, VeSde};

/// Mean and variance of `y = x − μ` after the sampler, from `(m, v)` at
/// `times[0]` (`times`: the decreasing schedule, `N + 1` values).
pub fn gaussian_moments(
    sampler: Sampler,
    sde: VeSde,
    times: &[f64],
    v0: f64,
    (mut m, mut v): (f64, f64),
) -> (f64, f64) {
    let n = times.len() - 1;
    // The drift over a step of length h at time t, per unit of y: −c y.
    let c = |t: f64, h: f64| sde.g(t).powi(2) * h / (v0 + sde.sigma(t).powi(2));
    for i in 0..n {
        let (t0, t1) = (times[i], times[i + 1]);
        let h = t0 - t1;
        let last = i + 1 == n;
        let (a, noise_var) = match sampler {
            Sampler::EulerMaruyama => {
                let eta2 = if last { 0.0 } else { sde.g(t0).powi(2) * h };
                (1.0 - c(t0, h), eta2)
            }
            Sampler::Heun | Sampler::ProbabilityFlow => {
                let lambda = if sampler == Sampler::Heun { 1.0 } else { 0.5 };
                let (c0, c1) = (lambda * c(t0, h), lambda * c(t1, h));
                // ỹ = (1 − c0) y + η z; y' = y − ½ (c0 y + c1 ỹ) + η z.
                let a = 1.0 - 0.5 * c0 - 0.5 * c1 * (1.0 - c0);
                let eta2 = if last || sampler == Sampler::ProbabilityFlow {
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
    (m, v)
}

/// The exact (continuous-time) mean and variance of `y` at `t_min` from
/// `(m, v0 + σ(t_max)²)` at `t_max`: the limit of [`gaussian_moments`] as
/// the steps go to zero.
pub fn gaussian_exact(
    sampler: Sampler,
    sde: VeSde,
    t_max: f64,
    t_min: f64,
    v0: f64,
    m: f64,
) -> (f64, f64) {
    let ratio = (v0 + sde.sigma(t_min).powi(2)) / (v0 + sde.sigma(t_max).powi(2));
    let scale = match sampler {
        Sampler::ProbabilityFlow => ratio.sqrt(),
        _ => ratio,
    };
    (m * scale, v0 + sde.sigma(t_min).powi(2))
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
