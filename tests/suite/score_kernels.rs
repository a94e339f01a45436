//! Score-network kernels against the f64 reference (`src/reference/score.rs`):
//! pointwise linear layers (forward with every epilogue, input and weight
//! gradients, GELU backward) and the spectral convolution as truncated
//! DFTs (forward, input and weight gradients), on channel slices of wider
//! tensors, non-square grids and channel counts that are not multiples of
//! the register tiles.
//!
//! Tolerances: f32 sums of `k` terms are off by at most about `k u Σ|terms|`
//! (u = 6e-8) in the worst case and `√k u` typically; each test states its
//! `k`. A wrong index, sign, conjugate or scale is off by O(1).

use diffclosure::gpu::{DType, Tensor};
use diffclosure::score::linear::{
    record_activation_backward, Act, Activation, Broadcast, Epilogue, Linear,
};
use diffclosure::score::spectral_conv::{Method, Scratch, SpectralConv, Twiddles};

use crate::reference::score as cpu;
use crate::{gpu, test_data};

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// `[B, C, P]` values of the channel slice `c0..c0+c` of a `[B, ctot, P]`
/// tensor's data.
fn slice(data: &[f32], b: usize, ctot: usize, p: usize, c0: usize, c: usize) -> Vec<f64> {
    (0..b)
        .flat_map(|bi| data[(bi * ctot + c0) * p..(bi * ctot + c0 + c) * p].iter())
        .map(|&x| f64::from(x))
        .collect()
}

/// Max |got − want| over max |want|.
fn rel_err(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0f64, |a, v| a.max(v.abs())).max(1e-30);
    got.iter()
        .zip(want)
        .fold(0f64, |a, (x, y)| a.max((x - y).abs()))
        / scale
}

/// Checks every parameter tensor's gradient: `|got − want| ≤ 2e-5 ·
/// max(the tensor's max, floor × the largest gradient)` for trainable ones
/// (callers say why their floor), exactly 0 for fixed ones. Returns the
/// worst ratio and its tensor.
pub(crate) fn assert_gradients(
    tag: &str,
    specs: &[diffclosure::score::ParamSpec],
    got: &[f32],
    want: &[f64],
    floor: f64,
) -> (f64, String) {
    let global = want.iter().fold(0f64, |a, v| a.max(v.abs()));
    let mut worst = (0.0, String::new());
    for spec in specs {
        let r = spec.offset..spec.offset + spec.len();
        let own = want[r.clone()].iter().fold(0f64, |a, v| a.max(v.abs()));
        let err = got[r.clone()]
            .iter()
            .zip(&want[r])
            .fold(0f64, |a, (x, y)| a.max((f64::from(*x) - y).abs()));
        let e = err / own.max(floor * global);
        if e > worst.0 {
            worst = (e, spec.name.clone());
        }
        if spec.trainable {
            assert!(
                e < 2e-5,
                "{tag}: gradient of {} off by {e:.2e} (max {own:.2e}, largest gradient {global:.2e})",
                spec.name
            );
        } else {
            assert!(
                err == 0.0,
                "{tag}: {} is fixed, its gradient must stay 0",
                spec.name
            );
        }
    }
    worst
}

/// A flat parameter vector with a linear layer at offsets 64 (weight) and
/// a multiple of 64 after it (bias), other entries garbage (must be unused).
fn linear_params(cin: usize, cout: usize, seed: u64) -> (Linear, Vec<f32>) {
    let w_off = 64;
    let b_off = (w_off + cin * cout).div_ceil(64) * 64;
    let mut flat = test_data(seed, b_off + 64 + cout);
    for v in &mut flat[w_off..w_off + cin * cout] {
        *v *= 0.5;
    }
    (
        Linear {
            cin,
            cout,
            w_off,
            b_off,
        },
        flat,
    )
}

/// Forward with add, temb, GELU and the pre-activation kept, reading and
/// writing channel slices: 11 outputs (not a multiple of the 8-channel
/// tile), 5 inputs. k = cin + 2 = 7 terms per output, plus the erf
/// approximation (|Δerf| ≤ 1.5e-7, so |ΔGELU| ≤ 1e-7 |z|): 2e-6 of max|z|.
#[test]
fn linear_forward_matches_reference() {
    for act in [Activation::Gelu, Activation::Silu, Activation::Identity] {
        linear_forward_case(act);
    }
}

fn apply(act: Activation, z: &[f64]) -> Vec<f64> {
    match act {
        Activation::Gelu => cpu::gelu(z),
        Activation::Silu => cpu::silu(z),
        Activation::Identity => z.to_vec(),
    }
}

