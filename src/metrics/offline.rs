//! The offline report (`diffclosure evaluate`): the metrics of `sample`
//! outputs against the truth (docs/specification.md §7), one table row per
//! samples file, as Markdown + JSON with PNG figures. One row per file, so
//! the same report makes the resolution table (one model sampled at 64²,
//! 128², 256²), the conditioning ablation (models with and without the
//! sparse pipeline) and the sampler study (one model, several samplers and
//! step counts).
//!
//! [`OfflineConfig::validate`] reads and checks every input and output
//! path before any GPU work; [`run`] computes every row, then creates the
//! output folder and writes the figures and the report.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::spectra::mean_shell_spectra;
use super::{check_labels, ensemble_mean, ensemble_stats, write_report, EnsembleStats};
use super::{COUPLED_FORMAT, SAMPLES_FORMAT};
use crate::data::io::{self, NamedTensor, TensorFile};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::job_bail;
use crate::plot::heatmap::{heatmap_strip_png, HeatmapOptions};
use crate::plot::spectrum::{spectra_png, Curve, SpectraOptions};
use crate::sde::Sampler;

/// The offline report's heading unless one is given.
pub const DEFAULT_TITLE: &str = "Offline evaluation";

/// What the offline report is made of and where it goes.
#[derive(Clone, Debug, PartialEq)]
pub struct OfflineConfig {
    /// Samples files written by `sample` (or `merge`): one table row each.
    pub samples: Vec<PathBuf>,
    /// Directory for `report.md`, `report.json` and the figures (created;
    /// an existing report there is never overwritten).
    pub out: PathBuf,
    /// Heading of the report.
    pub title: String,
    /// Row labels in the order of the files; empty: `model, conditioning,
    /// grid, sampler` of each file.
    pub labels: Vec<String>,
}

/// The metrics of one samples file `[C, K, n, n]` (C conditions, K samples
/// each) against its target `[C, n, n]`; errors are means over conditions
/// and samples, the ensemble columns (`None` when K = 1) means over
/// conditions.
#[derive(Clone, Debug)]
pub struct OfflineRow {
    /// The row's label.
    pub label: String,
    /// The samples file.
    pub file: PathBuf,
    /// Grid side n.
    pub grid: usize,
    /// The model's conditioning: "vorticity + sparse", "vorticity",
    /// "sparse", "none" or "?".
    pub conditioning: String,
    /// The sampler's name (metadata `sampler`).
    pub sampler: String,
    /// Sampler steps N.
    pub steps: usize,
    /// Start time of the reverse run, as recorded.
    pub t_max: String,
    /// The last Karras time, as recorded.
    pub t_min: String,
    /// The step from t_min to 0 ("none" for samples that end at t_min).
    pub final_step: String,
    /// The dataset's scenario (metadata `scenario`: g, h or sgs).
    pub scenario: String,
    /// The dataset index of the first condition (the one drawn in
    /// `rowI_fields.png`); `None` for a file without condition indices.
    pub first_condition: Option<usize>,
    /// Conditions C.
    pub conditions: usize,
    /// Samples per condition K.
    pub k: usize,
    /// Mean relative error `‖Û − U‖/‖U‖`.
    pub d_re: f64,
    /// Relative error of the ensemble mean.
    pub d_re_mean: Option<f64>,
    /// Mean squared error.
    pub d_mse: f64,
    /// Mean pattern correlation.
    pub corr: f64,
    /// RMS ensemble standard deviation.
    pub spread: Option<f64>,
    /// Spread–skill ratio (1: calibrated).
    pub spread_skill: Option<f64>,
    /// CRPS per point.
    pub crps: Option<f64>,
    /// Log-spectral distance of the mean power spectra (decades, shells
    /// `1 ..= n/2`).
    pub lsd: Option<f64>,
    /// Sample to truth power in the top 20 % of shells.
    pub cutoff_ratio: f64,
    /// The samples' power fraction in the top 20 % of shells.
    pub cutoff_fraction: f64,
    /// Sampling wall time per sample in milliseconds, if recorded.
    pub ms_per_sample: Option<f64>,
    /// Mean power spectrum of the targets, shells `0 ..= ⌈n/√2⌉`.
    pub truth_spectrum: Vec<f64>,
    /// Mean power spectrum of the samples, the same shells.
    pub sample_spectrum: Vec<f64>,
}

/// What [`run`] wrote.
#[derive(Clone, Debug)]
pub struct OfflineSummary {
    /// One row per samples file.
    pub rows: Vec<OfflineRow>,
    /// The Markdown report (as written to `report.md`).
    pub markdown: String,
    /// `OUT/report.md`.
    pub report_md: PathBuf,
    /// `OUT/report.json`.
    pub report_json: PathBuf,
}

