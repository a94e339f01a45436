//! The samples file of a sampling job ([`FORMAT`]), the job's shards and
//! conditions, and [`merge`] of the shards into one file.
//!
//! A samples file holds `samples` `[C, K, n, n]` (K samples of each of C
//! conditions), `condition` `[C]` (the conditions' dataset indices, as
//! f32) and `target` `[C, n, n]` (their true closures), and metadata that
//! identifies the job (every key but [`VOLATILE`]) plus where its inputs
//! lay, which shard it is and how long it took.

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::data::io::{self, NamedTensor, TensorFile};
use crate::error::{Error, Result};
use crate::job_bail;

/// The `format` metadata value of a samples file.
pub const FORMAT: &str = "diffclosure.samples.v1";

/// Metadata of a samples file that does not identify the job: where its
/// inputs lay, which shard it is, and how long it took.
pub const VOLATILE: [&str; 8] = [
    "model",
    "data",
    "batch",
    "shard",
    "first_condition",
    "wall_s",
    "timed_samples",
    "adapter",
];

/// One run's part of a job: piece `index` of `count` contiguous pieces of
/// its conditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This piece, `0 <= index < count`.
    pub index: usize,
    /// Pieces of the job.
    pub count: usize,
}

impl Shard {
    /// The whole job.
    pub const WHOLE: Self = Self { index: 0, count: 1 };

    /// The shard of a `--shard` value: `i/n`, or `slurm` (the piece of
    /// this task of a Slurm array job, from `SLURM_ARRAY_TASK_ID`,
    /// `_MIN`, `_COUNT` and `_STEP`); `None`: the whole job.
    ///
    /// # Errors
    /// [`Error::Job`] for a malformed value, an index outside `0..n`, or
    /// missing or inconsistent Slurm variables.
    pub fn parse(flag: Option<&str>) -> Result<Self> {
        let parse = |s: &str, what: &str| -> Result<usize> {
            s.trim()
                .parse()
                .map_err(|e| Error::Job(format!("{what} '{s}' is not a non-negative integer: {e}")))
        };
        let env = |name: &str| -> Result<usize> {
            let v = std::env::var(name).map_err(|e| {
                Error::Job(format!(
                    "--shard slurm: {name} is not set (not a Slurm array task?): {e}"
                ))
            })?;
            parse(&v, name)
        };
        let (index, count) = match flag {
            None => (0, 1),
            Some("slurm") => {
                let (id, min, count) = (
                    env("SLURM_ARRAY_TASK_ID")?,
                    env("SLURM_ARRAY_TASK_MIN")?,
                    env("SLURM_ARRAY_TASK_COUNT")?,
                );
                let step = std::env::var("SLURM_ARRAY_TASK_STEP")
                    .ok()
                    .map(|v| parse(&v, "SLURM_ARRAY_TASK_STEP"))
                    .transpose()?
                    .unwrap_or(1)
                    .max(1);
                if id < min || (id - min) % step != 0 {
                    job_bail!("SLURM_ARRAY_TASK_ID {id} is not in the array {min}, {min}+{step}, …: use --shard i/n for arrays given as lists");
                }
                ((id - min) / step, count)
            }
            Some(s) => {
                let Some((i, n)) = s.split_once('/') else {
                    job_bail!("--shard '{s}': expected i/n (e.g. 0/4) or slurm");
                };
                (parse(i, "--shard index")?, parse(n, "--shard count")?)
            }
        };
        if count == 0 || index >= count {
            job_bail!("shard {index}/{count}: need 0 <= i < n");
        }
        Ok(Self { index, count })
    }

    /// This shard's output path for the job's `out`: `out` itself for the
    /// whole job; `%i` and `%n` replaced where `out` has them; otherwise
    /// `.shard-I-of-N` before the extension.
    pub fn path(&self, out: &Path) -> PathBuf {
        let (i, n) = (self.index, self.count);
        if n == 1 {
            return out.to_path_buf();
        }
        let s = out.to_string_lossy();
        if s.contains("%i") || s.contains("%n") {
            return PathBuf::from(
                s.replace("%i", &i.to_string())
                    .replace("%n", &n.to_string()),
            );
        }
        let tag = format!("shard-{i}-of-{n}");
        match (out.file_stem(), out.extension()) {
            (Some(stem), Some(ext)) => out.with_file_name(format!(
                "{}.{tag}.{}",
                stem.to_string_lossy(),
                ext.to_string_lossy()
            )),
            _ => PathBuf::from(format!("{s}.{tag}")),
        }
    }

    /// The positions of this shard's conditions among a job's `len`.
    ///
    /// # Errors
    /// [`Error::Job`] when some shard of the job would be empty.
    pub fn range(&self, len: usize) -> Result<Range<usize>> {
        if self.count > len {
            job_bail!(
                "{} shards for {len} conditions: some would be empty",
                self.count
            );
        }
        Ok(self.index * len / self.count..(self.index + 1) * len / self.count)
    }
}

/// A job's conditions: `count` dataset indices evenly spaced over a
/// dataset of `len` samples (`None`: all of them).
///
/// # Errors
/// [`Error::Job`] for 0 conditions or more than the dataset holds.
pub fn conditions(len: usize, count: Option<usize>) -> Result<Vec<usize>> {
    let c = count.unwrap_or(len);
    if c == 0 {
        job_bail!("--conditions 0: must be >= 1");
    }
    if c > len {
        job_bail!("--conditions {c}: the dataset has only {len} samples");
    }
    Ok((0..c).map(|j| j * len / c).collect())
}

