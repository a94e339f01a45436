//! Metrics of closure samples against the truth (docs/specification.md
//! §7): relative error D_RE, D_MSE, pattern correlation, ensemble spread,
//! spread–skill ratio, CRPS, shell power spectra with a log-spectral
//! distance and a check for spurious energy at the cutoff; and the reports
//! of `diffclosure evaluate` made of them, [`offline`] (samples files) and
//! [`online`] (coupled runs).
//!
//! Fields are `[n, n]` slices; ensembles are `K` such slices of one
//! condition. All sums are in f64.

use std::path::{Path, PathBuf};

use crate::data::io;
use crate::error::{Error, Result};

pub mod offline;
pub mod online;
pub mod spectra;
pub mod spectrum_job;

// The file formats the reports read.
use crate::couple::FORMAT as COUPLED_FORMAT;
use crate::sde::samples::FORMAT as SAMPLES_FORMAT;

/// Refuses a report of no files, and labels that are not one per file.
fn check_labels(labels: &[String], files: &[PathBuf]) -> Result<()> {
    if files.is_empty() {
        crate::job_bail!("no files to evaluate");
    }
    if !labels.is_empty() && labels.len() != files.len() {
        crate::job_bail!("{} labels for {} files", labels.len(), files.len());
    }
    Ok(())
}

/// Writes a report's `report.json` (pretty) and `report.md` into `dir`,
/// refusing existing files, and returns their paths.
fn write_report(dir: &Path, md: &str, json: &serde_json::Value) -> Result<(PathBuf, PathBuf)> {
    let (md_path, json_path) = (dir.join("report.md"), dir.join("report.json"));
    let text = serde_json::to_string_pretty(json).map_err(|e| Error::Job(e.to_string()))?;
    io::write_bytes_atomic(&json_path, text.as_bytes())?;
    io::write_bytes_atomic(&md_path, md.as_bytes())?;
    Ok((md_path, json_path))
}

/// The start of an `evaluate` command line (`--online` for `couple`
/// runs): the files, the output folder, the title unless it is
/// `default_title`, and the labels (joined by commas: a label that holds
/// a comma has no command line).
fn evaluate_command(
    online: bool,
    files: &[PathBuf],
    out: &Path,
    title: &str,
    default_title: &str,
    labels: &[String],
) -> crate::job::CommandLine {
    let mut c = crate::job::CommandLine::new("evaluate");
    c.flag("--online", online)
        .words(files.iter().map(|f| f.display()))
        .arg("--out", out.display())
        .unless_default("--title", title, default_title)
        .opt("--labels", (!labels.is_empty()).then(|| labels.join(",")));
    c
}

/// What `evaluate` prints of a report: its Markdown, then where it was
/// written.
fn describe_report(
    f: &mut std::fmt::Formatter<'_>,
    markdown: &str,
    md: &Path,
    json: &Path,
) -> std::fmt::Result {
    write!(f, "{markdown}wrote {} and {}", md.display(), json.display())
}

/// `‖pred − truth‖_F / ‖truth‖_F` (the seed's D_Fro;
/// docs/specification.md §7). An all-zero truth gives `inf` unless `pred`
/// is zero too (then 0).
pub fn relative_error(pred: &[f32], truth: &[f32]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for (&p, &t) in pred.iter().zip(truth) {
        let (p, t) = (f64::from(p), f64::from(t));
        num += (p - t) * (p - t);
        den += t * t;
    }
    if num == 0.0 {
        0.0
    } else {
        (num / den).sqrt()
    }
}

/// Mean squared error `mean (pred − truth)²`.
pub fn mse(pred: &[f32], truth: &[f32]) -> f64 {
    let s: f64 = pred
        .iter()
        .zip(truth)
        .map(|(&p, &t)| (f64::from(p) - f64::from(t)).powi(2))
        .sum();
    s / truth.len().max(1) as f64
}

/// Pearson (centred pattern) correlation of two fields; 0 when either is
/// constant.
pub fn pattern_correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().max(1) as f64;
    let ma = a.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let mb = b.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x) - ma, f64::from(y) - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    if saa == 0.0 || sbb == 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// Pointwise ensemble mean of `members` (each `[P]`).
