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
// Source: the scheme of the PyTorch baseline benches/baselines/torch_ns.py
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
    // Stochastic forcing (docs/specification.md §2, the reference code's Q-Wiener
    // forcing): per step dt sigma xi_hat with xi_hat = b(k) z, b(k) =
    // exp(-alpha |k|^2 / 2) n^2 / (L sqrt(dt)) and z the Hermitian part of
    // complex white noise summed over kappa draws; noise_scale = sigma
    // sqrt(kappa) n^2 / (L sqrt(dt)), 0 when off.
    noise_alpha: f32,
    noise_scale: f32,
    // Eddy-viscosity closures (eddy_* kernels below; unused by the solver):
    // the sharp spectral filter applied to the state first (bins with
    // |jx|, |jy| < cutoff kept; n keeps all), the filter width Delta, and
    // the model (0: Smagorinsky, 1: Leith).
    cutoff: u32,
    delta: f32,
    leith: u32,
    pad: u32,
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

// Spectra of u, v, dw/dx, dw/dy of one bin of w.
struct Gradients {
    u: vec2<f32>,
    v: vec2<f32>,
    wx: vec2<f32>,
    wy: vec2<f32>,
}

fn stream_function(m: Mode, w: vec2<f32>) -> vec2<f32> {
    return select(w / m.k2, vec2<f32>(0.0), m.k2 == 0.0);
}

fn gradients(m: Mode, w: vec2<f32>) -> Gradients {
    let psi = stream_function(m, w);
    let dx = deriv_factor(m.jx);
    let dy = deriv_factor(m.jy);
    return Gradients(dy * times_i(psi), -dx * times_i(psi), dx * times_i(w), dy * times_i(w));
}

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
    let g = gradients(m, vg_w[i]);
    let per = p.n * p.half;
    let base = m.b * 4u * per + m.local;
    vg_out[base] = g.u;
    vg_out[base + per] = g.v;
    vg_out[base + 2u * per] = g.wx;
    vg_out[base + 3u * per] = g.wy;
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

// ---- closure_terms: the closure terms of the state w (docs/specification.md §3), for
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
// (docs/specification.md §3, scenario sgs). This solver runs on the coarse grid and
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

// ---- Eddy-viscosity closures: the classical baselines of the sgs scenario
// (docs/specification.md §3), in vorticity form (Leith 1996; Maulik & San 2017):
//   -tau ~ C div(Delta^q s grad w),
//   Smagorinsky: q = 2, s = |S| = sqrt(2 S_ij S_ij),  C = C_S^2;
//   Leith:       q = 3, s = |grad w|,                C = C_L^3.
// eddy_gradients -> c2r of 6 fields -> eddy_flux -> r2c of 3 fields ->
// eddy_divergence gives D = div(Delta^q s grad w) (C = 1) and u . grad w
// of the (filtered) state; eddy_coefficient gives the dynamic C (Germano
// identity, least squares of Lilly over the domain, per trajectory) and
// eddy_apply writes C D into the solver's closure term.

fn in_band(m: Mode) -> bool {
    return u32(abs(m.jx)) < p.cutoff && u32(abs(m.jy)) < p.cutoff;
}

// eddy_gradients: w_hat [B, n, half] -> [B, 6, n, half] = (u, v, dw/dx,
// dw/dy, S11, S12) of the filtered w; S11 = du/dx = d2psi/dxdy = -S22,
// S12 = (du/dy + dv/dx) / 2 = (d2psi/dy2 - d2psi/dx2) / 2.
@group(0) @binding(1) var<storage, read> eg_w: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> eg_out: array<vec2<f32>>;

@compute @workgroup_size(64)
fn eddy_gradients(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = flat_id(gid, nwg);
    if i >= p.spec_len {
        return;
    }
    let m = mode(i);
    let w = select(vec2<f32>(0.0), eg_w[i], in_band(m));
    let g = gradients(m, w);
    let psi = stream_function(m, w);
    let kx = f32(m.jx) * p.kappa;
    let ky = f32(m.jy) * p.kappa;
    let per = p.n * p.half;
    let base = m.b * 6u * per + m.local;
    eg_out[base] = g.u;
    eg_out[base + per] = g.v;
    eg_out[base + 2u * per] = g.wx;
    eg_out[base + 3u * per] = g.wy;
    eg_out[base + 4u * per] = -deriv_factor(m.jx) * deriv_factor(m.jy) * psi;
    eg_out[base + 5u * per] = 0.5 * (kx * kx - ky * ky) * psi;
}

