//! Line plots on linear axes (or a logarithmic value axis) as PNG: errors
//! over time, probability densities. Same look as [`super::spectrum`]
//! (its colours, font and legend); points with a non-finite coordinate, or
//! a non-positive value on a log axis, are skipped.

use std::path::Path;

use plotters::prelude::*;

use crate::data::io;
use crate::error::{Error, Result};
use crate::plot::font;
use crate::plot::png::write_rgb;
use crate::plot::spectrum::{Curve, MIN_SIDE, PALETTE};

/// Options of [`lines_png`].
#[derive(Clone, Debug, PartialEq)]
pub struct LinesOptions {
    /// Image width and height in pixels (default 800 × 600).
    pub size: (u32, u32),
    /// Axis labels.
    pub x_label: String,
    /// Value-axis label.
    pub y_label: String,
    /// A logarithmic value axis (default linear).
    pub log_y: bool,
}

impl Default for LinesOptions {
    fn default() -> Self {
        LinesOptions {
            size: (800, 600),
            x_label: "t".into(),
            y_label: String::new(),
            log_y: false,
        }
    }
}

fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::Plot(format!("drawing the line plot: {e}"))
}

/// Draws `curves` titled `title` into an RGB PNG at `path`.
///
/// # Errors
/// [`Error::InvalidArgument`] for an image side outside 200 ..= 16 384, no
/// plottable point, or an existing `path` (nothing is written then);
/// [`Error::Plot`] if drawing fails; [`Error::Io`] if it cannot be written.
pub fn lines_png(path: &Path, title: &str, curves: &[Curve], opts: &LinesOptions) -> Result<()> {
    let (w, h) = opts.size;
    if !(MIN_SIDE..=16_384).contains(&w) || !(MIN_SIDE..=16_384).contains(&h) {
        return Err(Error::InvalidArgument(format!(
            "line plot: size {w} x {h} pixels, each side must be in {MIN_SIDE} ..= 16384"
        )));
    }
    let keep = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!opts.log_y || y > 0.0);
    let drawn: Vec<Vec<(f64, f64)>> = curves
        .iter()
        .map(|c| c.points.iter().copied().filter(keep).collect())
        .collect();
    let all: Vec<(f64, f64)> = drawn.iter().flatten().copied().collect();
    if all.is_empty() {
        return Err(Error::InvalidArgument(
            "line plot: no plottable point".into(),
        ));
    }
    io::refuse_existing(path)?;
    font::ensure()?;
    let (x_lo, x_hi, y_lo, y_hi) = all.iter().fold(
        (f64::MAX, f64::MIN, f64::MAX, f64::MIN),
        |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
    );
    let x_hi = if x_hi > x_lo { x_hi } else { x_lo + 1.0 };
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, (font::FAMILY, 22))
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(76);
        // One drawing routine for both value axes.
        macro_rules! draw {
            ($chart:expr, $fmt:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(opts.x_label.as_str())
                    .y_desc(opts.y_label.as_str())
                    .label_style((font::FAMILY, 15))
                    .axis_desc_style((font::FAMILY, 18))
                    .y_label_formatter(&$fmt)
                    .light_line_style(RGBColor(235, 235, 235))
                    .bold_line_style(RGBColor(210, 210, 210))
                    .draw()
                    .map_err(plot_err)?;
                for (i, (curve, pts)) in curves.iter().zip(&drawn).enumerate() {
                    let color = PALETTE[i % PALETTE.len()];
                    chart
                        .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                        .map_err(plot_err)?
                        .label(curve.label.as_str())
                        .legend(move |(x, y)| {
                            PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                        });
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .label_font((font::FAMILY, 16))
                    .background_style(WHITE.mix(0.85))
                    .border_style(RGBColor(160, 160, 160))
                    .draw()
                    .map_err(plot_err)?;
            }};
        }
        if opts.log_y {
            let c = builder
                .build_cartesian_2d(x_lo..x_hi, (y_lo / 2.0..y_hi * 2.0).log_scale())
                .map_err(plot_err)?;
            draw!(c, |v: &f64| format!("{v:.0e}"));
        } else {
            let pad = 0.05 * (y_hi - y_lo).max(y_hi.abs() * 1e-3).max(1e-12);
            let c = builder
                .build_cartesian_2d(x_lo..x_hi, y_lo - pad..y_hi + pad)
                .map_err(plot_err)?;
            draw!(c, |v: &f64| format!("{v:.3}"));
        }
        root.present().map_err(plot_err)?;
    }
    write_rgb(path, w, h, &rgb)
}
