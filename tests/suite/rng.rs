//! Philox RNG: known-answer vectors, GPU = CPU twin, statistics of 1e6
//! normals, reproducibility and independence of streams.

use diffclosure::gpu::{DType, Tensor};
use diffclosure::rng::{Distribution, Rng};

use crate::gpu;
use crate::reference::philox;

fn fill(rng: &mut Rng, dist: Distribution, n: usize) -> Vec<f32> {
    let g = gpu();
    let t = Tensor::zeros(g, &[n], DType::F32).unwrap();
    rng.fill(g, dist, &t).unwrap();
    g.read_one(&t).unwrap()
}

/// Random123's known-answer vectors for philox4x32-10 (kat_vectors).
#[test]
fn cpu_philox_matches_random123_kat() {
    assert_eq!(
        philox::philox4x32_10([0; 4], [0; 2]),
        [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
    );
    assert_eq!(
        philox::philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
        [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]
    );
    assert_eq!(
        philox::philox4x32_10(
            [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
            [0xa4093822, 0x299f31d0]
        ),
        [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
    );
}

/// GPU uniforms are bit-identical to the CPU twin, also across the 2^32
/// block-counter carry and for a seed using both key words.
#[test]
fn gpu_uniforms_equal_cpu_twin() {
    for (seed, counter) in [
        (0u64, 0u64),
        (0xDEAD_BEEF_0123_4567, u64::from(u32::MAX) - 3),
    ] {
        let n = 1003; // not a multiple of 4: exercises the tail guard
        let gpu_u = fill(
            &mut Rng::with_counter(seed, counter),
            Distribution::Uniform,
            n,
        );
        assert_eq!(gpu_u, philox::uniforms(seed, counter, n));
    }
}

/// GPU normals agree with Box–Muller in f64 on the same words. Tolerance:
/// f32 log/sqrt/cos/sin of the adapter (a few ulp) on values |z| < 6 give
/// absolute errors of order 1e-6; 1e-4 allows Vulkan's looser precision
/// guarantees for sin/cos while failing any wrong pairing or formula.
#[test]
fn gpu_normals_match_cpu_box_muller() {
    let n = 4096;
    let z = fill(&mut Rng::with_counter(42, 1000), Distribution::Normal, n);
    let r = philox::normals(42, 1000, n);
    let worst = crate::max_abs_err(&z, &r);
    assert!(worst < 1e-4, "GPU normals differ from CPU by {worst:e}");
}

/// Standard normal CDF, Φ(x) = erfc(−x/√2)/2 with erfc from Numerical
/// Recipes' Chebyshev fit (|rel. error| < 1.2e-7, far below the KS scale).
fn phi(x: f64) -> f64 {
    let z = (x / std::f64::consts::SQRT_2).abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

/// Mean, variance and the Kolmogorov–Smirnov statistic of 1e6 normals.
/// Bounds at 5 standard errors (p ≈ 6e-7 of a false alarm for a correct
/// generator): mean 5/√n = 5e-3, variance 5·√(2/n) = 7.1e-3; KS at
/// α = 1e-6: D < √(ln(2/α)/(2n)) = 2.7e-3. Uniforms passed off as normals,
/// or a wrong Box–Muller scale, fail all three by orders of magnitude.
#[test]
fn normals_statistics_and_ks_test() {
    let n = 1_000_000;
    let z = fill(&mut Rng::new(2026), Distribution::Normal, n);
    let mean = z.iter().map(|v| f64::from(*v)).sum::<f64>() / n as f64;
    let var = z
        .iter()
        .map(|v| (f64::from(*v) - mean).powi(2))
        .sum::<f64>()
        / (n - 1) as f64;
    assert!(mean.abs() < 5.0 / (n as f64).sqrt(), "mean {mean}");
    assert!(
        (var - 1.0).abs() < 5.0 * (2.0 / n as f64).sqrt(),
        "variance {var}"
    );
    let mut s: Vec<f64> = z.iter().map(|v| f64::from(*v)).collect();
    s.sort_by(f64::total_cmp);
    let d = s.iter().enumerate().fold(0f64, |m, (i, &x)| {
        let f = phi(x);
        m.max((f - i as f64 / n as f64).abs())
            .max(((i + 1) as f64 / n as f64 - f).abs())
    });
    let crit = ((2.0f64 / 1e-6).ln() / (2.0 * n as f64)).sqrt();
    assert!(d < crit, "KS statistic {d:.2e} >= {crit:.2e}");
}

/// Uniforms: mean 1/2, variance 1/12, all inside (0, 1).
#[test]
fn uniform_statistics() {
    let n = 1_000_000;
    let u = fill(&mut Rng::new(5), Distribution::Uniform, n);
    assert!(u.iter().all(|&x| x > 0.0 && x < 1.0));
    let mean = u.iter().map(|v| f64::from(*v)).sum::<f64>() / n as f64;
    let var = u
        .iter()
        .map(|v| (f64::from(*v) - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    // Standard errors: sqrt(1/12/n) = 2.9e-4 for the mean, ~ 8.9e-5 for the variance.
    assert!((mean - 0.5).abs() < 5.0 * 2.9e-4, "mean {mean}");
    assert!((var - 1.0 / 12.0).abs() < 5.0 * 8.9e-5, "variance {var}");
}

#[test]
fn same_seed_same_stream_other_seed_other_stream() {
    let n = 10_000;
    let a = fill(&mut Rng::new(7), Distribution::Normal, n);
    let b = fill(&mut Rng::new(7), Distribution::Normal, n);
    let c = fill(&mut Rng::new(8), Distribution::Normal, n);
    assert_eq!(a, b, "one seed must give the same stream twice");
    let equal = a.iter().zip(&c).filter(|(x, y)| x == y).count();
    // Two independent continuous streams coincide essentially never.
    assert!(equal < 10, "seeds 7 and 8 share {equal} of {n} values");
}

/// Successive fills continue the stream: fill(n) then fill(m) equals the
/// first n + m values of one fill (n a multiple of 4: whole blocks).
#[test]
fn fills_continue_the_stream() {
    let mut r = Rng::new(99);
    let mut parts = fill(&mut r, Distribution::Uniform, 400);
    assert_eq!(r.counter(), 100);
    parts.extend(fill(&mut r, Distribution::Uniform, 600));
    let whole = fill(&mut Rng::new(99), Distribution::Uniform, 1000);
    assert_eq!(parts, whole);
}
