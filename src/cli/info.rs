//! `diffclosure info`: adapters, limits, features, and a self-check.

use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use crate::cli::GpuArgs;
use crate::fft::{Fft2d, Transform};
use crate::gpu::{list_adapters, selected_adapter, DType, Gpu, Tensor};
use crate::rng::{Distribution, Rng};

/// Options of `diffclosure info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Only list adapters; do not open one and run the self-check.
    #[arg(long)]
    no_check: bool,
    /// Print the listing as JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Result of the self-check on the selected adapter.
#[derive(serde::Serialize)]
struct SelfCheck {
    adapter: String,
    fft_roundtrip_max_rel_error: f64,
    fft_parseval_rel_error: f64,
    rng_normal_mean: f64,
    rng_normal_var: f64,
    seconds: f64,
}

/// Round trip and Parseval of a 64x64 batch-4 random field, and the mean
/// and variance of 2^16 normals: the kernels run and give sane numbers.
fn self_check(gpu: &Gpu) -> Result<SelfCheck> {
    let t0 = Instant::now();
    let (b, n) = (4, 64);
    let x = Tensor::zeros(gpu, &[b, n, n], DType::C32)?;
    let spec = Tensor::zeros(gpu, &[b, n, n], DType::C32)?;
    let back = Tensor::zeros(gpu, &[b, n, n], DType::C32)?;
    let normals = Tensor::zeros(gpu, &[1 << 16], DType::F32)?;
    let fft = Fft2d::new(gpu, b, n, n)?;
    let mut rng = Rng::new(1);
    let mut enc = gpu.encoder("info self-check");
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("self-check"),
            timestamp_writes: None,
        });
        rng.record(gpu, &mut pass, Distribution::Normal, &x)?;
        rng.record(gpu, &mut pass, Distribution::Normal, &normals)?;
        fft.record(&mut pass, Transform::Forward, &x, &spec)?;
        fft.record(&mut pass, Transform::Inverse, &spec, &back)?;
    }
    gpu.submit(enc);
    let r = gpu.read(&[&x, &spec, &back, &normals])?;
    let (xs, ss, bs, zs) = (&r[0], &r[1], &r[2], &r[3]);
    let max_x = xs.iter().fold(0f64, |m, v| m.max(f64::from(v.abs())));
    let rt = xs
        .iter()
        .zip(bs)
        .fold(0f64, |m, (a, b)| m.max(f64::from((a - b).abs())))
        / max_x;
    let e_x: f64 = xs.iter().map(|v| f64::from(*v).powi(2)).sum();
    let e_s: f64 = ss.iter().map(|v| f64::from(*v).powi(2)).sum();
    let parseval = (e_s / (n * n) as f64 - e_x).abs() / e_x;
    let mean = zs.iter().map(|v| f64::from(*v)).sum::<f64>() / zs.len() as f64;
    let var = zs
        .iter()
        .map(|v| (f64::from(*v) - mean).powi(2))
        .sum::<f64>()
        / zs.len() as f64;
    Ok(SelfCheck {
        adapter: gpu.describe(),
        fft_roundtrip_max_rel_error: rt,
        fft_parseval_rel_error: parseval,
        rng_normal_mean: mean,
        rng_normal_var: var,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Runs `diffclosure info`.
///
/// # Errors
/// No adapter for the chosen backend / selector (with install
/// instructions), or a failed self-check.
pub fn run(gpu_args: &GpuArgs, args: &InfoArgs) -> Result<()> {
    let opts = gpu_args.options()?;
    let adapters = list_adapters(opts.backend);
    // Resolves --backend/--adapter (a clear error when nothing matches)
    // before any device is opened, also with --no-check.
    let selected = selected_adapter(&opts)?;
    let gpu = if args.no_check {
        None
    } else {
        Some(Gpu::new(&opts)?)
    };
    let check = match &gpu {
        Some(g) => Some(self_check(g).context("self-check on the selected adapter")?),
        None => None,
    };
    if args.json {
        let adapters_json: Vec<serde_json::Value> = adapters
            .iter()
            .map(|a| {
                let limits: serde_json::Map<String, serde_json::Value> = a
                    .limits
                    .iter()
                    .map(|(k, v)| (k.clone(), (*v).into()))
                    .collect();
                let features: serde_json::Map<String, serde_json::Value> = a
                    .features
                    .iter()
                    .map(|(k, v)| (k.clone(), (*v).into()))
                    .collect();
                serde_json::json!({
                    "index": a.index,
                    "name": a.name,
                    "backend": a.backend,
                    "device_type": a.device_type,
                    "driver": a.driver,
                    "selected": a.index == selected,
                    "limits": limits,
                    "features": features,
                })
            })
            .collect();
        let v = serde_json::json!({
            "adapters": adapters_json,
            "selected": selected,
            "self_check": check,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{} adapter(s):", adapters.len());
        for a in &adapters {
            println!(
                "{} [{}] {} — backend {}, type {}, driver {}",
                if a.index == selected { "*" } else { " " },
                a.index,
                a.name,
                a.backend,
                a.device_type,
                a.driver
            );
            for (k, v) in &a.limits {
                println!("      {k:<40} {v}");
            }
            let have: Vec<&str> = a
                .features
                .iter()
                .map(|(k, on)| if *on { k.as_str() } else { "" })
                .filter(|s| !s.is_empty())
                .collect();
            println!("      features: {}", have.join(", "));
        }
        if let Some(c) = &check {
            println!("selected: {}", c.adapter);
            println!(
                "self-check: FFT 64x64 x4 round-trip max error {:.2e} (rel. to max |x|), Parseval {:.2e}; \
                 RNG 65536 normals mean {:+.4} var {:.4}; {:.2} s",
                c.fft_roundtrip_max_rel_error,
                c.fft_parseval_rel_error,
                c.rng_normal_mean,
                c.rng_normal_var,
                c.seconds
            );
        }
    }
    if let Some(c) = &check {
        // f32 round trip of a 64x64 transform: ~1e-7 typical; 1e-4 flags a
        // broken kernel, not rounding. Normals: the standard errors of the
        // mean and variance of 65536 samples are 0.0039 and 0.0055; the
        // bounds are 6 of them (the seed is fixed, so this is deterministic
        // on a given adapter; a wrong generator misses by far more).
        anyhow::ensure!(
            c.fft_roundtrip_max_rel_error < 1e-4
                && c.fft_parseval_rel_error < 1e-4
                && c.rng_normal_mean.abs() < 0.025
                && (c.rng_normal_var - 1.0).abs() < 0.035,
            "self-check failed on {}: the adapter computes wrong results",
            c.adapter
        );
    }
    Ok(())
}
