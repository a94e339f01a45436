// Batched 1-D FFT passes, Stockham auto-sort, all stages of one line in one
// dispatch: stage 0 reads global memory, later stages exchange through
// ping-pong workgroup memory (one barrier per stage), the last stage writes
// global memory. A 2-D transform is two such passes (rows, columns); see
// src/fft/mod.rs, which also picks the radix of each stage:
//   * "shared" plan (GPUs): radix-8 stages (+ one radix-2/4), N/8 threads
//     per line, many threads in flight;
//   * "registers" plan (CPU adapters such as lavapipe): radices up to 64
//     held in registers, one stage for N <= 64 (a line is one invocation,
//     no workgroup memory at all), two balanced stages beyond. On lavapipe
//     every memory access is a per-lane gather/scatter and dominates the
//     cost; this plan touches memory least.
//
// Source: Stockham formulation of Govindaraju et al., "High performance
// discrete Fourier transforms on graphics processors", SC'08 (Alg. 1); the
// radix-8M butterflies are an 8 x M Cooley-Tukey split; the real-input
// packing is Cooley, Lewis & Welch (1970): a real line of length 2N is an
// N-point complex FFT plus an O(N) pre/post-processing step.
//
// A "line" is N complex elements at base + k * elem_stride (IN_ELEM,
// OUT_ELEM: pipeline constants, since a stride from a uniform costs ~25%
// on lavapipe); line l of the
// dispatch has base = (l / lines_per_batch) * batch_stride
//                    + (l % lines_per_batch) * line_stride.
// Forward: X[k] = sum_n x[n] exp(-2 pi i k n / N), unnormalised; inverse uses
// exp(+...) and the host passes scale = 1/N (NumPy's "backward" norm).

// Complex transform length of this pass (power of two, >= 2).
override N: u32 = 8u;
// Radix of stages 0..3 (2, 4, 8, 16, 32 or 64; 1 = no such stage); their
// product is N.
override RADIX0: u32 = 8u;
override RADIX1: u32 = 1u;
override RADIX2: u32 = 1u;
override RADIX3: u32 = 1u;
override STAGES: u32 = 1u;
// Threads per line: N / (largest radix).
override T: u32 = 1u;
// Lines per workgroup.
override LPW: u32 = 1u;
// Invocation order inside a workgroup: consecutive invocations take
// consecutive lines (true: suits strided column passes) or consecutive
// elements of one line (false: suits contiguous row passes).
override LANES_OVER_LINES: bool = false;
override INVERSE: bool = false;
// 0: complex-to-complex. 1: real-to-complex post-processing (the input line
// is a real line of length 2N read as N complex; writes N+1 bins).
// 2: complex-to-real pre-processing (reads N+1 bins; writes 2N reals as N
// complex).
override MODE: u32 = 0u;
// Element strides of the input and output lines, in complex elements.
override IN_ELEM: u32 = 1u;
override OUT_ELEM: u32 = 1u;
override WG: u32 = 1u;
// Ping-pong workgroup storage: two halves of HALF elements (LPW * N when
// the plan exchanges through workgroup memory, else 1).
override HALF: u32 = 1u;