fn linear_forward_case(act: Activation) {
    let g = gpu();
    let (b, h, w, cin, cout) = (2, 8, 8, 5, 11);
    let p = h * w;
    let (layer, flat) = linear_params(cin, cout, 1);
    let params = Tensor::from_f32(g, &[flat.len()], DType::F32, &flat).unwrap();
    let (xt, ot) = (9, 13);
    let x_data = test_data(2, b * xt * p);
    let add_data = test_data(3, b * cout * p);
    // The broadcast term as the time MLP lays it out: [C, Bp], Bp = 4 > B.
    let temb_data = test_data(4, (cout + 1) * 4);
    let x = Tensor::from_f32(g, &[b, xt, h, w], DType::F32, &x_data).unwrap();
    let add = Tensor::from_f32(g, &[b, cout, h, w], DType::F32, &add_data).unwrap();
    let temb = Tensor::from_f32(g, &[cout + 1, 4], DType::F32, &temb_data).unwrap();
    let out = Tensor::zeros(g, &[b, ot, h, w], DType::F32).unwrap();
    let pre = Tensor::zeros(g, &[b, ot, h, w], DType::F32).unwrap();
    let mut enc = g.encoder("linear");
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        layer
            .record_forward(
                g,
                &mut pass,
                &params,
                Act::slice(&x, 2, cin),
                Act::slice(&out, 1, cout),
                Epilogue {
                    add: Some(Act::all(&add)),
                    temb: Some(Broadcast { tensor: &temb }),
                    activation: act,
                    pre: Some(Act::slice(&pre, 1, cout)),
                },
            )
            .unwrap();
        let short = Act::slice(&x, 2, cin - 1);
        assert!(
            layer
                .record_forward(
                    g,
                    &mut pass,
                    &params,
                    short,
                    Act::slice(&out, 1, cout),
                    Epilogue::default()
                )
                .is_err(),
            "wrong input channels must be refused"
        );
    }
    g.submit(enc);
    let wf = f64s(&flat);
    let dense = cpu::Dense {
        cin,
        cout,
        weight: &wf[layer.w_off..layer.w_off + cin * cout],
        bias: &wf[layer.b_off..layer.b_off + cout],
    };
    let mut z = cpu::linear(&dense, &slice(&x_data, b, xt, p, 2, cin), b, p);
    for (i, v) in z.iter_mut().enumerate() {
        let (bi, o) = (i / (cout * p), (i / p) % cout);
        *v += f64::from(add_data[i]) + f64::from(temb_data[o * 4 + bi]);
    }
    let got = g.read(&[&out, &pre]).unwrap();
    let e_pre = rel_err(&slice(&got[1], b, ot, p, 1, cout), &z);
    let e_out = rel_err(&slice(&got[0], b, ot, p, 1, cout), &apply(act, &z));
    assert!(
        e_pre < 2e-6 && e_out < 2e-6,
        "{act:?}: pre {e_pre:.2e}, out {e_out:.2e}"
    );
    // Channels outside the slice stay untouched (zero).
    assert!(
        got[0][..p].iter().all(|&v| v == 0.0),
        "channel 0 was written"
    );
}

