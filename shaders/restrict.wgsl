// Fine-to-coarse restriction of batched fields (science.md §3), the sharp
// spectral cutoff filter: the coarse half spectrum [B, m, m/2+1] keeps the
// fine bins with |kx|, |ky| < m/2, scaled by (m/n)^2 so that the coarse
// field has the same point values as the band-limited fine field (NumPy's
// unnormalised forward FFT). The coarse Nyquist bins (|k| = m/2) are set to
// zero: their fine counterparts +m/2 and -m/2 cannot both be kept.

struct Params {
    // Fine and coarse grid sizes.
    n: u32,
    m: u32,
    // Number of coarse half-spectrum elements of the whole batch.
    len: u32,
    // (m / n)^2.
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
