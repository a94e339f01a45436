//! GPU FFT vs the rustfft reference (f64) and round trips.
//!
//! Tolerance: max |GPU − reference| / max |reference| ≤ 1e-5. An f32 FFT
//! through L = log2(H W) radix-2 levels has a normwise relative error
//! bounded by about L · 5u (Higham, "Accuracy and Stability of Numerical
//! Algorithms", Thm 24.2: η ≈ u + γ₄(√2 + u) per level, twiddles exact to
//! u because they are tabulated in f64), u = 2⁻²⁴ ≈ 6e-8: 6e-6 for
//! 1024² (L = 20). For our white-noise inputs the error is spread over the
//! bins like the spectrum itself, so the max-norm ratio is of the same
//! order; 1e-5 leaves < 2× over the worst-case bound and still fails any
//! wrong twiddle, index or scale (those give errors of order 1).

use diffclosure::fft::{Fft2d, FftOptions, Strategy, Transform};
use diffclosure::gpu::{DType, Tensor};
use rustfft::num_complex::Complex64;

use crate::reference::{f64s, fft as cpu};
use crate::{gpu, max_abs, max_abs_err, test_data};

const TOL: f64 = 1e-5;

fn to_c64(v: &[f32]) -> Vec<Complex64> {
    v.chunks_exact(2)
        .map(|p| Complex64::new(f64::from(p[0]), f64::from(p[1])))
        .collect()
}

/// max |a − b| / max |b| over complex (re, im) or real values.
fn rel_err(gpu_out: &[f32], reference: &[f64]) -> f64 {
    assert_eq!(gpu_out.len(), reference.len());
    max_abs_err(gpu_out, reference) / max_abs(reference)
}

fn flat(v: &[Complex64]) -> Vec<f64> {
    v.iter().flat_map(|c| [c.re, c.im]).collect()
}

/// Both stage organisations run on every adapter; each test checks both.
const STRATEGIES: [Strategy; 2] = [Strategy::Shared, Strategy::Registers];

fn plan(s: Strategy, batch: usize, h: usize, w: usize) -> Fft2d {
    let opts = FftOptions {
        strategy: Some(s),
        ..Default::default()
    };
    Fft2d::with_options(gpu(), batch, h, w, opts).unwrap()
}

/// Runs `t` on the GPU for `batch` fields of `h × w`; returns (input, output).
fn run(
    s: Strategy,
    t: Transform,
    batch: usize,
    h: usize,
    w: usize,
    seed: u64,
) -> (Vec<f32>, Vec<f32>) {
    let g = gpu();
    let half = w / 2 + 1;
    let (in_shape, in_dt, out_shape, out_dt) = match t {
        Transform::Forward | Transform::Inverse => {
            ([batch, h, w], DType::C32, [batch, h, w], DType::C32)
        }
        Transform::R2c => ([batch, h, w], DType::F32, [batch, h, half], DType::C32),
        Transform::C2r => ([batch, h, half], DType::C32, [batch, h, w], DType::F32),
    };
    let n_in = in_shape.iter().product::<usize>() * in_dt.floats();
    let data = test_data(seed, n_in);
    let x = Tensor::from_f32(g, &in_shape, in_dt, &data).unwrap();
    let y = Tensor::zeros(g, &out_shape, out_dt).unwrap();
    let mut enc = g.encoder("test");
    plan(s, batch, h, w).run(&mut enc, t, &x, &y).unwrap();
    g.submit(enc);
    let out = g.read_one(&y).unwrap();
    // c2r must leave its input untouched.
    assert_eq!(g.read_one(&x).unwrap(), data, "{t:?} modified its input");
    (data, out)
}

/// The reference output of `t` for the flat input, field by field.
fn reference(t: Transform, batch: usize, h: usize, w: usize, input: &[f32]) -> Vec<f64> {
    let half = w / 2 + 1;
    (0..batch)
        .flat_map(|b| match t {
            Transform::Forward | Transform::Inverse => {
                let f = to_c64(&input[2 * b * h * w..2 * (b + 1) * h * w]);
                flat(&cpu::c2c(&f, h, w, t == Transform::Inverse))
            }
            Transform::R2c => {
                let f: Vec<f64> = input[b * h * w..(b + 1) * h * w]
                    .iter()
                    .map(|v| f64::from(*v))
                    .collect();
                flat(&cpu::r2c(&f, h, w))
            }
            Transform::C2r => {
                let f = to_c64(&input[2 * b * h * half..2 * (b + 1) * h * half]);
                cpu::c2r(&f, h, w)
            }
        })
        .collect()
}

