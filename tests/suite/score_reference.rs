//! The f64 ScoreFno reference (`src/reference/score/`): its hand-written
//! reverse mode against central finite differences for every parameter
//! tensor and every input, with every pipeline on and in each ablation, and
//! properties of the building blocks that a wrong implementation fails.
//!
//! Finite differences as in `diffclosure::reference::fd`; the kernel
//! families' own blocks (linear, spectral convolution) are checked beside
//! their references.

use diffclosure::score::ScoreConfig;

use crate::reference::fd::{check_vector, data, TOL};
use crate::reference::score::{self as net, Dense, Grid, Inputs, Spectral};

fn small_cfg(vorticity: bool, sparse: bool) -> ScoreConfig {
    ScoreConfig {
        width: 4,
        modes: 3,
        layers: 2,
        embed_dim: 8,
        fc_hidden: 6,
        vorticity,
        sparse,
    }
}

const N: usize = 8;
const S: usize = 4;
const B: usize = 2;

/// Parameters for the FD tests: [`net::init_params`] with the spectral
/// weights scaled from `U(0, 1)/(cin·cout)` to `U(0, 1)`. The baseline's
/// scale suits width 20 and 4 layers; at width 4 the sparse pipeline's
/// chain of spectral convolutions (s_spec_a, s_spec_b, fno_s) is damped so
/// much that its gradients (~1e-7) sink into the finite differences'
/// rounding noise. With `U(0, 1)` every tensor's gradient is ≥ 1e-4.
fn fd_params(cfg: &ScoreConfig, seed: u64) -> Vec<f64> {
    let mut p = net::init_params(cfg, seed);
    let boost = (cfg.width * cfg.width) as f64;
    for s in cfg.params() {
        if s.name.ends_with(".w_pos") || s.name.ends_with(".w_neg") {
            p[s.offset..s.offset + s.len()]
                .iter_mut()
                .for_each(|v| *v *= boost);
        }
    }
    p
}

fn inputs(seed: u64) -> Inputs {
    Inputs {
        batch: B,
        n: N,
        s_res: S,
        x: data(seed, B * N * N),
        w: data(seed + 1, B * N * N),
        s: data(seed + 2, B * S * S),
        t: vec![0.3, 0.85],
    }
}

/// FD check of `backward` for every parameter tensor and the inputs;
/// returns `(tensor or input name, max relative error)` sorted worst first.
fn check_network(cfg: &ScoreConfig, seed: u64) -> Vec<(String, f64)> {
    cfg.validate().unwrap();
    let params = fd_params(cfg, seed);
    let inp = inputs(seed + 10);
    let r = data(seed + 20, B * N * N);
    let loss = |p: &[f64], inp: &Inputs| -> f64 {
        let f = net::forward(cfg, p, inp);
        f.score.iter().zip(&r).map(|(a, b)| a * b).sum()
    };
    let fwd = net::forward(cfg, &params, &inp);
    let g = net::backward(cfg, &params, &inp, &fwd, &r);
    assert_eq!(g.params.len(), params.len());

    let mut errs = Vec::new();
    let mut covered = vec![false; params.len()];
    for (k, spec) in cfg.params().iter().enumerate() {
        let range = spec.offset..spec.offset + spec.len();
        range.clone().for_each(|i| covered[i] = true);
        let an = &g.params[range.clone()];
        if !spec.trainable {
            assert!(an.iter().all(|&v| v == 0.0), "{}: not trainable", spec.name);
            continue;
        }
        let f = |t: &[f64]| {
            let mut p = params.clone();
            p[range.clone()].copy_from_slice(t);
            loss(&p, &inp)
        };
        let e = check_vector(&f, &params[range.clone()], an, seed + k as u64);
        errs.push((spec.name.clone(), e));
    }
    for (i, c) in covered.iter().enumerate() {
        assert!(c | (g.params[i] == 0.0), "padding entry {i} has a gradient");
    }

    let field = |name: &str, x0: &[f64], an: &[f64], set: &dyn Fn(&mut Inputs, &[f64])| {
        let f = |v: &[f64]| {
            let mut i2 = inp.clone();
            set(&mut i2, v);
            loss(&params, &i2)
        };
        (name.to_string(), check_vector(&f, x0, an, seed + 99))
    };
    errs.push(field("input x", &inp.x, &g.x, &|i, v| i.x = v.to_vec()));
    // The input of an optional pipeline: checked when it is on, with an
    // exactly zero gradient when it is off.
    let mut optional =
        |on: bool, name: &str, x0: &[f64], an: &[f64], set: &dyn Fn(&mut Inputs, &[f64])| {
            if on {
                errs.push(field(&format!("input {name}"), x0, an, set));
            } else {
                assert!(
                    an.iter().all(|&v| v == 0.0),
                    "{name} is ignored without its pipeline"
                );
            }
        };
    optional(cfg.vorticity, "w", &inp.w, &g.w, &|i, v| i.w = v.to_vec());
    optional(cfg.sparse, "s", &inp.s, &g.s, &|i, v| i.s = v.to_vec());
    errs.sort_by(|a, b| b.1.total_cmp(&a.1));
    errs
}

