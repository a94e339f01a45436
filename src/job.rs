//! Long jobs: one resume mechanism and one progress display for every job
//! that can run for hours (`simulate`, `sample`, `couple`; training keeps
//! its own checkpoint, which is its output).
//!
//! A job writes one output, `OUT`, when it is done, and meanwhile saves
//! what it has to `OUT.partial` (atomically: a crash never leaves a torn
//! file). The partial file carries the job's *identity*: metadata that must
//! be equal for a later run to continue it (the seed, the grid, hashes of
//! the inputs, …). [`Resumable`] holds the paths and the rules:
//!
//! * a fresh run refuses to start while `OUT.partial` exists (it would be
//!   lost) and refuses an existing `OUT` (nothing already saved is
//!   overwritten);
//! * `--resume` reads `OUT.partial`, checks the identity key by key and
//!   hands the saved tensors back;
//! * [`Resumable::finish`] writes `OUT` (only if it still does not exist)
//!   and removes `OUT.partial`.
//!
//! [`Progress`] is a bar on a terminal and, in a log or CI, a line every
//! [`Progress::LINE_INTERVAL`], so that a long job is never silent.
//!
//! [`CommandLine`] writes the `diffclosure` command line of a job (each
//! job's `command_line`), which the demo prints and records for every stage.

use std::collections::HashMap;
use std::fmt::Display;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::data::io::{self, NamedTensor, TensorFile};
use crate::error::{Error, Result};

/// The partial file of output `out`: `OUT.partial` beside it.
pub fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    out.with_file_name(name)
}

/// What `--resume` does when there is no partial file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingPartial {
    /// Refuse: `--resume` names a run that does not exist (a typo in
    /// `--out`, or a run that already finished).
    Refuse,
    /// Start from the beginning, with a note: for array jobs that are
    /// re-queued with `--resume` whether or not they had started.
    StartFresh,
}

/// The output and partial file of one job, checked before any GPU work.
#[derive(Clone, Debug)]
pub struct Resumable {
    out: PathBuf,
    partial: PathBuf,
    resume: bool,
}

impl Resumable {
    /// Checks that the job can write `out` and that its partial state
    /// agrees with `resume`; `inputs` may not be the output or the partial
    /// file.
    ///
    /// # Errors
    /// [`Error::Job`] if `out` exists, an input is the output, a partial
    /// file exists without `resume`, or (with [`MissingPartial::Refuse`])
    /// `resume` finds none; [`Error::Io`] if `out`'s folder is not writable.
    pub fn open(
        out: &Path,
        inputs: &[&Path],
        resume: bool,
        missing: MissingPartial,
    ) -> Result<Self> {
        let partial = partial_path(out);
        for p in inputs {
            if io::same_file(p, out) || io::same_file(p, &partial) {
                return Err(Error::Job(format!(
                    "{} is both an input and the output",
                    p.display()
                )));
            }
        }
        io::refuse_existing(out)?;
        // Fail now, not after hours of work, if the output cannot be written.
        io::check_writable(out)?;
        let exists = partial.exists();
        if exists && !resume {
            return Err(Error::Job(format!(
                "{} exists (an interrupted run): continue it with --resume, or delete it",
                partial.display()
            )));
        }
        if resume && !exists && missing == MissingPartial::Refuse {
            return Err(Error::Job(format!(
                "--resume: {} does not exist (nothing to continue)",
                partial.display()
            )));
        }
        Ok(Self {
            out: out.to_path_buf(),
            partial,
            resume,
        })
    }

    /// The output path.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// The partial file's path.
    pub fn partial(&self) -> &Path {
        &self.partial
    }

    /// The interrupted run's file when resuming, after checking that every
    /// `(key, value)` of `identity` is in its metadata with the same value;
    /// `None` for a fresh start (or a `--resume` that found nothing, with
    /// [`MissingPartial::StartFresh`]: a note is printed).
    ///
    /// # Errors
    /// [`Error::Job`] naming the first key that differs; read errors.
    pub fn load<'a>(
        &self,
        identity: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Option<TensorFile>> {
        if !self.resume {
            return Ok(None);
        }
        if !self.partial.exists() {
            eprintln!(
                "{} not found: starting from the beginning",
                self.partial.display()
            );
            return Ok(None);
        }
        let f = io::read(&self.partial)?;
        same_job(&self.partial, &f.metadata, identity)?;
        Ok(Some(f))
    }

    /// Saves the job's progress to the partial file (atomically, replacing
    /// the previous save).
    ///
    /// # Errors
    /// As [`io::write_atomic`].
    pub fn save(
        &self,
        tensors: &[(&str, &NamedTensor)],
        metadata: &HashMap<String, String>,
    ) -> Result<()> {
        io::write_atomic(&self.partial, tensors, metadata)
    }

