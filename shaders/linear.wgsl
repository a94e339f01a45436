// Pointwise linear layers (1x1 convolutions, nn.Linear applied at every
// point) of the score network, forward and backward side by side
// (docs/specification.md §6):
//
//   forward:  z[b, o, p] = sum_i W[o, i] x[b, i, p] + bias[o]
//                          (+ add[b, o, p]) (+ temb[b, o]),
//             out = act(z), act = identity, GELU or SiLU; z is kept for
//             the backward when asked.
//   backward: dz = dout * act'(z)                        (activation_backward)
//             dx = W^T dz: the forward kernel with the weight strides
//                  swapped and no bias                  (forward)
//             dW[o, i] = sum_{b,p} dz[b, o, p] x[b, i, p],
//             dbias[o] = sum_{b,p} dz[b, o, p]          (weight_grad_*)
//
// Activations are [B, C, P] (P = H W points, channel-major, P a multiple of
// 4), addressed with element offsets and batch strides so that a layer can
// read or write a channel slice of a wider tensor (the fusion's concat).
// Weights and biases live in the one flat parameter buffer (offsets).
//
// lavapipe runs 8 invocations as one SIMD row and turns each buffer access
// into a gather: each invocation keeps an 8 x 4 register tile (8 output
// channels x 4 consecutive points) so that one vec4 load feeds 32 FMAs,
// and lanes run along the points so the weights are uniform per row.

struct Params {
    // Points per sample (multiple of 4), input and output channels, batch.
    p: u32,
    cin: u32,
    cout: u32,
    batch: u32,
    // Element offsets and batch strides of x, out (and z), add.
    x_off: u32,
    x_bs: u32,
    out_off: u32,
    out_bs: u32,
    add_off: u32,
    add_bs: u32,
    // Weight (o, i) at w_off + o w_so + i w_si; bias[o] at b_off + o.
    w_off: u32,
    w_so: u32,
    w_si: u32,
    b_off: u32,
    // temb[b, o] at temb_off + b temb_bs + o temb_os.
    temb_off: u32,
    temb_bs: u32,
    temb_os: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

override HAS_BIAS: bool = true;
override HAS_ADD: bool = false;
override HAS_TEMB: bool = false;
// 0: identity, 1: GELU, 2: SiLU.
override ACTIVATION: u32 = 0u;
override STORE_PRE: bool = false;

@group(0) @binding(0) var<uniform> prm: Params;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

// erf by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7, below f32 rounding
// of the GELU values it feeds).
fn erf_approx(x: f32) -> f32 {
    let a = abs(x);
    let t = 1.0 / (1.0 + 0.3275911 * a);
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
        + t * (-1.453152027 + t * 1.061405429))));
    let r = 1.0 - poly * exp(-a * a);
    return select(r, -r, x < 0.0);
}

// GELU(z) = z Phi(z), exact form (PyTorch's default), and its derivative
// Phi(z) + z phi(z).
fn gelu(z: vec4<f32>) -> vec4<f32> {
    let c = 0.70710678118654752;
    let e = vec4<f32>(erf_approx(z.x * c), erf_approx(z.y * c), erf_approx(z.z * c), erf_approx(z.w * c));
    return 0.5 * z * (1.0 + e);
}

fn gelu_grad(z: vec4<f32>) -> vec4<f32> {
    let c = 0.70710678118654752;
    let e = vec4<f32>(erf_approx(z.x * c), erf_approx(z.y * c), erf_approx(z.z * c), erf_approx(z.w * c));
    return 0.5 * (1.0 + e) + z * 0.3989422804014327 * exp(-0.5 * z * z);
}

// SiLU(z) = z sigmoid(z), derivative s (1 + z (1 - s)).
fn silu(z: vec4<f32>) -> vec4<f32> {
    return z / (1.0 + exp(-z));
}

fn silu_grad(z: vec4<f32>) -> vec4<f32> {
    let s = 1.0 / (1.0 + exp(-z));
    return s * (1.0 + z * (1.0 - s));
}

fn activation(z: vec4<f32>) -> vec4<f32> {
    switch ACTIVATION {
        case 1u: { return gelu(z); }
        case 2u: { return silu(z); }
        default: { return z; }
    }
}

fn activation_grad(z: vec4<f32>) -> vec4<f32> {
    switch ACTIVATION {
        case 1u: { return gelu_grad(z); }
        case 2u: { return silu_grad(z); }
        default: { return vec4<f32>(1.0); }
    }
}

