//! `diffclosure evaluate --online`: a posteriori errors of `couple` runs
//! against the restricted truth (science.md §7): D_RE of the vorticity over
//! time, pattern correlation and the time it stays above 0.95, ensemble
//! spread, cost per simulated second; one row per run, Markdown + JSON;
//! figures: D_RE and correlation over time, energy spectra and vorticity
//! PDFs at half the span and at its end.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde_json::json;

use crate::cli::GpuArgs;
use crate::couple::FORMAT;
use crate::data::io;
use crate::gpu::Gpu;
use crate::metrics;
use crate::metrics::spectra::mean_shell_spectra;
use crate::plot::lines::{lines_png, LinesOptions};
use crate::plot::spectrum::{spectra_png, Curve, Marker, SpectraOptions};

/// One run's errors over time.
struct Run {
    label: String,
    /// Grid and truth file: runs compared in one table must share them.
    setting: (usize, String, String),
    time: Vec<f64>,
    /// Mean over trajectories and members, per output time.
    d_re: Vec<f64>,
    corr: Vec<f64>,
    /// RMS ensemble standard deviation per output time (members > 1).
    spread: Option<Vec<f64>>,
    /// First time the mean correlation falls below 0.95 (None: never).
    decorrelates: Option<f64>,
    s_per_simulated_s: Option<f64>,
    /// Members `[F, B·M, m, m]` and restricted truth `[F, B, m, m]`.
    vorticity: Vec<f32>,
    truth: Vec<f32>,
    /// Domain side.
    length: f64,
}

fn read_run(path: &Path, label: Option<&String>) -> Result<Run> {
    let f = io::read(path)?;
    if f.metadata.get("format").map(String::as_str) != Some(FORMAT) {
        bail!("{}: not a `diffclosure couple` output", path.display());
    }
    let (w, t, time) = (
        f.get(path, "vorticity")?,
        f.get(path, "truth")?,
        f.get(path, "time")?,
    );
    let (frames, bm, m) = (w.shape[0], w.shape[1], w.shape[2]);
    let b = t.shape[1];
    if t.shape[0] != frames || bm % b != 0 || time.data.len() != frames {
        bail!(
            "{}: vorticity {:?}, truth {:?}: inconsistent",
            path.display(),
            w.shape,
            t.shape
        );
    }
    let members = bm / b;
    let per = m * m;
    let (mut d_re, mut corr, mut spread) = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..frames {
        let (mut e, mut c, mut s) = (0.0, 0.0, 0.0);
        for j in 0..b {
            let truth = &t.data[(k * b + j) * per..(k * b + j + 1) * per];
            let ens: Vec<&[f32]> = (0..members)
                .map(|r| {
                    &w.data[(k * bm + j * members + r) * per..(k * bm + j * members + r + 1) * per]
                })
                .collect();
            for x in &ens {
                e += metrics::relative_error(x, truth);
                c += metrics::pattern_correlation(x, truth);
            }
            if let Some(st) = metrics::ensemble_stats(&ens, truth) {
                s += st.spread_sq;
            }
        }
        d_re.push(e / bm as f64);
        corr.push(c / bm as f64);
        spread.push((s / b as f64).sqrt());
    }
    let time: Vec<f64> = time.data.iter().map(|&v| f64::from(v)).collect();
    let decorrelates = corr
        .iter()
        .position(|&c| c < 0.95)
        .map(|k| time[k] - time[0]);
    let meta = |k: &str| f.metadata.get(k).cloned().unwrap_or_default();
    let s_per = match (
        meta("wall_s").parse::<f64>(),
        meta("simulated_s").parse::<f64>(),
    ) {
        (Ok(w), Ok(s)) if s > 0.0 => Some(w / s),
        _ => None,
    };
    let closure = meta("closure");
    let model = std::path::Path::new(&meta("model"))
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let default_label = match closure.as_str() {
        "learned" | "mean" => {
            let mut l = format!(
                "{closure}{} ({model}), every {}, {} ×{}",
                if closure == "mean" {
                    format!(" of {}", meta("mean_samples"))
                } else {
                    String::new()
                },
                meta("every"),
                meta("sampler"),
                meta("sampler_steps")
            );
            if meta("perturb").parse::<f64>().is_ok_and(|p| p > 0.0) {
                l.push_str(&format!(", perturb {}", meta("perturb")));
            }
            l
        }
        _ if !meta("eddy_constant").is_empty() => {
            format!("{closure} (C = {})", meta("eddy_constant"))
        }
        _ => closure,
    };
    Ok(Run {
        label: label.cloned().unwrap_or(default_label),
        setting: (m, meta("truth"), meta("scenario")),
        time,
        d_re,
        corr,
        spread: (members > 1).then_some(spread),
        decorrelates,
        s_per_simulated_s: s_per,
        length: meta("length").parse().unwrap_or(2.0 * std::f64::consts::PI),
        vorticity: w.data.clone(),
        truth: t.data.clone(),
    })
}

