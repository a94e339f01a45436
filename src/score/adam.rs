//! Adam on the flat parameter vector (`shaders/adam.wgsl`).

use crate::error::{Error, Result};
use crate::gpu::{DType, Gpu, KernelSpec, ShaderSource, Slot, Tensor};

/// `shaders/adam.wgsl`: the Adam update.
pub const SHADER: ShaderSource = crate::shader!("adam.wgsl");

crate::gpu::layout::wgsl_struct! {
    #[wgsl(SHADER, Params, test params_mirror_wgsl)]
    #[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
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
}

const ADAM: KernelSpec = KernelSpec::new(
    SHADER,
    "adam",
    &[
        Slot::Uniform,
        Slot::Read,
        Slot::ReadWrite,
        Slot::ReadWrite,
        Slot::ReadWrite,
    ],
);

/// Adam's state (Kingma & Ba 2015; `torch.optim.Adam`, no weight decay)
/// for the elements `[start, len)` of a flat parameter vector.
pub struct Adam {
    /// First moments (`exp_avg`), same layout as the parameters.
    pub exp_avg: Tensor,
    /// Second moments (`exp_avg_sq`).
    pub exp_avg_sq: Tensor,
    /// Steps taken (the bias corrections use it).
    pub step: u64,
    start: usize,
    /// β₁, β₂, ε.
    pub betas: (f64, f64),
    /// ε in the denominator.
    pub eps: f64,
}

impl Adam {
    /// Zero moments for `len` parameters, updating `[start, len)`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `start > len`; allocation errors.
    pub fn new(gpu: &Gpu, len: usize, start: usize) -> Result<Self> {
        if start > len {
            return Err(Error::InvalidArgument(format!("Adam range {start}..{len}")));
        }
        Ok(Self {
            exp_avg: Tensor::zeros(gpu, &[len], DType::F32)?,
            exp_avg_sq: Tensor::zeros(gpu, &[len], DType::F32)?,
            step: 0,
            start,
            betas: (0.9, 0.999),
            eps: 1e-8,
        })
    }

    /// Records one update of `params` from `grads` with learning rate `lr`.
    ///
    /// # Errors
    /// [`Error::Shape`] for vectors of another length.
    pub fn record_step(
        &mut self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        params: &Tensor,
        grads: &Tensor,
        lr: f64,
    ) -> Result<()> {
        let len = self.exp_avg.len();
        if params.len() != len || grads.len() != len {
            return Err(Error::Shape(format!(
                "Adam over {len} elements, parameters {} and gradients {}",
                params.len(),
                grads.len()
            )));
        }
        self.step += 1;
        let k = self.step as i32;
        let (b1, b2) = self.betas;
        let p = Params {
            start: self.start as u32,
            end: len as u32,
            step_size: (lr / (1.0 - b1.powi(k))) as f32,
            bc2_sqrt: (1.0 - b2.powi(k)).sqrt() as f32,
            beta1: b1 as f32,
            beta2: b2 as f32,
            eps: self.eps as f32,
            _pad: 0,
        };
        let state = [grads, params, &self.exp_avg, &self.exp_avg_sq];
        gpu.record_flat(pass, &ADAM, &p, &state, len - self.start)
    }
}
