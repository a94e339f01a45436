//! The f64 reference of the spectral convolution
//! (`shaders/spectral_conv.wgsl`, `src/score/spectral_conv.rs`): forward
//! and backward through `rustfft`, with the GPU-vs-reference and
//! finite-difference tests of the family.

use rustfft::num_complex::Complex64;

use super::Grid;
use crate::reference::fft;

// ---------------------------------------------------------------------------
// Spectral convolution
// ---------------------------------------------------------------------------

/// A `SpectralConv2d(cin, cout, modes, modes)` (the baseline): complex
/// weights `w_pos`, `w_neg` `[cin, cout, modes, modes, 2]`.
#[derive(Clone, Copy, Debug)]
pub struct Spectral<'a> {
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Kept modes per axis.
    pub modes: usize,
    /// Rows `ky < modes`, `[cin, cout, modes, modes, 2]`.
    pub w_pos: &'a [f64],
    /// Rows `ky ≥ H − modes`, `[cin, cout, modes, modes, 2]`.
    pub w_neg: &'a [f64],
}

/// Gradients of a [`Spectral`] layer.
#[derive(Clone, Debug)]
pub struct SpectralGrads {
    /// Of the input, `[B, cin, H, W]`.
    pub dx: Vec<f64>,
    /// `[cin, cout, modes, modes, 2]`.
    pub dw_pos: Vec<f64>,
    /// `[cin, cout, modes, modes, 2]`.
    pub dw_neg: Vec<f64>,
}

impl Spectral<'_> {
    /// Flat (re) index of weight `[i, o, r, kx]`.
    fn index(&self, i: usize, o: usize, r: usize, kx: usize) -> usize {
        2 * (((i * self.cout + o) * self.modes + r) * self.modes + kx)
    }

    fn bank(&self, neg: bool) -> &[f64] {
        if neg {
            self.w_neg
        } else {
            self.w_pos
        }
    }

    fn weight(&self, neg: bool, i: usize, o: usize, r: usize, kx: usize) -> Complex64 {
        let k = self.index(i, o, r, kx);
        let w = self.bank(neg);
        Complex64::new(w[k], w[k + 1])
    }

    /// The kept rows `(ky, from w_neg, ky')` of an `h`-row half spectrum.
    fn rows(&self, h: usize) -> impl Iterator<Item = (usize, bool, usize)> {
        let m = self.modes;
        (0..m)
            .map(|r| (r, false, r))
            .chain((0..m).map(move |r| (h - m + r, true, r)))
    }

    fn check(&self, g: Grid) {
        let len = self.cin * self.cout * self.modes * self.modes * 2;
        assert_eq!(self.w_pos.len(), len, "spectral: w_pos size");
        assert_eq!(self.w_neg.len(), len, "spectral: w_neg size");
        // Disjoint row blocks, and no kept column at or past Nyquist.
        assert!(
            2 * self.modes <= g.h && 2 * self.modes <= g.w,
            "spectral: {} modes need a grid of at least {}², got {}×{}",
            self.modes,
            2 * self.modes,
            g.h,
            g.w
        );
    }
}

/// Weight of half-spectrum column `kx` in `numpy.fft.irfft2`: the bins
/// `0 < kx < W/2` stand for themselves and their conjugates.
fn column_multiplicity(kx: usize, w: usize) -> f64 {
    if kx == 0 || 2 * kx == w {
        1.0
    } else {
        2.0
    }
}

/// `SpectralConv`: `[B, cin, H, W]` → `[B, cout, H, W]`,
/// `y = irfft2(O)`, `O[o, ky, kx] = Σ_i rfft2(x)[i, ky, kx] w[i, o, ky', kx]`
/// on the kept bins (`kx < modes`; rows `ky < modes` with `w_pos`,
/// `ky' = ky`, and `ky ≥ H − modes` with `w_neg`, `ky' = ky − (H − modes)`),
/// all other bins 0 (src/score/mod.rs; the baseline's `SpectralConv2d`).
pub fn spectral_conv(sp: &Spectral, x: &[f64], g: Grid) -> Vec<f64> {
    sp.check(g);
    let (h, w, hw, m) = (g.h, g.w, g.hw(), sp.modes);
    let half = w / 2 + 1;
    assert_eq!(x.len(), g.batch * sp.cin * hw, "spectral_conv: input size");
    let mut y = vec![0.0; g.batch * sp.cout * hw];
    for b in 0..g.batch {
        let spec: Vec<Vec<Complex64>> = (0..sp.cin)
            .map(|i| fft::r2c(&x[(b * sp.cin + i) * hw..][..hw], h, w))
            .collect();
        for o in 0..sp.cout {
            let mut out = vec![Complex64::new(0.0, 0.0); h * half];
            for (ky, neg, r) in sp.rows(h) {
                for kx in 0..m {
                    out[ky * half + kx] = (0..sp.cin)
                        .map(|i| spec[i][ky * half + kx] * sp.weight(neg, i, o, r, kx))
                        .sum();
                }
            }
            y[(b * sp.cout + o) * hw..][..hw].copy_from_slice(&fft::c2r(&out, h, w));
        }
    }
    y
}

