//! Log–log line plots of spectra `E(k)` against the wavenumber `k`, as PNG.
//!
//! Curves are drawn in the order given (matplotlib's `tab10` colours), with
//! a legend of their labels, optionally a dashed power-law reference line
//! `∝ k^p` anchored to one curve and a dotted vertical marker (say, the
//! dealiasing cutoff); the legend sits in the lower left corner, where
//! decaying spectra leave room. Points with `k ≤ 0`, a non-positive value, or a
//! non-finite coordinate cannot be shown on log axes and are skipped; a
//! curve is broken into pieces where they occur. The axes span the
//! plotted points, the reference line and the marker, with a margin.

use std::path::Path;

use plotters::coord::combinators::{LogCoord, WithKeyPoints};
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use crate::data::io;
use crate::error::{Error, Result};
use crate::plot::font;
use crate::plot::png::{write_rgb, MAX_SIDE};

/// One line of a spectrum plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    /// Legend entry.
    pub label: String,
    /// `(k, E(k))` points, in increasing `k`.
    pub points: Vec<(f64, f64)>,
}

impl Curve {
    /// A curve from explicit `(k, E(k))` points.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Curve {
            label: label.into(),
            points,
        }
    }

    /// A curve from shell values, `values[m]` being the shell `|k| = m`
    /// (what [`crate::ns::diagnostics::shell_spectra`] returns; `k` in
    /// units of the fundamental wavenumber `2π/L`). Shell 0 is skipped by
    /// the plot (`k = 0` has no place on a log axis).
    pub fn from_shells(label: impl Into<String>, values: &[f64]) -> Self {
        Curve::new(
            label,
            values
                .iter()
                .enumerate()
                .map(|(m, &v)| (m as f64, v))
                .collect(),
        )
    }
}

/// A dashed reference line `c · k^exponent` over `[k_from, k_to]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SlopeLine {
    /// The power `p` (e.g. `-3` for the 2-D enstrophy cascade, `-5/3`
    /// for the inverse energy cascade).
    pub exponent: f64,
    /// Legend entry, e.g. `"∝ k⁻³"`.
    pub label: String,
    /// Index of the curve it is anchored to.
    pub curve: usize,
    /// Start of the line; the anchor is the curve's plotted point whose
    /// `k` is nearest to it (on a log scale).
    pub k_from: f64,
    /// End of the line.
    pub k_to: f64,
    /// The line passes `factor` times the anchor's value (1: through it;
    /// 2–3 sets it just above the curve, where both stay visible).
    pub factor: f64,
}

/// A dotted vertical line at `k`, with a legend entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    /// Its wavenumber.
    pub k: f64,
    /// Legend entry, e.g. `"2/3 cutoff k = 85"`.
    pub label: String,
}

/// Options of [`spectra_png`].
#[derive(Clone, Debug, PartialEq)]
pub struct SpectraOptions {
    /// Image width in pixels (default 800).
    pub width: u32,
    /// Image height in pixels (default 600).
    pub height: u32,
    /// x-axis label (default `"k"`).
    pub x_label: String,
    /// y-axis label (default `"E(k)"`).
    pub y_label: String,
    /// A reference power law (default none).
    pub slope: Option<SlopeLine>,
    /// A vertical marker (default none).
    pub marker: Option<Marker>,
}

impl Default for SpectraOptions {
    fn default() -> Self {
        SpectraOptions {
            width: 800,
            height: 600,
            x_label: "k".to_string(),
            y_label: "E(k)".to_string(),
            slope: None,
            marker: None,
        }
    }
}

/// Smallest image side: room for the axis labels and a plot area.
pub(super) const MIN_SIDE: u32 = 200;

/// matplotlib's `tab10` colours, cycled over the curves.
pub(super) const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Whether `(k, v)` can be drawn on log–log axes.
fn plottable(&(k, v): &(f64, f64)) -> bool {
    k.is_finite() && v.is_finite() && k > 0.0 && v > 0.0
}

