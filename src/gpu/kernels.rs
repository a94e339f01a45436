//! Kernel registry: every WGSL file under `shaders/` is compiled into a
//! shader module once per device (on first use), and every (entry point,
//! override constants) pipeline is built once and cached.
//!
//! Bind group layouts are explicit ([`Slot`] lists) rather than derived from
//! the shader, so that a binding the optimiser proves unused under some
//! override values does not change the layout the host binds against.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::gpu::Gpu;

/// A WGSL file of `shaders/`, declared by the host module that drives it
/// (with [`shader!`](crate::shader)) rather than in a central list, so
/// that adding a kernel family touches its own files only.
///
/// Equality and hashing go by `name` alone: the registry keys its cache
/// on it, and one file has one source.
#[derive(Clone, Copy, Debug)]
pub struct ShaderSource {
    /// File name under `shaders/` (labels and error messages).
    pub name: &'static str,
    /// WGSL source text (embedded at build time).
    pub source: &'static str,
}

impl PartialEq for ShaderSource {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for ShaderSource {}

impl std::hash::Hash for ShaderSource {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

/// The [`ShaderSource`] of `shaders/$file`, embedded at build time.
///
/// The naga validation test finds the declarations by this macro's name,
/// so every file of `shaders/` must be declared through it.
#[macro_export]
macro_rules! shader {
    ($file:literal) => {
        $crate::gpu::ShaderSource {
            name: $file,
            source: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $file)),
        }
    };
}

/// The kind of one binding of a kernel's bind group 0, in binding order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// `var<uniform>`.
    Uniform,
    /// `var<storage, read>`.
    Read,
    /// `var<storage, read_write>`.
    ReadWrite,
}

impl Slot {
    /// The commonest layout: the uniform, one input, one output.
    pub const IN_OUT: &'static [Slot] = &[Slot::Uniform, Slot::Read, Slot::ReadWrite];
    /// The uniform, two inputs, one output.
    pub const TWO_IN: &'static [Slot] = &[Slot::Uniform, Slot::Read, Slot::Read, Slot::ReadWrite];
}

/// A kernel request: shader, entry point and bind group 0 layout.
#[derive(Clone, Copy, Debug)]
pub struct KernelSpec {
    /// The shader file.
    pub shader: ShaderSource,
    /// Entry point name.
    pub entry: &'static str,
    /// Bindings 0.. of group 0.
    pub slots: &'static [Slot],
}

impl KernelSpec {
    /// Entry point `entry` of `shader` with bindings `slots` (a `const fn`,
    /// for the kernel tables of the modules).
    pub const fn new(shader: ShaderSource, entry: &'static str, slots: &'static [Slot]) -> Self {
        Self {
            shader,
            entry,
            slots,
        }
    }
}

/// A built compute pipeline with its bind group layout.
pub struct Kernel {
    /// The pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Layout of bind group 0.
    pub layout: wgpu::BindGroupLayout,
    label: String,
}

type Key = (ShaderSource, &'static str, Vec<(String, u64)>);

/// Cache of shader modules and pipelines of one device.
pub struct Kernels {
    modules: Mutex<HashMap<ShaderSource, Arc<wgpu::ShaderModule>>>,
    pipelines: Mutex<HashMap<Key, Arc<Kernel>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the maps inconsistent
    // (inserts are single calls), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Kernels {
    pub(crate) fn new(_device: &wgpu::Device) -> Self {
        Self {
            modules: Mutex::new(HashMap::new()),
            pipelines: Mutex::new(HashMap::new()),
        }
    }

    fn module(
        &self,
        device: &wgpu::Device,
        shader: ShaderSource,
    ) -> Result<Arc<wgpu::ShaderModule>> {
        if let Some(m) = lock(&self.modules).get(&shader) {
            return Ok(m.clone());
        }
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(shader.name),
            source: wgpu::ShaderSource::Wgsl(shader.source.into()),
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Shader {
                name: shader.name.into(),
                reason: e.to_string(),
            });
        }
        let module = Arc::new(module);
        lock(&self.modules).insert(shader, module.clone());
        Ok(module)
    }
}

