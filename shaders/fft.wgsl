// Batched 1-D FFT passes (Stockham auto-sort, radix 8 with one radix-4 or
// radix-2 stage when log2 N is not a multiple of 3), all stages of one line
// in one dispatch: stage 0 reads global memory, intermediate stages exchange
// through ping-pong workgroup memory (one barrier per stage), the last stage
// writes global memory. A 2-D transform is two such passes (rows, columns);
// see src/fft/mod.rs.
//
// Source: Stockham formulation of Govindaraju et al., "High performance
// discrete Fourier transforms on graphics processors", SC'08 (Alg. 1), with
// the real-input packing of Cooley, Lewis & Welch (1970): a real line of
// length 2N is an N-point complex FFT plus an O(N) pre/post-processing step.
//
// A "line" is N complex elements at base + k * elem_stride; line l of the
// dispatch has base = (l / lines_per_batch) * batch_stride
//                    + (l % lines_per_batch) * line_stride.
// Forward: X[k] = sum_n x[n] exp(-2 pi i k n / N), unnormalised; inverse uses
// exp(+...) and the host passes scale = 1/N (NumPy's "backward" norm).

// Complex transform length of this pass (power of two, >= 2).
override N: u32 = 8u;
// Number of stages: ceil(log2(N) / 3).
override STAGES: u32 = 1u;
// Threads per line: max(1, N / 8).
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
override WG: u32 = 1u;
// Ping-pong workgroup storage: two halves of LPW * N elements.
override HALF: u32 = LPW * N;

struct Params {
    lines: u32,
    lines_per_batch: u32,
    // Twiddle table index stride: 1 for c2c (table of N), 2 for real
    // passes (table of 2N, also used by the pre/post-processing).
    tw_stride: u32,
    _pad0: u32,
    in_line: u32,
    in_batch: u32,
    in_elem: u32,
    _pad1: u32,
    out_line: u32,
    out_batch: u32,
    out_elem: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
// tw[j] = exp(-2 pi i j / (N * tw_stride)), computed in f64 on the host.
@group(0) @binding(1) var<storage, read> tw: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> src: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> dst: array<vec2<f32>>;

var<workgroup> sh: array<vec2<f32>, 2u * HALF>;

const SQRT_HALF: f32 = 0.70710678118654752;

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
    var x = src[line.in_base + k * p.in_elem];
    if k == 0u || k == N {
        x.y = 0.0;
    }
    return x;
}

// Element idx of the stage-0 input.
fn load_input(line: Line, idx: u32) -> vec2<f32> {
    if !line.live {
        return vec2<f32>(0.0);
    }
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
    return src[line.in_base + idx * p.in_elem];
}

fn load(stage: u32, line: Line, idx: u32) -> vec2<f32> {
    if stage == 0u {
        return load_input(line, idx);
    }
    return sh[((stage + 1u) % 2u) * HALF + line.wl + idx];
}

fn store(stage: u32, line: Line, idx: u32, v: vec2<f32>) {
    if stage + 1u == STAGES && MODE != 1u {
        if line.live {
            dst[line.out_base + idx * p.out_elem] = v * p.scale;
        }
        return;
    }
    sh[(stage % 2u) * HALF + line.wl + idx] = v;
}