/// Frame `k` of a `[F, rows, m, m]` tensor.
fn frame(data: &[f32], k: usize, frames: usize) -> &[f32] {
    let per = data.len() / frames;
    &data[k * per..(k + 1) * per]
}

/// A histogram density of `values` over `bins` equal bins of `[lo, hi]`
/// (values outside are dropped), as `(bin centre, density)` points.
fn density(values: &[f32], lo: f64, hi: f64, bins: usize) -> Vec<(f64, f64)> {
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for &v in values {
        let i = ((f64::from(v) - lo) / width).floor();
        if i >= 0.0 && (i as usize) < bins {
            counts[i as usize] += 1;
        }
    }
    let norm = 1.0 / (values.len() as f64 * width);
    counts
        .iter()
        .enumerate()
        .map(|(i, &c)| (lo + (i as f64 + 0.5) * width, c as f64 * norm))
        .collect()
}

/// The name tag of output time `k`: `tT`, `T` the elapsed time.
fn tag(t: &[f64], k: usize) -> String {
    format!("t{:.2}", t[k] - t[0])
}

/// The figures of the report: `d_re.png`, `correlation.png`, and at the
/// output indices `at` `spectra_tT.png` (energy spectra, the truth's and each run's, mean over
/// trajectories and members) and `pdf_tT.png` (vorticity densities), `T`
/// the elapsed time.
fn figures(gpu: &Gpu, rows: &[Run], out: &Path, at: &[usize]) -> Result<Vec<String>> {
    let t = &rows[0].time;
    let frames = t.len();
    let mut written = Vec::new();
    for (name, what, pick) in [
        ("d_re.png", "D_RE of the vorticity", 0),
        ("correlation.png", "pattern correlation", 1),
    ] {
        let curves: Vec<Curve> = rows
            .iter()
            .map(|r| {
                let v = if pick == 0 { &r.d_re } else { &r.corr };
                Curve::new(
                    r.label.clone(),
                    t.iter().zip(v).map(|(a, b)| (a - t[0], *b)).collect(),
                )
            })
            .collect();
        lines_png(
            &out.join(name),
            &format!("{what} against the restricted truth"),
            &curves,
            &LinesOptions {
                x_label: "elapsed time".into(),
                y_label: what.into(),
                ..Default::default()
            },
        )?;
        written.push(name.to_string());
    }
    let m = rows[0].setting.0;
    for &k in at {
        let tag = tag(t, k);
        // The runs in the colours of the time plots, the truth after them.
        let truth = frame(&rows[0].truth, k, frames);
        let lim = truth.iter().fold(0f64, |a, &v| a.max(f64::from(v).abs())) * 1.5;
        let (mut spectra, mut pdfs) = (Vec::new(), Vec::new());
        for r in rows {
            let w = frame(&r.vorticity, k, frames);
            let e = mean_shell_spectra(gpu, w, m, r.length)?.0;
            spectra.push(Curve::from_shells(r.label.clone(), &e[..=m / 2]));
            pdfs.push(Curve::new(r.label.clone(), density(w, -lim, lim, 60)));
        }
        let e = mean_shell_spectra(gpu, truth, m, rows[0].length)?.0;
        spectra.push(Curve::from_shells("truth", &e[..=m / 2]));
        pdfs.push(Curve::new("truth", density(truth, -lim, lim, 60)));
        let when = format!("t = {:.2} (+{:.2})", t[k], t[k] - t[0]);
        let name = format!("spectra_{tag}.png");
        spectra_png(
            &out.join(&name),
            &format!("energy spectra at {when}"),
            &spectra,
            &SpectraOptions {
                marker: Some(Marker {
                    k: (m / 3) as f64,
                    label: format!("2/3 dealiasing cutoff k = {}", m / 3),
                }),
                ..Default::default()
            },
        )?;
        written.push(name);
        let name = format!("pdf_{tag}.png");
        lines_png(
            &out.join(&name),
            &format!("vorticity PDF at {when}"),
            &pdfs,
            &LinesOptions {
                x_label: "vorticity".into(),
                y_label: "density".into(),
                log_y: true,
                ..Default::default()
            },
        )?;
        written.push(name);
    }
    Ok(written)
}

