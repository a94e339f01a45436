// Pseudo-spectral 2-D incompressible Navier–Stokes in vorticity form on a
// periodic square [0, L)^2, n x n points, batched:
//
//   dw/dt + u . grad w = nu lap w - drag w + f,
//   u = (d psi/dy, -d psi/dx),  -lap psi = w.
//
// Fields are [B, n, n] row-major (y rows, x columns); spectra are NumPy
// half spectra [B, n, n/2+1]: bin (iy, ix) has kx = ix kappa and
// ky = (iy <= n/2 ? iy : iy - n) kappa, kappa = 2 pi / L. The solver
// (src/ns/solver.rs) chains, per right-hand-side evaluation:
//   velocity_gradients (spectral)  ->  c2r of 4 fields per sample
//   advection (physical)           ->  r2c
//   cn_update (spectral): Crank–Nicolson for the linear terms with the
//   dealiased (2/3 rule) advection and the forcing explicit.
// Source: the scheme of the PyTorch baseline ../shared/baselines/torch_ns.py
// (CN + Heun), itself the standard Fourier–Galerkin method of Canuto et al.,
// "Spectral Methods", ch. 7.

struct Params {
    // Grid points per side.
    n: u32,
    // Half-spectrum width n/2 + 1.
    half: u32,
    // Number of half-spectrum elements of the whole batch: B n (n/2+1).
    spec_len: u32,
    // Number of physical points of the whole batch: B n n.
    phys_len: u32,
    // 2 pi / L.
    kappa: f32,
    // Kinematic viscosity nu.
    nu: f32,
    // Linear drag coefficient.
    drag: f32,
    // Time step.
    dt: f32,
    // Weights of the two advection terms in cn_update:
    // forward Euler (1, 0), Heun corrector (1/2, 1/2).
    c1: f32,
    c2: f32,
    // Stochastic forcing (science.md §2, the reference code's Q-Wiener
    // forcing): per step dt sigma xi_hat with xi_hat = b(k) z, b(k) =
    // exp(-alpha |k|^2 / 2) n^2 / (L sqrt(dt)) and z the Hermitian part of
    // complex white noise summed over kappa draws; noise_scale = sigma
    // sqrt(kappa) n^2 / (L sqrt(dt)), 0 when off.
    noise_alpha: f32,
    noise_scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

struct Mode {
    // Integer wavenumbers (kx, ky) of the bin.
    jx: i32,
    jy: i32,
    // |k|^2 = kappa^2 (jx^2 + jy^2).
    k2: f32,
    // Batch index and position in the per-sample spectrum.
    b: u32,
    local: u32,
}

fn mode(i: u32) -> Mode {
    let per = p.n * p.half;
    let local = i % per;
    let iy = local / p.half;
    let ix = local % p.half;
    var jy = i32(iy);
    if iy > p.n / 2u {
        jy = jy - i32(p.n);
    }
    let kx = f32(ix) * p.kappa;
    let ky = f32(jy) * p.kappa;
    return Mode(i32(ix), jy, kx * kx + ky * ky, i / per, local);
}

// The Nyquist bins (|j| = n/2) of odd derivatives are zeroed: their sign is
// ambiguous on an even grid and keeping them would make the derivative of
// a real field complex.
fn deriv_factor(j: i32) -> f32 {
    if u32(abs(j)) * 2u == p.n {
        return 0.0;
    }
    return f32(j) * p.kappa;
}

// 2/3-rule dealiasing: keep |jx|, |jy| <= n/3.
fn dealias(m: Mode) -> f32 {
    let keep = 3u * u32(abs(m.jx)) <= p.n && 3u * u32(abs(m.jy)) <= p.n;
    return select(0.0, 1.0, keep);
}

fn times_i(a: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(-a.y, a.x);
}

// ---- velocity_gradients: w_hat [B, n, half] -> grads [B, 4, n, half] =
// (u_hat, v_hat, (dw/dx)_hat, (dw/dy)_hat), psi_hat = w_hat / |k|^2.
@group(0) @binding(1) var<storage, read> vg_w: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> vg_out: array<vec2<f32>>;

@compute @workgroup_size(64)
fn velocity_gradients(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = flat_id(gid, nwg);
    if i >= p.spec_len {
        return;
    }
    let m = mode(i);
    let w = vg_w[i];
    let psi = select(w / m.k2, vec2<f32>(0.0), m.k2 == 0.0);
    let dx = deriv_factor(m.jx);
    let dy = deriv_factor(m.jy);
    let per = p.n * p.half;
    let base = m.b * 4u * per + m.local;
    vg_out[base] = dy * times_i(psi);
    vg_out[base + per] = -dx * times_i(psi);
    vg_out[base + 2u * per] = dx * times_i(w);
    vg_out[base + 3u * per] = dy * times_i(w);
}

// ---- advection: grads [B, 4, n, n] (u, v, dw/dx, dw/dy) -> u . grad w [B, n, n].
@group(0) @binding(1) var<storage, read> ad_grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> ad_out: array<f32>;

@compute @workgroup_size(64)
fn advection(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = flat_id(gid, nwg);
    if i >= p.phys_len {
        return;
    }
    let per = p.n * p.n;
    let b = i / per;
    let base = b * 4u * per + (i % per);
    ad_out[i] = ad_grads[base] * ad_grads[base + 2u * per]
        + ad_grads[base + per] * ad_grads[base + 3u * per];
}

// ---- cn_update: one Crank–Nicolson step with explicit advection/forcing,
// w_out = ((1 - a) w + dt g) / (1 + a),  g = f - mask (c1 N1 + c2 N2),
// a = dt/2 (nu |k|^2 + drag); f is one forcing spectrum [n, half] for
// every sample.
@group(0) @binding(1) var<storage, read> cn_w: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> cn_n1: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> cn_n2: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read> cn_f: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> cn_out: array<vec2<f32>>;
// Standard normals, one complex pair per half-spectrum bin [B, n, half].
@group(0) @binding(6) var<storage, read> cn_noise: array<vec2<f32>>;
// A closure term supplied from outside (spectral, [B, n, half]; zeros when
// unused), added to the explicit part like the forcing.
@group(0) @binding(7) var<storage, read> cn_closure: array<vec2<f32>>;

// Hermitian part of white complex noise, in distribution: each generic bin
// (Z(k) + conj Z(-k)) / 2 has variance 1/2 per component; the bins that are
// their own conjugate (kx, ky in {0, n/2}) are real with variance 1.
// The k = 0 bin gets none: a periodic flow has zero mean vorticity (the
// reference code lets its mean random-walk; no velocity feels it).
fn hermitian_noise(m: Mode, z: vec2<f32>) -> vec2<f32> {
    if m.jx == 0 && m.jy == 0 {
        return vec2<f32>(0.0);
    }
    let self_conj = (m.jx == 0 || u32(m.jx) * 2u == p.n) && (m.jy == 0 || u32(abs(m.jy)) * 2u == p.n);
    if self_conj {
        return vec2<f32>(z.x, 0.0);
    }
    return z * 0.70710678118654752;
}

// sigma xi_hat of one bin (0 when the stochastic forcing is off).
fn stochastic_forcing(m: Mode, z: vec2<f32>) -> vec2<f32> {
    if p.noise_scale == 0.0 {
        return vec2<f32>(0.0);
    }
    return p.noise_scale * exp(-0.5 * p.noise_alpha * m.k2) * hermitian_noise(m, z);
}

@compute @workgroup_size(64)
fn cn_update(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = flat_id(gid, nwg);
    if i >= p.spec_len {
        return;
    }
    let m = mode(i);
    let a = 0.5 * p.dt * (p.nu * m.k2 + p.drag);
    let adv = dealias(m) * (p.c1 * cn_n1[i] + p.c2 * cn_n2[i]);
    let g = cn_f[m.local] - adv + stochastic_forcing(m, cn_noise[i]) + cn_closure[i];
    // Increment form of ((1 - a) w + dt g) / (1 + a): in f32, 1 - a and
    // 1 + a round a ~ 1e-6 to a few percent, a bias repeated every step
    // (4e-5 after 1000 Taylor–Green steps); the increment keeps a exact.
    let w = cn_w[i];
    cn_out[i] = w + (p.dt * g - 2.0 * a * w) / (1.0 + a);
}

// ---- closure_terms: the closure terms of the state w (science.md §3), for
// datasets: out [B, 2, n, half] = (G_hat, H_hat) with
//   G = nu lap w + sigma xi   (xi: this step's stochastic forcing),
//   H = -u . grad w            (dealiased; N1 = raw spectrum of u . grad w).
@group(0) @binding(1) var<storage, read> ct_w: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> ct_n1: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> ct_noise: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> ct_out: array<vec2<f32>>;

@compute @workgroup_size(64)
fn closure_terms(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = flat_id(gid, nwg);
    if i >= p.spec_len {
        return;
    }
    let m = mode(i);
    let per = p.n * p.half;
    let base = m.b * 2u * per + m.local;
    ct_out[base] = -p.nu * m.k2 * ct_w[i] + stochastic_forcing(m, ct_noise[i]);
    ct_out[base + per] = -dealias(m) * ct_n1[i];
}

// ---- subgrid_term: the LES sub-grid closure of a restricted state
// (science.md §3, scenario sgs). This solver runs on the coarse grid and
// holds the restricted vorticity w_bar; N1 = raw spectrum of u_bar . grad
// w_bar (this solver's advection), and H_bar = the restricted fine
// convection -bar(u . grad w). Then
//   out = -tau = u_bar . grad w_bar - bar(u . grad w) = H_bar + dealias N1,
// what the coarse model, keeping its own dealiased convection, misses.
@group(0) @binding(1) var<storage, read> sg_n1: array<vec2<f32>>;
// Restricted fine closure terms [B, 2, n, half] = (G_bar, H_bar).
@group(0) @binding(2) var<storage, read> sg_terms: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> sg_out: array<vec2<f32>>;

@compute @workgroup_size(64)
fn subgrid_term(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = flat_id(gid, nwg);
    if i >= p.spec_len {
        return;
    }
    let m = mode(i);
    let per = p.n * p.half;
    sg_out[i] = sg_terms[m.b * 2u * per + per + m.local] + dealias(m) * sg_n1[i];
}
