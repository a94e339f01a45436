//! Batched 2-D FFTs on the GPU (`shaders/fft.wgsl`).
//!
//! Four transforms of fields `[.., H, W]` (any leading dims, flattened into
//! a batch `B`):
//!
//! | transform | input | output |
//! |---|---|---|
//! | [`Transform::Forward`] (c2c) | complex `[B, H, W]` | complex `[B, H, W]` |
//! | [`Transform::Inverse`] (c2c) | complex `[B, H, W]` | complex `[B, H, W]` |
//! | [`Transform::R2c`] | real `[B, H, W]` | complex `[B, H, W/2+1]` |
//! | [`Transform::C2r`] | complex `[B, H, W/2+1]` | real `[B, H, W]` |
//!
//! Conventions are NumPy's (`norm="backward"`): forward transforms are
//! unnormalised, `X[ky, kx] = Σ x[y, x] exp(-2πi (ky y / H + kx x / W))`;
//! inverse transforms carry the factor `1/(H W)`. The half spectrum keeps
//! `kx = 0..=W/2` (last axis), as `numpy.fft.rfft2`. `C2r` ignores the
//! imaginary parts of the `kx = 0` and `kx = W/2` bins, as NumPy does, and
//! leaves its input untouched.
//!
//! Sizes: `H` and `W` are powers of two from 2 to 1024 (real transforms need
//! `W >= 4`). Batches of any size: a batch larger than the adapter's storage
//! binding limit is split into chunks recorded one after another.
//!
//! Each transform is two dispatches (rows, then columns; columns then rows
//! for `C2r`), through a scratch buffer owned by the plan, so the input and
//! output may be the same tensor for the c2c transforms.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, Result};
use crate::gpu::{DType, Gpu, Kernel, KernelSpec, ShaderSource, Slot, Tensor};

/// `shaders/fft.wgsl`: the batched Stockham FFT passes.
pub const SHADER: ShaderSource = crate::shader!("fft.wgsl");

/// Which transform to record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transform {
    /// Complex-to-complex, `exp(-2πi…)`, unnormalised.
    Forward,
    /// Complex-to-complex, `exp(+2πi…)`, scaled by `1/(H W)`.
    Inverse,
    /// Real-to-complex half spectrum `[.., H, W/2+1]`, unnormalised.
    R2c,
    /// Half spectrum to real, scaled by `1/(H W)`.
    C2r,
}

/// How the 1-D passes are organised. Both give the same results (to f32
/// rounding) and are tested against the same reference; they differ in
/// speed per adapter kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Radix-8 stages, `N/8` threads per line, workgroup memory between
    /// stages: many threads in flight, the choice for GPUs.
    Shared,
    /// Radix up to 64 held in registers: a line of up to 64 points is one
    /// invocation with no workgroup memory, longer lines take two balanced
    /// stages (e.g. 256 = 16 × 16). Fewest memory accesses: the choice for
    /// CPU adapters (lavapipe), where each access is a per-lane gather.
    Registers,
}

impl Strategy {
    /// The default for this adapter: `Registers` on CPU adapters, else `Shared`.
    pub fn for_adapter(gpu: &Gpu) -> Self {
        if gpu.is_cpu() {
            Strategy::Registers
        } else {
            Strategy::Shared
        }
    }

    /// Radix of each stage for length `n` (a power of two, 2..=1024).
    fn radices(self, n: usize) -> Vec<usize> {
        match self {
            Strategy::Shared => {
                let l = n.trailing_zeros();
                let mut r = vec![8; (l / 3) as usize];
                if !l.is_multiple_of(3) {
                    r.push(1 << (l % 3));
                }
                r
            }
            // One register stage up to 64 points; beyond, two balanced
            // stages (128 = 16 x 8, ..., 1024 = 32 x 32): on lavapipe within
            // 10% of the best split measured for every size.
            Strategy::Registers if n <= 64 => vec![n],
            Strategy::Registers => {
                let first = 1 << (n.trailing_zeros() as usize).div_ceil(2);
                vec![first, n / first]
            }
        }
    }
}

