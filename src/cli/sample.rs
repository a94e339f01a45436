//! `diffclosure sample`: closure samples from a trained score network for
//! the conditions of a dataset (batch generation: headless, resumable,
//! shardable over a cluster), and `diffclosure merge` of the shards.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{GpuArgs, SamplerArgs};
use crate::data::dataset::Samples;
use crate::data::io::{self, NamedTensor};
use crate::gpu::{DType, Gpu, Tensor};
use crate::plot::gif::heatmap_gif;
use crate::plot::heatmap::{heatmap_strip_png, HeatmapOptions};
use crate::score::checkpoint;
use crate::score::spectral_conv::Method;
use crate::sde::generate::Generator;
use crate::sde::{frame_steps, Frames, Noise, SamplerConfig};

/// The `format` metadata value of a samples file.
pub const FORMAT: &str = "diffclosure.samples.v1";

/// Options of `diffclosure sample`.
#[derive(Args, Debug)]
pub struct SampleArgs {
    /// Trained score network (`diffclosure train` checkpoint).
    #[arg(long)]
    model: PathBuf,
    /// Dataset split whose vorticity and sensor values condition the
    /// samples (normally the test split; `dataset --grid 128/256
    /// --sensor-grid 64` builds the finer ones of the resolution study).
    #[arg(long)]
    data: PathBuf,
    /// Grid to sample on: must be the dataset's (the check guards the
    /// resolution study against a mixed-up file) [default: the dataset's].
    #[arg(long)]
    grid: Option<usize>,
    /// Samples per condition K (an ensemble: spread, CRPS).
    #[arg(long, default_value_t = 1)]
    samples_per_condition: usize,
    /// Use this many conditions, evenly spaced through the dataset
    /// [default: all].
    #[arg(long)]
    conditions: Option<usize>,
    #[command(flatten)]
    sampler: SamplerArgs,
    /// Seed of the noise (a sample's noise depends only on the seed and
    /// its place in the job, not on batches or shards).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Samples per GPU batch.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Spectral convolutions by truncated DFTs or FFTs (the results agree
    /// to f32 rounding; fft was the faster on every shape measured).
    #[arg(long, default_value = "fft")]
    spectral: String,
    /// This run's part of the job, `i/n` (0 <= i < n): the conditions are
    /// cut into n contiguous pieces; or `slurm`: the piece of this task of
    /// a Slurm array job ((SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN) /
    /// SLURM_ARRAY_TASK_STEP of SLURM_ARRAY_TASK_COUNT). `%i` and `%n` in
    /// --out are replaced; for a shard of several without them,
    /// `.shard-I-of-N` goes before the extension. `diffclosure merge` joins
    /// the shards. Default: the whole job.
    #[arg(long)]
    shard: Option<String>,
    /// Output samples file (safetensors: `samples` [C, K, n, n],
    /// `condition` [C] (dataset indices), `target` [C, n, n]).
    #[arg(long)]
    out: PathBuf,
    /// Continue an interrupted run from `OUT.partial`.
    #[arg(long)]
    resume: bool,
    /// Batches between progress saves to `OUT.partial`.
    #[arg(long, default_value_t = 20)]
    checkpoint_every: usize,
    /// Write the denoising trajectory of the job's first sample to this
    /// directory (by shard 0): `trajectory.png` (a strip from the noise at
    /// t_max to the sample, at most 24 frames, then the truth) and
    /// `trajectory.gif` (at most 60 frames).
    #[arg(long)]
    trajectory: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// `i/n` from the flag (`i/n` or `slurm`: Slurm's array variables).
fn shard(flag: Option<&str>) -> Result<(usize, usize)> {
    let parse = |s: &str, what: &str| -> Result<usize> {
        s.trim()
            .parse()
            .with_context(|| format!("{what} '{s}' is not a non-negative integer"))
    };
    let env = |name: &str| -> Result<usize> {
        let v = std::env::var(name).with_context(|| {
            format!("--shard slurm: {name} is not set (not a Slurm array task?)")
        })?;
        parse(&v, name)
    };
    let (i, n) = match flag {
        None => (0, 1),
        Some("slurm") => {
            let (id, min, count) = (
                env("SLURM_ARRAY_TASK_ID")?,
                env("SLURM_ARRAY_TASK_MIN")?,
                env("SLURM_ARRAY_TASK_COUNT")?,
            );
            let step = std::env::var("SLURM_ARRAY_TASK_STEP")
                .ok()
                .map(|v| parse(&v, "SLURM_ARRAY_TASK_STEP"))
                .transpose()?
                .unwrap_or(1)
                .max(1);
            if id < min || (id - min) % step != 0 {
                bail!("SLURM_ARRAY_TASK_ID {id} is not in the array {min}, {min}+{step}, …: use --shard i/n for arrays given as lists");
            }
            ((id - min) / step, count)
        }
        Some(s) => {
            let (i, n) = s
                .split_once('/')
                .with_context(|| format!("--shard '{s}': expected i/n (e.g. 0/4) or slurm"))?;
            (parse(i, "--shard index")?, parse(n, "--shard count")?)
        }
    };
    if n == 0 || i >= n {
        bail!("shard {i}/{n}: need 0 <= i < n");
    }
    Ok((i, n))
}

/// The output path of shard `i` of `n`.
fn shard_path(out: &Path, (i, n): (usize, usize)) -> PathBuf {
    if n == 1 {
        return out.to_path_buf();
    }
    let s = out.to_string_lossy();
    if s.contains("%i") || s.contains("%n") {
        return PathBuf::from(
            s.replace("%i", &i.to_string())
                .replace("%n", &n.to_string()),
        );
    }
    let tag = format!("shard-{i}-of-{n}");
    match (out.file_stem(), out.extension()) {
        (Some(stem), Some(ext)) => out.with_file_name(format!(
            "{}.{tag}.{}",
            stem.to_string_lossy(),
            ext.to_string_lossy()
        )),
        _ => PathBuf::from(format!("{s}.{tag}")),
    }
}

/// The job's conditions: `count` dataset indices evenly spaced over `len`.
fn conditions(len: usize, count: Option<usize>) -> Result<Vec<usize>> {
    let c = count.unwrap_or(len);
    if c == 0 {
        bail!("--conditions 0: must be >= 1");
    }
    if c > len {
        bail!("--conditions {c}: the dataset has only {len} samples");
    }
    Ok((0..c).map(|j| j * len / c).collect())
}

/// The metadata that identifies a job (every shard and resumed piece of it
/// must carry the same).
fn job_metadata(
    a: &SampleArgs,
    cfg: &SamplerConfig,
    data: &Samples,
    (model_params, model_meta): (&[f32], &HashMap<String, String>),
    conditions: usize,
) -> HashMap<String, String> {
    let mut m = HashMap::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.to_string(), v);
    };
    put("format", FORMAT.into());
    put("model.hash", fingerprint(&[model_params]));
    put(
        "data.hash",
        fingerprint(&[&data.omega, &data.obs, &data.target]),
    );
    put("data.samples", data.len.to_string());
    put("grid", data.grid.to_string());
    put("sensors", data.sensors.to_string());
    put(
        "scenario",
        data.meta.get("scenario").cloned().unwrap_or_default(),
    );
    for (k, v) in a.sampler.metadata() {
        put(k, v);
    }
    put("sde.s", cfg.sde.s.to_string());
    put("seed", a.seed.to_string());
    put("samples_per_condition", a.samples_per_condition.to_string());
    put("conditions", conditions.to_string());
    put("spectral", a.spectral.to_lowercase());
    for (k, v) in model_meta {
        if k.starts_with("score.") || k == "train.epoch" || k == "train.samples" {
            put(&format!("model.{k}"), v.clone());
        }
    }
    m
}

