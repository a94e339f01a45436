//! `diffclosure evaluate`: offline metrics of `sample` outputs against the
//! truth (science.md §7), as one Markdown + JSON table with PNG figures.
//! One row per samples file, so the same command makes the resolution
//! table (one model sampled at 64², 128², 256²), the conditioning ablation
//! (models with and without the sparse pipeline) and the sampler study
//! (one model, several samplers and step counts).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;

use crate::cli::sample::FORMAT;
use crate::cli::GpuArgs;
use crate::data::io;
use crate::gpu::Gpu;
use crate::metrics::spectra::mean_shell_spectra;
use crate::metrics::{self, ensemble_mean, ensemble_stats, EnsembleStats};
use crate::plot::heatmap::{heatmap_strip_png, HeatmapOptions};
use crate::plot::spectrum::{spectra_png, Curve, SpectraOptions};
use crate::sde::Sampler;

/// Options of `diffclosure evaluate`.
#[derive(Args, Debug)]
pub struct EvaluateArgs {
    /// Samples files written by `sample` (or `merge`): one table row each.
    #[arg(required = true, num_args = 1..)]
    samples: Vec<PathBuf>,
    /// Directory for report.md, report.json and the figures (created; an
    /// existing report there is never overwritten).
    #[arg(long)]
    out: PathBuf,
    /// Heading of the report.
    #[arg(long, default_value = "Offline evaluation")]
    title: String,
    /// Row labels, comma-separated, in the order of the files [default:
    /// model, conditioning, grid, sampler].
    #[arg(long, value_delimiter = ',')]
    labels: Vec<String>,
    /// The files are `couple` runs: a posteriori errors over time against
    /// the restricted truth instead of the offline metrics.
    #[arg(long)]
    online: bool,
    /// With --online: the elapsed times (from the runs' start) of the
    /// table's D_RE columns and of the spectrum and PDF figures,
    /// comma-separated [default: the table at a quarter, half, three
    /// quarters and the end of the span, the figures at half and the end].
    #[arg(long, value_delimiter = ',', requires = "online")]
    at: Vec<f64>,
}

/// The metrics of one samples file.
struct Row {
    label: String,
    file: PathBuf,
    grid: usize,
    conditioning: String,
    sampler: String,
    steps: usize,
    t_max: String,
    t_min: String,
    final_step: String,
    conditions: usize,
    k: usize,
    d_re: f64,
    d_re_mean: Option<f64>,
    d_mse: f64,
    corr: f64,
    spread: Option<f64>,
    spread_skill: Option<f64>,
    crps: Option<f64>,
    lsd: Option<f64>,
    cutoff_ratio: f64,
    cutoff_fraction: f64,
    ms_per_sample: Option<f64>,
    truth_spectrum: Vec<f64>,
    sample_spectrum: Vec<f64>,
}

fn meta<'a>(f: &'a io::TensorFile, key: &str) -> &'a str {
    f.metadata.get(key).map_or("?", String::as_str)
}