// ---- forward (also dx = W^T dz of the backward) ----
@group(0) @binding(1) var<storage, read> fw_x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> fw_params: array<f32>;
@group(0) @binding(3) var<storage, read> fw_add: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> fw_temb: array<f32>;
@group(0) @binding(5) var<storage, read_write> fw_out: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> fw_pre: array<vec4<f32>>;

fn weight(o: u32, i: u32) -> f32 {
    return fw_params[prm.w_off + min(o, prm.cout - 1u) * prm.w_so + i * prm.w_si];
}

fn finish(b: u32, o: u32, p4: u32, acc: vec4<f32>) {
    if o >= prm.cout {
        return;
    }
    var z = acc;
    if HAS_BIAS {
        z += fw_params[prm.b_off + o];
    }
    if HAS_ADD {
        z += fw_add[(prm.add_off + b * prm.add_bs + o * prm.p) / 4u + p4];
    }
    if HAS_TEMB {
        z += fw_temb[prm.temb_off + b * prm.temb_bs + o * prm.temb_os];
    }
    let at = (prm.out_off + b * prm.out_bs + o * prm.p) / 4u + p4;
    if STORE_PRE {
        fw_pre[at] = z;
    }
    fw_out[at] = activation(z);
}

@compute @workgroup_size(64)
fn forward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // One workgroup per (sample, tile of 8 output channels, block of 256
    // points), taken from the workgroup id: the weight indices are then
    // uniform, which lavapipe turns into scalar loads instead of gathers.
    let q = prm.p / 4u;
    let tiles = (prm.cout + 7u) / 8u;
    let blocks = (q + 63u) / 64u;
    let w = wid.x + wid.y * nwg.x;
    let b = w / (blocks * tiles);
    let o0 = ((w / blocks) % tiles) * 8u;
    let p4 = (w % blocks) * 64u + lid;
    if b >= prm.batch || p4 >= q {
        return;
    }
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    var a4 = vec4<f32>(0.0);
    var a5 = vec4<f32>(0.0);
    var a6 = vec4<f32>(0.0);
    var a7 = vec4<f32>(0.0);
    var xi = (prm.x_off + b * prm.x_bs) / 4u + p4;
    for (var i = 0u; i < prm.cin; i++) {
        let x = fw_x[xi];
        xi += q;
        a0 += weight(o0, i) * x;
        a1 += weight(o0 + 1u, i) * x;
        a2 += weight(o0 + 2u, i) * x;
        a3 += weight(o0 + 3u, i) * x;
        a4 += weight(o0 + 4u, i) * x;
        a5 += weight(o0 + 5u, i) * x;
        a6 += weight(o0 + 6u, i) * x;
        a7 += weight(o0 + 7u, i) * x;
    }
    finish(b, o0, p4, a0);
    finish(b, o0 + 1u, p4, a1);
    finish(b, o0 + 2u, p4, a2);
    finish(b, o0 + 3u, p4, a3);
    finish(b, o0 + 4u, p4, a4);
    finish(b, o0 + 5u, p4, a5);
    finish(b, o0 + 6u, p4, a6);
    finish(b, o0 + 7u, p4, a7);
}

// ---- activation_backward: dz = dout * act'(z), elementwise over
// [B, C, P] slices (cout channels; dout at out_off/out_bs, z at
// add_off/add_bs, dz at x_off/x_bs).
@group(0) @binding(1) var<storage, read> gb_dout: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> gb_pre: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> gb_dz: array<vec4<f32>>;

@compute @workgroup_size(64)
fn activation_backward(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    let q = prm.p / 4u;
    let per = prm.cout * q;
    if id >= prm.batch * per {
        return;
    }
    let b = id / per;
    let r = id % per;
    let z = gb_pre[(prm.add_off + b * prm.add_bs) / 4u + r];
    gb_dz[(prm.x_off + b * prm.x_bs) / 4u + r] = gb_dout[(prm.out_off + b * prm.out_bs) / 4u + r] * activation_grad(z);
}

// ---- weight_grad_partial: split-K partial sums of dW and dbias.
// Invocation (pair, chunk): pair = o (cin + 1) + i, with i = cin the bias
// (x = 1); chunk c covers points [c L, (c + 1) L) of the B P points, L =
// CHUNK (a multiple of 4 dividing P, so a chunk lies in one sample).
// partial[c, o, i] (shape [chunks, cout, cin + 1]).
override CHUNK: u32 = 256u;

