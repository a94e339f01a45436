//! The learned closure inside the coarse solver (src/couple): one recorded
//! sample is the network's reverse-SDE sample for the solver's vorticity
//! and the observations of the requested frame, as `sample` draws it, and
//! lands in the solver's closure term as its spectrum.

use diffclosure::couple::LearnedClosure;
use diffclosure::data::dataset::Samples;
use diffclosure::ns::{NsConfig, NsSolver, TimeScheme};
use diffclosure::score::init::init_params;
use diffclosure::score::spectral_conv::Method;
use diffclosure::score::ScoreConfig;
use diffclosure::sde::generate::Generator;
use diffclosure::sde::{Noise, SamplerConfig};

use crate::reference::fft;
use crate::{gpu, max_abs, max_abs_err, test_data};

/// A network of width 4 and 4 modes (fc 8, with the vorticity pipeline):
/// fast on lavapipe, big enough that a wrong wiring shows; with its
/// parameters as initialised from `seed`.
fn tiny_network(
    layers: usize,
    embed_dim: usize,
    sparse: bool,
    seed: u64,
) -> (ScoreConfig, Vec<f32>) {
    let cfg = ScoreConfig {
        width: 4,
        modes: 4,
        layers,
        embed_dim,
        fc_hidden: 8,
        vorticity: true,
        sparse,
    };
    let params = init_params(&cfg, seed);
    (cfg, params)
}

/// Tolerance 1e-5 of the spectrum's largest magnitude: the vorticity makes
/// an f32 FFT round trip (≈ 1e-7 relative) before conditioning the
/// network, and the sample is transformed by our r2c against rustfft in
/// f64 (≈ 1e-7); measured 6e-8 on lavapipe, and 1e-5 leaves room for other
/// adapters' transcendentals. A wrong frame, noise offset, field or
/// transform direction misses by O(1).
#[test]
fn learned_closure_is_the_network_sample_of_the_solver_state() {
    let g = gpu();
    let (b, n, s, frames) = (2, 32, 4, 3);
    let (cfg, params) = tiny_network(2, 16, true, 3);
    let ns = crate::ns::config(n, b, 1e-3, 0.1, 1e-3, TimeScheme::Heun);
    let mut solver = NsSolver::new(g, &ns, None).unwrap();
    let w = test_data(1, b * n * n);
    solver.set_vorticity(&w).unwrap();
    let obs = test_data(2, frames * b * s * s);
    let sampler = SamplerConfig::default();
    let mut closure =
        LearnedClosure::new(g, (&cfg, &params), (b, n, s), sampler, Method::Fft, 9).unwrap();
    closure.set_observations(&obs, frames).unwrap();
    let frame = 1;
    let mut enc = g.encoder("closure");
    closure.record(&mut enc, &solver, frame).unwrap();
    g.submit(enc);
    let hat = g.read_one(solver.closure_hat()).unwrap();

    // The same conditions through `sample`'s generator, the same noise.
    let data = Samples {
        grid: n,
        sensors: s,
        len: b,
        omega: w.clone(),
        target: vec![0.0; b * n * n],
        obs: obs[frame * b * s * s..(frame + 1) * b * s * s].to_vec(),
        meta: Default::default(),
    };
    let generator = Generator::new(g, &cfg, &params, &data, sampler, b, Method::Fft).unwrap();
    let u = generator
        .run(&[0, 1], &Noise::batch(9, b * n * n), None)
        .unwrap();
    let half = n * (n / 2 + 1);
    let mut want = Vec::new();
    for field in u.chunks_exact(n * n) {
        let f: Vec<f64> = field.iter().map(|&v| f64::from(v)).collect();
        for c in fft::r2c(&f, n, n) {
            want.extend([c.re, c.im]);
        }
    }
    assert_eq!(want.len(), 2 * b * half);
    let (scale, err) = (max_abs(&want), max_abs_err(&hat, &want));
    eprintln!(
        "closure spectrum vs sample: {:.2e} of {scale:.2e}",
        err / scale
    );
    assert!(err < 1e-5 * scale, "{err} vs {scale}");

    // The next draw continues the noise stream: another sample.
    assert_eq!(closure.draws(), 1);
    let mut enc = g.encoder("closure 2");
    closure.record(&mut enc, &solver, frame).unwrap();
    g.submit(enc);
    let hat2 = g.read_one(solver.closure_hat()).unwrap();
    let diff = hat
        .iter()
        .zip(&hat2)
        .fold(0f32, |a, (x, y)| a.max((x - y).abs()));
    assert!(f64::from(diff) > 0.01 * scale, "a new draw, new noise");
    let mut enc = g.encoder("bad frame");
    assert!(closure.record(&mut enc, &solver, frames).is_err());
}