struct Params {
    lines: u32,
    lines_per_batch: u32,
    // Twiddle table index stride: 1 for c2c (table of N), 2 for real
    // passes (table of 2N, also used by the pre/post-processing).
    tw_stride: u32,
    _pad0: u32,
    in_line: u32,
    in_batch: u32,
    out_line: u32,
    out_batch: u32,
    scale: f32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// tw[j] = exp(-2 pi i j / (N * tw_stride)), computed in f64 on the host.
@group(0) @binding(1) var<storage, read> tw: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> src: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> dst: array<vec2<f32>>;

var<workgroup> sh: array<vec2<f32>, 2u * HALF>;

const SQRT_HALF: f32 = 0.70710678118654752;
// W64[j] = exp(-2 pi i j / 64), to f32 precision (from f64).
const W64 = array<vec2<f32>, 64>(
    vec2<f32>(1.000000000, -0.000000000), vec2<f32>(0.995184727, -0.098017140),
    vec2<f32>(0.980785280, -0.195090322), vec2<f32>(0.956940336, -0.290284677),
    vec2<f32>(0.923879533, -0.382683432), vec2<f32>(0.881921264, -0.471396737),
    vec2<f32>(0.831469612, -0.555570233), vec2<f32>(0.773010453, -0.634393284),
    vec2<f32>(0.707106781, -0.707106781), vec2<f32>(0.634393284, -0.773010453),
    vec2<f32>(0.555570233, -0.831469612), vec2<f32>(0.471396737, -0.881921264),
    vec2<f32>(0.382683432, -0.923879533), vec2<f32>(0.290284677, -0.956940336),
    vec2<f32>(0.195090322, -0.980785280), vec2<f32>(0.098017140, -0.995184727),
    vec2<f32>(0.000000000, -1.000000000), vec2<f32>(-0.098017140, -0.995184727),
    vec2<f32>(-0.195090322, -0.980785280), vec2<f32>(-0.290284677, -0.956940336),
    vec2<f32>(-0.382683432, -0.923879533), vec2<f32>(-0.471396737, -0.881921264),
    vec2<f32>(-0.555570233, -0.831469612), vec2<f32>(-0.634393284, -0.773010453),
    vec2<f32>(-0.707106781, -0.707106781), vec2<f32>(-0.773010453, -0.634393284),
    vec2<f32>(-0.831469612, -0.555570233), vec2<f32>(-0.881921264, -0.471396737),
    vec2<f32>(-0.923879533, -0.382683432), vec2<f32>(-0.956940336, -0.290284677),
    vec2<f32>(-0.980785280, -0.195090322), vec2<f32>(-0.995184727, -0.098017140),
    vec2<f32>(-1.000000000, -0.000000000), vec2<f32>(-0.995184727, 0.098017140),
    vec2<f32>(-0.980785280, 0.195090322), vec2<f32>(-0.956940336, 0.290284677),
    vec2<f32>(-0.923879533, 0.382683432), vec2<f32>(-0.881921264, 0.471396737),
    vec2<f32>(-0.831469612, 0.555570233), vec2<f32>(-0.773010453, 0.634393284),
    vec2<f32>(-0.707106781, 0.707106781), vec2<f32>(-0.634393284, 0.773010453),
    vec2<f32>(-0.555570233, 0.831469612), vec2<f32>(-0.471396737, 0.881921264),
    vec2<f32>(-0.382683432, 0.923879533), vec2<f32>(-0.290284677, 0.956940336),
    vec2<f32>(-0.195090322, 0.980785280), vec2<f32>(-0.098017140, 0.995184727),
    vec2<f32>(-0.000000000, 1.000000000), vec2<f32>(0.098017140, 0.995184727),
    vec2<f32>(0.195090322, 0.980785280), vec2<f32>(0.290284677, 0.956940336),
    vec2<f32>(0.382683432, 0.923879533), vec2<f32>(0.471396737, 0.881921264),
    vec2<f32>(0.555570233, 0.831469612), vec2<f32>(0.634393284, 0.773010453),
    vec2<f32>(0.707106781, 0.707106781), vec2<f32>(0.773010453, 0.634393284),
    vec2<f32>(0.831469612, 0.555570233), vec2<f32>(0.881921264, 0.471396737),
    vec2<f32>(0.923879533, 0.382683432), vec2<f32>(0.956940336, 0.290284677),
    vec2<f32>(0.980785280, 0.195090322), vec2<f32>(0.995184727, 0.098017140),
);

fn cmul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

fn conj(a: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x, -a.y);
}

// Multiplies by exp(sign * i pi / 2): -i forward, +i inverse.
fn rot(a: vec2<f32>) -> vec2<f32> {
    if INVERSE {
        return vec2<f32>(-a.y, a.x);
    }
    return vec2<f32>(a.y, -a.x);
}

// exp(sign * 2 pi i j / (N * tw_stride)).
fn twiddle(j: u32) -> vec2<f32> {
    let w = tw[j * p.tw_stride];
    if INVERSE {
        return conj(w);
    }
    return w;
}

