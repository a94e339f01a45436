//! Reverse-time samplers without a network (docs/specification.md §5): with the exact
//! score of a Gaussian and of a two-Gaussian mixture, the GPU samplers give
//! the moments of their f64 recursion and of the target; the schemes
//! converge at their order; a point's noise does not depend on batching.

use diffclosure::gpu::{DType, Tensor};
use diffclosure::sde::{
    FinalStep, Frames, Mixture, MixtureScore, Noise, ReverseSampler, Sampler, SamplerConfig,
    ScoreSource, Start, VeSde,
};

use crate::gpu;
use crate::reference::{philox, sde as reference};

const ALL: [Sampler; 3] = [
    Sampler::EulerMaruyama,
    Sampler::Heun,
    Sampler::ProbabilityFlow,
];

/// Points per run: 2^18 independent samples, so a sample mean has a
/// standard error of sqrt(var / M) = 0.2 % of the standard deviation and a
/// sample variance sqrt(2 / M) = 0.28 % of the variance (Gaussian).
const M: usize = 1 << 18;

fn config(sampler: Sampler, steps: usize, t_max: f64) -> SamplerConfig {
    SamplerConfig {
        sampler,
        steps,
        t_max,
        ..Default::default()
    }
}

/// Runs `cfg` on `source` from `start` (the values of x at t_max, or the
/// prior when None); returns the final x.
fn run(
    cfg: SamplerConfig,
    source: &dyn ScoreSource,
    start: Option<&[f32]>,
    noise: Noise,
) -> Vec<f32> {
    let g = gpu();
    let count = source.input().len();
    let sampler = ReverseSampler::new(g, cfg, count).unwrap();
    if let Some(x) = start {
        source.input().write(g, x).unwrap();
    }
    crate::in_one_pass("sample", |pass| {
        let s = if start.is_some() {
            Start::Given
        } else {
            Start::Prior
        };
        sampler.record(g, pass, source, &noise, s, None).unwrap();
    });
    g.read_one(source.input()).unwrap()
}

fn moments(x: &[f32]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = x
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0);
    (mean, var)
}

/// x at t_max drawn from the exact marginal: the mixture diffused to
/// σ(t_max) (host Philox, a stream of its own), shifted by `shift`.
fn exact_start(mix: &Mixture, sigma: f64, seed: u64, shift: f64) -> Vec<f32> {
    let z = philox::normals(seed, 0, M);
    let u = philox::uniforms(seed, 1 << 40, M);
    (0..M)
        .map(|i| {
            let (mu, var) = if f64::from(u[i]) < mix.w1 {
                (mix.mu1, mix.var1)
            } else {
                (mix.mu2, mix.var2)
            };
            (shift + mu + (var + sigma * sigma).sqrt() * z[i]) as f32
        })
        .collect()
}

