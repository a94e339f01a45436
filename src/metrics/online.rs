//! The online report (`diffclosure evaluate --online`): a posteriori
//! errors of `couple` runs against the restricted truth
//! (docs/specification.md §7): D_RE of the vorticity over time, pattern
//! correlation and the time it stays above 0.95, ensemble spread, cost per
//! simulated second; one row per run, Markdown + JSON; figures: D_RE and
//! correlation over time, energy spectra and vorticity PDFs at chosen
//! elapsed times.
//!
//! [`OnlineConfig::validate`] reads every run and checks the outputs
//! before any GPU work; [`run`] creates the output folder and writes the
//! figures (their spectra on the GPU) and the report.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::spectra::mean_shell_spectra;
use super::{check_labels, write_report, COUPLED_FORMAT};
use crate::data::io;
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::job_bail;
use crate::plot::lines::{lines_png, LegendPlace, LinesOptions};
use crate::plot::spectrum::{spectra_png, Curve, Marker, SpectraOptions};

/// The online report's heading unless one is given.
pub const DEFAULT_TITLE: &str = "Online (a posteriori) evaluation";

/// What the online report is made of and where it goes.
#[derive(Clone, Debug, PartialEq)]
pub struct OnlineConfig {
    /// Outputs of `couple` of one setting (grid, truth, scenario) and one
    /// span of output times: one table row each.
    pub runs: Vec<PathBuf>,
    /// Directory for `report.md`, `report.json` and the figures (created;
    /// an existing report there is never overwritten).
    pub out: PathBuf,
    /// Heading of the report.
    pub title: String,
    /// Row labels in the order of the runs; empty: the closure and its
    /// settings of each run.
    pub labels: Vec<String>,
    /// Elapsed times (from the runs' start, in model time units) of the
    /// table's D_RE columns and of the spectrum and PDF figures; empty:
    /// the table at a quarter, half, three quarters and the end of the
    /// span, the figures at half and the end.
    pub at: Vec<f64>,
}

/// One run's errors over time.
#[derive(Clone, Debug)]
pub struct OnlineRow {
    /// The row's label.
    pub label: String,
    /// The run's file.
    pub file: PathBuf,
    /// Grid, truth file and scenario: runs compared in one table must
    /// share them.
    setting: (usize, String, String),
    /// The output times (model time units).
    pub time: Vec<f64>,
    /// D_RE of the vorticity per output time, mean over trajectories and
    /// members.
    pub d_re: Vec<f64>,
    /// Pattern correlation per output time, the same mean.
    pub corr: Vec<f64>,
    /// RMS ensemble standard deviation per output time (members > 1).
    pub spread: Option<Vec<f64>>,
    /// Elapsed time until the mean correlation first falls below 0.95
    /// (None: never).
    pub decorrelates: Option<f64>,
    /// Wall seconds per simulated second, if recorded.
    pub s_per_simulated_s: Option<f64>,
    /// Members `[F, B·M, m, m]` and restricted truth `[F, B, m, m]`.
    vorticity: Vec<f32>,
    truth: Vec<f32>,
    /// Domain side.
    length: f64,
}

/// What [`run`] wrote.
#[derive(Clone, Debug)]
pub struct OnlineSummary {
    /// One row per run.
    pub rows: Vec<OnlineRow>,
    /// The Markdown report (as written to `report.md`).
    pub markdown: String,
    /// `OUT/report.md`.
    pub report_md: PathBuf,
    /// `OUT/report.json`.
    pub report_json: PathBuf,
}

impl std::fmt::Display for OnlineSummary {
    /// What `evaluate --online` prints: the Markdown report, then where
    /// it went.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        super::describe_report(f, &self.markdown, &self.report_md, &self.report_json)
    }
}

/// The checked rows and the output indices of the table and the figures.
struct Plan {
    rows: Vec<OnlineRow>,
    /// Output indices of the table's D_RE columns.
    picks: Vec<usize>,
    /// Output indices of the spectrum and PDF figures.
    figure_at: Vec<usize>,
    /// The figures' file names, in the order they are written.
    figures: Vec<String>,
}

/// The default label of a run: its closure and the closure's settings.
fn default_label(meta: impl Fn(&str) -> String) -> String {
    let closure = meta("closure");
    let model = Path::new(&meta("model"))
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match closure.as_str() {
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
    }
}