/// Plan options beyond the shape.
#[derive(Clone, Copy, Debug, Default)]
pub struct FftOptions {
    /// Stage organisation; `None` picks [`Strategy::for_adapter`].
    pub strategy: Option<Strategy>,
    /// Storage binding limit in bytes used to split batches; `None` uses
    /// the adapter's (tests use a small value to exercise splitting).
    pub max_binding_bytes: Option<u64>,
}

const ALL: [Transform; 4] = [
    Transform::Forward,
    Transform::Inverse,
    Transform::R2c,
    Transform::C2r,
];

/// Smallest supported transform length per axis.
pub const MIN_LEN: usize = 2;
/// Largest supported length per axis: two ping-pong buffers of 1024
/// complex f32 fill the 16 KiB of workgroup memory every adapter offers.
pub const MAX_LEN: usize = 1024;

const SPEC: KernelSpec = KernelSpec::new(SHADER, "fft_lines", Slot::TWO_IN);

/// Workgroup memory every adapter guarantees (WebGPU default limit).
const WORKGROUP_BYTES: usize = 16384;

crate::gpu::layout::wgsl_struct! {
    #[wgsl(SHADER, Params, test params_mirror_wgsl)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Params {
        lines: u32,
        lines_per_batch: u32,
        tw_stride: u32,
        _pad0: u32,
        in_line: u32,
        in_batch: u32,
        out_line: u32,
        out_batch: u32,
        scale: f32,
        _pad1: [u32; 3],
    }
}

/// Where a pass reads from or writes to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Io {
    /// The caller's input / output tensor.
    User,
    /// The plan's scratch buffer.
    Scratch,
}

/// Mode of a 1-D pass (the shader's `MODE`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    C2c = 0,
    R2cPost = 1,
    C2rPre = 2,
}

/// One line pass: the geometry of one dispatch per chunk.
struct LinePass {
    /// Complex length of the 1-D transform.
    n: usize,
    mode: Mode,
    inverse: bool,
    /// Lines per field and (line, field, element) strides in complex
    /// elements, for input and output.
    lines_per_field: usize,
    input: (usize, usize, usize),
    output: (usize, usize, usize),
    scale: f32,
    from: Io,
    to: Io,
}

struct BuiltPass {
    kernel: Arc<Kernel>,
    twiddles: Arc<wgpu::Buffer>,
    /// Uniform buffer per distinct chunk size (full chunks, last chunk).
    uniforms: Vec<(usize, wgpu::Buffer)>,
    lpw: usize,
    lines_per_field: usize,
    from: Io,
    to: Io,
}

/// A batched 2-D FFT plan for fields of `H × W`, `batch` at a time.
///
/// Pipelines are built on the first use of each transform and cached in the
/// [`Gpu`]'s kernel registry; twiddle tables are computed once in f64.
pub struct Fft2d {
    gpu: Gpu,
    batch: usize,
    h: usize,
    w: usize,
    /// Fields per chunk (one binding window).
    chunk: usize,
    strategy: Strategy,
    scratch: wgpu::Buffer,
    built: [OnceLock<Vec<BuiltPass>>; 4],
    twiddles: Mutex<HashMap<usize, Arc<wgpu::Buffer>>>,
}

