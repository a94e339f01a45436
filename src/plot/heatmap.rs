//! Fields as PNG heatmaps in the [`diverging`] colour map, one field or
//! several side by side (truth / sample / error panels).
//!
//! A field is a row-major `[h, w]` slice (`field[i * w + j]` is row `i`,
//! column `j`; rows along y, columns along x, as the solver stores them).
//! Each value `v` is coloured as `diverging(v / limit)`: `-limit` and below
//! dark blue, 0 off-white, `+limit` and above dark red, NaN grey. Every
//! grid cell becomes an `s × s` block of pixels, with the integer scale `s`
//! chosen so that the image is at least [`HeatmapOptions::min_size`] pixels
//! on its longer side; no interpolation, so grid cells stay visible.

use std::path::Path;

use crate::data::io;
use crate::error::{Error, Result};
use crate::plot::colormap::diverging;
use crate::plot::png::{write_rgb, MAX_SIDE};

/// Which field row is drawn at the top of the image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Origin {
    /// Row 0 at the bottom (y pointing up, the physics convention; the
    /// default).
    #[default]
    Lower,
    /// Row 0 at the top (matrix/image convention).
    Upper,
}

/// Options of [`heatmap_png`] and [`heatmap_strip_png`].
#[derive(Clone, Debug)]
pub struct HeatmapOptions {
    /// Colour limit: values are mapped to `[-limit, limit]`. `None`: the
    /// largest finite `|v|` of the field (see [`Self::shared_limit`] for
    /// strips), or 1 if there is no non-zero finite value.
    pub limit: Option<f64>,
    /// For strips without an explicit `limit`: one limit over all panels
    /// (`true`, the default; panels compare directly) or one per panel.
    pub shared_limit: bool,
    /// Smallest length of the image's longer side in pixels; the integer
    /// upscaling factor is `ceil(min_size / longest grid side)` (at least 1).
    /// Default 256 (a 32² grid is drawn with 8 × 8 pixel cells).
    pub min_size: usize,
    /// Orientation; default [`Origin::Lower`] (y up).
    pub origin: Origin,
    /// White pixels between the panels of a strip; default 4.
    pub gap: usize,
}

impl Default for HeatmapOptions {
    fn default() -> Self {
        HeatmapOptions {
            limit: None,
            shared_limit: true,
            min_size: 256,
            origin: Origin::Lower,
            gap: 4,
        }
    }
}

/// Colour of the gaps between panels.
const GAP_COLOR: [u8; 3] = [255, 255, 255];

/// Writes `field` (`[h, w]`, row-major) as a PNG heatmap to `path`;
/// returns the colour limit used (values `±limit` are the ends of the map).
///
/// The image is `w·s` pixels wide and `h·s` high, `s` the integer scale
/// of [`HeatmapOptions::min_size`].
///
/// # Errors
/// [`Error::InvalidArgument`] for `h` or `w` of 0, a limit that is not
/// finite and positive, an image side over 16 384 pixels, or an existing
/// `path` (checked before drawing; nothing is written); [`Error::Shape`]
/// if `field.len() != h * w`; [`Error::Io`] naming `path` if it cannot be
/// written.
pub fn heatmap_png(
    path: &Path,
    field: &[f32],
    h: usize,
    w: usize,
    opts: &HeatmapOptions,
) -> Result<f64> {
    let limits = heatmap_strip_png(path, &[field], h, w, opts)?;
    Ok(limits[0])
}

/// Writes several `[h, w]` fields side by side, left to right, as one PNG
/// (panels separated by [`HeatmapOptions::gap`] white pixels); returns the
/// colour limit of each panel (all equal unless `shared_limit` is false
/// and `limit` is `None`).
///
/// # Errors
/// As [`heatmap_png`]; also [`Error::InvalidArgument`] for no field.
pub fn heatmap_strip_png(
    path: &Path,
    fields: &[&[f32]],
    h: usize,
    w: usize,
    opts: &HeatmapOptions,
) -> Result<Vec<f64>> {
    let image = render_strip(fields, h, w, opts, Some(path))?;
    // Sides are ≤ MAX_SIDE, so they fit in u32.
    write_rgb(path, image.width as u32, image.height as u32, &image.rgb)?;
    Ok(image.limits)
}

