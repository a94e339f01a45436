//! Online coupled simulation (docs/specification.md §3, §7): the coarse
//! Navier–Stokes model with its closure term supplied by the score
//! network, sampled on the GPU from the solver's current vorticity; the
//! coupled-run job and its file format in [`job`].
//!
//! [`LearnedClosure::record`] chains, in one command encoder and with no
//! host round trip: the inverse FFT of the solver's vorticity spectrum into
//! the network's conditioning field, the sparse observations of the
//! current output frame (gathered from a tensor uploaded once), a whole
//! reverse-SDE run, and the FFT of the sample into the solver's external
//! closure term [`NsSolver::closure_hat`], which the solver adds at every
//! step until the next sample (hold).

pub mod job;
pub mod run;

pub use job::{ClosureKind, CoupledJob, CoupledPlan, CoupledSummary, ResidentMemory, FORMAT};
pub use run::{coarse_config, Closure, CoupledRun};

use crate::error::{Error, Result};
use crate::fft::{Fft2d, Transform};
use crate::gpu::{DType, Gpu, Tensor};
use crate::ns::NsSolver;
use crate::score::inputs::GatherRows;
use crate::score::linear::{Act, Epilogue, Linear};
use crate::score::spectral_conv::Method;
use crate::score::ScoreConfig;
use crate::sde::generate::NetworkSampler;
use crate::sde::{Noise, SamplerConfig};

/// The deterministic closure mean: `K` samples per trajectory averaged.
/// The network runs on `B·K` rows; two pointwise linear maps over the
/// rows (the FNO's own 1×1 kernel, on `[1, rows, n²]` views) replicate the
/// solver's vorticity into them and average the samples back.
struct Mean {
    k: usize,
    /// The solver's batch `[B, n, n]`: its vorticity, then the mean.
    field: Tensor,
    /// `[replicate (B·K × B), 0 (B·K), average (B × B·K), 0 (B)]`.
    weights: Tensor,
    replicate: Linear,
    average: Linear,
    fft: Fft2d,
}

impl Mean {
    /// Records `to = W from` over the rows of `[rows, n, n]` fields (viewed
    /// as one sample of `rows` channels at n² points).
    fn record_map(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass<'_>,
        map: &Linear,
        (from, from_rows): (&Tensor, usize),
        (to, to_rows): (&Tensor, usize),
    ) -> Result<()> {
        let points = from.len() / from_rows;
        let (x, y) = (
            from.reshaped(&[1, from_rows, points])?,
            to.reshaped(&[1, to_rows, points])?,
        );
        map.record_forward(
            gpu,
            pass,
            &self.weights,
            Act::all(&x),
            Act::all(&y),
            Epilogue::default(),
        )
    }
}

/// The score network as the closure of a batch of coarse trajectories.
pub struct LearnedClosure {
    gpu: Gpu,
    net: NetworkSampler,
    fft: Fft2d,
    mean: Option<Mean>,
    /// The perturbed copy of the held sample `[B, n, n]` (made when first
    /// needed).
    perturbed: Option<Tensor>,
    /// Observations of every frame `[frames, B, S, S]` and the identity
    /// row index `[frames · B]` that gathers one frame.
    obs: Option<(Tensor, Tensor, usize)>,
    seed: u64,
    draws: u64,
}

impl LearnedClosure {
    /// A closure for `batch` trajectories on an `n × n` grid with
    /// `sensors × sensors` observations (zeros until
    /// [`LearnedClosure::set_observations`]), sampled by `cfg` with noise
    /// from `seed`.
    ///
    /// # Errors
    /// As [`NetworkSampler::new`]; FFT plan errors.
    pub fn new(
        gpu: &Gpu,
        (config, params): (&ScoreConfig, &[f32]),
        (batch, n, sensors): (usize, usize, usize),
        cfg: SamplerConfig,
        method: Method,
        seed: u64,
    ) -> Result<Self> {
        Self::mean_of(
            gpu,
            (config, params),
            (batch, n, sensors),
            cfg,
            method,
            seed,
            1,
        )
    }

