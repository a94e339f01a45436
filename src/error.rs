//! The library's error type.
//!
//! Every fallible public function returns [`Result`]. Errors that come from
//! user input (bad shapes or sizes, unknown adapters, missing drivers, bad
//! files) are detected before any GPU work is recorded, so nothing is
//! half-written when they fire. What remains a panic is misuse that the
//! types cannot express, such as mixing tensors of two `Gpu` contexts in one
//! call (wgpu's validation reports it).

use thiserror::Error;

/// Errors of the diffclosure library.
#[derive(Debug, Error)]
pub enum Error {
    /// No GPU adapter matched the requested backend(s) and selector.
    #[error("{0}")]
    NoAdapter(String),
    /// The adapter refused to create a device with the features/limits we need.
    #[error("could not open a device on adapter '{adapter}': {reason}")]
    Device {
        /// Adapter name as reported by the driver.
        adapter: String,
        /// The driver's or wgpu's reason.
        reason: String,
    },
    /// A value given by the user is out of range or malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Two tensors (or a tensor and a plan) disagree on shape or kind.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A shader failed to compile or a pipeline could not be created.
    #[error("shader '{name}': {reason}")]
    Shader {
        /// The shader file name under `shaders/`.
        name: String,
        /// Compiler or validation message.
        reason: String,
    },
    /// Mapping a buffer for readback failed (device lost, out of memory).
    #[error("GPU readback failed: {0}")]
    Readback(String),
    /// Drawing or encoding a figure failed (a font that does not load, a
    /// plot the drawing library rejects, a PNG encoder error).
    #[error("plot: {0}")]
    Plot(String),
    /// A job could not start or go on: arguments or inputs that do not fit
    /// (checked before any GPU work), an interrupted run's leftovers, a run
    /// that became unstable. The message says what is wrong and what to do.
    #[error("{0}")]
    Job(String),
    /// A file that cannot be used: not safetensors, truncated or corrupt,
    /// missing a tensor or metadata the reader needs, or an output that
    /// already exists.
    #[error("{}: {reason}", path.display())]
    File {
        /// The file concerned.
        path: std::path::PathBuf,
        /// What is wrong with it, and what to do.
        reason: String,
    },
    /// File-system error with the path it concerns. (The I/O error is in
    /// the message, not a `source`, so that it is printed once.)
    #[error("{}: {error}", path.display())]
    Io {
        /// The file concerned.
        path: std::path::PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
}

impl Error {
    /// This error with `context` in front (`context: error`), as a job
    /// message.
    pub fn context(self, context: impl std::fmt::Display) -> Self {
        Error::Job(format!("{context}: {self}"))
    }
}

/// Returns early with an [`Error::Job`] of the formatted message (the
/// library's `anyhow::bail!`).
#[macro_export]
macro_rules! job_bail {
    ($($arg:tt)*) => {
        return Err($crate::Error::Job(format!($($arg)*)))
    };
}

/// Result alias with the library [`enum@Error`].
pub type Result<T> = std::result::Result<T, Error>;
