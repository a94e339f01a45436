//! The whole pipeline in one job (`diffclosure demo`): truth simulation →
//! dataset → training → sampling → offline evaluation → coupled runs →
//! online evaluation, with a report.
//!
//! Each stage is a library job ([`Stage`], [`StageJob`]) that
//! [`Demo::run`] runs on one [`Gpu`](crate::gpu::Gpu); its command line
//! (each job's `command_line`: the `diffclosure` command that runs the
//! same job) is printed, recorded in the report and runnable by hand. A
//! stage whose outputs exist is skipped; an interrupted one continues from
//! its own resume file (`--resume`), so running the demo again after a
//! stop picks up where it was. The settings of each preset are in
//! `recipe.rs` (`Recipe`), the bookkeeping of the stages run so far in
//! `DIR/stages.json`, the report in `DIR/report.md` and
//! `DIR/report.json`.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::job_bail;

mod recipe;
mod report;
mod runner;
mod stage;

pub use runner::DemoSummary;
pub use stage::{Stage, StageJob};

/// The shipped model of the pretrained demo.
const PRETRAINED_MODEL: &str = "g_model_small.safetensors";

/// The shipped files the pretrained demo uses (`scripts/make-assets`):
/// the small preset's G model, its 64² test set and its test truth.
pub const ASSET_FILES: [&str; 3] = [
    PRETRAINED_MODEL,
    "g_test_64.safetensors",
    "g_truth_test.safetensors",
];

/// The environment variable naming the folder of the shipped files.
pub const ASSETS_ENV: &str = "DIFFCLOSURE_ASSETS";

/// The options of a demo run.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// small, paper or seed-large.
    pub preset: String,
    /// Closure scenario: g, h or sgs (any case, surrounding spaces
    /// ignored).
    pub scenario: String,
    /// Directory for every file of the run and the report.
    pub out: PathBuf,
    /// Skip simulation and training: use the shipped G model and test
    /// truth (small preset, scenario g only).
    pub pretrained: bool,
    /// The folder of the shipped files; `None`: looked for as
    /// [`find_assets`] does.
    pub assets: Option<PathBuf>,
    /// Stop training at the first epoch end after this many minutes.
    pub train_minutes: Option<f64>,
    /// Arguments appended to every stage's printed command line: the
    /// adapter selection the user gave (the demo's own GPU runs the jobs),
    /// so that the line runs on the same adapter by hand.
    pub stage_flags: Vec<String>,
}

/// A checked demo: its settings and stages, ready to run.
#[derive(Clone, Debug)]
pub struct Demo {
    /// The preset.
    pub preset: String,
    /// The scenario, lower case.
    pub scenario: String,
    /// Whether the shipped model is used.
    pub pretrained: bool,
    /// The run's directory.
    pub out: PathBuf,
    /// The model the sampling and coupled stages use.
    pub model: PathBuf,
    /// The stages, in order.
    pub stages: Vec<Stage>,
    /// Arguments appended to every stage's printed command line.
    pub stage_flags: Vec<String>,
}

impl DemoConfig {
    /// Checks the options (before anything is written or any GPU work)
    /// and makes the stages.
    ///
    /// # Errors
    /// [`crate::Error::Job`] for an unknown scenario or preset, `pretrained`
    /// outside the small preset's scenario g, or shipped files that are
    /// not found ([`find_assets`]); [`crate::Error::InvalidArgument`]
    /// should a stage's setting not parse (a bug of the recipe).
    pub fn plan(&self) -> Result<Demo> {
        let scenario = self.scenario.trim().to_lowercase();
        if !["g", "h", "sgs"].contains(&scenario.as_str()) {
            job_bail!("--scenario {}: expected g, h or sgs", self.scenario);
        }
        let assets = if self.pretrained {
            if self.preset != "small" || scenario != "g" {
                job_bail!("--pretrained: the shipped model is the small preset's G model (use --preset small --scenario g)");
            }
            Some(find_assets(self.assets.as_deref())?)
        } else {
            None
        };
        let stages = recipe::stages(
            &self.preset,
            &scenario,
            &self.out,
            assets.as_deref(),
            self.train_minutes,
        )?;
        let model = match &assets {
            Some(dir) => dir.join(PRETRAINED_MODEL),
            None => self.out.join("model.safetensors"),
        };
        let mut demo = Demo {
            preset: self.preset.clone(),
            scenario,
            pretrained: self.pretrained,
            out: self.out.clone(),
            model,
            stages,
            stage_flags: self.stage_flags.clone(),
        };
        // A training records the command line that runs it, as the
        // subcommand does (`train.command`).
        let lines: Vec<String> = demo
            .stages
            .iter()
            .map(|st| shell_words(&demo.command(&st.job)))
            .collect();
        for (st, line) in demo.stages.iter_mut().zip(lines) {
            st.job.record_command(&line);
        }
        Ok(demo)
    }
}