/// A 64-bit FNV-1a hash of the values' bits, as hex: identifies a model's
/// weights or a dataset independently of its path.
fn fingerprint(parts: &[&[f32]]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in parts.iter().flat_map(|p| p.iter()) {
        for b in v.to_bits().to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Metadata of a samples file that does not identify the job: where its
/// inputs lay, which shard it is, and how long it took.
const VOLATILE: [&str; 8] = [
    "model",
    "data",
    "batch",
    "shard",
    "first_condition",
    "wall_s",
    "timed_samples",
    "adapter",
];

/// Runs `diffclosure sample`.
///
/// # Errors
/// Bad arguments, a model and dataset that do not fit each other (all
/// before any GPU work), an existing output, I/O errors.
pub fn run(gpu_args: &GpuArgs, a: &SampleArgs) -> Result<()> {
    let method: Method = a.spectral.parse()?;
    let k = a.samples_per_condition;
    if k == 0 || a.batch == 0 || a.checkpoint_every == 0 {
        bail!("--samples-per-condition, --batch and --checkpoint-every must be >= 1");
    }
    let (si, sn) = shard(a.shard.as_deref())?;
    let out = shard_path(&a.out, (si, sn));
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    for p in [&a.model, &a.data] {
        if io::same_file(p, &out) || io::same_file(p, &partial) {
            bail!("{} is both an input and the output", p.display());
        }
    }
    io::refuse_existing(&out)?;
    if !a.resume && partial.exists() {
        bail!(
            "{} exists (an interrupted run): continue it with --resume, or delete it",
            partial.display()
        );
    }
    io::check_writable(&out)?;
    let ck = checkpoint::load(&a.model)?;
    let cfg = a
        .sampler
        .config(&ck.meta)
        .with_context(|| format!("sampling {}", a.model.display()))?;
    let data = Samples::read(&a.data)?;
    let n = data.grid;
    if let Some(g) = a.grid {
        if g != n {
            bail!(
                "--grid {g}, but {} holds a {n}x{n} dataset: build the {g}x{g} test set with `diffclosure dataset --grid {g} --sensor-grid <training grid>`",
                a.data.display()
            );
        }
    }
    ck.config.check_grid(n).with_context(|| {
        format!(
            "{} ({} modes) cannot run on the {n}x{n} data of {}",
            a.model.display(),
            ck.config.modes,
            a.data.display()
        )
    })?;
    checkpoint::check_preset(&ck.meta, &data.meta)
        .with_context(|| format!("{} with {}", a.model.display(), a.data.display()))?;
    let scenario = data.meta.get("scenario").cloned().unwrap_or_default();
    if let Some(trained) = ck.meta.get("data.scenario") {
        if *trained != scenario {
            bail!(
                "{} was trained on scenario {trained}, {} holds {scenario}",
                a.model.display(),
                a.data.display()
            );
        }
    }
    if ck.config.sparse {
        if let Some(trained) = ck.meta.get("data.sensors") {
            if *trained != data.sensors.to_string() {
                bail!(
                    "{} was trained with {trained}x{trained} sensors; {} has {s}x{s}: the sparse pipeline needs the sensors it was trained on",
                    a.model.display(),
                    a.data.display(),
                    s = data.sensors
                );
            }
        }
    }
    let all = conditions(data.len, a.conditions)?;
    if sn > all.len() {
        bail!(
            "{sn} shards for {} conditions: some would be empty",
            all.len()
        );
    }
    let (c0, c1) = (si * all.len() / sn, (si + 1) * all.len() / sn);
    let mine = &all[c0..c1];
    let items = mine.len() * k;
    let mut meta = job_metadata(a, &cfg, &data, (&ck.params, &ck.meta), all.len());
    meta.insert("shard".into(), format!("{si}/{sn}"));
    meta.insert("first_condition".into(), c0.to_string());
    meta.insert("model".into(), a.model.display().to_string());
    meta.insert("data".into(), a.data.display().to_string());
    meta.insert("batch".into(), a.batch.to_string());

    // Resume: the samples done so far, from a run of the same job.
    let mut samples: Vec<f32> = Vec::with_capacity(items * n * n);
    if a.resume && partial.exists() {
        let f = io::read(&partial)?;
        // Everything but where the inputs lie (their hashes are compared)
        // and the batch size (a sample's noise does not depend on it).
        for (key, want) in meta
            .iter()
            .filter(|(k, _)| !["model", "data", "batch"].contains(&k.as_str()))
        {
            let have = f.metadata.get(key);
            if have != Some(want) {
                bail!(
                    "{}: {key} = {}, this run has {want}: --resume continues the same job",
                    partial.display(),
                    have.map_or("(missing)", String::as_str)
                );
            }
        }
        let s = f.get(&partial, "samples")?;
        if s.data.len() % (n * n) != 0 || s.data.len() > items * n * n {
            bail!(
                "{}: samples tensor of {} values",
                partial.display(),
                s.data.len()
            );
        }
        samples.extend_from_slice(&s.data);
        eprintln!(
            "resuming {}: {} of {items} samples done",
            partial.display(),
            samples.len() / (n * n)
        );
    } else if a.resume {
        eprintln!(
            "{} not found: starting from the beginning",
            partial.display()
        );
    }

    // The trajectory is drawn by shard 0; its files are checked now.
    let traj_dir = a.trajectory.clone().filter(|_| si == 0);
    if let Some(dir) = &traj_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
        io::refuse_existing(&dir.join("trajectory.png"))?;
        io::refuse_existing(&dir.join("trajectory.gif"))?;
    } else if a.trajectory.is_some() {
        eprintln!("--trajectory: drawn by shard 0 only");
    }
    let gpu = Gpu::new(&gpu_args.options()?)?;
    let generator = Generator::new(&gpu, &ck.config, &ck.params, &data, cfg, a.batch, method)?;
    let b = generator.batch();
    // Pipelines are compiled before the clock starts.
    generator.prepare()?;
    // Philox blocks of 4 normals; n is a power of two >= 4, so a sample's
    // n² values start on a block boundary.
    let stride = (all.len() * k * n * n).div_ceil(4) as u64;
    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(items as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} samples [{elapsed} < {eta}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let done0 = samples.len() / (n * n);
    bar.set_position(done0 as u64);
    // Moves the samples into the tensor and back: no copy.
    let save_partial = |samples: &mut Vec<f32>| -> Result<()> {
        let t = NamedTensor {
            shape: vec![samples.len() / (n * n), n, n],
            data: std::mem::take(samples),
        };
        let r = io::write_atomic(&partial, &[("samples", &t)], &meta);
        *samples = t.data;
        Ok(r?)
    };
    // The trajectory: the first batch of shard 0, frames of its slot 0.
    let (strip_steps, gif_steps) = (frame_steps(cfg.steps, 24), frame_steps(cfg.steps, 60));
    let mut frames_done = traj_dir.is_none();
    if traj_dir.is_some() && done0 > 0 {
        eprintln!("--resume: the trajectory was drawn by the first part of the run (or not at all); skipped");
        frames_done = true;
    }
    let t0 = Instant::now();
    let mut batches = 0;
    let mut done = done0;
    while done < items {
        let count = b.min(items - done);
        let conds: Vec<usize> = (done..done + count).map(|g| mine[g / k]).collect();
        let noise = Noise {
            seed: a.seed,
            stride,
            offset: (((c0 * k + done) * n * n) / 4) as u64,
        };
        let steps: Vec<usize> = strip_steps.iter().chain(&gif_steps).copied().collect();
        let frame_tensor = if frames_done {
            None
        } else {
            Some(Tensor::zeros(&gpu, &[steps.len(), n, n], DType::F32)?)
        };
        let frames = frame_tensor.as_ref().map(|tensor| Frames {
            tensor,
            steps: &steps,
            points: n * n,
        });
        let x = generator.run(&conds, &noise, frames.as_ref())?;
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            bail!(
                "sample {} has a non-finite value (index {})",
                done + i / (n * n),
                i % (n * n)
            );
        }
        samples.extend_from_slice(&x);
        if let (Some(f), Some(dir)) = (&frame_tensor, &traj_dir) {
            let v = gpu.read_one(f)?;
            let (strip, gif) = v.split_at(strip_steps.len() * n * n);
            let truth = &data.target[conds[0] * n * n..(conds[0] + 1) * n * n];
            write_trajectory(dir, strip, gif, truth, n)?;
            frames_done = true;
        }
        done += count;
        batches += 1;
        bar.set_position(done as u64);
        bar.set_message(format!(
            "{:.2} samples/s",
            (done - done0) as f64 / t0.elapsed().as_secs_f64()
        ));
        if batches % a.checkpoint_every == 0 && done < items {
            save_partial(&mut samples)?;
        }
    }
    bar.finish_and_clear();
    let wall = t0.elapsed().as_secs_f64();
    // Timing of this process's part (a resumed run times its own part).
    meta.insert("wall_s".into(), format!("{wall:.3}"));
    meta.insert("timed_samples".into(), (done - done0).to_string());
    meta.insert("adapter".into(), gpu.describe());
    let target: Vec<f32> = mine
        .iter()
        .flat_map(|&c| data.target[c * n * n..(c + 1) * n * n].iter().copied())
        .collect();
    let tensors = [
        (
            "samples",
            NamedTensor {
                shape: vec![mine.len(), k, n, n],
                data: samples,
            },
        ),
        (
            "condition",
            NamedTensor {
                shape: vec![mine.len()],
                data: mine.iter().map(|&c| c as f32).collect(),
            },
        ),
        (
            "target",
            NamedTensor {
                shape: vec![mine.len(), n, n],
                data: target,
            },
        ),
    ];
    let refs: Vec<(&str, &NamedTensor)> = tensors.iter().map(|(k, v)| (*k, v)).collect();
    io::write_new_atomic(&out, &refs, &meta)?;
    if partial.exists() {
        std::fs::remove_file(&partial).with_context(|| format!("{}", partial.display()))?;
    }
    println!(
        "wrote {} ({} conditions x {k} samples on {n}x{n}, {} {} steps from t_max = {}): {:.2} samples/s ({:.1} ms per score evaluation per sample) on {}",
        out.display(),
        mine.len(),
        cfg.sampler,
        cfg.steps,
        cfg.t_max,
        (done - done0) as f64 / wall,
        1e3 * wall / ((done - done0).max(1) * cfg.sampler.evals(cfg.steps)) as f64,
        gpu.describe()
    );
    Ok(())
}

/// The trajectory figures: the strip's frames then the truth as PNG, the
/// GIF's frames (each `[n, n]`, concatenated), one colour scale ± max
/// |truth|.
fn write_trajectory(dir: &Path, strip: &[f32], gif: &[f32], truth: &[f32], n: usize) -> Result<()> {
    let limit = truth.iter().map(|v| f64::from(v.abs())).fold(0.0, f64::max);
    let opts = HeatmapOptions {
        limit: (limit > 0.0).then_some(limit),
        min_size: 128,
        ..Default::default()
    };
    let mut panels: Vec<&[f32]> = strip.chunks_exact(n * n).collect();
    panels.push(truth);
    heatmap_strip_png(&dir.join("trajectory.png"), &panels, n, n, &opts)?;
    let frames: Vec<&[f32]> = gif.chunks_exact(n * n).collect();
    let gif_opts = HeatmapOptions {
        min_size: 256,
        ..opts
    };
    heatmap_gif(
        &dir.join("trajectory.gif"),
        &frames,
        n,
        n,
        &gif_opts,
        (250, 1500),
    )?;
    Ok(())
}

/// Options of `diffclosure merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Shard files written by `sample --shard i/n` (any order).
    #[arg(required = true, num_args = 1..)]
    inputs: Vec<PathBuf>,
    /// The merged samples file.
    #[arg(long)]
    out: PathBuf,
}

