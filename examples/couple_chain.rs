//! Simulate → couple through the library API: a 32² truth of two
//! trajectories with its 16² coarse fields recorded, then the coarse G
//! model run from its first snapshot with no closure and with a
//! Smagorinsky eddy viscosity of the classical constant (seconds on a CPU
//! adapter such as lavapipe). (The dynamic procedure would clip its
//! coefficient to 0 on so small a grid: the same run as no closure.)
//!
//! ```text
//! cargo run --release --example couple_chain [OUT_DIR]
//! ```
//!
//! The adapter is chosen as for the command line (`DIFFCLOSURE_BACKEND`,
//! `DIFFCLOSURE_ADAPTER`). The jobs are the ones behind `diffclosure
//! simulate` and `diffclosure couple`: each checks its inputs before any
//! GPU work (`plan`), then runs and returns a summary.

use std::path::PathBuf;

use diffclosure::couple::{ClosureKind, CoupledJob};
use diffclosure::data::dataset::Scenario;
use diffclosure::gpu::Gpu;
use diffclosure::ns::{Preset, TrajectoryJob};

fn main() -> diffclosure::Result<()> {
    let dir = std::env::args().nth(1).map_or_else(
        || std::env::temp_dir().join(format!("couple_chain-{}", std::process::id())),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).map_err(|error| diffclosure::Error::Io {
        path: dir.clone(),
        error,
    })?;
    let gpu = Gpu::from_env()?;
    println!("adapter: {}", gpu.describe());

    // The truth: 300 steps of the seed preset (dt = 1e-3), a snapshot every
    // 10 steps from t = 0, the closure terms restricted to 16².
    let truth = dir.join("truth.safetensors");
    let simulate = TrajectoryJob {
        grid: Some(32),
        batch: 2,
        steps: Some(300),
        snapshot_every: Some(10),
        coarse: Some(vec![16]),
        quiet: true,
        ..TrajectoryJob::new(Preset::Seed, &truth)
    };
    let t = simulate.run(&gpu)?;
    println!(
        "simulated {} x {n}x{n} to t = {}: {} snapshots -> {}",
        t.batch,
        t.t_end,
        t.snapshots,
        t.out.display(),
        n = t.grid
    );

    // The coarse model of the G scenario (no viscosity, no noise: the
    // closure supplies them) on 16², from the truth's first snapshot to
    // its last. `evaluate --online` (or `metrics::online`) compares the two
    // outputs with the truth.
    for closure in [ClosureKind::None, "smagorinsky".parse()?] {
        let out = dir.join(format!("couple_{closure}.safetensors"));
        let couple = CoupledJob {
            scenario: Scenario::G,
            closure,
            grid: 16,
            quiet: true,
            ..CoupledJob::new(&truth, &out)
        };
        let c = couple.run(&gpu)?;
        println!(
            "coupled {} x {m}x{m}, t = {} .. {}, closure {}: {:.2} s wall per simulated second -> {}",
            c.trajectories,
            c.time.0,
            c.time.1,
            c.closure,
            c.wall_s / c.simulated_s,
            c.out.display(),
            m = c.grid
        );
    }
    Ok(())
}