/// Backward: dx = Wᵀ dz (k = cout = 11 terms), dW and dbias summed over
/// B·P = 3·1024 points in 4 chunks per sample (k ≈ 256/4 + 4 + 12 = 80
/// sequential terms: ≤ 80 u ≈ 5e-6 of Σ|terms|; asserted 1e-5 of the
/// gradient's max, whose Σ|terms| is within 3× of it for these random
/// data), accumulated onto existing gradients; GELU backward elementwise
/// (1e-6: one product and the erf approximation).
#[test]
fn linear_backward_matches_reference() {
    let g = gpu();
    let (b, h, w, cin, cout) = (3, 32, 32, 6, 11);
    let p = h * w;
    let (layer, flat) = linear_params(cin, cout, 5);
    let params = Tensor::from_f32(g, &[flat.len()], DType::F32, &flat).unwrap();
    let x_data = test_data(6, b * cin * p);
    let dout_data = test_data(7, b * cout * p);
    let pre_data = test_data(8, b * cout * p);
    let grads0 = test_data(9, flat.len());
    let x = Tensor::from_f32(g, &[b, cin, h, w], DType::F32, &x_data).unwrap();
    let dout = Tensor::from_f32(g, &[b, cout, h, w], DType::F32, &dout_data).unwrap();
    let pre = Tensor::from_f32(g, &[b, cout, h, w], DType::F32, &pre_data).unwrap();
    let dz = Tensor::zeros(g, &[b, cout, h, w], DType::F32).unwrap();
    let dx = Tensor::zeros(g, &[b, cin, h, w], DType::F32).unwrap();
    let grads = Tensor::from_f32(g, &[flat.len()], DType::F32, &grads0).unwrap();
    let partial = Tensor::zeros(g, &[layer.partial_len(b, p)], DType::F32).unwrap();
    let mut enc = g.encoder("linear backward");
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        record_activation_backward(
            g,
            &mut pass,
            Activation::Gelu,
            Act::all(&dout),
            Act::all(&pre),
            Act::all(&dz),
        )
        .unwrap();
        layer
            .record_input_grad(g, &mut pass, &params, Act::all(&dz), Act::all(&dx))
            .unwrap();
        layer
            .record_weight_grad(
                g,
                &mut pass,
                Act::all(&dz),
                Act::all(&x),
                &grads,
                &partial,
                true,
            )
            .unwrap();
    }
    g.submit(enc);
    let got = g.read(&[&dz, &dx, &grads]).unwrap();
    let dz_ref = cpu::gelu_backward(&f64s(&pre_data), &f64s(&dout_data));
    let e_dz = rel_err(&f64s(&got[0]), &dz_ref);
    assert!(e_dz < 1e-6, "GELU backward {e_dz:.2e}");
    let mut enc = g.encoder("silu backward");
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        let (d, z) = (Act::all(&dout), Act::all(&pre));
        record_activation_backward(g, &mut pass, Activation::Silu, d, z, Act::all(&dx))
            .unwrap_err();
        let scratch = Tensor::zeros(g, &[b, cout, h, w], DType::F32).unwrap();
        record_activation_backward(g, &mut pass, Activation::Silu, d, z, Act::all(&scratch))
            .unwrap();
        drop(pass);
        g.submit(enc);
        let silu = cpu::silu_backward(&f64s(&pre_data), &f64s(&dout_data));
        let e = rel_err(&f64s(&g.read_one(&scratch).unwrap()), &silu);
        assert!(e < 1e-6, "SiLU backward {e:.2e}");
    }
    let wf = f64s(&flat);
    let dense = cpu::Dense {
        cin,
        cout,
        weight: &wf[layer.w_off..layer.w_off + cin * cout],
        bias: &wf[layer.b_off..layer.b_off + cout],
    };
    // The reference from the GPU's dz, so that each kernel is judged alone.
    let r = cpu::linear_backward(&dense, &f64s(&x_data), b, p, &f64s(&got[0]));
    let e_dx = rel_err(&f64s(&got[1]), &r.dx);
    let acc = |off: usize, d: &[f64]| -> Vec<f64> {
        d.iter()
            .enumerate()
            .map(|(i, v)| v + f64::from(grads0[off + i]))
            .collect()
    };
    let gw = &got[2];
    let e_dw = rel_err(
        &f64s(&gw[layer.w_off..layer.w_off + cin * cout]),
        &acc(layer.w_off, &r.dweight),
    );
    let e_db = rel_err(
        &f64s(&gw[layer.b_off..layer.b_off + cout]),
        &acc(layer.b_off, &r.dbias),
    );
    assert!(e_dx < 2e-6, "dx {e_dx:.2e}");
    assert!(
        e_dw < 1e-5 && e_db < 1e-5,
        "dW {e_dw:.2e}, dbias {e_db:.2e}"
    );
    // Entries of other tensors are untouched.
    assert_eq!(gw[..layer.w_off], grads0[..layer.w_off]);
}

/// A spectral layer at offsets 0 (w_pos) and a multiple of 64 (w_neg).
fn spectral_params(cin: usize, cout: usize, m: usize, seed: u64) -> (SpectralConv, Vec<f32>) {
    let len = cin * cout * m * m * 2;
    let w_neg = len.div_ceil(64) * 64;
    let flat = test_data(seed, w_neg + len);
    (
        SpectralConv {
            cin,
            cout,
            modes: m,
            w_pos: 0,
            w_neg,
        },
        flat,
    )
}

