//! Online coupled simulation (science.md §3, §7): the coarse Navier–Stokes
//! model with its closure term supplied by the score network, sampled on
//! the GPU from the solver's current vorticity.
//!
//! [`LearnedClosure::record`] chains, in one command encoder and with no
//! host round trip: the inverse FFT of the solver's vorticity spectrum into
//! the network's conditioning field, the sparse observations of the
//! current output frame (gathered from a tensor uploaded once), a whole
//! reverse-SDE run, and the FFT of the sample into the solver's external
//! closure term [`NsSolver::closure_hat`], which the solver adds at every
//! step until the next sample (hold).

pub mod run;

pub use run::{coarse_config, Closure, CoupledRun};

use crate::error::{Error, Result};
use crate::fft::{Fft2d, Transform};
use crate::gpu::{DType, Gpu, Tensor};
use crate::ns::NsSolver;
use crate::score::glue::{self, GlueParams, GATHER_ROWS};
use crate::score::spectral_conv::Method;
use crate::score::ScoreConfig;
use crate::sde::generate::NetworkSampler;
use crate::sde::{Noise, SamplerConfig};

/// The score network as the closure of a batch of coarse trajectories.
pub struct LearnedClosure {
    gpu: Gpu,
    net: NetworkSampler,
    fft: Fft2d,
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
        let net = NetworkSampler::new(gpu, config, params, (batch, n, sensors), cfg, method)?;
        Ok(Self {
            gpu: gpu.clone(),
            fft: Fft2d::new(gpu, batch, n, n)?,
            net,
            obs: None,
            seed,
            draws: 0,
        })
    }

    /// Uploads the observations of the whole run, `[frames, B, S, S]`
    /// (frame `f` conditions the samples drawn while the run is in output
    /// interval `f`).
    ///
    /// # Errors
    /// [`Error::Shape`] for a length that is not `frames · B · S²` or
    /// `frames = 0`; [`Error::InvalidArgument`] for non-finite values.
    pub fn set_observations(&mut self, obs: &[f32], frames: usize) -> Result<()> {
        let ws = self.net.workspace();
        let (b, s) = (ws.batch, ws.sensors);
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
        let index: Vec<f32> = (0..(frames * b) as u32).map(f32::from_bits).collect();
        self.obs = Some((
            Tensor::from_f32(&self.gpu, &[frames * b, s, s], DType::F32, obs)?,
            Tensor::from_f32(&self.gpu, &[frames * b], DType::F32, &index)?,
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

    /// The last sample, physical `[B, n, n]` (on the GPU).
    pub fn sample(&self) -> &Tensor {
        &self.net.workspace().x
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
        let ws = self.net.workspace();
        let (b, n, s) = (ws.batch, ws.n, ws.sensors);
        let c = solver.config();
        if c.batch != b || c.n != n {
            return Err(Error::Shape(format!(
                "closure for {b} trajectories on {n}², solver with {} on {}²",
                c.batch, c.n
            )));
        }
        let gpu = &self.gpu;
        let mut pass = encoder.begin_compute_pass(&Default::default());
        self.fft
            .record(&mut pass, Transform::C2r, solver.vorticity_hat(), &ws.w)?;
        if let Some((obs, index, frames)) = &self.obs {
            if frame >= *frames {
                return Err(Error::InvalidArgument(format!(
                    "observation frame {frame} of {frames}"
                )));
            }
            let p = GlueParams {
                batch: b as u32,
                cols: (s * s) as u32,
                in_off: (frame * b) as u32,
                ..Default::default()
            };
            glue::record(
                gpu,
                &mut pass,
                &GATHER_ROWS,
                &p,
                &[index, obs, &ws.s],
                b * s * s,
            )?;
        }
        let steps = self.net.sampler().config().steps as u64;
        let stride = (b * n * n).div_ceil(4) as u64;
        let noise = Noise {
            seed: self.seed,
            stride,
            offset: self.draws * (steps + 1) * stride,
        };
        self.net.record(gpu, &mut pass, &noise, None)?;
        self.fft
            .record(&mut pass, Transform::R2c, &ws.x, solver.closure_hat())?;
        self.draws += 1;
        Ok(())
    }
}
