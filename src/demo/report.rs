//! The demo's report (`DIR/report.md`, `DIR/report.json`): the stages with
//! their commands and times, the truth, the training, the offline and
//! online tables, and whether the learned closure beats the coarse model
//! alone.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::runner::{write_json, StageLog};
use super::Demo;
use crate::data::io;
use crate::error::{Error, Result};

/// The demo's report: the stages, the truth, the offline and online
/// tables, and whether the learned closure beats the coarse model alone.
pub(super) struct Report {
    md: String,
    json: Value,
    /// The verdict's sentence (`None` without both a run with no closure
    /// and one with the learned closure).
    pub(super) verdict: Option<String>,
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::Job(format!("reading {}: {e}", path.display())))
}

fn read_json(path: &Path) -> Result<Value> {
    serde_json::from_str(&read_text(path)?)
        .map_err(|e| Error::Job(format!("{}: {e}", path.display())))
}

/// The Markdown table lines of a sub-report.
fn tables(path: &Path) -> Result<String> {
    Ok(read_text(path)?
        .lines()
        .filter(|l| l.starts_with('|'))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// The output time nearest `t` (elapsed) of an online row, and its D_RE.
fn d_re_at(row: &Value, t: f64) -> Option<(f64, f64)> {
    let time: Vec<f64> = row["time"]
        .as_array()?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    let d = row["d_re"].as_array()?;
    let t0 = *time.first()?;
    let i = (0..time.len()).min_by(|&x, &y| {
        (time[x] - t0 - t)
            .abs()
            .total_cmp(&(time[y] - t0 - t).abs())
    })?;
    Some((time[i] - t0, d.get(i)?.as_f64()?))
}

impl Report {
    /// The report of `demo` from its stage log and the files of its
    /// stages.
    pub(super) fn build(a: &Demo, log: &StageLog) -> Result<Self> {
        let (d, scenario, stages) = (&a.out, &a.scenario, &a.stages);
        let mut md = format!(
            "# diffclosure demo: scenario {}, preset {}{}\n\n",
            scenario.to_uppercase(),
            a.preset,
            if a.pretrained { " (shipped model)" } else { "" }
        );
        // The verdict goes first (a reader's question), but it is made of
        // the online report read further down: its place is kept here.
        let verdict_at = md.len();
        md.push_str("## Stages\n\nEvery stage below is a `diffclosure` command (run in this order, they redo the demo by hand); the times are wall seconds on this machine.\n\n| # | stage | seconds | command |\n|---|---|---|---|\n");
        let mut stage_json = Vec::new();
        for (i, st) in stages.iter().enumerate() {
            let key = format!("{:02} {}", i + 1, st.name);
            let (secs, cmd) = match log.get(&key) {
                Some(v) => (
                    v["seconds"].as_f64(),
                    v["command"].as_str().unwrap_or_default().to_string(),
                ),
                None => (
                    None,
                    format!("diffclosure {}", st.job.command_line().join(" ")),
                ),
            };
            md.push_str(&format!(
                "| {} | {} | {} | `{}` |\n",
                i + 1,
                st.name,
                secs.map_or("–".into(), |x| format!("{x:.0}")),
                cmd
            ));
            stage_json.push(json!({ "stage": st.name, "seconds": secs, "command": cmd }));
        }
        let total: f64 = stage_json
            .iter()
            .filter_map(|v| v["seconds"].as_f64())
            .sum();
        md.push_str(&format!("\nTotal: {:.1} min.\n", total / 60.0));

        let mut truth = Value::Null;
        let spectrum = d.join("truth").join("spectrum.json");
        if spectrum.exists() {
            truth = read_json(&spectrum)?;
            md.push_str("\n## Truth\n\n");
            md.push_str(&format!(
                "Test truth: rms vorticity {}, enstrophy spectrum {} decades below its peak at the 2/3 cutoff ({}).\n\n",
                fmt_num(&truth["rms_vorticity"]["mean"]),
                fmt_num(&truth["decades_peak_to_cutoff"]),
                if truth["resolved"].as_bool() == Some(true) {
                    "resolved by the ≥ 4 decades criterion"
                } else {
                    "under-resolved by the ≥ 4 decades criterion, as `spectrum` says too: expected of the small preset's 128² truth, kept small for speed"
                }
            ));
            md.push_str("![vorticity](truth/vorticity.png) ![spectra](truth/spectrum.png)\n");
        }
        let ck = crate::score::checkpoint::load(&a.model)?;
        let meta = |k: &str| ck.meta.get(k).map_or("?", String::as_str);
        let (epoch, epochs) = (meta("train.epoch"), meta("train.epochs"));
        let budget = if epoch != epochs && !a.pretrained {
            format!(" of the {epochs} aimed at (stopped by the --train-minutes cap; running the demo again continues training)")
        } else {
            String::new()
        };
        md.push_str(&format!(
            "\n## Training\n\n{}{epoch} epochs{budget} ({} steps of {} samples) on {}, {:.1} min, final loss {}. Network: width {}, modes {}, {} layers.\n\n`{}`\n",
            if a.pretrained { "The shipped model: " } else { "" },
            meta("train.step"),
            meta("train.batch"),
            meta("train.adapter"),
            meta("train.wall_s").parse::<f64>().unwrap_or(f64::NAN) / 60.0,
            meta("train.loss").parse::<f64>().map_or("?".into(), |l| format!("{l:.4e}")),
            ck.config.width,
            ck.config.modes,
            ck.config.layers,
            meta("train.command"),
        ));
        if !a.pretrained {
            md.push_str("\nThe loss at every 10th step is in `loss.csv`.\n");
        }

        let offline = read_json(&d.join("offline").join("report.json"))?;
        md.push_str("\n## Offline (a priori): sampled closures against the truth\n\n");
        md.push_str(&tables(&d.join("offline").join("report.md"))?);
        md.push_str(OFFLINE_KEY);
        md.push_str("\n\nTruth, two samples and the error of sample 1 (first test condition); power spectra of truth and samples:\n\n![fields](offline/row1_fields.png) ![spectra](offline/spectra.png)\n");
        if d.join("denoising").join("trajectory.png").exists() {
            md.push_str("\nDenoising, from the noise at t_max to the sample, then the truth (animated: `denoising/trajectory.gif`):\n\n![denoising](denoising/trajectory.png)\n");
        }

        let online = read_json(&d.join("online").join("report.json"))?;
        md.push_str("\n## Online (a posteriori): the coarse model with each closure, against the restricted truth\n\n");
        md.push_str(&tables(&d.join("online").join("report.md"))?);
        md.push_str(
            "\n\n![D_RE over time](online/d_re.png) ![correlation](online/correlation.png)\n",
        );
        let rows = online["rows"].as_array().cloned().unwrap_or_default();
        let find = |prefix: &str| {
            rows.iter()
                .find(|r| r["label"].as_str().is_some_and(|l| l.starts_with(prefix)))
        };
        let mut verdict = None;
        let mut verdict_json = Value::Null;
        if let (Some(none), Some(learned)) = (find("none"), find("learned")) {
            let span = none["time"]
                .as_array()
                .and_then(|t| Some(t.last()?.as_f64()? - t.first()?.as_f64()?))
                .unwrap_or(0.0);
            let times: Vec<f64> = [0.25, 0.5, 0.75, 1.0].iter().map(|q| q * span).collect();
            // At the output times the online table shows (the nearest to
            // a quarter, half, three quarters and the end of the span).
            let pairs: Vec<(f64, f64, f64)> = times
                .iter()
                .filter_map(|&t| {
                    let (at, n) = d_re_at(none, t)?;
                    Some((at, n, d_re_at(learned, t)?.1))
                })
                .collect();
            let beats = pairs.len() == times.len() && pairs.iter().all(|(_, n, l)| l < n);
            let text = format!(
                "Learned closure vs no closure, D_RE of the vorticity: {}. {}",
                pairs
                    .iter()
                    .map(|(t, n, l)| format!("+{t:.2} s: {:.1} % vs {:.1} %", 100.0 * l, 100.0 * n))
                    .collect::<Vec<_>>()
                    .join("; "),
                if beats {
                    "The learned closure beats no closure at every time."
                } else {
                    "The learned closure does NOT beat no closure at every time."
                }
            );
            let oracle = find("oracle").and_then(|o| d_re_at(o, span));
            let offline_d_re = offline["rows"][0]["d_re"].as_f64();
            md.insert_str(verdict_at, &verdict_section(&text, oracle, offline_d_re));
            verdict_json = json!({
                "learned_beats_none": beats,
                "times": pairs.iter().map(|p| p.0).collect::<Vec<_>>(),
                "d_re_none": pairs.iter().map(|p| p.1).collect::<Vec<_>>(),
                "d_re_learned": pairs.iter().map(|p| p.2).collect::<Vec<_>>(),
            });
            verdict = Some(text);
        }
        md.push_str("\nMore figures: `online/spectra_*.png`, `online/pdf_*.png`; the numbers in `report.json`, `offline/report.json`, `online/report.json`.\n");
        let json = json!({
            "format": "diffclosure.demo.v1",
            "preset": a.preset,
            "scenario": scenario,
            "pretrained": a.pretrained,
            "stages": stage_json,
            "total_seconds": total,
            "truth": truth,
            "offline": offline,
            "online": online,
            "verdict": verdict_json,
        });
        Ok(Self { md, json, verdict })
    }

    /// Writes `report.md` and `report.json` into `dir` (replacing those
    /// of an earlier run) and returns their paths.
    pub(super) fn write(&self, dir: &Path) -> Result<(PathBuf, PathBuf)> {
        let (md, json) = (dir.join("report.md"), dir.join("report.json"));
        io::replace_bytes_atomic(&md, self.md.as_bytes())?;
        write_json(&json, &self.json)?;
        Ok((md, json))
    }
}

/// What the offline table's less common columns mean (the whole legend
/// is in `offline/report.md`).
const OFFLINE_KEY: &str = "\n\nKey: C×K conditions × samples each; D_RE per sample and of the ensemble mean (D_RE(mean)); spread–skill 1 = calibrated ensemble; LSD: log-spectral distance (decades); cutoff: the samples' power in the top 20 % of shells as a fraction of their total, and its ratio to the truth's. Every column is defined in `offline/report.md`.";

/// The report's opening section: the online verdict, with the oracle
/// (the deterministic closure term computed from the truth) and the
/// offline error beside it.
fn verdict_section(verdict: &str, oracle: Option<(f64, f64)>, offline_d_re: Option<f64>) -> String {
    let mut s = format!("## Verdict\n\n**{verdict}**");
    if let Some((t, d)) = oracle {
        s.push_str(&format!(
            " With the oracle (the deterministic closure term computed from the truth, e.g. ν∆ω̄ for G, no noise) D_RE is {:.1} % at +{t:.2} s.",
            100.0 * d
        ));
    }
    if let Some(d) = offline_d_re {
        s.push_str(&format!(
            " Offline, one sampled closure differs from the true one by D_RE {:.1} %.",
            100.0 * d
        ));
    }
    s.push_str("\n\n");
    s
}

fn fmt_num(v: &Value) -> String {
    v.as_f64().map_or("?".into(), |x| format!("{x:.3}"))
}