// Twiddle for the pre/post-processing of real passes: exp(sign pi i k / N).
fn twiddle_half(k: u32) -> vec2<f32> {
    let w = tw[k];
    if INVERSE {
        return conj(w);
    }
    return w;
}

// exp(sign 2 pi i j / 64). The index is a constant after folding; `& 63`
// rather than `% 64`, whose guarded form was measured to survive folding on
// lavapipe and turn the table into a memory gather.
fn w64(j: u32) -> vec2<f32> {
    let w = W64[j & 63u];
    if INVERSE {
        return conj(w);
    }
    return w;
}

fn dft2(v: array<vec2<f32>, 2>) -> array<vec2<f32>, 2> {
    return array<vec2<f32>, 2>(v[0] + v[1], v[0] - v[1]);
}

fn dft4(v: array<vec2<f32>, 4>) -> array<vec2<f32>, 4> {
    let a0 = v[0] + v[2];
    let a1 = v[0] - v[2];
    let a2 = v[1] + v[3];
    let a3 = rot(v[1] - v[3]);
    return array<vec2<f32>, 4>(a0 + a2, a1 + a3, a0 - a2, a1 - a3);
}

fn dft8(v: array<vec2<f32>, 8>) -> array<vec2<f32>, 8> {
    let e = dft4(array<vec2<f32>, 4>(v[0], v[2], v[4], v[6]));
    let o = dft4(array<vec2<f32>, 4>(v[1], v[3], v[5], v[7]));
    let s = select(-1.0, 1.0, INVERSE);
    let o1 = cmul(o[1], vec2<f32>(SQRT_HALF, s * SQRT_HALF));
    let o2 = rot(o[2]);
    let o3 = cmul(o[3], vec2<f32>(-SQRT_HALF, s * SQRT_HALF));
    return array<vec2<f32>, 8>(
        e[0] + o[0], e[1] + o1, e[2] + o2, e[3] + o3,
        e[0] - o[0], e[1] - o1, e[2] - o2, e[3] - o3,
    );
}

struct Line {
    live: bool,
    // Offset of this line's elements in workgroup memory (within a half).
    wl: u32,
    in_base: u32,
    out_base: u32,
}

// Spectrum bin k of a complex-to-real input line (0 <= k <= N); the
// imaginary parts of the DC and Nyquist bins are ignored, as NumPy does.
fn load_bin(line: Line, k: u32) -> vec2<f32> {
    var x = src[line.in_base + k * IN_ELEM];
    if k == 0u || k == N {
        x.y = 0.0;
    }
    return x;
}

// Element idx of the stage-0 input.
fn load_input(line: Line, idx: u32) -> vec2<f32> {
    if MODE == 2u {
        // Z[k] = E[k] + i O[k], E = (X[k] + conj X[N-k]) / 2,
        // O = (X[k] - conj X[N-k]) exp(+i pi k / N) / 2: the N-point spectra of
        // the even and odd real samples; the inverse N-point FFT of Z gives
        // x[2n] + i x[2n+1].
        let xk = load_bin(line, idx);
        let xn = conj(load_bin(line, N - idx));
        let e = 0.5 * (xk + xn);
        let o = 0.5 * cmul(xk - xn, twiddle_half(idx));
        return e + vec2<f32>(-o.y, o.x);
    }
    return src[line.in_base + idx * IN_ELEM];
}

fn load(stage: u32, line: Line, idx: u32) -> vec2<f32> {
    if stage == 0u {
        return load_input(line, idx);
    }
    return sh[((stage + 1u) & 1u) * HALF + line.wl + idx];
}

fn store(stage: u32, line: Line, idx: u32, v: vec2<f32>) {
    if stage + 1u == STAGES && MODE != 1u {
        if line.live {
            dst[line.out_base + idx * OUT_ELEM] = v * p.scale;
        }
        return;
    }
    sh[(stage & 1u) * HALF + line.wl + idx] = v;
}

