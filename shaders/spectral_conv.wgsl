// The FNO spectral convolution (docs/specification.md §6) as truncated DFTs: only the
// kept modes are computed, forward and inverse, instead of full FFTs.
//
// Forward, for v [B, C, H, W] real (a channel slice of a wider tensor):
//   row_dft      A[bc, y, kx]  = s(kx) sum_x v[bc, y, x] e^{-2 pi i kx x / W},
//                kx < m                                       [B C, H, m]
//   col_dft      V[bc, r, kx]  = sum_y A[bc, y, kx] e^{-2 pi i ky(r) y / H},
//                ky(r) = r (r < m) or r - 2m (r >= m)         [B C, 2m, m]
//   mix_forward  O[b, o, r, kx] = sum_i V[b, i, r, kx] W[i, o, r, kx]
//                (W = w_pos for r < m, w_neg for r >= m)      [B O, 2m, m]
//   col_idft     Bc[bo, y, kx] = sum_r O[bo, r, kx] e^{+2 pi i ky(r) y / H}
//   row_idft     out[bo, y, x] = sum_kx c(kx) Re(Bc[bo, y, kx] e^{+2 pi i kx x / W})
//                with c(0) = 1/(HW), c(kx > 0) = 2/(HW): NumPy's irfft2 of the
//                half spectrum whose only non-zero bins are the kept ones
//                (the imaginary part of the kx = 0 column is dropped).
//
// Backward: the map is linear in v and each step's adjoint is another step
// (complex-linear maps have the conjugate transpose as real adjoint):
//   dBc = row_dft(dout) with s(0) = 1/(HW), s(kx > 0) = 2/(HW)
//   dO  = col_dft(dBc)
//   dV  = mix_backward_input(dO)   = sum_o dO conj(W)
//   dW  = mix_backward_weight      = sum_b conj(V) dO
//   dA  = col_idft(dV)
//   dv  = row_idft(dA) with c(kx) = 1, added to dv (ACCUMULATE).
//
// Twiddles come from a table tw[j] = (cos, sin)(2 pi j / N) built in f64 on
// the host (N = H or W, powers of two): angle indices are reduced mod N
// exactly, so no error grows with the frequency.

struct Params {
    // Batch, input and output channels, grid, kept modes.
    batch: u32,
    cin: u32,
    cout: u32,
    h: u32,
    w: u32,
    m: u32,
    // Real side (row_dft input / row_idft output): element offset and
    // batch stride of the channel slice; its channel count is `chan`.
    real_off: u32,
    real_bs: u32,
    chan: u32,
    // Weights (complex, [cin, cout, m, m, 2]) in the flat parameter buffer.
    w_pos: u32,
    w_neg: u32,
    // Row transforms: factors of kx = 0 and kx > 0; column transforms: the
    // sign of the exponent (-1 forward DFT, +1 inverse).
    scale0: f32,
    scale_rest: f32,
    sign: f32,
    // To the host's 64 bytes (uniform structs are read in 16-byte rows).
    _pad0: u32,
    _pad1: u32,
}

override ACCUMULATE: bool = false;

@group(0) @binding(0) var<uniform> prm: Params;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

fn cmul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

fn conj_mul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    // conj(a) b
    return vec2<f32>(a.x * b.x + a.y * b.y, a.x * b.y - a.y * b.x);
}

// Signed wavenumber of kept row r, as an index mod h.
fn ky_index(r: u32) -> u32 {
    return select(r + prm.h - 2u * prm.m, r, r < prm.m);
}

// ---- row_dft: real [B, chan, H, W] slice -> [B chan, H, m] complex.
// Invocation (row, group of 4 kx); lanes run along rows so the twiddle
// loads are uniform in a SIMD row.
@group(0) @binding(1) var<storage, read> rd_in: array<f32>;
@group(0) @binding(2) var<storage, read> rd_tw: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> rd_out: array<vec2<f32>>;