fn evaluate_file(gpu: &Gpu, path: &Path, label: Option<&String>) -> Result<(Row, Vec<f32>)> {
    let f = io::read(path)?;
    match f.metadata.get("format").map(String::as_str) {
        Some(FORMAT) => {}
        Some(crate::couple::FORMAT) => bail!(
            "{} is a `couple` run: evaluate it with --online",
            path.display()
        ),
        _ => bail!(
            "{}: not a samples file of `diffclosure sample` or `merge` (format != {FORMAT})",
            path.display()
        ),
    }
    let (s, t) = (f.get(path, "samples")?, f.get(path, "target")?);
    let sh = &s.shape;
    if sh.len() != 4
        || sh[2] != sh[3]
        || sh[2] < 2
        || t.shape != [sh[0], sh[2], sh[3]]
        || sh[0] == 0
        || sh[1] == 0
    {
        bail!(
            "{}: samples {:?} and target {:?}: expected [C, K, n, n] and [C, n, n]",
            path.display(),
            sh,
            t.shape
        );
    }
    let (c, k, n) = (sh[0], sh[1], sh[2]);
    let p = n * n;
    let (mut d_re, mut d_mse, mut corr, mut d_re_mean) = (0.0, 0.0, 0.0, 0.0);
    let mut ens = EnsembleStats::default();
    for ci in 0..c {
        let truth = &t.data[ci * p..(ci + 1) * p];
        let members: Vec<&[f32]> = (0..k)
            .map(|j| &s.data[(ci * k + j) * p..(ci * k + j + 1) * p])
            .collect();
        for m in &members {
            d_re += metrics::relative_error(m, truth);
            d_mse += metrics::mse(m, truth);
            corr += metrics::pattern_correlation(m, truth);
        }
        if let Some(e) = ensemble_stats(&members, truth) {
            d_re_mean += metrics::relative_error(&ensemble_mean(&members), truth);
            ens.spread_sq += e.spread_sq;
            ens.error_sq += e.error_sq;
            ens.crps += e.crps;
        }
    }
    let (cf, kf) = (c as f64, (c * k) as f64);
    let (_, truth_spectrum) = mean_shell_spectra(gpu, &t.data, n, std::f64::consts::TAU)?;
    let (_, sample_spectrum) = mean_shell_spectra(gpu, &s.data, n, std::f64::consts::TAU)?;
    let k_max = n / 2;
    let conditioning = match (
        meta(&f, "model.score.vorticity"),
        meta(&f, "model.score.sparse"),
    ) {
        ("true", "true") => "vorticity + sparse",
        ("true", "false") => "vorticity",
        ("false", "true") => "sparse",
        ("false", "false") => "none",
        _ => "?",
    }
    .to_string();
    let sampler = meta(&f, "sampler").to_string();
    let steps: usize = meta(&f, "steps").parse().unwrap_or(0);
    let ms_per_sample = match (
        meta(&f, "wall_s").parse::<f64>(),
        meta(&f, "timed_samples").parse::<f64>(),
    ) {
        (Ok(w), Ok(n)) if n > 0.0 => Some(1e3 * w / n),
        _ => None,
    };
    let model = Path::new(meta(&f, "model"))
        .file_stem()
        .map_or("?".into(), |s| s.to_string_lossy().to_string());
    let row = Row {
        label: label
            .cloned()
            .unwrap_or_else(|| format!("{model}, {conditioning}, {n}², {sampler} ×{steps}")),
        file: path.to_path_buf(),
        grid: n,
        conditioning,
        sampler,
        steps,
        t_max: meta(&f, "t_max").to_string(),
        t_min: meta(&f, "t_min").to_string(),
        // Samples of the samplers that ended at t_min have no final step.
        final_step: meta(&f, "final_step").replace('?', "none"),
        conditions: c,
        k,
        d_re: d_re / kf,
        d_re_mean: (k > 1).then_some(d_re_mean / cf),
        d_mse: d_mse / kf,
        corr: corr / kf,
        spread: (k > 1).then(|| (ens.spread_sq / cf).sqrt()),
        spread_skill: (k > 1)
            .then(|| metrics::spread_skill(ens.spread_sq / cf, ens.error_sq / cf, k)),
        crps: (k > 1).then_some(ens.crps / cf),
        lsd: metrics::log_spectral_distance(&sample_spectrum, &truth_spectrum, k_max),
        cutoff_ratio: metrics::cutoff_ratio(&sample_spectrum, &truth_spectrum, k_max),
        cutoff_fraction: metrics::cutoff_fraction(&sample_spectrum, k_max),
        ms_per_sample,
        truth_spectrum,
        sample_spectrum,
    };
    // The first condition's truth, first two samples, and error.
    let truth = t.data[..p].to_vec();
    let mut fig = truth.clone();
    for j in 0..k.min(2) {
        fig.extend_from_slice(&s.data[j * p..(j + 1) * p]);
    }
    fig.extend(s.data[..p].iter().zip(&truth).map(|(a, b)| a - b));
    Ok((row, fig))
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

/// Runs `diffclosure evaluate`.
///
/// # Errors
/// Unreadable or foreign files, an existing report, I/O errors.
pub fn run(gpu_args: &GpuArgs, a: &EvaluateArgs) -> Result<()> {
    if !a.labels.is_empty() && a.labels.len() != a.samples.len() {
        bail!("{} labels for {} files", a.labels.len(), a.samples.len());
    }
    if a.online {
        let title = if a.title == "Offline evaluation" {
            "Online (a posteriori) evaluation"
        } else {
            &a.title
        };
        return crate::cli::online::report(gpu_args, &a.samples, &a.labels, &a.out, title, &a.at);
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("{}", a.out.display()))?;
    let (md_path, json_path) = (a.out.join("report.md"), a.out.join("report.json"));
    let spectra_path = a.out.join("spectra.png");
    let fields_path = |i: usize| a.out.join(format!("row{}_fields.png", i + 1));
    // Every output is checked before any work: a failed run leaves none.
    for p in [&md_path, &json_path, &spectra_path]
        .into_iter()
        .cloned()
        .chain((0..a.samples.len()).map(fields_path))
    {
        io::refuse_existing(&p)?;
    }
    let gpu = Gpu::new(&gpu_args.options()?)?;
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    for (i, path) in a.samples.iter().enumerate() {
        let (row, fig) = evaluate_file(&gpu, path, a.labels.get(i))?;
        let n = row.grid;
        let panels: Vec<&[f32]> = fig.chunks_exact(n * n).collect();
        let limit = panels[0]
            .iter()
            .map(|v| f64::from(v.abs()))
            .fold(0.0, f64::max);
        heatmap_strip_png(
            &fields_path(i),
            &panels,
            n,
            n,
            &HeatmapOptions {
                limit: (limit > 0.0).then_some(limit),
                min_size: 192,
                ..Default::default()
            },
        )?;
        let k_max = n / 2;
        let cut = |s: &[f64]| s[..=k_max.min(s.len() - 1)].to_vec();
        curves.push(Curve::from_shells(
            format!("row {} truth", i + 1),
            &cut(&row.truth_spectrum),
        ));
        curves.push(Curve::from_shells(
            format!("row {} samples", i + 1),
            &cut(&row.sample_spectrum),
        ));
        rows.push(row);
    }
    spectra_png(
        &spectra_path,
        "power spectra of the closure term: truth vs samples",
        &curves,
        &SpectraOptions {
            y_label: "P(k)".into(),
            ..Default::default()
        },
    )?;

    let mut md = String::new();
    writeln!(md, "# {}\n", a.title)?;
    writeln!(
        md,
        "Adapter: {}. D_RE = mean ‖Û − U‖/‖U‖ over conditions and samples; D_RE(mean) of the ensemble mean; corr: pattern correlation; spread: rms ensemble standard deviation; spread–skill = √((K+1)/K · spread²)/RMSE(mean) (1 = calibrated); CRPS per point; LSD: log-spectral distance of the mean power spectra (decades, shells 1..n/2); cutoff: the samples' power in the top 20 % of shells as a fraction of their total, and its ratio to the truth's there (a pile-up is flagged when the fraction exceeds 1e-3 and the ratio 2: a truth with almost no power at the cutoff makes the ratio alone meaningless); sampler: the integrator and the final step from t_min to 0; ms/sample: the sampling wall time per sample (pipelines compiled beforehand), so compare rows measured on one adapter.\n",
        gpu.describe()
    )?;
    writeln!(md, "| # | row | grid | sampler | N | t_max → t_min | C×K | D_RE | D_RE(mean) | D_MSE | corr | spread | spread–skill | CRPS | LSD | cutoff fraction / ratio | ms/sample | speed-up vs row 1 |")?;
    writeln!(md, "|{}", "---|".repeat(18))?;
    let first_ms = rows[0].ms_per_sample;
    for (i, r) in rows.iter().enumerate() {
        let speedup = match (first_ms, r.ms_per_sample) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        writeln!(
            md,
            "| {} | {} | {}² | {}, {} | {} | {} → {} | {}×{} | {:.2} % | {} | {:.3e} | {:.3} | {} | {} | {} | {} | {:.1e} / {:.2}{} | {} | {} |",
            i + 1,
            r.label,
            r.grid,
            r.sampler,
            r.final_step,
            r.steps,
            r.t_max,
            r.t_min,
            r.conditions,
            r.k,
            100.0 * r.d_re,
            r.d_re_mean.map_or("–".into(), |v| format!("{:.2} %", 100.0 * v)),
            r.d_mse,
            r.corr,
            r.spread.map_or("–".into(), |v| format!("{v:.3e}")),
            fmt_opt(r.spread_skill, 2),
            r.crps.map_or("–".into(), |v| format!("{v:.3e}")),
            fmt_opt(r.lsd, 3),
            r.cutoff_fraction,
            r.cutoff_ratio,
            if metrics::is_pile_up(r.cutoff_fraction, r.cutoff_ratio) {
                " ⚠ pile-up"
            } else {
                ""
            },
            fmt_opt(r.ms_per_sample, 1),
            speedup.map_or("–".into(), |v| format!("{v:.1}×")),
        )?;
    }
    writeln!(md, "\nFigures: `spectra.png`; per row, `rowI_fields.png` (truth, sample 1, sample 2 when K > 1, error of sample 1; one colour scale, ± max |truth|).\n")?;
    for (i, r) in rows.iter().enumerate() {
        writeln!(
            md,
            "{}. {} — `{}` ({}; {} score evaluations per sample)",
            i + 1,
            r.label,
            r.file.display(),
            r.conditioning,
            r.sampler.parse::<Sampler>().map_or(0, |s| s.evals(r.steps))
        )?;
    }
    let json_rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            json!({
                "label": r.label, "file": r.file.display().to_string(), "grid": r.grid,
                "conditioning": r.conditioning, "sampler": r.sampler, "steps": r.steps,
                "t_max": r.t_max.parse::<f64>().ok(), "conditions": r.conditions,
                "samples_per_condition": r.k, "d_re": r.d_re, "d_re_ensemble_mean": r.d_re_mean,
                "d_mse": r.d_mse, "pattern_correlation": r.corr, "spread": r.spread, "spread_skill": r.spread_skill,
                "crps": r.crps, "log_spectral_distance": r.lsd, "cutoff_ratio": r.cutoff_ratio,
                "cutoff_fraction": r.cutoff_fraction, "t_min": r.t_min.parse::<f64>().ok(),
                "final_step": r.final_step,
                "ms_per_sample": r.ms_per_sample,
                "truth_spectrum": r.truth_spectrum, "sample_spectrum": r.sample_spectrum,
            })
        })
        .collect();
    let report = json!({ "title": a.title, "adapter": gpu.describe(), "rows": json_rows });
    io::write_bytes_atomic(
        &json_path,
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    io::write_bytes_atomic(&md_path, md.as_bytes())?;
    print!("{md}");
    println!("wrote {} and {}", md_path.display(), json_path.display());
    Ok(())
}
