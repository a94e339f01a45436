//! The whole pipeline through the library API, without the command line:
//! simulate → dataset → train → sample → couple → online report, at a toy
//! size that runs in about a minute on a CPU adapter such as lavapipe.
//!
//! ```text
//! cargo run --release --example pipeline [OUT_DIR]
//! ```
//!
//! 1. Two truths of the seed preset on 32² (two training trajectories,
//!    one test trajectory of another seed), their closure terms recorded
//!    on 16².
//! 2. Scenario G datasets on 16² with 4 × 4 sensors, split by trajectory.
//! 3. A small score network trained for a few hundred steps.
//! 4. Closure samples for a few test conditions.
//! 5. The coarse model of the test truth stepped from its first snapshot
//!    with no closure, a Smagorinsky eddy viscosity and the learned
//!    closure (drawn every 5 steps), then compared with the truth.
//!
//! The adapter is chosen as for the command line (`DIFFCLOSURE_BACKEND`,
//! `DIFFCLOSURE_ADAPTER`). Each job is the one behind the subcommand of
//! the same name: it checks its inputs before any GPU work (`plan`), then
//! runs and returns a summary. At this size and training budget the
//! numbers show the API at work, not the method's accuracy (the README's
//! results are of the demo).

use std::path::{Path, PathBuf};

use diffclosure::couple::{ClosureKind, CoupledJob};
use diffclosure::data::dataset::{DatasetJob, DatasetSpec, Scenario, Sensors};
use diffclosure::gpu::Gpu;
use diffclosure::metrics::online::{self, OnlineConfig};
use diffclosure::ns::{Preset, TrajectoryJob};
use diffclosure::score::train_job::{ScoreOverrides, TrainJob, TrainOverrides};
use diffclosure::sde::SampleJob;

fn main() -> diffclosure::Result<()> {
    let dir = std::env::args().nth(1).map_or_else(
        || std::env::temp_dir().join(format!("pipeline-{}", std::process::id())),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).map_err(|error| diffclosure::Error::Io {
        path: dir.clone(),
        error,
    })?;
    let f = |name: &str| dir.join(name);
    let gpu = Gpu::from_env()?;
    println!("adapter: {}", gpu.describe());

    // 1. Truths: 400 steps of the seed preset (dt = 1e-3) from t = 0, a
    //    snapshot every 10 steps, the closure terms restricted to 16².
    //    Different seeds: the test trajectory is not a training one.
    let truth = |seed: u64, batch: usize, out: &Path| TrajectoryJob {
        grid: Some(32),
        batch,
        seed,
        steps: Some(400),
        snapshot_every: Some(10),
        coarse: Some(vec![16]),
        quiet: true,
        ..TrajectoryJob::new(Preset::Seed, out)
    };
    for (seed, batch, name) in [(0, 2, "truth_train"), (1, 1, "truth_test")] {
        let t = truth(seed, batch, &f(&format!("{name}.safetensors"))).run(&gpu)?;
        println!(
            "simulated {} x {n}x{n} to t = {}: {} snapshots -> {}",
            t.batch,
            t.t_end,
            t.snapshots,
            t.out.display(),
            n = t.grid
        );
    }

    // 2. Datasets: (coarse vorticity, G, sensor values of G) on 16²; the
    //    last trajectory (the test truth's) is the test split.
    let (train_data, test_data) = (f("train.safetensors"), f("test.safetensors"));
    let spec = DatasetSpec {
        scenario: Scenario::G,
        grid: 16,
        sensors: Sensors::parse("4x4", 16)?,
        test_trajectories: 1,
        test_only: false,
    };
    let d = DatasetJob::new(
        vec![f("truth_train.safetensors"), f("truth_test.safetensors")],
        spec,
        Some(train_data.clone()),
        test_data.clone(),
    )
    .run()?;
    if let Some((path, samples, _)) = &d.train {
        println!("dataset: {samples} training samples -> {}", path.display());
    }
    println!(
        "dataset: {} test samples -> {}",
        d.test.1,
        d.test.0.display()
    );

    // 3. Training: a network of a few thousand weights (4 Fourier modes
    //    fit 16²), 30 epochs of 10 steps of 8 samples.
    let model = f("model.safetensors");
    let t = TrainJob {
        epochs: Some(30),
        network: ScoreOverrides {
            width: Some(8),
            modes: Some(4),
            layers: Some(2),
            embed_dim: Some(16),
            fc_hidden: Some(16),
            ..Default::default()
        },
        hyper: TrainOverrides {
            batch: Some(8),
            ..Default::default()
        },
        command: "examples/pipeline.rs".into(),
        quiet: true,
        ..TrainJob::new(&train_data, &model)
    }
    .run(&gpu)?;
    println!(
        "trained {} steps: loss {:.3e} -> {:.3e} -> {}",
        t.state.step,
        t.first_loss.unwrap_or(f64::NAN),
        t.loss,
        t.out.display()
    );

    // 4. Sampling: two closure samples for each of four test conditions
    //    (the default sampler: 10 EM steps from t_max = 0.1, then the
    //    final denoising step).
    let s = SampleJob {
        samples_per_condition: 2,
        conditions: Some(4),
        batch: 8,
        quiet: true,
        ..SampleJob::new(&model, &test_data, &f("samples.safetensors"))
    }
    .run(&gpu)?;
    println!(
        "sampled {} conditions x {}: {:.1} samples/s -> {}",
        s.conditions,
        s.samples_per_condition,
        s.samples_per_second(),
        s.out.display()
    );

    // 5. Coupled runs of the G scenario's coarse model (no viscosity, no
    //    noise: the closure supplies them) from the test truth's first
    //    snapshot to its last, then the online report against the truth.
    let mut runs = Vec::new();
    for (closure, every) in [
        (ClosureKind::None, 1),
        ("smagorinsky".parse()?, 1),
        (ClosureKind::Learned, 5),
    ] {
        let out = f(&format!("couple_{closure}.safetensors"));
        let c = CoupledJob {
            scenario: Scenario::G,
            closure,
            model: (closure == ClosureKind::Learned).then(|| model.clone()),
            every,
            grid: 16,
            quiet: true,
            ..CoupledJob::new(&f("truth_test.safetensors"), &out)
        }
        .run(&gpu)?;
        println!(
            "coupled, closure {}: {:.2} s wall per simulated second -> {}",
            c.closure,
            c.wall_s / c.simulated_s,
            c.out.display()
        );
        runs.push(out);
    }
    let report = online::run(
        &gpu,
        &OnlineConfig {
            runs,
            out: f("online"),
            title: "examples/pipeline: online".into(),
            labels: Vec::new(),
            at: Vec::new(),
        },
    )?;
    for row in &report.rows {
        let end = row.d_re.last().copied().unwrap_or(f64::NAN);
        println!(
            "{:<40} vorticity D_RE at the end {:6.2} %",
            row.label,
            100.0 * end
        );
    }
    println!("report: {}", report.report_md.display());
    println!(
        "(toy size: 0.4 time units on 16², a network trained for seconds; the closures \
         hardly differ here, the demo shows what they do)"
    );
    Ok(())
}
