//! Batch generation of closure samples: a trained score network, a dataset
//! of conditions (vorticity and sparse observations) resident on the GPU,
//! and a reverse sampler; one command encoder per batch.
//!
//! A job draws `K` samples for each of a list of conditions; item
//! `g = c·K + k` is sample `k` of the job's `c`-th condition. Its noise is
//! fixed by `g` alone ([`Noise`] with the job's item count as stride), so a
//! job cut into batches, shards or resumed pieces gives the same samples.

use crate::data::dataset::Samples;
use crate::error::{Error, Result};
use crate::gpu::{DType, Gpu, Tensor};
use crate::score::glue::{self, GlueParams, GATHER_ROWS};
use crate::score::model::{ScoreFno, Workspace};
use crate::score::spectral_conv::Method;
use crate::score::ScoreConfig;
use crate::sde::{Frames, NetworkScore, Noise, ReverseSampler, SamplerConfig, Start};

/// The score network and a reverse sampler over one workspace: closure
/// samples `[B, n, n]` conditioned on what the caller has put (or records
/// into the same pass) in the workspace's vorticity `w` and observations
/// `s`; the result is left in the workspace's `x`.
pub struct NetworkSampler {
    model: ScoreFno,
    params: Tensor,
    ws: Workspace,
    sampler: ReverseSampler,
}

impl NetworkSampler {
    /// `batch` samples on an `n × n` grid with `sensors × sensors`
    /// observations, the network `config`/`params`, the sampler `cfg`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a grid the network cannot run on
    /// (modes > n/2), an empty batch, a bad schedule; [`Error::Shape`] for
    /// a parameter vector of another length. All before any GPU work.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        gpu: &Gpu,
        config: &ScoreConfig,
        params: &[f32],
        (batch, n, sensors): (usize, usize, usize),
        cfg: SamplerConfig,
        method: Method,
    ) -> Result<Self> {
        config.check_grid(n)?;
        cfg.times()?;
        if batch == 0 {
            return Err(Error::InvalidArgument("batch 0: must be >= 1".into()));
        }
        if params.len() != config.flat_len() {
            return Err(Error::Shape(format!(
                "{} parameters for a config of {}",
                params.len(),
                config.flat_len()
            )));
        }
        let model = ScoreFno::new(config)?;
        let ws = model.workspace(gpu, batch, n, sensors, method)?;
        Ok(Self {
            params: Tensor::from_f32(gpu, &[params.len()], DType::F32, params)?,
            sampler: ReverseSampler::new(gpu, cfg, batch * n * n)?,
            model,
            ws,
        })
    }

    /// The workspace: write `w` and `s`, read `x`.
    pub fn workspace(&self) -> &Workspace {
        &self.ws
    }

    /// The sampler.
    pub fn sampler(&self) -> &ReverseSampler {
        &self.sampler
    }

    /// Records one reverse run from the prior into `pass`.
    ///
    /// # Errors
    /// As [`ReverseSampler::record`].
    pub fn record(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        noise: &Noise,
        frames: Option<&Frames<'_>>,
    ) -> Result<()> {
        let score = NetworkScore {
            model: &self.model,
            params: &self.params,
            ws: &self.ws,
        };
        self.sampler
            .record(gpu, pass, &score, noise, Start::Prior, frames)
    }
}

/// Generates closure samples in batches of a fixed size on one grid.
pub struct Generator {
    gpu: Gpu,
    net: NetworkSampler,
    omega: Tensor,
    obs: Tensor,
    index: Tensor,
    len: usize,
}

