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
//! Optionally a title, panel titles and a labelled colour bar go around the
//! panels ([`HeatmapOptions::title`], [`HeatmapOptions::panel_titles`],
//! [`HeatmapOptions::colorbar`]).

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
    /// A title above the figure (e.g. "closure term G, t = 35.0");
    /// default none.
    pub title: Option<String>,
    /// One title per panel, drawn above it ("truth", "sample 1", "error";
    /// `\n` starts a new line); default none. Fewer titles than panels
    /// leave the rest untitled.
    pub panel_titles: Vec<String>,
    /// A horizontal colour bar under the panels with ticks at `-limit`,
    /// 0 and `+limit` and this label (the field and its unit); one bar per
    /// panel when their limits differ. Default none.
    pub colorbar: Option<String>,
}

impl Default for HeatmapOptions {
    fn default() -> Self {
        HeatmapOptions {
            limit: None,
            shared_limit: true,
            min_size: 256,
            origin: Origin::Lower,
            gap: 4,
            title: None,
            panel_titles: Vec::new(),
            colorbar: None,
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
/// finite and positive, or an image side over 16 384 pixels;
/// [`Error::File`] for an existing `path` (all checked before drawing;
/// nothing is written); [`Error::Shape`]
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
    let mut image = render_strip(fields, h, w, opts, Some(path))?;
    if opts.title.is_some() || !opts.panel_titles.is_empty() || opts.colorbar.is_some() {
        image = annotate(image, fields.len(), opts)?;
    }
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

/// Text sizes (pixels) of the annotations.
const TITLE_PX: u32 = 20;
const LABEL_PX: u32 = 15;
/// Colour bar: height of the bar, its longest width, and the tick length.
const BAR_H: usize = 14;
const BAR_W: usize = 240;
const TICK: usize = 4;

/// A rough width of `text` at `px` pixels (DejaVu Sans averages ≈ 0.6 em
/// per character): enough to keep a title inside the canvas.
fn text_width(text: &str, px: u32) -> usize {
    (text.chars().count() as f64 * 0.6 * f64::from(px)).ceil() as usize
}

/// The strip with its title, panel titles and colour bar(s) around it.
fn annotate(strip: Strip, panels: usize, opts: &HeatmapOptions) -> Result<Strip> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};

    let plot_err = |e: DrawingAreaErrorKind<_>| Error::Plot(format!("annotating the heatmap: {e}"));
    crate::plot::font::ensure()?;
    let margin = 10;
    let panel_w = (strip.width - opts.gap * (panels - 1)) / panels;
    let title_h = opts.title.as_ref().map_or(0, |_| TITLE_PX as usize + 12);
    // Panel titles may have several lines ('\n').
    let head_lines = opts
        .panel_titles
        .iter()
        .map(|t| t.lines().count())
        .max()
        .unwrap_or(0);
    let heads_h = head_lines * (LABEL_PX as usize + 4) + if head_lines > 0 { 4 } else { 0 };
    let shared = strip.limits.windows(2).all(|l| l[0] == l[1]);
    let bars = if shared { 1 } else { panels };
    let bar_w = if shared {
        BAR_W.min(strip.width)
    } else {
        BAR_W.min(panel_w - 16)
    };
    let bar_h = opts
        .colorbar
        .as_ref()
        .map_or(0, |_| 10 + BAR_H + TICK + 2 * (LABEL_PX as usize + 4));
    let width = (strip.width + 2 * margin).max(
        opts.title
            .as_deref()
            .map_or(0, |t| text_width(t, TITLE_PX) + 2 * margin),
    );
    let height = margin + title_h + heads_h + strip.height + bar_h + margin;
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(Error::InvalidArgument(format!(
            "heatmap: the annotated figure of {width} x {height} pixels exceeds {MAX_SIDE} per side"
        )));
    }
    let mut rgb = vec![255u8; width * height * 3];
    let x0 = (width - strip.width) / 2;
    let y0 = margin + title_h + heads_h;
    for (r, row) in strip.rgb.chunks_exact(strip.width * 3).enumerate() {
        let at = ((y0 + r) * width + x0) * 3;
        rgb[at..at + row.len()].copy_from_slice(row);
    }
    // The colour bars' pixels, drawn straight into the buffer.
    let bar_y = y0 + strip.height + 10;
    let bar_x = |b: usize| -> usize {
        if shared {
            x0 + (strip.width - bar_w) / 2
        } else {
            x0 + b * (panel_w + opts.gap) + (panel_w - bar_w) / 2
        }
    };
    if opts.colorbar.is_some() {
        for b in 0..bars {
            for j in 0..bar_w {
                let c = diverging(2.0 * j as f64 / (bar_w - 1).max(1) as f64 - 1.0);
                for y in bar_y..bar_y + BAR_H {
                    let at = (y * width + bar_x(b) + j) * 3;
                    rgb[at..at + 3].copy_from_slice(&c);
                }
            }
        }
    }
    {
        let root =
            BitMapBackend::with_buffer(&mut rgb, (width as u32, height as u32)).into_drawing_area();
        let style = |px: u32, h: HPos| {
            TextStyle::from((crate::plot::font::FAMILY, px).into_font())
                .color(&BLACK)
                .pos(Pos::new(h, VPos::Top))
        };
        let at = |x: usize, y: usize| (x as i32, y as i32);
        if let Some(t) = &opts.title {
            root.draw(&Text::new(
                t.as_str(),
                at(width / 2, margin),
                style(TITLE_PX, HPos::Center),
            ))
            .map_err(plot_err)?;
        }
        for (p, t) in opts.panel_titles.iter().take(panels).enumerate() {
            let cx = x0 + p * (panel_w + opts.gap) + panel_w / 2;
            for (l, line) in t.lines().enumerate() {
                let y = margin + title_h + l * (LABEL_PX as usize + 4);
                root.draw(&Text::new(line, at(cx, y), style(LABEL_PX, HPos::Center)))
                    .map_err(plot_err)?;
            }
        }
        if let Some(label) = &opts.colorbar {
            for b in 0..bars {
                let (x, l) = (bar_x(b), strip.limits[b]);
                let ty = bar_y + BAR_H;
                for (j, v) in [(0, -l), (bar_w / 2, 0.0), (bar_w - 1, l)] {
                    root.draw(&PathElement::new(
                        vec![at(x + j, ty), at(x + j, ty + TICK)],
                        BLACK,
                    ))
                    .map_err(plot_err)?;
                    let h = match j {
                        0 => HPos::Left,
                        _ if j == bar_w - 1 => HPos::Right,
                        _ => HPos::Center,
                    };
                    root.draw(&Text::new(
                        tick(v),
                        at(x + j, ty + TICK + 2),
                        style(LABEL_PX, h),
                    ))
                    .map_err(plot_err)?;
                }
                let ly = ty + TICK + LABEL_PX as usize + 6;
                root.draw(&Text::new(
                    label.as_str(),
                    at(x + bar_w / 2, ly),
                    style(LABEL_PX, HPos::Center),
                ))
                .map_err(plot_err)?;
            }
        }
        root.present().map_err(plot_err)?;
    }
    Ok(Strip {
        width,
        height,
        rgb,
        limits: strip.limits,
    })
}

/// A colour-bar tick: three significant digits, scientific outside
/// [1e-2, 1e4).
fn tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if (1e-2..1e4).contains(&a) {
        format!("{v:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        format!("{v:.2e}")
    }
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
