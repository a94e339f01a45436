//! FFT throughput: the GPU FFT beside rustfft / realfft (single thread, f32)
//! in the same run, c2c and r2c at 64² and 256², batch 1 and 16, with both
//! stage organisations (`Strategy::Registers`, `Strategy::Shared`). The GPU
//! side runs `diffclosure bench fft`'s plan and buffers
//! ([`diffclosure::bench::fft::Buffers`]) with a fixed strategy.
//!
//! `cargo bench --bench fft` (criterion). `copy-floor` is two dispatches
//! that only read and write every element once: the memory-traffic floor
//! of a two-pass transform on this adapter. GPU figures are throughput with
//! transforms recorded back to back in one submission (as the solver and
//! the network use them): `iters` transforms are recorded, submitted, and
//! waited for; the time per transform includes bind-group creation and
//! dispatch, and amortises the one submit/wait round trip. Before the
//! criterion groups, a GPU-timestamp breakdown per pass is printed (where
//! the adapter has timestamps). The adapter is printed first; pick it with
//! DIFFCLOSURE_BACKEND / DIFFCLOSURE_ADAPTER.

mod common;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use diffclosure::bench::fft::Buffers;
use diffclosure::fft::{Strategy, Transform};
use diffclosure::gpu::{DType, Gpu, Profiler, Tensor};
use realfft::RealFftPlanner;
use rustfft::num_complex::Complex32;
use rustfft::FftPlanner;

const CASES: [(usize, usize); 4] = [(64, 1), (64, 16), (256, 1), (256, 16)];
/// Transforms recorded per submission (bounds the command buffer size).
const PER_SUBMIT: u64 = 64;

/// Wall time of `iters` transforms `t` of `case` recorded back to back,
/// [`PER_SUBMIT`] per submission.
fn time(gpu: &Gpu, case: &Buffers, t: Transform, iters: u64) -> Duration {
    let start = Instant::now();
    let mut left = iters;
    while left > 0 {
        let k = left.min(PER_SUBMIT);
        let mut enc = gpu.encoder("bench");
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for _ in 0..k {
                case.record(&mut pass, t).expect("record");
            }
        }
        gpu.submit(enc);
        left -= k;
    }
    gpu.wait().expect("wait");
    start.elapsed()
}

/// The buffers of one case (`diffclosure bench fft`'s) with `strategy`.
fn gpu_case(gpu: &Gpu, n: usize, batch: usize, strategy: Strategy) -> Buffers {
    Buffers::new(gpu, n, batch, Some(strategy)).expect("buffers")
}

/// The memory floor of a 2-D transform on this adapter: two dispatches that
/// each read and write every complex element once (what the two FFT passes
/// must at least do), with no arithmetic.
struct CopyFloor {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    groups: u32,
}

const COPY_WGSL: &str = "
@group(0) @binding(0) var<storage, read_write> a: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read_write> b: array<vec2<f32>>;
@compute @workgroup_size(64)
fn copy(@builtin(global_invocation_id) g: vec3<u32>) {
    b[g.x] = a[g.x];
}";

impl CopyFloor {
    fn new(gpu: &Gpu, case: &Buffers) -> Self {
        let module = gpu
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("copy floor"),
                source: wgpu::ShaderSource::Wgsl(COPY_WGSL.into()),
            });
        let pipeline = gpu
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("copy floor"),
                layout: None,
                module: &module,
                entry_point: Some("copy"),
                compilation_options: Default::default(),
                cache: None,
            });
        let scratch = Tensor::zeros(gpu, &case.complex.shape, DType::C32).expect("tensor");
        let bind_group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("copy floor"),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: case.complex.buffer.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: scratch.buffer.as_entire_binding(),
                },
            ],
        });
        Self {
            pipeline,
            bind_group,
            groups: (case.complex.len() / 64) as u32,
        }
    }

    fn time(&self, gpu: &Gpu, iters: u64) -> Duration {
        let start = Instant::now();
        let mut enc = gpu.encoder("copy floor");
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &self.bind_group, &[]);
            for _ in 0..2 * iters {
                pass.dispatch_workgroups(self.groups, 1, 1);
            }
        }
        gpu.submit(enc);
        gpu.wait().expect("wait");
        start.elapsed()
    }
}

/// rustfft 2-D c2c of a batch: rows, transpose, rows, transpose (f32).
struct CpuC2c {
    fft: std::sync::Arc<dyn rustfft::Fft<f32>>,
    data: Vec<Complex32>,
    tmp: Vec<Complex32>,
    scratch: Vec<Complex32>,
    n: usize,
}

impl CpuC2c {
    fn new(n: usize, batch: usize) -> Self {
        let fft = FftPlanner::new().plan_fft_forward(n);
        let scratch = vec![Complex32::default(); fft.get_inplace_scratch_len()];
        Self {
            fft,
            data: (0..batch * n * n)
                .map(|i| Complex32::new((i % 17) as f32, 0.5))
                .collect(),
            tmp: vec![Complex32::default(); n * n],
            scratch,
            n,
        }
    }