fn assert_network(cfg: &ScoreConfig, seed: u64) {
    let errs = check_network(cfg, seed);
    let n_params = cfg.params().iter().filter(|p| p.trainable).count();
    let n_inputs = 1 + usize::from(cfg.vorticity) + usize::from(cfg.sparse);
    assert_eq!(errs.len(), n_params + n_inputs);
    let inputs: Vec<_> = errs.iter().filter(|e| e.0.starts_with("input")).collect();
    println!(
        "{} checks, worst: {:?}; inputs: {inputs:?}",
        errs.len(),
        &errs[..3.min(errs.len())]
    );
    for (name, e) in &errs {
        assert!(*e <= TOL, "{name}: relative error {e:.3e} > {TOL:e}");
    }
}

#[test]
fn backward_matches_fd_all_pipelines() {
    assert_network(&small_cfg(true, true), 1);
}

#[test]
fn backward_matches_fd_without_vorticity() {
    assert_network(&small_cfg(false, true), 2);
}

#[test]
fn backward_matches_fd_without_sparse() {
    assert_network(&small_cfg(true, false), 3);
}

#[test]
fn dsm_loss_gradient_matches_fd() {
    let cfg = small_cfg(true, true);
    let params = fd_params(&cfg, 4);
    let inp = inputs(40);
    let z = data(41, B * N * N);
    let loss = |p: &[f64], x0: &[f64]| net::dsm_loss(&cfg, p, x0, &inp.w, &inp.s, &inp.t, &z).0;
    let (l0, g) = net::dsm_loss(&cfg, &params, &inp.x, &inp.w, &inp.s, &inp.t, &z);

    // The loss itself, from the forward pass.
    let sig: Vec<f64> = inp.t.iter().map(|&t| net::sigma(t)).collect();
    let xt: Vec<f64> = (0..B * N * N)
        .map(|k| inp.x[k] + sig[k / (N * N)] * z[k])
        .collect();
    let f = net::forward(
        &cfg,
        &params,
        &Inputs {
            x: xt,
            ..inp.clone()
        },
    );
    let direct: f64 = (0..B * N * N)
        .map(|k| (f.score[k] * sig[k / (N * N)] + z[k]).powi(2))
        .sum::<f64>()
        / B as f64;
    assert!((l0 - direct).abs() <= 1e-12 * direct, "{l0} vs {direct}");

    let mut worst = (String::new(), 0f64);
    for (k, spec) in cfg.params().iter().enumerate().filter(|(_, s)| s.trainable) {
        let range = spec.offset..spec.offset + spec.len();
        let f = |t: &[f64]| {
            let mut p = params.clone();
            p[range.clone()].copy_from_slice(t);
            loss(&p, &inp.x)
        };
        let e = check_vector(
            &f,
            &params[range.clone()],
            &g.params[range.clone()],
            k as u64,
        );
        if e > worst.1 {
            worst = (spec.name.clone(), e);
        }
    }
    let e = check_vector(&|x0| loss(&params, x0), &inp.x, &g.x, 77);
    if e > worst.1 {
        worst = ("x0".into(), e);
    }
    println!("dsm loss {l0:.6}, worst relative error {worst:?}");
    assert!(worst.1 <= TOL, "{worst:?}");
}

// ---------------------------------------------------------------------------
// Building blocks without a family file of their own (bicubic, lifting):
// their FD checks. The linear and spectral blocks are checked beside their
// references (src/reference/score/{linear,spectral_conv}.rs).
// ---------------------------------------------------------------------------