@group(0) @binding(1) var<storage, read> wg_dz: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> wg_x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> wg_partial: array<f32>;

@compute @workgroup_size(64)
fn weight_grad_partial(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    let pairs = prm.cout * (prm.cin + 1u);
    let chunks_per_sample = prm.p / CHUNK;
    let chunks = prm.batch * chunks_per_sample;
    if id >= pairs * chunks {
        return;
    }
    let pair = id % pairs;
    let c = id / pairs;
    let o = pair / (prm.cin + 1u);
    let i = pair % (prm.cin + 1u);
    let b = c / chunks_per_sample;
    let p0 = (c % chunks_per_sample) * CHUNK;
    let dz0 = (prm.out_off + b * prm.out_bs + o * prm.p + p0) / 4u;
    var acc = vec4<f32>(0.0);
    if i == prm.cin {
        for (var k = 0u; k < CHUNK / 4u; k++) {
            acc += wg_dz[dz0 + k];
        }
    } else {
        let x0 = (prm.x_off + b * prm.x_bs + i * prm.p + p0) / 4u;
        for (var k = 0u; k < CHUNK / 4u; k++) {
            acc += wg_dz[dz0 + k] * wg_x[x0 + k];
        }
    }
    wg_partial[id] = acc.x + acc.y + acc.z + acc.w;
}

// ---- weight_grad_reduce: grads[w_off + o w_so + i w_si] (+)= sum over
// chunks, and grads[b_off + o] for the bias column. ACCUMULATE adds to
// the gradient (micro-batches) instead of overwriting it.
override ACCUMULATE: bool = false;

@group(0) @binding(1) var<storage, read> wr_partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> wr_grads: array<f32>;

@compute @workgroup_size(64)
fn weight_grad_reduce(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let pair = flat_id(gid, nwg);
    let pairs = prm.cout * (prm.cin + 1u);
    if pair >= pairs {
        return;
    }
    let chunks = prm.batch * (prm.p / CHUNK);
    var s = 0.0;
    for (var c = 0u; c < chunks; c++) {
        s += wr_partial[c * pairs + pair];
    }
    let o = pair / (prm.cin + 1u);
    let i = pair % (prm.cin + 1u);
    var at = prm.b_off + o;
    if i < prm.cin {
        at = prm.w_off + o * prm.w_so + i * prm.w_si;
    }
    if ACCUMULATE {
        s += wr_grads[at];
    }
    wr_grads[at] = s;
}

// ---- activation_forward: out = act(in) elementwise over [B, C, P] slices
// (cout channels; in at x_off/x_bs, out at out_off/out_bs).
@group(0) @binding(1) var<storage, read> af_in: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> af_out: array<vec4<f32>>;

@compute @workgroup_size(64)
fn activation_forward(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    let q = prm.p / 4u;
    let per = prm.cout * q;
    if id >= prm.batch * per {
        return;
    }
    let b = id / per;
    let r = id % per;
    af_out[(prm.out_off + b * prm.out_bs) / 4u + r] = activation(af_in[(prm.x_off + b * prm.x_bs) / 4u + r]);
}

// ---- channel_sums: out[o temb_os + b] (+)= sum_p dz[b, o, p] for b < B
// (the gradient of a broadcast term, e.g. the time embedding added in
// every Fourier layer); columns b in [B, temb_os) are set to 0 (padding).
@group(0) @binding(1) var<storage, read> cs_dz: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> cs_out: array<f32>;

@compute @workgroup_size(64)
fn channel_sums(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    if id >= prm.cout * prm.temb_os {
        return;
    }
    let o = id / prm.temb_os;
    let b = id % prm.temb_os;
    var s = 0.0;
    if b < prm.batch {
        let q = prm.p / 4u;
        let base = (prm.out_off + b * prm.out_bs + o * prm.p) / 4u;
        var acc = vec4<f32>(0.0);
        for (var k = 0u; k < q; k++) {
            acc += cs_dz[base + k];
        }
        s = acc.x + acc.y + acc.z + acc.w;
        if ACCUMULATE {
            s += cs_out[id];
        }
    }
    cs_out[id] = s;
}
