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
    // The value axis as drawn: padded by 5 % (linear) or a factor 2 (log).
    let pad = 0.05 * (y_hi - y_lo).max(y_hi.abs() * 1e-3).max(1e-12);
    let (y_axis_lo, mut y_axis_hi) = if opts.log_y {
        (y_lo / 2.0, y_hi * 2.0)
    } else {
        (y_lo - pad, y_hi + pad)
    };
    let corner = match opts.legend {
        LegendPlace::UpperLeft => SeriesLabelPosition::UpperLeft,
        LegendPlace::Emptiest => {
            let labels: Vec<&str> = curves
                .iter()
                .map(|c| c.label.as_str())
                .chain(opts.reference_lines.iter().map(|r| r.1.as_str()))
                .collect();
            let (corner, top) = legend_layout(
                &drawn,
                (x_lo, x_hi),
                (y_axis_lo, y_axis_hi),
                opts.log_y,
                legend_box((w, h), &labels),
            );
            y_axis_hi = top;
            corner
        }
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
                .build_cartesian_2d(x_lo..x_hi, (y_axis_lo..y_axis_hi).log_scale())
                .map_err(plot_err)?;
            draw!(c, |v: &f64| format!("{v:.0e}"));
        } else {
            let c = builder
                .build_cartesian_2d(x_lo..x_hi, y_axis_lo..y_axis_hi)
                .map_err(plot_err)?;
            let digits = tick_decimals(y_axis_hi - y_axis_lo);
            draw!(c, move |v: &f64| format!("{v:.digits$}"));
        }
        root.present().map_err(plot_err)?;
    }
    write_rgb(path, w, h, &rgb)
}

/// Decimals of the value-axis tick labels for an axis spanning `span`:
/// enough to tell ticks about a tenth of the span apart (plotters puts
/// about ten), no more (`45` rather than `45.000`, `0.995` for a
/// correlation near 1).
fn tick_decimals(span: f64) -> usize {
    let step = span / 10.0;
    if !(step.is_finite() && step > 0.0) {
        return 3;
    }
    (-step.log10().floor()).clamp(0.0, 6.0) as usize
}

/// The legend's size as fractions of the plotting area of an image of
/// `size` pixels: a line per label of about 20 px, 9 px per character of
/// the longest label plus the sample line, and the margins of the layout
/// above (axis label areas, caption).
fn legend_box(size: (u32, u32), labels: &[&str]) -> (f64, f64) {
    let chars = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let (w, h) = (f64::from(size.0) - 100.0, f64::from(size.1) - 110.0);
    let (bw, bh) = (50.0 + 9.0 * chars as f64, 16.0 + 20.0 * labels.len() as f64);
    ((bw / w.max(1.0)).min(1.0), (bh / h.max(1.0)).min(1.0))
}

/// The plot corner whose legend-sized box (`legend`: width and height as
/// fractions of the axes) the curves cross least, in drawn coordinates
/// (log values on a log axis); each segment counts by 16 points along it,
/// so a line crossing a corner counts although its data points lie
/// outside. Ties go to upper left, then upper right, lower left, lower
/// right. Returns the corner and its count.
fn emptiest_corner(
    curves: &[Vec<(f64, f64)>],
    (x_lo, x_hi): (f64, f64),
    (y_lo, y_hi): (f64, f64),
    log_y: bool,
    legend: (f64, f64),
) -> (SeriesLabelPosition, usize) {
    let fy = |y: f64| if log_y { y.ln() } else { y };
    let (y_lo, y_hi) = (fy(y_lo), fy(y_hi));
    // Normalised to [0, 1] with y up.
    let unit = |(x, y): (f64, f64)| ((x - x_lo) / (x_hi - x_lo), (fy(y) - y_lo) / (y_hi - y_lo));
    let (bw, bh) = legend;
    let mut count = [0usize; 4];
    let mut tally = |(u, v): (f64, f64)| {
        let corners = [
            u <= bw && v >= 1.0 - bh,
            u >= 1.0 - bw && v >= 1.0 - bh,
            u <= bw && v <= bh,
            u >= 1.0 - bw && v <= bh,
        ];
        for (c, inside) in count.iter_mut().zip(corners) {
            *c += usize::from(inside);
        }
    };
    for curve in curves {
        let pts: Vec<(f64, f64)> = curve.iter().map(|&p| unit(p)).collect();
        if let [only] = pts[..] {
            tally(only);
        }
        for pair in pts.windows(2) {
            let ((u0, v0), (u1, v1)) = (pair[0], pair[1]);
            for j in 0..16 {
                let a = f64::from(j) / 16.0;
                tally((u0 + a * (u1 - u0), v0 + a * (v1 - v0)));
            }
        }
        if let (true, Some(&last)) = (pts.len() > 1, pts.last()) {
            tally(last);
        }
    }
    let corners = [
        SeriesLabelPosition::UpperLeft,
        SeriesLabelPosition::UpperRight,
        SeriesLabelPosition::LowerLeft,
        SeriesLabelPosition::LowerRight,
    ];
    let best = (0..4).min_by_key(|&i| (count[i], i)).unwrap_or(0);
    (corners[best].clone(), count[best])
}

