//! ScoreFno checkpoints as safetensors.
//!
//! Tensor names and shapes are the PyTorch baseline's `state_dict`
//! (`benches/baselines/torch_score_fno.py`; complex weights as `[..., 2]`
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
use crate::sde::{SamplerConfig, VeSde};

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

/// The checkpoint metadata key of the VE-SDE base `s`.
pub const SDE_BASE_KEY: &str = "sde.s";

/// The VE-SDE a checkpoint was trained with: its `sde.s` (checkpoints that
/// predate the key were all trained with the default, 26).
///
/// # Errors
/// [`Error::InvalidArgument`] for a malformed value, or an `s` other than
/// the one the training kernels implement (`shaders/inputs.wgsl` fixes
/// `ln s` for σ(t)): such a model's noise levels are not this build's.
pub fn sde_of(meta: &HashMap<String, String>) -> Result<VeSde> {
    let sde = VeSde::default();
    let Some(v) = meta.get(SDE_BASE_KEY) else {
        return Ok(sde);
    };
    let s: f64 = v.parse().map_err(|_| {
        Error::InvalidArgument(format!(
            "checkpoint metadata {SDE_BASE_KEY} = '{v}' is not a number"
        ))
    })?;
    if s != sde.s {
        return Err(Error::InvalidArgument(format!(
            "the model was trained with the VE-SDE base s = {s}; this build's kernels use s = {}",
            sde.s
        )));
    }
    Ok(sde)
}

/// Refuses a sampler schedule outside the noise range the model was
/// trained on, `t ∈ [train.t_min, train.t_max]` of its metadata: `t_max`
/// above the range (where the network has never seen its input: `sample
/// --t-max 1` with a model trained on t ≤ 0.1 gave errors 10⁴ times the
/// closure), or `t_min` below it (the final step evaluates the score
/// there). Checkpoints without the keys pass. A relative slack of 1e-9
/// lets the training bounds themselves through their decimal round trip.
///
/// # Errors
/// [`Error::InvalidArgument`] naming both ranges and the override.
pub fn check_noise_range(meta: &HashMap<String, String>, cfg: &SamplerConfig) -> Result<()> {
    let get = |k: &str| meta.get(k).and_then(|v| v.parse::<f64>().ok());
    let (lo, hi) = (get("train.t_min"), get("train.t_max"));
    let below = lo.is_some_and(|lo| cfg.steps > 1 && cfg.t_min < lo * (1.0 - 1e-9));
    let above = hi.is_some_and(|hi| cfg.t_max > hi * (1.0 + 1e-9));
    if below || above {
        return Err(Error::InvalidArgument(format!(
            "the sampler runs from t_max = {} to t_min = {}, but the model was trained on t in [{}, {}]: sample inside the trained noise range (or pass --allow-untrained-noise)",
            cfg.t_max,
            cfg.t_min,
            lo.map_or("?".into(), |v| v.to_string()),
            hi.map_or("?".into(), |v| v.to_string()),
        )));
    }
    Ok(())
}

/// Refuses data of another flow than the model was trained on: its
/// `data.preset` against the data's `preset` (the presets differ in domain
/// length, 2π against 1, viscosity and forcing, so a model of one applied
/// to the other's fields gives closures of the wrong scale with no other
/// sign). Files without either key pass.
///
/// # Errors
/// [`Error::InvalidArgument`] naming both presets.
pub fn check_preset(
    model_meta: &HashMap<String, String>,
    data_meta: &HashMap<String, String>,
) -> Result<()> {
    match (model_meta.get("data.preset"), data_meta.get("preset")) {
        (Some(m), Some(d)) if m != d => Err(Error::InvalidArgument(format!(
            "the model was trained on the {m} preset, the data are of the {d} preset (another domain, viscosity and forcing)"
        ))),
        _ => Ok(()),
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
    all.entry(SDE_BASE_KEY.into())
        .or_insert_with(|| VeSde::default().s.to_string());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Checkpoints without `sde.s` are the default SDE; the kernels' own
    /// base passes; another base or garbage is refused.
    #[test]
    fn sde_base_is_checked() {
        assert_eq!(sde_of(&meta(&[])).unwrap(), VeSde::default());
        assert_eq!(sde_of(&meta(&[("sde.s", "26")])).unwrap().s, 26.0);
        let e = sde_of(&meta(&[("sde.s", "25")])).unwrap_err().to_string();
        assert!(e.contains("s = 25"), "{e}");
        assert!(sde_of(&meta(&[("sde.s", "x")])).is_err());
    }

    /// The schedule must lie in [train.t_min, train.t_max]: the bounds
    /// themselves pass (a decimal round trip), just outside either is
    /// refused, a one-step run does not evaluate at t_min, and checkpoints
    /// without the keys pass.
    #[test]
    fn noise_range_is_checked() {
        let m = meta(&[("train.t_min", "0.00001"), ("train.t_max", "0.1")]);
        let cfg = |t_max: f64, t_min: f64, steps: usize| SamplerConfig {
            t_max,
            t_min,
            steps,
            ..Default::default()
        };
        assert!(check_noise_range(&m, &cfg(0.1, 1e-5, 10)).is_ok());
        let e = check_noise_range(&m, &cfg(0.11, 1e-3, 10)).unwrap_err();
        assert!(
            e.to_string().contains("trained on t in [0.00001, 0.1]"),
            "{e}"
        );
        assert!(check_noise_range(&m, &cfg(0.1, 0.9e-5, 10)).is_err());
        assert!(check_noise_range(&m, &cfg(0.1, 0.9e-5, 1)).is_ok());
        assert!(check_noise_range(&meta(&[]), &cfg(5.0, 1e-9, 10)).is_ok());
    }

    /// A model and data of different presets are refused; the same preset,
    /// or either side without one, passes.
    #[test]
    fn presets_must_match() {
        let model = meta(&[("data.preset", "reference")]);
        let e = check_preset(&model, &meta(&[("preset", "seed")])).unwrap_err();
        assert!(e.to_string().contains("reference preset"), "{e}");
        assert!(check_preset(&model, &meta(&[("preset", "reference")])).is_ok());
        assert!(check_preset(&model, &meta(&[])).is_ok());
        assert!(check_preset(&meta(&[]), &meta(&[("preset", "seed")])).is_ok());
    }
}