pub fn ensemble_mean(members: &[&[f32]]) -> Vec<f32> {
    let k = members.len().max(1) as f64;
    (0..members.first().map_or(0, |m| m.len()))
        .map(|i| (members.iter().map(|m| f64::from(m[i])).sum::<f64>() / k) as f32)
        .collect()
}

/// Ensemble statistics of one condition (`K ≥ 2` members).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EnsembleStats {
    /// Mean over points of the unbiased ensemble variance (the spread²).
    pub spread_sq: f64,
    /// Mean over points of (ensemble mean − truth)² (the skill²).
    pub error_sq: f64,
    /// Mean over points of the ensemble CRPS.
    pub crps: f64,
}

/// Spread, error of the ensemble mean and CRPS of `members` against
/// `truth`. The CRPS of an ensemble `x_1..x_K` at one point is
/// `(1/K) Σ|x_k − y| − (1/(2K²)) Σ_{j,k} |x_j − x_k|` (Gneiting & Raftery
/// 2007, the energy form), evaluated on the sorted members in O(K log K).
/// Returns `None` for fewer than 2 members.
pub fn ensemble_stats(members: &[&[f32]], truth: &[f32]) -> Option<EnsembleStats> {
    let k = members.len();
    if k < 2 {
        return None;
    }
    let kf = k as f64;
    let mut s = EnsembleStats::default();
    let mut x = vec![0.0f64; k];
    for (i, &y) in truth.iter().enumerate() {
        let y = f64::from(y);
        for (xj, m) in x.iter_mut().zip(members) {
            *xj = f64::from(m[i]);
        }
        let mean = x.iter().sum::<f64>() / kf;
        s.spread_sq += x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (kf - 1.0);
        s.error_sq += (mean - y).powi(2);
        let abs_err = x.iter().map(|v| (v - y).abs()).sum::<f64>() / kf;
        x.sort_by(f64::total_cmp);
        // Σ_{j,k} |x_j − x_k| = 2 Σ_j (2j − K + 1) x_(j) on sorted values.
        let pair: f64 = x
            .iter()
            .enumerate()
            .map(|(j, v)| (2.0 * j as f64 - kf + 1.0) * v)
            .sum::<f64>()
            * 2.0;
        s.crps += abs_err - pair / (2.0 * kf * kf);
    }
    let p = truth.len().max(1) as f64;
    s.spread_sq /= p;
    s.error_sq /= p;
    s.crps /= p;
    Some(s)
}

/// The spread–skill ratio of accumulated [`EnsembleStats`] of `K`-member
/// ensembles: `sqrt((K + 1)/K · mean spread²) / sqrt(mean error²)`; 1 for
/// a calibrated ensemble (the `(K + 1)/K` factor corrects for the finite
/// ensemble, Fortin et al. 2014), < 1 over-confident, > 1 under-confident.
pub fn spread_skill(spread_sq: f64, error_sq: f64, k: usize) -> f64 {
    let kf = k as f64;
    ((kf + 1.0) / kf * spread_sq).sqrt() / error_sq.sqrt()
}

/// Root-mean-square difference of `log10` of two spectra over shells
/// `1 ..= k_max` where both are positive (the log-spectral distance, in
/// decades); `None` if no shell qualifies.
pub fn log_spectral_distance(a: &[f64], b: &[f64], k_max: usize) -> Option<f64> {
    let top = k_max.min(a.len().min(b.len()).saturating_sub(1));
    let d: Vec<f64> = (1..=top)
        .filter(|&k| a[k] > 0.0 && b[k] > 0.0)
        .map(|k| (a[k].log10() - b[k].log10()).powi(2))
        .collect();
    (!d.is_empty()).then(|| (d.iter().sum::<f64>() / d.len() as f64).sqrt())
}

/// Ratio of the sample to the truth power summed over the top 20 % of the
/// resolved shells, `(0.8 k_max, k_max]`: spurious energy piling up at the
/// cutoff shows as a ratio well above 1 (the report flags > 2).
pub fn cutoff_ratio(sample: &[f64], truth: &[f64], k_max: usize) -> f64 {
    let lo = (0.8 * k_max as f64).floor() as usize + 1;
    let sum = |s: &[f64]| s.iter().take(k_max + 1).skip(lo).sum::<f64>();
    sum(sample) / sum(truth)
}

