//! GPU runtime: the [`Gpu`] context (adapter choice, device, queue), the
//! [`Tensor`] type, the kernel registry that builds every pipeline of
//! `shaders/` once, dispatch helpers, batched readback and timestamp
//! profiling.

mod context;
pub mod kernels;
pub mod layout;
mod profile;
mod tensor;

pub use context::{
    list_adapters, selected_adapter, AdapterSummary, Backend, Gpu, GpuCounts, GpuOptions,
    ADAPTER_ENV, BACKEND_ENV, NO_ADAPTER_HELP,
};
pub use kernels::{Kernel, KernelSpec, ShaderSource, Slot};
pub use profile::{resident_mib, Profiler, MAX_PASSES};
pub use tensor::{DType, Tensor};
