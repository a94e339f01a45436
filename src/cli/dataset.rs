//! `diffclosure dataset`: train/test closure datasets from `simulate`
//! outputs, split by trajectory.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::data::dataset::{DatasetJob, DatasetSpec, Sensors};

/// Options of `diffclosure dataset`.
#[derive(Args, Debug)]
pub struct DatasetArgs {
    /// Trajectory files written by `simulate --coarse …` (one or more).
    #[arg(long, required = true, num_args = 1..)]
    input: Vec<PathBuf>,
    /// Target closure term: g (ν∆ω + σξ), h (−u·∇ω) or sgs (the LES
    /// sub-grid term ‾u·∇‾ω − ‾(u·∇ω)).
    #[arg(long, default_value = "g")]
    scenario: String,
    /// Coarse grid of the samples (the inputs must hold it).
    #[arg(long, default_value_t = 64)]
    grid: usize,
    /// Sparse sensors SxS, fixed in physical space on the --sensor-grid
    /// points (5x5: the seed's figure; 16x16 on 64²: the reference code's).
    #[arg(long, default_value = "5x5")]
    sensors: String,
    /// Grid whose points hold the sensors (so that finer test sets use the
    /// same sensors); default: --grid.
    #[arg(long)]
    sensor_grid: Option<usize>,
    /// Trajectories (the last ones, over all inputs) for the test set.
    #[arg(long, default_value_t = 1)]
    test_trajectories: usize,
    /// Training set output [default: none, a test set alone: then
    /// --test-trajectories may take every trajectory (the finer test
    /// grids of the resolution study)].
    #[arg(long)]
    out_train: Option<PathBuf>,
    /// Test set output.
    #[arg(long)]
    out_test: PathBuf,
}

/// The job these arguments describe.
///
/// # Errors
/// An unknown scenario or a malformed `--sensors`.
pub(super) fn job(a: &DatasetArgs) -> Result<DatasetJob> {
    let spec = DatasetSpec {
        scenario: a.scenario.parse()?,
        grid: a.grid,
        sensors: Sensors::parse(&a.sensors, a.sensor_grid.unwrap_or(a.grid))?,
        test_trajectories: a.test_trajectories,
        test_only: a.out_train.is_none(),
    };
    Ok(DatasetJob::new(
        a.input.clone(),
        spec,
        a.out_train.clone(),
        a.out_test.clone(),
    ))
}

/// Runs `diffclosure dataset`.
///
/// # Errors
/// Bad arguments or inputs, existing outputs (nothing is written then).
pub fn run(a: &DatasetArgs) -> Result<()> {
    super::require_inputs(a.input.iter().map(|p| ("--input", p.as_path())))?;
    let job = job(a)?;
    let done = job.run()?;
    println!("{}", job.describe(&done));
    Ok(())
}
