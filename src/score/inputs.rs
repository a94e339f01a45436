//! The score network's inputs and the training loss on the GPU
//! (`shaders/inputs.wgsl`): lifting channels, time features, batches
//! gathered from resident datasets, the noisy sample of denoising score
//! matching and the loss's gradient.

use crate::error::Result;
use crate::gpu::{Gpu, KernelSpec, ShaderSource, Slot, Tensor};

/// `shaders/inputs.wgsl`: the network's inputs and the training loss.
pub const SHADER: ShaderSource = crate::shader!("inputs.wgsl");

crate::gpu::layout::wgsl_struct! {
    #[wgsl(SHADER, Params, test params_mirror_wgsl)]
    /// The uniform of `shaders/inputs.wgsl` (see its field comments).
    #[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
    pub(super) struct GlueParams {
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
}

const LIFT_INPUT: KernelSpec = KernelSpec::new(SHADER, "lift_input", Slot::IN_OUT);
const TIME_FEATURES: KernelSpec = KernelSpec::new(SHADER, "time_features", Slot::TWO_IN);
const GATHER_ROWS: KernelSpec = KernelSpec::new(SHADER, "gather_rows", Slot::TWO_IN);
pub(crate) const DSM_INPUTS: KernelSpec = KernelSpec::new(
    SHADER,
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
pub(crate) const DSM_GRAD: KernelSpec = KernelSpec::new(
    SHADER,
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
pub(super) fn record(
    gpu: &Gpu,
    pass: &mut wgpu::ComputePass<'_>,
    spec: &KernelSpec,
    p: &GlueParams,
    bindings: &[&Tensor],
    work: usize,
) -> Result<()> {
    gpu.record_flat(pass, spec, p, bindings, work)
}

/// A gather of whole rows from a resident dataset into a batch:
/// `dst[b, j] = src[index[first + b], j]` for `b < rows`, `j < cols`
/// (`index` holds `u32` row numbers, stored as `f32` bit patterns).
///
/// The typed entry for callers outside `score` (batch generation, the
/// coupled run), which thus never fill the shader's uniform themselves.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GatherRows<'a> {
    /// Row numbers of `src`.
    pub index: &'a Tensor,
    /// First entry of `index` used.
    pub first: usize,
    /// Rows gathered.
    pub rows: usize,
    /// Floats per row.
    pub cols: usize,
}

impl GatherRows<'_> {
    /// Records the gather from `src` (`[.., cols]`) into `dst` (`[rows,
    /// cols]`).
    ///
    /// # Errors
    /// Kernel build errors.
    pub(crate) fn record(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        src: &Tensor,
        dst: &Tensor,
    ) -> Result<()> {
        let p = GlueParams {
            batch: self.rows as u32,
            cols: self.cols as u32,
            in_off: self.first as u32,
            ..Default::default()
        };
        record(
            gpu,
            pass,
            &GATHER_ROWS,
            &p,
            &[self.index, src, dst],
            self.rows * self.cols,
        )
    }
}

/// The lifting's input channels `[field, g_y, g_x]` `[batch, 3, p_pad]`
/// of square fields `[batch, side, side]` (padding points 0).
#[derive(Clone, Copy, Debug)]
pub(crate) struct LiftInput {
    /// Fields.
    pub batch: usize,
    /// Rows and columns of a field.
    pub side: usize,
    /// Points per channel with padding (≥ `side²`).
    pub p_pad: usize,
}

impl LiftInput {
    /// Records the channels of `field` into `out`.
    ///
    /// # Errors
    /// Kernel build errors.
    pub(crate) fn record(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        field: &Tensor,
        out: &Tensor,
    ) -> Result<()> {
        let p = GlueParams {
            batch: self.batch as u32,
            rows: self.side as u32,
            cols: self.side as u32,
            p_pad: self.p_pad as u32,
            in_bs: (self.side * self.side) as u32,
            ..Default::default()
        };
        record(
            gpu,
            pass,
            &LIFT_INPUT,
            &p,
            &[field, out],
            self.batch * self.p_pad,
        )
    }
}

/// Gaussian Fourier time features `[embed, bp]` of `batch` times (columns
/// `b ≥ batch` 0), with the `embed / 2` frequencies at `freq_off` of the
/// flat parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimeFeatures {
    /// Times.
    pub batch: usize,
    /// Padded batch (columns of the output).
    pub bp: usize,
    /// Features per time.
    pub embed: usize,
    /// Offset of the frequencies in the flat parameters.
    pub freq_off: usize,
}

impl TimeFeatures {
    /// Records the features of the times `t` `[batch]` into `out`.
    ///
    /// # Errors
    /// Kernel build errors.
    pub(crate) fn record(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        t: &Tensor,
        params: &Tensor,
        out: &Tensor,
    ) -> Result<()> {
        let p = GlueParams {
            batch: self.batch as u32,
            embed: self.embed as u32,
            freq_off: self.freq_off as u32,
            bp: self.bp as u32,
            ..Default::default()
        };
        record(
            gpu,
            pass,
            &TIME_FEATURES,
            &p,
            &[t, params, out],
            self.embed * self.bp,
        )
    }
}
