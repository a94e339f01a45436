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
    resolved: bool,
}

/// Most passes one profiler can time (wgpu allows 4096 queries per set).
pub const MAX_PASSES: u32 = 2048;

impl Profiler {
    /// A profiler for up to `capacity` passes (at most [`MAX_PASSES`];
    /// passes beyond are run untimed); `None` when the adapter has no
    /// timestamp queries.
    pub fn new(gpu: &Gpu, capacity: u32) -> Option<Self> {
        if !gpu.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
            return None;
        }
        let (query_set, capacity) = timestamp_pairs(gpu, "profiler", capacity);
        Some(Self {
            query_set,
            resolve: resolve_buffer(gpu, "profiler resolve", capacity as usize),
            capacity,
            labels: Vec::new(),
            resolved: false,
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
    pub fn resolve(&mut self, encoder: &mut wgpu::CommandEncoder) {
        self.resolved = true;
        let n = 2 * self.labels.len() as u32;
        if n > 0 {
            encoder.resolve_query_set(&self.query_set, 0..n, &self.resolve, 0);
        }
    }

    /// (label, GPU time in ns) of every recorded pass; clears the record.
    ///
    /// # Errors
    /// [`Error::Readback`] if the timestamps cannot be read or
    /// [`Profiler::resolve`] was not recorded before the submission.
    pub fn read(&mut self, gpu: &Gpu) -> Result<Vec<(String, f64)>> {
        let n = self.labels.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        if !std::mem::take(&mut self.resolved) {
            return Err(Error::Readback(
                "timestamps were not resolved: call Profiler::resolve before submitting".into(),
            ));
        }
        let labels = std::mem::take(&mut self.labels);
        read_pairs(gpu, gpu.encoder("profiler copy"), &self.resolve, labels)
    }
}

/// A set of `capacity` (clamped to `1..=MAX_PASSES`) start / end pairs of
/// timestamp queries, and that capacity.
fn timestamp_pairs(gpu: &Gpu, label: &str, capacity: u32) -> (wgpu::QuerySet, u32) {
    let capacity = capacity.clamp(1, MAX_PASSES);
    let query_set = gpu.device.create_query_set(&wgpu::QuerySetDescriptor {
        label: Some(label),
        ty: wgpu::QueryType::Timestamp,
        count: 2 * capacity,
    });
    (query_set, capacity)
}

/// A buffer to resolve `pairs` start / end pairs of timestamps into.
fn resolve_buffer(gpu: &Gpu, label: &str, pairs: usize) -> wgpu::Buffer {
    gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: 16 * pairs as u64,
        usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    })
}

/// Submits `enc` with a copy of the first `labels.len()` timestamp pairs
/// resolved into `resolve` (the resolve itself may already be in `enc`),
/// and returns `(label, end − start in ns)` of each.
///
/// # Errors
/// [`Error::Readback`] if the timestamps cannot be read.
fn read_pairs(
    gpu: &Gpu,
    mut enc: wgpu::CommandEncoder,
    resolve: &wgpu::Buffer,
    labels: Vec<String>,
) -> Result<Vec<(String, f64)>> {
    let n = labels.len();
    let staging = crate::gpu::Tensor::zeros(gpu, &[4 * n], crate::gpu::DType::F32)?;
    enc.copy_buffer_to_buffer(resolve, 0, &staging.buffer, 0, 16 * n as u64);
    gpu.submit(enc);
    let raw = gpu.read_one(&staging)?;
    // Little-endian u64 ticks, read back as pairs of f32 bit patterns.
    let ticks: Vec<u64> = raw
        .chunks_exact(2)
        .map(|p| u64::from(p[0].to_bits()) | (u64::from(p[1].to_bits()) << 32))
        .collect();
    let period_ns = f64::from(gpu.queue.get_timestamp_period());
    Ok(labels
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let dt = ticks[2 * i + 1].wrapping_sub(ticks[2 * i]);
            (l, dt as f64 * period_ns)
        })
        .collect())
}