/// With a Gaussian target N(μ, v0), a start one unit off its mean (so the
/// drift shows in the mean), and 4 steps (3 integrator steps and the final
/// one: a discretisation error far above the sampling error), each GPU
/// sampler with each final step gives the mean and variance of its own f64
/// recursion: 5 standard errors (M = 2^18, see [`M`]) plus 1e-5 of f32
/// rounding over the steps. The SDE recursions' variance is 10+ standard
/// errors away from the exact answer, and the other schemes' recursions
/// are 10+ away in mean or variance, so a kernel implementing another
/// scheme would fail. (From t_max = 0.5, 4 Heun or ODE steps are beyond
/// the stability bound for a narrow target, which v0 = 0.3 is not: the
/// check is lifted, as a user would with --allow-unstable.)
/// The ODE is deterministic: every point follows the affine map exactly
/// (4e-6 relative: f32 rounding over 7 evaluations).
#[test]
fn samplers_match_their_gaussian_recursion() {
    let g = gpu();
    let sde = VeSde::default();
    let (mu, v0, t_max) = (0.7, 0.3, 0.5);
    let mix = Mixture::gaussian(mu, v0);
    let source = MixtureScore::new(g, mix, sde, M).unwrap();
    let x0 = exact_start(&mix, sde.sigma(t_max), 7, 1.0);
    let (m0, v_start) = moments(&x0);
    for final_step in [FinalStep::Tweedie, FinalStep::Euler] {
        for sampler in ALL {
            let cfg = SamplerConfig {
                final_step,
                allow_unstable: true,
                ..config(sampler, 4, t_max)
            };
            let x = run(cfg, &source, Some(&x0), Noise::batch(99, M));
            let times = cfg.times().unwrap();
            let moments_of = |s: Sampler, start: (f64, f64)| {
                reference::gaussian_moments(s, sde, &times, final_step, v0, start)
            };
            let (m_ref, v_ref) = moments_of(sampler, (m0 - mu, v_start));
            let (m, v) = moments(&x);
            let (_, exact) =
                reference::gaussian_exact(sampler, sde, (t_max, cfg.t_min), final_step, v0, 0.0);
            eprintln!(
                "{sampler}, {final_step}: mean {:.5} (ref {m_ref:.5}), var {v:.5} (ref {v_ref:.5}, exact {exact:.5})",
                m - mu,
            );
            let (se_m, se_v) = ((v_ref / M as f64).sqrt(), v_ref * (2.0 / M as f64).sqrt());
            assert!((m - mu - m_ref).abs() < 5.0 * se_m + 1e-5, "{sampler} mean");
            assert!((v - v_ref).abs() < 5.0 * se_v + 1e-5, "{sampler} variance");
            for other in ALL.into_iter().filter(|&o| o != sampler) {
                let (mo, vo) = moments_of(other, (m0 - mu, v_start));
                assert!(
                    (mo - m_ref).abs() > 10.0 * se_m || (vo - v_ref).abs() > 10.0 * se_v,
                    "{sampler} and {other} are not told apart"
                );
            }
            if sampler == Sampler::ProbabilityFlow {
                let (a, _) = moments_of(sampler, (1.0, 0.0));
                for (xi, si) in x.iter().zip(&x0) {
                    let want = mu + a * (f64::from(*si) - mu);
                    assert!((f64::from(*xi) - want).abs() < 4e-6 * (1.0 + want.abs()));
                }
            } else {
                assert!(
                    (v_ref - exact).abs() > 10.0 * se_v,
                    "{sampler}: 4 steps too accurate to discriminate"
                );
            }
        }
    }
}