impl Generator {
    /// A generator of batches of `batch` samples for the conditions of
    /// `data` with the network `config`/`params` and the sampler `cfg`.
    ///
    /// # Errors
    /// As [`NetworkSampler::new`], and [`Error::InvalidArgument`] for a
    /// dataset over the binding limit. All before any GPU work.
    pub fn new(
        gpu: &Gpu,
        config: &ScoreConfig,
        params: &[f32],
        data: &Samples,
        cfg: SamplerConfig,
        batch: usize,
        method: Method,
    ) -> Result<Self> {
        let n = data.grid;
        let limit = gpu.limits.max_storage_buffer_binding_size as usize;
        if 4 * data.len * n * n > limit {
            return Err(Error::InvalidArgument(format!(
                "the dataset's vorticity is {} MiB, over the adapter's {} MiB storage binding limit",
                (4 * data.len * n * n) >> 20,
                limit >> 20
            )));
        }
        let net = NetworkSampler::new(gpu, config, params, (batch, n, data.sensors), cfg, method)?;
        let f32s = |shape: &[usize], v: &[f32]| Tensor::from_f32(gpu, shape, DType::F32, v);
        Ok(Self {
            gpu: gpu.clone(),
            net,
            omega: f32s(&[data.len, n, n], &data.omega)?,
            obs: f32s(&[data.len, data.sensors, data.sensors], &data.obs)?,
            index: Tensor::zeros(gpu, &[batch], DType::F32)?,
            len: data.len,
        })
    }

    /// Samples per batch.
    pub fn batch(&self) -> usize {
        self.net.ws.batch
    }

    /// Grid side.
    pub fn grid(&self) -> usize {
        self.net.ws.n
    }

    /// The sampler.
    pub fn sampler(&self) -> &ReverseSampler {
        &self.net.sampler
    }

    /// Builds every pipeline a batch uses (by recording one and dropping
    /// it), so that timing starts with the GPU work: drivers compile
    /// shaders when a pipeline is created (seconds on lavapipe).
    ///
    /// # Errors
    /// Kernel build errors.
    pub fn prepare(&self) -> Result<()> {
        let mut enc = self.gpu.encoder("prepare");
        self.record(&mut enc, &Noise::batch(0, 4), None)
    }

    fn record(
        &self,
        enc: &mut wgpu::CommandEncoder,
        noise: &Noise,
        frames: Option<&Frames<'_>>,
    ) -> Result<()> {
        let (ws, gpu) = (&self.net.ws, &self.gpu);
        let (b, n, s) = (ws.batch, ws.n, ws.sensors);
        let mut pass = enc.begin_compute_pass(&Default::default());
        for (src, dst, cols) in [(&self.omega, &ws.w, n * n), (&self.obs, &ws.s, s * s)] {
            let p = GlueParams {
                batch: b as u32,
                cols: cols as u32,
                ..Default::default()
            };
            glue::record(
                gpu,
                &mut pass,
                &GATHER_ROWS,
                &p,
                &[&self.index, src, dst],
                b * cols,
            )?;
        }
        self.net.record(gpu, &mut pass, noise, frames)
    }

    /// Records and runs one batch: slot `b` samples the closure for dataset
    /// sample `conditions[b]` with the noise `noise` assigns to slot `b`;
    /// returns the samples `[len(conditions), n, n]`. Fewer conditions than
    /// the batch leave the other slots repeating the last one (discarded).
    /// With `frames`, snapshots of the trajectory are kept there (slot 0 is
    /// the first condition's sample).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for no condition, more than the batch, or
    /// an index outside the dataset; readback errors.
    pub fn run(
        &self,
        conditions: &[usize],
        noise: &Noise,
        frames: Option<&Frames<'_>>,
    ) -> Result<Vec<f32>> {
        let (b, n) = (self.net.ws.batch, self.net.ws.n);
        let last = match conditions.last() {
            Some(&l) if conditions.len() <= b => l,
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "{} conditions for a batch of {b}",
                    conditions.len()
                )))
            }
        };
        if let Some(&c) = conditions.iter().find(|&&c| c >= self.len) {
            return Err(Error::InvalidArgument(format!(
                "condition {c} outside the dataset's {} samples",
                self.len
            )));
        }
        let idx: Vec<f32> = (0..b)
            .map(|i| f32::from_bits(*conditions.get(i).unwrap_or(&last) as u32))
            .collect();
        self.index.write(&self.gpu, &idx)?;
        let mut enc = self.gpu.encoder("sample batch");
        self.record(&mut enc, noise, frames)?;
        let gpu = &self.gpu;
        gpu.submit(enc);
        let mut x = gpu.read_one(&self.net.ws.x)?;
        x.truncate(conditions.len() * n * n);
        Ok(x)
    }
}