/// Timestamps around every dispatch recorded through [`Gpu::dispatch`]
/// while active (`TIMESTAMP_QUERY_INSIDE_PASSES`): where the time of a
/// pass goes, per kernel.
pub(crate) struct DispatchTimer {
    query_set: wgpu::QuerySet,
    capacity: u32,
    labels: Vec<String>,
}

impl Gpu {
    /// Starts timing every dispatch (up to `capacity`, at most
    /// [`MAX_PASSES`]; later ones run untimed) until
    /// [`Gpu::dispatch_times`]. Returns false, and times nothing, when the
    /// adapter cannot write timestamps inside compute passes.
    pub fn time_dispatches(&self, capacity: u32) -> bool {
        let need = wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES;
        if !self.features.contains(need) {
            return false;
        }
        let (query_set, capacity) = timestamp_pairs(self, "dispatch timer", capacity);
        *lock_timer(self) = Some(DispatchTimer {
            query_set,
            capacity,
            labels: Vec::new(),
        });
        true
    }

    /// Stops timing and returns `(kernel label, GPU ns)` of every timed
    /// dispatch, in order (the label is `file::entry[constants]`). Call it
    /// after the timed work was submitted.
    ///
    /// # Errors
    /// [`Error::Readback`] if the timestamps cannot be read.
    pub fn dispatch_times(&self) -> Result<Vec<(String, f64)>> {
        let Some(t) = lock_timer(self).take() else {
            return Ok(Vec::new());
        };
        let n = t.labels.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let resolve = resolve_buffer(self, "dispatch timer resolve", n);
        let mut enc = self.encoder("dispatch timer");
        enc.resolve_query_set(&t.query_set, 0..2 * n as u32, &resolve, 0);
        read_pairs(self, enc, &resolve, t.labels)
    }

    /// Writes the start timestamp of a dispatch when timing; its index.
    pub(crate) fn time_dispatch_begin(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        label: &str,
    ) -> Option<u32> {
        let mut guard = lock_timer(self);
        let t = guard.as_mut()?;
        let i = t.labels.len() as u32;
        if i >= t.capacity {
            return None;
        }
        t.labels.push(label.to_string());
        pass.write_timestamp(&t.query_set, 2 * i);
        Some(i)
    }

    /// Writes the end timestamp of dispatch `i`.
    pub(crate) fn time_dispatch_end(&self, pass: &mut wgpu::ComputePass<'_>, i: u32) {
        if let Some(t) = lock_timer(self).as_ref() {
            pass.write_timestamp(&t.query_set, 2 * i + 1);
        }
    }
}

fn lock_timer(gpu: &Gpu) -> std::sync::MutexGuard<'_, Option<DispatchTimer>> {
    gpu.dispatch_timer
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The process's resident memory now and its peak so far, in MiB
/// (`VmRSS`, `VmHWM` of `/proc/self/status`); `None` where that file does
/// not exist (not Linux). A long run's RSS is how a driver that grows with
/// every submission shows (Mesa 22.3.6's lavapipe: ≈ 47 MiB per closure
/// draw of a coupled run; docs/performance.md).
pub fn resident_mib() -> Option<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

#[cfg(test)]
mod tests {
    /// On Linux both figures exist, the peak is at least the current one,
    /// and touching 64 MiB raises the resident set by about that much
    /// (at least half of it: the allocator may reuse freed pages).
    #[test]
    fn resident_memory_is_read() {
        let Some((rss, peak)) = super::resident_mib() else {
            if cfg!(target_os = "linux") {
                panic!("no /proc/self/status on Linux");
            }
            return;
        };
        assert!(rss > 0.0 && peak >= rss, "rss {rss}, peak {peak}");
        let block = std::hint::black_box(vec![1u8; 64 << 20]);
        let (after, _) = super::resident_mib().unwrap();
        assert!(
            after - rss > 32.0,
            "rss {rss} → {after} with 64 MiB touched"
        );
        drop(block);
    }
}
