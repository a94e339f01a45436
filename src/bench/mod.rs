//! Benchmark workloads and their measurement, shared by `diffclosure
//! bench` and the criterion benches of `benches/`.
//!
//! Each section is a [`Section`]: a plain configuration (cases, network,
//! [`Timing`]) whose [`Section::measure`] times its cases on one open
//! adapter, prints a [`Table`] row as each case finishes, and returns a
//! serializable result. The sections: [`fft`] (batched 2-D FFT round
//! trips), [`ns`] (solver steps), [`model`] (score-network forward and
//! training step), [`sampler`] (closure samples), [`couple`] (wall time per
//! simulated second of coupled runs). [`All`] measures every one in one
//! process and [`write_document`] writes a result as the JSON document
//! `diffclosure bench … --json` writes.
//!
//! The workloads themselves ([`ns::solver`], [`model::Forward`],
//! [`model::trainer`], [`sampler::Batch`], [`fft::Buffers`]) are public so
//! that criterion times the very same GPU work with its own statistics.
//! Sections take checked options: the command line checks its flags
//! before any GPU work and names them in its errors.

pub mod couple;
mod document;
pub mod fft;
pub mod model;
pub mod ns;
pub mod sampler;

use std::time::Instant;

use serde::Serialize;

pub use document::{iso_utc, write_document, All, AllResults};

use crate::data::dataset::Samples;
use crate::gpu::{Gpu, GpuCounts};
use crate::{Error, Result};

/// How long a case is timed: repeats of `seconds` each (the call count is
/// chosen to fill one), of which the median is reported.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    seconds: f64,
    repeats: usize,
}

impl Timing {
    /// `bench all --quick`: one repeat of 0.25 s.
    pub const QUICK: Timing = Timing {
        seconds: 0.25,
        repeats: 1,
    };

    /// `repeats` repeats of `seconds` (wall seconds) each.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `seconds` > 0 (finite) and
    /// `repeats` >= 1: a median needs one repeat at least.
    pub fn new(seconds: f64, repeats: usize) -> Result<Self> {
        if !(seconds.is_finite() && seconds > 0.0) || repeats == 0 {
            return Err(Error::InvalidArgument(format!(
                "timing: {seconds} s per repeat and {repeats} repeats: need seconds > 0 and repeats >= 1"
            )));
        }
        Ok(Self { seconds, repeats })
    }

    /// Wall seconds per repeat.
    pub fn seconds(&self) -> f64 {
        self.seconds
    }

    /// Repeats per case.
    pub fn repeats(&self) -> usize {
        self.repeats
    }
}

/// One section of the benchmarks: checked options, measured on one
/// adapter.
pub trait Section {
    /// The section's name (`diffclosure bench NAME`), and its key in the
    /// documents of [`All`].
    const NAME: &'static str;
    /// The section's results (a JSON object).
    type Output: Serialize;
    /// Measures every case on `gpu`, printing a table row as each finishes.
    ///
    /// # Errors
    /// A failing kernel or device; options the workloads refuse.
    fn measure(&self, gpu: &Gpu) -> Result<Self::Output>;
    /// The timing of every case, for [`All`] to override.
    fn timing_mut(&mut self) -> &mut Timing;
    /// `bench all --quick`: [`Timing::QUICK`] (and less of what a section
    /// may do twice).
    fn quicken(&mut self) {
        *self.timing_mut() = Timing::QUICK;
    }
}

/// Seconds per call of `call` (which records and submits GPU work): one
/// warm-up call, one call to size the repeats, then `timing`'s repeats of as
/// many calls as fill its seconds, each timed to the GPU's completion.
/// Returns (calls per repeat, the median repeat's seconds per call).
///
/// # Errors
/// The first error of `call` or of waiting for the GPU.
pub fn median_seconds(
    gpu: &Gpu,
    call: &mut dyn FnMut() -> Result<()>,
    timing: Timing,
) -> Result<(usize, f64)> {
    let mut timed = |calls: usize| -> Result<f64> {
        let t = Instant::now();
        for _ in 0..calls {
            call()?;
        }
        gpu.wait()?;
        Ok(t.elapsed().as_secs_f64())
    };
    timed(1)?;
    let per = timed(1)?;
    let calls = ((timing.seconds / per.max(1e-6)).round() as usize).clamp(1, 10_000);
    let times: Vec<f64> = (0..timing.repeats)
        .map(|_| timed(calls).map(|s| s / calls as f64))
        .collect::<Result<_>>()?;
    Ok((calls, median(times).1))
}

/// What one `call` records (dispatches, bind groups, parameter buffers)
/// and the host milliseconds it takes to record and submit, the median of
/// 5 calls each waited for after the clock stopped.
///
/// # Errors
/// As `call`; a lost device.
pub fn host_cost(gpu: &Gpu, call: &mut dyn FnMut() -> Result<()>) -> Result<(GpuCounts, f64)> {
    let mut times = Vec::new();
    let mut counts = GpuCounts::default();
    for _ in 0..5 {
        let before = gpu.counts();
        let t = Instant::now();
        call()?;
        times.push(1e3 * t.elapsed().as_secs_f64());
        counts = gpu.counts().since(before);
        gpu.wait()?;
    }
    Ok((counts, median(times).1))
}

/// (smallest, median, largest) of a non-empty list (the upper median of an
/// even count).
pub(crate) fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

/// `len` deterministic values in [-1, 1) (a hash of the index and `seed`,
/// no RNG): inputs whose values do not matter to the time, only that they
/// are finite and O(1).
pub fn synthetic(seed: u64, len: usize) -> Vec<f32> {
    (0..len as u64)
        .map(|i| {
            let mut z = (i ^ (seed << 40)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            z ^= z >> 31;
            z = z.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z ^= z >> 29;
            ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// A dataset of `len` [`synthetic`] samples on an `n × n` grid with
/// `sensors × sensors` observations (vorticity and target `[len, n, n]`,
/// observations `[len, S, S]`), for the training step and the sampler.
pub fn synthetic_samples(n: usize, sensors: usize, len: usize) -> Samples {
    Samples {
        grid: n,
        sensors,
        len,
        omega: synthetic(1, len * n * n),
        target: synthetic(2, len * n * n),
        obs: synthetic(3, len * sensors * sensors),
        meta: Default::default(),
    }
}

/// A text table printed row by row as cases finish: `(header, width)`
/// columns, right-aligned, left-aligned for a negative width.
pub struct Table(Vec<isize>);

impl Table {
    /// Prints the header line.
    pub fn new(columns: &[(&str, isize)]) -> Self {
        let t = Table(columns.iter().map(|c| c.1).collect());
        t.row(&columns.iter().map(|c| c.0.to_string()).collect::<Vec<_>>());
        t
    }

    /// Prints one row (one cell per column).
    pub fn row(&self, cells: &[String]) {
        let line: Vec<String> = cells
            .iter()
            .zip(&self.0)
            .map(|(c, &w)| {
                if w < 0 {
                    format!("{c:<0$}", w.unsigned_abs())
                } else {
                    format!("{c:>0$}", w.unsigned_abs())
                }
            })
            .collect();
        println!("{}", line.join(" "));
    }
}