/// The fraction of the sample power in the top 20 % of the resolved
/// shells, `(0.8 k_max, k_max]`, of its total over all shells: the pile-up
/// measure that does not divide by the truth (whose power there may be
/// almost nil, which makes [`cutoff_ratio`] huge for harmless samples).
pub fn cutoff_fraction(sample: &[f64], k_max: usize) -> f64 {
    let lo = (0.8 * k_max as f64).floor() as usize + 1;
    let top = sample.iter().take(k_max + 1).skip(lo).sum::<f64>();
    let total = sample.iter().sum::<f64>();
    if total > 0.0 {
        top / total
    } else {
        0.0
    }
}

/// A pile-up: the samples put more than 1e-3 of their power in the top
/// 20 % of shells ([`cutoff_fraction`]) and more than twice the truth's
/// there ([`cutoff_ratio`]). The fraction alone would flag a truth that
/// itself lives near the cutoff; the ratio alone flags a smooth truth with
/// almost no power there (a ratio of 7e11 was measured on harmless
/// samples: noise of 1e-3 of the variance at σ(t_min)).
pub fn is_pile_up(fraction: f64, ratio: f64) -> bool {
    fraction > 1e-3 && ratio > 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-computed values.
    #[test]
    fn pointwise_metrics() {
        let t = [3.0f32, 4.0];
        assert!((relative_error(&[0.0, 0.0], &t) - 1.0).abs() < 1e-15);
        assert!((relative_error(&[3.0, 5.0], &t) - 0.2).abs() < 1e-15);
        assert_eq!(relative_error(&t, &t), 0.0);
        assert!((mse(&[3.0, 5.0], &t) - 0.5).abs() < 1e-15);
        let a = [1.0f32, 2.0, 3.0];
        assert!((pattern_correlation(&a, &[2.0, 4.0, 6.0]) - 1.0).abs() < 1e-12);
        assert!((pattern_correlation(&a, &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert_eq!(pattern_correlation(&a, &[1.0, 1.0, 1.0]), 0.0);
    }

    /// CRPS on sorted values equals the O(K²) definition; a one-point
    /// ensemble at the truth has CRPS 0 and no spread; the mean of two
    /// members.
    #[test]
    fn ensemble_statistics() {
        let m: [&[f32]; 3] = [&[0.0, 1.0], &[2.0, 1.0], &[4.0, 1.0]];
        let y = [1.0f32, 1.0];
        let s = ensemble_stats(&m, &y).unwrap();
        // Point 0: members 0, 2, 4, truth 1: (1 + 1 + 3)/3 − (2·(2 + 4 + 2))/(2·9).
        let crps0 = 5.0 / 3.0 - 16.0 / 18.0;
        assert!((s.crps - crps0 / 2.0).abs() < 1e-12, "{}", s.crps);
        assert!((s.spread_sq - 4.0 / 2.0).abs() < 1e-12);
        assert!((s.error_sq - 1.0 / 2.0).abs() < 1e-12);
        assert!(ensemble_stats(&m[..1], &y).is_none());
        assert_eq!(ensemble_mean(&m[..2]), vec![1.0, 1.0]);
        assert!((spread_skill(1.0, 1.0, 1_000_000) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn spectral_measures() {
        let a = [0.0, 1.0, 10.0, 100.0];
        let b = [0.0, 10.0, 10.0, 100.0];
        assert!((log_spectral_distance(&a, &b, 3).unwrap() - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!(log_spectral_distance(&a, &[0.0; 4], 3).is_none());
        assert!(log_spectral_distance(&[], &[], 3).is_none());
        // k_max 3: top band (2.4, 3] = shell 3.
        assert!((cutoff_ratio(&[0.0, 0.0, 0.0, 300.0], &a, 3) - 3.0).abs() < 1e-12);
        // Shell 3 holds 300 of 311.
        let frac = cutoff_fraction(&[1.0, 0.0, 10.0, 300.0], 3);
        assert!((frac - 300.0 / 311.0).abs() < 1e-12);
        assert_eq!(cutoff_fraction(&[0.0; 4], 3), 0.0);
        assert!(is_pile_up(0.01, 3.0));
        assert!(!is_pile_up(1e-5, 7e11), "a negligible band is no pile-up");
        assert!(!is_pile_up(0.5, 1.0), "a truth that lives there is matched");
    }
}
