//! ScoreFno throughput on the GPU (reference sizes: width 20, modes 8, 4
//! layers, embed 256, fc 128, 16×16 sensors): forward at 64² batch 1 and
//! 16, one training step at 64² batch 32 — `diffclosure bench model`'s
//! workloads ([`diffclosure::bench::model`]) timed by criterion. `cargo
//! bench --bench model`; `diffclosure bench model` measures the same
//! without cargo, plus 128² and 256², and `--profile` splits the time per
//! kernel family.

mod common;

use std::time::Duration;

use common::timed;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use diffclosure::bench::model::{trainer, Forward, Net};
use diffclosure::score::model::ScoreFno;
use diffclosure::score::spectral_conv::Method;
use diffclosure::score::ScoreConfig;

fn bench(c: &mut Criterion) {
    let Some(gpu) = common::gpu() else {
        return;
    };
    let (n, s) = (64, 16);
    let net = Net::random(ScoreConfig::default(), s);
    let model = ScoreFno::new(&net.config).expect("model");
    let mut group = c.benchmark_group("score_64x64");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(5));
    for batch in [1, 16] {
        let forward =
            Forward::new(&gpu, &model, &net.params, (batch, n, s), Method::Dft).expect("forward");
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(BenchmarkId::new("forward", batch), |b| {
            b.iter_custom(|iters| timed(&gpu, iters, || forward.call().expect("forward")))
        });
    }
    let batch = 32;
    // The trainer's own spectral route, as `train` picks it.
    let mut trainer = trainer(&gpu, &model, &net.params, (batch, n, s), None).expect("trainer");
    group.throughput(Throughput::Elements(batch as u64));
    group.bench_function(BenchmarkId::new("train_step", batch), |b| {
        b.iter_custom(|iters| timed(&gpu, iters, || trainer.step().expect("step")))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
