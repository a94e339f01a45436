//! Navier–Stokes steps per second on the GPU: `diffclosure bench ns`'s
//! default cases (256² batch 1 and 64² batch 16, CN–Heun and CN–Euler, the
//! `seed` preset's physics: forcing, drag, stochastic forcing) and solvers
//! ([`diffclosure::bench::ns`]), timed by criterion. `cargo bench --bench
//! ns`.
//!
//! Steps are recorded back to back (64 per submission) as `simulate` runs
//! them; one criterion iteration = one step of the whole batch. The
//! PyTorch baseline (`benches/baselines/torch_ns.py`) is run beside it by
//! hand for the ratio (docs/performance.md).

mod common;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use diffclosure::bench::ns::{solver, CASES, SCHEMES};
use diffclosure::ns::Preset;

fn bench(c: &mut Criterion) {
    let Some(gpu) = common::gpu() else {
        return;
    };
    for (n, batch) in CASES {
        let mut group = c.benchmark_group(format!("ns_{n}x{n}_batch{batch}"));
        group.throughput(Throughput::Elements(1));
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(3));
        for scheme in SCHEMES {
            let mut solver = solver(&gpu, Preset::Seed, n, batch, scheme).expect("solver");
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