/// A drawn strip: RGB bytes (top row first) and each panel's colour limit.
pub(crate) struct Strip {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
    pub limits: Vec<f64>,
}

/// Draws a strip as [`heatmap_strip_png`] does, refusing an existing
/// `path` (when given) after the argument checks and before drawing.
pub(crate) fn render_strip(
    fields: &[&[f32]],
    h: usize,
    w: usize,
    opts: &HeatmapOptions,
    path: Option<&Path>,
) -> Result<Strip> {
    if fields.is_empty() {
        return Err(Error::InvalidArgument(
            "heatmap: no field to draw".to_string(),
        ));
    }
    if h == 0 || w == 0 {
        return Err(Error::InvalidArgument(format!(
            "heatmap: empty grid {h} x {w}"
        )));
    }
    for (p, f) in fields.iter().enumerate() {
        if f.len() != h * w {
            return Err(Error::Shape(format!(
                "heatmap: field {p} has {} values, expected {h} x {w} = {}",
                f.len(),
                h * w
            )));
        }
    }
    if let Some(l) = opts.limit {
        if !(l.is_finite() && l > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "heatmap: colour limit {l} is not finite and positive"
            )));
        }
    }
    let s = opts.min_size.max(1).div_ceil(h.max(w)).max(1);
    let panels = fields.len();
    let too_big = |side: Option<usize>| side.is_none_or(|v| v > MAX_SIDE);
    let width = w
        .checked_mul(s)
        .and_then(|pw| pw.checked_mul(panels))
        .and_then(|v| v.checked_add(opts.gap.checked_mul(panels - 1)?));
    let height = h.checked_mul(s);
    if too_big(width) || too_big(height) {
        return Err(Error::InvalidArgument(format!(
            "heatmap: {panels} panel(s) of {h} x {w} at scale {s} exceed {MAX_SIDE} pixels per side"
        )));
    }
    let (width, height) = (width.unwrap_or(0), height.unwrap_or(0));
    if let Some(path) = path {
        io::refuse_existing(path)?;
    }

    let limits: Vec<f64> = match opts.limit {
        Some(l) => vec![l; panels],
        None if opts.shared_limit => {
            let l = fields.iter().map(|f| max_abs(f)).fold(0.0, f64::max);
            vec![or_one(l); panels]
        }
        None => fields.iter().map(|f| or_one(max_abs(f))).collect(),
    };

    let mut rgb = vec![0u8; width * height * 3];
    for (y, row) in rgb.chunks_exact_mut(width * 3).enumerate() {
        let i = y / s;
        let i = match opts.origin {
            Origin::Lower => h - 1 - i,
            Origin::Upper => i,
        };
        let mut x = 0;
        for (p, (f, &limit)) in fields.iter().zip(&limits).enumerate() {
            if p > 0 {
                for _ in 0..opts.gap {
                    row[3 * x..3 * x + 3].copy_from_slice(&GAP_COLOR);
                    x += 1;
                }
            }
            for &v in &f[i * w..(i + 1) * w] {
                let c = diverging(f64::from(v) / limit);
                for _ in 0..s {
                    row[3 * x..3 * x + 3].copy_from_slice(&c);
                    x += 1;
                }
            }
        }
    }
    Ok(Strip {
        width,
        height,
        rgb,
        limits,
    })
}

/// Largest finite |v| (0 if none).
fn max_abs(f: &[f32]) -> f64 {
    f.iter()
        .filter(|v| v.is_finite())
        .map(|v| f64::from(v.abs()))
        .fold(0.0, f64::max)
}

/// A zero limit (an all-zero or non-finite field) becomes 1.
fn or_one(l: f64) -> f64 {
    if l > 0.0 {
        l
    } else {
        1.0
    }
}