// One radix-R butterfly of a Stockham stage, held in registers.
//
// Stage `stage` of span ns, butterfly b, k = b mod ns: inputs
// x[r] = in[b + r N/R] times exp(sign 2 pi i r k / (ns R)), an R-point DFT,
// outputs X[q] -> out[(b - k) R + k + q ns].
//
// Every array index below is a literal or a function of literals and
// override constants (the helpers are called with literal arguments, and
// R is an override), so once the driver inlines and folds, the arrays are
// registers. A loop over a register array with a runtime index would put
// it in scratch memory: a gather/scatter per access on CPU adapters.
alias Reg = array<vec2<f32>, 64>;

fn ld1(x: ptr<function, Reg>, i: u32, stage: u32, line: Line, b: u32, stride: u32, step: u32) {
    var v = load(stage, line, b + i * stride);
    if stage > 0u && i > 0u {
        v = cmul(v, twiddle(i * step));
    }
    (*x)[i] = v;
}

fn ld8(x: ptr<function, Reg>, o: u32, stage: u32, line: Line, b: u32, stride: u32, step: u32) {
    ld1(x, o, stage, line, b, stride, step);
    ld1(x, o + 1u, stage, line, b, stride, step);
    ld1(x, o + 2u, stage, line, b, stride, step);
    ld1(x, o + 3u, stage, line, b, stride, step);
    ld1(x, o + 4u, stage, line, b, stride, step);
    ld1(x, o + 5u, stage, line, b, stride, step);
    ld1(x, o + 6u, stage, line, b, stride, step);
    ld1(x, o + 7u, stage, line, b, stride, step);
}

fn st1(x: ptr<function, Reg>, q: u32, stage: u32, line: Line, base: u32, ns: u32) {
    store(stage, line, base + q * ns, (*x)[q]);
}

fn st8(x: ptr<function, Reg>, o: u32, stage: u32, line: Line, base: u32, ns: u32) {
    st1(x, o, stage, line, base, ns);
    st1(x, o + 1u, stage, line, base, ns);
    st1(x, o + 2u, stage, line, base, ns);
    st1(x, o + 3u, stage, line, base, ns);
    st1(x, o + 4u, stage, line, base, ns);
    st1(x, o + 5u, stage, line, base, ns);
    st1(x, o + 6u, stage, line, base, ns);
    st1(x, o + 7u, stage, line, base, ns);
}

// Column r0 of an 8 x M split (R = 8 M): M-point DFT of x[r0 + 8 r1] over
// r1, times exp(sign 2 pi i r0 q1 / R), written back to x[r0 + 8 q1].
fn col(x: ptr<function, Reg>, r0: u32, m: u32) {
    let u = 8u / m; // exp(sign 2 pi i / R) = w64(u)
    if m == 8u {
        let a = dft8(array<vec2<f32>, 8>(
            (*x)[r0], (*x)[r0 + 8u], (*x)[r0 + 16u], (*x)[r0 + 24u],
            (*x)[r0 + 32u], (*x)[r0 + 40u], (*x)[r0 + 48u], (*x)[r0 + 56u],
        ));
        (*x)[r0] = a[0];
        (*x)[r0 + 8u] = cmul(a[1], w64(u * r0));
        (*x)[r0 + 16u] = cmul(a[2], w64(2u * u * r0));
        (*x)[r0 + 24u] = cmul(a[3], w64(3u * u * r0));
        (*x)[r0 + 32u] = cmul(a[4], w64(4u * u * r0));
        (*x)[r0 + 40u] = cmul(a[5], w64(5u * u * r0));
        (*x)[r0 + 48u] = cmul(a[6], w64(6u * u * r0));
        (*x)[r0 + 56u] = cmul(a[7], w64(7u * u * r0));
    } else if m == 4u {
        let a = dft4(array<vec2<f32>, 4>((*x)[r0], (*x)[r0 + 8u], (*x)[r0 + 16u], (*x)[r0 + 24u]));
        (*x)[r0] = a[0];
        (*x)[r0 + 8u] = cmul(a[1], w64(u * r0));
        (*x)[r0 + 16u] = cmul(a[2], w64(2u * u * r0));
        (*x)[r0 + 24u] = cmul(a[3], w64(3u * u * r0));
    } else {
        let a = dft2(array<vec2<f32>, 2>((*x)[r0], (*x)[r0 + 8u]));
        (*x)[r0] = a[0];
        (*x)[r0 + 8u] = cmul(a[1], w64(u * r0));
    }
}