// eddy_flux: fields [B, 6, n, n] -> [B, 3, n, n] = (nu_e dw/dx,
// nu_e dw/dy, u . grad w), nu_e = Delta^q s (the coefficient comes later).
@group(0) @binding(1) var<storage, read> ef_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> ef_out: array<f32>;

@compute @workgroup_size(64)
fn eddy_flux(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = flat_id(gid, nwg);
    if i >= p.phys_len {
        return;
    }
    let per = p.n * p.n;
    let b = i / per;
    let base = b * 6u * per + (i % per);
    let u = ef_in[base];
    let v = ef_in[base + per];
    let wx = ef_in[base + 2u * per];
    let wy = ef_in[base + 3u * per];
    let s11 = ef_in[base + 4u * per];
    let s12 = ef_in[base + 5u * per];
    var nu_e: f32;
    if p.leith == 1u {
        nu_e = p.delta * p.delta * p.delta * sqrt(wx * wx + wy * wy);
    } else {
        nu_e = p.delta * p.delta * 2.0 * sqrt(s11 * s11 + s12 * s12);
    }
    let out = b * 3u * per + (i % per);
    ef_out[out] = nu_e * wx;
    ef_out[out + per] = nu_e * wy;
    ef_out[out + 2u * per] = u * wx + v * wy;
}

// eddy_divergence: [B, 3, n, half] spectra of eddy_flux -> [B, 2, n, half]
// = (D, J): D = div(nu_e grad w), J = u . grad w, both dealiased (2/3 rule
// of this grid, as the solver's own convection).
@group(0) @binding(1) var<storage, read> ed_flux: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> ed_out: array<vec2<f32>>;

@compute @workgroup_size(64)
fn eddy_divergence(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = flat_id(gid, nwg);
    if i >= p.spec_len {
        return;
    }
    let m = mode(i);
    let per = p.n * p.half;
    let src = m.b * 3u * per + m.local;
    let div = deriv_factor(m.jx) * times_i(ed_flux[src]) + deriv_factor(m.jy) * times_i(ed_flux[src + per]);
    let dst = m.b * 2u * per + m.local;
    ed_out[dst] = dealias(m) * div;
    ed_out[dst + per] = dealias(m) * ed_flux[src + 2u * per];
}

// eddy_coefficient: one workgroup per trajectory. With (D, J) of the state
// (`base`) and (D_t, J_t) of its test-filtered state with width 2 Delta
// (`test`), both [B, 2, n, half], the Germano identity for -tau ~ C D reads
// -L ~ C M with L = ~J - J_t (the test-filtered resolved convection minus
// the convection of the test-filtered state) and M = D_t - ~D (~: the test
// filter, the band of this dispatch's p.cutoff). Least squares over the
// domain (Parseval on the half spectrum: the inner columns count twice):
//   C = max(0, <-L, M> / <M, M>)   (clipped: no backscatter; 0 if M = 0).
@group(0) @binding(1) var<storage, read> ec_base: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> ec_test: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> ec_coef: array<f32>;

var<workgroup> ec_sums: array<vec2<f32>, 256>;

@compute @workgroup_size(256)
fn eddy_coefficient(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let b = wid.x;
    let per = p.n * p.half;
    var acc = vec2<f32>(0.0);
    for (var j = li; j < per; j = j + 256u) {
        let m = mode(b * per + j);
        if in_band(m) {
            let weight = select(2.0, 1.0, m.jx == 0 || u32(m.jx) * 2u == p.n);
            let at = b * 2u * per + j;
            let l = ec_base[at + per] - ec_test[at + per];
            let mm = ec_test[at] - ec_base[at];
            acc = acc + weight * vec2<f32>(-dot(l, mm), dot(mm, mm));
        }
    }
    ec_sums[li] = acc;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s = s / 2u) {
        if li < s {
            ec_sums[li] = ec_sums[li] + ec_sums[li + s];
        }
        workgroupBarrier();
    }
    if li == 0u {
        let t = ec_sums[0];
        ec_coef[b] = select(max(t.x / t.y, 0.0), 0.0, t.y <= 0.0);
    }
}

// eddy_apply: closure [B, n, half] = C_b D, with C [B] and (D, J) [B, 2, n, half].
@group(0) @binding(1) var<storage, read> ea_coef: array<f32>;
@group(0) @binding(2) var<storage, read> ea_terms: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> ea_out: array<vec2<f32>>;

@compute @workgroup_size(64)
fn eddy_apply(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = flat_id(gid, nwg);
    if i >= p.spec_len {
        return;
    }
    let m = mode(i);
    ea_out[i] = ea_coef[m.b] * ea_terms[m.b * 2u * p.n * p.half + m.local];
}