impl std::fmt::Display for OfflineSummary {
    /// What `evaluate` prints: the Markdown report, then where it went.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        super::describe_report(f, &self.markdown, &self.report_md, &self.report_json)
    }
}

impl OfflineConfig {
    /// The arguments of the `diffclosure evaluate` command that makes this
    /// report: the files and the folder, the title unless it is
    /// [`DEFAULT_TITLE`], the labels if any (a label that holds a comma
    /// has no command line: `--labels` splits at commas).
    pub fn command_line(&self) -> Vec<String> {
        super::evaluate_command(
            false,
            &self.samples,
            &self.out,
            &self.title,
            DEFAULT_TITLE,
            &self.labels,
        )
        .into_words()
    }

    /// `report.md`, `report.json`, `spectra.png` and `rowI_fields.png`
    /// (I from 1) under `out`.
    fn outputs(&self) -> Vec<PathBuf> {
        ["report.md", "report.json", "spectra.png"]
            .iter()
            .map(|n| self.out.join(n))
            .chain((0..self.samples.len()).map(|i| self.fields_png(i)))
            .collect()
    }

    fn fields_png(&self, i: usize) -> PathBuf {
        self.out.join(format!("row{}_fields.png", i + 1))
    }

    /// Checks everything that can be checked before any GPU work: one
    /// label per file (or none), no output exists, and every input is a
    /// readable samples file of consistent shapes. Nothing is created.
    ///
    /// # Errors
    /// [`Error::Job`] for a label count that differs from the file count,
    /// a `couple` run or a file of another format, samples and target of
    /// inconsistent shapes; [`Error::InvalidArgument`] for an existing
    /// output or an unreadable file.
    pub fn validate(&self) -> Result<()> {
        check_labels(&self.labels, &self.samples)?;
        for p in self.outputs() {
            io::refuse_existing(&p)?;
        }
        for path in &self.samples {
            read_samples(path)?;
        }
        Ok(())
    }
}

/// A samples file and its `[C, K, n, n]` samples and `[C, n, n]` target,
/// checked.
fn read_samples(path: &Path) -> Result<TensorFile> {
    let f = io::read(path)?;
    match f.metadata.get("format").map(String::as_str) {
        Some(SAMPLES_FORMAT) => {}
        Some(COUPLED_FORMAT) => job_bail!(
            "{} is a `couple` run: evaluate it with --online",
            path.display()
        ),
        _ => job_bail!(
            "{}: not a samples file of `diffclosure sample` or `merge` (format != {SAMPLES_FORMAT})",
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
        job_bail!(
            "{}: samples {:?} and target {:?}: expected [C, K, n, n] and [C, n, n]",
            path.display(),
            sh,
            t.shape
        );
    }
    Ok(f)
}

fn meta<'a>(f: &'a TensorFile, key: &str) -> &'a str {
    f.metadata.get(key).map_or("?", String::as_str)
}

/// The conditioning of the model that made `f`, from its metadata.
fn conditioning(f: &TensorFile) -> &'static str {
    match (
        meta(f, "model.score.vorticity"),
        meta(f, "model.score.sparse"),
    ) {
        ("true", "true") => "vorticity + sparse",
        ("true", "false") => "vorticity",
        ("false", "true") => "sparse",
        ("false", "false") => "none",
        _ => "?",
    }
}