/// Writes the online report of `runs` into `out` (report.md, report.json).
///
/// # Errors
/// Unreadable or foreign files, runs of different time spans, an existing
/// report, I/O errors.
pub fn report(
    gpu_args: &GpuArgs,
    runs: &[PathBuf],
    labels: &[String],
    out: &Path,
    title: &str,
    at: &[f64],
) -> Result<()> {
    let (md_path, json_path) = (out.join("report.md"), out.join("report.json"));
    io::refuse_existing(&md_path)?;
    io::refuse_existing(&json_path)?;
    let rows: Vec<Run> = runs
        .iter()
        .enumerate()
        .map(|(i, p)| read_run(p, labels.get(i)))
        .collect::<Result<_>>()?;
    let t = &rows[0].time;
    for r in &rows[1..] {
        if r.setting != rows[0].setting {
            let (a, b) = (&rows[0].setting, &r.setting);
            bail!(
                "the runs differ in grid, truth or scenario ({}² of {}, {} vs {}² of {}, {}): compare runs of one setting",
                a.0, a.1, a.2, b.0, b.1, b.2
            );
        }
        if r.time != *t {
            bail!("the runs cover different output times: compare runs of one start and span");
        }
    }
    // The output times nearest the requested elapsed times, or (up to) a
    // quarter, half, three quarters and the end of the span.
    let span = t[t.len() - 1] - t[0];
    // Times are stored in f32: accept up to half an output interval past
    // the last one (the nearest output time is taken).
    let slack = 0.5 * span / (t.len() - 1) as f64;
    let mut chosen = Vec::new();
    for &e in at {
        if !(e.is_finite() && e > 0.0 && e <= span + slack) {
            bail!("--at {e}: the runs cover elapsed times in (0, {span:.4}]");
        }
        let k = (1..t.len())
            .min_by(|&i, &j| (t[i] - t[0] - e).abs().total_cmp(&(t[j] - t[0] - e).abs()))
            .unwrap_or(t.len() - 1);
        chosen.push(k);
    }
    let mut picks: Vec<usize> = if chosen.is_empty() {
        (1..=4)
            .map(|q| q * (t.len() - 1) / 4)
            .filter(|&k| k > 0)
            .collect()
    } else {
        chosen.clone()
    };
    picks.dedup();
    let mut md = String::new();
    writeln!(md, "# {title}\n")?;
    writeln!(md, "D_RE of the coarse vorticity against the restricted truth (mean over trajectories and members) at elapsed times; corr: pattern correlation at the end; decorrelation: elapsed time until the mean correlation first falls below 0.95; cost: wall seconds per simulated second (the run's own timing; compare runs of one adapter).\n")?;
    let head: Vec<String> = picks
        .iter()
        .map(|&k| format!("D_RE at +{:.2}", t[k] - t[0]))
        .collect();
    writeln!(
        md,
        "| # | run | {} | corr (end) | decorrelation | spread (end) | cost (s/s) | cost vs row 1 |",
        head.join(" | ")
    )?;
    writeln!(md, "|{}", "---|".repeat(8 + picks.len() - 1))?;
    let first_cost = rows[0].s_per_simulated_s;
    for (i, r) in rows.iter().enumerate() {
        let d: Vec<String> = picks.iter().map(|&k| format!("{:.3}", r.d_re[k])).collect();
        writeln!(
            md,
            "| {} | {} | {} | {:.3} | {} | {} | {} | {} |",
            i + 1,
            r.label,
            d.join(" | "),
            r.corr[r.corr.len() - 1],
            r.decorrelates.map_or("never".into(), |v| format!("{v:.2}")),
            r.spread
                .as_ref()
                .map_or("–".into(), |s| format!("{:.3e}", s[s.len() - 1])),
            r.s_per_simulated_s
                .map_or("–".into(), |v| format!("{v:.1}")),
            match (first_cost, r.s_per_simulated_s) {
                (Some(a), Some(b)) if a > 0.0 => format!("{:.3}×", b / a),
                _ => "–".into(),
            }
        )?;
    }
    let figure_at = if chosen.is_empty() {
        vec![(t.len() - 1) / 2, t.len() - 1]
    } else {
        chosen
    };
    let mut names = vec!["d_re.png".to_string(), "correlation.png".to_string()];
    for &k in &figure_at {
        names.push(format!("spectra_{}.png", tag(t, k)));
        names.push(format!("pdf_{}.png", tag(t, k)));
    }
    for n in &names {
        io::refuse_existing(&out.join(n))?;
    }
    std::fs::create_dir_all(out)?;
    let gpu = Gpu::new(&gpu_args.options()?)?;
    let figs = figures(&gpu, &rows, out, &figure_at)?;
    debug_assert_eq!(figs, names);
    writeln!(
        md,
        "\nFigures: {}.",
        figs.iter()
            .map(|f| format!("[{f}]({f})"))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    let json_rows: Vec<serde_json::Value> = rows
        .iter()
        .zip(runs)
        .map(|(r, p)| {
            json!({
                "label": r.label, "file": p.display().to_string(), "time": r.time,
                "d_re": r.d_re, "pattern_correlation": r.corr, "spread": r.spread,
                "decorrelation_time": r.decorrelates, "s_per_simulated_s": r.s_per_simulated_s,
            })
        })
        .collect();
    io::write_bytes_atomic(
        &json_path,
        serde_json::to_string_pretty(&json!({ "title": title, "rows": json_rows }))?.as_bytes(),
    )?;
    io::write_bytes_atomic(&md_path, md.as_bytes())?;
    print!("{md}");
    println!("wrote {} and {}", md_path.display(), json_path.display());
    Ok(())
}
