//! The options of `diffclosure bench`'s sections that run the score
//! network (`model`, `sampler`, `couple`), checked and converted into
//! [`crate::bench`]'s sections.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use clap::Args;

use super::bench_args::{timing, SectionArgs};
use crate::bench::couple::{configs, CoupleBench};
use crate::bench::model::{ModelBench, ModelCase, Net};
use crate::bench::sampler::SamplerBench;
use crate::ns::Preset;
use crate::score::checkpoint;
use crate::score::spectral_conv::Method;
use crate::score::ScoreConfig;
use crate::sde::SamplerConfig;

/// The network measured (reference sizes by default), random weights.
#[derive(Args, Debug)]
pub struct NetArgs {
    /// Channels of the Fourier layers.
    #[arg(long, default_value_t = 20)]
    width: usize,
    /// Kept modes per axis.
    #[arg(long, default_value_t = 8)]
    modes: usize,
    /// Fourier layers per pipeline.
    #[arg(long, default_value_t = 4)]
    layers: usize,
    /// Time-feature dimension.
    #[arg(long, default_value_t = 256)]
    embed_dim: usize,
    /// Hidden size of the last MLP.
    #[arg(long, default_value_t = 128)]
    fc_hidden: usize,
    /// Sensors per axis (the baseline's 16 × 16).
    #[arg(long, default_value_t = 16)]
    sensors: usize,
}

impl NetArgs {
    /// The network's configuration (vorticity and sparse observations as
    /// inputs), checked.
    fn config(&self) -> Result<ScoreConfig> {
        let cfg = ScoreConfig {
            width: self.width,
            modes: self.modes,
            layers: self.layers,
            embed_dim: self.embed_dim,
            fc_hidden: self.fc_hidden,
            vorticity: true,
            sparse: true,
        };
        cfg.validate()?;
        if self.sensors == 0 {
            bail!("--sensors must be >= 1");
        }
        Ok(cfg)
    }
}

