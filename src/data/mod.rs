//! Data on disk: safetensors I/O (atomic writes, checked reads) and the
//! closure dataset builder with its sparse sensors.

pub mod dataset;
pub mod io;