    /// Writes the finished output (refusing, overwriting nothing, if `out`
    /// appeared meanwhile) and removes the partial file.
    ///
    /// # Errors
    /// As [`io::write_new_atomic`]; [`Error::Io`] if the partial file cannot
    /// be removed.
    pub fn finish(
        &self,
        tensors: &[(&str, &NamedTensor)],
        metadata: &HashMap<String, String>,
    ) -> Result<()> {
        io::write_new_atomic(&self.out, tensors, metadata)?;
        if self.partial.exists() {
            std::fs::remove_file(&self.partial).map_err(|error| Error::Io {
                path: self.partial.clone(),
                error,
            })?;
        }
        Ok(())
    }
}

/// Checks that the metadata `have` of file `path` agrees with every
/// `(key, value)` of `identity` (the same job, continued or merged).
///
/// # Errors
/// [`Error::Job`] naming the first key that differs or is missing.
pub fn same_job<'a>(
    path: &Path,
    have: &HashMap<String, String>,
    identity: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<()> {
    for (key, want) in identity {
        let got = have.get(key).map(String::as_str);
        if got != Some(want) {
            return Err(Error::Job(format!(
                "{}: {key} = {}, this run has {want}: --resume continues the same job",
                path.display(),
                got.unwrap_or("(missing)")
            )));
        }
    }
    Ok(())
}