@compute @workgroup_size(64)
fn row_dft(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    let rows = prm.batch * prm.chan * prm.h;
    let groups = (prm.m + 3u) / 4u;
    if id >= rows * groups {
        return;
    }
    let row = id % rows;
    let k0 = (id / rows) * 4u;
    let b = row / (prm.chan * prm.h);
    let base = prm.real_off + b * prm.real_bs + (row % (prm.chan * prm.h)) * prm.w;
    let mask = prm.w - 1u;
    var a0 = vec2<f32>(0.0);
    var a1 = vec2<f32>(0.0);
    var a2 = vec2<f32>(0.0);
    var a3 = vec2<f32>(0.0);
    for (var x = 0u; x < prm.w; x++) {
        let v = rd_in[base + x];
        // e^{-i theta} = (cos, -sin)
        a0 += v * rd_tw[(k0 * x) & mask];
        a1 += v * rd_tw[((k0 + 1u) * x) & mask];
        a2 += v * rd_tw[((k0 + 2u) * x) & mask];
        a3 += v * rd_tw[((k0 + 3u) * x) & mask];
    }
    let conj = vec2<f32>(1.0, -1.0);
    let out = row * prm.m + k0;
    let s0 = select(prm.scale_rest, prm.scale0, k0 == 0u);
    rd_out[out] = s0 * conj * a0;
    if k0 + 1u < prm.m {
        rd_out[out + 1u] = prm.scale_rest * conj * a1;
    }
    if k0 + 2u < prm.m {
        rd_out[out + 2u] = prm.scale_rest * conj * a2;
    }
    if k0 + 3u < prm.m {
        rd_out[out + 3u] = prm.scale_rest * conj * a3;
    }
}

// ---- col_dft: [F, H, m] -> [F, 2m, m] (F = fields = batch * chan),
// exponent sign prm.sign. Invocation (kx, group of 4 rows r, field).
@group(0) @binding(1) var<storage, read> cd_in: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> cd_tw: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> cd_out: array<vec2<f32>>;

@compute @workgroup_size(64)
fn col_dft(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    let groups = (2u * prm.m + 3u) / 4u;
    let fields = prm.batch * prm.chan;
    if id >= fields * groups * prm.m {
        return;
    }
    let kx = id % prm.m;
    let r0 = ((id / prm.m) % groups) * 4u;
    let f = id / (prm.m * groups);
    let mask = prm.h - 1u;
    let k0 = ky_index(r0);
    let k1 = ky_index(min(r0 + 1u, 2u * prm.m - 1u));
    let k2 = ky_index(min(r0 + 2u, 2u * prm.m - 1u));
    let k3 = ky_index(min(r0 + 3u, 2u * prm.m - 1u));
    let sg = vec2<f32>(1.0, prm.sign);
    var a0 = vec2<f32>(0.0);
    var a1 = vec2<f32>(0.0);
    var a2 = vec2<f32>(0.0);
    var a3 = vec2<f32>(0.0);
    var at = f * prm.h * prm.m + kx;
    for (var y = 0u; y < prm.h; y++) {
        let a = cd_in[at];
        at += prm.m;
        a0 += cmul(a, sg * cd_tw[(k0 * y) & mask]);
        a1 += cmul(a, sg * cd_tw[(k1 * y) & mask]);
        a2 += cmul(a, sg * cd_tw[(k2 * y) & mask]);
        a3 += cmul(a, sg * cd_tw[(k3 * y) & mask]);
    }
    let out = (f * 2u * prm.m + r0) * prm.m + kx;
    cd_out[out] = a0;
    if r0 + 1u < 2u * prm.m {
        cd_out[out + prm.m] = a1;
    }
    if r0 + 2u < 2u * prm.m {
        cd_out[out + 2u * prm.m] = a2;
    }
    if r0 + 3u < 2u * prm.m {
        cd_out[out + 3u * prm.m] = a3;
    }
}

// ---- col_idft: [F, 2m, m] -> [F, H, m], exponent sign prm.sign.
// Invocation (kx, group of 4 rows y, field).
@group(0) @binding(1) var<storage, read> ci_in: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> ci_tw: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> ci_out: array<vec2<f32>>;