/// Forward and backward of the spectral convolution on a square 32² grid
/// with 8 modes and a non-square 16×8 grid with 3 modes (rows and columns
/// must not be confused), channel slices in and out, gradients accumulated.
/// Each output is a DFT over H·W points and a mix over cin channels:
/// k ≈ H + W + 2m + cin sequential terms (≤ 100 here) with tabulated f64
/// twiddles, so √k u ≈ 6e-7 typically; measured 1–3e-7 of the output's
/// max, asserted 3e-6 (the worst-case k u = 6e-6 for terms of the output's
/// size would let a dropped mode of 1e-5 weight through, nothing larger).
#[test]
fn spectral_conv_matches_reference() {
    let g = gpu();
    // The FFT route needs cin = cout (else the DFTs run): (32², 3 → 3).
    let shapes = [
        (32, 32, 8, 3, 4),
        (16, 8, 3, 2, 3),
        (32, 32, 8, 3, 3),
        (16, 8, 3, 2, 2),
    ];
    for ((h, w, m, cin, cout), method) in shapes
        .into_iter()
        .flat_map(|s| [(s, Method::Dft), (s, Method::Fft)])
    {
        let b = 2;
        let p = h * w;
        let (layer, flat) = spectral_params(cin, cout, m, 11);
        let params = Tensor::from_f32(g, &[flat.len()], DType::F32, &flat).unwrap();
        let (xt, ot) = (cin + 2, cout + 1);
        let x_data = test_data(12, b * xt * p);
        let dout_data = test_data(13, b * ot * p);
        let dx0 = test_data(14, b * xt * p);
        let grads0 = test_data(15, flat.len());
        let x = Tensor::from_f32(g, &[b, xt, h, w], DType::F32, &x_data).unwrap();
        let out = Tensor::zeros(g, &[b, ot, h, w], DType::F32).unwrap();
        let dout = Tensor::from_f32(g, &[b, ot, h, w], DType::F32, &dout_data).unwrap();
        let dx = Tensor::from_f32(g, &[b, xt, h, w], DType::F32, &dx0).unwrap();
        let grads = Tensor::from_f32(g, &[flat.len()], DType::F32, &grads0).unwrap();
        let spectrum = Tensor::zeros(g, &layer.spectrum_shape(b), DType::C32).unwrap();
        let tw = Twiddles::new(g, h, w).unwrap();
        let scratch = Scratch::new(g, b, cin.max(cout), (h, w), m, method).unwrap();
        let (xs, os) = (Act::slice(&x, 1, cin), Act::slice(&out, 1, cout));
        let mut enc = g.encoder("spectral conv");
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            layer
                .record_forward(g, &mut pass, &params, &tw, xs, &spectrum, os, &scratch)
                .unwrap();
            layer
                .record_backward(
                    g,
                    &mut pass,
                    &params,
                    &tw,
                    Act::slice(&dout, 1, cout),
                    &spectrum,
                    xs,
                    &grads,
                    false,
                    true,
                    &scratch,
                )
                .unwrap();
            layer
                .record_backward(
                    g,
                    &mut pass,
                    &params,
                    &tw,
                    Act::slice(&dout, 1, cout),
                    &spectrum,
                    Act::slice(&dx, 1, cin),
                    &grads,
                    true,
                    false,
                    &scratch,
                )
                .unwrap();
        }
        g.submit(enc);
        let wf = f64s(&flat);
        let len = cin * cout * m * m * 2;
        let sp = cpu::Spectral {
            cin,
            cout,
            modes: m,
            w_pos: &wf[..len],
            w_neg: &wf[layer.w_neg..layer.w_neg + len],
        };
        let grid = cpu::Grid { batch: b, h, w };
        let x_in = slice(&x_data, b, xt, p, 1, cin);
        let want = cpu::spectral_conv(&sp, &x_in, grid);
        let r =
            cpu::spectral_conv_backward(&sp, &x_in, grid, &slice(&dout_data, b, ot, p, 1, cout));
        let got = g.read(&[&out, &x, &dx, &grads]).unwrap();
        let tag = format!("{h}x{w}, {m} modes, {cin}->{cout}, {method}");
        let e = rel_err(&slice(&got[0], b, ot, p, 1, cout), &want);
        assert!(e < 3e-6, "{tag}: forward {e:.2e}");
        // The first backward overwrote x's slice with dx (not accumulated),
        // the second added dx to dx0; the weights were accumulated once
        // (second call overwrote with the plain gradient).
        let e_dx = rel_err(&slice(&got[1], b, xt, p, 1, cin), &r.dx);
        let dx_acc: Vec<f64> =
            r.dx.iter()
                .zip(slice(&dx0, b, xt, p, 1, cin))
                .map(|(a, b)| a + b)
                .collect();
        let e_acc = rel_err(&slice(&got[2], b, xt, p, 1, cin), &dx_acc);
        let e_wp = rel_err(&f64s(&got[3][..len]), &r.dw_pos);
        let e_wn = rel_err(&f64s(&got[3][layer.w_neg..layer.w_neg + len]), &r.dw_neg);
        eprintln!(
            "{tag}: forward {e:.1e}, dx {e_dx:.1e}, dx acc {e_acc:.1e}, dw {e_wp:.1e}/{e_wn:.1e}"
        );
        assert!(
            e_dx < 3e-6 && e_acc < 3e-6,
            "{tag}: dx {e_dx:.2e}, accumulated {e_acc:.2e}"
        );
        assert!(
            e_wp < 3e-6 && e_wn < 3e-6,
            "{tag}: dw_pos {e_wp:.2e}, dw_neg {e_wn:.2e}"
        );
        // Channels outside the slices untouched.
        assert_eq!(got[2][..p], dx0[..p], "{tag}: dx channel 0 was written");
    }
}

