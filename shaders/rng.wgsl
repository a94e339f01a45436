// Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror & Shaw,
// "Parallel random numbers: as easy as 1, 2, 3", SC'11), keyed by a 64-bit
// seed, counting 64-bit blocks. Block c gives 4 words; element i of a fill
// uses word i % 4 of block counter + i / 4, so a stream is reproducible from
// (seed, counter) on any adapter. The CPU twin is src/reference/philox.rs.

struct Params {
    // Number of f32 values to write.
    n: u32,
    counter_lo: u32,
    counter_hi: u32,
    seed_lo: u32,
    seed_hi: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

const M0: u32 = 0xD2511F53u;
const M1: u32 = 0xCD9E8D57u;
const W0: u32 = 0x9E3779B9u;
const W1: u32 = 0xBB67AE85u;
const TWO_PI: f32 = 6.28318530717958648;

// High 32 bits of the 64-bit product a * b (WGSL has no 64-bit integers).
fn mulhi(a: u32, b: u32) -> u32 {
    let al = a & 0xFFFFu;
    let ah = a >> 16u;
    let bl = b & 0xFFFFu;
    let bh = b >> 16u;
    let ll = al * bl;
    let m1 = ah * bl;
    let m2 = al * bh;
    let carry = ((ll >> 16u) + (m1 & 0xFFFFu) + (m2 & 0xFFFFu)) >> 16u;
    return ah * bh + (m1 >> 16u) + (m2 >> 16u) + carry;
}

fn philox(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0u; round < 10u; round++) {
        let hi0 = mulhi(M0, c.x);
        let lo0 = M0 * c.x;
        let hi1 = mulhi(M1, c.z);
        let lo1 = M1 * c.z;
        c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k += vec2<u32>(W0, W1);
    }
    return c;
}

// Uniform in (0, 1): 23 random bits centred in their bin, exact in f32.
fn to_unit(x: u32) -> f32 {
    return (f32(x >> 9u) + 0.5) * (1.0 / 8388608.0);
}

fn block(b: u32) -> vec4<u32> {
    let lo = p.counter_lo + b;
    let hi = p.counter_hi + select(0u, 1u, lo < b);
    return philox(vec4<u32>(lo, hi, 0u, 0u), vec2<u32>(p.seed_lo, p.seed_hi));
}

// The invocation's block: its flat index in the 2-D grid of 64-wide
// workgroups.
fn block_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

// Standard normals by Box-Muller on the uniform pairs (0, 1) and (2, 3).
fn box_muller(u: vec4<f32>) -> vec4<f32> {
    let r0 = sqrt(-2.0 * log(u.x));
    let a0 = TWO_PI * u.y;
    let r1 = sqrt(-2.0 * log(u.z));
    let a1 = TWO_PI * u.w;
    return vec4<f32>(r0 * cos(a0), r0 * sin(a0), r1 * cos(a1), r1 * sin(a1));
}

// The 4 values of this invocation's block (uniforms, or normals when
// `normal`), the ones past p.n dropped.
fn fill(gid: vec3<u32>, nwg: vec3<u32>, normal: bool) {
    let b = block_index(gid, nwg);
    if 4u * b >= p.n {
        return;
    }
    let w = block(b);
    var v = vec4<f32>(to_unit(w.x), to_unit(w.y), to_unit(w.z), to_unit(w.w));
    if normal {
        v = box_muller(v);
    }
    for (var j = 0u; j < 4u; j++) {
        let i = 4u * b + j;
        if i < p.n {
            out[i] = v[j];
        }
    }
}

@compute @workgroup_size(64)
fn uniform_fill(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    fill(gid, nwg, false);
}

@compute @workgroup_size(64)
fn normal_fill(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    fill(gid, nwg, true);
}
