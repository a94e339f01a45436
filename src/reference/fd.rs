//! Finite-difference checks of hand-written gradients (the references'
//! backward functions).
//!
//! Finite differences: `L(θ) = Σ r ⊙ score(θ)` with a fixed random `r` (not
//! all ones, so that errors cannot cancel in a symmetric sum), checked on
//! the two largest and two random entries of every tensor and along a
//! random unit direction of the whole tensor (which sees every entry).
//! The derivative is the fourth-order central difference
//! `[8(L(+h) − L(−h)) − (L(+2h) − L(−2h))] / 12h`: truncation
//! `h⁴ |L⁽⁵⁾| / 30`, rounding `1.5 δ / h` with `δ` the rounding noise of
//! one evaluation of `L` (measured ≈ 4e-16 here: `L` is a sum of O(1)
//! terms). With `h = 1e-3` both are ≈ 1e-12 absolute, i.e. ≤ 1e-7 relative
//! for gradients ≥ 1e-5. (The two-point difference with `h = 1e-5`,
//! truncation `h² |L‴| / 6` ≈ 1e-10 and rounding `δ / h` ≈ 4e-11, left
//! 1e-5 relative on the smallest spectral-weight gradients.) The tolerance
//! 1e-6 still fails any wrong sign, factor, index or missing path (errors
//! of order 1). The relative error of one check is
//! `|fd − an| / max(|an|, 1e-2 ‖g‖)`, `‖g‖` the largest entry (for single
//! entries) or the 2-norm (for the direction) of that tensor's gradient:
//! the floor keeps an entry that nearly vanishes, where only the absolute
//! noise of the difference is left, from dividing by ~0.

/// Step of the central differences.
pub const H: f64 = 1e-3;
/// Floor of the relative error, as a fraction of the gradient's scale.
pub const FLOOR: f64 = 1e-2;
/// Tolerance of the relative error of one check.
pub const TOL: f64 = 1e-6;

/// [`test_data`](super::test_data) in f64.
pub fn data(seed: u64, n: usize) -> Vec<f64> {
    super::test_data(seed, n)
        .into_iter()
        .map(f64::from)
        .collect()
}

/// `|fd − an| / max(|an|, floor)`.
pub fn rel(fd: f64, an: f64, floor: f64) -> f64 {
    (fd - an).abs() / an.abs().max(floor)
}

/// A few distinct pseudo-random indices below `len` (all of them when few).
pub fn sample(len: usize, k: usize, seed: u64) -> Vec<usize> {
    if len <= 2 * k {
        return (0..len).collect();
    }
    let mut out: Vec<usize> = Vec::new();
    let mut s = seed;
    while out.len() < k {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let i = (s >> 33) as usize % len;
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// Max relative error of the analytic gradient `an` of `f` at `x0`: on the
/// two largest entries, two random ones and one random unit direction of
/// all of `x0` (every entry when there are few).
pub fn check_vector(f: &dyn Fn(&[f64]) -> f64, x0: &[f64], an: &[f64], seed: u64) -> f64 {
    let max = an.iter().fold(0f64, |m, v| m.max(v.abs()));
    assert!(max > 0.0, "a gradient that is identically 0 tests nothing");
    // Fourth-order central difference along `dir`.
    let fd = |dir: &dyn Fn(&mut [f64], f64)| {
        let at = |s: f64| {
            let mut p = x0.to_vec();
            dir(&mut p, s * H);
            f(&p)
        };
        (8.0 * (at(1.0) - at(-1.0)) - (at(2.0) - at(-2.0))) / (12.0 * H)
    };
    let mut entries = sample(x0.len(), 2, seed);
    let mut by_size: Vec<usize> = (0..x0.len()).collect();
    by_size.sort_by(|&a, &b| an[b].abs().total_cmp(&an[a].abs()));
    entries.extend(
        by_size
            .into_iter()
            .take(2)
            .filter(|i| !entries.contains(i))
            .collect::<Vec<_>>(),
    );
    let mut err = 0f64;
    for i in entries {
        let d = fd(&|v, h| v[i] += h);
        err = err.max(rel(d, an[i], FLOOR * max));
    }
    let mut u = data(seed ^ 0xD1, x0.len());
    let norm = u.iter().map(|v| v * v).sum::<f64>().sqrt();
    u.iter_mut().for_each(|v| *v /= norm);
    let d = fd(&|v, h| v.iter_mut().zip(&u).for_each(|(a, b)| *a += h * b));
    let an_dir: f64 = an.iter().zip(&u).map(|(a, b)| a * b).sum();
    let an_norm = an.iter().map(|v| v * v).sum::<f64>().sqrt();
    err.max(rel(d, an_dir, FLOOR * an_norm))
}