/// The row of one samples file and the panels of its figure: the first
/// condition's truth, first two samples, and the error of sample 1
/// (`[P, n, n]`, P = 3 or 4).
fn evaluate_file(gpu: &Gpu, path: &Path, label: Option<&String>) -> Result<(OfflineRow, Vec<f32>)> {
    let f = read_samples(path)?;
    let (s, t): (&NamedTensor, &NamedTensor) = (&f.tensors["samples"], &f.tensors["target"]);
    let (c, k, n) = (s.shape[0], s.shape[1], s.shape[2]);
    let p = n * n;
    let (mut d_re, mut d_mse, mut corr, mut d_re_mean) = (0.0, 0.0, 0.0, 0.0);
    let mut ens = EnsembleStats::default();
    for ci in 0..c {
        let truth = &t.data[ci * p..(ci + 1) * p];
        let members: Vec<&[f32]> = (0..k)
            .map(|j| &s.data[(ci * k + j) * p..(ci * k + j + 1) * p])
            .collect();
        for m in &members {
            d_re += super::relative_error(m, truth);
            d_mse += super::mse(m, truth);
            corr += super::pattern_correlation(m, truth);
        }
        if let Some(e) = ensemble_stats(&members, truth) {
            d_re_mean += super::relative_error(&ensemble_mean(&members), truth);
            ens.spread_sq += e.spread_sq;
            ens.error_sq += e.error_sq;
            ens.crps += e.crps;
        }
    }
    let (cf, kf) = (c as f64, (c * k) as f64);
    let (_, truth_spectrum) = mean_shell_spectra(gpu, &t.data, n, std::f64::consts::TAU)?;
    let (_, sample_spectrum) = mean_shell_spectra(gpu, &s.data, n, std::f64::consts::TAU)?;
    let k_max = n / 2;
    let conditioning = conditioning(&f).to_string();
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
    let row = OfflineRow {
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
        scenario: meta(&f, "scenario").to_string(),
        first_condition: f
            .tensors
            .get("condition")
            .and_then(|t| t.data.first())
            .map(|&i| i as usize),
        conditions: c,
        k,
        d_re: d_re / kf,
        d_re_mean: (k > 1).then_some(d_re_mean / cf),
        d_mse: d_mse / kf,
        corr: corr / kf,
        spread: (k > 1).then(|| (ens.spread_sq / cf).sqrt()),
        spread_skill: (k > 1)
            .then(|| super::spread_skill(ens.spread_sq / cf, ens.error_sq / cf, k)),
        crps: (k > 1).then_some(ens.crps / cf),
        lsd: super::log_spectral_distance(&sample_spectrum, &truth_spectrum, k_max),
        cutoff_ratio: super::cutoff_ratio(&sample_spectrum, &truth_spectrum, k_max),
        cutoff_fraction: super::cutoff_fraction(&sample_spectrum, k_max),
        ms_per_sample,
        truth_spectrum,
        sample_spectrum,
    };
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

/// `v` in scientific notation with 3 decimals, "–" for none.
fn fmt_sci(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.3e}"))
}

/// The Markdown report of `rows` measured on adapter `adapter`.
fn markdown(title: &str, adapter: &str, rows: &[OfflineRow]) -> String {
    let mut md = format!("# {title}\n\n");
    md += &format!(
        "Adapter: {adapter}. D_RE = mean ‖Û − U‖/‖U‖ over conditions and samples; D_RE(mean) of the ensemble mean; corr: pattern correlation; spread: rms ensemble standard deviation; spread–skill = √((K+1)/K · spread²)/RMSE(mean) (1 = calibrated); CRPS per point; LSD: log-spectral distance of the mean power spectra (decades, shells 1..n/2); cutoff: the samples' power in the top 20 % of shells as a fraction of their total, and its ratio to the truth's there (a pile-up is flagged when the fraction exceeds 1e-3 and the ratio 2: a truth with almost no power at the cutoff makes the ratio alone meaningless); sampler: the integrator and the final step from t_min to 0; ms/sample: the sampling wall time per sample (pipelines compiled beforehand), so compare rows measured on one adapter.\n\n"
    );
    // A speed-up against row 1 says something only with other rows.
    let compared = rows.len() > 1;
    md += "| # | row | grid | sampler | N | t_max → t_min | C×K | D_RE | D_RE(mean) | D_MSE | corr | spread | spread–skill | CRPS | LSD | cutoff fraction / ratio | ms/sample |";
    md += if compared {
        " speed-up vs row 1 |\n"
    } else {
        "\n"
    };
    md += &format!("|{}\n", "---|".repeat(17 + usize::from(compared)));
    let first_ms = rows[0].ms_per_sample;
    for (i, r) in rows.iter().enumerate() {
        let speedup = match (first_ms, r.ms_per_sample) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        let speedup = if compared {
            format!(" {} |", speedup.map_or("–".into(), |v| format!("{v:.1}×")))
        } else {
            String::new()
        };
        md += &format!(
            "| {} | {} | {}² | {}, {} | {} | {} → {} | {}×{} | {:.2} % | {} | {:.3e} | {:.3} | {} | {} | {} | {} | {:.1e} / {:.2}{} | {} |{}\n",
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
            fmt_sci(r.spread),
            fmt_opt(r.spread_skill, 2),
            fmt_sci(r.crps),
            fmt_opt(r.lsd, 3),
            r.cutoff_fraction,
            r.cutoff_ratio,
            if super::is_pile_up(r.cutoff_fraction, r.cutoff_ratio) {
                " ⚠ pile-up"
            } else {
                ""
            },
            fmt_opt(r.ms_per_sample, 1),
            speedup,
        );
    }
    md += "\nFigures: `spectra.png`; per row, `rowI_fields.png` (truth, sample 1, sample 2 when K > 1, error of sample 1; one colour scale, ± max |truth|).\n\n";
    for (i, r) in rows.iter().enumerate() {
        md += &format!(
            "{}. {} — `{}` ({}; {} score evaluations per sample)\n",
            i + 1,
            r.label,
            r.file.display(),
            r.conditioning,
            r.sampler.parse::<Sampler>().map_or(0, |s| s.evals(r.steps))
        );
    }
    md
}

