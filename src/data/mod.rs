//! Data on disk: safetensors I/O (atomic writes, checked reads); the
//! dataset builder and sparse sensors follow.

pub mod io;