fn read_run(path: &Path, label: Option<&String>) -> Result<OnlineRow> {
    let f = io::read(path)?;
    if f.metadata.get("format").map(String::as_str) != Some(COUPLED_FORMAT) {
        job_bail!("{}: not a `diffclosure couple` output", path.display());
    }
    let (w, t, time) = (
        f.get(path, "vorticity")?,
        f.get(path, "truth")?,
        f.get(path, "time")?,
    );
    let (frames, bm, m) = (w.shape[0], w.shape[1], w.shape[2]);
    let b = t.shape[1];
    if t.shape[0] != frames || bm % b != 0 || time.data.len() != frames {
        job_bail!(
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
                e += super::relative_error(x, truth);
                c += super::pattern_correlation(x, truth);
            }
            if let Some(st) = super::ensemble_stats(&ens, truth) {
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
    Ok(OnlineRow {
        label: label.cloned().unwrap_or_else(|| default_label(meta)),
        file: path.to_path_buf(),
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

impl OnlineConfig {
    /// The arguments of the `diffclosure evaluate --online` command that
    /// makes this report: the runs and the folder, the title unless it is
    /// [`DEFAULT_TITLE`], the labels and elapsed times if any. (Two
    /// reports have no command line: one titled as the offline default,
    /// which the command line reads as this one's, and one with a label
    /// that holds a comma, where `--labels` splits.)
    pub fn command_line(&self) -> Vec<String> {
        let mut c = super::evaluate_command(
            true,
            &self.runs,
            &self.out,
            &self.title,
            DEFAULT_TITLE,
            &self.labels,
        );
        let at: Vec<String> = self.at.iter().map(f64::to_string).collect();
        c.opt("--at", (!at.is_empty()).then(|| at.join(",")));
        c.into_words()
    }

    /// Checks everything that can be checked before any GPU work: one
    /// label per run (or none), every run readable, of one setting and one
    /// span, `at` inside the span, no output exists. Nothing is created.
    ///
    /// # Errors
    /// [`Error::Job`] for a label count that differs from the run count,
    /// a file of another format or of inconsistent shapes, runs of
    /// different settings or output times, an elapsed time outside the
    /// span; [`Error::InvalidArgument`] for an existing output or an
    /// unreadable file.
    pub fn validate(&self) -> Result<()> {
        self.plan().map(|_| ())
    }

    fn plan(&self) -> Result<Plan> {
        check_labels(&self.labels, &self.runs)?;
        io::refuse_existing(&self.out.join("report.md"))?;
        io::refuse_existing(&self.out.join("report.json"))?;
        let rows: Vec<OnlineRow> = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, p)| read_run(p, self.labels.get(i)))
            .collect::<Result<_>>()?;
        let t = &rows[0].time;
        for r in &rows[1..] {
            if r.setting != rows[0].setting {
                let (a, b) = (&rows[0].setting, &r.setting);
                job_bail!(
                    "the runs differ in grid, truth or scenario ({}² of {}, {} vs {}² of {}, {}): compare runs of one setting",
                    a.0, a.1, a.2, b.0, b.1, b.2
                );
            }
            if r.time != *t {
                job_bail!(
                    "the runs cover different output times: compare runs of one start and span"
                );
            }
        }
        // The output times nearest the requested elapsed times, or (up to)
        // a quarter, half, three quarters and the end of the span.
        let span = t[t.len() - 1] - t[0];
        // Times are stored in f32: accept up to half an output interval
        // past the last one (the nearest output time is taken).
        let slack = 0.5 * span / (t.len() - 1) as f64;
        let mut chosen = Vec::new();
        for &e in &self.at {
            if !(e.is_finite() && e > 0.0 && e <= span + slack) {
                job_bail!("--at {e}: the runs cover elapsed times in (0, {span:.4}]");
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
        let figure_at = if chosen.is_empty() {
            vec![(t.len() - 1) / 2, t.len() - 1]
        } else {
            chosen
        };
        let mut figures = vec!["d_re.png".to_string(), "correlation.png".to_string()];
        for &k in &figure_at {
            figures.push(format!("spectra_{}.png", tag(t, k)));
            figures.push(format!("pdf_{}.png", tag(t, k)));
        }
        for n in &figures {
            io::refuse_existing(&self.out.join(n))?;
        }
        Ok(Plan {
            rows,
            picks,
            figure_at,
            figures,
        })
    }
}

/// The figures of the report: `d_re.png`, `correlation.png`, and at the
/// output indices `at` `spectra_tT.png` (energy spectra, the truth's and
/// each run's, mean over trajectories and members) and `pdf_tT.png`
/// (vorticity densities), `T` the elapsed time; the names of
/// [`Plan::figures`].
fn figures(gpu: &Gpu, rows: &[OnlineRow], out: &Path, at: &[usize]) -> Result<()> {
    let t = &rows[0].time;
    let frames = t.len();
    // D_RE in % as in the tables; the correlation with the threshold
    // that defines the table's decorrelation time.
    for (name, what, pick) in [
        ("d_re.png", "D_RE of the vorticity (%)", 0),
        ("correlation.png", "pattern correlation", 1),
    ] {
        let curves: Vec<Curve> = rows
            .iter()
            .map(|r| {
                let (v, scale) = if pick == 0 {
                    (&r.d_re, 100.0)
                } else {
                    (&r.corr, 1.0)
                };
                Curve::new(
                    r.label.clone(),
                    t.iter()
                        .zip(v)
                        .map(|(a, b)| (a - t[0], scale * b))
                        .collect(),
                )
            })
            .collect();
        let reference_lines = if pick == 1 {
            vec![(0.95, "0.95: decorrelation threshold".to_string())]
        } else {
            Vec::new()
        };
        lines_png(
            &out.join(name),
            &format!("{what} against the restricted truth"),
            &curves,
            &LinesOptions {
                x_label: "elapsed time (s)".into(),
                y_label: what.into(),
                reference_lines,
                legend: LegendPlace::Emptiest,
                ..Default::default()
            },
        )?;
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
        spectra_png(
            &out.join(format!("spectra_{tag}.png")),
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
        lines_png(
            &out.join(format!("pdf_{tag}.png")),
            &format!("vorticity PDF at {when}"),
            &pdfs,
            &LinesOptions {
                x_label: "vorticity ω".into(),
                y_label: "probability density".into(),
                log_y: true,
                legend: LegendPlace::Emptiest,
                ..Default::default()
            },
        )?;
    }
    Ok(())
}

/// The Markdown report: the table at the output indices `picks`, then the
/// figures.
fn markdown(title: &str, rows: &[OnlineRow], picks: &[usize], figures: &[String]) -> String {
    let t = &rows[0].time;
    let mut md = format!("# {title}\n\n");
    md += "D_RE of the coarse vorticity against the restricted truth, in % (mean over trajectories and members), at elapsed times (the output times nearest to quarters of the span); corr: pattern correlation at the end; decorrelation: elapsed time until the mean correlation first falls below 0.95; spread: rms standard deviation of the ensemble's vorticity at the end (– for a run of one member); cost: wall seconds per simulated second (the run's own timing; compare runs of one adapter). Times in the model's time unit (s).\n\n";
    let head: Vec<String> = picks
        .iter()
        .map(|&k| format!("D_RE at +{:.2} s", t[k] - t[0]))
        .collect();
    md += &format!(
        "| # | run | {} | corr (end) | decorrelation (s) | spread (end) | cost (s/s) | cost vs row 1 |\n",
        head.join(" | ")
    );
    md += &format!("|{}\n", "---|".repeat(8 + picks.len() - 1));
    let first_cost = rows[0].s_per_simulated_s;
    for (i, r) in rows.iter().enumerate() {
        let d: Vec<String> = picks
            .iter()
            .map(|&k| format!("{:.1} %", 100.0 * r.d_re[k]))
            .collect();
        md += &format!(
            "| {} | {} | {} | {:.3} | {} | {} | {} | {} |\n",
            i + 1,
            r.label,
            d.join(" | "),
            r.corr[r.corr.len() - 1],
            r.decorrelates.map_or("never".into(), |v| format!("{v:.2}")),
            r.spread.as_ref().map_or("– (1 member)".into(), |s| format!(
                "{:.3e}",
                s[s.len() - 1]
            )),
            r.s_per_simulated_s
                .map_or("–".into(), |v| format!("{v:.1}")),
            match (first_cost, r.s_per_simulated_s) {
                (Some(a), Some(b)) if a > 0.0 => format!("{:.3}×", b / a),
                _ => "–".into(),
            }
        );
    }
    md += &format!(
        "\nFigures: {}.\n",
        figures
            .iter()
            .map(|f| format!("[{f}]({f})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    md
}

/// Reads the runs of `config` again, creates the output folder and writes
/// the figures (spectra on `gpu`), `report.json` and `report.md`. Call
/// [`OnlineConfig::validate`] first, before creating the [`Gpu`].
///
/// # Errors
/// As [`OnlineConfig::validate`] (an input or output that changed since);
/// spectrum (GPU), figure and I/O errors.
pub fn run(gpu: &Gpu, config: &OnlineConfig) -> Result<OnlineSummary> {
    let plan = config.plan()?;
    std::fs::create_dir_all(&config.out).map_err(|error| Error::Io {
        path: config.out.clone(),
        error,
    })?;
    figures(gpu, &plan.rows, &config.out, &plan.figure_at)?;
    let markdown = markdown(&config.title, &plan.rows, &plan.picks, &plan.figures);
    let json_rows: Vec<serde_json::Value> = plan
        .rows
        .iter()
        .map(|r| {
            json!({
                "label": r.label, "file": r.file.display().to_string(), "time": r.time,
                "d_re": r.d_re, "pattern_correlation": r.corr, "spread": r.spread,
                "decorrelation_time": r.decorrelates, "s_per_simulated_s": r.s_per_simulated_s,
            })
        })
        .collect();
    let (report_md, report_json) = write_report(
        &config.out,
        &markdown,
        &json!({ "title": config.title, "rows": json_rows }),
    )?;
    Ok(OnlineSummary {
        rows: plan.rows,
        markdown,
        report_md,
        report_json,
    })
}
