// A dense linear map along one axis of batched 2-D fields:
//   out[b, c, A, k] = sum_i M[A, i] in[b, c, i, k]      (+ out when ACCUMULATE)
// where the transformed axis is the rows or the columns, chosen by the
// strides (sa: along the transformed axis, sk: along the other one).
// Bicubic interpolation (docs/specification.md §6, the sparse pipeline) is two such
// maps, rows then columns, with matrices built on the host; its backward
// is the same two maps with the matrices transposed (strides swapped).

struct Params {
    batch: u32,
    chan: u32,
    // Lengths of the transformed axis (in, out) and of the other axis.
    na_in: u32,
    na_out: u32,
    nk: u32,
    in_off: u32,
    in_bs: u32,
    in_cs: u32,
    in_sa: u32,
    in_sk: u32,
    out_off: u32,
    out_bs: u32,
    out_cs: u32,
    out_sa: u32,
    out_sk: u32,
    // M[A, i] at m_off + A m_so + i m_si.
    m_off: u32,
    m_so: u32,
    m_si: u32,
    _pad0: u32,
    _pad1: u32,
}

override ACCUMULATE: bool = false;

@group(0) @binding(0) var<uniform> prm: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> mat: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn resample(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = gid.x + gid.y * nwg.x * 64u;
    if id >= prm.batch * prm.chan * prm.na_out * prm.nk {
        return;
    }
    let k = id % prm.nk;
    let a = (id / prm.nk) % prm.na_out;
    let f = id / (prm.nk * prm.na_out);
    let b = f / prm.chan;
    let c = f % prm.chan;
    var at = prm.in_off + b * prm.in_bs + c * prm.in_cs + k * prm.in_sk;
    var m = prm.m_off + a * prm.m_so;
    var acc = 0.0;
    for (var i = 0u; i < prm.na_in; i++) {
        acc += mat[m] * src[at];
        at += prm.in_sa;
        m += prm.m_si;
    }
    let o = prm.out_off + b * prm.out_bs + c * prm.out_cs + a * prm.out_sa + k * prm.out_sk;
    if ACCUMULATE {
        acc += dst[o];
    }
    dst[o] = acc;
}
