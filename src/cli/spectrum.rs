//! `diffclosure spectrum`: time-averaged energy and enstrophy spectra of a
//! trajectory file, and the resolution criterion of docs/specification.md §2; as
//! JSON, a log–log plot and a vorticity heatmap on request.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;

use crate::cli::GpuArgs;
use crate::data::io;
use crate::gpu::Gpu;
use crate::metrics::spectra::mean_shell_spectra;
use crate::ns::diagnostics::pdf;
use crate::plot::heatmap::{heatmap_png, HeatmapOptions};
use crate::plot::spectrum::{spectra_png, Curve, Marker, SlopeLine, SpectraOptions};

/// Options of `diffclosure spectrum`.
#[derive(Args, Debug)]
pub struct SpectrumArgs {
    /// A file written by `simulate`.
    #[arg(long)]
    input: PathBuf,
    /// Only snapshots at or after this time.
    #[arg(long, default_value_t = 0.0)]
    from: f64,
    /// Write the spectra and statistics as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Plot the time-averaged energy and enstrophy spectra E(k), Z(k) here
    /// (one PNG, log–log, k in units of 2π/L, shells 1 ..= √2·n/3, the
    /// corner of the dealiased square), with the 2/3 dealiasing cutoff n/3
    /// and a k⁻³ reference line marked.
    #[arg(long)]
    png: Option<PathBuf>,
    /// Draw the vorticity of the file's last snapshot (first trajectory)
    /// here as a PNG heatmap (blue < 0 < red, limits ±max|ω|, y up).
    #[arg(long)]
    heatmap: Option<PathBuf>,
}

/// Refuses outputs that exist, coincide with the input or each other, or
/// cannot be created — before the input is read or a GPU opened.
fn check_outputs(input: &Path, outputs: &[(&str, &Path)]) -> Result<()> {
    for (i, (flag, out)) in outputs.iter().enumerate() {
        if io::same_file(input, out) {
            bail!("{flag} {} is the input file", out.display());
        }
        if let Some((other, _)) = outputs[..i].iter().find(|(_, o)| io::same_file(o, out)) {
            bail!("{flag} and {other} name the same file {}", out.display());
        }
        io::refuse_existing(out)?;
        io::check_writable(out)?;
    }
    Ok(())
}

fn mean_rms_of(rms: &[f64]) -> f64 {
    (rms.iter().sum::<f64>() / rms.len().max(1) as f64).max(f64::MIN_POSITIVE)
}

