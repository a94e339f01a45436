//! Dispatch of the glue kernels of `shaders/score.wgsl` (inputs of the
//! network, training batches, the loss).

use crate::error::Result;
use crate::gpu::{Gpu, KernelSpec, Shader, Slot, Tensor};

/// The uniform of `shaders/score.wgsl` (see its field comments).
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct GlueParams {
    pub batch: u32,
    pub rows: u32,
    pub cols: u32,
    pub p_pad: u32,
    pub in_off: u32,
    pub in_bs: u32,
    pub embed: u32,
    pub freq_off: u32,
    pub bp: u32,
    pub chunk: u32,
    pub t_min: f32,
    pub t_max: f32,
    pub grad_scale: f32,
    pub u_off: u32,
    pub z_off: u32,
    pub _pad: u32,
}

const fn spec(entry: &'static str, slots: &'static [Slot]) -> KernelSpec {
    KernelSpec {
        shader: Shader::Score,
        entry,
        slots,
    }
}

const IN_OUT: &[Slot] = &[Slot::Uniform, Slot::Read, Slot::ReadWrite];
const TWO_IN: &[Slot] = &[Slot::Uniform, Slot::Read, Slot::Read, Slot::ReadWrite];

pub(crate) const LIFT_INPUT: KernelSpec = spec("lift_input", IN_OUT);
pub(crate) const TIME_FEATURES: KernelSpec = spec("time_features", TWO_IN);
pub(crate) const GATHER_ROWS: KernelSpec = spec("gather_rows", TWO_IN);
pub(crate) const DSM_INPUTS: KernelSpec = spec(
    "dsm_inputs",
    &[
        Slot::Uniform,
        Slot::Read,
        Slot::Read,
        Slot::Read,
        Slot::ReadWrite,
        Slot::ReadWrite,
    ],
);
pub(crate) const DSM_GRAD: KernelSpec = spec(
    "dsm_grad",
    &[
        Slot::Uniform,
        Slot::Read,
        Slot::Read,
        Slot::ReadWrite,
        Slot::ReadWrite,
    ],
);

/// Records `spec` over `work` invocations with `p` and `bindings` (in
/// binding order after the uniform).
pub(crate) fn record(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    spec: &KernelSpec,
    p: &GlueParams,
    bindings: &[&Tensor],
    work: usize,
) -> Result<()> {
    gpu.record_flat(pass, spec, p, bindings, work)
}
