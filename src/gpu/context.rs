//! The `Gpu` context: instance, adapter choice, device and queue.
//!
//! Headless: no surface is ever created, so the same code runs on Vulkan,
//! Metal, DX12 and GL, on a discrete GPU or on a software rasteriser such as
//! Mesa's lavapipe.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::gpu::kernels::Kernels;

/// Environment variable that selects the adapter (index or name substring).
pub const ADAPTER_ENV: &str = "DIFFCLOSURE_ADAPTER";
/// Environment variable that selects the backend (`vulkan|metal|dx12|gl`).
pub const BACKEND_ENV: &str = "DIFFCLOSURE_BACKEND";

/// What to tell a user who has no adapter at all.
pub const NO_ADAPTER_HELP: &str = "\
diffclosure needs a GPU adapter (Vulkan, Metal, DX12 or GL) and found none.
  * With a GPU: install its vendor driver with Vulkan support.
  * On Linux without a GPU: install Mesa's software Vulkan driver (lavapipe),
    on Debian/Ubuntu: `apt-get install -y mesa-vulkan-drivers`.
  * Run `diffclosure info` to see every adapter wgpu can find; pick one with
    --backend vulkan|metal|dx12|gl and --adapter INDEX|NAME
    (or DIFFCLOSURE_BACKEND / DIFFCLOSURE_ADAPTER).";

/// A graphics API backend a user can ask for by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Vulkan (Linux, Windows, Android; lavapipe without a GPU).
    Vulkan,
    /// Apple Metal.
    Metal,
    /// Direct3D 12 (Windows).
    Dx12,
    /// OpenGL / GLES (fallback; compute needs GL 4.3 / GLES 3.1).
    Gl,
}

impl Backend {
    /// The wgpu backend bit set for this backend.
    pub fn to_wgpu(self) -> wgpu::Backends {
        match self {
            Backend::Vulkan => wgpu::Backends::VULKAN,
            Backend::Metal => wgpu::Backends::METAL,
            Backend::Dx12 => wgpu::Backends::DX12,
            Backend::Gl => wgpu::Backends::GL,
        }
    }
}

crate::names::name_table! {
    Backend, "backend";
    Vulkan => "vulkan" | "vk",
    Metal => "metal" | "mtl",
    Dx12 => "dx12" | "d3d12",
    Gl => "gl" | "gles" | "opengl",
}

/// How to choose the adapter. `Default` = every backend, best adapter.
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Restrict to one backend; `None` searches all of them.
    pub backend: Option<Backend>,
    /// Adapter index (into [`list_adapters`]'s order) or a case-insensitive
    /// substring of the adapter name; `None` picks the best adapter.
    pub adapter: Option<String>,
}

impl GpuOptions {
    /// Options from `DIFFCLOSURE_BACKEND` / `DIFFCLOSURE_ADAPTER`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the backend variable names no backend.
    pub fn from_env() -> Result<Self> {
        let backend = match std::env::var(BACKEND_ENV) {
            Ok(s) if !s.trim().is_empty() => Some(s.parse()?),
            _ => None,
        };
        let adapter = std::env::var(ADAPTER_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty());
        Ok(Self { backend, adapter })
    }

    fn backends(&self) -> wgpu::Backends {
        self.backend.map_or(wgpu::Backends::all(), Backend::to_wgpu)
    }
}

/// Description of one adapter, as printed by `diffclosure info`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterSummary {
    /// Position in the list; what `--adapter INDEX` refers to.
    pub index: usize,
    /// Adapter name (e.g. "llvmpipe (LLVM 15.0.6, 256 bits)").
    pub name: String,
    /// Backend name: vulkan, metal, dx12, gl.
    pub backend: String,
    /// DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu or Other.
    pub device_type: String,
    /// Driver name and version string.
    pub driver: String,
    /// Limits relevant to this project.
    pub limits: Vec<(String, u64)>,
    /// Optional features relevant to this project, and whether present.
    pub features: Vec<(String, bool)>,
}

/// The GPU context: one device and queue, plus the kernel registry.
///
/// Cloning is cheap (reference counted); all clones share the same device.
#[derive(Clone)]
pub struct Gpu {
    /// The wgpu device.
    pub device: wgpu::Device,
    /// The device's queue.
    pub queue: wgpu::Queue,
    /// Adapter information (name, backend, driver).
    pub info: wgpu::AdapterInfo,
    /// Limits the device was opened with (the adapter's own limits).
    pub limits: wgpu::Limits,
    /// Features the device was opened with.
    pub features: wgpu::Features,
    pub(crate) kernels: Arc<Kernels>,
    pub(crate) dispatch_timer: Arc<std::sync::Mutex<Option<crate::gpu::profile::DispatchTimer>>>,
    pub(crate) counters: Arc<Counters>,
}