/// The timing and output of the sections that sample closures (`sampler`,
/// `couple`): fewer, longer calls than the others, hence longer repeats.
#[derive(Args, Debug)]
pub struct SampledRunArgs {
    /// Seconds per repeat.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Repeats per case; the median is reported.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Options of `diffclosure bench model`.
#[derive(Args, Debug)]
pub struct ModelBenchArgs {
    #[command(flatten)]
    net: NetArgs,
    /// Only these cases (comma-separated: f64x1, f64x16, f128x4, f256x4,
    /// t64x32); default: all.
    #[arg(long)]
    cases: Option<String>,
    /// Seconds per repeat (the call count is chosen to fill it).
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Repeats per case; the median is reported.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Spectral convolutions: dft, fft, or auto (the faster per case,
    /// timed first; both timings are printed).
    #[arg(long, default_value = "auto")]
    spectral: String,
    /// Also time every dispatch once (timestamp queries) and print where
    /// the time goes, per kernel family.
    #[arg(long)]
    profile: bool,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

impl SectionArgs for ModelBenchArgs {
    type Section = ModelBench;

    fn plan(&self) -> Result<ModelBench> {
        let cfg = self.net.config()?;
        let timing = timing(self.seconds, self.repeats)?;
        let cases: Vec<ModelCase> = match &self.cases {
            None => ModelCase::ALL.to_vec(),
            Some(list) => list
                .split(',')
                .map(|c| {
                    ModelCase::named(c.trim()).ok_or_else(|| anyhow!("unknown case '{c}': expected one of f64x1, f64x16, f128x4, f256x4, t64x32"))
                })
                .collect::<Result<_>>()?,
        };
        for c in &cases {
            cfg.check_grid(c.n)?;
        }
        let spectral: Option<Method> = match self.spectral.trim() {
            "auto" => None,
            m => Some(m.parse()?),
        };
        Ok(ModelBench {
            net: Net::random(cfg, self.net.sensors),
            cases,
            spectral,
            profile: self.profile,
            timing,
        })
    }

    fn json(&self) -> Option<&Path> {
        self.json.as_deref()
    }
}

/// Options of `diffclosure bench sampler`.
#[derive(Args, Debug)]
pub struct SamplerBenchArgs {
    #[command(flatten)]
    net: NetArgs,
    /// Grid points per side.
    #[arg(long, default_value_t = 64)]
    grid: usize,
    /// Batch sizes, comma-separated.
    #[arg(long, default_value = "1,16", value_delimiter = ',')]
    batches: Vec<usize>,
    /// Sampler: em, heun or ode.
    #[arg(long, default_value = "em")]
    sampler: String,
    /// Sampler steps.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Start time of the reverse run.
    #[arg(long, default_value_t = 0.1)]
    t_max: f64,
    /// Spectral convolutions: dft or fft.
    #[arg(long, default_value = "fft")]
    spectral: String,
    #[command(flatten)]
    run: SampledRunArgs,
}

impl SectionArgs for SamplerBenchArgs {
    type Section = SamplerBench;

    fn plan(&self) -> Result<SamplerBench> {
        let cfg = self.net.config()?;
        let sampler = SamplerConfig {
            sampler: self.sampler.parse()?,
            steps: self.steps,
            t_max: self.t_max,
            ..Default::default()
        };
        sampler.times()?;
        cfg.check_grid(self.grid)?;
        let spectral: Method = self.spectral.parse()?;
        let timing = timing(self.run.seconds, self.run.repeats)?;
        if self.batches.is_empty() || self.batches.contains(&0) {
            bail!("--batches: sizes >= 1");
        }
        Ok(SamplerBench {
            net: Net::random(cfg, self.net.sensors),
            grid: self.grid,
            batches: self.batches.clone(),
            sampler,
            spectral,
            timing,
        })
    }

    fn json(&self) -> Option<&Path> {
        self.run.json.as_deref()
    }
}

/// Options of `diffclosure bench couple`.
#[derive(Args, Debug)]
pub struct CoupleBenchArgs {
    #[command(flatten)]
    net: NetArgs,
    /// A trained checkpoint to time instead of the random network of the
    /// --width/--modes/... sizes (its config and weights).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Preset of the truth run (physics, time step, forcing).
    #[arg(long, default_value = "seed")]
    preset: String,
    /// Truth grid.
    #[arg(long, default_value_t = 256)]
    fine: usize,
    /// Coarse grid.
    #[arg(long, default_value_t = 64)]
    grid: usize,
    /// Trajectories advanced together.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Solver steps between closure samples, comma-separated.
    #[arg(long, default_value = "1,5", value_delimiter = ',')]
    every: Vec<usize>,
    /// Sampler steps (Euler–Maruyama from t_max = 0.1), comma-separated.
    #[arg(long, default_value = "10,5", value_delimiter = ',')]
    steps: Vec<usize>,
    #[command(flatten)]
    run: SampledRunArgs,
}

impl SectionArgs for CoupleBenchArgs {
    type Section = CoupleBench;

    fn plan(&self) -> Result<CoupleBench> {
        let preset: Preset = self.preset.parse()?;
        let timing = timing(self.run.seconds, self.run.repeats)?;
        let positive = |v: &[usize]| !v.is_empty() && !v.contains(&0);
        if !positive(&self.every) || !positive(&self.steps) {
            bail!("--every and --steps: values >= 1");
        }
        if self.batch == 0 {
            bail!("--batch must be >= 1");
        }
        let net = match &self.model {
            Some(p) => {
                let ck = checkpoint::load(p)?;
                let sensors = if ck.config.sparse {
                    ck.get(p, "data.sensors")?
                } else {
                    1
                };
                Net {
                    config: ck.config,
                    params: ck.params,
                    sensors,
                }
            }
            None => Net::random(self.net.config()?, self.net.sensors),
        };
        net.config.check_grid(self.grid)?;
        if self.grid < 16 {
            bail!(
                "--grid {}: the dynamic eddy viscosity needs at least 16",
                self.grid
            );
        }
        let (fine, coarse) = configs(preset, self.fine, self.grid, self.batch)?;
        Ok(CoupleBench {
            net,
            preset,
            fine,
            coarse,
            every: self.every.clone(),
            steps: self.steps.clone(),
            timing,
        })
    }

    fn json(&self) -> Option<&Path> {
        self.run.json.as_deref()
    }
}
