//! Throughput of our batched 2-D FFT (`shaders/fft.wgsl`, [`Fft2d`]) as
//! round trips recorded back to back in one submission, the way the solver
//! and the network use it: r2c + c2r (real fields and their half spectra)
//! and c2c forward + inverse (in place). `cargo bench --bench fft` times
//! the same [`Buffers`] with criterion, beside rustfft/realfft.

use serde::Serialize;

use super::{median_seconds, synthetic, Section, Table, Timing};
use crate::fft::{Fft2d, FftOptions, Strategy, Transform};
use crate::gpu::{DType, Gpu, Tensor};
use crate::Result;

/// Round trips recorded per submission (one timed call).
pub const ROUND_TRIPS_PER_CALL: usize = 16;

/// Smallest grid measured: real transforms need a width of at least 4.
pub const MIN_GRID: usize = 4;

/// The default cases, (grid, batch).
pub const CASES: [(usize, usize); 3] = [(64, 16), (128, 4), (256, 1)];

/// The FFT section: its cases, (grid, batch) with power-of-two grids of
/// at least [`MIN_GRID`], and their timing.
#[derive(Clone, Debug)]
pub struct FftBench {
    /// (grid points per side, fields transformed together).
    pub cases: Vec<(usize, usize)>,
    /// Per case and transform pair.
    pub timing: Timing,
}

/// One measured case: a grid, a batch, a pair of transforms.
#[derive(Serialize, Debug)]
struct FftResult {
    grid: usize,
    batch: usize,
    /// "r2c+c2r" or "c2c" (forward + inverse).
    transform: &'static str,
    calls_per_repeat: usize,
    /// Batched 2-D transforms per call (two per round trip).
    transforms_per_call: usize,
    /// Median over the repeats: one batched 2-D transform (half a round
    /// trip).
    ms_per_transform: f64,
    transforms_per_s: f64,
    /// Per field of the batch.
    us_per_field: f64,
    fields_per_s: f64,
}

/// Results of the FFT section.
#[derive(Serialize, Debug)]
pub struct FftSection {
    /// Stage organisation in use ([`crate::fft::Strategy`]).
    strategy: String,
    fft: Vec<FftResult>,
}

/// A plan and the tensors of one case: real fields `[B, n, n]` (f32),
/// their half spectra `[B, n, n/2 + 1]` and complex fields `[B, n, n]`
/// (c32), filled with [`synthetic`] values.
pub struct Buffers {
    /// The plan ([`Fft2d`]) of `B` fields of `n × n`.
    pub plan: Fft2d,
    real: Tensor,
    half: Tensor,
    /// The complex fields (c2c transforms run in place on them).
    pub complex: Tensor,
}

impl Buffers {
    /// The buffers of `b` fields of `n × n`, the plan with `strategy`
    /// (`None`: the adapter's default).
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] for sizes the plan refuses;
    /// allocation errors.
    pub fn new(gpu: &Gpu, n: usize, b: usize, strategy: Option<Strategy>) -> Result<Self> {
        let values = synthetic(7, 2 * b * n * n);
        let options = FftOptions {
            strategy,
            ..Default::default()
        };
        Ok(Self {
            plan: Fft2d::with_options(gpu, b, n, n, options)?,
            real: Tensor::from_f32(gpu, &[b, n, n], DType::F32, &values[..b * n * n])?,
            half: Tensor::zeros(gpu, &[b, n, n / 2 + 1], DType::C32)?,
            complex: Tensor::from_f32(gpu, &[b, n, n], DType::C32, &values)?,
        })
    }

    /// Records transform `t` into an open pass: r2c from the real fields
    /// into the half spectra, c2r back, c2c in place on the complex fields.
    ///
    /// # Errors
    /// [`crate::Error::Shader`] if a pipeline fails to build.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>, t: Transform) -> Result<()> {
        match t {
            Transform::R2c => self.plan.record(pass, t, &self.real, &self.half),
            Transform::C2r => self.plan.record(pass, t, &self.half, &self.real),
            _ => self.plan.record(pass, t, &self.complex, &self.complex),
        }
    }

    /// Records and submits [`ROUND_TRIPS_PER_CALL`] round trips: r2c + c2r
    /// if `real`, else c2c forward + inverse.
    ///
    /// # Errors
    /// As [`Buffers::record`].
    pub fn call(&self, gpu: &Gpu, real: bool) -> Result<()> {
        let pair = if real {
            [Transform::R2c, Transform::C2r]
        } else {
            [Transform::Forward, Transform::Inverse]
        };
        let mut enc = gpu.encoder("bench fft");
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for _ in 0..ROUND_TRIPS_PER_CALL {
                for t in pair {
                    self.record(&mut pass, t)?;
                }
            }
        }
        gpu.submit(enc);
        Ok(())
    }
}

impl Section for FftBench {
    const NAME: &'static str = "fft";
    type Output = FftSection;

    fn measure(&self, gpu: &Gpu) -> Result<FftSection> {
        let strategy = format!("{:?}", Strategy::for_adapter(gpu)).to_lowercase();
        println!("strategy {strategy}, {ROUND_TRIPS_PER_CALL} round trips recorded per submission");
        let table = Table::new(&[
            ("grid", 6),
            ("batch", 6),
            ("transform", 9),
            ("ms/transform", 13),
            ("transforms/s", 13),
            ("µs/field", 10),
        ]);
        let mut fft = Vec::new();
        for &(n, b) in &self.cases {
            let bufs = Buffers::new(gpu, n, b, None)?;
            for (real, transform) in [(true, "r2c+c2r"), (false, "c2c")] {
                let mut call = || bufs.call(gpu, real);
                let (calls, t) = median_seconds(gpu, &mut call, self.timing)?;
                let per_call = 2 * ROUND_TRIPS_PER_CALL;
                let s = t / per_call as f64;
                let r = FftResult {
                    grid: n,
                    batch: b,
                    transform,
                    calls_per_repeat: calls,
                    transforms_per_call: per_call,
                    ms_per_transform: 1e3 * s,
                    transforms_per_s: 1.0 / s,
                    us_per_field: 1e6 * s / b as f64,
                    fields_per_s: b as f64 / s,
                };
                table.row(&[
                    format!("{n}²"),
                    b.to_string(),
                    transform.to_string(),
                    format!("{:.3}", r.ms_per_transform),
                    format!("{:.1}", r.transforms_per_s),
                    format!("{:.1}", r.us_per_field),
                ]);
                fft.push(r);
            }
        }
        Ok(FftSection { strategy, fft })
    }

    fn timing_mut(&mut self) -> &mut Timing {
        &mut self.timing
    }
}
