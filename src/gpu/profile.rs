//! GPU timestamp profiling of compute passes, where the adapter supports
//! `TIMESTAMP_QUERY`.

use crate::error::{Error, Result};
use crate::gpu::Gpu;

/// Records the start and end timestamp of labelled compute passes.
///
/// Use [`Profiler::pass`] instead of `begin_compute_pass`, call
/// [`Profiler::resolve`] before submitting, then [`Profiler::read`].
pub struct Profiler {
    query_set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    capacity: u32,
    labels: Vec<String>,
    period_ns: f64,
}

impl Profiler {
    /// A profiler for up to `capacity` passes; `None` when the adapter has
    /// no timestamp queries.
    pub fn new(gpu: &Gpu, capacity: u32) -> Option<Self> {
        if !gpu.features.contains(wgpu::Features::TIMESTAMP_QUERY) || capacity == 0 {
            return None;
        }
        let query_set = gpu.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("profiler"),
            ty: wgpu::QueryType::Timestamp,
            count: 2 * capacity,
        });
        let resolve = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profiler resolve"),
            size: 16 * capacity as u64,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        Some(Self {
            query_set,
            resolve,
            capacity,
            labels: Vec::new(),
            period_ns: gpu.queue.get_timestamp_period() as f64,
        })
    }

    /// Begins a compute pass whose duration is recorded under `label`
    /// (untimed once `capacity` passes are recorded).
    pub fn pass<'e>(
        &mut self,
        encoder: &'e mut wgpu::CommandEncoder,
        label: &str,
    ) -> wgpu::ComputePass<'e> {
        let i = self.labels.len() as u32;
        let timed = i < self.capacity;
        if timed {
            self.labels.push(label.to_string());
        }
        encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(label),
            timestamp_writes: timed.then_some(wgpu::ComputePassTimestampWrites {
                query_set: &self.query_set,
                beginning_of_pass_write_index: Some(2 * i),
                end_of_pass_write_index: Some(2 * i + 1),
            }),
        })
    }

    /// Copies the recorded timestamps into the profiler's buffer.
    pub fn resolve(&self, encoder: &mut wgpu::CommandEncoder) {
        let n = 2 * self.labels.len() as u32;
        if n > 0 {
            encoder.resolve_query_set(&self.query_set, 0..n, &self.resolve, 0);
        }
    }

    /// (label, GPU time in ns) of every recorded pass; clears the record.
    ///
    /// # Errors
    /// [`Error::Readback`] if the timestamps cannot be read.
    pub fn read(&mut self, gpu: &Gpu) -> Result<Vec<(String, f64)>> {
        let n = self.labels.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let staging = crate::gpu::Tensor::zeros(gpu, &[4 * n], crate::gpu::DType::F32)?;
        let mut enc = gpu.encoder("profiler copy");
        enc.copy_buffer_to_buffer(&self.resolve, 0, &staging.buffer, 0, 16 * n as u64);
        gpu.submit(enc);
        let raw = gpu.read_one(&staging)?;
        let ticks: &[u64] = bytemuck::try_cast_slice(&raw)
            .map_err(|e| Error::Readback(format!("timestamps: {e}")))?;
        let out = self
            .labels
            .drain(..)
            .enumerate()
            .map(|(i, l)| {
                let dt = ticks[2 * i + 1].wrapping_sub(ticks[2 * i]);
                (l, dt as f64 * self.period_ns)
            })
            .collect();
        Ok(out)
    }
}
