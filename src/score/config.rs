//! The ScoreFno configuration (docs/specification.md §6) and its parameter layout.

use std::collections::HashMap;

use crate::error::{Error, Result};

/// Hyper-parameters of the conditional score network.
///
/// Reference sizes (docs/specification.md §6): width 20, modes 8, 4 layers, time
/// embedding 256, fusion hidden 128; every pipeline on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoreConfig {
    /// Channels of every Fourier layer (`width`).
    pub width: usize,
    /// Kept Fourier modes per axis (`modes ≤ n/2` on every grid it runs on).
    pub modes: usize,
    /// Fourier layers per pipeline (`L`).
    pub layers: usize,
    /// Dimension of the Gaussian Fourier time features (even).
    pub embed_dim: usize,
    /// Hidden size of the final pointwise MLP (`Linear(width, fc_hidden)`).
    pub fc_hidden: usize,
    /// The vorticity pipeline is on (off: an ablation).
    pub vorticity: bool,
    /// The sparse-observation pipeline is on (off: an ablation).
    pub sparse: bool,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        Self {
            width: 20,
            modes: 8,
            layers: 4,
            embed_dim: 256,
            fc_hidden: 128,
            vorticity: true,
            sparse: true,
        }
    }
}

/// One parameter tensor: its PyTorch name (the `state_dict` key of the
/// baseline's module), shape, and whether it is complex (stored as
/// `[..., 2]` real, last axis = (re, im)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamSpec {
    /// `state_dict` key, e.g. `fno_x.spec.0.w_pos`.
    pub name: String,
    /// Shape of the stored real tensor (complex tensors end in 2).
    pub shape: Vec<usize>,
    /// Offset (in f32 elements) in the flat parameter vector, a multiple
    /// of [`ScoreConfig::ALIGN`] so that every tensor can be bound alone.
    pub offset: usize,
    /// Trainable (false: the fixed random time frequencies `t_feat.W`).
    pub trainable: bool,
}

impl ParamSpec {
    /// Number of f32 elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True for an empty tensor (never, for a valid config).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tensor `name` of a layout.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if absent.
    pub fn find<'a>(specs: &'a [ParamSpec], name: &str) -> Result<&'a ParamSpec> {
        specs
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| Error::InvalidArgument(format!("no parameter {name}")))
    }
}

impl ScoreConfig {
    /// Alignment (f32 elements) of each tensor in the flat parameter
    /// vector: 64 × 4 B = 256 B, wgpu's largest
    /// `min_storage_buffer_offset_alignment`.
    pub const ALIGN: usize = 64;