/// The tensors of a samples file: `samples` `[C·K·n²]` as `[C, K, n, n]`
/// for the dataset indices `conditions` `[C]`, their closures `target`
/// `[C·n²]` as `[C, n, n]`.
pub(crate) fn tensors(
    (samples, conditions, target): (Vec<f32>, Vec<f32>, Vec<f32>),
    (k, n): (usize, usize),
) -> [(&'static str, NamedTensor); 3] {
    let c = conditions.len();
    [
        (
            "samples",
            NamedTensor {
                shape: vec![c, k, n, n],
                data: samples,
            },
        ),
        (
            "condition",
            NamedTensor {
                shape: vec![c],
                data: conditions,
            },
        ),
        (
            "target",
            NamedTensor {
                shape: vec![c, n, n],
                data: target,
            },
        ),
    ]
}

/// What [`merge`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeSummary {
    /// Shard files merged.
    pub shards: usize,
    /// The job's conditions C.
    pub conditions: usize,
    /// Samples per condition K.
    pub samples_per_condition: usize,
}

/// Metadata value `key` of `f` (read from `path`) parsed as `T`.
fn parsed<T: std::str::FromStr>(f: &TensorFile, path: &Path, key: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    f.meta(path, key)?
        .parse()
        .map_err(|e| Error::Job(format!("{}: metadata {key}: {e}", path.display())))
}

/// Joins the shard files `inputs` (any order) of one sampling job into
/// `out`, after checking that they are of one job (equal metadata but
/// [`VOLATILE`]) and tile its conditions; the wall time and timed samples
/// add up.
///
/// # Errors
/// [`Error::Job`] for files of another format or of different jobs,
/// missing or overlapping shards, an input that is the output; an
/// existing `out`; read errors.
pub fn merge(inputs: &[PathBuf], out: &Path) -> Result<MergeSummary> {
    io::refuse_existing(out)?;
    let mut files = Vec::new();
    for p in inputs {
        if io::same_file(p, out) {
            job_bail!("{} is both an input and the output", p.display());
        }
        let f = io::read(p)?;
        if f.metadata.get("format").map(String::as_str) != Some(FORMAT) {
            job_bail!("{}: not a diffclosure samples file", p.display());
        }
        let first: usize = parsed(&f, p, "first_condition")?;
        files.push((first, p.clone(), f));
    }
    files.sort_by_key(|f| f.0);
    let Some((_, p0, f0)) = files.first() else {
        job_bail!("merge: no shard files given");
    };
    let total: usize = parsed(f0, p0, "conditions")?;
    let mut next = 0;
    let (mut samples, mut cond, mut target) = (Vec::new(), Vec::new(), Vec::new());
    let (mut wall, mut timed) = (0.0, 0usize);
    let mut shape = Vec::new();
    for (first, p, f) in &files {
        for (key, v) in &f0.metadata {
            if VOLATILE.contains(&key.as_str()) {
                continue;
            }
            if f.metadata.get(key) != Some(v) {
                job_bail!(
                    "{} and {} are of different jobs ({key}: {v} vs {})",
                    p0.display(),
                    p.display(),
                    f.metadata.get(key).map_or("(missing)", String::as_str)
                );
            }
        }
        if *first != next {
            job_bail!(
                "the shards do not tile the {total} conditions: {} starts at condition {first}, expected {next} ({})",
                p.display(),
                if *first > next { "a shard is missing" } else { "shards overlap" }
            );
        }
        let s = f.get(p, "samples")?;
        next += s.shape[0];
        shape.clone_from(&s.shape);
        samples.extend_from_slice(&s.data);
        cond.extend_from_slice(&f.get(p, "condition")?.data);
        target.extend_from_slice(&f.get(p, "target")?.data);
        wall += parsed::<f64>(f, p, "wall_s")?;
        timed += parsed::<usize>(f, p, "timed_samples")?;
    }
    if next != total {
        job_bail!("the shards cover {next} of the job's {total} conditions: a shard is missing");
    }
    let mut meta = f0.metadata.clone();
    meta.insert("shard".into(), "0/1".into());
    meta.insert("first_condition".into(), "0".into());
    meta.insert("wall_s".into(), format!("{wall:.3}"));
    meta.insert("timed_samples".into(), timed.to_string());
    let (k, n) = (shape[1], shape[2]);
    let tensors = tensors((samples, cond, target), (k, n));
    let refs: Vec<(&str, &NamedTensor)> = tensors.iter().map(|(k, v)| (*k, v)).collect();
    io::write_new_atomic(out, &refs, &meta)?;
    Ok(MergeSummary {
        shards: files.len(),
        conditions: total,
        samples_per_condition: k,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_paths_and_conditions() {
        let p = Path::new("/x/s.safetensors");
        let shard = |index, count| Shard { index, count };
        assert_eq!(shard(0, 1).path(p), p);
        assert_eq!(
            shard(2, 4).path(p),
            Path::new("/x/s.shard-2-of-4.safetensors")
        );
        assert_eq!(
            shard(1, 3).path(Path::new("o_%i_%n.st")),
            Path::new("o_1_3.st")
        );
        assert_eq!(conditions(10, Some(4)).unwrap(), vec![0, 2, 5, 7]);
        assert_eq!(conditions(3, None).unwrap(), vec![0, 1, 2]);
        assert!(conditions(3, Some(4)).is_err());
        assert!(conditions(3, Some(0)).is_err());
        assert_eq!(Shard::parse(Some("1/4")).unwrap(), shard(1, 4));
        assert_eq!(Shard::parse(None).unwrap(), Shard::WHOLE);
        assert!(Shard::parse(Some("4/4")).is_err());
        assert!(Shard::parse(Some("1")).is_err());
        assert!(Shard::parse(Some("0/0")).is_err());
        assert_eq!(shard(1, 3).range(6).unwrap(), 2..4);
        assert!(shard(0, 7).range(6).is_err());
    }
}
