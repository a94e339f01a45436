//! `diffclosure dataset`: train/test closure datasets from `simulate`
//! outputs, split by trajectory.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use crate::data::dataset::{build, write, DatasetSpec, Scenario, Sensors};
use crate::data::io;

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

/// Runs `diffclosure dataset`.
///
/// # Errors
/// Bad arguments or inputs, existing outputs (nothing is written then).
pub fn run(a: &DatasetArgs) -> Result<()> {
    let scenario: Scenario = a.scenario.parse()?;
    let sensors = Sensors::parse(&a.sensors, a.sensor_grid.unwrap_or(a.grid))?;
    let outputs: Vec<&PathBuf> = a.out_train.iter().chain([&a.out_test]).collect();
    for out in &outputs {
        io::refuse_existing(out)?;
    }
    if a.out_train
        .as_ref()
        .is_some_and(|t| io::same_file(t, &a.out_test))
    {
        bail!("--out-train and --out-test must differ");
    }
    for input in &a.input {
        if outputs.iter().any(|o| io::same_file(input, o)) {
            bail!("{} is both an input and an output", input.display());
        }
    }
    for out in &outputs {
        io::check_writable(out)?;
    }
    let spec = DatasetSpec {
        scenario,
        grid: a.grid,
        sensors,
        test_trajectories: a.test_trajectories,
        test_only: a.out_train.is_none(),
    };
    let (train, test, meta) = build(&a.input, &spec)?;
    let length: f64 = meta
        .get("length")
        .and_then(|s| s.parse().ok())
        .unwrap_or(std::f64::consts::TAU);
    write(
        (a.out_train.as_deref(), &a.out_test),
        (&train, &test),
        &spec,
        length,
        &meta,
    )?;
    let train_part = match &a.out_train {
        Some(p) => format!(
            "{} ({} samples, trajectories {:?}) and ",
            p.display(),
            train.len(),
            train.trajectories
        ),
        None => String::new(),
    };
    println!(
        "wrote {train_part}{} ({} samples, trajectories {:?}): scenario {scenario}, {}x{} grid, {s}x{s} sensors",
        a.out_test.display(),
        test.len(),
        test.trajectories,
        a.grid,
        a.grid,
        s = spec.sensors.per_axis
    );
    Ok(())
}