impl Gpu {
    /// The pipeline for `spec` specialised with `constants` (WGSL `override`
    /// values), built on first request and cached afterwards.
    ///
    /// # Errors
    /// [`Error::Shader`] if the shader or pipeline fails validation.
    pub fn kernel(&self, spec: &KernelSpec, constants: &[(&str, f64)]) -> Result<Arc<Kernel>> {
        let key: Key = (
            spec.shader,
            spec.entry,
            constants
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_bits()))
                .collect(),
        );
        if let Some(k) = lock(&self.kernels.pipelines).get(&key) {
            return Ok(k.clone());
        }
        let module = self.kernels.module(&self.device, spec.shader)?;
        let entries: Vec<wgpu::BindGroupLayoutEntry> = spec
            .slots
            .iter()
            .enumerate()
            .map(|(i, slot)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: match slot {
                    Slot::Uniform => wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    Slot::Read | Slot::ReadWrite => wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage {
                            read_only: *slot == Slot::Read,
                        },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                },
                count: None,
            })
            .collect();
        let label = format!("{}::{}{:?}", spec.shader.name, spec.entry, constants);
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let layout = self
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(&label),
                entries: &entries,
            });
        let pipeline_layout = self
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(&label),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(&label),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(spec.entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants,
                    // Every kernel writes workgroup memory before reading it.
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Shader {
                name: spec.shader.name.into(),
                reason: format!("entry '{}' {:?}: {e}", spec.entry, constants),
            });
        }
        let kernel = Arc::new(Kernel {
            pipeline,
            layout,
            label,
        });
        lock(&self.kernels.pipelines).insert(key, kernel.clone());
        Ok(kernel)
    }

    /// A bind group for `kernel` with `resources` at bindings 0, 1, ….
    pub fn bind(
        &self,
        kernel: &Kernel,
        resources: &[wgpu::BindingResource<'_>],
    ) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = resources
            .iter()
            .enumerate()
            .map(|(i, r)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: r.clone(),
            })
            .collect();
        self.counters.bind_groups.fetch_add(1, Relaxed);
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&kernel.label),
            layout: &kernel.layout,
            entries: &entries,
        })
    }

    /// A bind group for `kernel` in the layout of nearly every kernel: the
    /// uniform buffer `params` at binding 0 and `tensors` whole at bindings
    /// 1, 2, ….
    pub fn bind_params(
        &self,
        kernel: &Kernel,
        params: &wgpu::Buffer,
        tensors: &[&crate::gpu::Tensor],
    ) -> wgpu::BindGroup {
        let mut entries = vec![params.as_entire_binding()];
        entries.extend(tensors.iter().map(|t| t.buffer.as_entire_binding()));
        self.bind(kernel, &entries)
    }

    /// Records `spec` (a kernel of 64-wide workgroups over `work` flat
    /// invocations) with the uniform `params` at binding 0 and `tensors`
    /// whole at bindings 1, 2, ….
    ///
    /// # Errors
    /// As [`Gpu::kernel`].
    pub fn record_flat<T: bytemuck::Pod>(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        spec: &KernelSpec,
        params: &T,
        tensors: &[&crate::gpu::Tensor],
        work: usize,
    ) -> Result<()> {
        self.record_flat_with(pass, spec, &[], params, tensors, work)
    }

    /// [`Gpu::record_flat`] of the kernel built with the override
    /// `constants`.
    ///
    /// # Errors
    /// As [`Gpu::kernel`].
    pub fn record_flat_with<T: bytemuck::Pod>(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        spec: &KernelSpec,
        constants: &[(&str, f64)],
        params: &T,
        tensors: &[&crate::gpu::Tensor],
        work: usize,
    ) -> Result<()> {
        let k = self.kernel(spec, constants)?;
        let uniform = self.uniform(spec.entry, params);
        let bg = self.bind_params(&k, &uniform, tensors);
        self.dispatch(pass, &k, &bg, work.div_ceil(64) as u32);
        Ok(())
    }

    /// The 2-D workgroup grid for `groups` workgroups: x ≤ the adapter's
    /// per-dimension limit, y = ⌈groups / x⌉. Kernels flatten it as
    /// `wid.x + wid.y * num_workgroups.x` and skip ids ≥ their work size.
    pub fn grid(&self, groups: u32) -> (u32, u32) {
        let max = self.limits.max_compute_workgroups_per_dimension.max(1);
        if groups <= max {
            (groups.max(1), 1)
        } else {
            let y = groups.div_ceil(max);
            (groups.div_ceil(y), y)
        }
    }

    /// Records one dispatch of `kernel` over `groups` workgroups (see [`Gpu::grid`]).
    pub fn dispatch(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        kernel: &Kernel,
        bind_group: &wgpu::BindGroup,
        groups: u32,
    ) {
        let (x, y) = self.grid(groups);
        self.counters.dispatches.fetch_add(1, Relaxed);
        pass.set_pipeline(&kernel.pipeline);
        pass.set_bind_group(0, bind_group, &[]);
        let timed = self.time_dispatch_begin(pass, &kernel.label);
        pass.dispatch_workgroups(x, y, 1);
        if let Some(i) = timed {
            self.time_dispatch_end(pass, i);
        }
    }
}
