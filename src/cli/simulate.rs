//! `diffclosure simulate`: the arguments of the trajectory job
//! ([`crate::ns::trajectory`]) and its summary line.

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{anyhow, Result};
use clap::Args;

use crate::cli::GpuArgs;
use crate::gpu::Gpu;
use crate::ns::restrict::Restriction;
use crate::ns::{Preset, TimeScheme, TrajectoryJob};

/// Options of `diffclosure simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Preset: seed (Kolmogorov flow, default) or reference (the paper's code).
    #[arg(long, default_value = "seed", value_parser = parse_name::<Preset>)]
    preset: Preset,
    /// Grid points per side (power of two); default: the preset's fine grid.
    #[arg(long)]
    grid: Option<usize>,
    /// Number of trajectories (independent initial conditions).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Seed of the initial conditions and the stochastic forcing.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// End time; default: the end of the preset's data window.
    #[arg(long, conflicts_with = "steps")]
    t_end: Option<f64>,
    /// Number of steps instead of --t-end.
    #[arg(long)]
    steps: Option<usize>,
    /// Time of the first snapshot; default: the start of the preset's data
    /// window (0 with --steps or a --t-end before it).
    #[arg(long)]
    t_start: Option<f64>,
    /// Steps between snapshots; default: the preset's (10).
    #[arg(long)]
    snapshot_every: Option<usize>,
    /// Time step; default: the preset's.
    #[arg(long)]
    dt: Option<f64>,
    /// Explicit scheme for advection: heun (2nd order) or euler.
    #[arg(long, default_value = "heun", value_parser = parse_name::<TimeScheme>)]
    scheme: TimeScheme,
    /// Start from this vorticity (safetensors tensor `vorticity`, shape
    /// [n, n], [B, n, n] or [T, B, n, n] — the last snapshot is used)
    /// instead of a Gaussian random field.
    #[arg(long)]
    init: Option<PathBuf>,
    /// Coarse grids to record the restricted vorticity and closure terms on
    /// (`omega_m`, `G_m`, `H_m`, `sgs_m`, each [T, B, m, m]),
    /// comma-separated, e.g. 64,128; default: the preset's coarse grid when
    /// it is below --grid. `--coarse none` records none.
    #[arg(long)]
    coarse: Option<String>,
    /// Fine-to-coarse restriction: spectral (sharp cutoff, default) or
    /// stride (every (n/m)-th point, the reference code's).
    #[arg(long, default_value = "spectral", value_parser = parse_name::<Restriction>)]
    restriction: Restriction,
    /// Do not store the fine vorticity, only the coarse fields and `time`
    /// (a file for coupled runs, a fraction of the size; `spectrum` and
    /// `--init` need the fine field and refuse such a file).
    #[arg(long)]
    no_fine: bool,
    /// Output file (safetensors: `vorticity` [T, B, n, n], `time` [T], and
    /// the coarse fields).
    #[arg(long)]
    out: PathBuf,
    /// Steps between progress saves (`OUT.partial`; also written at the
    /// first snapshot after that many steps).
    #[arg(long, default_value_t = 2000)]
    checkpoint_every: usize,
    /// Continue from `OUT.partial` left by an interrupted run.
    #[arg(long)]
    resume: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// A named value for clap, its error the reason alone: clap already says
/// "invalid value".
fn parse_name<T: FromStr<Err = crate::Error>>(s: &str) -> std::result::Result<T, String> {
    s.parse().map_err(|e| match e {
        crate::Error::InvalidArgument(m) => m,
        other => other.to_string(),
    })
}

/// `--coarse`: a comma-separated list of grids, `none` or empty for none;
/// `None` when not given (the preset's).
fn coarse_grids(arg: Option<&str>) -> Result<Option<Vec<usize>>> {
    match arg.map(str::trim) {
        None => Ok(None),
        Some("none") | Some("") => Ok(Some(Vec::new())),
        Some(list) => list
            .split(',')
            .map(|x| {
                x.trim()
                    .parse::<usize>()
                    .map_err(|_| anyhow!("--coarse '{list}': expected grid sizes like 64,128"))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
    }
}

/// The job these arguments describe.
///
/// # Errors
/// A malformed `--coarse`.
pub(super) fn job(a: &SimulateArgs) -> Result<TrajectoryJob> {
    Ok(TrajectoryJob {
        preset: a.preset,
        grid: a.grid,
        batch: a.batch,
        seed: a.seed,
        steps: a.steps,
        t_end: a.t_end,
        t_start: a.t_start,
        snapshot_every: a.snapshot_every,
        dt: a.dt,
        scheme: a.scheme,
        init: a.init.clone(),
        coarse: coarse_grids(a.coarse.as_deref())?,
        restriction: a.restriction,
        fine: !a.no_fine,
        out: a.out.clone(),
        checkpoint_every: a.checkpoint_every,
        resume: a.resume,
        quiet: a.quiet,
    })
}

/// Runs `diffclosure simulate`.
///
/// # Errors
/// Bad arguments or input files (before any GPU work), an existing output,
/// a CFL number over 1 or a non-finite state (the progress saved so far is
/// kept).
pub fn run(gpu_args: &GpuArgs, a: &SimulateArgs) -> Result<()> {
    super::require_inputs(a.init.iter().map(|p| ("--init", p.as_path())))?;
    let plan = job(a)?.plan()?;
    let gpu = Gpu::new(&gpu_args.options()?)?;
    println!("{}", plan.run(&gpu)?);
    Ok(())
}
