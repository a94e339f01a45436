//! Closure samples per second of the fast sampler (EM, 10 steps from
//! t_max = 0.1; reference network sizes, 16×16 sensors) at 64² batch 1 and
//! 16, one command encoder per batch including the readback of the samples.
//! `cargo bench --bench sampler`; `diffclosure bench sampler` measures the
//! same without cargo, and `benches/torch_baselines.py` runs it beside the PyTorch baseline.

mod common;

use common::values;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use diffclosure::data::dataset::Samples;
use diffclosure::score::init::init_params;
use diffclosure::score::spectral_conv::Method;
use diffclosure::score::ScoreConfig;
use diffclosure::sde::generate::Generator;
use diffclosure::sde::{Noise, SamplerConfig};

fn bench(c: &mut Criterion) {
    let Some(gpu) = common::gpu() else {
        return;
    };
    let cfg = ScoreConfig::default();
    let params = init_params(&cfg, 1);
    let (n, s) = (64, 16);
    let mut group = c.benchmark_group("sampler_em10_64x64");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(10));
    for batch in [1, 16] {
        let data = Samples {
            grid: n,
            sensors: s,
            len: batch,
            omega: values(1, batch * n * n),
            target: values(2, batch * n * n),
            obs: values(3, batch * s * s),
            meta: Default::default(),
        };
        let g = Generator::new(
            &gpu,
            &cfg,
            &params,
            &data,
            SamplerConfig::default(),
            batch,
            Method::Fft,
        )
        .expect("generator");
        let conds: Vec<usize> = (0..batch).collect();
        let noise = Noise::batch(0, batch * n * n);
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(BenchmarkId::new("samples", batch), |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    g.run(&conds, &noise, None).expect("sample");
                }
                t.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
