//! CPU references (f64) of the GPU kernel families, used by the tests and
//! benchmarks and by nothing on the hot path.
//!
//! This module is compiled into the test and bench targets only
//! (`#[path]`-included from `tests/` and `benches/`), so that `rustfft`
//! stays a dev-dependency and out of every rebuild of the library and the
//! binary.

#![allow(dead_code)]

pub mod eddy;
pub mod fft;
pub mod ns;
pub mod philox;
pub mod score;
pub mod sde;