    fn run(&mut self) {
        let n = self.n;
        for field in self.data.chunks_exact_mut(n * n) {
            self.fft.process_with_scratch(field, &mut self.scratch);
            transpose::transpose(field, &mut self.tmp, n, n);
            self.fft
                .process_with_scratch(&mut self.tmp, &mut self.scratch);
            transpose::transpose(&self.tmp, field, n, n);
        }
    }
}

/// realfft 2-D r2c of a batch: real rows, then complex columns (f32).
struct CpuR2c {
    rows: std::sync::Arc<dyn realfft::RealToComplex<f32>>,
    cols: std::sync::Arc<dyn rustfft::Fft<f32>>,
    data: Vec<f32>,
    spec: Vec<Complex32>,
    tmp: Vec<Complex32>,
    scratch: Vec<Complex32>,
    n: usize,
}

impl CpuR2c {
    fn new(n: usize, batch: usize) -> Self {
        let rows = RealFftPlanner::<f32>::new().plan_fft_forward(n);
        let cols = FftPlanner::new().plan_fft_forward(n);
        let half = n / 2 + 1;
        let scratch_len = cols.get_inplace_scratch_len().max(rows.get_scratch_len());
        Self {
            rows,
            cols,
            data: (0..batch * n * n).map(|i| (i % 17) as f32).collect(),
            spec: vec![Complex32::default(); n * half],
            tmp: vec![Complex32::default(); n * half],
            scratch: vec![Complex32::default(); scratch_len],
            n,
        }
    }

    fn run(&mut self) {
        let (n, half) = (self.n, self.n / 2 + 1);
        let mut input = vec![0f32; n];
        for field in self.data.chunks_exact(n * n) {
            for (row, out) in field.chunks_exact(n).zip(self.spec.chunks_exact_mut(half)) {
                input.copy_from_slice(row);
                self.rows
                    .process_with_scratch(&mut input, out, &mut self.scratch)
                    .expect("realfft");
            }
            transpose::transpose(&self.spec, &mut self.tmp, half, n);
            for col in self.tmp.chunks_exact_mut(n) {
                self.cols.process_with_scratch(col, &mut self.scratch);
            }
        }
    }
}

/// GPU time per pass (rows / columns) from timestamp queries.
fn print_breakdown(gpu: &Gpu) {
    for (n, batch) in CASES {
        let case = gpu_case(gpu, n, batch, Strategy::for_adapter(gpu));
        for t in [Transform::Forward, Transform::R2c] {
            time(gpu, &case, t, 1); // builds pipelines
            let Some(mut prof) = Profiler::new(gpu, 16) else {
                eprintln!("adapter has no timestamp queries: no per-pass breakdown");
                return;
            };
            let mut enc = gpu.encoder("breakdown");
            for _ in 0..8 {
                let mut pass = prof.pass(&mut enc, "transform");
                case.record(&mut pass, t).expect("record");
            }
            prof.resolve(&mut enc);
            gpu.submit(enc);
            let times = prof.read(gpu).expect("timestamps");
            let mut v: Vec<f64> = times.iter().map(|(_, ns)| ns / 1e3).collect();
            v.sort_by(f64::total_cmp);
            eprintln!(
                "timestamps {t:?} {n}x{n} batch {batch}: median {:.1} us per transform ({:.2} us per field), one compute pass, 2 dispatches",
                v[v.len() / 2],
                v[v.len() / 2] / batch as f64
            );
        }
    }
}

fn bench(c: &mut Criterion) {
    let Some(gpu) = common::gpu() else {
        return;
    };
    print_breakdown(&gpu);
    for (n, batch) in CASES {
        let mut group = c.benchmark_group(format!("fft_{n}x{n}_batch{batch}"));
        group.throughput(Throughput::Elements(batch as u64));
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        let floor = CopyFloor::new(&gpu, &gpu_case(&gpu, n, batch, Strategy::Shared));
        floor.time(&gpu, 1);
        group.bench_function(BenchmarkId::new("copy-floor", "gpu"), |b| {
            b.iter_custom(|iters| floor.time(&gpu, iters))
        });
        for strategy in [Strategy::Registers, Strategy::Shared] {
            let case = gpu_case(&gpu, n, batch, strategy);
            let label = format!("gpu-{strategy:?}").to_lowercase();
            for t in [Transform::Forward, Transform::R2c] {
                time(&gpu, &case, t, 1);
                let name = if t == Transform::R2c { "r2c" } else { "c2c" };
                group.bench_function(BenchmarkId::new(name, &label), |b| {
                    b.iter_custom(|iters| time(&gpu, &case, t, iters))
                });
            }
        }
        let mut c2c = CpuC2c::new(n, batch);
        group.bench_function(BenchmarkId::new("c2c", "rustfft"), |b| b.iter(|| c2c.run()));
        let mut r2c = CpuR2c::new(n, batch);
        group.bench_function(BenchmarkId::new("r2c", "realfft"), |b| b.iter(|| r2c.run()));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