// Stage `stage` of span ns = 8^stage for butterfly b of a radix-R stage:
// inputs b + r N/R, twiddles exp(sign 2 pi i r (b mod ns) / (ns R)),
// outputs (b - k) R + k + r ns.
fn stage8(stage: u32, line: Line, b: u32, ns: u32) {
    let k = b & (ns - 1u);
    let step = (N / (ns * 8u)) * k;
    var v: array<vec2<f32>, 8>;
    for (var r = 0u; r < 8u; r++) {
        v[r] = load(stage, line, b + r * (N / 8u));
    }
    if stage > 0u {
        // One table read per butterfly; the other powers by products (each
        // adds ~1 ulp: w^7 carries ≤ 4 roundings, within the f32 budget).
        let w1 = twiddle(step);
        let w2 = cmul(w1, w1);
        let w3 = cmul(w2, w1);
        let w4 = cmul(w2, w2);
        v[1] = cmul(v[1], w1);
        v[2] = cmul(v[2], w2);
        v[3] = cmul(v[3], w3);
        v[4] = cmul(v[4], w4);
        v[5] = cmul(v[5], cmul(w4, w1));
        v[6] = cmul(v[6], cmul(w3, w3));
        v[7] = cmul(v[7], cmul(w4, w3));
    }
    v = dft8(v);
    let base = (b - k) * 8u + k;
    for (var r = 0u; r < 8u; r++) {
        store(stage, line, base + r * ns, v[r]);
    }
}

fn stage4(stage: u32, line: Line, b: u32, ns: u32) {
    let k = b & (ns - 1u);
    let step = (N / (ns * 4u)) * k;
    var v: array<vec2<f32>, 4>;
    for (var r = 0u; r < 4u; r++) {
        v[r] = load(stage, line, b + r * (N / 4u));
    }
    if stage > 0u {
        let w1 = twiddle(step);
        let w2 = cmul(w1, w1);
        v[1] = cmul(v[1], w1);
        v[2] = cmul(v[2], w2);
        v[3] = cmul(v[3], cmul(w2, w1));
    }
    v = dft4(v);
    let base = (b - k) * 4u + k;
    for (var r = 0u; r < 4u; r++) {
        store(stage, line, base + r * ns, v[r]);
    }
}

fn stage2(stage: u32, line: Line, b: u32, ns: u32) {
    let k = b & (ns - 1u);
    var v = array<vec2<f32>, 2>(load(stage, line, b), load(stage, line, b + N / 2u));
    if stage > 0u {
        v[1] = cmul(v[1], twiddle((N / (ns * 2u)) * k));
    }
    v = dft2(v);
    let base = (b - k) * 2u + k;
    store(stage, line, base, v[0]);
    store(stage, line, base + ns, v[1]);
}

// Real-to-complex post-processing: from Z = FFT_N(x[2n] + i x[2n+1]) in
// workgroup memory, X[k] = E[k] + exp(-i pi k / N) O[k] for k = 0..N with
// E = (Z[k] + conj Z[N-k]) / 2, O = -i (Z[k] - conj Z[N-k]) / 2.
fn r2c_post(line: Line, t: u32) {
    let half = ((STAGES + 1u) % 2u) * HALF + line.wl;
    for (var k = t; k <= N; k += T) {
        let zk = sh[half + (k % N)];
        let zn = conj(sh[half + ((N - k) % N)]);
        let e = 0.5 * (zk + zn);
        let d = 0.5 * (zk - zn);
        let o = vec2<f32>(d.y, -d.x);
        if line.live {
            dst[line.out_base + k * p.out_elem] = (e + cmul(twiddle_half(k), o)) * p.scale;
        }
    }
}

// Stage s (span ns = 8^s, radix min(8, N / ns)) for this thread's butterflies.
fn run_stage(s: u32, line: Line, t: u32) {
    let ns = 1u << (3u * s);
    let r = min(8u, N / ns);
    let count = N / (r * T);
    for (var i = 0u; i < count; i++) {
        let b = t + i * T;
        if r == 8u {
            stage8(s, line, b, ns);
        } else if r == 4u {
            stage4(s, line, b, ns);
        } else {
            stage2(s, line, b, ns);
        }
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
    let bi = l / p.lines_per_batch;
    let li_b = l % p.lines_per_batch;
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
        workgroupBarrier();
        run_stage(1u, line, t);
    }
    if STAGES > 2u {
        workgroupBarrier();
        run_stage(2u, line, t);
    }
    if STAGES > 3u {
        workgroupBarrier();
        run_stage(3u, line, t);
    }
    if MODE == 1u {
        workgroupBarrier();
        r2c_post(line, t);
    }
}
