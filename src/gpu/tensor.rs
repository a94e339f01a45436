//! `Tensor`: a GPU storage buffer with a shape, and batched readback.

use wgpu::util::DeviceExt;

use crate::error::{Error, Result};
use crate::gpu::Gpu;

/// Element type of a [`Tensor`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    /// Real `f32`.
    F32,
    /// Complex `f32`, stored as interleaved `(re, im)` pairs.
    C32,
}

impl DType {
    /// Number of `f32` per element (1 real, 2 complex).
    pub fn floats(self) -> usize {
        match self {
            DType::F32 => 1,
            DType::C32 => 2,
        }
    }
}

/// A row-major tensor resident on the GPU (`[batch, channel, y, x]` order
/// for fields, as in PyTorch).
///
/// The buffer can be bound as storage, copied from and copied to. It
/// belongs to the [`Gpu`] that created it; the fields are public for
/// binding, and `shape`/`dtype` must keep describing the buffer's size.
#[derive(Debug)]
pub struct Tensor {
    /// The storage buffer; `floats() * 4` bytes.
    pub buffer: wgpu::Buffer,
    /// Shape in elements (a complex element is one element).
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: DType,
}

const USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

impl Tensor {
    fn check_size(gpu: &Gpu, shape: &[usize], dtype: DType) -> Result<u64> {
        if shape.is_empty() || shape.contains(&0) {
            return Err(Error::Shape(format!("empty tensor shape {shape:?}")));
        }
        let too_big = || {
            Error::InvalidArgument(format!(
                "tensor {shape:?} {dtype:?} exceeds the adapter's max_buffer_size {} bytes",
                gpu.limits.max_buffer_size
            ))
        };
        let bytes = shape
            .iter()
            .try_fold(dtype.floats() as u64 * 4, |acc, &d| {
                acc.checked_mul(d as u64)
            })
            .ok_or_else(too_big)?;
        if bytes > gpu.limits.max_buffer_size {
            return Err(Error::InvalidArgument(format!(
                "tensor {shape:?} {dtype:?} needs {bytes} bytes, over the adapter's max_buffer_size {}",
                gpu.limits.max_buffer_size
            )));
        }
        Ok(bytes)
    }

    /// A zero-filled tensor.
    ///
    /// # Errors
    /// [`Error::Shape`] for an empty shape, [`Error::InvalidArgument`] if it
    /// exceeds the adapter's `max_buffer_size`.
    pub fn zeros(gpu: &Gpu, shape: &[usize], dtype: DType) -> Result<Self> {
        let bytes = Self::check_size(gpu, shape, dtype)?;
        let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("tensor"),
            size: bytes,
            usage: USAGE,
            mapped_at_creation: false,
        });
        Ok(Self {
            buffer,
            shape: shape.to_vec(),
            dtype,
        })
    }

    /// A tensor holding `data` (`floats()` values; complex interleaved).
    ///
    /// # Errors
    /// [`Error::Shape`] if `data.len()` does not match the shape.
    pub fn from_f32(gpu: &Gpu, shape: &[usize], dtype: DType, data: &[f32]) -> Result<Self> {
        Self::check_size(gpu, shape, dtype)?;
        let want = shape.iter().product::<usize>() * dtype.floats();
        if data.len() != want {
            return Err(Error::Shape(format!(
                "{} values given for a {dtype:?} tensor of shape {shape:?} ({want} values)",
                data.len()
            )));
        }
        let buffer = gpu
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("tensor"),
                contents: bytemuck::cast_slice(data),
                usage: USAGE,
            });
        Ok(Self {
            buffer,
            shape: shape.to_vec(),
            dtype,
        })
    }

    /// Number of elements (a complex element counts once).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Always false: tensors are never empty (checked at creation).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The same storage under another shape of as many elements (a view:
    /// writes through either show in both).
    ///
    /// # Errors
    /// [`Error::Shape`] if the element counts differ.
    pub fn reshaped(&self, shape: &[usize]) -> Result<Tensor> {
        if shape.iter().product::<usize>() != self.len() {
            return Err(Error::Shape(format!(
                "cannot view {:?} as {shape:?}",
                self.shape
            )));
        }
        Ok(Tensor {
            buffer: self.buffer.clone(),
            shape: shape.to_vec(),
            dtype: self.dtype,
        })
    }

    /// Number of `f32` values stored.
    pub fn floats(&self) -> usize {
        self.len() * self.dtype.floats()
    }

    /// Size in bytes.
    pub fn bytes(&self) -> u64 {
        self.floats() as u64 * 4
    }

    /// Overwrites the contents from the host (queued before the next submit).
    ///
    /// # Errors
    /// [`Error::Shape`] if `data.len() != self.floats()`.
    pub fn write(&self, gpu: &Gpu, data: &[f32]) -> Result<()> {
        if data.len() != self.floats() {
            return Err(Error::Shape(format!(
                "{} values written to a tensor of {} values",
                data.len(),
                self.floats()
            )));
        }
        gpu.queue
            .write_buffer(&self.buffer, 0, bytemuck::cast_slice(data));
        Ok(())
    }
}

impl Gpu {
    /// Reads several tensors back with one copy submission and one wait
    /// (more when their total exceeds the adapter's `max_buffer_size`).
    ///
    /// # Errors
    /// [`Error::Readback`] if mapping fails (device lost, out of memory).
    pub fn read(&self, tensors: &[&Tensor]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(tensors.len());
        let mut start = 0;
        while start < tensors.len() {
            // Each tensor fits max_buffer_size on its own (checked at creation).
            let mut end = start + 1;
            let mut total = tensors[start].bytes();
            while end < tensors.len() && total + tensors[end].bytes() <= self.limits.max_buffer_size
            {
                total += tensors[end].bytes();
                end += 1;
            }
            out.extend(self.read_group(&tensors[start..end], total)?);
            start = end;
        }
        Ok(out)
    }

    fn read_group(&self, tensors: &[&Tensor], total: u64) -> Result<Vec<Vec<f32>>> {
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: total.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.encoder("readback");
        let mut offset = 0;
        for t in tensors {
            enc.copy_buffer_to_buffer(&t.buffer, 0, &staging, offset, t.bytes());
            offset += t.bytes();
        }
        self.submit(enc);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            // The receiver lives until recv() below returns.
            let _ = tx.send(r);
        });
        self.wait()?;
        rx.recv()
            .map_err(|e| Error::Readback(e.to_string()))?
            .map_err(|e| Error::Readback(e.to_string()))?;
        let view = staging
            .get_mapped_range(..)
            .map_err(|e| Error::Readback(e.to_string()))?;
        let all: &[f32] = bytemuck::cast_slice(&view[..total as usize]);
        let mut out = Vec::with_capacity(tensors.len());
        let mut start = 0;
        for t in tensors {
            out.push(all[start..start + t.floats()].to_vec());
            start += t.floats();
        }
        drop(view);
        staging.unmap();
        Ok(out)
    }

    /// Reads one tensor back (see [`Gpu::read`]).
    ///
    /// # Errors
    /// As [`Gpu::read`].
    pub fn read_one(&self, t: &Tensor) -> Result<Vec<f32>> {
        Ok(self.read(&[t])?.remove(0))
    }

    /// A small uniform buffer holding `data` (kernel parameters).
    pub fn uniform<T: bytemuck::Pod>(&self, label: &str, data: &T) -> wgpu::Buffer {
        self.counters
            .uniform_buffers
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::bytes_of(data),
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            })
    }
}