/// The run ends clean. A near-deterministic target N(μ, 1e-5) (a closure
/// whose spread, std 0.003, is far below σ(t_min) ≈ 0.032) under the
/// default sampler (EM × 10 from t_max = 0.1, started from the exact
/// marginal there) with either
/// final step: the output keeps no σ(t_min)² of noise — its mean square
/// about μ is at most the target's variance (f64 recursion: 0.02 v0; the
/// posterior mean shrinks a narrow target), where a run ending at t_min
/// holds about σ(t_min)² ≈ 100 v0 (the samplers before the final step: 91
/// v0 by the same recursion). A wide target N(μ, 0.3) under Heun × 40 (an
/// integrator error far below σ(t_min)², which EM × 10's +0.5 % is not):
/// the scheme's exact variance is v0² / (v0 + σ(t_min)²) within
/// σ(t_min)²/10 — the σ(t_min)² excess is gone — and the GPU gives it.
/// GPU against the f64 recursion: 5 standard errors plus 1e-9 of f32
/// rounding.
#[test]
fn samplers_end_without_the_noise_of_t_min() {
    let g = gpu();
    let sde = VeSde::default();
    let mu = 0.25;
    for (v0, final_step, sampler, steps) in [
        (1e-5, FinalStep::Tweedie, Sampler::EulerMaruyama, 10),
        (1e-5, FinalStep::Euler, Sampler::EulerMaruyama, 10),
        (0.3, FinalStep::Tweedie, Sampler::Heun, 40),
    ] {
        let mix = Mixture::gaussian(mu, v0);
        let source = MixtureScore::new(g, mix, sde, M).unwrap();
        let cfg = SamplerConfig {
            final_step,
            ..config(sampler, steps, 0.1)
        };
        let x0 = exact_start(&mix, sde.sigma(cfg.t_max), 17, 0.0);
        let x = run(cfg, &source, Some(&x0), Noise::batch(13, M));
        let (m0, v_start) = moments(&x0);
        // The scheme's exact variance at the end from a start of (mean
        // offset, variance).
        let end_variance = |start: (f64, f64)| {
            let times = cfg.times().unwrap();
            reference::gaussian_moments(cfg.sampler, sde, &times, final_step, v0, start).1
        };
        let v_ref = end_variance((m0 - mu, v_start));
        let (m, v) = moments(&x);
        let ms = x
            .iter()
            .map(|&xi| (f64::from(xi) - mu).powi(2))
            .sum::<f64>()
            / M as f64;
        let s2 = sde.sigma(cfg.t_min).powi(2);
        eprintln!(
            "v0 {v0}, {final_step}: mean {m:.6}, var {v:.3e} (ref {v_ref:.3e}), mean square about mu {ms:.3e}, sigma(t_min)^2 {s2:.3e}"
        );
        assert!(
            (v - v_ref).abs() < 5.0 * v_ref * (2.0 / M as f64).sqrt() + 1e-9,
            "variance"
        );
        if v0 < s2 {
            assert!(ms <= v0, "mean square {ms} about the mean above v0 {v0}");
        } else {
            // Exact arithmetic of the scheme: the posterior mean's variance,
            // below v0 by ≈ σ(t_min)², where a run ending at t_min is above
            // it by σ(t_min)².
            // (From the exact marginal at t_max, not the drawn start.)
            let v_exact_start = end_variance((0.0, v0 + sde.sigma(cfg.t_max).powi(2)));
            let data = v0 * v0 / (v0 + s2);
            assert!(
                (v_exact_start - data).abs() < 0.1 * s2,
                "recursion {v_exact_start} vs {data}"
            );
        }
    }
}

/// The paper's default (EM, 10 steps, t_max = 0.1, prior N(0, σ(t_max)²))
/// on a Gaussian also follows the recursion, from the prior's moments.
#[test]
fn em_from_the_prior_matches_the_recursion() {
    let g = gpu();
    let sde = VeSde::default();
    let (mu, v0) = (0.2, 0.05);
    let source = MixtureScore::new(g, Mixture::gaussian(mu, v0), sde, M).unwrap();
    let cfg = SamplerConfig::default();
    let x = run(cfg, &source, None, Noise::batch(5, M));
    let sigma = sde.sigma(cfg.t_max);
    let (m_ref, v_ref) = reference::gaussian_moments(
        cfg.sampler,
        sde,
        &cfg.times().unwrap(),
        cfg.final_step,
        v0,
        (-mu, sigma * sigma),
    );
    let (m, v) = moments(&x);
    eprintln!(
        "prior start: mean {m:.5} (ref {:.5}), var {v:.6} (ref {v_ref:.6})",
        m_ref + mu
    );
    // 5 standard errors of the prior draw's mean / variance carried through
    // (the map is affine, so its factor < 1 only shrinks them).
    assert!((m - mu - m_ref).abs() < 5.0 * (sigma * sigma / M as f64).sqrt());
    assert!((v - v_ref).abs() < 5.0 * v_ref.max(sigma * sigma) * (2.0 / M as f64).sqrt());
}

