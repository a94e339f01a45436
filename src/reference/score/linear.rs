//! The f64 reference of the pointwise linear layers and their activations
//! (`shaders/linear.wgsl`, `src/score/linear.rs`): `Linear` / 1×1 `Conv2d`,
//! exact GELU and SiLU, forward and backward, with the GPU-vs-reference
//! and finite-difference tests of the family.

use std::f64::consts::PI;

// ---------------------------------------------------------------------------
// Scalar functions: erf, GELU, SiLU, σ(t)
// ---------------------------------------------------------------------------

/// The error function, to ~1e-15 relative (a few ulp).
///
/// `|x| < 2.5`: `erf x = 2/√π e^{−x²} Σ_k 2^k x^{2k+1} / (1·3·…·(2k+1))`
/// (Abramowitz & Stegun 7.1.6), whose terms are all positive (no
/// cancellation, unlike the alternating Taylor series). Otherwise
/// `1 − erfc x` with the continued fraction of `erfc` (A&S 7.1.14), which
/// converges to full precision in 60 terms for `x ≥ 2.5`.
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let a = x.abs();
    let r = if a < 2.5 {
        let a2 = a * a;
        let (mut term, mut sum, mut k) = (a, a, 0.0);
        while term > sum * 1e-17 {
            k += 1.0;
            term *= 2.0 * a2 / (2.0 * k + 1.0);
            sum += term;
        }
        2.0 / PI.sqrt() * (-a2).exp() * sum
    } else {
        1.0 - erfc_large(a)
    };
    r.copysign(x)
}

/// `erfc a` for `a ≥ 2.5`: `e^{−a²}/√π · 1/(a + ½/(a + 1/(a + (3/2)/(a + …))))`,
/// evaluated bottom-up.
fn erfc_large(a: f64) -> f64 {
    let mut f = a;
    for k in (1..=60).rev() {
        f = a + 0.5 * f64::from(k) / f;
    }
    (-a * a).exp() / (PI.sqrt() * f)
}

/// Exact GELU `x Φ(x) = x/2 (1 + erf(x/√2))` (PyTorch's default `F.gelu`).
pub fn gelu_scalar(x: f64) -> f64 {
    0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2))
}

/// `GELU'(x) = Φ(x) + x φ(x)`.
pub fn gelu_deriv(x: f64) -> f64 {
    let cdf = 0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2));
    let pdf = (-0.5 * x * x).exp() / (2.0 * PI).sqrt();
    cdf + x * pdf
}

/// GELU of every element (any shape).
pub fn gelu(v: &[f64]) -> Vec<f64> {
    v.iter().map(|&x| gelu_scalar(x)).collect()
}

/// Backward of [`gelu`]: `dx = GELU'(x) dy` (`x` = the forward input).
pub fn gelu_backward(x: &[f64], dy: &[f64]) -> Vec<f64> {
    assert_eq!(x.len(), dy.len());
    x.iter().zip(dy).map(|(&x, &d)| gelu_deriv(x) * d).collect()
}

/// `SiLU(x) = x / (1 + e^{−x})`.
pub fn silu_scalar(x: f64) -> f64 {
    x / (1.0 + (-x).exp())
}

/// `SiLU'(x) = σ(x) (1 + x (1 − σ(x)))`, `σ` the logistic function.
pub fn silu_deriv(x: f64) -> f64 {
    let s = 1.0 / (1.0 + (-x).exp());
    s * (1.0 + x * (1.0 - s))
}

/// SiLU of every element (any shape).
pub fn silu(v: &[f64]) -> Vec<f64> {
    v.iter().map(|&x| silu_scalar(x)).collect()
}

/// Backward of [`silu`] (`x` = the forward input).
pub fn silu_backward(x: &[f64], dy: &[f64]) -> Vec<f64> {
    assert_eq!(x.len(), dy.len());
    x.iter().zip(dy).map(|(&x, &d)| silu_deriv(x) * d).collect()
}

// ---------------------------------------------------------------------------
// Pointwise linear map (Linear / 1×1 Conv2d)
// ---------------------------------------------------------------------------

