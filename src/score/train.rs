//! Denoising score matching (docs/specification.md §5) on the GPU: the dataset is
//! uploaded once; every step gathers a shuffled batch on the GPU, draws t
//! and the noise with the GPU RNG, runs forward, loss gradient, backward
//! (micro-batches accumulate) and Adam in one command encoder.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::dataset::Samples;
use crate::error::{Error, Result};
use crate::gpu::{DType, Gpu, Tensor};
use crate::rng::{Distribution, Rng};
use crate::score::adam::Adam;
use crate::score::inputs::{self, GatherRows, GlueParams, DSM_GRAD, DSM_INPUTS};
use crate::score::model::{ScoreFno, Workspace};
use crate::score::spectral_conv::Method;

/// Training hyper-parameters (defaults: the reference code's, docs/specification.md
/// §6, except the batch).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Samples per optimizer step.
    pub batch: usize,
    /// Samples per forward/backward (a divisor of `batch`; the gradients
    /// of the micro-batches add up). `None`: the largest that fits the
    /// adapter's binding limit.
    pub micro_batch: Option<usize>,
    /// Adam's learning rate at epoch 0.
    pub lr: f64,
    /// The learning rate is multiplied by `lr_gamma` every `lr_step` epochs.
    pub lr_step: u64,
    /// See `lr_step`.
    pub lr_gamma: f64,
    /// `t ~ U(t_min, t_max)` (ε and T_train of docs/specification.md §5).
    pub t_min: f64,
    /// See `t_min`.
    pub t_max: f64,
    /// Seed of the batch order and of the GPU random stream.
    pub seed: u64,
    /// How the spectral convolutions are computed (`None`: the faster on
    /// this adapter, [`ScoreFno::fastest_method`]). A resumed run must use
    /// the same, for bit-exact continuation.
    pub spectral: Option<Method>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch: 32,
            micro_batch: None,
            lr: 1e-3,
            lr_step: 200,
            lr_gamma: 0.5,
            t_min: 1e-5,
            t_max: 1.0,
            seed: 0,
            spectral: None,
        }
    }
}

/// Where training stands (saved in checkpoints to resume bit-exactly).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrainState {
    /// Optimizer steps taken.
    pub step: u64,
    /// Current epoch (0-based).
    pub epoch: u64,
    /// Batches of the current epoch already taken.
    pub batch_in_epoch: u64,
    /// Position of the GPU random stream.
    pub rng_counter: u64,
}

/// The training loop's GPU state.
pub struct Trainer {
    gpu: Gpu,
    model: ScoreFno,
    cfg: TrainConfig,
    ws: Workspace,
    params: Tensor,
    grads: Tensor,
    adam: Adam,
    omega: Tensor,
    target: Tensor,
    obs: Tensor,
    len: usize,
    index: Tensor,
    u: Tensor,
    z: Tensor,
    x0: Tensor,
    partial: Tensor,
    chunks: usize,
    rng: Rng,
    state: TrainState,
    order: Vec<u32>,
}

/// The largest divisor of `batch` whose workspace's largest tensor
/// (`[mb, channels, n, n]` f32) fits one storage binding.
fn auto_micro_batch(gpu: &Gpu, batch: usize, channels: usize, n: usize) -> usize {
    let limit = gpu.limits.max_storage_buffer_binding_size as usize;
    let per = channels * n * n * 4;
    (1..=batch)
        .rev()
        .find(|mb| batch.is_multiple_of(*mb) && mb * per <= limit)
        .unwrap_or(1)
}