    /// As [`LearnedClosure::new`], the closure being the mean of `k`
    /// samples per trajectory (`k = 1`: one sample; the deterministic
    /// closure mean as `k` grows).
    ///
    /// # Errors
    /// As [`LearnedClosure::new`]; [`Error::InvalidArgument`] for `k = 0`.
    pub fn mean_of(
        gpu: &Gpu,
        (config, params): (&ScoreConfig, &[f32]),
        (batch, n, sensors): (usize, usize, usize),
        cfg: SamplerConfig,
        method: Method,
        seed: u64,
        k: usize,
    ) -> Result<Self> {
        if k == 0 {
            return Err(Error::InvalidArgument(
                "the closure mean needs >= 1 sample".into(),
            ));
        }
        let rows = batch * k;
        let net = NetworkSampler::new(gpu, config, params, (rows, n, sensors), cfg, method)?;
        let mean = if k > 1 {
            let mut w = vec![0f32; 2 * rows * batch + rows + batch];
            let avg = rows * batch + rows;
            for r in 0..rows {
                w[r * batch + r / k] = 1.0;
                w[avg + (r / k) * rows + r] = 1.0 / k as f32;
            }
            Some(Mean {
                k,
                field: Tensor::zeros(gpu, &[batch, n, n], DType::F32)?,
                weights: Tensor::from_f32(gpu, &[w.len()], DType::F32, &w)?,
                replicate: Linear {
                    cin: batch,
                    cout: rows,
                    w_off: 0,
                    b_off: rows * batch,
                },
                average: Linear {
                    cin: rows,
                    cout: batch,
                    w_off: avg,
                    b_off: avg + rows * batch,
                },
                fft: Fft2d::new(gpu, batch, n, n)?,
            })
        } else {
            None
        };
        Ok(Self {
            gpu: gpu.clone(),
            fft: Fft2d::new(gpu, rows, n, n)?,
            net,
            mean,
            perturbed: None,
            obs: None,
            seed,
            draws: 0,
        })
    }

    /// [`Error::Shape`] unless `solver` has this closure's batch and grid.
    fn check_solver(&self, solver: &NsSolver) -> Result<()> {
        let (b, n) = (self.batch(), self.net.workspace().n);
        let c = solver.config();
        if c.batch != b || c.n != n {
            return Err(Error::Shape(format!(
                "closure for {b} trajectories on {n}², solver with {} on {}²",
                c.batch, c.n
            )));
        }
        Ok(())
    }

    /// The solver's batch (the network's rows over the samples averaged).
    fn batch(&self) -> usize {
        self.net.workspace().batch / self.mean.as_ref().map_or(1, |m| m.k)
    }

