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
use crate::score::inputs::GatherRows;
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

/// The vorticity `[rows, n, n]` and observations `[rows, s, s]` buffers of
/// a window of `rows` dataset rows.
fn window_tensors(gpu: &Gpu, data: &Samples, rows: usize) -> Result<(Tensor, Tensor)> {
    let (n, s) = (data.grid, data.sensors);
    Ok((
        Tensor::zeros(gpu, &[rows, n, n], DType::F32)?,
        Tensor::zeros(gpu, &[rows, s, s], DType::F32)?,
    ))
}

/// Generates closure samples in batches of a fixed size on one grid.
///
/// The dataset's conditions live on the GPU in a window of as many rows as
/// one storage binding holds (all of them when they fit): a batch whose
/// conditions fall outside it moves the window there first. A 256² test set
/// of 2002 snapshots (524 MiB of vorticity) thus runs on lavapipe's
/// 128 MiB bindings in windows of 512 rows, with the same samples.
pub struct Generator<'a> {
    gpu: Gpu,
    net: NetworkSampler,
    data: &'a Samples,
    /// `[window, n, n]` vorticity and `[window, s, s]` observations of
    /// dataset rows `first .. first + window`.
    omega: Tensor,
    obs: Tensor,
    index: Tensor,
    window: usize,
    first: std::cell::Cell<usize>,
}

impl<'a> Generator<'a> {
    /// A generator of batches of `batch` samples for the conditions of
    /// `data` with the network `config`/`params` and the sampler `cfg`.
    ///
    /// # Errors
    /// As [`NetworkSampler::new`], and [`Error::InvalidArgument`] for a
    /// batch of conditions over the binding limit. All before any GPU work.
    pub fn new(
        gpu: &Gpu,
        config: &ScoreConfig,
        params: &[f32],
        data: &'a Samples,
        cfg: SamplerConfig,
        batch: usize,
        method: Method,
    ) -> Result<Self> {
        let n = data.grid;
        let limit = gpu.limits.max_storage_buffer_binding_size as usize;
        let rows = (limit / (4 * n * n)).min(data.len);
        if rows < batch.min(data.len) {
            return Err(Error::InvalidArgument(format!(
                "a batch of {batch} conditions on {n}x{n} is over the adapter's {} MiB storage binding limit: use a batch of at most {rows}",
                limit >> 20
            )));
        }
        let net = NetworkSampler::new(gpu, config, params, (batch, n, data.sensors), cfg, method)?;
        let (omega, obs) = window_tensors(gpu, data, rows)?;
        let g = Self {
            gpu: gpu.clone(),
            net,
            data,
            omega,
            obs,
            index: Tensor::zeros(gpu, &[batch], DType::F32)?,
            window: rows,
            first: std::cell::Cell::new(0),
        };
        g.load_window(0)?;
        Ok(g)
    }

    /// The same generator with at most `rows` dataset rows on the GPU at a
    /// time (fewer than the binding limit allows: how the window's moves
    /// are tested on any adapter).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for fewer rows than the batch or more
    /// than the current window; allocation errors.
    pub fn with_window(mut self, rows: usize) -> Result<Self> {
        if rows < self.batch().min(self.data.len) || rows > self.window {
            return Err(Error::InvalidArgument(format!(
                "a window of {rows} rows for batches of {} (at most {})",
                self.batch(),
                self.window
            )));
        }
        (self.omega, self.obs) = window_tensors(&self.gpu, self.data, rows)?;
        self.window = rows;
        self.load_window(0)?;
        Ok(self)
    }

    /// Uploads dataset rows `first .. first + window`.
    fn load_window(&self, first: usize) -> Result<()> {
        let (n, s, w) = (self.data.grid, self.data.sensors, self.window);
        self.omega.write(
            &self.gpu,
            &self.data.omega[first * n * n..(first + w) * n * n],
        )?;
        self.obs.write(
            &self.gpu,
            &self.data.obs[first * s * s..(first + w) * s * s],
        )?;
        self.first.set(first);
        Ok(())
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
            let gather = GatherRows {
                index: &self.index,
                first: 0,
                rows: b,
                cols,
            };
            gather.record(gpu, &mut pass, src, dst)?;
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
        let len = self.data.len;
        if let Some(&c) = conditions.iter().find(|&&c| c >= len) {
            return Err(Error::InvalidArgument(format!(
                "condition {c} outside the dataset's {len} samples"
            )));
        }
        // Move the window when the batch's conditions leave it.
        let (lo, hi) = conditions
            .iter()
            .fold((usize::MAX, 0), |(lo, hi), &c| (lo.min(c), hi.max(c)));
        if hi - lo >= self.window {
            return Err(Error::InvalidArgument(format!(
                "the batch's conditions span {} dataset rows, more than the {} that fit one storage binding: use a smaller batch",
                hi - lo + 1,
                self.window
            )));
        }
        let first = self.first.get();
        if lo < first || hi >= first + self.window {
            self.load_window(lo.min(len - self.window))?;
        }
        let first = self.first.get();
        let idx: Vec<f32> = (0..b)
            .map(|i| f32::from_bits((*conditions.get(i).unwrap_or(&last) - first) as u32))
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