    /// Checks the sizes.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero or absurdly large size or an
    /// odd `embed_dim`.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if self.width == 0 || self.modes == 0 || self.layers == 0 || self.fc_hidden == 0 {
            return bad(format!(
                "score config: width, modes, layers and fc_hidden must be >= 1: {self:?}"
            ));
        }
        let too_big = self.width > 4096
            || self.modes > 512
            || self.layers > 64
            || self.embed_dim > 65536
            || self.fc_hidden > 65536;
        if too_big {
            return bad(format!(
                "score config: width <= 4096, modes <= 512, layers <= 64, embed_dim and fc_hidden <= 65536: {self:?}"
            ));
        }
        if self.embed_dim < 2 || !self.embed_dim.is_multiple_of(2) {
            return bad(format!(
                "score config: embed_dim {} must be even and >= 2",
                self.embed_dim
            ));
        }
        Ok(())
    }

    /// Number of pipelines feeding the fusion network (1 to 3).
    pub fn pipelines(&self) -> usize {
        1 + usize::from(self.vorticity) + usize::from(self.sparse)
    }

    /// Checks that the network can run on an `n × n` grid.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `2·modes > n` (the kept modes would
    /// not exist) or `n` is not a power of two ≥ 4.
    pub fn check_grid(&self, n: usize) -> Result<()> {
        if !n.is_power_of_two() || n < 4 || 2 * self.modes > n {
            return Err(Error::InvalidArgument(format!(
                "grid {n}: the score network with {} modes needs a power-of-two grid n >= {} (n >= 2 modes)",
                self.modes,
                (2 * self.modes).max(4).next_power_of_two()
            )));
        }
        Ok(())
    }

    /// The parameter tensors in their canonical order, with offsets into
    /// the flat parameter vector (the PyTorch baseline's names; a disabled
    /// pipeline's tensors are absent).
    pub fn params(&self) -> Vec<ParamSpec> {
        let (w, m, e, h) = (self.width, self.modes, self.embed_dim, self.fc_hidden);
        let mut out: Vec<ParamSpec> = Vec::new();
        let mut offset = 0;
        let mut push = |name: String, shape: Vec<usize>, trainable: bool| {
            let len: usize = shape.iter().product();
            out.push(ParamSpec {
                name,
                shape,
                offset,
                trainable,
            });
            offset += len.div_ceil(Self::ALIGN) * Self::ALIGN;
        };
        let linear = |push: &mut dyn FnMut(String, Vec<usize>, bool), name: &str, cin, cout| {
            push(format!("{name}.weight"), vec![cout, cin], true);
            push(format!("{name}.bias"), vec![cout], true);
        };
        let conv = |push: &mut dyn FnMut(String, Vec<usize>, bool), name: &str, cin, cout| {
            push(format!("{name}.weight"), vec![cout, cin, 1, 1], true);
            push(format!("{name}.bias"), vec![cout], true);
        };
        let spectral = |push: &mut dyn FnMut(String, Vec<usize>, bool), name: &str| {
            push(format!("{name}.w_pos"), vec![w, w, m, m, 2], true);
            push(format!("{name}.w_neg"), vec![w, w, m, m, 2], true);
        };
        let stack = |push: &mut dyn FnMut(String, Vec<usize>, bool), name: &str| {
            for i in 0..self.layers {
                spectral(push, &format!("{name}.spec.{i}"));
            }
            for i in 0..self.layers {
                conv(push, &format!("{name}.pw.{i}"), w, w);
            }
        };
        push("t_feat.W".into(), vec![e / 2], false);
        linear(&mut push, "t_mlp.0", e, e);
        linear(&mut push, "t_mlp.2", e, w);
        linear(&mut push, "lift_x", 3, w);
        stack(&mut push, "fno_x");
        if self.vorticity {
            linear(&mut push, "lift_w", 3, w);
            stack(&mut push, "fno_w");
        }
        if self.sparse {
            linear(&mut push, "lift_s", 3, w);
            spectral(&mut push, "s_spec_a");
            spectral(&mut push, "s_spec_b");
            stack(&mut push, "fno_s");
        }
        conv(&mut push, "fuse1", self.pipelines() * w, 2 * w);
        conv(&mut push, "fuse2", 2 * w, w);
        conv(&mut push, "fuse3", w, w);
        linear(&mut push, "fc1", w, h);
        linear(&mut push, "fc2", h, 1);
        out
    }

    /// Length of the flat parameter vector (with alignment padding).
    pub fn flat_len(&self) -> usize {
        self.params().last().map_or(0, |p| {
            p.offset + p.len().div_ceil(Self::ALIGN) * Self::ALIGN
        })
    }

    /// The configuration as checkpoint metadata (`score.width`, …).
    pub fn to_metadata(&self) -> HashMap<String, String> {
        [
            ("score.width", self.width.to_string()),
            ("score.modes", self.modes.to_string()),
            ("score.layers", self.layers.to_string()),
            ("score.embed_dim", self.embed_dim.to_string()),
            ("score.fc_hidden", self.fc_hidden.to_string()),
            ("score.vorticity", self.vorticity.to_string()),
            ("score.sparse", self.sparse.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Reads a configuration written by [`ScoreConfig::to_metadata`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the missing or malformed key.
    pub fn from_metadata(meta: &HashMap<String, String>) -> Result<Self> {
        fn get<T: std::str::FromStr>(meta: &HashMap<String, String>, key: &str) -> Result<T> {
            meta.get(key).and_then(|v| v.parse().ok()).ok_or_else(|| {
                Error::InvalidArgument(format!("checkpoint metadata: missing or malformed '{key}'"))
            })
        }
        let c = Self {
            width: get(meta, "score.width")?,
            modes: get(meta, "score.modes")?,
            layers: get(meta, "score.layers")?,
            embed_dim: get(meta, "score.embed_dim")?,
            fc_hidden: get(meta, "score.fc_hidden")?,
            vorticity: get(meta, "score.vorticity")?,
            sparse: get(meta, "score.sparse")?,
        };
        c.validate()?;
        Ok(c)
    }
}