/// The generator's window of dataset rows on the GPU (how a dataset over
/// the binding limit is sampled): with 3 of 8 rows resident, batches whose
/// conditions lie elsewhere move the window and give bit for bit the
/// samples of a generator holding all 8 (the same network, conditions and
/// noise); a batch spanning more rows than the window is refused.
#[test]
fn generator_window_follows_the_batch() {
    let g = gpu();
    let (len, n, s, b) = (8, 16, 4, 2);
    let (cfg, params) = tiny_network(1, 8, true, 5);
    let data = Samples {
        grid: n,
        sensors: s,
        len,
        omega: test_data(11, len * n * n),
        target: vec![0.0; len * n * n],
        obs: test_data(12, len * s * s),
        meta: Default::default(),
    };
    let sampler = SamplerConfig::default();
    let whole = Generator::new(g, &cfg, &params, &data, sampler, b, Method::Fft).unwrap();
    let windowed = Generator::new(g, &cfg, &params, &data, sampler, b, Method::Fft)
        .unwrap()
        .with_window(3)
        .unwrap();
    let noise = Noise::batch(4, b * n * n);
    for conds in [[0, 1], [6, 7], [3, 5], [1, 2], [7, 5]] {
        let want = whole.run(&conds, &noise, None).unwrap();
        let got = windowed.run(&conds, &noise, None).unwrap();
        assert!(want == got, "conditions {conds:?}");
    }
    let e = windowed.run(&[0, 4], &noise, None).unwrap_err();
    assert!(e.to_string().contains("smaller batch"), "{e}");
    let err = Generator::new(g, &cfg, &params, &data, sampler, b, Method::Fft)
        .unwrap()
        .with_window(1);
    assert!(err.is_err(), "a window smaller than the batch");
}

/// The closure mean of K = 3 samples for 2 trajectories: the network
/// draws for the 6 rows are exactly those of a plain closure over the
/// replicated state, observations and noise (the replicate map is an exact
/// copy: equal to 1e-6 of the largest value, measured 0), and the solver's
/// closure term is the spectrum of their mean per trajectory (1e-5 of the
/// largest magnitude, measured 4e-8: f32 mean and r2c against f64; a
/// wrong row grouping or weight misses by O(1)).
#[test]
fn mean_closure_averages_the_samples_of_each_trajectory() {
    let g = gpu();
    let (b, k, n, s, frames) = (2, 3, 32, 4, 2);
    let (cfg, params) = tiny_network(1, 16, true, 5);
    let ns = |batch: usize| crate::ns::config(n, batch, 1e-3, 0.1, 1e-3, TimeScheme::Heun);
    let repeat = |v: &[f32], per: usize| -> Vec<f32> {
        v.chunks_exact(per)
            .flat_map(|r| std::iter::repeat_n(r, k).flatten().copied())
            .collect()
    };
    let w = test_data(3, b * n * n);
    let obs = test_data(4, frames * b * s * s);
    let sampler = SamplerConfig::default();
    let mut solver = NsSolver::new(g, &ns(b), None).unwrap();
    solver.set_vorticity(&w).unwrap();
    let mut mean =
        LearnedClosure::mean_of(g, (&cfg, &params), (b, n, s), sampler, Method::Fft, 9, k).unwrap();
    mean.set_observations(&obs, frames).unwrap();
    let mut wide = NsSolver::new(g, &ns(b * k), None).unwrap();
    wide.set_vorticity(&repeat(&w, n * n)).unwrap();
    let mut plain =
        LearnedClosure::new(g, (&cfg, &params), (b * k, n, s), sampler, Method::Fft, 9).unwrap();
    plain
        .set_observations(&repeat(&obs, s * s), frames)
        .unwrap();
    let mut enc = g.encoder("mean closure");
    mean.record(&mut enc, &solver, 1).unwrap();
    plain.record(&mut enc, &wide, 1).unwrap();
    g.submit(enc);
    let (xm, xp) = (
        g.read_one(mean.sample()).unwrap(),
        g.read_one(plain.sample()).unwrap(),
    );
    let scale = xp.iter().fold(0f32, |a, v| a.max(v.abs()));
    let diff = xm
        .iter()
        .zip(&xp)
        .fold(0f32, |a, (x, y)| a.max((x - y).abs()));
    assert!(diff <= 1e-6 * scale, "samples differ by {diff} of {scale}");
    let hat = g.read_one(solver.closure_hat()).unwrap();
    let mut want = Vec::new();
    for j in 0..b {
        let avg: Vec<f64> = (0..n * n)
            .map(|i| {
                (0..k)
                    .map(|r| f64::from(xp[(j * k + r) * n * n + i]))
                    .sum::<f64>()
                    / k as f64
            })
            .collect();
        for c in fft::r2c(&avg, n, n) {
            want.extend([c.re, c.im]);
        }
    }
    let (scale, err) = (max_abs(&want), max_abs_err(&hat, &want));
    assert!(
        err < 1e-5 * scale,
        "mean closure spectrum error {err} of {scale}"
    );
}