/// Host-side work recorded through this device since it was opened: what
/// bounds a small forward (each dispatch, bind group and parameter buffer
/// costs host time, a few µs each, whatever the GPU).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) dispatches: std::sync::atomic::AtomicU64,
    pub(crate) bind_groups: std::sync::atomic::AtomicU64,
    pub(crate) uniform_buffers: std::sync::atomic::AtomicU64,
}

/// A reading of [`Gpu::counts`]: totals since the device was opened;
/// subtract two readings ([`GpuCounts::since`]) to count one piece of work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GpuCounts {
    /// Compute dispatches recorded.
    pub dispatches: u64,
    /// Bind groups created.
    pub bind_groups: u64,
    /// Uniform (parameter) buffers created.
    pub uniform_buffers: u64,
}

impl GpuCounts {
    /// The counts of the work between `earlier` and `self`.
    pub fn since(self, earlier: GpuCounts) -> GpuCounts {
        GpuCounts {
            dispatches: self.dispatches - earlier.dispatches,
            bind_groups: self.bind_groups - earlier.bind_groups,
            uniform_buffers: self.uniform_buffers - earlier.uniform_buffers,
        }
    }
}

/// Optional features we use when the adapter has them.
fn wanted_features() -> wgpu::Features {
    wgpu::Features::TIMESTAMP_QUERY
        | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS
        | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES
}

fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut d = wgpu::InstanceDescriptor::new_without_display_handle();
    d.backends = backends;
    wgpu::Instance::new(d)
}

fn enumerate(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    let mut adapters = pollster::block_on(instance(backends).enumerate_adapters(backends));
    // Stable, meaningful order: best device type first, then primary backends
    // before GL, then by name. `--adapter INDEX` refers to this order.
    adapters.sort_by_key(|a| {
        let i = a.get_info();
        (type_rank(i.device_type), backend_rank(i.backend), i.name)
    });
    adapters
}

fn type_rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    }
}

fn backend_rank(b: wgpu::Backend) -> u8 {
    match b {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        _ => 1,
    }
}

fn summarize(index: usize, a: &wgpu::Adapter) -> AdapterSummary {
    let i = a.get_info();
    let l = a.limits();
    let f = a.features();
    let limits = vec![
        (
            "max_storage_buffer_binding_size".into(),
            l.max_storage_buffer_binding_size,
        ),
        ("max_buffer_size".into(), l.max_buffer_size),
        (
            "max_storage_buffers_per_shader_stage".into(),
            l.max_storage_buffers_per_shader_stage.into(),
        ),
        (
            "max_compute_workgroup_storage_size".into(),
            l.max_compute_workgroup_storage_size.into(),
        ),
        (
            "max_compute_invocations_per_workgroup".into(),
            l.max_compute_invocations_per_workgroup.into(),
        ),
        (
            "max_compute_workgroups_per_dimension".into(),
            l.max_compute_workgroups_per_dimension.into(),
        ),
        (
            "min_storage_buffer_offset_alignment".into(),
            l.min_storage_buffer_offset_alignment.into(),
        ),
        ("max_immediate_size".into(), l.max_immediate_size.into()),
    ];
    let features = [
        ("TIMESTAMP_QUERY", wgpu::Features::TIMESTAMP_QUERY),
        (
            "TIMESTAMP_QUERY_INSIDE_ENCODERS",
            wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS,
        ),
        ("SUBGROUP", wgpu::Features::SUBGROUP),
        ("SHADER_F16", wgpu::Features::SHADER_F16),
        ("SHADER_F64", wgpu::Features::SHADER_F64),
        (
            "SHADER_FLOAT32_ATOMIC",
            wgpu::Features::SHADER_FLOAT32_ATOMIC,
        ),
        ("IMMEDIATES", wgpu::Features::IMMEDIATES),
    ]
    .into_iter()
    .map(|(n, bit)| (n.to_string(), f.contains(bit)))
    .collect();
    AdapterSummary {
        index,
        name: i.name,
        backend: i.backend.to_string(),
        device_type: format!("{:?}", i.device_type),
        driver: format!("{} {}", i.driver, i.driver_info).trim().to_string(),
        limits,
        features,
    }
}

/// Every adapter wgpu finds for the chosen backend(s), best first.
pub fn list_adapters(backend: Option<Backend>) -> Vec<AdapterSummary> {
    let opts = GpuOptions {
        backend,
        adapter: None,
    };
    enumerate(opts.backends())
        .iter()
        .enumerate()
        .map(|(i, a)| summarize(i, a))
        .collect()
}

fn no_adapter(opts: &GpuOptions) -> Error {
    if let Some(b) = opts.backend {
        // Adapters on other backends: name them rather than suggest a driver.
        let others = list_adapters(None);
        if !others.is_empty() {
            let names: Vec<String> = others
                .iter()
                .map(|a| format!("  {}: {} ({})", a.index, a.name, a.backend))
                .collect();
            return Error::NoAdapter(format!(
                "no GPU adapter found for backend '{b}'. Adapters on other backends \
                 (drop --backend / DIFFCLOSURE_BACKEND, or pick one of them):\n{}",
                names.join("\n")
            ));
        }
        return Error::NoAdapter(format!(
            "no GPU adapter found for backend '{b}'.\n{NO_ADAPTER_HELP}"
        ));
    }
    Error::NoAdapter(NO_ADAPTER_HELP.to_string())
}

