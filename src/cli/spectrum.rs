//! `diffclosure spectrum`: time-averaged energy and enstrophy spectra of a
//! trajectory file, and the resolution criterion of science.md §2.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use crate::cli::GpuArgs;
use crate::data::io;
use crate::fft::{Fft2d, Transform};
use crate::gpu::{DType, Gpu, Tensor};
use crate::ns::diagnostics::{pdf, shell_spectra};

/// Options of `diffclosure spectrum`.
#[derive(Args, Debug)]
pub struct SpectrumArgs {
    /// A file written by `simulate`.
    #[arg(long)]
    input: PathBuf,
    /// Only snapshots at or after this time.
    #[arg(long, default_value_t = 0.0)]
    from: f64,
    /// Write the spectra and statistics as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn mean_rms_of(rms: &[f64]) -> f64 {
    (rms.iter().sum::<f64>() / rms.len().max(1) as f64).max(f64::MIN_POSITIVE)
}

/// Runs `diffclosure spectrum`.
///
/// # Errors
/// An unreadable or malformed input, no snapshot after `--from`.
pub fn run(gpu_args: &GpuArgs, a: &SpectrumArgs) -> Result<()> {
    let f = io::read(&a.input)?;
    let w = f.get(&a.input, "vorticity")?;
    let time = &f.get(&a.input, "time")?.data;
    let length: f64 = f
        .meta(&a.input, "length")?
        .parse()
        .map_err(|e| anyhow::anyhow!("{}: metadata length: {e}", a.input.display()))?;
    let s = &w.shape;
    if s.len() != 4 || s[2] != s[3] || s[0] != time.len() {
        bail!(
            "{}: vorticity shape {s:?}, expected [T, B, n, n] with T = {}",
            a.input.display(),
            time.len()
        );
    }
    let (b, n) = (s[1], s[2]);
    let keep: Vec<usize> = (0..s[0])
        .filter(|&t| f64::from(time[t]) >= a.from)
        .collect();
    if keep.is_empty() {
        bail!("no snapshot at or after t = {}", a.from);
    }
    let gpu = Gpu::new(&gpu_args.options()?)?;
    let fft = Fft2d::new(&gpu, b, n, n)?;
    let phys = Tensor::zeros(&gpu, &[b, n, n], DType::F32)?;
    let spec = Tensor::zeros(&gpu, &[b, n, n / 2 + 1], DType::C32)?;
    let per = b * n * n;
    let (mut e_avg, mut z_avg) = (Vec::new(), Vec::new());
    let mut rms = Vec::new();
    for &t in &keep {
        let field = &w.data[t * per..(t + 1) * per];
        rms.push((field.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / per as f64).sqrt());
        phys.write(&gpu, field)?;
        let mut enc = gpu.encoder("spectrum");
        fft.run(&mut enc, Transform::R2c, &phys, &spec)?;
        gpu.submit(enc);
        let hat = gpu.read_one(&spec)?;
        for sample in hat.chunks_exact(2 * n * (n / 2 + 1)) {
            let (e, z) = shell_spectra(sample, n, length);
            if e_avg.is_empty() {
                e_avg = vec![0.0; e.len()];
                z_avg = vec![0.0; z.len()];
            }
            let c = 1.0 / (keep.len() * b) as f64;
            e_avg.iter_mut().zip(&e).for_each(|(a, v)| *a += c * v);
            z_avg.iter_mut().zip(&z).for_each(|(a, v)| *a += c * v);
        }
    }
    let mean_rms = mean_rms_of(&rms);
    // Vorticity PDF over the kept snapshots, in units of the mean rms, on
    // ±6 rms (60 bins).
    let mut all: Vec<f32> = Vec::with_capacity(keep.len() * per);
    for &t in &keep {
        all.extend(
            w.data[t * per..(t + 1) * per]
                .iter()
                .map(|v| (f64::from(*v) / mean_rms) as f32),
        );
    }
    let (pdf_x, pdf_y) = pdf(&all, 6.0, 60);
    let cutoff = n / 3;
    let (peak_k, peak) =
        z_avg.iter().enumerate().skip(1).fold(
            (0, 0.0),
            |(bk, bv), (k, &v)| if v > bv { (k, v) } else { (bk, bv) },
        );
    if peak == 0.0 {
        bail!(
            "{}: the vorticity is zero in every kept snapshot",
            a.input.display()
        );
    }
    let decades = (peak / z_avg[cutoff]).log10();
    let (lo, hi) = rms
        .iter()
        .fold((f64::MAX, 0f64), |(l, h), v| (l.min(*v), h.max(*v)));
    println!(
        "{}: {} snapshots (t = {:.2} .. {:.2}), {b} x {n}x{n}",
        a.input.display(),
        keep.len(),
        time[keep[0]],
        time[keep[keep.len() - 1]]
    );
    println!("rms vorticity: mean {mean_rms:.4}, min {lo:.4}, max {hi:.4}");
    println!(
        "energy ½<|u|²> = {:.5}, enstrophy ½<ω²> = {:.5}",
        e_avg.iter().sum::<f64>(),
        z_avg.iter().sum::<f64>()
    );
    println!(
        "enstrophy spectrum: peak {peak:.3e} at |k| = {peak_k}; at the 2/3 cutoff |k| = {cutoff}: {:.3e}; {decades:.2} decades below the peak ({})",
        z_avg[cutoff],
        if decades >= 4.0 { "resolved: >= 4 decades" } else { "NOT resolved: < 4 decades" }
    );
    if let Some(path) = &a.json {
        let v = serde_json::json!({
            "input": a.input.display().to_string(),
            "snapshots": keep.len(),
            "t_from": time[keep[0]],
            "t_to": time[keep[keep.len() - 1]],
            "rms_vorticity": {"mean": mean_rms, "min": lo, "max": hi},
            "energy_spectrum": e_avg,
            "enstrophy_spectrum": z_avg,
            "enstrophy_peak_k": peak_k,
            "cutoff_k": cutoff,
            "decades_peak_to_cutoff": decades,
            "resolved": decades >= 4.0,
            "vorticity_pdf": {"x_over_rms": pdf_x, "density": pdf_y},
        });
        io::write_bytes_atomic(path, serde_json::to_string_pretty(&v)?.as_bytes())?;
    }
    Ok(())
}
