//! Animated GIFs of a field's evolution (the denoising trajectory of a
//! sampler), drawn with the heatmap colour map.

use std::path::Path;

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, RgbaImage};

use crate::data::io;
use crate::error::{Error, Result};
use crate::plot::heatmap::{render_strip, HeatmapOptions};

/// Writes `frames` (each `[h, w]`, row-major) as an endlessly looping
/// animated GIF, `delay_ms` per frame and `hold_ms` on the last, with one
/// colour limit for all frames (`opts.limit`, else the largest |v| of the
/// last frame, so the converged field is shown at full contrast and early
/// noise saturates).
///
/// # Errors
/// As [`crate::plot::heatmap::heatmap_png`] for the frames; also
/// [`Error::InvalidArgument`] for no frame; [`Error::Plot`] if encoding
/// fails.
pub fn heatmap_gif(
    path: &Path,
    frames: &[&[f32]],
    h: usize,
    w: usize,
    opts: &HeatmapOptions,
    (delay_ms, hold_ms): (u32, u32),
) -> Result<()> {
    let last = frames
        .last()
        .ok_or_else(|| Error::InvalidArgument("GIF: no frame".into()))?;
    let limit = opts.limit.unwrap_or_else(|| {
        let l = last
            .iter()
            .filter(|v| v.is_finite())
            .map(|v| f64::from(v.abs()))
            .fold(0.0, f64::max);
        if l > 0.0 {
            l
        } else {
            1.0
        }
    });
    let opts = HeatmapOptions {
        limit: Some(limit),
        ..opts.clone()
    };
    io::refuse_existing(path)?;
    let mut bytes = Vec::new();
    {
        let mut enc = GifEncoder::new_with_speed(&mut bytes, 10);
        enc.set_repeat(Repeat::Infinite)
            .map_err(|e| Error::Plot(format!("GIF: {e}")))?;
        for (i, f) in frames.iter().enumerate() {
            let s = render_strip(&[f], h, w, &opts, None)?;
            let rgba: Vec<u8> = s
                .rgb
                .chunks_exact(3)
                .flat_map(|c| [c[0], c[1], c[2], 255])
                .collect();
            let img = RgbaImage::from_raw(s.width as u32, s.height as u32, rgba)
                .ok_or_else(|| Error::Plot("GIF: frame buffer size".into()))?;
            let ms = if i + 1 == frames.len() {
                hold_ms
            } else {
                delay_ms
            };
            let frame = Frame::from_parts(img, 0, 0, Delay::from_numer_denom_ms(ms, 1));
            enc.encode_frame(frame)
                .map_err(|e| Error::Plot(format!("GIF: {e}")))?;
        }
    }
    io::write_bytes_atomic(path, &bytes)
}