/// From t_max = 1 (σ = 10: the modes are indistinguishable there) the
/// samplers recover a bimodal target: mean, variance and the mass below
/// the valley within 5 standard errors plus 0.5 % (of the standard
/// deviation, the variance, the probability) for the discretisation.
/// (Measured on lavapipe: the ODE's variance is 0.76 % off at 80 steps and
/// 0.34 % at 160, where the mode split makes the flow stiff; EM at 400 and
/// Heun at 40 steps are within 0.5 %. A wrong score sign, scale or
/// responsibility misses by far more.)
#[test]
fn samplers_recover_a_two_gaussian_mixture() {
    let g = gpu();
    let sde = VeSde::default();
    let mix = Mixture {
        w1: 0.3,
        mu1: -2.0,
        var1: 0.25,
        mu2: 1.5,
        var2: 0.5,
    };
    let source = MixtureScore::new(g, mix, sde, M).unwrap();
    // The data themselves: the final step removes σ(t_min)²'s excess and
    // shrinks each mode by its posterior, ≈ σ(t_min)² = 1e-3 of a variance
    // ≈ 3, far inside the 0.5 % allowed.
    let (mean, var) = mix.moments(0.0);
    let x0 = exact_start(&mix, sde.sigma(1.0), 11, 0.0);
    // P(x < −0.25) of the target: mostly the first mode, plus the second's
    // tail (Φ by erfc of the reference module).
    let below = |mu: f64, var: f64| reference::normal_cdf((-0.25 - mu) / var.sqrt());
    let p1 = mix.w1 * below(mix.mu1, mix.var1) + (1.0 - mix.w1) * below(mix.mu2, mix.var2);
    for (sampler, steps) in [
        (Sampler::EulerMaruyama, 400),
        (Sampler::Heun, 40),
        (Sampler::ProbabilityFlow, 160),
    ] {
        let x = run(
            config(sampler, steps, 1.0),
            &source,
            Some(&x0),
            Noise::batch(3, M),
        );
        let (m, v) = moments(&x);
        let w1 = x.iter().filter(|&&v| f64::from(v) < -0.25).count() as f64 / M as f64;
        eprintln!("{sampler} x{steps}: mean {m:.4} ({mean:.4}), var {v:.4} ({var:.4}), w1 {w1:.4}");
        let se_m = (var / M as f64).sqrt();
        // Variance of the sample variance: (μ4 − v²)/M; μ4 ≤ 3 v² here.
        let se_v = var * (2.0 / M as f64).sqrt();
        let se_w = (p1 * (1.0 - p1) / M as f64).sqrt();
        assert!(
            (m - mean).abs() < 5.0 * se_m + 0.005 * var.sqrt(),
            "{sampler} mean"
        );
        assert!(
            (v - var).abs() < 5.0 * se_v + 0.005 * var,
            "{sampler} variance"
        );
        assert!(
            (w1 - p1).abs() < 5.0 * se_w + 0.005,
            "{sampler} weight {p1}"
        );
    }
}

