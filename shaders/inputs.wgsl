// Glue of the score network (docs/specification.md §5–6): its inputs (lifting
// channels, Gaussian Fourier time features), the noisy sample of the
// denoising score-matching loss and the loss's gradient.

struct Params {
    batch: u32,
    // Field rows and columns, and points per channel with padding (a
    // multiple of 4: the pointwise layers read vec4s).
    rows: u32,
    cols: u32,
    p_pad: u32,
    // Input field [B, rows cols] at in_off + b in_bs.
    in_off: u32,
    in_bs: u32,
    // Time features: embed_dim, offset of the embed_dim/2 frequencies in
    // the flat parameters, padded batch (columns of [embed_dim, bp]).
    embed: u32,
    freq_off: u32,
    bp: u32,
    // Points per loss partial sum.
    chunk: u32,
    // Training: the range of t and the loss gradient's factor 2 / B_total
    // (B_total: the whole batch, over micro-batches).
    t_min: f32,
    t_max: f32,
    grad_scale: f32,
    // Offsets of a micro-batch in the step's u [B_total] and z [B_total, P].
    u_off: u32,
    z_off: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> prm: Params;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

// sigma(t) = sqrt((s^{2t} - 1) / (2 ln s)), s = 26, with s^{2t} - 1 =
// expm1(2t ln s) taken by its series below 1e-3 (no cancellation at small t).
fn sigma(t: f32) -> f32 {
    let ln_s = 3.258096538021482;
    let a = 2.0 * t * ln_s;
    var e = exp(a) - 1.0;
    if abs(a) < 1e-3 {
        e = a * (1.0 + 0.5 * a * (1.0 + a / 3.0));
    }
    return sqrt(e / (2.0 * ln_s));
}

// ---- lift_input: field [B, rows, cols] -> [B, 3, p_pad] = (field, g_y,
// g_x), g = index / (size - 1) (0 for a size of 1); padding points 0.
@group(0) @binding(1) var<storage, read> li_field: array<f32>;
@group(0) @binding(2) var<storage, read_write> li_out: array<f32>;

@compute @workgroup_size(64)
fn lift_input(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    if id >= prm.batch * prm.p_pad {
        return;
    }
    let b = id / prm.p_pad;
    let p = id % prm.p_pad;
    let base = b * 3u * prm.p_pad + p;
    if p >= prm.rows * prm.cols {
        li_out[base] = 0.0;
        li_out[base + prm.p_pad] = 0.0;
        li_out[base + 2u * prm.p_pad] = 0.0;
        return;
    }
    let y = p / prm.cols;
    let x = p % prm.cols;
    li_out[base] = li_field[prm.in_off + b * prm.in_bs + p];
    li_out[base + prm.p_pad] = f32(y) / f32(max(prm.rows, 2u) - 1u);
    li_out[base + 2u * prm.p_pad] = f32(x) / f32(max(prm.cols, 2u) - 1u);
}

// ---- time_features: t [B] -> [embed, bp]: sin(2 pi t W_j) for j < E/2,
// cos(2 pi t W_{j - E/2}) after; columns b >= B are 0.
@group(0) @binding(1) var<storage, read> tf_t: array<f32>;
@group(0) @binding(2) var<storage, read> tf_params: array<f32>;
@group(0) @binding(3) var<storage, read_write> tf_out: array<f32>;

@compute @workgroup_size(64)
fn time_features(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    if id >= prm.embed * prm.bp {
        return;
    }
    let j = id / prm.bp;
    let b = id % prm.bp;
    if b >= prm.batch {
        tf_out[id] = 0.0;
        return;
    }
    let half = prm.embed / 2u;
    // The phase t W mod 1 first: 2 pi t W reaches ~1e2 rad for W ~ 30,
    // where sin of the f32 product would lose 5 digits.
    let phase = fract(tf_t[b] * tf_params[prm.freq_off + j % half]);
    let a = 6.283185307179586 * phase;
    tf_out[id] = select(cos(a), sin(a), j < half);
}

// ---- gather_rows: dst[b, j] = src[index[in_off + b], j] for rows of
// `cols` floats (a training batch from the dataset resident on the GPU).
@group(0) @binding(1) var<storage, read> gr_index: array<u32>;
@group(0) @binding(2) var<storage, read> gr_src: array<f32>;
@group(0) @binding(3) var<storage, read_write> gr_dst: array<f32>;

@compute @workgroup_size(64)
fn gather_rows(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    if id >= prm.batch * prm.cols {
        return;
    }
    let b = id / prm.cols;
    let j = id % prm.cols;
    gr_dst[id] = gr_src[gr_index[prm.in_off + b] * prm.cols + j];
}

// ---- dsm_inputs (docs/specification.md §5): t = t_min + (t_max - t_min) u and the
// noisy sample x_t = x0 + sigma(t) z, for u uniform and z normal (the
// micro-batch's part of the step's draws, at u_off / z_off).
@group(0) @binding(1) var<storage, read> di_u: array<f32>;
@group(0) @binding(2) var<storage, read> di_z: array<f32>;
@group(0) @binding(3) var<storage, read> di_x0: array<f32>;
@group(0) @binding(4) var<storage, read_write> di_t: array<f32>;
@group(0) @binding(5) var<storage, read_write> di_x: array<f32>;

@compute @workgroup_size(64)
fn dsm_inputs(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    let p = prm.rows * prm.cols;
    if id >= prm.batch * p {
        return;
    }
    let b = id / p;
    let t = prm.t_min + (prm.t_max - prm.t_min) * di_u[prm.u_off + b];
    if id % p == 0u {
        di_t[b] = t;
    }
    di_x[id] = di_x0[id] + sigma(t) * di_z[prm.z_off + id];
}

// ---- dsm_grad: the loss mean_b sum_p (s sigma + z)^2 in terms of the
// network output y = s sigma: d_out = (2 / B_total) (y + z) and partial
// sums of (y + z)^2 per (sample, chunk of `chunk` points) into
// partial[in_off + b * (P / chunk) + c].
@group(0) @binding(1) var<storage, read> dg_y: array<f32>;
@group(0) @binding(2) var<storage, read> dg_z: array<f32>;
@group(0) @binding(3) var<storage, read_write> dg_dout: array<f32>;
@group(0) @binding(4) var<storage, read_write> dg_partial: array<f32>;

@compute @workgroup_size(64)
fn dsm_grad(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    let p = prm.rows * prm.cols;
    let chunks = p / prm.chunk;
    if id >= prm.batch * chunks {
        return;
    }
    let scale = prm.grad_scale;
    let start = (id / chunks) * p + (id % chunks) * prm.chunk;
    var s = 0.0;
    for (var k = 0u; k < prm.chunk; k++) {
        let r = dg_y[start + k] + dg_z[prm.z_off + start + k];
        dg_dout[start + k] = scale * r;
        s += r * r;
    }
    dg_partial[prm.in_off + id] = s;
}