/// The whole network on the GPU against the f64 reference: `out` (= score ·
/// σ(t)) and every parameter tensor's gradient, and the gradients of the
/// inputs x, ω and s, with every pipeline on and each ablation, at 32² and
/// 64². The params are the reference's init (spectral weights U(0,1)/c²,
/// time frequencies ~ N(0, 30²)).
///
/// Tolerances: `out` 5e-6 of its max (measured ≤ 6e-7: ~20 layers, each
/// adding the ≤ 3e-7 of the kernel tests above, and the f32 phase of t·W,
/// |t W| u ≈ 2e-6 cycles). Gradients 2e-5 of max(the tensor's max, 1e-6 ×
/// the largest gradient of the network): f32 sums are exact to ~1e-6 of
/// the largest terms flowing through a layer, and some tensors' gradients
/// are far below that (the sparse pipeline's high negative modes: 1e-7 of
/// the largest; 9e-5 of their own max, i.e. 1e-11 absolute). Measured
/// ≤ 5e-6 with that floor. A wrong gradient is off by its own size; the
/// fixed time frequencies must get exactly 0.
#[test]
fn score_network_matches_reference() {
    use diffclosure::score::model::ScoreFno;
    use diffclosure::score::ScoreConfig;
    let g = gpu();
    let base = ScoreConfig {
        width: 4,
        modes: 4,
        layers: 2,
        embed_dim: 8,
        fc_hidden: 8,
        vorticity: true,
        sparse: true,
    };
    let cases = [
        (base.clone(), 32),
        (
            ScoreConfig {
                vorticity: false,
                ..base.clone()
            },
            32,
        ),
        (
            ScoreConfig {
                sparse: false,
                ..base.clone()
            },
            32,
        ),
        (base.clone(), 64),
        (
            ScoreConfig {
                vorticity: false,
                ..base.clone()
            },
            64,
        ),
        (
            ScoreConfig {
                sparse: false,
                ..base.clone()
            },
            64,
        ),
    ];
    for ((cfg, n), method) in cases
        .into_iter()
        .flat_map(|c| [(c.clone(), Method::Dft), (c, Method::Fft)])
    {
        let (b, s) = (2, 5);
        let model = ScoreFno::new(&cfg).unwrap();
        let params64 = cpu::init_params(&cfg, 21);
        let params32: Vec<f32> = params64.iter().map(|&v| v as f32).collect();
        // The reference runs on the f32-rounded parameters and inputs.
        let params64 = f64s(&params32);
        let x = test_data(22, b * n * n);
        let w = test_data(23, b * n * n);
        let sv = test_data(24, b * s * s);
        let t = vec![0.05f32, 0.7];
        let dy = test_data(25, b * n * n);
        let inp = cpu::Inputs {
            batch: b,
            n,
            s_res: s,
            x: f64s(&x),
            w: f64s(&w),
            s: f64s(&sv),
            t: f64s(&t),
        };
        let fwd = cpu::forward(&cfg, &params64, &inp);
        let d_score: Vec<f64> = dy
            .iter()
            .enumerate()
            .map(|(i, &d)| f64::from(d) * fwd.sigma[i / (n * n)])
            .collect();
        let want = cpu::backward(&cfg, &params64, &inp, &fwd, &d_score);

        let ws = model.workspace(g, b, n, s, Method::Dft).unwrap();
        for (tensor, data) in [
            (&ws.x, &x),
            (&ws.w, &w),
            (&ws.s, &sv),
            (&ws.t, &t),
            (&ws.d_out, &dy),
        ] {
            tensor.write(g, data).unwrap();
        }
        let params = Tensor::from_f32(g, &[params32.len()], DType::F32, &params32).unwrap();
        let grads = Tensor::zeros(g, &[params32.len()], DType::F32).unwrap();
        let mut enc = g.encoder("score");
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            model.record_forward(g, &mut pass, &params, &ws).unwrap();
            model
                .record_backward(g, &mut pass, &params, &ws, &grads, false)
                .unwrap();
        }
        g.submit(enc);
        let tag = format!(
            "{n}², vorticity {}, sparse {}, {method}",
            cfg.vorticity, cfg.sparse
        );
        let out = f64s(&g.read_one(&ws.out).unwrap());
        let e = rel_err(&out, &fwd.out);
        assert!(e < 5e-6, "{tag}: out {e:.2e}");
        let gp = g.read_one(&grads).unwrap();
        let worst = assert_gradients(&tag, model.params(), &gp, &want.params, 1e-6);
        // Input gradients: channel 0 of each lifting input's gradient.
        let inputs: Vec<(&str, &Vec<f64>, usize)> = [("x", &want.x, n * n)]
            .into_iter()
            .chain(cfg.vorticity.then_some(("w", &want.w, n * n)))
            .chain(cfg.sparse.then_some(("s", &want.s, s * s)))
            .collect();
        for ((name, want, pts), d) in inputs.into_iter().zip(ws.input_grads()) {
            let all = g.read_one(d).unwrap();
            let p_pad = d.shape[2];
            let got: Vec<f64> = (0..b)
                .flat_map(|bi| all[bi * 3 * p_pad..bi * 3 * p_pad + pts].iter())
                .map(|&v| f64::from(v))
                .collect();
            let e = rel_err(&got, want);
            assert!(e < 2e-5, "{tag}: gradient of input {name} off by {e:.2e}");
        }
        eprintln!(
            "{tag}: out {e:.1e}, worst parameter gradient {:.1e} ({})",
            worst.0, worst.1
        );
    }
}

