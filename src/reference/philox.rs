//! Philox4x32-10 on the CPU: the twin of `shaders/rng.wgsl`.
//!
//! Source: Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
//! SC'11; constants and round structure of Random123's `philox4x32`.

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Philox4x32 with 10 rounds of `counter` under `key`.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for _ in 0..10 {
        let p0 = u64::from(M0) * u64::from(c[0]);
        let p1 = u64::from(M1) * u64::from(c[2]);
        c = [
            (p1 >> 32) as u32 ^ c[1] ^ k[0],
            p1 as u32,
            (p0 >> 32) as u32 ^ c[3] ^ k[1],
            p0 as u32,
        ];
        k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
    }
    c
}

/// Word `i` of the stream (seed, counter): word `i % 4` of block `counter + i / 4`.
pub fn word(seed: u64, counter: u64, i: u64) -> u32 {
    let b = counter.wrapping_add(i / 4);
    let out = philox4x32_10(
        [b as u32, (b >> 32) as u32, 0, 0],
        [seed as u32, (seed >> 32) as u32],
    );
    out[(i % 4) as usize]
}

/// The shader's uniform conversion: 23 bits centred in their bin, in (0, 1).
pub fn to_unit(x: u32) -> f32 {
    ((x >> 9) as f32 + 0.5) * (1.0 / 8_388_608.0)
}

/// `n` uniforms of the stream, exactly as the GPU computes them.
pub fn uniforms(seed: u64, counter: u64, n: usize) -> Vec<f32> {
    (0..n as u64)
        .map(|i| to_unit(word(seed, counter, i)))
        .collect()
}

/// `n` standard normals of the stream (Box–Muller in f64 on the same words).
pub fn normals(seed: u64, counter: u64, n: usize) -> Vec<f64> {
    (0..n as u64)
        .map(|i| {
            let pair = i - i % 2;
            let u1 = f64::from(to_unit(word(seed, counter, pair)));
            let u2 = f64::from(to_unit(word(seed, counter, pair + 1)));
            let r = (-2.0 * u1.ln()).sqrt();
            let a = 2.0 * std::f64::consts::PI * u2;
            if i % 2 == 0 {
                r * a.cos()
            } else {
                r * a.sin()
            }
        })
        .collect()
}