// Row q1 of the split: 8-point DFT over r0 of x[r0 + 8 q1], giving
// X[q1 + M q0] in y.
fn row(x: ptr<function, Reg>, y: ptr<function, Reg>, q1: u32, m: u32) {
    let o = 8u * q1;
    let a = dft8(array<vec2<f32>, 8>(
        (*x)[o], (*x)[o + 1u], (*x)[o + 2u], (*x)[o + 3u],
        (*x)[o + 4u], (*x)[o + 5u], (*x)[o + 6u], (*x)[o + 7u],
    ));
    (*y)[q1] = a[0];
    (*y)[q1 + m] = a[1];
    (*y)[q1 + 2u * m] = a[2];
    (*y)[q1 + 3u * m] = a[3];
    (*y)[q1 + 4u * m] = a[4];
    (*y)[q1 + 5u * m] = a[5];
    (*y)[q1 + 6u * m] = a[6];
    (*y)[q1 + 7u * m] = a[7];
}

// R-point DFT of x[0..R], in natural order, R in {2, 4, 8, 16, 32, 64}.
fn dft(x: ptr<function, Reg>, r: u32) {
    if r == 2u {
        let a = dft2(array<vec2<f32>, 2>((*x)[0], (*x)[1]));
        (*x)[0] = a[0];
        (*x)[1] = a[1];
    } else if r == 4u {
        let a = dft4(array<vec2<f32>, 4>((*x)[0], (*x)[1], (*x)[2], (*x)[3]));
        (*x)[0] = a[0];
        (*x)[1] = a[1];
        (*x)[2] = a[2];
        (*x)[3] = a[3];
    } else if r == 8u {
        let a = dft8(array<vec2<f32>, 8>(
            (*x)[0], (*x)[1], (*x)[2], (*x)[3], (*x)[4], (*x)[5], (*x)[6], (*x)[7],
        ));
        (*x)[0] = a[0];
        (*x)[1] = a[1];
        (*x)[2] = a[2];
        (*x)[3] = a[3];
        (*x)[4] = a[4];
        (*x)[5] = a[5];
        (*x)[6] = a[6];
        (*x)[7] = a[7];
    } else {
        let m = r >> 3u;
        col(x, 0u, m);
        col(x, 1u, m);
        col(x, 2u, m);
        col(x, 3u, m);
        col(x, 4u, m);
        col(x, 5u, m);
        col(x, 6u, m);
        col(x, 7u, m);
        var y: Reg;
        row(x, &y, 0u, m);
        row(x, &y, 1u, m);
        if m >= 4u {
            row(x, &y, 2u, m);
            row(x, &y, 3u, m);
        }
        if m == 8u {
            row(x, &y, 4u, m);
            row(x, &y, 5u, m);
            row(x, &y, 6u, m);
            row(x, &y, 7u, m);
        }
        *x = y;
    }
}

fn butterfly(stage: u32, line: Line, b: u32, ns: u32, r: u32) {
    let k = b & (ns - 1u);
    let stride = N / r;
    let step = (N / (ns * r)) * k;
    var x: Reg;
    if r < 8u {
        ld1(&x, 0u, stage, line, b, stride, step);
        ld1(&x, 1u, stage, line, b, stride, step);
        if r == 4u {
            ld1(&x, 2u, stage, line, b, stride, step);
            ld1(&x, 3u, stage, line, b, stride, step);
        }
    } else {
        ld8(&x, 0u, stage, line, b, stride, step);
        if r >= 16u {
            ld8(&x, 8u, stage, line, b, stride, step);
        }
        if r >= 32u {
            ld8(&x, 16u, stage, line, b, stride, step);
            ld8(&x, 24u, stage, line, b, stride, step);
        }
        if r == 64u {
            ld8(&x, 32u, stage, line, b, stride, step);
            ld8(&x, 40u, stage, line, b, stride, step);
            ld8(&x, 48u, stage, line, b, stride, step);
            ld8(&x, 56u, stage, line, b, stride, step);
        }
    }
    dft(&x, r);
    let base = (b - k) * r + k;
    if r < 8u {
        st1(&x, 0u, stage, line, base, ns);
        st1(&x, 1u, stage, line, base, ns);
        if r == 4u {
            st1(&x, 2u, stage, line, base, ns);
            st1(&x, 3u, stage, line, base, ns);
        }
    } else {
        st8(&x, 0u, stage, line, base, ns);
        if r >= 16u {
            st8(&x, 8u, stage, line, base, ns);
        }
        if r >= 32u {
            st8(&x, 16u, stage, line, base, ns);
            st8(&x, 24u, stage, line, base, ns);
        }
        if r == 64u {
            st8(&x, 32u, stage, line, base, ns);
            st8(&x, 40u, stage, line, base, ns);
            st8(&x, 48u, stage, line, base, ns);
            st8(&x, 56u, stage, line, base, ns);
        }
    }
}

