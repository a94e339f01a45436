// Adam (Kingma & Ba 2015, as torch.optim.Adam without weight decay) over
// the flat parameter vector, elements [start, end):
//   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
//   p -= step_size m / (sqrt(v) / bc2_sqrt + eps),
// with step_size = lr / (1 - b1^k) and bc2_sqrt = sqrt(1 - b2^k) at step k
// (computed on the host in f64).

struct Params {
    start: u32,
    end: u32,
    step_size: f32,
    bc2_sqrt: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> prm: Params;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> exp_avg: array<f32>;
@group(0) @binding(4) var<storage, read_write> exp_avg_sq: array<f32>;

@compute @workgroup_size(64)
fn adam(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = prm.start + gid.x + gid.y * nwg.x * 64u;
    if i >= prm.end {
        return;
    }
    let g = grads[i];
    let m = prm.beta1 * exp_avg[i] + (1.0 - prm.beta1) * g;
    let v = prm.beta2 * exp_avg_sq[i] + (1.0 - prm.beta2) * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    params[i] -= prm.step_size * m / (sqrt(v) / prm.bc2_sqrt + prm.eps);
}