/// Backward of [`spectral_conv`] (`x` = its input).
///
/// With `θ = 2π(ky y/H + kx x/W)` and `c_kx` the [`column_multiplicity`],
/// `irfft2(O)[y, x] = 1/(HW) Σ_k c_kx Re(O_k e^{iθ})`, so the gradient of
/// its input (as `∂/∂re + i ∂/∂im`) is `dO_k = c_kx/(HW) rfft2(dy)_k`;
/// the complex products give `dX_k = Σ_o dO_k conj(w)` and
/// `dw = Σ_b dO_k conj(X_k)`; and `rfft2` has the adjoint
/// `dx[y, x] = Σ_k Re(dX_k e^{iθ}) = HW · irfft2(dX / c)`.
pub fn spectral_conv_backward(sp: &Spectral, x: &[f64], g: Grid, dy: &[f64]) -> SpectralGrads {
    sp.check(g);
    let (h, w, hw, m) = (g.h, g.w, g.hw(), sp.modes);
    let half = w / 2 + 1;
    assert_eq!(
        dy.len(),
        g.batch * sp.cout * hw,
        "spectral_conv_backward: dy size"
    );
    let mut grads = SpectralGrads {
        dx: vec![0.0; g.batch * sp.cin * hw],
        dw_pos: vec![0.0; sp.w_pos.len()],
        dw_neg: vec![0.0; sp.w_neg.len()],
    };
    let zero = Complex64::new(0.0, 0.0);
    for b in 0..g.batch {
        let spec_x: Vec<Vec<Complex64>> = (0..sp.cin)
            .map(|i| fft::r2c(&x[(b * sp.cin + i) * hw..][..hw], h, w))
            .collect();
        let spec_dy: Vec<Vec<Complex64>> = (0..sp.cout)
            .map(|o| fft::r2c(&dy[(b * sp.cout + o) * hw..][..hw], h, w))
            .collect();
        let mut spec_dx = vec![vec![zero; h * half]; sp.cin];
        for (ky, neg, r) in sp.rows(h) {
            for kx in 0..m {
                let k = ky * half + kx;
                let c = column_multiplicity(kx, w);
                for (o, dy_o) in spec_dy.iter().enumerate() {
                    let d_out = dy_o[k] * (c / hw as f64);
                    for i in 0..sp.cin {
                        let wv = sp.weight(neg, i, o, r, kx);
                        // dX / c: the 1/c of the rfft2 adjoint, applied here.
                        spec_dx[i][k] += d_out * wv.conj() / c;
                        let dw = d_out * spec_x[i][k].conj();
                        let j = sp.index(i, o, r, kx);
                        let bank = if neg {
                            &mut grads.dw_neg
                        } else {
                            &mut grads.dw_pos
                        };
                        bank[j] += dw.re;
                        bank[j + 1] += dw.im;
                    }
                }
            }
        }
        for (i, s) in spec_dx.iter().enumerate() {
            let dxi = &mut grads.dx[(b * sp.cin + i) * hw..][..hw];
            for (d, v) in dxi.iter_mut().zip(fft::c2r(s, h, w)) {
                *d = v * hw as f64;
            }
        }
    }
    grads
}

