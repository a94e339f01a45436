//! ScoreFno throughput on the GPU (reference sizes: width 20, modes 8, 4
//! layers, embed 256, fc 128, 16×16 sensors): forward at 64² batch 1 and
//! 16, one training step at 64² batch 32. `cargo bench --bench model`;
//! `diffclosure bench model` measures the same without cargo, plus 128²
//! and 256², and `--profile` splits the time per kernel family.

mod common;

use common::values;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use diffclosure::data::dataset::Samples;
use diffclosure::gpu::{DType, Tensor};
use diffclosure::score::init::init_params;
use diffclosure::score::model::ScoreFno;
use diffclosure::score::spectral_conv::Method;
use diffclosure::score::train::{TrainConfig, Trainer};
use diffclosure::score::ScoreConfig;

fn bench(c: &mut Criterion) {
    let Some(gpu) = common::gpu() else {
        return;
    };
    let cfg = ScoreConfig::default();
    let model = ScoreFno::new(&cfg).expect("model");
    let params = init_params(&cfg, 1);
    let p = Tensor::from_f32(&gpu, &[params.len()], DType::F32, &params).expect("params");
    let (n, s) = (64, 16);
    let mut group = c.benchmark_group("score_64x64");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(5));
    for batch in [1, 16] {
        let ws = model
            .workspace(&gpu, batch, n, s, Method::Dft)
            .expect("workspace");
        ws.x.write(&gpu, &values(1, batch * n * n)).expect("x");
        ws.w.write(&gpu, &values(2, batch * n * n)).expect("w");
        ws.s.write(&gpu, &values(3, batch * s * s)).expect("s");
        ws.t.write(&gpu, &vec![0.3; batch]).expect("t");
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(BenchmarkId::new("forward", batch), |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    let mut enc = gpu.encoder("forward");
                    {
                        let mut pass = enc.begin_compute_pass(&Default::default());
                        model
                            .record_forward(&gpu, &mut pass, &p, &ws)
                            .expect("forward");
                    }
                    gpu.submit(enc);
                }
                gpu.wait().expect("wait");
                t.elapsed()
            })
        });
    }
    let batch = 32;
    let data = Samples {
        grid: n,
        sensors: s,
        len: 2 * batch,
        omega: values(4, 2 * batch * n * n),
        target: values(5, 2 * batch * n * n),
        obs: values(6, 2 * batch * s * s),
        meta: Default::default(),
    };
    let tcfg = TrainConfig {
        batch,
        ..TrainConfig::default()
    };
    let mut trainer =
        Trainer::new(&gpu, model.clone(), &params, &data, tcfg, None).expect("trainer");
    group.throughput(Throughput::Elements(batch as u64));
    group.bench_function(BenchmarkId::new("train_step", batch), |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                trainer.step().expect("step");
            }
            gpu.wait().expect("wait");
            t.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
