//! PNG encoding of an RGB buffer and the atomic, non-overwriting write.

use std::path::Path;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};

use crate::data::io;
use crate::error::{Error, Result};

/// Largest image side we produce (pixels): far beyond any figure, small
/// enough that `width * height * 3` cannot overflow or exhaust memory by a
/// mistaken argument.
pub(crate) const MAX_SIDE: usize = 16_384;

/// Encodes `rgb` (`height` rows of `width` pixels, 3 bytes each, top row
/// first) as an 8-bit RGB PNG, best compression (figures are small and
/// written once).
///
/// # Errors
/// [`Error::Plot`] if the encoder fails (a buffer of the wrong length).
pub(crate) fn encode_rgb(width: u32, height: u32, rgb: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::Adaptive)
        .write_image(rgb, width, height, ExtendedColorType::Rgb8)
        .map_err(|e| Error::Plot(format!("PNG encoding: {e}")))?;
    Ok(out)
}

/// Encodes `rgb` and writes it to `path` atomically.
///
/// # Errors
/// As [`encode_rgb`]; [`Error::Io`] naming `path`.
pub(crate) fn write_rgb(path: &Path, width: u32, height: u32, rgb: &[u8]) -> Result<()> {
    let bytes = encode_rgb(width, height, rgb)?;
    io::write_bytes_atomic(path, &bytes)
}
