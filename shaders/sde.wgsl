// Reverse-time VE-SDE steps (docs/specification.md §5). The score source writes
// out = sigma(t) * score at the evaluation point x (the network's output
// before its division by sigma(t)); the host folds 1/sigma, g(t)^2 and the
// step length into `drift` (f64 there, so that no kernel evaluates s^t).
// One step from t_i down to t_{i+1}, h = t_i - t_{i+1}:
//   Euler–Maruyama:  x <- x + drift out + noise z
//   Heun, predictor: d = drift out; x_save = x; x <- x + d + noise z
//   Heun, corrector: x <- x_save + (d + drift out) / 2 + noise z  (same z)
// with drift = lambda g^2 h / sigma (lambda = 1 for the SDE, 1/2 for the
// probability-flow ODE) and noise 0 for the ODE. The final step, t_min -> 0,
// is em_step with drift = k / sigma(t_min) (k = sigma^2: Tweedie; g^2 t_min:
// the reference code's Euler step) and noise 0, for every sampler.

struct Params {
    // Elements of the state [B, n, n] (or values of t to fill).
    count: u32,
    // copy_frame: the frame index.
    frame: u32,
    _pad1: u32,
    _pad2: u32,
    drift: f32,
    noise: f32,
    // fill_time: the time; mixture_score: sigma(t).
    t: f32,
    // The analytic two-Gaussian mixture (w1, mu1, var1), (1 - w1, mu2, var2).
    w1: f32,
    mu1: f32,
    var1: f32,
    mu2: f32,
    var2: f32,
}

@group(0) @binding(0) var<uniform> prm: Params;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

// ---- fill_time: t[b] = prm.t (the network's diffusion time, per sample).
@group(0) @binding(1) var<storage, read_write> ft_t: array<f32>;

@compute @workgroup_size(64)
fn fill_time(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    if id < prm.count {
        ft_t[id] = prm.t;
    }
}

// ---- start: x = noise z (the prior N(0, sigma(t_max)^2) of the reverse run).
@group(0) @binding(1) var<storage, read> st_z: array<f32>;
@group(0) @binding(2) var<storage, read_write> st_x: array<f32>;

@compute @workgroup_size(64)
fn start(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    if id < prm.count {
        st_x[id] = prm.noise * st_z[id];
    }
}

// ---- em_step: x <- x + drift out + noise z.
@group(0) @binding(1) var<storage, read> em_out: array<f32>;
@group(0) @binding(2) var<storage, read> em_z: array<f32>;
@group(0) @binding(3) var<storage, read_write> em_x: array<f32>;

@compute @workgroup_size(64)
fn em_step(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    if id < prm.count {
        em_x[id] = em_x[id] + prm.drift * em_out[id] + prm.noise * em_z[id];
    }
}

// ---- heun_predict / heun_correct (bindings shared).
@group(0) @binding(1) var<storage, read> hn_out: array<f32>;
@group(0) @binding(2) var<storage, read> hn_z: array<f32>;
@group(0) @binding(3) var<storage, read_write> hn_x: array<f32>;
@group(0) @binding(4) var<storage, read_write> hn_save: array<f32>;
@group(0) @binding(5) var<storage, read_write> hn_d: array<f32>;

@compute @workgroup_size(64)
fn heun_predict(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    if id < prm.count {
        let x = hn_x[id];
        let d = prm.drift * hn_out[id];
        hn_save[id] = x;
        hn_d[id] = d;
        hn_x[id] = x + d + prm.noise * hn_z[id];
    }
}

@compute @workgroup_size(64)
fn heun_correct(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    if id < prm.count {
        let d = 0.5 * (hn_d[id] + prm.drift * hn_out[id]);
        hn_x[id] = hn_save[id] + d + prm.noise * hn_z[id];
    }
}

// ---- mixture_score: out = sigma * score of the per-point density
// w1 N(mu1, var1 + sigma^2) + (1 - w1) N(mu2, var2 + sigma^2): the exact
// score of that mixture diffused to time t, for validating the samplers
// without a network. The responsibilities are formed from log-densities
// relative to their maximum (no underflow far from a mode).
@group(0) @binding(1) var<storage, read> ms_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> ms_out: array<f32>;

@compute @workgroup_size(64)
fn mixture_score(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    if id >= prm.count {
        return;
    }
    let x = ms_x[id];
    let s2 = prm.t * prm.t;
    let v1 = prm.var1 + s2;
    let v2 = prm.var2 + s2;
    let e1 = x - prm.mu1;
    let e2 = x - prm.mu2;
    // log(w_k N_k) up to a common constant; w = 0 drops the component.
    var l1 = -0.5 * (e1 * e1 / v1 + log(v1));
    var l2 = -0.5 * (e2 * e2 / v2 + log(v2));
    var r1 = 0.0;
    if prm.w1 > 0.0 {
        l1 += log(prm.w1);
        if prm.w1 < 1.0 {
            l2 += log(1.0 - prm.w1);
            let l = max(l1, l2);
            let p1 = exp(l1 - l);
            r1 = p1 / (p1 + exp(l2 - l));
        } else {
            r1 = 1.0;
        }
    }
    let score = -(r1 * e1 / v1 + (1.0 - r1) * e2 / v2);
    ms_out[id] = prm.t * score;
}

// ---- copy_frame: frames[off + i] = x[i] (the denoising trajectory).
@group(0) @binding(1) var<storage, read> cf_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> cf_frames: array<f32>;

@compute @workgroup_size(64)
fn copy_frame(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let id = flat_id(gid, nwg);
    if id < prm.count {
        cf_frames[prm.count * prm.frame + id] = cf_x[id];
    }
}
