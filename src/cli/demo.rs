//! `diffclosure demo`: the whole pipeline in one command
//! ([`crate::demo`]): its stages' jobs run on one GPU, each printed as the
//! command line that runs it, which must parse back to that job.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::GpuArgs;
use crate::demo::{shell_words, DemoConfig};
use crate::gpu::Gpu;

/// Options of `diffclosure demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// small: a 128² truth, a 64² model trained for a few minutes, fits in
    /// about 10 minutes on 2 CPU cores with lavapipe; paper: the paper's
    /// code's setting (the reference preset at 256², stride restriction,
    /// t ∈ [30, 40] every 10 steps, 8 + 2 trajectories = 8008 / 2002
    /// samples, 16 × 16 sensors, the reference network, 1000 epochs of
    /// batch 200, test grids 64/128/256, online 20 s from t = 30), for a
    /// GPU; seed-large: the seed preset at that size.
    #[arg(long, default_value = "small")]
    preset: String,
    /// Stop training at the first epoch end after this many minutes (a cap
    /// for a short GPU lease): the run goes on with the weights so far,
    /// the report says how far training got, and running the demo again
    /// continues the training (and redoes the later stages).
    #[arg(long)]
    train_minutes: Option<f64>,
    /// Closure scenario: g (ν∆ω + σξ), h (−u·∇ω) or sgs (LES sub-grid term).
    #[arg(long, default_value = "g")]
    scenario: String,
    /// Directory for every file of the run and the report (created; what
    /// is already there from an earlier run is reused, not redone).
    #[arg(long, default_value = "demo")]
    out: PathBuf,
    /// Skip simulation and training: use the shipped G model and test
    /// truth of --assets (small preset, scenario g only).
    #[arg(long)]
    pretrained: bool,
    /// Directory of the shipped files [default: $DIFFCLOSURE_ASSETS, else
    /// the first that holds them of `assets/` in the current directory,
    /// beside the executable, in the source tree of a `target/release/`
    /// executable, in the source tree it was built from].
    #[arg(long)]
    assets: Option<PathBuf>,
    /// Print the stage commands and exit.
    #[arg(long)]
    plan: bool,
}

/// The arguments of the global adapter flags the user gave, for every
/// stage's printed command line.
fn gpu_flags(gpu: &GpuArgs) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(b) = gpu.backend.as_ref().filter(|b| !b.trim().is_empty()) {
        v.extend(["--backend".to_string(), b.clone()]);
    }
    if let Some(x) = gpu.adapter.as_ref().filter(|x| !x.trim().is_empty()) {
        v.extend(["--adapter".to_string(), x.clone()]);
    }
    v
}

/// Runs `diffclosure demo`.
///
/// # Errors
/// Bad options or missing shipped files (before any GPU work), a stage
/// whose command line is not the job it runs (a bug); the first stage
/// that fails (its message, and how to continue).
pub fn run(gpu: &GpuArgs, a: &DemoArgs) -> Result<()> {
    let demo = DemoConfig {
        preset: a.preset.clone(),
        scenario: a.scenario.clone(),
        out: a.out.clone(),
        pretrained: a.pretrained,
        assets: a.assets.clone(),
        train_minutes: a.train_minutes,
        stage_flags: gpu_flags(gpu),
    }
    .plan()?;
    // Before anything runs: every stage's printed line must be its job.
    let mut lines = Vec::new();
    for st in &demo.stages {
        let argv = demo.command(&st.job);
        let line = shell_words(&argv);
        let parsed =
            super::parse_job(&argv).with_context(|| format!("demo stage '{}': {line}", st.name))?;
        if parsed != st.job {
            bail!(
                "demo stage '{}': its command line `{line}` runs another job than the demo's ({parsed:?} vs {:?})",
                st.name,
                st.job
            );
        }
        lines.push(line);
    }
    if a.plan {
        for line in lines {
            println!("{line}");
        }
        return Ok(());
    }
    let summary = demo.run(&Gpu::new(&gpu.options()?)?)?;
    println!(
        "demo done in {:.1} min (this invocation): {} and {}",
        summary.seconds / 60.0,
        summary.report_md.display(),
        summary.report_json.display()
    );
    if let Some(v) = &summary.verdict {
        println!("{v}");
    }
    Ok(())
}