/// A pointwise linear layer: PyTorch `Linear(cin, cout)` (`weight [cout,
/// cin]`) or `Conv2d(cin, cout, 1)` (`weight [cout, cin, 1, 1]`, the same
/// numbers), and `bias [cout]`.
#[derive(Clone, Copy, Debug)]
pub struct Dense<'a> {
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// `[cout, cin]`.
    pub weight: &'a [f64],
    /// `[cout]`.
    pub bias: &'a [f64],
}

/// Gradients of a [`Dense`] layer.
#[derive(Clone, Debug)]
pub struct DenseGrads {
    /// Of the input, `[B, cin, P]`.
    pub dx: Vec<f64>,
    /// `[cout, cin]`.
    pub dweight: Vec<f64>,
    /// `[cout]`.
    pub dbias: Vec<f64>,
}

/// `y[b, o, p] = Σ_i W[o, i] x[b, i, p] + bias[o]`: `x [B, cin, P]` →
/// `y [B, cout, P]` (`P = H W` for a field, 1 for a vector `[B, C]`).
pub fn linear(d: &Dense, x: &[f64], batch: usize, points: usize) -> Vec<f64> {
    assert_eq!(x.len(), batch * d.cin * points, "linear: input size");
    assert_eq!(d.weight.len(), d.cin * d.cout);
    assert_eq!(d.bias.len(), d.cout);
    let mut y = vec![0.0; batch * d.cout * points];
    for b in 0..batch {
        for o in 0..d.cout {
            let yo = &mut y[(b * d.cout + o) * points..][..points];
            yo.fill(d.bias[o]);
            for i in 0..d.cin {
                let wv = d.weight[o * d.cin + i];
                let xi = &x[(b * d.cin + i) * points..][..points];
                yo.iter_mut().zip(xi).for_each(|(y, &x)| *y += wv * x);
            }
        }
    }
    y
}

/// Backward of [`linear`]: `dx = Wᵀ dy`, `dW = Σ_{b,p} dy xᵀ`,
/// `dbias = Σ_{b,p} dy`.
pub fn linear_backward(
    d: &Dense,
    x: &[f64],
    batch: usize,
    points: usize,
    dy: &[f64],
) -> DenseGrads {
    assert_eq!(
        dy.len(),
        batch * d.cout * points,
        "linear_backward: dy size"
    );
    let mut g = DenseGrads {
        dx: vec![0.0; batch * d.cin * points],
        dweight: vec![0.0; d.cin * d.cout],
        dbias: vec![0.0; d.cout],
    };
    for b in 0..batch {
        for o in 0..d.cout {
            let dyo = &dy[(b * d.cout + o) * points..][..points];
            g.dbias[o] += dyo.iter().sum::<f64>();
            for i in 0..d.cin {
                let xi = &x[(b * d.cin + i) * points..][..points];
                g.dweight[o * d.cin + i] += dyo.iter().zip(xi).map(|(a, b)| a * b).sum::<f64>();
                let wv = d.weight[o * d.cin + i];
                let dxi = &mut g.dx[(b * d.cin + i) * points..][..points];
                dxi.iter_mut().zip(dyo).for_each(|(dx, &dy)| *dx += wv * dy);
            }
        }
    }
    g
}

/// GPU kernels against the reference, on channel slices of wider tensors,
/// non-square grids and channel counts that are not multiples of the
/// register tiles, and the reference's backward against finite
/// differences.
///
/// Tolerances: f32 sums of `k` terms are off by at most about `k u Σ|terms|`
/// (u = 6e-8) in the worst case and `√k u` typically; each test states its
/// `k`. A wrong index, sign, conjugate or scale is off by O(1).
#[cfg(test)]
mod tests {
    use super::super::Grid;
    use crate::gpu::{DType, Tensor};
    use crate::reference::fd::{check_vector, data, TOL};
    use crate::reference::{channel_slice, f64s, gpu, rel_err, test_data};
    use crate::score::linear::{
        record_activation_backward, Act, Activation, Broadcast, Epilogue, Linear,
    };

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