/// The legend's corner and the top of the value axis: the emptiest corner
/// ([`emptiest_corner`]) when the curves leave one free; else the axis
/// raised so that the curves stay below the legend's height and the legend
/// goes upper left (a density's peak and tails reach every corner).
fn legend_layout(
    curves: &[Vec<(f64, f64)>],
    x: (f64, f64),
    (y_lo, y_hi): (f64, f64),
    log_y: bool,
    legend: (f64, f64),
) -> (SeriesLabelPosition, f64) {
    let (corner, crossings) = emptiest_corner(curves, x, (y_lo, y_hi), log_y, legend);
    if crossings == 0 {
        return (corner, y_hi);
    }
    // The data keep the lower 1 − h − 3 % of the axis.
    let keep = (1.0 - legend.1 - 0.03).max(0.2);
    let top = if log_y {
        (y_lo.ln() + (y_hi.ln() - y_lo.ln()) / keep).exp()
    } else {
        y_lo + (y_hi - y_lo) / keep
    };
    (SeriesLabelPosition::UpperLeft, top)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line rising from lower left to upper right leaves the upper left
    /// and lower right corners empty: upper left wins the tie; a decaying
    /// correlation crowds the top and leaves lower left empty. A log-axis
    /// density (a vorticity PDF) whose peak and tails reach every corner
    /// gets a raised axis with the legend above its peak.
    #[test]
    fn legend_avoids_the_data() {
        let range = ((0.0, 10.0), (0.0, 10.0));
        let small = (0.3, 0.3);
        let at = |c: &[(f64, f64)]| legend_layout(&[c.to_vec()], range.0, range.1, false, small);
        let rising = [(0.0, 0.0), (10.0, 10.0)];
        assert_eq!(at(&rising), (SeriesLabelPosition::UpperLeft, 10.0));
        let decaying: Vec<(f64, f64)> = (0..=10)
            .map(|i| (f64::from(i), 10.0 * (-0.05 * f64::from(i)).exp()))
            .collect();
        assert_eq!(at(&decaying), (SeriesLabelPosition::LowerLeft, 10.0));
        // A Gaussian density from 3e-4 to 0.6 on a log axis, x in ±7.5,
        // with a legend 60 % wide and 30 % high (the demo's PDF figure).
        let pdf: Vec<(f64, f64)> = (0..=60)
            .map(|i| {
                let x = -7.5 + 0.25 * f64::from(i);
                (x, 0.2 * (-x * x / 8.0).exp())
            })
            .collect();
        let (y_lo, y_hi) = (3e-4, 0.6);
        let curves = [pdf];
        let (corner, crossings) =
            emptiest_corner(&curves, (-7.5, 7.5), (y_lo, y_hi), true, (0.6, 0.3));
        assert!(
            crossings > 0,
            "every corner is crossed ({corner:?}: {crossings})"
        );
        let (corner, top) = legend_layout(&curves, (-7.5, 7.5), (y_lo, y_hi), true, (0.6, 0.3));
        assert_eq!(corner, SeriesLabelPosition::UpperLeft);
        // On the raised axis the legend's box is free.
        let (_, crossings) = emptiest_corner(&curves, (-7.5, 7.5), (y_lo, top), true, (0.6, 0.3));
        assert_eq!(
            crossings, 0,
            "the raised axis (top {top}) leaves the legend free"
        );
    }

    /// Ticks about a tenth of the span apart get just the decimals that
    /// tell them apart.
    #[test]
    fn tick_decimals_follow_the_span() {
        assert_eq!(tick_decimals(45.0), 0);
        assert_eq!(tick_decimals(0.07), 3);
        assert_eq!(tick_decimals(1.0), 1);
        assert_eq!(tick_decimals(f64::NAN), 3);
    }
}
