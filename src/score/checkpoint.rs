//! ScoreFno checkpoints as safetensors.
//!
//! Tensor names and shapes are the PyTorch baseline's `state_dict`
//! (`../shared/baselines/torch_score_fno.py`; complex weights as `[..., 2]`
//! real, the last axis (re, im)), so a checkpoint loads into NumPy or
//! PyTorch by name. Training state rides along: Adam's moments as
//! `optimizer.exp_avg.<name>` / `optimizer.exp_avg_sq.<name>`, the step,
//! epoch, RNG position etc. in the metadata (`train.*`), the configuration
//! as `score.*` (see [`ScoreConfig::to_metadata`]).

use std::collections::HashMap;
use std::path::Path;

use crate::data::io::{self, NamedTensor};
use crate::error::{Error, Result};
use crate::score::config::ScoreConfig;

/// The `format` metadata value of a checkpoint.
pub const FORMAT: &str = "diffclosure.score.v1";

/// A loaded checkpoint.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// The network's configuration.
    pub config: ScoreConfig,
    /// Flat parameter vector (layout of [`ScoreConfig::params`]).
    pub params: Vec<f32>,
    /// Adam's moments (flat, same layout), when saved.
    pub optimizer: Option<(Vec<f32>, Vec<f32>)>,
    /// All metadata.
    pub meta: HashMap<String, String>,
}

impl Checkpoint {
    /// Metadata value `key` parsed as `T`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the key when absent or malformed.
    pub fn get<T: std::str::FromStr>(&self, path: &Path, key: &str) -> Result<T> {
        self.meta
            .get(key)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "{}: metadata '{key}' is missing or malformed",
                    path.display()
                ))
            })
    }
}

/// Writes a checkpoint atomically (temporary file, then rename: an
/// interrupted save leaves the previous file intact).
///
/// # Errors
/// [`Error::Shape`] for vectors of another length than the config's;
/// [`Error::Io`].
pub fn save(
    path: &Path,
    config: &ScoreConfig,
    params: &[f32],
    optimizer: Option<(&[f32], &[f32])>,
    meta: &HashMap<String, String>,
) -> Result<()> {
    let specs = config.params();
    let len = config.flat_len();
    let lens_ok =
        params.len() == len && optimizer.is_none_or(|(m, v)| m.len() == len && v.len() == len);
    if !lens_ok {
        return Err(Error::Shape(format!(
            "checkpoint of {} parameters, the config has {len}",
            params.len()
        )));
    }
    let mut named: Vec<(String, NamedTensor)> = Vec::new();
    let take = |flat: &[f32], s: &crate::score::ParamSpec| NamedTensor {
        shape: s.shape.clone(),
        data: flat[s.offset..s.offset + s.len()].to_vec(),
    };
    for s in &specs {
        named.push((s.name.clone(), take(params, s)));
        if let Some((m, v)) = optimizer {
            if s.trainable {
                named.push((format!("optimizer.exp_avg.{}", s.name), take(m, s)));
                named.push((format!("optimizer.exp_avg_sq.{}", s.name), take(v, s)));
            }
        }
    }
    let mut all = meta.clone();
    all.extend(config.to_metadata());
    all.insert("format".into(), FORMAT.into());
    let refs: Vec<(&str, &NamedTensor)> = named.iter().map(|(k, v)| (k.as_str(), v)).collect();
    io::write_atomic(path, &refs, &all)
}

/// Reads and checks a checkpoint: the format, the configuration, and every
/// tensor's presence and shape.
///
/// # Errors
/// [`Error::Io`] if unreadable; [`Error::InvalidArgument`] for a file that
/// is not a checkpoint (truncated, another format, a missing or misshapen
/// tensor, non-finite parameters), naming what is wrong.
pub fn load(path: &Path) -> Result<Checkpoint> {
    let f = io::read(path)?;
    let bad = |what: String| Error::InvalidArgument(format!("{}: {what}", path.display()));
    match f.metadata.get("format").map(String::as_str) {
        Some(FORMAT) => {}
        other => {
            return Err(bad(format!(
                "not a diffclosure score checkpoint (metadata format = {}, expected {FORMAT}; write one with `diffclosure train`)",
                other.unwrap_or("none")
            )))
        }
    }
    let config = ScoreConfig::from_metadata(&f.metadata).map_err(|e| bad(e.to_string()))?;
    let specs = config.params();
    let len = config.flat_len();
    let mut params = vec![0.0; len];
    let mut m = vec![0.0; len];
    let mut v = vec![0.0; len];
    let has_optimizer = f.tensors.keys().any(|k| k.starts_with("optimizer."));
    for s in &specs {
        let fill = |name: &str, flat: &mut [f32]| -> Result<()> {
            let t = f.get(path, name)?;
            if t.shape != s.shape {
                return Err(bad(format!(
                    "tensor '{name}' has shape {:?}, the config needs {:?}",
                    t.shape, s.shape
                )));
            }
            if let Some(i) = t.data.iter().position(|x| !x.is_finite()) {
                return Err(bad(format!(
                    "tensor '{name}' has a non-finite value at {i}"
                )));
            }
            flat[s.offset..s.offset + s.len()].copy_from_slice(&t.data);
            Ok(())
        };
        fill(&s.name, &mut params)?;
        if has_optimizer && s.trainable {
            fill(&format!("optimizer.exp_avg.{}", s.name), &mut m)?;
            fill(&format!("optimizer.exp_avg_sq.{}", s.name), &mut v)?;
        }
    }
    let known = specs.len() * if has_optimizer { 3 } else { 1 }
        - if has_optimizer {
            2 * specs.iter().filter(|s| !s.trainable).count()
        } else {
            0
        };
    if f.tensors.len() != known {
        let mut extra: Vec<&str> = f
            .tensors
            .keys()
            .map(String::as_str)
            .filter(|k| {
                let base = k
                    .strip_prefix("optimizer.exp_avg_sq.")
                    .or_else(|| k.strip_prefix("optimizer.exp_avg."))
                    .unwrap_or(k);
                !specs.iter().any(|s| s.name == base)
            })
            .collect();
        extra.sort_unstable();
        return Err(bad(format!(
            "tensors the config does not have: {} (another configuration?)",
            extra.join(", ")
        )));
    }
    Ok(Checkpoint {
        config,
        params,
        optimizer: has_optimizer.then_some((m, v)),
        meta: f.metadata,
    })
}