@compute @workgroup_size(64)
fn col_idft(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    let groups = prm.h / 4u;
    let fields = prm.batch * prm.chan;
    if id >= fields * groups * prm.m {
        return;
    }
    let kx = id % prm.m;
    let y0 = ((id / prm.m) % groups) * 4u;
    let f = id / (prm.m * groups);
    let mask = prm.h - 1u;
    let sg = vec2<f32>(1.0, prm.sign);
    var a0 = vec2<f32>(0.0);
    var a1 = vec2<f32>(0.0);
    var a2 = vec2<f32>(0.0);
    var a3 = vec2<f32>(0.0);
    var at = f * 2u * prm.m * prm.m + kx;
    for (var r = 0u; r < 2u * prm.m; r++) {
        let a = ci_in[at];
        at += prm.m;
        let k = ky_index(r);
        a0 += cmul(a, sg * ci_tw[(k * y0) & mask]);
        a1 += cmul(a, sg * ci_tw[(k * (y0 + 1u)) & mask]);
        a2 += cmul(a, sg * ci_tw[(k * (y0 + 2u)) & mask]);
        a3 += cmul(a, sg * ci_tw[(k * (y0 + 3u)) & mask]);
    }
    let out = (f * prm.h + y0) * prm.m + kx;
    ci_out[out] = a0;
    ci_out[out + prm.m] = a1;
    ci_out[out + 2u * prm.m] = a2;
    ci_out[out + 3u * prm.m] = a3;
}

// ---- row_idft: [B chan, H, m] complex -> real [B, chan, H, W] slice,
// out (+)= sum_kx c(kx) Re(in e^{+i theta}). Invocation (group of 4 x, row).
@group(0) @binding(1) var<storage, read> ri_in: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> ri_tw: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> ri_out: array<vec4<f32>>;

@compute @workgroup_size(64)
fn row_idft(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    let groups = prm.w / 4u;
    let rows = prm.batch * prm.chan * prm.h;
    if id >= rows * groups {
        return;
    }
    let x0 = (id % groups) * 4u;
    let row = id / groups;
    let mask = prm.w - 1u;
    var acc = vec4<f32>(0.0);
    for (var kx = 0u; kx < prm.m; kx++) {
        let c = select(prm.scale_rest, prm.scale0, kx == 0u);
        let a = c * ri_in[row * prm.m + kx];
        // Re(a e^{i theta}) = a.x cos - a.y sin
        let t0 = ri_tw[(kx * x0) & mask];
        let t1 = ri_tw[(kx * (x0 + 1u)) & mask];
        let t2 = ri_tw[(kx * (x0 + 2u)) & mask];
        let t3 = ri_tw[(kx * (x0 + 3u)) & mask];
        acc += a.x * vec4<f32>(t0.x, t1.x, t2.x, t3.x) - a.y * vec4<f32>(t0.y, t1.y, t2.y, t3.y);
    }
    let b = row / (prm.chan * prm.h);
    let at = (prm.real_off + b * prm.real_bs + (row % (prm.chan * prm.h)) * prm.w + x0) / 4u;
    if ACCUMULATE {
        acc += ri_out[at];
    }
    ri_out[at] = acc;
}

// Offset (in complex elements of the flat parameter buffer) of W[i, o, r, kx].
fn weight_at(i: u32, o: u32, r: u32, kx: u32) -> u32 {
    let rr = select(r - prm.m, r, r < prm.m);
    let base = select(prm.w_neg, prm.w_pos, r < prm.m) / 2u;
    return base + ((i * prm.cout + o) * prm.m + rr) * prm.m + kx;
}

// ---- mix_forward: O[b, o, r, kx] = sum_i V[b, i, r, kx] W[i, o, r, kx].
@group(0) @binding(1) var<storage, read> mf_v: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> mf_params: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> mf_out: array<vec2<f32>>;

@compute @workgroup_size(64)
fn mix_forward(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    let modes = 2u * prm.m * prm.m;
    if id >= prm.batch * prm.cout * modes {
        return;
    }
    let mode = id % modes;
    let o = (id / modes) % prm.cout;
    let b = id / (modes * prm.cout);
    let r = mode / prm.m;
    let kx = mode % prm.m;
    var acc = vec2<f32>(0.0);
    for (var i = 0u; i < prm.cin; i++) {
        acc += cmul(mf_v[(b * prm.cin + i) * modes + mode], mf_params[weight_at(i, o, r, kx)]);
    }
    mf_out[id] = acc;
}

// ---- mix_backward_input: dV[b, i, r, kx] = sum_o dO[b, o, r, kx] conj(W).
@group(0) @binding(1) var<storage, read> mi_do: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> mi_params: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> mi_dv: array<vec2<f32>>;