impl Trainer {
    /// A trainer of `model` from `params` (flat, f32) on `data`; `resume`
    /// restores Adam's moments and step and the loop's position.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a batch larger than the dataset, a
    /// micro-batch that does not divide it, a grid the model cannot run
    /// on, or bad hyper-parameters; all before any GPU work.
    pub fn new(
        gpu: &Gpu,
        model: ScoreFno,
        params: &[f32],
        data: &Samples,
        cfg: TrainConfig,
        resume: Option<(TrainState, u64, &[f32], &[f32])>,
    ) -> Result<Self> {
        let c = model.config().clone();
        let bad = |m: String| Err(Error::InvalidArgument(m));
        c.check_grid(data.grid)?;
        if cfg.batch == 0 || cfg.batch > data.len {
            return bad(format!(
                "batch {} for a dataset of {} samples: must be in 1..={}",
                cfg.batch, data.len, data.len
            ));
        }
        if !(cfg.lr > 0.0 && cfg.lr.is_finite() && cfg.lr_gamma > 0.0 && cfg.lr_step > 0) {
            return bad(format!(
                "learning rate {} (decay {} every {} epochs): must be positive",
                cfg.lr, cfg.lr_gamma, cfg.lr_step
            ));
        }
        // σ(t) = sqrt((26^{2t} − 1)/(2 ln 26)) overflows f32 near t = 13.6.
        if !(0.0 < cfg.t_min && cfg.t_min < cfg.t_max && cfg.t_max <= 10.0) {
            return bad(format!(
                "t range [{}, {}]: need 0 < t_min < t_max <= 10",
                cfg.t_min, cfg.t_max
            ));
        }
        if !cfg.lr_gamma.is_finite() {
            return bad(format!("lr decay {}: must be finite", cfg.lr_gamma));
        }
        // Every tensor is bound whole: the dataset's must fit one binding.
        let limit = gpu.limits.max_storage_buffer_binding_size as usize;
        let bytes = 4 * data.len * data.grid * data.grid;
        if bytes > limit {
            return bad(format!(
                "the dataset's omega/target tensors are {} MiB, over the adapter's {} MiB storage binding limit: train on fewer samples per run ({} at {}²)",
                bytes >> 20,
                limit >> 20,
                limit / (4 * data.grid * data.grid),
                data.grid
            ));
        }
        if params.len() != c.flat_len() {
            return Err(Error::Shape(format!(
                "{} parameters for a config of {}",
                params.len(),
                c.flat_len()
            )));
        }
        let n = data.grid;
        let channels = c.fc_hidden.max(c.pipelines() * c.width).max(2 * c.width);
        let mb = match cfg.micro_batch {
            Some(mb) if mb == 0 || !cfg.batch.is_multiple_of(mb) => {
                return bad(format!(
                    "micro-batch {mb} must divide the batch {}",
                    cfg.batch
                ))
            }
            Some(mb) => mb,
            None => auto_micro_batch(gpu, cfg.batch, channels, n),
        };
        let method = match cfg.spectral {
            Some(m) => m,
            None => model.fastest_method(gpu, mb, n)?,
        };
        let ws = model.workspace(gpu, mb, n, data.sensors, method)?;
        let f32s = |shape: &[usize], v: &[f32]| Tensor::from_f32(gpu, shape, DType::F32, v);
        let p = n * n;
        let chunks = p / p.min(256);
        let first_trainable = model
            .params()
            .iter()
            .find(|s| s.trainable)
            .map_or(0, |s| s.offset);
        let mut adam = Adam::new(gpu, c.flat_len(), first_trainable)?;
        let mut state = TrainState::default();
        if let Some((s, adam_step, m, v)) = resume {
            let per_epoch = (data.len / cfg.batch) as u64;
            if s.batch_in_epoch >= per_epoch {
                return bad(format!(
                    "resume state: batch {} of an epoch of {per_epoch} batches",
                    s.batch_in_epoch
                ));
            }
            adam.exp_avg.write(gpu, m)?;
            adam.exp_avg_sq.write(gpu, v)?;
            adam.step = adam_step;
            state = s;
        }
        let mut trainer = Self {
            params: f32s(&[params.len()], params)?,
            grads: Tensor::zeros(gpu, &[params.len()], DType::F32)?,
            omega: f32s(&[data.len, n, n], &data.omega)?,
            target: f32s(&[data.len, n, n], &data.target)?,
            obs: f32s(&[data.len, data.sensors, data.sensors], &data.obs)?,
            len: data.len,
            index: Tensor::zeros(gpu, &[cfg.batch], DType::F32)?,
            u: Tensor::zeros(gpu, &[cfg.batch], DType::F32)?,
            z: Tensor::zeros(gpu, &[cfg.batch, n, n], DType::F32)?,
            x0: Tensor::zeros(gpu, &[mb, n, n], DType::F32)?,
            partial: Tensor::zeros(gpu, &[cfg.batch * chunks], DType::F32)?,
            chunks,
            rng: Rng::with_counter(cfg.seed, state.rng_counter),
            order: Vec::new(),
            gpu: gpu.clone(),
            model,
            cfg,
            ws,
            adam,
            state,
        };
        trainer.order = trainer.epoch_order(state.epoch);
        Ok(trainer)
    }

    /// Optimizer steps per epoch (the last partial batch is dropped).
    pub fn steps_per_epoch(&self) -> u64 {
        (self.len / self.cfg.batch) as u64
    }

    /// Samples per forward/backward.
    pub fn micro_batch(&self) -> usize {
        self.ws.batch
    }

    /// How the spectral convolutions are computed.
    pub fn method(&self) -> Method {
        self.ws.method()
    }

    /// The learning rate of the current epoch (step decay).
    pub fn lr(&self) -> f64 {
        self.cfg.lr
            * self
                .cfg
                .lr_gamma
                .powf((self.state.epoch / self.cfg.lr_step) as f64)
    }

    /// Where training stands.
    pub fn state(&self) -> TrainState {
        TrainState {
            rng_counter: self.rng.counter(),
            ..self.state
        }
    }

    /// Adam's step count.
    pub fn adam_step(&self) -> u64 {
        self.adam.step
    }

