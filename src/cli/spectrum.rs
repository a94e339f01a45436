//! `diffclosure spectrum`: arguments → [`SpectrumJob`] → the printed
//! summary.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::cli::GpuArgs;
use crate::gpu::Gpu;
use crate::metrics::spectrum_job::SpectrumJob;

/// Options of `diffclosure spectrum`.
#[derive(Args, Debug)]
pub struct SpectrumArgs {
    /// A file written by `simulate`.
    #[arg(long)]
    input: PathBuf,
    /// Only snapshots at or after this time.
    #[arg(long, default_value_t = 0.0)]
    from: f64,
    /// Write the spectra and statistics as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Plot the time-averaged energy and enstrophy spectra E(k), Z(k) here
    /// (one PNG, log–log, k in units of 2π/L, shells 1 ..= √2·n/3, the
    /// corner of the dealiased square), with the 2/3 dealiasing cutoff n/3
    /// and a k⁻³ reference line marked.
    #[arg(long)]
    png: Option<PathBuf>,
    /// Draw the vorticity of the file's last snapshot (first trajectory)
    /// here as a PNG heatmap (blue < 0 < red, limits ±max|ω|, y up).
    #[arg(long)]
    heatmap: Option<PathBuf>,
}

/// The job these arguments describe.
pub(super) fn job(a: &SpectrumArgs) -> SpectrumJob {
    SpectrumJob {
        input: a.input.clone(),
        from: a.from,
        json: a.json.clone(),
        png: a.png.clone(),
        heatmap: a.heatmap.clone(),
    }
}

/// Runs `diffclosure spectrum`.
///
/// # Errors
/// An existing, unwritable or duplicate output (before anything else), an
/// unreadable or malformed input, no snapshot after `--from`.
pub fn run(gpu_args: &GpuArgs, a: &SpectrumArgs) -> Result<()> {
    super::require_inputs([("--input", a.input.as_path())])?;
    let job = job(a);
    job.plan()?;
    let gpu = Gpu::new(&gpu_args.options()?)?;
    let s = job.run(&gpu)?;
    println!("{}", job.describe(&s));
    Ok(())
}