@compute @workgroup_size(64)
fn mix_backward_input(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    let modes = 2u * prm.m * prm.m;
    if id >= prm.batch * prm.cin * modes {
        return;
    }
    let mode = id % modes;
    let i = (id / modes) % prm.cin;
    let b = id / (modes * prm.cin);
    let r = mode / prm.m;
    let kx = mode % prm.m;
    var acc = vec2<f32>(0.0);
    for (var o = 0u; o < prm.cout; o++) {
        acc += conj_mul(mi_params[weight_at(i, o, r, kx)], mi_do[(b * prm.cout + o) * modes + mode]);
    }
    mi_dv[id] = acc;
}

// ---- mix_backward_weight: dW[i, o, r, kx] (+)= sum_b conj(V) dO, into the
// flat gradient buffer (same layout as the parameters).
@group(0) @binding(1) var<storage, read> mw_v: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> mw_do: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> mw_grads: array<vec2<f32>>;

@compute @workgroup_size(64)
fn mix_backward_weight(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    let modes = 2u * prm.m * prm.m;
    if id >= prm.cin * prm.cout * modes {
        return;
    }
    let mode = id % modes;
    let o = (id / modes) % prm.cout;
    let i = id / (modes * prm.cout);
    let r = mode / prm.m;
    let kx = mode % prm.m;
    var acc = vec2<f32>(0.0);
    for (var b = 0u; b < prm.batch; b++) {
        acc += conj_mul(mw_v[(b * prm.cin + i) * modes + mode], mw_do[(b * prm.cout + o) * modes + mode]);
    }
    let at = weight_at(i, o, r, kx);
    if ACCUMULATE {
        acc += mw_grads[at];
    }
    mw_grads[at] = acc;
}

// ---- The FFT route (the other way to the same kept modes): r2c of the
// fields, gather_modes, the same mixing, scatter_modes, c2r. Half spectra
// are [F, H, W/2+1] (NumPy layout), compact modes [F, 2m, m].

// gather_modes: compact[f, r, kx] = s(kx) half[f, row(r), kx].
@group(0) @binding(1) var<storage, read> gm_half: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> gm_unused: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> gm_out: array<vec2<f32>>;

@compute @workgroup_size(64)
fn gather_modes(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    let modes = 2u * prm.m * prm.m;
    if id >= prm.batch * prm.chan * modes {
        return;
    }
    let f = id / modes;
    let r = (id % modes) / prm.m;
    let kx = id % prm.m;
    let half = prm.w / 2u + 1u;
    let s = select(prm.scale_rest, prm.scale0, kx == 0u);
    gm_out[id] = s * gm_half[(f * prm.h + ky_index(r)) * half + kx];
}

// scatter_modes: half[f, y, kx] = s(kx) compact[f, r(y), kx] on the kept
// bins, 0 on every other bin (the whole half spectrum is written).
@group(0) @binding(1) var<storage, read> sm_modes: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> sm_unused: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> sm_half: array<vec2<f32>>;

@compute @workgroup_size(64)
fn scatter_modes(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    let half = prm.w / 2u + 1u;
    let per = prm.h * half;
    if id >= prm.batch * prm.chan * per {
        return;
    }
    let f = id / per;
    let y = (id % per) / half;
    let kx = id % half;
    var v = vec2<f32>(0.0);
    // Kept rows: 0 .. m-1 (r = y) and h-m .. h-1 (r = y - h + 2m).
    let low = y < prm.m;
    let high = y >= prm.h - prm.m;
    if kx < prm.m && (low || high) {
        let r = select(y + 2u * prm.m - prm.h, y, low);
        let s = select(prm.scale_rest, prm.scale0, kx == 0u);
        v = s * sm_modes[(f * 2u * prm.m + r) * prm.m + kx];
    }
    sm_half[id] = v;
}

// copy_fields: between a [B, chan, H, W] channel slice (real_off/real_bs)
// and contiguous fields [B chan, H, W]; cin = 0: slice -> fields, cin = 1:
// fields -> slice (added to it when ACCUMULATE).
@group(0) @binding(1) var<storage, read> cf_src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> cf_unused: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> cf_dst: array<vec4<f32>>;

@compute @workgroup_size(64)
fn copy_fields(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    let per = prm.chan * prm.h * prm.w / 4u;
    if id >= prm.batch * per {
        return;
    }
    let b = id / per;
    let slice = prm.real_off / 4u + b * (prm.real_bs / 4u) + id % per;
    if prm.cin == 0u {
        cf_dst[id] = cf_src[slice];
    } else {
        var v = cf_src[id];
        if ACCUMULATE {
            v += cf_dst[slice];
        }
        cf_dst[slice] = v;
    }
}
