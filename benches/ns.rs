//! Navier–Stokes steps per second on the GPU: 256² batch 1 and 64² batch
//! 16, CN–Heun and CN–Euler, the `seed` preset's physics (forcing, drag,
//! stochastic forcing). `cargo bench --bench ns`.
//!
//! Steps are recorded back to back (64 per submission) as `simulate` runs
//! them; one criterion iteration = one step of the whole batch. The
//! PyTorch baseline (`../shared/baselines/torch_ns.py`) is run beside it by
//! hand for the ratio (docs/performance.md).

mod common;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use diffclosure::ns::{NsSolver, Preset, TimeScheme};

fn bench(c: &mut Criterion) {
    let Some(gpu) = common::gpu() else {
        return;
    };
    for (n, batch) in [(256, 1), (64, 16)] {
        let mut group = c.benchmark_group(format!("ns_{n}x{n}_batch{batch}"));
        group.throughput(Throughput::Elements(1));
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(3));
        for scheme in [TimeScheme::Heun, TimeScheme::Euler] {
            let mut cfg = Preset::Seed.config(n, batch, 1);
            cfg.scheme = scheme;
            let mut solver =
                NsSolver::new(&gpu, &cfg, Some(&Preset::Seed.forcing(n))).expect("solver");
            let grf = Preset::Seed.spec().initial;
            let w = grf.sample_hat(&gpu, batch, n, cfg.length, 1).expect("grf");
            solver.set_vorticity_hat(&w).expect("state");
            solver.step(2).expect("warm-up");
            gpu.wait().expect("wait");
            let name = format!("{scheme:?}").to_lowercase();
            group.bench_function(BenchmarkId::new("gpu", name), |b| {
                b.iter_custom(|iters| {
                    let t = Instant::now();
                    solver.step(iters as usize).expect("steps");
                    gpu.wait().expect("wait");
                    t.elapsed()
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