    /// The sample order of `epoch`: a permutation drawn from (seed, epoch)
    /// alone, so that a resumed run replays it.
    fn epoch_order(&self, epoch: u64) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.len as u32).collect();
        let mut rng =
            ChaCha8Rng::seed_from_u64(self.cfg.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        order.shuffle(&mut rng);
        order
    }

    /// One optimizer step on the next batch (one command encoder).
    ///
    /// # Errors
    /// Kernel build errors.
    pub fn step(&mut self) -> Result<()> {
        let b = self.cfg.batch;
        let start = self.state.batch_in_epoch as usize * b;
        let idx: Vec<f32> = self.order[start..start + b]
            .iter()
            .map(|&i| f32::from_bits(i))
            .collect();
        self.index.write(&self.gpu, &idx)?;
        let (gpu, ws, mb) = (&self.gpu, &self.ws, self.ws.batch);
        let n = ws.n;
        let lr = self.lr();
        let mut enc = gpu.encoder("train step");
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            // The whole step's t and noise first: the numbers do not depend
            // on the micro-batch size.
            self.rng
                .record(gpu, &mut pass, Distribution::Uniform, &self.u)?;
            self.rng
                .record(gpu, &mut pass, Distribution::Normal, &self.z)?;
            for j in 0..b / mb {
                let gather = GatherRows {
                    index: &self.index,
                    first: j * mb,
                    rows: mb,
                    cols: n * n,
                };
                gather.record(gpu, &mut pass, &self.target, &self.x0)?;
                gather.record(gpu, &mut pass, &self.omega, &ws.w)?;
                GatherRows {
                    cols: ws.sensors * ws.sensors,
                    ..gather
                }
                .record(gpu, &mut pass, &self.obs, &ws.s)?;
                let p = GlueParams {
                    batch: mb as u32,
                    rows: n as u32,
                    cols: n as u32,
                    t_min: self.cfg.t_min as f32,
                    t_max: self.cfg.t_max as f32,
                    chunk: (n * n / self.chunks) as u32,
                    in_off: (j * mb * self.chunks) as u32,
                    grad_scale: (2.0 / b as f64) as f32,
                    u_off: (j * mb) as u32,
                    z_off: (j * mb * n * n) as u32,
                    ..Default::default()
                };
                inputs::record(
                    gpu,
                    &mut pass,
                    &DSM_INPUTS,
                    &p,
                    &[&self.u, &self.z, &self.x0, &ws.t, &ws.x],
                    mb * n * n,
                )?;
                self.model
                    .record_forward(gpu, &mut pass, &self.params, ws)?;
                inputs::record(
                    gpu,
                    &mut pass,
                    &DSM_GRAD,
                    &p,
                    &[&ws.out, &self.z, &ws.d_out, &self.partial],
                    mb * self.chunks,
                )?;
                self.model
                    .record_backward(gpu, &mut pass, &self.params, ws, &self.grads, j > 0)?;
            }
            self.adam
                .record_step(gpu, &mut pass, &self.params, &self.grads, lr)?;
        }
        gpu.submit(enc);
        self.state.step += 1;
        self.state.batch_in_epoch += 1;
        if self.state.batch_in_epoch >= self.steps_per_epoch() {
            self.state.batch_in_epoch = 0;
            self.state.epoch += 1;
            self.order = self.epoch_order(self.state.epoch);
        }
        Ok(())
    }

    /// The DSM loss of the last step's batch (reads back; call it every few
    /// steps, not every step).
    ///
    /// # Errors
    /// As [`Gpu::read`].
    pub fn loss(&self) -> Result<f64> {
        let p = self.gpu.read_one(&self.partial)?;
        Ok(p.iter().map(|&v| f64::from(v)).sum::<f64>() / self.cfg.batch as f64)
    }

    /// The last step's batch: sample indices, diffusion times `[B]` and
    /// noise `[B, n, n]` (read back; for tests and diagnostics).
    ///
    /// # Errors
    /// As [`Gpu::read`].
    pub fn last_batch(&self) -> Result<(Vec<u32>, Vec<f32>, Vec<f32>)> {
        let r = self.gpu.read(&[&self.index, &self.u, &self.z])?;
        // As dsm_inputs computes it, in f32.
        let (lo, hi) = (self.cfg.t_min as f32, self.cfg.t_max as f32);
        Ok((
            r[0].iter().map(|v| v.to_bits()).collect(),
            r[1].iter().map(|&u| lo + (hi - lo) * u).collect(),
            r[2].clone(),
        ))
    }

    /// The last step's gradient (flat, summed over its micro-batches),
    /// read back.
    ///
    /// # Errors
    /// As [`Gpu::read`].
    pub fn read_grads(&self) -> Result<Vec<f32>> {
        self.gpu.read_one(&self.grads)
    }

    /// The parameters and Adam's moments (flat), read back.
    ///
    /// # Errors
    /// As [`Gpu::read`].
    pub fn read_state(&self) -> Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
        let mut r = self
            .gpu
            .read(&[&self.params, &self.adam.exp_avg, &self.adam.exp_avg_sq])?;
        let v = r.pop().unwrap_or_default();
        let m = r.pop().unwrap_or_default();
        let p = r.pop().unwrap_or_default();
        Ok((p, m, v))
    }
}