impl Demo {
    /// The whole command line that runs `job`: `diffclosure`, the job's
    /// arguments ([`StageJob::command_line`]) and the stage flags.
    pub fn command(&self, job: &StageJob) -> Vec<String> {
        std::iter::once("diffclosure".to_string())
            .chain(job.command_line())
            .chain(self.stage_flags.iter().cloned())
            .collect()
    }
}

/// The folder of the shipped files ([`ASSET_FILES`]), looked for at run
/// time: `explicit` (`--assets`), else `$DIFFCLOSURE_ASSETS`, else the
/// first of these that holds them all: `assets/` in the current directory
/// (returned as that relative path, the short form for the commands in
/// the report), `assets/` beside the executable, `../../assets` of the
/// executable's folder (the source tree of a `target/release/` binary),
/// and the source tree the binary was built from.
///
/// # Errors
/// [`crate::Error::Job`] naming the missing file of the folder given, or every
/// folder looked in.
pub fn find_assets(explicit: Option<&Path>) -> Result<PathBuf> {
    let named = match explicit {
        Some(dir) => Some((dir.to_path_buf(), String::new())),
        None => std::env::var_os(ASSETS_ENV)
            .filter(|v| !v.is_empty())
            .map(|v| (PathBuf::from(v), format!("the folder of {ASSETS_ENV}; "))),
    };
    if let Some((dir, note)) = named {
        // A folder the user named is the one meant: no fallback.
        if let Some(p) = ASSET_FILES
            .iter()
            .map(|n| dir.join(n))
            .find(|p| !p.exists())
        {
            job_bail!(
                "--pretrained: {} is missing ({note}pass --assets DIR, the repository's assets/ folder)",
                p.display()
            );
        }
        return Ok(dir);
    }
    let mut candidates = vec![(PathBuf::from("assets"), "the current directory")];
    if let Some(bin) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        candidates.push((bin.join("assets"), "beside the executable"));
        candidates.push((
            bin.join("..").join("..").join("assets"),
            "the source tree of the executable's target/ folder",
        ));
    }
    candidates.push((
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets"),
        "the source tree it was built from",
    ));
    first_with_assets(&candidates)
}

/// The first of `candidates` (folder, where it comes from) that holds
/// every shipped file; relative folders as they are, the others in
/// canonical form (a path through `..` reads badly in the report).
fn first_with_assets(candidates: &[(PathBuf, &str)]) -> Result<PathBuf> {
    let complete = |dir: &Path| ASSET_FILES.iter().all(|n| dir.join(n).exists());
    if let Some((dir, _)) = candidates.iter().find(|(d, _)| complete(d)) {
        return Ok(if dir.is_relative() {
            dir.clone()
        } else {
            dir.canonicalize().unwrap_or_else(|_| dir.clone())
        });
    }
    job_bail!(
        "--pretrained: the shipped files ({}) are missing; looked in {}; pass --assets DIR (the repository's assets/ folder) or set {ASSETS_ENV}",
        ASSET_FILES.join(", "),
        candidates
            .iter()
            .map(|(d, why)| format!("{} ({why})", d.display()))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Words joined by spaces for a shell, single-quoted where a word is
/// empty or holds whitespace, quotes, `$`, `` ` ``, `\`, glob characters or
/// non-ASCII.
pub fn shell_words<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| {
            let w = w.as_ref();
            if w.is_empty()
                || w.contains(|c: char| {
                    c.is_whitespace() || !c.is_ascii() || "'\"$`\\*?".contains(c)
                })
            {
                format!("'{}'", w.replace('\'', "'\\''"))
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The search takes the first folder that holds every shipped file
    /// (canonical when absolute) and otherwise names every folder it
    /// looked in.
    #[test]
    fn shipped_files_are_looked_for_in_order() {
        let root = std::env::temp_dir().join(format!("diffclosure-assets-{}", std::process::id()));
        let (partial, full) = (root.join("partial"), root.join("full"));
        for d in [&partial, &full] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(partial.join(ASSET_FILES[0]), b"").unwrap();
        for n in ASSET_FILES {
            std::fs::write(full.join(n), b"").unwrap();
        }
        let through_dots = partial.join("..").join("full");
        let found = first_with_assets(&[(partial.clone(), "a"), (through_dots, "b")]).unwrap();
        assert_eq!(found, full.canonicalize().unwrap());
        let err = first_with_assets(&[(partial.clone(), "here"), (root.join("none"), "there")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("{} (here)", partial.display())),
            "{err}"
        );
        assert!(
            err.contains("none (there)") && err.contains(ASSETS_ENV),
            "{err}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