    /// The f64 layer of `layer`'s weight and bias in the flat parameters `wf`.
    fn dense_of<'a>(layer: &Linear, wf: &'a [f64]) -> super::super::Dense<'a> {
        let (cin, cout) = (layer.cin, layer.cout);
        super::super::Dense {
            cin,
            cout,
            weight: &wf[layer.w_off..layer.w_off + cin * cout],
            bias: &wf[layer.b_off..layer.b_off + cout],
        }
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
            Activation::Gelu => super::super::gelu(z),
            Activation::Silu => super::super::silu(z),
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
        let dense = dense_of(&layer, &wf);
        let mut z = super::super::linear(&dense, &channel_slice(&x_data, b, xt, p, 2, cin), b, p);
        for (i, v) in z.iter_mut().enumerate() {
            let (bi, o) = (i / (cout * p), (i / p) % cout);
            *v += f64::from(add_data[i]) + f64::from(temb_data[o * 4 + bi]);
        }
        let got = g.read(&[&out, &pre]).unwrap();
        let e_pre = rel_err(&channel_slice(&got[1], b, ot, p, 1, cout), &z);
        let e_out = rel_err(&channel_slice(&got[0], b, ot, p, 1, cout), &apply(act, &z));
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
        let dz_ref = super::super::gelu_backward(&f64s(&pre_data), &f64s(&dout_data));
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
            let silu = super::super::silu_backward(&f64s(&pre_data), &f64s(&dout_data));
            let e = rel_err(&f64s(&g.read_one(&scratch).unwrap()), &silu);
            assert!(e < 1e-6, "SiLU backward {e:.2e}");
        }
        let wf = f64s(&flat);
        let dense = dense_of(&layer, &wf);
        // The reference from the GPU's dz, so that each kernel is judged alone.
        let r = super::super::linear_backward(&dense, &f64s(&x_data), b, p, &f64s(&got[0]));
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

    /// The f64 backward of the pointwise linear map, GELU and SiLU against
    /// finite differences (see [`crate::reference::fd`]).
    #[test]
    fn backward_matches_fd() {
        let g = Grid {
            batch: 2,
            h: 8,
            w: 8,
        };
        let (cin, cout) = (3, 2);
        let x = data(50, g.batch * cin * g.hw());
        let dy = data(51, g.batch * cout * g.hw());
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>();
        let mut worst = Vec::new();

        // Pointwise linear map.
        let w = data(54, cin * cout);
        let bias = data(55, cout);
        let lin = |w: &[f64], b: &[f64], x: &[f64]| {
            let d = super::Dense {
                cin,
                cout,
                weight: w,
                bias: b,
            };
            dot(&super::super::linear(&d, x, g.batch, g.hw()), &dy)
        };
        let d = super::Dense {
            cin,
            cout,
            weight: &w,
            bias: &bias,
        };
        let lg = super::super::linear_backward(&d, &x, g.batch, g.hw(), &dy);
        worst.push((
            "linear dx",
            check_vector(&|v| lin(&w, &bias, v), &x, &lg.dx, 4),
        ));
        worst.push((
            "linear dW",
            check_vector(&|v| lin(v, &bias, &x), &w, &lg.dweight, 5),
        ));
        worst.push((
            "linear db",
            check_vector(&|v| lin(&w, v, &x), &bias, &lg.dbias, 6),
        ));

        // GELU, SiLU (inputs spread over [-4, 4] to reach erf's both branches).
        let xs: Vec<f64> = x.iter().map(|v| 4.0 * v).collect();
        let dys = data(56, xs.len());
        let gb = super::super::gelu_backward(&xs, &dys);
        worst.push((
            "gelu",
            check_vector(&|v| dot(&super::super::gelu(v), &dys), &xs, &gb, 7),
        ));
        let sb = super::super::silu_backward(&xs, &dys);
        worst.push((
            "silu",
            check_vector(&|v| dot(&super::super::silu(v), &dys), &xs, &sb, 8),
        ));

        for (name, e) in &worst {
            println!("{name}: {e:.2e}");
            assert!(*e <= TOL, "{name}: relative error {e:.3e}");
        }
    }
}
