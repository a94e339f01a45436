// Fine-to-coarse restriction of batched fields (docs/specification.md §3), two ways.
//
// truncate, the sharp spectral cutoff filter (the default): the coarse half spectrum [B, m, m/2+1] keeps the
// fine bins with |kx|, |ky| < m/2, scaled by (m/n)^2 so that the coarse
// field has the same point values as the band-limited fine field (NumPy's
// unnormalised forward FFT). The coarse Nyquist bins (|k| = m/2) are set to
// zero: their fine counterparts +m/2 and -m/2 cannot both be kept.
//
// stride, plain striding in physical space (what the reference code does):
// coarse [B, m, m] takes every (n/m)-th point of fine [B, n, n]; the fine
// modes above m/2 alias onto the coarse ones.

struct Params {
    // Fine and coarse grid sizes.
    n: u32,
    m: u32,
    // Number of coarse half-spectrum elements of the whole batch.
    len: u32,
    // (m / n)^2 (truncate only).
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> fine: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> coarse: array<vec2<f32>>;

@compute @workgroup_size(64)
fn truncate(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if i >= p.len {
        return;
    }
    let hm = p.m / 2u + 1u;
    let hn = p.n / 2u + 1u;
    let per = p.m * hm;
    let b = i / per;
    let iy = (i % per) / hm;
    let ix = i % hm;
    if ix * 2u == p.m || iy * 2u == p.m {
        coarse[i] = vec2<f32>(0.0);
        return;
    }
    // Row iy of the coarse grid is ky = iy (iy < m/2) or iy - m (iy > m/2).
    var fy = iy;
    if iy > p.m / 2u {
        fy = iy + p.n - p.m;
    }
    coarse[i] = p.scale * fine[b * p.n * hn + fy * hn + ix];
}

@group(0) @binding(1) var<storage, read> fine_phys: array<f32>;
@group(0) @binding(2) var<storage, read_write> coarse_phys: array<f32>;

@compute @workgroup_size(64)
fn stride(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if i >= p.len {
        return;
    }
    let per = p.m * p.m;
    let b = i / per;
    let y = (i % per) / p.m;
    let x = i % p.m;
    let r = p.n / p.m;
    coarse_phys[i] = fine_phys[b * p.n * p.n + y * r * p.n + x * r];
}