#[test]
fn building_block_backwards_match_fd() {
    let cout = 2;
    let bias = data(55, cout);
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>();
    let mut worst = Vec::new();

    // Bicubic 4×4 → 8×8.
    let planes = 3;
    let src = data(57, planes * 16);
    let dyb = data(58, planes * 64);
    let bb = net::bicubic_backward(&dyb, planes, (4, 4), (8, 8));
    let f = |v: &[f64]| dot(&net::bicubic(v, planes, (4, 4), (8, 8)), &dyb);
    worst.push(("bicubic", check_vector(&f, &src, &bb, 9)));

    // Lifting (rectangular, so that the two grid channels differ).
    let lg_grid = Grid {
        batch: 2,
        h: 4,
        w: 8,
    };
    let field = data(59, lg_grid.batch * lg_grid.hw());
    let lw = data(60, 3 * cout);
    let dyl = data(61, lg_grid.batch * cout * lg_grid.hw());
    let lift = |w: &[f64], f: &[f64]| {
        let d = Dense {
            cin: 3,
            cout,
            weight: w,
            bias: &bias,
        };
        dot(&net::lift(&d, f, lg_grid), &dyl)
    };
    let d = Dense {
        cin: 3,
        cout,
        weight: &lw,
        bias: &bias,
    };
    let lgr = net::lift_backward(&d, &field, lg_grid, &dyl);
    worst.push((
        "lift field",
        check_vector(&|v| lift(&lw, v), &field, &lgr.dx, 10),
    ));
    worst.push((
        "lift weight",
        check_vector(&|v| lift(v, &field), &lw, &lgr.dweight, 11),
    ));

    for (name, e) in &worst {
        println!("{name}: {e:.2e}");
        assert!(*e <= TOL, "{name}: relative error {e:.3e}");
    }
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

#[test]
fn erf_gelu_silu_known_values() {
    // math.erf / libm values; 2.5 and 3.5 sit on both sides of the switch
    // from the series to the continued fraction.
    let erf = [
        (0.5, 0.520_499_877_813_046_5),
        (1.0, 0.842_700_792_949_714_9),
        (2.0, 0.995_322_265_018_952_7),
        (3.0, 0.999_977_909_503_001_4),
        (0.1, 0.112_462_916_018_284_9),
        (2.5, 0.999_593_047_982_555),
        (2.9999, 0.999_977_895_573_517_8),
        (3.5, 0.999_999_256_901_627_6),
        (5.0, 0.999_999_999_998_462_6),
        (-1.5, -0.966_105_146_475_310_8),
        (1e-10, 1.128_379_167_095_512_6e-10),
    ];
    for (x, want) in erf {
        let got = net::erf(x);
        assert!(
            (got - want).abs() <= 2e-15 * want.abs(),
            "erf({x}) = {got}, want {want}"
        );
    }
    assert_eq!(net::erf(0.0), 0.0);
    assert_eq!(net::erf(40.0), 1.0);
    assert_eq!(net::erf(-40.0), -1.0);
    // 0.5 x (1 + erf(x/√2)) from math.erf.
    let gelu = [
        (1.0, 0.841_344_746_068_542_9),
        (-1.0, -0.158_655_253_931_457_07),
        (0.5, 0.345_731_230_637_006_56),
        (-3.0, -0.004_049_694_094_890_31),
        (2.0, 1.954_499_736_103_641_6),
    ];
    for (x, want) in gelu {
        let got = net::gelu_scalar(x);
        assert!(
            (got - want).abs() <= 1e-15,
            "gelu({x}) = {got}, want {want}"
        );
    }
    for (x, want) in [
        (1.0, 0.731_058_578_630_004_9),
        (-2.0, -0.238_405_844_044_235_1),
    ] {
        let got = net::silu_scalar(x);
        assert!(
            (got - want).abs() <= 1e-15,
            "silu({x}) = {got}, want {want}"
        );
    }
}

#[test]
fn sigma_schedule() {
    assert_eq!(net::sigma(0.0), 0.0);
    // sqrt((26² − 1) / (2 ln 26)) from Python.
    let want = 10.177_823_480_252_078;
    assert!((net::sigma(1.0) - want).abs() <= 1e-14 * want);
    // Small t: σ² ≈ t (d σ²/dt = 26^{2t} = 1 at t = 0).
    let t = 1e-9;
    assert!((net::sigma(t).powi(2) / t - 1.0).abs() < 1e-8);
}

/// A real field band-limited to `|ky|, |kx| < m`, sampled on `n × n`
/// points `(i/n, j/n)` of the unit square, `c` channels.
fn band_limited(n: usize, m: usize, c: usize, seed: u64) -> Vec<f64> {
    let coef = data(seed, c * (2 * m - 1) * m * 2);
    let mut v = vec![0.0; c * n * n];
    for ch in 0..c {
        for i in 0..n {
            for j in 0..n {
                let (y, x) = (i as f64 / n as f64, j as f64 / n as f64);
                let mut acc = 0.0;
                let mut k = ch * (2 * m - 1) * m * 2;
                for ky in -(m as i64 - 1)..m as i64 {
                    for kx in 0..m {
                        let th = 2.0 * std::f64::consts::PI * (ky as f64 * y + kx as f64 * x);
                        acc += coef[k] * th.cos() + coef[k + 1] * th.sin();
                        k += 2;
                    }
                }
                v[(ch * n + i) * n + j] = acc;
            }
        }
    }
    v
}

#[test]
fn spectral_conv_is_resolution_invariant() {
    let (cin, cout, m) = (2, 3, 3);
    let wp = data(70, cin * cout * m * m * 2);
    let wn = data(71, cin * cout * m * m * 2);
    let s = Spectral {
        cin,
        cout,
        modes: m,
        w_pos: &wp,
        w_neg: &wn,
    };
    let outs: Vec<(usize, Vec<f64>)> = [8, 16, 32]
        .into_iter()
        .map(|n| {
            let g = Grid {
                batch: 1,
                h: n,
                w: n,
            };
            (n, net::spectral_conv(&s, &band_limited(n, m, cin, 72), g))
        })
        .collect();
    let (_, coarse) = &outs[0];
    let scale = crate::max_abs(coarse);
    assert!(scale > 0.1, "a non-trivial output");
    for (n, fine) in &outs[1..] {
        let r = n / 8;
        let mut err = 0f64;
        for o in 0..cout {
            for i in 0..8 {
                for j in 0..8 {
                    let a = coarse[(o * 8 + i) * 8 + j];
                    let b = fine[(o * n + i * r) * n + j * r];
                    err = err.max((a - b).abs());
                }
            }
        }
        println!(
            "n = {n}: max |difference| at the shared points {:.2e}",
            err / scale
        );
        assert!(err <= 1e-12 * scale, "n = {n}: {err:e}");
    }
}

#[test]
fn spectral_conv_keeps_exactly_the_defined_bins() {
    // n = 8, m = 3: rows 0..3 (w_pos) and 5..8 (w_neg, ky' = ky − 5), columns
    // 0..3 of the half spectrum.
    let (m, n) = (3, 8);
    let wp = data(73, m * m * 2);
    let wn = data(74, m * m * 2);
    let s = Spectral {
        cin: 1,
        cout: 1,
        modes: m,
        w_pos: &wp,
        w_neg: &wn,
    };
    let g = Grid {
        batch: 1,
        h: n,
        w: n,
    };
    let wave = |ky: usize, kx: usize| -> Vec<f64> {
        (0..n * n)
            .map(|k| {
                let (i, j) = ((k / n) as f64, (k % n) as f64);
                (2.0 * std::f64::consts::PI * (ky as f64 * i + kx as f64 * j) / n as f64).cos()
            })
            .collect()
    };
    // Row 4 (= −4) and column 3 are dropped.
    for (ky, kx) in [(4, 0), (0, 3), (4, 1), (1, 3)] {
        let y = net::spectral_conv(&s, &wave(ky, kx), g);
        assert!(y.iter().all(|v| v.abs() < 1e-13), "({ky}, {kx}): {y:?}");
    }
    // cos(2π·3 i/8) has the bins ky = 3 (dropped: w_pos covers 0..3) and
    // ky = 5 ≡ −3 (kept, ky' = 0), both 32 = n²/2 in column 0; irfft2 of
    // O[5, 0] = 32 w keeps the real part after the inverse along y:
    // y[i, j] = Re(w e^{2πi·5i/8}) / 2.
    let w = rustfft::num_complex::Complex64::new(wn[0], wn[1]);
    let y = net::spectral_conv(&s, &wave(3, 0), g);
    for i in 0..n {
        let th = 2.0 * std::f64::consts::PI * 5.0 * i as f64 / n as f64;
        let want = 0.5 * (w * rustfft::num_complex::Complex64::from_polar(1.0, th)).re;
        for j in 0..n {
            assert!((y[i * n + j] - want).abs() < 1e-14, "({i}, {j})");
        }
    }
}

#[test]
fn bicubic_identity_and_known_values() {
    // Same size with align_corners: the taps are (0, 1, 0, 0), bit-exact.
    let x = data(80, 2 * 8 * 8);
    assert_eq!(net::bicubic(&x, 2, (8, 8), (8, 8)), x);
    // Constants are reproduced (partition of unity with clamped taps).
    let c = net::bicubic(&[0.75; 16], 1, (4, 4), (13, 7));
    assert!(c.iter().all(|v| (v - 0.75).abs() < 1e-15));
    // A delta at (1, 1) of a 4×4 grid resized to 7×7 (source step 1/2):
    // Keys' kernel with A = −0.75 at 1/2 is 0.59375 and at 3/2 is −0.09375,
    // and the clamp at the upper border folds tap 4 onto tap 3 (value 0):
    // PyTorch gives the profile [0, 0.59375, 1, 0.59375, 0, −0.09375, 0]
    // along each axis.
    let mut delta = vec![0.0; 16];
    delta[4 + 1] = 1.0;
    let y = net::bicubic(&delta, 1, (4, 4), (7, 7));
    let p = [0.0, 0.59375, 1.0, 0.59375, 0.0, -0.09375, 0.0];
    for i in 0..7 {
        for j in 0..7 {
            assert!((y[i * 7 + j] - p[i] * p[j]).abs() < 1e-15, "({i}, {j})");
        }
    }
    // The lower border: a delta at 0 puts Keys' weights of both folded taps
    // together: at 1/2, taps (−1, 0, 1, 2) → (0, 0, 1, 2):
    // −0.09375 + 0.59375 = 0.5.
    let taps = net::bicubic_taps(4, 7, 1);
    let w0: f64 = taps.iter().filter(|t| t.0 == 0).map(|t| t.1).sum();
    assert!((w0 - 0.5).abs() < 1e-15);
    // Corners map onto corners.
    let z = net::bicubic(&x[..64], 1, (8, 8), (29, 29));
    assert_eq!(z[0], x[0]);
    assert_eq!(z[29 * 29 - 1], x[63]);
}

#[test]
fn lifting_grid_channels() {
    let g = Grid {
        batch: 2,
        h: 4,
        w: 8,
    };
    let field = data(90, g.batch * g.hw());
    let v = net::lift_input(&field, g);
    let hw = g.hw();
    for b in 0..g.batch {
        let ch = |c: usize, i: usize, j: usize| v[((3 * b + c) * g.h + i) * g.w + j];
        for i in 0..g.h {
            for j in 0..g.w {
                assert_eq!(ch(0, i, j), field[b * hw + i * g.w + j]);
                // g_y follows the rows (first axis), g_x the columns.
                assert_eq!(ch(1, i, j), i as f64 / 3.0);
                assert_eq!(ch(2, i, j), j as f64 / 7.0);
            }
        }
        assert_eq!((ch(1, 0, 0), ch(2, 0, 0)), (0.0, 0.0));
        assert_eq!((ch(1, 3, 7), ch(2, 3, 7)), (1.0, 1.0));
        assert_eq!((ch(1, 3, 0), ch(2, 0, 7)), (1.0, 1.0));
    }
    // A one-point axis has the coordinate 0.
    assert_eq!(net::grid_coord(0, 1), 0.0);
}

#[test]
fn init_params_layout() {
    let cfg = small_cfg(true, true);
    let p = net::init_params(&cfg, 5);
    assert_eq!(p, net::init_params(&cfg, 5), "deterministic");
    assert_eq!(p.len(), cfg.flat_len());
    for s in cfg.params() {
        let t = &p[s.offset..s.offset + s.len()];
        let bound = if s.name == "t_feat.W" {
            f64::INFINITY
        } else if s.name.ends_with(".w_pos") || s.name.ends_with(".w_neg") {
            assert!(t.iter().all(|&v| v >= 0.0), "{}", s.name);
            1.0 / (s.shape[0] * s.shape[1]) as f64
        } else {
            let stem = s.name.rsplit_once('.').unwrap().0;
            let w = cfg
                .params()
                .into_iter()
                .find(|q| q.name == format!("{stem}.weight"))
                .unwrap();
            1.0 / (w.shape[1..].iter().product::<usize>() as f64).sqrt()
        };
        assert!(t.iter().all(|v| v.abs() <= bound), "{}", s.name);
        assert!(t.iter().any(|&v| v != 0.0), "{}", s.name);
    }
    let w = &cfg.params()[0];
    let freqs = &p[w.offset..w.offset + w.len()];
    let rms = (freqs.iter().map(|v| v * v).sum::<f64>() / freqs.len() as f64).sqrt();
    assert!(rms > 5.0 && rms < 100.0, "t_feat.W ~ N(0, 30²): rms {rms}");
}