// Real-to-complex post-processing: from Z = FFT_N(x[2n] + i x[2n+1]) in
// workgroup memory, X[k] = E[k] + exp(-i pi k / N) O[k] for k = 0..N with
// E = (Z[k] + conj Z[N-k]) / 2, O = -i (Z[k] - conj Z[N-k]) / 2.
fn r2c_post(line: Line, t: u32) {
    let half = ((STAGES + 1u) & 1u) * HALF + line.wl;
    for (var k = t; k <= N; k += T) {
        let zk = sh[half + (k & (N - 1u))];
        let zn = conj(sh[half + ((N - k) & (N - 1u))]);
        let e = 0.5 * (zk + zn);
        let d = 0.5 * (zk - zn);
        let o = vec2<f32>(d.y, -d.x);
        if line.live {
            dst[line.out_base + k * OUT_ELEM] = (e + cmul(twiddle_half(k), o)) * p.scale;
        }
    }
}

fn radix(s: u32) -> u32 {
    return select(select(select(RADIX3, RADIX2, s == 2u), RADIX1, s == 1u), RADIX0, s == 0u);
}

// Stage s (span ns = product of the earlier radices) for this thread's
// butterflies.
fn run_stage(s: u32, line: Line, t: u32) {
    var ns = 1u;
    for (var j = 0u; j < s; j++) {
        ns *= radix(j);
    }
    let r = radix(s);
    let count = N / (r * T);
    for (var i = 0u; i < count; i++) {
        butterfly(s, line, t + i * T, ns, r);
    }
}

// Barrier between stages; none is needed when one invocation owns a line.
fn sync() {
    if T > 1u {
        workgroupBarrier();
    }
}

@compute @workgroup_size(WG)
fn fft_lines(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    var t: u32;
    var wl: u32;
    if LANES_OVER_LINES {
        wl = li % LPW;
        t = li / LPW;
    } else {
        t = li % T;
        wl = li / T;
    }
    let l = (wid.x + wid.y * nwg.x) * LPW + wl;
    // Lanes past the last line (partial last workgroup) compute a copy of
    // the last line, so that loads need no guard (a guard per element costs
    // ~10% on lavapipe); only their stores are suppressed.
    let lc = min(l, p.lines - 1u);
    let bi = lc / p.lines_per_batch;
    let li_b = lc % p.lines_per_batch;
    let line = Line(
        l < p.lines,
        wl * N,
        bi * p.in_batch + li_b * p.in_line,
        bi * p.out_batch + li_b * p.out_line,
    );
    // Stages unrolled by hand so that, once the overrides are fixed, every
    // stage's span, radix and butterfly count are compile-time constants:
    // CPU drivers (lavapipe) then emit straight-line SIMD code.
    run_stage(0u, line, t);
    if STAGES > 1u {
        sync();
        run_stage(1u, line, t);
    }
    if STAGES > 2u {
        sync();
        run_stage(2u, line, t);
    }
    if STAGES > 3u {
        sync();
        run_stage(3u, line, t);
    }
    if MODE == 1u {
        sync();
        r2c_post(line, t);
    }
}
