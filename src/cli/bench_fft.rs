//! `diffclosure bench fft`: throughput of our batched 2-D FFT
//! (`shaders/fft.wgsl`, [`Fft2d`] with the adapter's default strategy), as
//! round trips recorded back to back in one submission, the way the solver
//! and the network use it: r2c + c2r (real fields and their half spectra)
//! and c2c forward + inverse (in place). `cargo bench --bench fft` times
//! the same kernels with criterion, beside rustfft/realfft.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use serde::Serialize;

use super::bench::{
    bench_option_fields, check_timing, grid_cases, median_seconds, synthetic, Bench, Table,
};
use crate::fft::{Fft2d, Strategy, Transform, MAX_LEN};
use crate::gpu::{DType, Gpu, Tensor};

/// Round trips recorded per submission (one timed call).
const ROUND_TRIPS_PER_CALL: usize = 16;

/// Smallest grid measured: real transforms need a width of at least 4.
const MIN_GRID: usize = 4;

/// Options of `diffclosure bench fft`.
#[derive(Args, Debug)]
pub struct FftBenchArgs {
    /// Grid points per side; with --batch, measures only this case.
    #[arg(long, requires = "batch")]
    grid: Option<usize>,
    /// Fields transformed together (with --grid).
    #[arg(long, requires = "grid")]
    batch: Option<usize>,
    /// Seconds per repeat (the call count is chosen to fill it).
    #[arg(long, default_value_t = 0.5)]
    seconds: f64,
    /// Repeats per case; the median is reported.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
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

/// Results of `bench fft`.
#[derive(Serialize, Debug)]
pub(super) struct FftSection {
    /// Stage organisation in use ([`crate::fft::Strategy`]).
    strategy: String,
    fft: Vec<FftResult>,
}

/// Tensors of one case: a real field, its half spectrum, a complex field.
struct Buffers {
    plan: Fft2d,
    real: Tensor,
    half: Tensor,
    complex: Tensor,
}

impl Buffers {
    fn new(gpu: &Gpu, n: usize, b: usize) -> Result<Self> {
        let values = synthetic(7, 2 * b * n * n);
        Ok(Self {
            plan: Fft2d::new(gpu, b, n, n)?,
            real: Tensor::from_f32(gpu, &[b, n, n], DType::F32, &values[..b * n * n])?,
            half: Tensor::zeros(gpu, &[b, n, n / 2 + 1], DType::C32)?,
            complex: Tensor::from_f32(gpu, &[b, n, n], DType::C32, &values)?,
        })
    }

    /// Records and submits [`ROUND_TRIPS_PER_CALL`] round trips.
    fn call(&self, gpu: &Gpu, real: bool) -> Result<()> {
        let mut enc = gpu.encoder("bench fft");
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for _ in 0..ROUND_TRIPS_PER_CALL {
                if real {
                    self.plan
                        .record(&mut pass, Transform::R2c, &self.real, &self.half)?;
                    self.plan
                        .record(&mut pass, Transform::C2r, &self.half, &self.real)?;
                } else {
                    let x = &self.complex;
                    self.plan.record(&mut pass, Transform::Forward, x, x)?;
                    self.plan.record(&mut pass, Transform::Inverse, x, x)?;
                }
            }
        }
        gpu.submit(enc);
        Ok(())
    }
}

impl Bench for FftBenchArgs {
    const NAME: &'static str = "fft";
    type Plan = Vec<(usize, usize)>;
    type Output = FftSection;

    fn plan(&self) -> Result<Self::Plan> {
        check_timing(self.seconds, self.repeats)?;
        let cases = grid_cases(self.grid, self.batch, &[(64, 16), (128, 4), (256, 1)]);
        for &(n, b) in &cases {
            // The plan's own bounds (crate::fft: powers of two up to
            // MAX_LEN), with the real transforms' minimum width.
            if !n.is_power_of_two() || !(MIN_GRID..=MAX_LEN).contains(&n) {
                bail!("--grid {n}: must be a power of two in [{MIN_GRID}, {MAX_LEN}]");
            }
            if b == 0 {
                bail!("--batch must be >= 1");
            }
        }
        Ok(cases)
    }

    fn measure(&self, gpu: &Gpu, cases: Self::Plan) -> Result<FftSection> {
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
        for &(n, b) in &cases {
            let bufs = Buffers::new(gpu, n, b)?;
            for (real, transform) in [(true, "r2c+c2r"), (false, "c2c")] {
                let mut call = || bufs.call(gpu, real);
                let (calls, t) = median_seconds(gpu, &mut call, self.seconds, self.repeats)?;
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

    bench_option_fields!();
}