/// Runs `diffclosure spectrum`.
///
/// # Errors
/// An existing, unwritable or duplicate output (before anything else), an
/// unreadable or malformed input, no snapshot after `--from`.
pub fn run(gpu_args: &GpuArgs, a: &SpectrumArgs) -> Result<()> {
    let outputs: Vec<(&str, &Path)> = [
        ("--json", &a.json),
        ("--png", &a.png),
        ("--heatmap", &a.heatmap),
    ]
    .into_iter()
    .filter_map(|(flag, p)| p.as_deref().map(|p| (flag, p)))
    .collect();
    check_outputs(&a.input, &outputs)?;
    let f = io::read(&a.input)?;
    let w = f.get(&a.input, "vorticity")?;
    let time = &f.get(&a.input, "time")?.data;
    let length: f64 = f
        .meta(&a.input, "length")?
        .parse()
        .map_err(|e| anyhow::anyhow!("{}: metadata length: {e}", a.input.display()))?;
    let s = &w.shape;
    if s.len() != 4 || s[2] != s[3] || s[0] != time.len() {
        bail!(
            "{}: vorticity shape {s:?}, expected [T, B, n, n] with T = {}",
            a.input.display(),
            time.len()
        );
    }
    let (b, n) = (s[1], s[2]);
    let keep: Vec<usize> = (0..s[0])
        .filter(|&t| f64::from(time[t]) >= a.from)
        .collect();
    if keep.is_empty() {
        bail!("no snapshot at or after t = {}", a.from);
    }
    let gpu = Gpu::new(&gpu_args.options()?)?;
    let per = b * n * n;
    let mut rms = Vec::new();
    for &t in &keep {
        let field = &w.data[t * per..(t + 1) * per];
        rms.push((field.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / per as f64).sqrt());
    }
    // Times increase, so the kept snapshots are the file's last ones.
    let kept = &w.data[keep[0] * per..(keep[keep.len() - 1] + 1) * per];
    let (e_avg, z_avg) = mean_shell_spectra(&gpu, kept, n, length)?;
    let mean_rms = mean_rms_of(&rms);
    // Vorticity PDF over the kept snapshots, in units of the mean rms, on
    // ±6 rms (60 bins).
    let mut all: Vec<f32> = Vec::with_capacity(keep.len() * per);
    for &t in &keep {
        all.extend(
            w.data[t * per..(t + 1) * per]
                .iter()
                .map(|v| (f64::from(*v) / mean_rms) as f32),
        );
    }
    let (pdf_x, pdf_y) = pdf(&all, 6.0, 60);
    let cutoff = n / 3;
    let (peak_k, peak) =
        z_avg.iter().enumerate().skip(1).fold(
            (0, 0.0),
            |(bk, bv), (k, &v)| if v > bv { (k, v) } else { (bk, bv) },
        );
    if peak == 0.0 {
        bail!(
            "{}: the vorticity is zero in every kept snapshot",
            a.input.display()
        );
    }
    let decades = (peak / z_avg[cutoff]).log10();
    let (lo, hi) = rms
        .iter()
        .fold((f64::MAX, 0f64), |(l, h), v| (l.min(*v), h.max(*v)));
    println!(
        "{}: {} snapshots (t = {:.2} .. {:.2}), {b} x {n}x{n}",
        a.input.display(),
        keep.len(),
        time[keep[0]],
        time[keep[keep.len() - 1]]
    );
    println!("rms vorticity: mean {mean_rms:.4}, min {lo:.4}, max {hi:.4}");
    println!(
        "energy ½<|u|²> = {:.5}, enstrophy ½<ω²> = {:.5}",
        e_avg.iter().sum::<f64>(),
        z_avg.iter().sum::<f64>()
    );
    println!(
        "enstrophy spectrum: peak {peak:.3e} at |k| = {peak_k}; at the 2/3 cutoff |k| = {cutoff}: {:.3e}; {decades:.2} decades below the peak ({})",
        z_avg[cutoff],
        if decades >= 4.0 { "resolved: >= 4 decades" } else { "NOT resolved: < 4 decades" }
    );
    if let Some(path) = &a.json {
        let v = serde_json::json!({
            "input": a.input.display().to_string(),
            "snapshots": keep.len(),
            "t_from": time[keep[0]],
            "t_to": time[keep[keep.len() - 1]],
            "rms_vorticity": {"mean": mean_rms, "min": lo, "max": hi},
            "energy_spectrum": e_avg,
            "enstrophy_spectrum": z_avg,
            "enstrophy_peak_k": peak_k,
            "cutoff_k": cutoff,
            "decades_peak_to_cutoff": decades,
            "resolved": decades >= 4.0,
            "vorticity_pdf": {"x_over_rms": pdf_x, "density": pdf_y},
        });
        io::write_bytes_atomic(path, serde_json::to_string_pretty(&v)?.as_bytes())?;
    }
    if let Some(path) = &a.png {
        // The plot stops at the corner of the dealiased square |kx|, |ky| ≤
        // n/3, shell ⌊√2 n/3⌋: beyond it the advection keeps no mode and
        // what is left is decayed noise at round-off level.
        let last_shell = (std::f64::consts::SQRT_2 * cutoff as f64).floor() as usize;
        let shells = (last_shell + 1).min(e_avg.len());
        let title = format!(
            "{}, {n}²: t = {:.2} .. {:.2}, {} snapshot{}, {b} trajector{}",
            file_name(&a.input),
            time[keep[0]],
            time[keep[keep.len() - 1]],
            keep.len(),
            if keep.len() == 1 { "" } else { "s" },
            if b == 1 { "y" } else { "ies" },
        );
        let opts = SpectraOptions {
            y_label: "E(k), Z(k)".to_string(),
            // The enstrophy-cascade power law of 2-D turbulence, from twice
            // the forcing (enstrophy peak) wavenumber to the cutoff, set a
            // factor 2 above the energy spectrum.
            slope: Some(SlopeLine {
                exponent: -3.0,
                label: "∝ k⁻³".to_string(),
                curve: 0,
                k_from: (2 * peak_k.max(1)) as f64,
                k_to: cutoff.max(2 * peak_k.max(1) + 1) as f64,
                factor: 2.0,
            }),
            marker: Some(Marker {
                k: cutoff as f64,
                label: format!("2/3 cutoff k = {cutoff}"),
            }),
            ..SpectraOptions::default()
        };
        let curves = [
            Curve::from_shells("energy E(k)", &e_avg[..shells]),
            Curve::from_shells("enstrophy Z(k)", &z_avg[..shells]),
        ];
        spectra_png(path, &title, &curves, &opts)?;
        println!("spectrum plot: {}", path.display());
    }
    if let Some(path) = &a.heatmap {
        let last = s[0] - 1;
        let field = &w.data[last * per..last * per + n * n];
        let opts = HeatmapOptions {
            title: Some(format!(
                "vorticity ω of {}, trajectory 0, t = {:.2}",
                file_name(&a.input),
                time[last]
            )),
            colorbar: Some("vorticity ω (± max |ω|)".into()),
            ..HeatmapOptions::default()
        };
        let limit = heatmap_png(path, field, n, n, &opts)?;
        println!(
            "vorticity heatmap (t = {:.2}, trajectory 0, colour limits ±{limit:.3}): {}",
            time[last],
            path.display()
        );
    }
    Ok(())
}

/// The file name of `p`, for titles.
fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}
