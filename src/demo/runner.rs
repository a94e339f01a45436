//! The stage runner: which stages are done, stale or interrupted, the
//! record of those run (`DIR/stages.json`), and the report at the end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{json, Value};

use super::report::Report;
use super::{shell_words, Demo, StageJob};
use crate::data::io;
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::job_bail;

/// Record of the stages run so far (`DIR/stages.json`): command and wall
/// seconds by stage (`"NN name"`), kept across resumed demo runs.
pub(super) type StageLog = BTreeMap<String, Value>;

/// The stage log's entry of the demo's settings.
const SETTINGS: &str = "00 settings";

/// What [`Demo::run`] did.
#[derive(Clone, Debug)]
pub struct DemoSummary {
    /// `DIR/report.md`.
    pub report_md: PathBuf,
    /// `DIR/report.json`.
    pub report_json: PathBuf,
    /// Whether the learned closure beats no closure online, in words
    /// (`None` when the report has not both runs).
    pub verdict: Option<String>,
    /// Wall seconds of this invocation.
    pub seconds: f64,
}

/// `context: error` of a file-system error on `path`.
fn fs_err(context: &str, path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Job(format!("{context} {}: {e}", path.display()))
}

fn read_log(path: &Path) -> Result<StageLog> {
    if !path.exists() {
        return Ok(StageLog::new());
    }
    let text = std::fs::read_to_string(path).map_err(|e| fs_err("reading", path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::Job(format!("{}: not a stage log: {e}", path.display())))
}

/// Writes `v` as pretty JSON to `path`, replacing it.
pub(super) fn write_json(path: &Path, v: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| Error::Job(e.to_string()))?;
    io::replace_bytes_atomic(path, text.as_bytes())
}

/// Whether a training checkpoint holds fewer epochs than its run aims at
/// (`train.epoch < train.epochs`: stopped by --max-minutes).
fn training_unfinished(ck: &Path) -> Result<bool> {
    let c = crate::score::checkpoint::load(ck)?;
    let epoch: u64 = c.get(ck, "train.epoch")?;
    let epochs: u64 = c.get(ck, "train.epochs")?;
    Ok(epoch < epochs)
}

fn remove(path: &Path) -> Result<()> {
    let r = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    r.map_err(|e| fs_err("removing the stale", path, e))
}

impl Demo {
    /// Opens the stage log of the run's directory (created): one
    /// directory, one setting, so that stages of another preset or
    /// scenario are not mistaken for this one's.
    fn open_log(&self, log_path: &Path) -> Result<StageLog> {
        let mut log = read_log(log_path)?;
        let settings = json!({ "preset": self.preset, "scenario": self.scenario, "pretrained": self.pretrained });
        match log.get(SETTINGS) {
            Some(old) if *old != settings => job_bail!(
                "{} holds a demo of other settings ({old}); give another --out",
                self.out.display()
            ),
            Some(_) => {}
            None => {
                let mut entries =
                    std::fs::read_dir(&self.out).map_err(|e| fs_err("reading", &self.out, e))?;
                if entries.next().is_some() {
                    job_bail!(
                        "{} is not empty and holds no demo: give another --out",
                        self.out.display()
                    );
                }
                log.insert(SETTINGS.into(), settings);
                write_json(log_path, &log)?;
            }
        }
        Ok(log)
    }

    /// Runs the stages not done yet, in order, each job on `gpu` (with
    /// `resume` set where the stage continues an interrupted run),
    /// printing a line per stage with its command line, then the job's
    /// own summary lines; then writes the report. A stage is done when
    /// its outputs exist (and a training stage's checkpoint holds every
    /// epoch); once a stage runs, the later ones' files are of older
    /// inputs and are redone.
    ///
    /// # Errors
    /// A directory that holds something else than a demo of these
    /// settings; the first stage that fails (its message, and how to
    /// continue); file-system errors; a sub-report that cannot be read.
    pub fn run(&self, gpu: &Gpu) -> Result<DemoSummary> {
        std::fs::create_dir_all(&self.out).map_err(|e| fs_err("creating", &self.out, e))?;
        let log_path = self.out.join("stages.json");
        let mut log = self.open_log(&log_path)?;
        let t_all = Instant::now();
        let total = self.stages.len();
        // Once a stage has run, the later ones' files are of older inputs.
        let mut stale = false;
        for (i, st) in self.stages.iter().enumerate() {
            let key = format!("{:02} {}", i + 1, st.name);
            let resume_file = st.job.resume_file();
            let unfinished = match &st.job {
                StageJob::Train(t) if t.out.exists() => training_unfinished(&t.out)?,
                _ => false,
            };
            if !stale && !unfinished && st.outputs.iter().all(|o| o.exists()) {
                println!("[{}/{total}] {}: done already, skipped", i + 1, st.name);
                continue;
            }
            if stale {
                for x in st
                    .outputs
                    .iter()
                    .chain(&resume_file)
                    .filter(|x| x.exists() && x.starts_with(&self.out))
                {
                    remove(x)?;
                }
            }
            stale = true;
            let resuming = resume_file.as_ref().is_some_and(|r| r.exists());
            let mut job = if resuming {
                st.job.resumed()
            } else {
                // A fresh start: clear what an earlier attempt left (the
                // demo directory's own files only).
                for x in st
                    .scratch
                    .iter()
                    .filter(|x| x.exists() && x.starts_with(&self.out))
                {
                    remove(x)?;
                }
                st.job.clone()
            };
            for dir in st.outputs.iter().filter_map(|o| o.parent()) {
                std::fs::create_dir_all(dir).map_err(|e| fs_err("creating", dir, e))?;
            }
            let line = shell_words(&self.command(&job));
            job.record_command(&line);
            println!(
                "[{}/{total}] {}{}: {line}",
                i + 1,
                st.name,
                if resuming { " (resumed)" } else { "" }
            );
            let t0 = Instant::now();
            let done = job.run(gpu).map_err(|e| {
                e.context(format!(
                    "demo stage {}/{total} ({}) failed; fix the cause and run the demo again: finished stages are kept{}",
                    i + 1,
                    st.name,
                    if resume_file.is_some() {
                        " and this one continues where it stopped"
                    } else {
                        ""
                    }
                ))
            })?;
            println!("{done}");
            let secs = t0.elapsed().as_secs_f64()
                + log
                    .get(&key)
                    .filter(|_| resuming)
                    .and_then(|v| v["seconds"].as_f64())
                    .unwrap_or(0.0);
            log.insert(key, json!({ "command": line, "seconds": secs }));
            write_json(&log_path, &log)?;
        }
        let report = Report::build(self, &log)?;
        let (report_md, report_json) = report.write(&self.out)?;
        Ok(DemoSummary {
            report_md,
            report_json,
            verdict: report.verdict,
            seconds: t_all.elapsed().as_secs_f64(),
        })
    }
}
