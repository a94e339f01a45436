//! The job behind `diffclosure spectrum`: time-averaged energy and
//! enstrophy spectra of a trajectory file, its vorticity statistics, and
//! the resolution criterion of docs/specification.md §2 (the enstrophy
//! spectrum ≥ 4 decades below its peak at the 2/3 dealias cutoff); as JSON,
//! a log–log plot and a vorticity heatmap on request.

use std::path::{Path, PathBuf};

use crate::data::io;
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::job::CommandLine;
use crate::job_bail;
use crate::metrics::spectra::mean_shell_spectra;
use crate::ns::diagnostics::pdf;
use crate::plot::heatmap::{heatmap_png, HeatmapOptions};
use crate::plot::spectrum::{spectra_png, Curve, Marker, SlopeLine, SpectraOptions};

/// Decades between the enstrophy spectrum's peak and its value at the 2/3
/// cutoff from which a run counts as resolved (docs/specification.md §2).
pub const RESOLVED_DECADES: f64 = 4.0;

/// What to analyse and where the results go.
#[derive(Clone, Debug, PartialEq)]
pub struct SpectrumJob {
    /// A file of [`crate::ns::TrajectoryJob`] holding `vorticity`
    /// `[T, B, n, n]` and `time` `[T]`.
    pub input: PathBuf,
    /// Only snapshots at or after this time (model time units).
    pub from: f64,
    /// The spectra and statistics as JSON.
    pub json: Option<PathBuf>,
    /// The time-averaged E(k), Z(k) as a log–log PNG (shells 1 ..= √2·n/3,
    /// the corner of the dealiased square), the 2/3 cutoff and a k⁻³ line
    /// marked.
    pub png: Option<PathBuf>,
    /// The vorticity of the last snapshot (first trajectory) as a PNG
    /// heatmap (blue < 0 < red, limits ±max|ω|, y up).
    pub heatmap: Option<PathBuf>,
}

/// What [`SpectrumJob::run`] found.
#[derive(Clone, Debug)]
pub struct SpectrumSummary {
    /// Snapshots used, and their first and last times.
    pub snapshots: usize,
    /// First and last time used.
    pub time: (f32, f32),
    /// Trajectories B and grid side n.
    pub batch: usize,
    /// Grid side n.
    pub grid: usize,
    /// rms vorticity over the snapshots: mean, min, max.
    pub rms: (f64, f64, f64),
    /// Energy ½⟨|u|²⟩ and enstrophy ½⟨ω²⟩, time-averaged.
    pub energy: f64,
    /// Enstrophy ½⟨ω²⟩, time-averaged.
    pub enstrophy: f64,
    /// The enstrophy spectrum's peak shell and value.
    pub peak: (usize, f64),
    /// The 2/3 cutoff shell n/3 and the spectrum there.
    pub cutoff: (usize, f64),
    /// log10(peak / value at the cutoff).
    pub decades: f64,
    /// The heatmap's time and colour limit, when one was drawn.
    pub heatmap: Option<(f32, f64)>,
}

impl SpectrumSummary {
    /// Whether the run is resolved: ≥ [`RESOLVED_DECADES`] decades.
    pub fn resolved(&self) -> bool {
        self.decades >= RESOLVED_DECADES
    }

    /// The verdict in words, as `spectrum` prints it and the demo report
    /// repeats it.
    pub fn verdict(decades: f64) -> String {
        if decades >= RESOLVED_DECADES {
            format!("resolved: >= {RESOLVED_DECADES} decades")
        } else {
            format!("under-resolved: < {RESOLVED_DECADES} decades")
        }
    }
}

fn mean_rms_of(rms: &[f64]) -> f64 {
    (rms.iter().sum::<f64>() / rms.len().max(1) as f64).max(f64::MIN_POSITIVE)
}

/// The file name of `p`, for titles.
fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

impl SpectrumJob {
    /// A job on `input` from t = 0 with no output file.
    pub fn new(input: &Path) -> Self {
        SpectrumJob {
            input: input.to_path_buf(),
            from: 0.0,
            json: None,
            png: None,
            heatmap: None,
        }
    }

    /// The outputs with the option that names each.
    fn outputs(&self) -> Vec<(&'static str, &Path)> {
        [
            ("--json", &self.json),
            ("--png", &self.png),
            ("--heatmap", &self.heatmap),
        ]
        .into_iter()
        .filter_map(|(flag, p)| p.as_deref().map(|p| (flag, p)))
        .collect()
    }

