//! PNG figures: heatmaps of fields and log–log plots of spectra.
//!
//! * [`colormap`]: the diverging blue–white–red colour map ([`colormap::diverging`]).
//! * [`heatmap`]: fields as PNG heatmaps, one or several side by side
//!   ([`heatmap::heatmap_png`], [`heatmap::heatmap_strip_png`]).
//! * [`gif`]: a field's evolution as an animated GIF
//!   ([`gif::heatmap_gif`], the sampler's denoising trajectory).
//! * [`lines`]: curves on linear axes ([`lines::lines_png`]: errors over
//!   time, PDFs).
//! * [`spectrum`]: shell spectra `E(k)` against `k` on log–log axes
//!   ([`spectrum::spectra_png`]).
//!
//! Every figure is drawn into memory, encoded as an 8-bit RGB PNG and
//! written with [`crate::data::io::write_bytes_atomic`] (temporary file,
//! fsync, rename). An existing file is never replaced: the functions refuse
//! it, before drawing anything, with [`crate::Error::File`].
//! Text is set in DejaVu Sans, embedded in the binary (`assets/fonts/`),
//! so no system font library is needed.

pub mod colormap;
mod font;
pub mod gif;
pub mod heatmap;
pub mod lines;
mod png;
pub mod spectrum;