/// With --perturb ε between samples (every 4 steps), the closure term of
/// the steps in between is the held sample plus fresh white noise of
/// standard deviation ε: the spectrum of the difference has mean power
/// n² ε² per bin (r2c of white noise), and two consecutive perturbations
/// differ by √2 of one (fresh, not accumulated: a random walk gives 1).
/// The mean power of 544 bins (32 × 17, exponential per bin) has a relative
/// sd of 4.3 %, its square root, the rms, 2.2 %; the tolerance is 10 % of
/// the rms (4.5 sd).
#[test]
fn perturbation_between_samples_is_fresh_white_noise() {
    use diffclosure::couple::{Closure, CoupledRun};
    use diffclosure::data::dataset::Scenario;

    let g = gpu();
    let (n, eps) = (32, 0.05);
    let (cfg, params) = tiny_network(1, 16, false, 5);
    let ns = crate::ns::config(n, 1, 0.0, 0.1, 1e-3, TimeScheme::Heun);
    let mut solver = NsSolver::new(g, &ns, None).unwrap();
    solver.set_vorticity(&test_data(3, n * n)).unwrap();
    let sampler = SamplerConfig::default();
    let closure =
        LearnedClosure::new(g, (&cfg, &params), (1, n, 1), sampler, Method::Fft, 1).unwrap();
    let closure = Closure::Learned {
        closure: Box::new(closure),
        every: 4,
        frame_steps: 10,
        perturb: eps,
    };
    let mut run = CoupledRun::new(g, Scenario::G, solver, closure).unwrap();
    let mut hats = Vec::new();
    for _ in 0..3 {
        run.step().unwrap();
        hats.push(g.read_one(run.solver().closure_hat()).unwrap());
    }
    let rms = |a: &[f32], b: &[f32]| -> f64 {
        let sq: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum();
        (sq / (a.len() / 2) as f64).sqrt()
    };
    let (d1, d2) = (rms(&hats[1], &hats[0]), rms(&hats[2], &hats[1]));
    let want = n as f64 * eps;
    assert!(
        (d1 / want - 1.0).abs() < 0.1,
        "perturbation rms {d1} vs {want}"
    );
    assert!(
        (d2 / d1 / 2f64.sqrt() - 1.0).abs() < 0.1,
        "consecutive perturbations: {d2} vs {d1}"
    );
}

