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
use crate::{gpu, test_data};

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
    let cfg = ScoreConfig {
        width: 4,
        modes: 4,
        layers: 2,
        embed_dim: 16,
        fc_hidden: 8,
        vorticity: true,
        sparse: true,
    };
    let params = init_params(&cfg, 3);
    let ns = NsConfig {
        n,
        length: std::f64::consts::TAU,
        nu: 1e-3,
        drag: 0.1,
        dt: 1e-3,
        scheme: TimeScheme::Heun,
        batch: b,
        stochastic: None,
        seed: 0,
        advection: true,
    };
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
    let scale = want.iter().fold(0f64, |a, v| a.max(v.abs()));
    let err = hat
        .iter()
        .zip(&want)
        .fold(0f64, |a, (x, y)| a.max((f64::from(*x) - y).abs()));
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