/// The error of each scheme's mean (and of the ODE's whole map) against
/// the continuous answer shrinks at the scheme's order as N doubles
/// (N = 128 → 256 → 512, where the ratios have settled: within 10 % of 2
/// for EM, 4 for Heun and the ODE), and so does the variance's: EM's at
/// first order, Heun's and the ODE's at second (every integrator step now
/// carries its noise; the final step to 0 is the same map at every N, so
/// it scales the errors without changing their order). Heun's variance
/// error stays ≥ 20× below EM's.
#[test]
fn samplers_converge_at_their_order() {
    let sde = VeSde::default();
    let (v0, t_max, t_min) = (0.3, 1.0, 1e-3);
    let start = (1.0, v0 + sde.sigma(t_max).powi(2));
    let errors = |sampler: Sampler| -> Vec<(f64, f64)> {
        let (m_ex, v_ex) =
            reference::gaussian_exact(sampler, sde, (t_max, t_min), FinalStep::Tweedie, v0, 1.0);
        // The ODE transports the start's variance by its map's square.
        let v_ex = match sampler {
            Sampler::ProbabilityFlow => start.1 * m_ex * m_ex,
            _ => v_ex,
        };
        [128, 256, 512]
            .iter()
            .map(|&n| {
                // n integrator steps, then the final step.
                let cfg = SamplerConfig {
                    t_min,
                    ..config(sampler, n + 1, t_max)
                };
                let t = cfg.times().unwrap();
                let (m, v) =
                    reference::gaussian_moments(sampler, sde, &t, cfg.final_step, v0, start);
                ((m - m_ex).abs(), (v - v_ex).abs())
            })
            .collect()
    };
    let em = errors(Sampler::EulerMaruyama);
    for (sampler, order) in [
        (Sampler::EulerMaruyama, 1),
        (Sampler::Heun, 2),
        (Sampler::ProbabilityFlow, 2),
    ] {
        let e = errors(sampler);
        eprintln!("{sampler}: errors (mean, variance) {e:?}");
        let want = f64::from(1 << order);
        for w in e.windows(2) {
            let r = w[0].0 / w[1].0;
            assert!((r / want - 1.0).abs() < 0.1, "{sampler} mean ratio {r}");
            let rv = w[0].1 / w[1].1;
            assert!(
                (rv / want - 1.0).abs() < 0.1,
                "{sampler} variance ratio {rv}"
            );
        }
        if sampler == Sampler::Heun {
            for (h, m) in e.iter().zip(&em) {
                assert!(
                    h.1 < m.1 / 20.0,
                    "Heun variance error {} vs EM {}",
                    h.1,
                    m.1
                );
            }
        }
    }
}

/// A point's numbers depend on its global index only: one batch of M
/// points and two batches of M/2 (the second with its offset) give the
/// same bits; another seed does not. The trajectory frames hold the prior
/// first and the result last.
#[test]
fn noise_does_not_depend_on_batching() {
    let g = gpu();
    let sde = VeSde::default();
    let mix = Mixture::gaussian(0.0, 1.0);
    let half = M / 2;
    let whole = MixtureScore::new(g, mix, sde, M).unwrap();
    let part = MixtureScore::new(g, mix, sde, half).unwrap();
    let cfg = config(Sampler::Heun, 5, 0.1);
    let stride = (M / 4) as u64;
    let noise = |seed: u64, offset: usize| Noise {
        seed,
        stride,
        offset: (offset / 4) as u64,
    };
    let all = run(cfg, &whole, None, noise(1, 0));
    let mut halves = run(cfg, &part, None, noise(1, 0));
    halves.extend(run(cfg, &part, None, noise(1, half)));
    assert_eq!(all, halves);
    let other = run(cfg, &whole, None, noise(2, 0));
    assert_ne!(all, other);
    // Frames after the start and after the last step (step 5), twice.
    let frames = Tensor::zeros(g, &[3 * half], DType::F32).unwrap();
    let s = ReverseSampler::new(g, cfg, half).unwrap();
    crate::in_one_pass("frames", |pass| {
        s.record(
            g,
            pass,
            &part,
            &Noise::batch(1, half),
            Start::Prior,
            Some(&Frames {
                tensor: &frames,
                steps: &[0, 5, 5],
                points: half,
            }),
        )
        .unwrap();
    });
    let f = g.read_one(&frames).unwrap();
    let last = g.read_one(part.input()).unwrap();
    assert_eq!(
        &f[half..2 * half],
        &last[..],
        "the last frame is the result"
    );
    assert_eq!(&f[2 * half..], &last[..]);
    // Frame 0 is the prior N(0, σ(t_max)²): 2^17 points give its variance a
    // standard error of 0.4 %, so 3 % is 7 of them (the later frames move
    // towards the target's variance, 1 + σ², far away).
    let (_, v_first) = moments(&f[..half]);
    let s0 = sde.sigma(0.1);
    assert!(
        (v_first / (s0 * s0) - 1.0).abs() < 0.03,
        "frame 0 is the prior"
    );
}