/// The coupled runner with the oracle closure (the restricted G, H or sgs
/// of a 64² truth stepped alongside, batch 2) reproduces the restricted
/// truth on 32² after t = 0.2 (dt 0.01) to the tolerances of the solver's
/// closure-consistency test (`ns::exact_closures_reproduce_the_restricted_truth`,
/// where the reasons are given: G 3e-2, H 4e-3, sgs 1e-3), for both
/// trajectories of the batch (the per-sample offsets of the copies).
#[test]
fn oracle_closure_reproduces_the_restricted_truth() {
    use diffclosure::couple::{coarse_config, Closure, CoupledRun};
    use diffclosure::data::dataset::Scenario;
    use diffclosure::ns::closure::ClosureRecorder;
    use diffclosure::ns::restrict::Restriction;
    use diffclosure::ns::StochasticForcing;

    use crate::ns::{band_limited, config, to_f32, TWO_PI};

    let g = gpu();
    let (n, m, dt, steps) = (64, 32, 0.01, 20);
    let forcing = |k: usize| -> Vec<f32> {
        let d = TWO_PI / k as f64;
        (0..k * k)
            .map(|i| (4.0 * (i / k) as f64 * d).sin() as f32)
            .collect()
    };
    let mut w0 = to_f32(&band_limited(n, 6, 31));
    w0.extend(to_f32(&band_limited(n, 6, 32)));
    for (scenario, tol) in [
        (Scenario::G, 3e-2),
        (Scenario::H, 4e-3),
        (Scenario::Sgs, 1e-3),
    ] {
        let fine_cfg = NsConfig {
            stochastic: (scenario == Scenario::G).then_some(StochasticForcing {
                alpha: 0.2,
                kappa: 10,
                sigma: 0.05,
            }),
            seed: 3,
            ..config(n, 2, 0.02, 0.1, dt, TimeScheme::Heun)
        };
        let mut fine = NsSolver::new(g, &fine_cfg, Some(&forcing(n))).unwrap();
        fine.set_vorticity(&w0).unwrap();
        let recorder = ClosureRecorder::new(g, &fine_cfg, &[m], Restriction::Spectral).unwrap();
        let coarse =
            NsSolver::new(g, &coarse_config(scenario, &fine_cfg, m), Some(&forcing(m))).unwrap();
        let closure = Closure::Oracle {
            fine: Box::new(fine),
            recorder: Box::new(recorder),
        };
        let mut run = CoupledRun::new(g, scenario, coarse, closure).unwrap();
        for _ in 0..steps {
            run.step().unwrap();
        }
        let model = run.solver().read_vorticity_hat().unwrap();
        let Closure::Oracle { fine, recorder } = run.closure_mut() else {
            unreachable!()
        };
        recorder.step(fine).unwrap();
        let truth = g.read_one(recorder.spectra(m).unwrap().0).unwrap();
        let half = truth.len() / 2;
        for b in 0..2 {
            let (t, x) = (
                &truth[b * half..(b + 1) * half],
                &model[b * half..(b + 1) * half],
            );
            let scale = t.iter().fold(0f32, |a, v| a.max(v.abs()));
            let err = t.iter().zip(x).fold(0f32, |a, (p, q)| a.max((p - q).abs())) / scale;
            eprintln!("{scenario} oracle, trajectory {b}: {err:.2e}");
            assert!(f64::from(err) < tol, "{scenario} trajectory {b}: {err:.2e}");
        }
    }
}

/// The learned closure in the runner is drawn every `every` steps (steps
/// 0, 3, 6 of 7) and held between: the closure term is the same through
/// steps 0–2 and 3–5 and differs between the two.
#[test]
fn learned_closure_is_drawn_every_k_steps() {
    use diffclosure::couple::{Closure, CoupledRun};
    use diffclosure::data::dataset::Scenario;

    let g = gpu();
    let (b, n, s) = (1, 32, 4);
    let (cfg, params) = tiny_network(2, 16, false, 5);
    let ns = crate::ns::config(n, b, 0.0, 0.1, 1e-3, TimeScheme::Heun);
    let mut solver = NsSolver::new(g, &ns, None).unwrap();
    solver.set_vorticity(&test_data(3, n * n)).unwrap();
    let closure = LearnedClosure::new(
        g,
        (&cfg, &params),
        (b, n, s),
        SamplerConfig::default(),
        Method::Fft,
        1,
    )
    .unwrap();
    let closure = Closure::Learned {
        closure: Box::new(closure),
        every: 3,
        frame_steps: 10,
        perturb: 0.0,
    };
    let mut run = CoupledRun::new(g, Scenario::G, solver, closure).unwrap();
    let mut hats = Vec::new();
    for _ in 0..7 {
        run.step().unwrap();
        hats.push(g.read_one(run.solver().closure_hat()).unwrap());
    }
    let Closure::Learned { closure, .. } = run.closure() else {
        unreachable!()
    };
    assert_eq!(closure.draws(), 3);
    assert!(hats[0] == hats[1] && hats[1] == hats[2], "held");
    assert!(hats[3] == hats[4] && hats[4] == hats[5], "held");
    assert_ne!(hats[2], hats[3], "drawn at step 3");
    let w = run.solver().vorticity().unwrap();
    assert!(w.iter().all(|v| v.is_finite()));
    let bad = Closure::Learned {
        closure: Box::new(
            LearnedClosure::new(
                g,
                (&cfg, &params),
                (b, n, s),
                SamplerConfig::default(),
                Method::Fft,
                1,
            )
            .unwrap(),
        ),
        every: 0,
        frame_steps: 10,
        perturb: 0.0,
    };
    let solver = NsSolver::new(g, &ns, None).unwrap();
    assert!(CoupledRun::new(g, Scenario::G, solver, bad).is_err());
}