/// Bicubic upsampling of padded sensor grids (5×5 → 32×32 and 16×16 →
/// 64×64, PyTorch's align_corners=True) and its transpose against the
/// reference; the backward adds to what is there when asked and never
/// writes the padding points. Each output is a 16-tap sum (1e-6).
#[test]
fn bicubic_matches_reference() {
    use diffclosure::score::bicubic::Bicubic;
    let g = gpu();
    for (s, n) in [(5usize, 32usize), (16, 64)] {
        let (b, c) = (2, 3);
        let ps = (s * s).div_ceil(4) * 4;
        let mut small = test_data(71, b * c * ps);
        for (i, v) in small.iter_mut().enumerate() {
            if i % ps >= s * s {
                *v = f32::NAN; // padding: must never be read
            }
        }
        let dout = test_data(72, b * c * n * n);
        let d0 = test_data(73, b * c * ps);
        let st = Tensor::from_f32(g, &[b, c, ps], DType::F32, &small).unwrap();
        let big = Tensor::zeros(g, &[b, c, n, n], DType::F32).unwrap();
        let dt = Tensor::from_f32(g, &[b, c, n, n], DType::F32, &dout).unwrap();
        let ds = Tensor::from_f32(g, &[b, c, ps], DType::F32, &d0).unwrap();
        let bi = Bicubic::new(g, b, c, s, n, n).unwrap();
        let mut enc = g.encoder("bicubic");
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            bi.record_forward(g, &mut pass, Act::all(&st), Act::all(&big))
                .unwrap();
            bi.record_backward(g, &mut pass, Act::all(&dt), Act::all(&ds), true)
                .unwrap();
        }
        g.submit(enc);
        let unpad = |v: &[f32]| -> Vec<f64> {
            v.chunks_exact(ps)
                .flat_map(|p| p[..s * s].iter())
                .map(|&x| f64::from(x))
                .collect()
        };
        let want = cpu::bicubic(&unpad(&small), b * c, (s, s), (n, n));
        let got = g.read(&[&big, &ds]).unwrap();
        let e = rel_err(&f64s(&got[0]), &want);
        assert!(e < 1e-6, "{s}->{n} forward {e:.2e}");
        let back = cpu::bicubic_backward(&f64s(&dout), b * c, (s, s), (n, n));
        let acc: Vec<f64> = back.iter().zip(unpad(&d0)).map(|(a, b)| a + b).collect();
        let e = rel_err(&unpad(&got[1]), &acc);
        assert!(e < 1e-6, "{s}->{n} backward {e:.2e}");
        for (i, (x, y)) in got[1].iter().zip(&d0).enumerate() {
            if i % ps >= s * s {
                assert_eq!(x.to_bits(), y.to_bits(), "padding {i} written");
            }
        }
    }
}