    /// Uploads the observations of the whole run, `[frames, B, S, S]`
    /// (frame `f` conditions the samples drawn while the run is in output
    /// interval `f`).
    ///
    /// # Errors
    /// [`Error::Shape`] for a length that is not `frames · B · S²` or
    /// `frames = 0`; [`Error::InvalidArgument`] for non-finite values.
    pub fn set_observations(&mut self, obs: &[f32], frames: usize) -> Result<()> {
        let (b, s) = (self.batch(), self.net.workspace().sensors);
        if frames == 0 || obs.len() != frames * b * s * s {
            return Err(Error::Shape(format!(
                "{} observation values for {frames} frames of {b} x {s}x{s}",
                obs.len()
            )));
        }
        if obs.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(
                "the observations hold a non-finite value".into(),
            ));
        }
        // Each trajectory's observations repeated for its samples.
        let k = self.mean.as_ref().map_or(1, |m| m.k);
        let rows: Vec<f32> = obs
            .chunks_exact(s * s)
            .flat_map(|r| std::iter::repeat_n(r, k).flatten().copied())
            .collect();
        let index: Vec<f32> = (0..(frames * b * k) as u32).map(f32::from_bits).collect();
        self.obs = Some((
            Tensor::from_f32(&self.gpu, &[frames * b * k, s, s], DType::F32, &rows)?,
            Tensor::from_f32(&self.gpu, &[frames * b * k], DType::F32, &index)?,
            frames,
        ));
        Ok(())
    }

    /// Samples drawn so far (the position in the noise stream; save it
    /// to resume a run bit for bit).
    pub fn draws(&self) -> u64 {
        self.draws
    }

    /// Continues the noise stream after `draws` samples.
    pub fn set_draws(&mut self, draws: u64) {
        self.draws = draws;
    }

    /// Restores the held sample `[B·K, n, n]` (a resumed run: the
    /// perturbation between samples starts from it).
    ///
    /// # Errors
    /// [`Error::Shape`] for a wrong length or non-finite values.
    pub fn set_sample(&self, sample: &[f32]) -> Result<()> {
        let x = &self.net.workspace().x;
        if sample.len() != x.floats() || sample.iter().any(|v| !v.is_finite()) {
            return Err(Error::Shape(format!(
                "held sample: {} values, expected {} finite",
                sample.len(),
                x.floats()
            )));
        }
        x.write(&self.gpu, sample)
    }

    /// The last sample, physical `[B·K, n, n]` (on the GPU; rows
    /// `j·K .. j·K + K` are trajectory `j`'s, `K` = 1 but for a mean).
    pub fn sample(&self) -> &Tensor {
        &self.net.workspace().x
    }

    /// Records the held sample plus fresh white noise of standard deviation
    /// `amplitude` (in the closure term's units) as the solver's closure
    /// term, for solver step `step` (the noise depends only on it and the
    /// seed, so a resumed run draws the same): the small random
    /// perturbation between samples. Not for the closure mean.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a closure mean; [`Error::Shape`] as
    /// [`LearnedClosure::record`]; kernel errors.
    pub fn record_perturbed(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        solver: &NsSolver,
        step: u64,
        amplitude: f64,
    ) -> Result<()> {
        if self.mean.is_some() {
            return Err(Error::InvalidArgument(
                "the closure mean is deterministic: no perturbation".into(),
            ));
        }
        self.check_solver(solver)?;
        let ws = self.net.workspace();
        let (b, n) = (ws.batch, ws.n);
        let perturbed = match &self.perturbed {
            Some(t) => t,
            None => self
                .perturbed
                .insert(Tensor::zeros(&self.gpu, &[b, n, n], DType::F32)?),
        };
        let stride = (b * n * n).div_ceil(4) as u64;
        // A stream of its own: the seed's golden-ratio offset.
        let noise = Noise {
            seed: self.seed ^ 0x9E37_79B9_7F4A_7C15,
            stride,
            offset: step * stride,
        };
        let mut pass = encoder.begin_compute_pass(&Default::default());
        self.net
            .sampler()
            .record_perturbed(&self.gpu, &mut pass, &ws.x, perturbed, &noise, amplitude)?;
        self.fft
            .record(&mut pass, Transform::R2c, perturbed, solver.closure_hat())
    }

    /// Records one closure sample for the current state of `solver` into
    /// `encoder`, conditioned on observation frame `frame`, and sets it as
    /// the solver's closure term.
    ///
    /// # Errors
    /// [`Error::Shape`] if the solver's batch or grid differ from this
    /// closure's; [`Error::InvalidArgument`] for a frame beyond the
    /// observations; kernel build errors.
    pub fn record(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        solver: &NsSolver,
        frame: usize,
    ) -> Result<()> {
        self.check_solver(solver)?;
        let ws = self.net.workspace();
        let (b, rows, n, s) = (self.batch(), ws.batch, ws.n, ws.sensors);
        let gpu = &self.gpu;
        let mut pass = encoder.begin_compute_pass(&Default::default());
        match &self.mean {
            None => self
                .fft
                .record(&mut pass, Transform::C2r, solver.vorticity_hat(), &ws.w)?,
            Some(m) => {
                m.fft
                    .record(&mut pass, Transform::C2r, solver.vorticity_hat(), &m.field)?;
                m.record_map(gpu, &mut pass, &m.replicate, (&m.field, b), (&ws.w, rows))?;
            }
        }
        if let Some((obs, index, frames)) = &self.obs {
            if frame >= *frames {
                return Err(Error::InvalidArgument(format!(
                    "observation frame {frame} of {frames}"
                )));
            }
            let gather = GatherRows {
                index,
                first: frame * rows,
                rows,
                cols: s * s,
            };
            gather.record(gpu, &mut pass, obs, &ws.s)?;
        }
        let steps = self.net.sampler().config().steps as u64;
        let stride = (rows * n * n).div_ceil(4) as u64;
        let noise = Noise {
            seed: self.seed,
            stride,
            offset: self.draws * (steps + 1) * stride,
        };
        self.net.record(gpu, &mut pass, &noise, None)?;
        match &self.mean {
            None => self
                .fft
                .record(&mut pass, Transform::R2c, &ws.x, solver.closure_hat())?,
            Some(m) => {
                m.record_map(gpu, &mut pass, &m.average, (&ws.x, rows), (&m.field, b))?;
                m.fft
                    .record(&mut pass, Transform::R2c, &m.field, solver.closure_hat())?;
            }
        }
        self.draws += 1;
        Ok(())
    }
}
