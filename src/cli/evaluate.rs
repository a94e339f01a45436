//! `diffclosure evaluate`: the offline report of `sample` outputs
//! ([`crate::metrics::offline`]) or, with `--online`, the a posteriori
//! report of `couple` runs ([`crate::metrics::online`]); the report's
//! table is printed.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::cli::GpuArgs;
use crate::demo::StageJob;
use crate::gpu::Gpu;
use crate::metrics::{offline, online};

/// Options of `diffclosure evaluate`.
#[derive(Args, Debug)]
pub struct EvaluateArgs {
    /// Samples files written by `sample` (or `merge`): one table row each.
    #[arg(required = true, num_args = 1..)]
    samples: Vec<PathBuf>,
    /// Directory for report.md, report.json and the figures (created; an
    /// existing report there is never overwritten).
    #[arg(long)]
    out: PathBuf,
    /// Heading of the report.
    #[arg(long, default_value = offline::DEFAULT_TITLE)]
    title: String,
    /// Row labels, comma-separated, in the order of the files [default:
    /// model, conditioning, grid, sampler].
    #[arg(long, value_delimiter = ',')]
    labels: Vec<String>,
    /// The files are `couple` runs: a posteriori errors over time against
    /// the restricted truth instead of the offline metrics.
    #[arg(long)]
    online: bool,
    /// With --online: the elapsed times (from the runs' start) of the
    /// table's D_RE columns and of the spectrum and PDF figures,
    /// comma-separated [default: the table at a quarter, half, three
    /// quarters and the end of the span, the figures at half and the end].
    #[arg(long, value_delimiter = ',', requires = "online")]
    at: Vec<f64>,
}

/// The online report's configuration these arguments describe (the
/// offline default title becomes the online one).
fn online_config(a: &EvaluateArgs) -> online::OnlineConfig {
    online::OnlineConfig {
        runs: a.samples.clone(),
        out: a.out.clone(),
        title: if a.title == offline::DEFAULT_TITLE {
            online::DEFAULT_TITLE.into()
        } else {
            a.title.clone()
        },
        labels: a.labels.clone(),
        at: a.at.clone(),
    }
}

/// The offline report's configuration these arguments describe.
fn offline_config(a: &EvaluateArgs) -> offline::OfflineConfig {
    offline::OfflineConfig {
        samples: a.samples.clone(),
        out: a.out.clone(),
        title: a.title.clone(),
        labels: a.labels.clone(),
    }
}

/// The report these arguments describe.
pub(super) fn job(a: &EvaluateArgs) -> StageJob {
    if a.online {
        StageJob::Online(online_config(a))
    } else {
        StageJob::Offline(offline_config(a))
    }
}

/// Runs `diffclosure evaluate`: every input and output is checked before
/// the GPU is opened and the output folder created.
///
/// # Errors
/// Unreadable or foreign files, an existing report, I/O errors.
pub fn run(gpu_args: &GpuArgs, a: &EvaluateArgs) -> Result<()> {
    let kind = if a.online {
        "evaluate --online"
    } else {
        "evaluate"
    };
    super::require_inputs(a.samples.iter().map(|p| (kind, p.as_path())))?;
    if a.online {
        let config = online_config(a);
        config.validate()?;
        println!(
            "{}",
            online::run(&Gpu::new(&gpu_args.options()?)?, &config)?
        );
    } else {
        let config = offline_config(a);
        config.validate()?;
        println!(
            "{}",
            offline::run(&Gpu::new(&gpu_args.options()?)?, &config)?
        );
    }
    Ok(())
}