/// Resolution invariance (science.md §6): the same spectral weights on
/// 64², 128² and 256² map a field band-limited to the kept modes to the
/// same values at the shared points (f32: 1e-5 of the max, the DFT bound
/// at 256² with k ≈ 512 terms), and one checkpoint's network evaluates on
/// all three grids (finite outputs).
#[test]
fn weights_are_resolution_invariant() {
    use diffclosure::score::model::ScoreFno;
    use diffclosure::score::ScoreConfig;
    let g = gpu();
    let (m, cin, cout, b) = (4, 2, 3, 1);
    let (layer, flat) = spectral_params(cin, cout, m, 81);
    let params = Tensor::from_f32(g, &[flat.len()], DType::F32, &flat).unwrap();
    // ω = Σ over kept modes of random cosines/sines, |ky| < m, kx < m.
    let coef = test_data(82, cin * 4 * m * m);
    let field = |n: usize| -> Vec<f32> {
        let mut v = vec![0f32; cin * n * n];
        for c in 0..cin {
            for y in 0..n {
                for x in 0..n {
                    let mut s = 0f64;
                    for ky in 0..m {
                        for kx in 0..m {
                            let a =
                                2.0 * std::f64::consts::PI * (ky * y + kx * x) as f64 / n as f64;
                            let k = ((c * m + ky) * m + kx) * 4;
                            s += f64::from(coef[k]) * a.cos() + f64::from(coef[k + 1]) * a.sin();
                            let a2 = 2.0 * std::f64::consts::PI * (kx * x) as f64 / n as f64
                                - 2.0 * std::f64::consts::PI * (ky * y) as f64 / n as f64;
                            s += f64::from(coef[k + 2]) * a2.cos()
                                + f64::from(coef[k + 3]) * a2.sin();
                        }
                    }
                    v[(c * n + y) * n + x] = s as f32;
                }
            }
        }
        v
    };
    let mut outs = Vec::new();
    for n in [64, 128, 256] {
        let x = Tensor::from_f32(g, &[b, cin, n, n], DType::F32, &field(n)).unwrap();
        let out = Tensor::zeros(g, &[b, cout, n, n], DType::F32).unwrap();
        let spectrum = Tensor::zeros(g, &layer.spectrum_shape(b), DType::C32).unwrap();
        let (tw, scratch) = (
            Twiddles::new(g, n, n).unwrap(),
            Scratch::new(g, b, cin.max(cout), (n, n), m, Method::Dft).unwrap(),
        );
        let mut enc = g.encoder("invariance");
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            layer
                .record_forward(
                    g,
                    &mut pass,
                    &params,
                    &tw,
                    Act::all(&x),
                    &spectrum,
                    Act::all(&out),
                    &scratch,
                )
                .unwrap();
        }
        g.submit(enc);
        let o = g.read_one(&out).unwrap();
        // Sample on the 64² points.
        let r = n / 64;
        outs.push(
            (0..cout * 64 * 64)
                .map(|i| {
                    let (c, y, x) = (i / 4096, (i / 64) % 64, i % 64);
                    f64::from(o[(c * n + y * r) * n + x * r])
                })
                .collect::<Vec<f64>>(),
        );
    }
    for (k, n) in [(1, 128), (2, 256)] {
        let e = rel_err(&outs[k], &outs[0]);
        assert!(e < 1e-5, "spectral layer at {n}² vs 64²: {e:.2e}");
    }
    // The whole network on the three grids from one parameter vector.
    let cfg = ScoreConfig {
        width: 4,
        modes: 8,
        layers: 2,
        embed_dim: 8,
        fc_hidden: 8,
        ..ScoreConfig::default()
    };
    let model = ScoreFno::new(&cfg).unwrap();
    let p = diffclosure::score::init::init_params(&cfg, 1);
    let pt = Tensor::from_f32(g, &[p.len()], DType::F32, &p).unwrap();
    for n in [64, 128, 256] {
        let ws = model.workspace(g, 1, n, 5, Method::Dft).unwrap();
        ws.x.write(g, &test_data(83, n * n)).unwrap();
        ws.w.write(g, &test_data(84, n * n)).unwrap();
        ws.s.write(g, &test_data(85, 25)).unwrap();
        ws.t.write(g, &[0.3]).unwrap();
        let mut enc = g.encoder("net");
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            model.record_forward(g, &mut pass, &pt, &ws).unwrap();
        }
        g.submit(enc);
        let y = g.read_one(&ws.out).unwrap();
        assert!(
            y.iter().all(|v| v.is_finite()) && y.iter().any(|&v| v != 0.0),
            "{n}²"
        );
    }
    assert!(
        model.workspace(g, 1, 8, 5, Method::Dft).is_err(),
        "8 modes need n >= 16"
    );
}