fn check(t: Transform, batch: usize, h: usize, w: usize) {
    for s in STRATEGIES {
        let (input, out) = run(s, t, batch, h, w, (h * 1000 + w + batch) as u64);
        let e = rel_err(&out, &reference(t, batch, h, w, &input));
        assert!(
            e <= TOL,
            "{s:?} {t:?} batch {batch} {h}x{w}: max error {e:.3e} relative to max |X| > {TOL:e}"
        );
    }
}

fn sweep(t: Transform, sizes: &[usize]) {
    for &n in sizes {
        for batch in [1, 3] {
            check(t, batch, n, n);
        }
    }
}

const SIZES: [usize; 7] = [8, 16, 32, 64, 128, 256, 512];

#[test]
fn c2c_forward_matches_rustfft() {
    sweep(Transform::Forward, &SIZES);
    check(Transform::Forward, 1, 1024, 1024);
}

#[test]
fn c2c_inverse_matches_rustfft() {
    sweep(Transform::Inverse, &SIZES);
    check(Transform::Inverse, 1, 1024, 1024);
}

#[test]
fn r2c_matches_rustfft() {
    sweep(Transform::R2c, &SIZES);
}

#[test]
fn c2r_matches_numpy_semantics() {
    sweep(Transform::C2r, &SIZES);
}

#[test]
fn non_square_and_small_sizes() {
    for (h, w) in [
        (2, 2),
        (4, 8),
        (8, 64),
        (128, 16),
        (32, 1024),
        (1024, 8),
        (2, 512),
    ] {
        for t in [Transform::Forward, Transform::Inverse] {
            check(t, 2, h, w);
        }
    }
    for (h, w) in [(2, 4), (8, 4), (16, 128), (256, 32), (4, 1024)] {
        check(Transform::R2c, 2, h, w);
        check(Transform::C2r, 2, h, w);
    }
}

/// inverse(forward(x)) = x and c2r(r2c(x)) = x, in place for c2c.
#[test]
fn round_trips() {
    let g = gpu();
    for (s, (b, h, w)) in STRATEGIES
        .into_iter()
        .flat_map(|s| [(4, 64, 64), (2, 256, 128), (1, 1024, 1024)].map(|x| (s, x)))
    {
        let data = test_data(7, 2 * b * h * w);
        let x = Tensor::from_f32(g, &[b, h, w], DType::C32, &data).unwrap();
        let plan = plan(s, b, h, w);
        // `back` of `there` of x (through `mid`, into y) against `want`.
        let round_trip = |tag, [there, back]: [Transform; 2], x, mid, y, want: &[f32]| {
            let mut enc = g.encoder(tag);
            plan.run(&mut enc, there, x, mid).unwrap();
            plan.run(&mut enc, back, mid, y).unwrap();
            g.submit(enc);
            rel_err(&g.read_one(y).unwrap(), &f64s(want))
        };
        let c2c = [Transform::Forward, Transform::Inverse];
        let e = round_trip("round trip", c2c, &x, &x, &x, &data);
        // Two transforms: twice the single-transform bound.
        assert!(e <= 2.0 * TOL, "{s:?} c2c round trip {b}x{h}x{w}: {e:.3e}");

        let real = &data[..b * h * w];
        let xr = Tensor::from_f32(g, &[b, h, w], DType::F32, real).unwrap();
        let spec = Tensor::zeros(g, &[b, h, w / 2 + 1], DType::C32).unwrap();
        let yr = Tensor::zeros(g, &[b, h, w], DType::F32).unwrap();
        let r2c = [Transform::R2c, Transform::C2r];
        let e = round_trip("real round trip", r2c, &xr, &spec, &yr, real);
        assert!(e <= 2.0 * TOL, "{s:?} real round trip {b}x{h}x{w}: {e:.3e}");
    }
}