fn check_len(name: &str, n: usize, min: usize) -> Result<()> {
    if !n.is_power_of_two() || n < min || n > MAX_LEN {
        return Err(Error::InvalidArgument(format!(
            "FFT {name} = {n}: must be a power of two in [{min}, {MAX_LEN}]"
        )));
    }
    Ok(())
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl Fft2d {
    /// A plan for `batch` fields of `h × w` with explicit options.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `h` or `w` is not a power of two in
    /// `[2, 1024]`, `batch == 0`, or one field exceeds the binding limit.
    pub fn with_options(
        gpu: &Gpu,
        batch: usize,
        h: usize,
        w: usize,
        options: FftOptions,
    ) -> Result<Self> {
        let max_binding_bytes = options.max_binding_bytes;
        check_len("height", h, MIN_LEN)?;
        check_len("width", w, MIN_LEN)?;
        if batch == 0 {
            return Err(Error::InvalidArgument("FFT batch must be >= 1".into()));
        }
        let limit = max_binding_bytes
            .unwrap_or(u64::MAX)
            .min(gpu.limits.max_storage_buffer_binding_size) as usize;
        // Largest per-field footprint among input, scratch and output: the
        // complex H x W field.
        let field = 8 * h * w;
        if field > limit {
            return Err(Error::InvalidArgument(format!(
                "one {h}x{w} complex field ({field} bytes) exceeds the storage binding limit ({limit} bytes)"
            )));
        }
        let chunk = if batch.checked_mul(field).is_some_and(|b| b <= limit) {
            batch
        } else {
            // Chunk offsets must be multiples of the offset alignment for
            // every tensor layout the plan binds (real, half and full spectra).
            let align = gpu.limits.min_storage_buffer_offset_alignment as usize;
            let mut m = 1;
            for bytes in [4 * h * w, 8 * h * (w / 2 + 1), 8 * h * w] {
                let need = align / gcd(bytes, align);
                m = m * need / gcd(m, need);
            }
            let c = (limit / field) / m * m;
            if c == 0 {
                return Err(Error::InvalidArgument(format!(
                    "storage binding limit {limit} bytes too small to split a batch of {h}x{w} fields at aligned offsets"
                )));
            }
            c
        };
        let scratch = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("fft scratch"),
            size: (chunk * field) as u64,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        Ok(Self {
            gpu: gpu.clone(),
            batch,
            h,
            w,
            chunk,
            strategy: options
                .strategy
                .unwrap_or_else(|| Strategy::for_adapter(gpu)),
            scratch,
            built: Default::default(),
            twiddles: Mutex::new(HashMap::new()),
        })
    }

    /// A plan for `batch` fields of `h × w` with the adapter's defaults.
    ///
    /// # Errors
    /// As [`Fft2d::with_options`].
    pub fn new(gpu: &Gpu, batch: usize, h: usize, w: usize) -> Result<Self> {
        Self::with_options(gpu, batch, h, w, FftOptions::default())
    }

    /// The stage organisation in use.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// (batch, H, W).
    pub fn shape(&self) -> (usize, usize, usize) {
        (self.batch, self.h, self.w)
    }

    /// Fields per chunk; equals the batch unless the batch was split.
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// The two line passes of `t`, in execution order.
    fn line_passes(&self, t: Transform) -> Vec<LinePass> {
        let (h, w) = (self.h, self.w);
        let half = w / 2 + 1;
        let rows = |inverse: bool| LinePass {
            n: w,
            mode: Mode::C2c,
            inverse,
            lines_per_field: h,
            input: (w, h * w, 1),
            output: (w, h * w, 1),
            scale: if inverse { 1.0 / w as f32 } else { 1.0 },
            from: Io::User,
            to: Io::Scratch,
        };
        let cols = |inverse: bool, width: usize, from: Io, to: Io| LinePass {
            n: h,
            mode: Mode::C2c,
            inverse,
            lines_per_field: width,
            input: (1, h * width, width),
            output: (1, h * width, width),
            scale: if inverse { 1.0 / h as f32 } else { 1.0 },
            from,
            to,
        };
        match t {
            Transform::Forward => vec![rows(false), cols(false, w, Io::Scratch, Io::User)],
            Transform::Inverse => vec![rows(true), cols(true, w, Io::Scratch, Io::User)],
            Transform::R2c => vec![
                LinePass {
                    n: w / 2,
                    mode: Mode::R2cPost,
                    inverse: false,
                    lines_per_field: h,
                    input: (w / 2, h * w / 2, 1),
                    output: (half, h * half, 1),
                    scale: 1.0,
                    from: Io::User,
                    to: Io::Scratch,
                },
                cols(false, half, Io::Scratch, Io::User),
            ],
            Transform::C2r => vec![
                cols(true, half, Io::User, Io::Scratch),
                LinePass {
                    n: w / 2,
                    mode: Mode::C2rPre,
                    inverse: true,
                    lines_per_field: h,
                    input: (half, h * half, 1),
                    output: (w / 2, h * w / 2, 1),
                    scale: 2.0 / w as f32,
                    from: Io::Scratch,
                    to: Io::User,
                },
            ],
        }
    }

    /// exp(-2πi j / len) for j < len, computed in f64, uploaded once.
    fn twiddle_table(&self, len: usize) -> Arc<wgpu::Buffer> {
        let mut cache = self.twiddles.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(len)
            .or_insert_with(|| {
                let data: Vec<f32> = (0..len)
                    .flat_map(|j| {
                        let a = -2.0 * std::f64::consts::PI * j as f64 / len as f64;
                        [a.cos() as f32, a.sin() as f32]
                    })
                    .collect();
                Arc::new(
                    Tensor::from_f32(&self.gpu, &[len], DType::C32, &data)
                        .map(|t| t.buffer)
                        .unwrap_or_else(|_| unreachable!("len >= 1 complex values")),
                )
            })
            .clone()
    }

    fn build(&self, t: Transform) -> Result<Vec<BuiltPass>> {
        let wg_bytes =
            (self.gpu.limits.max_compute_workgroup_storage_size as usize).min(WORKGROUP_BYTES);
        self.line_passes(t)
            .into_iter()
            .map(|lp| {
                let n = lp.n;
                let radices = self.strategy.radices(n);
                let threads = n / radices.iter().max().copied().unwrap_or(n);
                // Workgroup memory is used to exchange between stages and
                // by the r2c post-processing.
                let exchange = radices.len() > 1 || lp.mode == Mode::R2cPost;
                // Lines per workgroup: 64 threads (a multiple of every GPU's
                // SIMD width; 8 SIMD rows on lavapipe), within the
                // ping-pong workgroup memory budget.
                let by_mem = if exchange {
                    (wg_bytes / (16 * n)).max(1)
                } else {
                    64
                };
                let lpw = (64 / threads).clamp(1, by_mem);
                let radix = |i: usize| radices.get(i).copied().unwrap_or(1) as f64;
                let real = lp.mode != Mode::C2c;
                let kernel = self.gpu.kernel(
                    &SPEC,
                    &[
                        ("N", n as f64),
                        ("RADIX0", radix(0)),
                        ("RADIX1", radix(1)),
                        ("RADIX2", radix(2)),
                        ("RADIX3", radix(3)),
                        ("STAGES", radices.len() as f64),
                        ("HALF", if exchange { (lpw * n) as f64 } else { 1.0 }),
                        ("T", threads as f64),
                        ("LPW", lpw as f64),
                        ("LANES_OVER_LINES", f64::from(u8::from(lp.input.2 != 1))),
                        ("INVERSE", f64::from(u8::from(lp.inverse))),
                        ("MODE", lp.mode as u32 as f64),
                        ("IN_ELEM", lp.input.2 as f64),
                        ("OUT_ELEM", lp.output.2 as f64),
                        ("WG", (threads * lpw) as f64),
                    ],
                )?;
                let twiddles = self.twiddle_table(if real { 2 * n } else { n });
                let mut sizes = vec![self.chunk];
                if !self.batch.is_multiple_of(self.chunk) {
                    sizes.push(self.batch % self.chunk);
                }
                let uniforms = sizes
                    .into_iter()
                    .map(|fields| {
                        let p = Params {
                            lines: (fields * lp.lines_per_field) as u32,
                            lines_per_batch: lp.lines_per_field as u32,
                            tw_stride: if real { 2 } else { 1 },
                            _pad0: 0,
                            in_line: lp.input.0 as u32,
                            in_batch: lp.input.1 as u32,
                            out_line: lp.output.0 as u32,
                            out_batch: lp.output.1 as u32,
                            scale: lp.scale,
                            _pad1: [0; 3],
                        };
                        (fields, self.gpu.uniform("fft params", &p))
                    })
                    .collect();
                Ok(BuiltPass {
                    kernel,
                    twiddles,
                    uniforms,
                    lpw,
                    lines_per_field: lp.lines_per_field,
                    from: lp.from,
                    to: lp.to,
                })
            })
            .collect()
    }

    fn passes(&self, t: Transform) -> Result<&[BuiltPass]> {
        let i = ALL.iter().position(|x| *x == t).unwrap_or(0);
        if let Some(p) = self.built[i].get() {
            return Ok(p);
        }
        let built = self.build(t)?;
        Ok(self.built[i].get_or_init(|| built))
    }

    /// Expected (dtype, last-axis length) of the input and output of `t`.
    fn layouts(&self, t: Transform) -> ((DType, usize), (DType, usize)) {
        let half = self.w / 2 + 1;
        match t {
            Transform::Forward | Transform::Inverse => ((DType::C32, self.w), (DType::C32, self.w)),
            Transform::R2c => ((DType::F32, self.w), (DType::C32, half)),
            Transform::C2r => ((DType::C32, half), (DType::F32, self.w)),
        }
    }

    fn check(&self, what: &str, t: &Tensor, (dtype, last): (DType, usize)) -> Result<()> {
        let s = &t.shape;
        let ok = t.dtype == dtype
            && s.len() >= 2
            && s[s.len() - 2] == self.h
            && s[s.len() - 1] == last
            && s[..s.len() - 2].iter().product::<usize>() == self.batch;
        if ok {
            Ok(())
        } else {
            Err(Error::Shape(format!(
                "FFT {what}: expected {dtype:?} [{}, {}, {last}] (any leading dims of product {}), got {:?} {s:?}",
                self.batch, self.h, self.batch, t.dtype
            )))
        }
    }

    /// Binding of fields `start..start + fields` of `tensor`, or of the
    /// scratch buffer (which always holds one chunk from offset 0).
    fn window<'a>(
        &'a self,
        tensor: Option<&'a Tensor>,
        start: usize,
        fields: usize,
    ) -> wgpu::BindingResource<'a> {
        let (buffer, field_bytes, offset) = match tensor {
            Some(x) => {
                let fb = x.bytes() / self.batch as u64;
                (&x.buffer, fb, start as u64 * fb)
            }
            None => (&self.scratch, 8 * (self.h * self.w) as u64, 0),
        };
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer,
            offset,
            size: wgpu::BufferSize::new(fields as u64 * field_bytes),
        })
    }

    /// Records transform `t` of `input` into `output` in an open compute
    /// pass. For c2c transforms `input` and `output` may be the same tensor.
    ///
    /// # Errors
    /// [`Error::Shape`] if the tensors do not match the plan (checked before
    /// anything is recorded); [`Error::Shader`] if a pipeline fails to build.
    pub fn record(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        t: Transform,
        input: &Tensor,
        output: &Tensor,
    ) -> Result<()> {
        let (lin, lout) = self.layouts(t);
        self.check("input", input, lin)?;
        self.check("output", output, lout)?;
        if t == Transform::R2c || t == Transform::C2r {
            if self.w < 4 {
                return Err(Error::InvalidArgument(format!(
                    "real FFTs need width >= 4, plan has {}",
                    self.w
                )));
            }
            if input.buffer == output.buffer {
                return Err(Error::InvalidArgument(
                    "real FFTs cannot run in place (input and output differ in size)".into(),
                ));
            }
        }
        let passes = self.passes(t)?;
        let mut start = 0;
        while start < self.batch {
            let fields = self.chunk.min(self.batch - start);
            for bp in passes {
                let uniform = bp
                    .uniforms
                    .iter()
                    .find(|(f, _)| *f == fields)
                    .map(|(_, u)| u)
                    .ok_or_else(|| Error::InvalidArgument("FFT chunk size mismatch".into()))?;
                let src = self.window((bp.from == Io::User).then_some(input), start, fields);
                let dst = self.window((bp.to == Io::User).then_some(output), start, fields);
                let bg = self.gpu.bind(
                    &bp.kernel,
                    &[
                        uniform.as_entire_binding(),
                        bp.twiddles.as_entire_binding(),
                        src,
                        dst,
                    ],
                );
                let groups = (fields * bp.lines_per_field).div_ceil(bp.lpw);
                self.gpu.dispatch(pass, &bp.kernel, &bg, groups as u32);
            }
            start += fields;
        }
        Ok(())
    }

    /// Records transform `t` in its own compute pass of `encoder`.
    ///
    /// # Errors
    /// As [`Fft2d::record`].
    pub fn run(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        t: Transform,
        input: &Tensor,
        output: &Tensor,
    ) -> Result<()> {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("fft"),
            timestamp_writes: None,
        });
        self.record(&mut pass, t, input, output)
    }
}