/// Runs `diffclosure merge`: checks that the shards are of one job and
/// tile its conditions, and writes them as one file.
///
/// # Errors
/// Shards of different jobs, missing or repeated shards, an existing
/// output.
pub fn merge(a: &MergeArgs) -> Result<()> {
    io::refuse_existing(&a.out)?;
    let mut files = Vec::new();
    for p in &a.inputs {
        if io::same_file(p, &a.out) {
            bail!("{} is both an input and the output", p.display());
        }
        let f = io::read(p)?;
        if f.metadata.get("format").map(String::as_str) != Some(FORMAT) {
            bail!("{}: not a diffclosure samples file", p.display());
        }
        let first: usize = f.meta(p, "first_condition")?.parse()?;
        files.push((first, p.clone(), f));
    }
    files.sort_by_key(|f| f.0);
    let (_, p0, f0) = &files[0];
    let total: usize = f0.meta(p0, "conditions")?.parse()?;
    let mut next = 0;
    let (mut samples, mut cond, mut target) = (Vec::new(), Vec::new(), Vec::new());
    let (mut wall, mut timed) = (0.0, 0usize);
    let mut shape = Vec::new();
    for (first, p, f) in &files {
        for (key, v) in &f0.metadata {
            if VOLATILE.contains(&key.as_str()) {
                continue;
            }
            if f.metadata.get(key) != Some(v) {
                bail!(
                    "{} and {} are of different jobs ({key}: {v} vs {})",
                    p0.display(),
                    p.display(),
                    f.metadata.get(key).map_or("(missing)", String::as_str)
                );
            }
        }
        if *first != next {
            bail!(
                "the shards do not tile the {total} conditions: {} starts at condition {first}, expected {next} ({})",
                p.display(),
                if *first > next { "a shard is missing" } else { "shards overlap" }
            );
        }
        let s = f.get(p, "samples")?;
        next += s.shape[0];
        shape = s.shape.clone();
        samples.extend_from_slice(&s.data);
        cond.extend_from_slice(&f.get(p, "condition")?.data);
        target.extend_from_slice(&f.get(p, "target")?.data);
        wall += f.meta(p, "wall_s")?.parse::<f64>()?;
        timed += f.meta(p, "timed_samples")?.parse::<usize>()?;
    }
    if next != total {
        bail!("the shards cover {next} of the job's {total} conditions: a shard is missing");
    }
    let mut meta = f0.metadata.clone();
    meta.insert("shard".into(), "0/1".into());
    meta.insert("first_condition".into(), "0".into());
    meta.insert("wall_s".into(), format!("{wall:.3}"));
    meta.insert("timed_samples".into(), timed.to_string());
    let (k, n) = (shape[1], shape[2]);
    let tensors = [
        (
            "samples",
            NamedTensor {
                shape: vec![total, k, n, n],
                data: samples,
            },
        ),
        (
            "condition",
            NamedTensor {
                shape: vec![total],
                data: cond,
            },
        ),
        (
            "target",
            NamedTensor {
                shape: vec![total, n, n],
                data: target,
            },
        ),
    ];
    let refs: Vec<(&str, &NamedTensor)> = tensors.iter().map(|(k, v)| (*k, v)).collect();
    io::write_new_atomic(&a.out, &refs, &meta)?;
    println!(
        "merged {} shards into {} ({total} conditions x {k} samples)",
        files.len(),
        a.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_paths_and_conditions() {
        let p = Path::new("/x/s.safetensors");
        assert_eq!(shard_path(p, (0, 1)), p);
        assert_eq!(
            shard_path(p, (2, 4)),
            Path::new("/x/s.shard-2-of-4.safetensors")
        );
        assert_eq!(
            shard_path(Path::new("o_%i_%n.st"), (1, 3)),
            Path::new("o_1_3.st")
        );
        assert_eq!(conditions(10, Some(4)).unwrap(), vec![0, 2, 5, 7]);
        assert_eq!(conditions(3, None).unwrap(), vec![0, 1, 2]);
        assert!(conditions(3, Some(4)).is_err());
        assert!(conditions(3, Some(0)).is_err());
        assert_eq!(shard(Some("1/4")).unwrap(), (1, 4));
        assert!(shard(Some("4/4")).is_err());
        assert!(shard(Some("1")).is_err());
        assert!(shard(Some("0/0")).is_err());
    }
}