/// A 64-bit FNV-1a hash of the values' bits, as 16 hex digits: identifies
/// a model's weights or a dataset independently of its path.
pub fn fingerprint(parts: &[&[f32]]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in parts.iter().flat_map(|p| p.iter()) {
        for b in v.to_bits().to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Progress of a long job: an `indicatif` bar on a terminal; elsewhere (a
/// log file, CI) a line on stderr at most every [`Self::LINE_INTERVAL`] and
/// at the end, or (after [`Self::at_milestones`]) the job's own lines at
/// its milestones; nothing when quiet.
pub struct Progress {
    bar: ProgressBar,
    lines: Option<Lines>,
}

struct Lines {
    what: String,
    unit: &'static str,
    total: u64,
    start: Instant,
    last: Instant,
    pos: u64,
    msg: String,
    /// Lines every interval (false: at the job's milestones only).
    periodic: bool,
}

impl Progress {
    /// Seconds between two progress lines when not on a terminal.
    pub const LINE_INTERVAL: Duration = Duration::from_secs(30);

    /// A display of `total` units (`unit`: "steps", "samples") of job
    /// `what`; `template` is the terminal bar's `indicatif` template.
    pub fn new(what: &str, total: u64, unit: &'static str, template: &str, quiet: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = if quiet || !terminal {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(total)
        };
        bar.set_style(
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let now = Instant::now();
        let lines = (!quiet && !terminal).then(|| Lines {
            what: what.to_string(),
            unit,
            total,
            start: now,
            last: now,
            pos: 0,
            msg: String::new(),
            periodic: true,
        });
        Self { bar, lines }
    }

    /// Without a terminal, no lines every interval: the job prints its own
    /// with [`Self::milestone`] (training: one per epoch).
    pub fn at_milestones(mut self) -> Self {
        if let Some(l) = &mut self.lines {
            l.periodic = false;
        }
        self
    }

    /// Prints a milestone's line on stdout where there is no bar to show
    /// the progress (a log, CI) and not quiet; nothing on a terminal.
    pub fn milestone(&self, line: impl FnOnce() -> String) {
        if self.lines.is_some() {
            println!("{}", line());
        }
    }

    /// Sets the units done (a line is printed if the interval has passed).
    pub fn set_position(&mut self, pos: u64) {
        self.bar.set_position(pos);
        if let Some(l) = &mut self.lines {
            l.pos = pos;
            if l.periodic && l.last.elapsed() >= Self::LINE_INTERVAL {
                l.last = Instant::now();
                eprintln!("{}", l.line());
            }
        }
    }

    /// Sets the text after the counts (rates, the model time, …).
    pub fn set_message(&mut self, msg: String) {
        if let Some(l) = &mut self.lines {
            l.msg.clone_from(&msg);
        }
        self.bar.set_message(msg);
    }

    /// Prints a line above the bar (or as a line without a terminal).
    pub fn println(&self, line: String) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    /// Removes the bar; prints the last progress line without a terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
        if let Some(l) = &self.lines {
            if l.periodic && l.start.elapsed() >= Self::LINE_INTERVAL {
                eprintln!("{}", l.line());
            }
        }
    }
}

impl Lines {
    fn line(&self) -> String {
        let secs = self.start.elapsed().as_secs_f64();
        let pct = 100.0 * self.pos as f64 / self.total.max(1) as f64;
        let mut s = format!(
            "{}: {}/{} {} ({pct:.0} %), {secs:.0} s",
            self.what, self.pos, self.total, self.unit
        );
        if !self.msg.is_empty() {
            s.push_str(", ");
            s.push_str(&self.msg);
        }
        s
    }
}

/// The words of the `diffclosure` command line that runs a job (those
/// after `diffclosure`), written by each job's `command_line`: the flags
/// in the job's fixed order, values as the command line parses them
/// (numbers as Rust displays them: the shortest form that reads back to
/// the same value; paths as [`Path::display`] shows them, which replaces
/// what is not UTF-8).
#[derive(Clone, Debug)]
pub struct CommandLine(Vec<String>);

impl CommandLine {
    /// The command line of `subcommand`.
    pub fn new(subcommand: &str) -> Self {
        Self(vec![subcommand.to_string()])
    }

    /// `flag value`.
    pub fn arg(&mut self, flag: &str, value: impl Display) -> &mut Self {
        self.0.extend([flag.to_string(), value.to_string()]);
        self
    }

    /// `flag value` when `value` is `Some`.
    pub fn opt(&mut self, flag: &str, value: Option<impl Display>) -> &mut Self {
        if let Some(v) = value {
            self.arg(flag, v);
        }
        self
    }

    /// `flag path` when `path` is `Some`.
    pub fn opt_path(&mut self, flag: &str, path: Option<&Path>) -> &mut Self {
        self.opt(flag, path.map(Path::display))
    }

    /// `flag value` when `value` differs from the subcommand's `default`.
    pub fn unless_default<T: Display + PartialEq>(
        &mut self,
        flag: &str,
        value: T,
        default: T,
    ) -> &mut Self {
        if value != default {
            self.arg(flag, value);
        }
        self
    }

    /// `flag` alone when `on`.
    pub fn flag(&mut self, flag: &str, on: bool) -> &mut Self {
        if on {
            self.0.push(flag.to_string());
        }
        self
    }

    /// The flags a long job ends with: `--checkpoint-every` where it
    /// differs from the subcommand's `default`, `--quiet`, `--resume`.
    pub fn progress<T: Display + PartialEq>(
        &mut self,
        checkpoint_every: T,
        default: T,
        quiet: bool,
        resume: bool,
    ) -> &mut Self {
        self.unless_default("--checkpoint-every", checkpoint_every, default)
            .flag("--quiet", quiet)
            .flag("--resume", resume)
    }

    /// Positional arguments.
    pub fn words<T: Display>(&mut self, words: impl IntoIterator<Item = T>) -> &mut Self {
        self.0.extend(words.into_iter().map(|w| w.to_string()));
        self
    }

    /// The words.
    pub fn into_words(self) -> Vec<String> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_path_is_beside_the_output() {
        assert_eq!(
            partial_path(Path::new("/x/s.safetensors")),
            Path::new("/x/s.safetensors.partial")
        );
    }

    #[test]
    fn fingerprint_depends_on_every_bit() {
        let a = fingerprint(&[&[1.0, 2.0]]);
        assert_eq!(a.len(), 16);
        assert_ne!(a, fingerprint(&[&[1.0, 2.000_000_2]]));
        assert_ne!(a, fingerprint(&[&[2.0, 1.0]]));
        // The split into parts does not matter, only the values in order.
        assert_eq!(a, fingerprint(&[&[1.0], &[2.0]]));
    }

    #[test]
    fn same_job_names_the_key_that_differs() {
        let have: HashMap<String, String> = [("seed".to_string(), "1".to_string())]
            .into_iter()
            .collect();
        let p = Path::new("o.partial");
        assert!(same_job(p, &have, [("seed", "1")]).is_ok());
        let e = same_job(p, &have, [("seed", "2")]).unwrap_err().to_string();
        assert!(e.contains("seed = 1, this run has 2"), "{e}");
        let e = same_job(p, &have, [("grid", "64")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("grid = (missing)"), "{e}");
    }

    #[test]
    fn resumable_refuses_leftovers_and_keeps_outputs() {
        let dir = std::env::temp_dir().join(format!("dc-job-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("o.safetensors");
        let partial = partial_path(&out);
        let _ = std::fs::remove_file(&out);
        let _ = std::fs::remove_file(&partial);
        // Nothing to resume: refused or a fresh start, as asked.
        assert!(Resumable::open(&out, &[], true, MissingPartial::Refuse).is_err());
        let job = Resumable::open(&out, &[], true, MissingPartial::StartFresh).unwrap();
        assert!(job.load([]).unwrap().is_none());
        // A partial file blocks a fresh run and is checked on resume.
        let t = NamedTensor {
            shape: vec![2],
            data: vec![1.0, 2.0],
        };
        let meta: HashMap<String, String> = [("seed".to_string(), "7".to_string())]
            .into_iter()
            .collect();
        job.save(&[("x", &t)], &meta).unwrap();
        assert!(Resumable::open(&out, &[], false, MissingPartial::Refuse).is_err());
        let again = Resumable::open(&out, &[], true, MissingPartial::Refuse).unwrap();
        assert!(again.load([("seed", "8")]).is_err());
        let f = again.load([("seed", "7")]).unwrap().unwrap();
        assert_eq!(f.tensors["x"], t);
        // An input may not be the output.
        assert!(Resumable::open(&out, &[&out], false, MissingPartial::Refuse).is_err());
        // Finishing writes the output and removes the partial file; a
        // second job may not overwrite it.
        again.finish(&[("x", &t)], &meta).unwrap();
        assert!(out.exists() && !partial.exists());
        assert!(Resumable::open(&out, &[], false, MissingPartial::Refuse).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
