//! The options of `diffclosure bench`'s sections, checked and converted
//! into [`crate::bench`]'s sections ([`SectionArgs`]): the shared checks,
//! and the `fft` and `ns` sections (the network's are in
//! `bench_net_args`).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use clap::Args;

use crate::bench::fft::{FftBench, CASES as FFT_CASES, MIN_GRID};
use crate::bench::ns::{NsBench, CASES as NS_CASES};
use crate::bench::{Section, Timing};
use crate::fft::MAX_LEN;
use crate::ns::Preset;

/// The options of one section of `diffclosure bench`.
pub(super) trait SectionArgs {
    /// The section they configure.
    type Section: Section;
    /// Checks the options and converts them, without touching the GPU.
    ///
    /// # Errors
    /// Bad options (naming the flag), an unreadable input file.
    fn plan(&self) -> Result<Self::Section>;
    /// `--json`, where the section's own run writes its results.
    fn json(&self) -> Option<&Path>;
}

/// The refusal of a `--seconds` or `--repeats` out of range.
pub(super) fn timing_error() -> anyhow::Error {
    anyhow!("--seconds must be > 0 and --repeats >= 1")
}

/// `--seconds` and `--repeats` as a [`Timing`].
///
/// # Errors
/// [`timing_error`] unless `seconds` > 0 and `repeats` >= 1.
pub(super) fn timing(seconds: f64, repeats: usize) -> Result<Timing> {
    Timing::new(seconds, repeats).map_err(|_| timing_error())
}

/// The cases of a section: the one of `--grid` and `--batch` if given
/// (clap requires both or neither), else the defaults.
fn grid_cases(
    grid: Option<usize>,
    batch: Option<usize>,
    defaults: &[(usize, usize)],
) -> Vec<(usize, usize)> {
    match (grid, batch) {
        (Some(n), Some(b)) => vec![(n, b)],
        _ => defaults.to_vec(),
    }
}

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

impl SectionArgs for FftBenchArgs {
    type Section = FftBench;

    fn plan(&self) -> Result<FftBench> {
        let timing = timing(self.seconds, self.repeats)?;
        let cases = grid_cases(self.grid, self.batch, &FFT_CASES);
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
        Ok(FftBench { cases, timing })
    }

    fn json(&self) -> Option<&Path> {
        self.json.as_deref()
    }
}

/// Options of `diffclosure bench ns`.
#[derive(Args, Debug)]
pub struct NsBenchArgs {
    /// Grid points per side; with --batch, measures only this case.
    #[arg(long, requires = "batch")]
    grid: Option<usize>,
    /// Trajectories stepped together (with --grid).
    #[arg(long, requires = "grid")]
    batch: Option<usize>,
    /// Preset whose physics is stepped.
    #[arg(long, default_value = "seed")]
    preset: String,
    /// Seconds of stepping per repeat (the step count is chosen to fill it).
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Repeats per case; the median is reported.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

impl SectionArgs for NsBenchArgs {
    type Section = NsBench;

    fn plan(&self) -> Result<NsBench> {
        let preset: Preset = self.preset.parse()?;
        let timing = timing(self.seconds, self.repeats)?;
        let cases = grid_cases(self.grid, self.batch, &NS_CASES);
        for &(n, b) in &cases {
            preset.config(n, b, 1).validate()?;
        }
        Ok(NsBench {
            preset,
            cases,
            timing,
        })
    }

    fn json(&self) -> Option<&Path> {
        self.json.as_deref()
    }
}