/// Parseval: Σ|X|² = H W Σ|x|² (energy conservation of the unnormalised DFT).
#[test]
fn parseval() {
    let (b, h, w) = (2, 128, 64);
    let (input, out) = run(
        Strategy::for_adapter(gpu()),
        Transform::Forward,
        b,
        h,
        w,
        11,
    );
    let ex: f64 = input.iter().map(|v| f64::from(*v).powi(2)).sum();
    let es: f64 = out.iter().map(|v| f64::from(*v).powi(2)).sum();
    let rel = (es / (h * w) as f64 - ex).abs() / ex;
    // Sums of 2^15 squares in f64 of f32 data: the transform's error bound
    // (see TOL) dominates.
    assert!(rel < TOL, "Parseval violated: {rel:.3e}");
}

/// A batch larger than the binding limit is split into chunks and gives the
/// same result as the reference.
#[test]
fn chunked_batches_match_reference() {
    let g = gpu();
    let (b, h, w) = (37, 16, 32);
    // Room for 8 complex fields per binding: chunks of 8,...,8,5.
    let limit = (8 * 8 * h * w) as u64;
    for (s, t) in STRATEGIES
        .into_iter()
        .flat_map(|s| [Transform::Forward, Transform::R2c, Transform::C2r].map(|t| (s, t)))
    {
        let opts = FftOptions {
            strategy: Some(s),
            max_binding_bytes: Some(limit),
        };
        let plan = Fft2d::with_options(g, b, h, w, opts).unwrap();
        assert!(plan.chunk() < b, "the batch must be split for this test");
        let half = w / 2 + 1;
        let (in_shape, in_dt, n_in, out_shape, out_dt) = match t {
            Transform::R2c => ([b, h, w], DType::F32, b * h * w, [b, h, half], DType::C32),
            Transform::C2r => (
                [b, h, half],
                DType::C32,
                2 * b * h * half,
                [b, h, w],
                DType::F32,
            ),
            _ => ([b, h, w], DType::C32, 2 * b * h * w, [b, h, w], DType::C32),
        };
        let data = test_data(3, n_in);
        let x = Tensor::from_f32(g, &in_shape, in_dt, &data).unwrap();
        let y = Tensor::zeros(g, &out_shape, out_dt).unwrap();
        let mut enc = g.encoder("chunked");
        plan.run(&mut enc, t, &x, &y).unwrap();
        g.submit(enc);
        let out = g.read_one(&y).unwrap();
        let e = rel_err(&out, &reference(t, b, h, w, &data));
        assert!(e <= TOL, "{s:?} {t:?} chunked: {e:.3e}");
    }
}

#[test]
fn bad_shapes_and_sizes_are_refused() {
    let g = gpu();
    for (h, w) in [(0, 8), (12, 16), (16, 2048), (1, 8)] {
        assert!(Fft2d::new(g, 1, h, w).is_err(), "{h}x{w} must be refused");
    }
    assert!(Fft2d::new(g, 0, 8, 8).is_err());
    let plan = Fft2d::new(g, 2, 8, 16).unwrap();
    let c = Tensor::zeros(g, &[2, 8, 16], DType::C32).unwrap();
    let wrong_batch = Tensor::zeros(g, &[3, 8, 16], DType::C32).unwrap();
    let real = Tensor::zeros(g, &[2, 8, 16], DType::F32).unwrap();
    let half = Tensor::zeros(g, &[2, 8, 9], DType::C32).unwrap();
    let mut enc = g.encoder("bad");
    let mut pass = enc.begin_compute_pass(&Default::default());
    let msg = |r: diffclosure::Result<()>| r.unwrap_err().to_string();
    assert!(msg(plan.record(&mut pass, Transform::Forward, &wrong_batch, &c)).contains("shape"));
    assert!(msg(plan.record(&mut pass, Transform::Forward, &real, &c)).contains("C32"));
    assert!(plan.record(&mut pass, Transform::R2c, &c, &half).is_err());
    assert!(plan.record(&mut pass, Transform::C2r, &half, &c).is_err());
    // Leading dims may be anything of the right product.
    let leading = Tensor::zeros(g, &[1, 2, 8, 16], DType::C32).unwrap();
    plan.record(&mut pass, Transform::Forward, &leading, &c)
        .unwrap();
}