/// Picks the adapter named by `opts` out of `adapters` (already sorted best first).
fn choose(adapters: Vec<wgpu::Adapter>, opts: &GpuOptions) -> Result<wgpu::Adapter> {
    if adapters.is_empty() {
        return Err(no_adapter(opts));
    }
    let Some(sel) = opts.adapter.as_deref().map(str::trim) else {
        return adapters.into_iter().next().ok_or_else(|| no_adapter(opts));
    };
    let names: Vec<String> = adapters
        .iter()
        .enumerate()
        .map(|(i, a)| format!("  {i}: {} ({})", a.get_info().name, a.get_info().backend))
        .collect();
    let found = match sel.parse::<usize>() {
        Ok(i) => adapters.into_iter().nth(i),
        Err(_) => {
            let want = sel.to_ascii_lowercase();
            adapters
                .into_iter()
                .find(|a| a.get_info().name.to_ascii_lowercase().contains(&want))
        }
    };
    found.ok_or_else(|| {
        Error::NoAdapter(format!(
            "no adapter matches '{sel}' (an index or a name substring). Adapters:\n{}",
            names.join("\n")
        ))
    })
}

/// Index (in [`list_adapters`]'s order for `opts.backend`) of the adapter
/// `opts` selects, without opening a device.
///
/// # Errors
/// [`Error::NoAdapter`] as [`Gpu::new`].
pub fn selected_adapter(opts: &GpuOptions) -> Result<usize> {
    let adapters = enumerate(opts.backends());
    let names: Vec<(String, wgpu::Backend)> = adapters
        .iter()
        .map(|a| (a.get_info().name, a.get_info().backend))
        .collect();
    let chosen = choose(adapters, opts)?.get_info();
    Ok(names
        .iter()
        .position(|(n, b)| *n == chosen.name && *b == chosen.backend)
        .unwrap_or(0))
}

impl Gpu {
    /// The dispatches, bind groups and parameter buffers recorded through
    /// this device (and its clones) so far.
    pub fn counts(&self) -> GpuCounts {
        use std::sync::atomic::Ordering::Relaxed;
        let c = &self.counters;
        GpuCounts {
            dispatches: c.dispatches.load(Relaxed),
            bind_groups: c.bind_groups.load(Relaxed),
            uniform_buffers: c.uniform_buffers.load(Relaxed),
        }
    }

    /// Opens the adapter chosen by `opts` with its full limits and the
    /// optional features we use (timestamp queries) where present.
    ///
    /// # Errors
    /// [`Error::NoAdapter`] (with install instructions) when no adapter
    /// matches; [`Error::Device`] when the driver refuses the device.
    pub fn new(opts: &GpuOptions) -> Result<Self> {
        let adapter = choose(enumerate(opts.backends()), opts)?;
        let info = adapter.get_info();
        let features = adapter.features() & wanted_features();
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("diffclosure"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| Error::Device {
            adapter: info.name.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            kernels: Arc::new(Kernels::new(&device)),
            dispatch_timer: Arc::default(),
            counters: Arc::default(),
            device,
            queue,
            info,
            limits,
            features,
        })
    }

    /// [`Gpu::new`] with options from the environment (`DIFFCLOSURE_BACKEND`,
    /// `DIFFCLOSURE_ADAPTER`).
    ///
    /// # Errors
    /// As [`GpuOptions::from_env`] and [`Gpu::new`].
    pub fn from_env() -> Result<Self> {
        Self::new(&GpuOptions::from_env()?)
    }

    /// True when the adapter is a CPU rasteriser (lavapipe, WARP, SwiftShader).
    /// Kernels use it to pick shapes that suit SIMD-on-CPU execution.
    pub fn is_cpu(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// One line naming the adapter, for logs and benchmark reports.
    pub fn describe(&self) -> String {
        let driver = format!("{} {}", self.info.driver, self.info.driver_info);
        format!(
            "{} ({}, {:?}, {})",
            self.info.name,
            self.info.backend,
            self.info.device_type,
            driver.trim()
        )
    }

    /// Blocks until all submitted work is done.
    ///
    /// # Errors
    /// [`Error::Readback`] if the device is lost while waiting.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| Error::Readback(e.to_string()))
    }

    /// Creates a command encoder.
    pub fn encoder(&self, label: &str) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) })
    }

    /// Submits one encoder's work.
    pub fn submit(&self, encoder: wgpu::CommandEncoder) {
        self.queue.submit(Some(encoder.finish()));
    }
}