/// The runs of consecutive plottable points of `points`.
fn pieces(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut cur = Vec::new();
    for p in points {
        if plottable(p) {
            cur.push(*p);
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A log axis on `[lo, hi]` (`0 < lo < hi`) with its ticks at powers of
/// ten: every decade while there are at most 10, else every `d`-th (`d`
/// the smallest stride giving at most 10), and light grid lines at 2..9
/// times each decade when every decade is labelled, else at the
/// unlabelled decades.
///
/// (plotters' own log-axis ticks skip values below `f64::EPSILON`, which
/// spectra reach; the points are therefore given explicitly.)
fn log_axis(lo: f64, hi: f64) -> WithKeyPoints<LogCoord<f64>> {
    let (e_lo, e_hi) = (lo.log10().ceil() as i32, hi.log10().floor() as i32);
    let decades = (e_hi - e_lo).max(0);
    let stride = ((decades + 9) / 10).max(1);
    let first = e_lo.div_euclid(stride) * stride;
    let bold: Vec<f64> = (first..=e_hi)
        .step_by(stride as usize)
        .map(|e| 10f64.powi(e))
        .filter(|v| (lo..=hi).contains(v))
        .collect();
    let light: Vec<f64> = if stride == 1 {
        (e_lo - 1..=e_hi)
            .flat_map(|e| (2..10).map(move |m| f64::from(m) * 10f64.powi(e)))
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    } else {
        (e_lo..=e_hi)
            .filter(|e| e.rem_euclid(stride) != 0)
            .map(|e| 10f64.powi(e))
            .collect()
    };
    (lo..hi)
        .log_scale()
        .with_key_points(bold)
        .with_light_points(light)
}

fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::Plot(format!("drawing the spectrum plot: {e}"))
}

/// The reference line's two end points, validated.
fn slope_points(s: &SlopeLine, curves: &[Curve]) -> Result<[(f64, f64); 2]> {
    let bad = |what: &str| Err(Error::InvalidArgument(format!("reference slope: {what}")));
    let Some(curve) = curves.get(s.curve) else {
        return bad(&format!(
            "curve {} does not exist ({} curves)",
            s.curve,
            curves.len()
        ));
    };
    if !s.exponent.is_finite() {
        return bad("non-finite exponent");
    }
    if !(s.k_from.is_finite() && s.k_to.is_finite() && 0.0 < s.k_from && s.k_from < s.k_to) {
        return bad(&format!(
            "needs 0 < k_from < k_to, got {} .. {}",
            s.k_from, s.k_to
        ));
    }
    if !(s.factor.is_finite() && s.factor > 0.0) {
        return bad(&format!("factor {} is not finite and positive", s.factor));
    }
    let dist = |k: f64| (k.ln() - s.k_from.ln()).abs();
    let anchor = curve
        .points
        .iter()
        .filter(|p| plottable(p))
        .min_by(|a, b| dist(a.0).total_cmp(&dist(b.0)));
    let Some(&(ka, va)) = anchor else {
        return bad(&format!("curve '{}' has no plottable point", curve.label));
    };
    let c = s.factor * va / ka.powf(s.exponent);
    let at = |k: f64| (k, c * k.powf(s.exponent));
    let ends = [at(s.k_from), at(s.k_to)];
    if !ends.iter().all(plottable) {
        return bad("the line leaves the range of f64");
    }
    Ok(ends)
}

/// Draws `curves` as a log–log plot titled `title` into an RGB PNG of
/// `opts.width × opts.height` pixels at `path`.
///
/// `k` is in whatever units the curves use (shell index for
/// [`Curve::from_shells`]); points that log axes cannot show are skipped.
///
/// # Errors
/// [`Error::InvalidArgument`] for an image side outside 200 ..= 16 384
/// pixels, no plottable point in any curve, an invalid reference slope
/// (unknown curve, `k_from ≥ k_to`, non-positive factor) or marker
/// (`k ≤ 0`); [`Error::File`] for an existing `path` (all checked before
/// drawing; nothing is written); [`Error::Plot`] if drawing or encoding fails; [`Error::Io`]
/// naming `path` if it cannot be written.
pub fn spectra_png(
    path: &Path,
    title: &str,
    curves: &[Curve],
    opts: &SpectraOptions,
) -> Result<()> {
    let (w, h) = (opts.width, opts.height);
    let side = MIN_SIDE..=MAX_SIDE as u32;
    if !side.contains(&w) || !side.contains(&h) {
        return Err(Error::InvalidArgument(format!(
            "spectrum plot: size {w} x {h} pixels, each side must be in {MIN_SIDE} ..= {MAX_SIDE}"
        )));
    }
    let drawn: Vec<Vec<Vec<(f64, f64)>>> = curves.iter().map(|c| pieces(&c.points)).collect();
    let mut all: Vec<(f64, f64)> = drawn.iter().flatten().flatten().copied().collect();
    if all.is_empty() {
        return Err(Error::InvalidArgument(
            "spectrum plot: no point with k > 0 and a positive finite value".to_string(),
        ));
    }
    let slope = opts
        .slope
        .as_ref()
        .map(|s| slope_points(s, curves))
        .transpose()?;
    all.extend(slope.iter().flatten());
    if let Some(m) = &opts.marker {
        if !(m.k.is_finite() && m.k > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "spectrum plot: marker at k = {} (needs a positive k)",
                m.k
            )));
        }
        all.push((m.k, all[0].1));
    }
    io::refuse_existing(path)?;
    font::ensure()?;

    let (k_lo, k_hi, v_lo, v_hi) = all.iter().fold(
        (f64::MAX, f64::MIN, f64::MAX, f64::MIN),
        |(a, b, c, d), &(k, v)| (a.min(k), b.max(k), c.min(v), d.max(v)),
    );
    // Margins: 10 % of a decade in k, half a decade in the value, so no
    // point sits on the frame (and a single point still spans a range).
    let (k_lo, k_hi) = (k_lo / 1.26, k_hi * 1.26);
    let (v_lo, v_hi) = (v_lo / 3.16, v_hi * 3.16);

    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (font::FAMILY, 22))
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(76)
            .build_cartesian_2d(log_axis(k_lo, k_hi), log_axis(v_lo, v_hi))
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc(opts.x_label.as_str())
            .y_desc(opts.y_label.as_str())
            .label_style((font::FAMILY, 15))
            .axis_desc_style((font::FAMILY, 18))
            .x_label_formatter(&|&k| {
                if (1e-3..=1e5).contains(&k) {
                    format!("{k}")
                } else {
                    format!("{k:.0e}")
                }
            })
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(210, 210, 210))
            .draw()
            .map_err(plot_err)?;
        for (i, (curve, parts)) in curves.iter().zip(&drawn).enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            for (j, part) in parts.iter().enumerate() {
                let series = chart
                    .draw_series(LineSeries::new(part.iter().copied(), color.stroke_width(2)))
                    .map_err(plot_err)?;
                if j == 0 {
                    series.label(curve.label.as_str()).legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                }
            }
        }
        if let (Some(s), Some(ends)) = (&opts.slope, slope) {
            let style = BLACK.stroke_width(2);
            chart
                .draw_series(DashedLineSeries::new(ends, 10, 6, style))
                .map_err(plot_err)?
                .label(s.label.as_str())
                .legend(move |(x, y)| DashedPathElement::new([(x, y), (x + 20, y)], 10, 6, style));
        }
        if let Some(m) = &opts.marker {
            let color = RGBColor(100, 100, 100);
            let style = color.stroke_width(2);
            chart
                .draw_series(DashedLineSeries::new(
                    [(m.k, v_lo), (m.k, v_hi)],
                    3,
                    4,
                    style,
                ))
                .map_err(plot_err)?
                .label(m.label.as_str())
                .legend(move |(x, y)| DashedPathElement::new([(x, y), (x + 20, y)], 3, 4, style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .label_font((font::FAMILY, 16))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .draw()
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    write_rgb(path, w, h, &rgb)
}