/// The network against the PyTorch baseline itself (not only our f64
/// reference written from the spec): `scripts/torch_crosscheck.py FILE`
/// saves the baseline's weights (by its `state_dict` names), inputs and
/// output; this runs the same on the GPU. Needs torch, so it is ignored by
/// default: `DIFFCLOSURE_TORCH_CHECK=FILE cargo test --test suite --
/// --ignored matches_pytorch_baseline`. Tolerance 1e-4 of max |out|: both
/// sides are f32 (PyTorch's FFTs vs our truncated DFTs, erf GELU both).
#[test]
#[ignore]
fn matches_pytorch_baseline() {
    use diffclosure::score::model::ScoreFno;
    use diffclosure::score::ScoreConfig;
    let path = std::path::PathBuf::from(
        std::env::var("DIFFCLOSURE_TORCH_CHECK").expect("DIFFCLOSURE_TORCH_CHECK=FILE"),
    );
    let f = diffclosure::data::io::read(&path).unwrap();
    let cfg = ScoreConfig::from_metadata(&f.metadata).unwrap();
    let model = ScoreFno::new(&cfg).unwrap();
    let mut flat = vec![0f32; cfg.flat_len()];
    for spec in model.params() {
        let t = f.get(&path, &spec.name).unwrap();
        assert_eq!(t.shape, spec.shape, "{}", spec.name);
        flat[spec.offset..spec.offset + spec.len()].copy_from_slice(&t.data);
    }
    let input = |k: &str| f.get(&path, &format!("input.{k}")).unwrap();
    let (b, n, s) = (
        input("x").shape[0],
        input("x").shape[1],
        input("s").shape[1],
    );
    let g = gpu();
    let ws = model.workspace(g, b, n, s, Method::Dft).unwrap();
    for (t, k) in [(&ws.x, "x"), (&ws.w, "w"), (&ws.s, "s"), (&ws.t, "t")] {
        t.write(g, &input(k).data).unwrap();
    }
    let p = Tensor::from_f32(g, &[flat.len()], DType::F32, &flat).unwrap();
    let mut enc = g.encoder("torch check");
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        model.record_forward(g, &mut pass, &p, &ws).unwrap();
    }
    g.submit(enc);
    let got = f64s(&g.read_one(&ws.out).unwrap());
    let want = f64s(&f.get(&path, "expected.out").unwrap().data);
    let e = rel_err(&got, &want);
    eprintln!("GPU vs PyTorch baseline: {e:.2e} of max |out|");
    assert!(e < 1e-4, "GPU vs PyTorch baseline: {e:.2e}");
}

/// Each route really runs its own kernels, forward and backward (the two
/// give the same numbers, so the reference tests alone cannot tell): the
/// dispatch labels of one forward + backward, on a device of this test's
/// own (the shared one's timer would see other tests' work).
#[test]
fn spectral_routes_run_their_own_kernels() {
    use diffclosure::gpu::{Gpu, GpuOptions};
    let g = Gpu::new(&GpuOptions::from_env().unwrap()).unwrap();
    let (b, n, m, c) = (1, 16, 3, 2);
    let (layer, flat) = spectral_params(c, c, m, 91);
    let params = Tensor::from_f32(&g, &[flat.len()], DType::F32, &flat).unwrap();
    let x = Tensor::from_f32(&g, &[b, c, n, n], DType::F32, &test_data(92, b * c * n * n)).unwrap();
    let y = Tensor::zeros(&g, &[b, c, n, n], DType::F32).unwrap();
    let grads = Tensor::zeros(&g, &[flat.len()], DType::F32).unwrap();
    let spectrum = Tensor::zeros(&g, &layer.spectrum_shape(b), DType::C32).unwrap();
    let tw = Twiddles::new(&g, n, n).unwrap();
    for method in [Method::Dft, Method::Fft] {
        let scratch = Scratch::new(&g, b, c, (n, n), m, method).unwrap();
        if !g.time_dispatches(256) {
            eprintln!("no timestamps inside passes on this adapter: skipped");
            return;
        }
        let mut enc = g.encoder("routes");
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            let (xa, ya) = (Act::all(&x), Act::all(&y));
            layer
                .record_forward(&g, &mut pass, &params, &tw, xa, &spectrum, ya, &scratch)
                .unwrap();
            layer
                .record_backward(
                    &g, &mut pass, &params, &tw, ya, &spectrum, xa, &grads, false, false, &scratch,
                )
                .unwrap();
        }
        g.submit(enc);
        let labels: Vec<String> = g
            .dispatch_times()
            .unwrap()
            .into_iter()
            .map(|(l, _)| l)
            .collect();
        let count = |entry: &str| {
            labels
                .iter()
                .filter(|l| l.contains(&format!("::{entry}[")))
                .count()
        };
        let (dft, fft) = (
            count("row_dft") + count("row_idft"),
            count("gather_modes") + count("scatter_modes"),
        );
        match method {
            Method::Dft => assert!(dft == 4 && fft == 0, "{labels:?}"),
            Method::Fft => assert!(dft == 0 && fft == 4, "{labels:?}"),
        }
    }
}
