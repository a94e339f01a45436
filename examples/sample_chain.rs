//! Train → sample through the library API: a tiny score network trained
//! for one epoch on the bundled 64² test split, then two closure samples
//! for each of four of its conditions, written as a samples file (seconds
//! on a CPU adapter such as lavapipe).
//!
//! ```text
//! cargo run --release --example sample_chain [OUT_DIR]
//! ```
//!
//! The adapter is chosen as for the command line (`DIFFCLOSURE_BACKEND`,
//! `DIFFCLOSURE_ADAPTER`). The jobs are the ones behind `diffclosure train`
//! and `diffclosure sample`: each checks its inputs before any GPU work
//! (`plan`), then runs and returns a summary.

use std::path::PathBuf;

use diffclosure::gpu::Gpu;
use diffclosure::score::train_job::{ScoreOverrides, TrainJob, TrainOverrides};
use diffclosure::sde::SampleJob;

fn main() -> diffclosure::Result<()> {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/g_test_64.safetensors");
    let dir = std::env::args().nth(1).map_or_else(
        || std::env::temp_dir().join(format!("sample_chain-{}", std::process::id())),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).map_err(|error| diffclosure::Error::Io {
        path: dir.clone(),
        error,
    })?;
    let gpu = Gpu::from_env()?;
    println!("adapter: {}", gpu.describe());
    println!(
        "an API demonstration: a tiny network trained one epoch on the shipped test split \
         (the job warns that it is a test split), so its samples are not meant to be good"
    );

    // A network of a few thousand weights, one epoch (a dozen steps of 8).
    let model = dir.join("model.safetensors");
    let train = TrainJob {
        epochs: Some(1),
        network: ScoreOverrides {
            width: Some(4),
            layers: Some(2),
            embed_dim: Some(16),
            fc_hidden: Some(8),
            ..Default::default()
        },
        hyper: TrainOverrides {
            batch: Some(8),
            ..Default::default()
        },
        command: "examples/sample_chain.rs".into(),
        quiet: true,
        ..TrainJob::new(&data, &model)
    };
    let t = train.run(&gpu)?;
    println!(
        "trained {} steps: loss {:.4e} -> {}",
        t.state.step,
        t.loss,
        t.out.display()
    );

    // Two samples for each of four conditions (the default sampler: 10 EM
    // steps from t_max = 0.1), in batches of 4.
    let samples = dir.join("samples.safetensors");
    let sample = SampleJob {
        samples_per_condition: 2,
        conditions: Some(4),
        batch: 4,
        quiet: true,
        ..SampleJob::new(&model, &data, &samples)
    };
    let s = sample.run(&gpu)?;
    println!(
        "{} conditions x {} samples on {n}x{n}: {:.2} samples/s -> {}",
        s.conditions,
        s.samples_per_condition,
        s.samples_per_second(),
        s.out.display(),
        n = s.grid
    );
    Ok(())
}
