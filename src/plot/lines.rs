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
    /// Horizontal reference lines `(value, label)`, drawn dashed in grey
    /// with their label in the legend (e.g. a threshold the report's table
    /// uses); default none.
    pub reference_lines: Vec<(f64, String)>,
    /// Where the legend goes; default [`LegendPlace::UpperLeft`].
    pub legend: LegendPlace,
}

/// The legend's corner in a [`lines_png`] plot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LegendPlace {
    /// The upper left corner.
    #[default]
    UpperLeft,
    /// The corner with the fewest data points near it, so that the legend
    /// hides as little of the curves as possible.
    Emptiest,
}

impl Default for LinesOptions {
    fn default() -> Self {
        LinesOptions {
            size: (800, 600),
            x_label: "t".into(),
            y_label: String::new(),
            log_y: false,
            reference_lines: Vec::new(),
            legend: LegendPlace::UpperLeft,
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
/// plottable point; [`Error::File`] for an existing `path` (nothing is
/// written then);
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
    // Reference lines inside the value range widen it (a threshold the
    // data never reach is still drawn).
    let (y_lo, y_hi) = opts
        .reference_lines
        .iter()
        .map(|r| r.0)
        .filter(|&v| v.is_finite() && (!opts.log_y || v > 0.0))
        .fold((y_lo, y_hi), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let corner = match opts.legend {
        LegendPlace::UpperLeft => SeriesLabelPosition::UpperLeft,
        LegendPlace::Emptiest => emptiest_corner(&all, (x_lo, x_hi), (y_lo, y_hi), opts.log_y),
    };
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
                for (value, label) in &opts.reference_lines {
                    let grey = RGBColor(110, 110, 110);
                    chart
                        .draw_series(DashedLineSeries::new(
                            [(x_lo, *value), (x_hi, *value)],
                            8,
                            5,
                            grey.stroke_width(1),
                        ))
                        .map_err(plot_err)?
                        .label(label.as_str())
                        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], grey));
                }
                chart
                    .configure_series_labels()
                    .position(corner)
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

/// The plot corner whose quarter of the axes (in drawn coordinates: log
/// values on a log axis) holds the fewest points; ties go to upper left,
/// then upper right, lower left, lower right.
fn emptiest_corner(
    points: &[(f64, f64)],
    (x_lo, x_hi): (f64, f64),
    (y_lo, y_hi): (f64, f64),
    log_y: bool,
) -> SeriesLabelPosition {
    let fy = |y: f64| if log_y { y.ln() } else { y };
    let (y_lo, y_hi) = (fy(y_lo), fy(y_hi));
    let mut count = [0usize; 4];
    for &(x, y) in points {
        let right = (x - x_lo) > 0.5 * (x_hi - x_lo);
        let lower = (fy(y) - y_lo) < 0.5 * (y_hi - y_lo);
        count[usize::from(lower) * 2 + usize::from(right)] += 1;
    }
    let corners = [
        SeriesLabelPosition::UpperLeft,
        SeriesLabelPosition::UpperRight,
        SeriesLabelPosition::LowerLeft,
        SeriesLabelPosition::LowerRight,
    ];
    let best = (0..4).min_by_key(|&i| (count[i], i)).unwrap_or(0);
    corners[best].clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A curve rising from lower left to upper right leaves the upper left
    /// and lower right corners empty: upper left wins the tie; points
    /// crowding upper left move the legend to the first empty corner.
    #[test]
    fn emptiest_corner_avoids_the_data() {
        let rising: Vec<(f64, f64)> = (0..=10)
            .filter(|&i| i != 5)
            .map(|i| (f64::from(i), f64::from(i)))
            .collect();
        let range = ((0.0, 10.0), (0.0, 10.0));
        let at = |pts: &[(f64, f64)], log| emptiest_corner(pts, range.0, range.1, log);
        assert_eq!(at(&rising, false), SeriesLabelPosition::UpperLeft);
        // A correlation curve: starts at 1 and decays, crowding the top.
        let decaying: Vec<(f64, f64)> = (0..=10)
            .map(|i| (f64::from(i), 10.0 * (-0.05 * f64::from(i)).exp()))
            .collect();
        assert_eq!(at(&decaying, false), SeriesLabelPosition::LowerLeft);
        // On a log axis the middle is the geometric mean.
        let log_range = ((0.0, 10.0), (1.0, 100.0));
        let high = [(1.0, 20.0), (9.0, 20.0), (1.0, 50.0), (9.0, 50.0)];
        let corner = emptiest_corner(&high, log_range.0, log_range.1, true);
        assert_eq!(corner, SeriesLabelPosition::LowerLeft);
    }
}
