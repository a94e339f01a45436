//! Closure samples per second of the fast sampler (EM, 10 steps from
//! t_max = 0.1; reference network sizes, 16×16 sensors) at 64² batch 1 and
//! 16, one command encoder per batch including the readback of the samples:
//! `diffclosure bench sampler`'s workload ([`diffclosure::bench::sampler`])
//! timed by criterion. `cargo bench --bench sampler`;
//! `benches/torch_baselines.py` runs `diffclosure bench sampler` beside the
//! PyTorch baseline.

mod common;

use std::time::Duration;

use common::timed;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use diffclosure::bench::model::Net;
use diffclosure::bench::sampler::Batch;
use diffclosure::score::spectral_conv::Method;
use diffclosure::score::ScoreConfig;
use diffclosure::sde::SamplerConfig;

fn bench(c: &mut Criterion) {
    let Some(gpu) = common::gpu() else {
        return;
    };
    let (n, s) = (64, 16);
    let net = Net::random(ScoreConfig::default(), s);
    let mut group = c.benchmark_group("sampler_em10_64x64");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(10));
    for batch in [1, 16] {
        let work = Batch::new(n, s, batch);
        let g = work
            .generator(&gpu, &net, SamplerConfig::default(), Method::Fft)
            .expect("generator");
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(BenchmarkId::new("samples", batch), |b| {
            // The readback makes each call wait; the final wait is free.
            b.iter_custom(|iters| timed(&gpu, iters, || work.call(&g).expect("sample")))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