/// A GPU spectral layer for tests: weights of `cin`, `cout`, `m` at
/// offsets 0 (`w_pos`) and a multiple of 64 (`w_neg`) of the returned
/// flat parameters ([`test_data`] from `seed`).
pub fn test_layer(
    cin: usize,
    cout: usize,
    m: usize,
    seed: u64,
) -> (crate::score::spectral_conv::SpectralConv, Vec<f32>) {
    let len = cin * cout * m * m * 2;
    let w_neg = len.div_ceil(64) * 64;
    let flat = crate::reference::test_data(seed, w_neg + len);
    (
        crate::score::spectral_conv::SpectralConv {
            cin,
            cout,
            modes: m,
            w_pos: 0,
            w_neg,
        },
        flat,
    )
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
    use super::test_layer as spectral_params;
    use crate::gpu::{DType, Tensor};
    use crate::reference::fd::{check_vector, data, TOL};
    use crate::reference::{channel_slice, f64s, gpu, rel_err, test_data};
    use crate::score::linear::Act;
    use crate::score::spectral_conv::{Method, Scratch, Twiddles};

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
                // (dx into, accumulate dx, accumulate the weight gradients):
                // both flags, each way round.
                for (into, acc_dx, acc_grads) in
                    [(xs, false, true), (Act::slice(&dx, 1, cin), true, false)]
                {
                    layer
                        .record_backward(
                            g,
                            &mut pass,
                            &params,
                            &tw,
                            Act::slice(&dout, 1, cout),
                            &spectrum,
                            into,
                            &grads,
                            acc_dx,
                            acc_grads,
                            &scratch,
                        )
                        .unwrap();
                }
            }
            g.submit(enc);
            let wf = f64s(&flat);
            let len = cin * cout * m * m * 2;
            let sp = super::super::Spectral {
                cin,
                cout,
                modes: m,
                w_pos: &wf[..len],
                w_neg: &wf[layer.w_neg..layer.w_neg + len],
            };
            let grid = super::super::Grid { batch: b, h, w };
            let x_in = channel_slice(&x_data, b, xt, p, 1, cin);
            let want = super::super::spectral_conv(&sp, &x_in, grid);
            let r = super::super::spectral_conv_backward(
                &sp,
                &x_in,
                grid,
                &channel_slice(&dout_data, b, ot, p, 1, cout),
            );
            let got = g.read(&[&out, &x, &dx, &grads]).unwrap();
            let tag = format!("{h}x{w}, {m} modes, {cin}->{cout}, {method}");
            let e = rel_err(&channel_slice(&got[0], b, ot, p, 1, cout), &want);
            assert!(e < 3e-6, "{tag}: forward {e:.2e}");
            // The first backward overwrote x's slice with dx (not accumulated),
            // the second added dx to dx0; the weights were accumulated once
            // (second call overwrote with the plain gradient).
            let e_dx = rel_err(&channel_slice(&got[1], b, xt, p, 1, cin), &r.dx);
            let dx_acc: Vec<f64> =
                r.dx.iter()
                    .zip(channel_slice(&dx0, b, xt, p, 1, cin))
                    .map(|(a, b)| a + b)
                    .collect();
            let e_acc = rel_err(&channel_slice(&got[2], b, xt, p, 1, cin), &dx_acc);
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

    /// Each route really runs its own kernels, forward and backward (the two
    /// give the same numbers, so the reference tests alone cannot tell): the
    /// dispatch labels of one forward + backward, on a device of this test's
    /// own (the shared one's timer would see other tests' work).
    #[test]
    fn spectral_routes_run_their_own_kernels() {
        use crate::gpu::{Gpu, GpuOptions};
        let g = Gpu::new(&GpuOptions::from_env().unwrap()).unwrap();
        let (b, n, m, c) = (1, 16, 3, 2);
        let (layer, flat) = spectral_params(c, c, m, 91);
        let params = Tensor::from_f32(&g, &[flat.len()], DType::F32, &flat).unwrap();
        let x =
            Tensor::from_f32(&g, &[b, c, n, n], DType::F32, &test_data(92, b * c * n * n)).unwrap();
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
                        &g, &mut pass, &params, &tw, ya, &spectrum, xa, &grads, false, false,
                        &scratch,
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

    /// The f64 backward of the spectral convolution (input and both complex
    /// weights) against finite differences (see [`crate::reference::fd`]).
    #[test]
    fn backward_matches_fd() {
        let g = Grid {
            batch: 2,
            h: 8,
            w: 8,
        };
        let (cin, cout, m) = (3, 2, 3);
        let x = data(50, g.batch * cin * g.hw());
        let dy = data(51, g.batch * cout * g.hw());
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>();
        let mut worst = Vec::new();

        // Spectral convolution: input and both complex weights.
        let wp = data(52, cin * cout * m * m * 2);
        let wn = data(53, cin * cout * m * m * 2);
        let sp = |wp: &[f64], wn: &[f64], x: &[f64]| {
            let s = super::Spectral {
                cin,
                cout,
                modes: m,
                w_pos: wp,
                w_neg: wn,
            };
            dot(&super::super::spectral_conv(&s, x, g), &dy)
        };
        let s = super::Spectral {
            cin,
            cout,
            modes: m,
            w_pos: &wp,
            w_neg: &wn,
        };
        let sg = super::super::spectral_conv_backward(&s, &x, g, &dy);
        worst.push((
            "spectral dx",
            check_vector(&|v| sp(&wp, &wn, v), &x, &sg.dx, 1),
        ));
        worst.push((
            "spectral w_pos",
            check_vector(&|v| sp(v, &wn, &x), &wp, &sg.dw_pos, 2),
        ));
        worst.push((
            "spectral w_neg",
            check_vector(&|v| sp(&wp, v, &x), &wn, &sg.dw_neg, 3),
        ));

        for (name, e) in &worst {
            println!("{name}: {e:.2e}");
            assert!(*e <= TOL, "{name}: relative error {e:.3e}");
        }
    }
}