    /// Refuses outputs that exist, coincide with the input or each other,
    /// or cannot be created — before the input is read or a GPU opened.
    ///
    /// # Errors
    /// [`Error::Job`] or a file error naming the output.
    pub fn plan(&self) -> Result<()> {
        let outputs = self.outputs();
        for (i, (flag, out)) in outputs.iter().enumerate() {
            if io::same_file(&self.input, out) {
                job_bail!("{flag} {} is the input file", out.display());
            }
            if let Some((other, _)) = outputs[..i].iter().find(|(_, o)| io::same_file(o, out)) {
                job_bail!("{flag} and {other} name the same file {}", out.display());
            }
            io::refuse_existing(out)?;
            io::check_writable(out)?;
        }
        Ok(())
    }

    /// Reads the input, computes the spectra on `gpu` and writes the
    /// requested outputs.
    ///
    /// # Errors
    /// What [`Self::plan`] refuses; an unreadable or malformed input; no
    /// snapshot at or after `from`; a vorticity that is zero throughout.
    pub fn run(&self, gpu: &Gpu) -> Result<SpectrumSummary> {
        self.plan()?;
        let input = &self.input;
        let f = io::read(input)?;
        let w = f.get(input, "vorticity")?;
        let time = &f.get(input, "time")?.data;
        let length: f64 = f
            .meta(input, "length")?
            .parse()
            .map_err(|e| Error::Job(format!("{}: metadata length: {e}", input.display())))?;
        let s = &w.shape;
        if s.len() != 4 || s[2] != s[3] || s[0] != time.len() {
            job_bail!(
                "{}: vorticity shape {s:?}, expected [T, B, n, n] with T = {}",
                input.display(),
                time.len()
            );
        }
        let (b, n) = (s[1], s[2]);
        let keep: Vec<usize> = (0..s[0])
            .filter(|&t| f64::from(time[t]) >= self.from)
            .collect();
        let (Some(&first), Some(&last_kept)) = (keep.first(), keep.last()) else {
            job_bail!("no snapshot at or after t = {}", self.from);
        };
        let per = b * n * n;
        let snapshot = |t: usize| &w.data[t * per..(t + 1) * per];
        let rms: Vec<f64> = keep
            .iter()
            .map(|&t| {
                let sq = snapshot(t)
                    .iter()
                    .map(|v| f64::from(*v).powi(2))
                    .sum::<f64>();
                (sq / per as f64).sqrt()
            })
            .collect();
        // Times increase, so the kept snapshots are the file's last ones.
        let kept = &w.data[first * per..(last_kept + 1) * per];
        let (e_avg, z_avg) = mean_shell_spectra(gpu, kept, n, length)?;
        let mean_rms = mean_rms_of(&rms);
        // Vorticity PDF over the kept snapshots, in units of the mean rms,
        // on ±6 rms (60 bins).
        let all: Vec<f32> = kept
            .iter()
            .map(|v| (f64::from(*v) / mean_rms) as f32)
            .collect();
        let (pdf_x, pdf_y) = pdf(&all, 6.0, 60);
        let cutoff = n / 3;
        let (peak_k, peak) = z_avg.iter().enumerate().skip(1).fold(
            (0, 0.0),
            |(bk, bv), (k, &v)| if v > bv { (k, v) } else { (bk, bv) },
        );
        if peak == 0.0 {
            job_bail!(
                "{}: the vorticity is zero in every kept snapshot",
                input.display()
            );
        }
        let decades = (peak / z_avg[cutoff]).log10();
        let (lo, hi) = rms
            .iter()
            .fold((f64::MAX, 0f64), |(l, h), v| (l.min(*v), h.max(*v)));
        let (t0, t1) = (time[first], time[last_kept]);
        let mut summary = SpectrumSummary {
            snapshots: keep.len(),
            time: (t0, t1),
            batch: b,
            grid: n,
            rms: (mean_rms, lo, hi),
            energy: e_avg.iter().sum(),
            enstrophy: z_avg.iter().sum(),
            peak: (peak_k, peak),
            cutoff: (cutoff, z_avg[cutoff]),
            decades,
            heatmap: None,
        };
        if let Some(path) = &self.json {
            let v = serde_json::json!({
                "input": input.display().to_string(),
                "snapshots": keep.len(),
                "t_from": t0,
                "t_to": t1,
                "rms_vorticity": {"mean": mean_rms, "min": lo, "max": hi},
                "energy_spectrum": e_avg,
                "enstrophy_spectrum": z_avg,
                "enstrophy_peak_k": peak_k,
                "cutoff_k": cutoff,
                "decades_peak_to_cutoff": decades,
                "resolved": summary.resolved(),
                "vorticity_pdf": {"x_over_rms": pdf_x, "density": pdf_y},
            });
            let text = serde_json::to_string_pretty(&v).map_err(|e| Error::Job(e.to_string()))?;
            io::write_bytes_atomic(path, text.as_bytes())?;
        }
        if let Some(path) = &self.png {
            // The plot stops at the corner of the dealiased square |kx|,
            // |ky| ≤ n/3, shell ⌊√2 n/3⌋: beyond it the advection keeps no
            // mode and what is left is decayed noise at round-off level.
            let last_shell = (std::f64::consts::SQRT_2 * cutoff as f64).floor() as usize;
            let shells = (last_shell + 1).min(e_avg.len());
            let title = format!(
                "{}, {n}²: t = {t0:.2} .. {t1:.2}, {} snapshot{}, {b} trajector{}",
                file_name(input),
                keep.len(),
                if keep.len() == 1 { "" } else { "s" },
                if b == 1 { "y" } else { "ies" },
            );
            let opts = SpectraOptions {
                y_label: "E(k), Z(k)".to_string(),
                // The enstrophy-cascade power law of 2-D turbulence, from
                // twice the forcing (enstrophy peak) wavenumber to the
                // cutoff, set a factor 2 above the energy spectrum.
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
        }
        if let Some(path) = &self.heatmap {
            let last = s[0] - 1;
            let field = &w.data[last * per..last * per + n * n];
            let opts = HeatmapOptions {
                title: Some(format!(
                    "vorticity ω of {}, trajectory 0, t = {:.2}",
                    file_name(input),
                    time[last]
                )),
                colorbar: Some("vorticity ω (± max |ω|)".into()),
                ..HeatmapOptions::default()
            };
            let limit = heatmap_png(path, field, n, n, &opts)?;
            summary.heatmap = Some((time[last], limit));
        }
        Ok(summary)
    }

    /// The arguments of the `diffclosure spectrum` command that runs this
    /// job: the input, and `from` and the outputs where given.
    pub fn command_line(&self) -> Vec<String> {
        let mut c = CommandLine::new("spectrum");
        c.arg("--input", self.input.display())
            .unless_default("--from", self.from, 0.0)
            .opt_path("--json", self.json.as_deref())
            .opt_path("--png", self.png.as_deref())
            .opt_path("--heatmap", self.heatmap.as_deref());
        c.into_words()
    }

    /// The lines `spectrum` prints for `s`, a run of this job: the input's
    /// snapshots, the vorticity statistics, energy and enstrophy, the
    /// resolution verdict and the figures drawn.
    pub fn describe(&self, s: &SpectrumSummary) -> String {
        let (n, b) = (s.grid, s.batch);
        let mut lines = vec![
            format!(
                "{}: {} snapshots (t = {:.2} .. {:.2}), {b} x {n}x{n}",
                self.input.display(),
                s.snapshots,
                s.time.0,
                s.time.1
            ),
            format!(
                "rms vorticity: mean {:.4}, min {:.4}, max {:.4}",
                s.rms.0, s.rms.1, s.rms.2
            ),
            format!(
                "energy ½<|u|²> = {:.5}, enstrophy ½<ω²> = {:.5}",
                s.energy, s.enstrophy
            ),
            format!(
                "enstrophy spectrum: peak {:.3e} at |k| = {}; at the 2/3 cutoff |k| = {}: {:.3e}; {:.2} decades below the peak ({})",
                s.peak.1,
                s.peak.0,
                s.cutoff.0,
                s.cutoff.1,
                s.decades,
                SpectrumSummary::verdict(s.decades)
            ),
        ];
        if let Some(path) = &self.png {
            lines.push(format!("spectrum plot: {}", path.display()));
        }
        if let (Some(path), Some((t, limit))) = (&self.heatmap, s.heatmap) {
            lines.push(format!(
                "vorticity heatmap (t = {t:.2}, trajectory 0, colour limits ±{limit:.3}): {}",
                path.display()
            ));
        }
        lines.join("\n")
    }
}