/// The JSON report of `rows`.
fn report_json(title: &str, adapter: &str, rows: &[OfflineRow]) -> serde_json::Value {
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
    json!({ "title": title, "adapter": adapter, "rows": json_rows })
}

/// Evaluates every samples file of `config` on `gpu`, then creates the
/// output folder and writes `rowI_fields.png` per row, `spectra.png`,
/// `report.json` and `report.md`. Call [`OfflineConfig::validate`] first,
/// before creating the [`Gpu`]: this checks the outputs again and reads
/// the inputs again as it goes.
///
/// # Errors
/// As [`OfflineConfig::validate`] (an input or output that changed since);
/// spectrum (GPU), figure and I/O errors.
pub fn run(gpu: &Gpu, config: &OfflineConfig) -> Result<OfflineSummary> {
    check_labels(&config.labels, &config.samples)?;
    // Cheap, and the figures would otherwise replace those of a report
    // that validation found there.
    for p in config.outputs() {
        io::refuse_existing(&p)?;
    }
    let mut rows = Vec::new();
    let mut figures = Vec::new();
    for (i, path) in config.samples.iter().enumerate() {
        let (row, fig) = evaluate_file(gpu, path, config.labels.get(i))?;
        rows.push(row);
        figures.push(fig);
    }
    // Every input was read and measured: only now is anything created.
    std::fs::create_dir_all(&config.out).map_err(|error| Error::Io {
        path: config.out.clone(),
        error,
    })?;
    let mut curves = Vec::new();
    for (i, (row, fig)) in rows.iter().zip(&figures).enumerate() {
        let n = row.grid;
        let panels: Vec<&[f32]> = fig.chunks_exact(n * n).collect();
        let limit = panels[0]
            .iter()
            .map(|v| f64::from(v.abs()))
            .fold(0.0, f64::max);
        // Truth, one or two samples, the first sample's error (see
        // `evaluate_file`), all on the truth's scale.
        let mut panel_titles = vec!["truth".to_string(), "sample 1".to_string()];
        if panels.len() == 4 {
            panel_titles.push("sample 2".into());
        }
        // The error is often faint on the truth's scale: its size in words.
        let error = panels[panels.len() - 1];
        let rms =
            (error.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / error.len() as f64).sqrt();
        panel_titles.push(format!("error of sample 1 (rms {rms:.2e})"));
        heatmap_strip_png(
            &config.fields_png(i),
            &panels,
            n,
            n,
            &HeatmapOptions {
                limit: (limit > 0.0).then_some(limit),
                min_size: 192,
                title: Some(format!(
                    "closure term {}, test condition {} — row {}: {}",
                    row.scenario.to_uppercase(),
                    row.first_condition.map_or("?".into(), |c| c.to_string()),
                    i + 1,
                    row.label
                )),
                panel_titles,
                colorbar: Some("closure term (one scale, ± max |truth|)".into()),
                ..Default::default()
            },
        )?;
        let k_max = n / 2;
        let cut = |s: &[f64]| s[..=k_max.min(s.len() - 1)].to_vec();
        // One row: plain names; several: each curve names its row.
        let name = |what: &str| {
            if rows.len() == 1 {
                what.to_string()
            } else {
                format!("{what}, row {}: {}", i + 1, row.label)
            }
        };
        curves.push(Curve::from_shells(name("truth"), &cut(&row.truth_spectrum)));
        curves.push(Curve::from_shells(
            name("samples"),
            &cut(&row.sample_spectrum),
        ));
    }
    spectra_png(
        &config.out.join("spectra.png"),
        "power spectra of the closure term: truth vs samples",
        &curves,
        &SpectraOptions {
            y_label: "P(k)".into(),
            ..Default::default()
        },
    )?;
    let adapter = gpu.describe();
    let markdown = markdown(&config.title, &adapter, &rows);
    let (report_md, report_json_path) = write_report(
        &config.out,
        &markdown,
        &report_json(&config.title, &adapter, &rows),
    )?;
    Ok(OfflineSummary {
        rows,
        markdown,
        report_md,
        report_json: report_json_path,
    })
}
