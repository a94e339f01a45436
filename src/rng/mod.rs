//! Seeded counter-based random numbers on the GPU (`shaders/rng.wgsl`).
//!
//! Philox4x32-10 keyed by a 64-bit seed: element `i` of a fill that starts
//! at block counter `c` is word `i % 4` of Philox(block `c + i / 4`). The
//! same (seed, counter) gives the same numbers on every adapter for
//! uniforms (integer arithmetic, exact conversion); normals go through the
//! adapter's `log`, `sqrt`, `sin`, `cos`, so they agree across adapters to
//! those functions' precision. CPU twin: `src/reference/philox.rs`.

use crate::error::Result;
use crate::gpu::{Gpu, KernelSpec, ShaderSource, Slot, Tensor};

/// `shaders/rng.wgsl`: the Philox4x32-10 fills.
pub const SHADER: ShaderSource = crate::shader!("rng.wgsl");

crate::gpu::layout::wgsl_struct! {
    #[wgsl(SHADER, Params, test params_mirror_wgsl)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        n: u32,
        counter_lo: u32,
        counter_hi: u32,
        seed_lo: u32,
        seed_hi: u32,
        _pad: [u32; 3],
    }
}

/// The distribution of a fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distribution {
    /// Uniform on the open interval (0, 1), 23-bit resolution.
    Uniform,
    /// Standard normal N(0, 1) by Box–Muller. The 23-bit uniforms bound
    /// |z| ≤ 5.77 (a tail of probability 8e-9 is cut).
    Normal,
}

const SLOTS: &[Slot] = &[Slot::Uniform, Slot::ReadWrite];

/// A random stream: a seed and the next unused block counter.
///
/// Each fill advances the counter by `ceil(n / 4)` blocks, so successive
/// fills never reuse numbers; [`Rng::counter`] / [`Rng::with_counter`] save
/// and restore the position (for bit-exact resumption).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    seed: u64,
    counter: u64,
}

impl Rng {
    /// A stream from `seed`, starting at block 0.
    pub fn new(seed: u64) -> Self {
        Self { seed, counter: 0 }
    }

    /// A stream from `seed` starting at block `counter`.
    pub fn with_counter(seed: u64, counter: u64) -> Self {
        Self { seed, counter }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The next unused block counter.
    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// Records a fill of every `f32` of `out` (both parts of complex
    /// tensors) with numbers of `dist`, in an open compute pass. Tensors
    /// larger than the adapter's storage binding limit are filled in
    /// windows; the numbers are the same as in one piece.
    ///
    /// # Errors
    /// [`crate::Error::Shader`] if the pipeline fails to build.
    pub fn record(
        &mut self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        dist: Distribution,
        out: &Tensor,
    ) -> Result<()> {
        let entry = match dist {
            Distribution::Uniform => "uniform_fill",
            Distribution::Normal => "normal_fill",
        };
        let kernel = gpu.kernel(
            &KernelSpec {
                shader: SHADER,
                entry,
                slots: SLOTS,
            },
            &[],
        )?;
        // Windows of whole 4-value blocks starting at 256-byte-aligned
        // offsets (64 floats), at most one binding and 2^31 values long.
        let limit = gpu.limits.max_storage_buffer_binding_size.min(1 << 33) as usize / 4;
        let window = (limit / 256 * 256).max(256);
        let total = out.floats();
        let mut start = 0;
        while start < total {
            let n = window.min(total - start);
            let counter = self.counter.wrapping_add((start / 4) as u64);
            let p = Params {
                n: n as u32,
                counter_lo: counter as u32,
                counter_hi: (counter >> 32) as u32,
                seed_lo: self.seed as u32,
                seed_hi: (self.seed >> 32) as u32,
                _pad: [0; 3],
            };
            let uniform = gpu.uniform("rng params", &p);
            let bg = gpu.bind(
                &kernel,
                &[
                    uniform.as_entire_binding(),
                    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &out.buffer,
                        offset: 4 * start as u64,
                        size: wgpu::BufferSize::new(4 * n as u64),
                    }),
                ],
            );
            gpu.dispatch(pass, &kernel, &bg, (n.div_ceil(4) as u32).div_ceil(64));
            start += n;
        }
        self.counter = self.counter.wrapping_add(total.div_ceil(4) as u64);
        Ok(())
    }

    /// Fills `out` in its own submission (see [`Rng::record`]).
    ///
    /// # Errors
    /// As [`Rng::record`].
    pub fn fill(&mut self, gpu: &Gpu, dist: Distribution, out: &Tensor) -> Result<()> {
        let mut enc = gpu.encoder("rng");
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("rng"),
                timestamp_writes: None,
            });
            self.record(gpu, &mut pass, dist, out)?;
        }
        gpu.submit(enc);
        Ok(())
    }
}
