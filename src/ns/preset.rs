//! The named set-ups of docs/specification.md §2 and Gaussian-random-field initial
//! conditions.

use std::f64::consts::PI;

use crate::error::{Error, Result};
use crate::gpu::{DType, Gpu, Tensor};
use crate::ns::{NsConfig, StochasticForcing, TimeScheme};
use crate::rng::{Distribution, Rng};

/// A named configuration, reproducible from a seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// Kolmogorov flow on `[0, 2π]²`: vorticity forcing `sin(4y)`, linear
    /// drag 0.1, ν = 1e-3, GRF start of rms vorticity 3. Stationary from
    /// t ≈ 4 (rms vorticity ≈ 2, max speed ≈ 1.5, measured with the PyTorch
    /// baseline); data window t ∈ [5, 10].
    Seed,
    /// The paper's public code on `[0, 1]²`: forcing
    /// `0.1 (sin 2π(x+y) + cos 2π(x+y))`, Q-Wiener stochastic forcing
    /// (α = 0.005, κ = 10, σ = 5e-5), ν = 1e-3, no drag, FNO-style GRF start
    /// (α = 2.5, τ = 7); data window t ∈ [30, 40].
    Reference,
}

/// Amplitude of a Gaussian-random-field start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GrfScale {
    /// Rescale each sample to this rms vorticity.
    Rms(f64),
    /// Absolute amplitude of the FNO code's `GaussianRF(2, n, α, τ)`:
    /// `n² √2 τ^(α−1) (|λ|² + τ²)^(−α/2)` per Fourier coefficient.
    FnoGaussianRf,
}

/// Gaussian random field with spectrum `(|λ|² + τ²)^(−α/2)`, `λ = 2πk/L`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grf {
    /// Spectral slope α.
    pub alpha: f64,
    /// Inverse length scale τ.
    pub tau: f64,
    /// Amplitude.
    pub scale: GrfScale,
}

/// Everything a preset fixes.
#[derive(Clone, Debug)]
pub struct PresetSpec {
    /// Domain side L.
    pub length: f64,
    /// Viscosity ν.
    pub nu: f64,
    /// Linear drag.
    pub drag: f64,
    /// Time step.
    pub dt: f64,
    /// Truth (fine) grid.
    pub fine_n: usize,
    /// Coarse-model grid.
    pub coarse_n: usize,
    /// Stochastic forcing.
    pub stochastic: Option<StochasticForcing>,
    /// Initial condition.
    pub initial: Grf,
    /// Start and end of the data window (time units).
    pub window: (f64, f64),
    /// Steps between snapshots in the data window.
    pub snapshot_every: usize,
    /// Formula of the deterministic forcing, for metadata.
    pub forcing_formula: &'static str,
}

impl Preset {
    /// Every preset, for help texts.
    pub const ALL: [Preset; 2] = [Preset::Seed, Preset::Reference];

    /// The parameters of this preset.
    pub fn spec(self) -> PresetSpec {
        // The reference noise decays as exp(-α|λ|²/2) on [0, 1]²; `seed`
        // keeps its shape in integer wavenumbers: α (2π/L)² is the same.
        let reference_noise = StochasticForcing {
            alpha: 0.005,
            kappa: 10,
            sigma: 5e-5,
        };
        match self {
            Preset::Seed => PresetSpec {
                length: 2.0 * PI,
                nu: 1e-3,
                drag: 0.1,
                dt: 1e-3,
                fine_n: 256,
                coarse_n: 64,
                stochastic: Some(StochasticForcing {
                    alpha: reference_noise.alpha * (2.0 * PI).powi(2),
                    ..reference_noise
                }),
                initial: Grf {
                    alpha: 2.5,
                    tau: 7.0,
                    scale: GrfScale::Rms(3.0),
                },
                window: (5.0, 10.0),
                snapshot_every: 10,
                forcing_formula: "sin(4 y)",
            },
            Preset::Reference => PresetSpec {
                length: 1.0,
                nu: 1e-3,
                drag: 0.0,
                dt: 1e-3,
                fine_n: 256,
                coarse_n: 64,
                stochastic: Some(reference_noise),
                initial: Grf {
                    alpha: 2.5,
                    tau: 7.0,
                    scale: GrfScale::FnoGaussianRf,
                },
                window: (30.0, 40.0),
                snapshot_every: 10,
                forcing_formula: "0.1 (sin 2 pi (x + y) + cos 2 pi (x + y))",
            },
        }
    }

    /// The deterministic vorticity forcing on an `n × n` grid, `[n, n]`
    /// row-major (`y` rows, `x` columns, points at `i L / n`).
    pub fn forcing(self, n: usize) -> Vec<f32> {
        let l = self.spec().length;
        (0..n * n)
            .map(|i| {
                let (y, x) = ((i / n) as f64 * l / n as f64, (i % n) as f64 * l / n as f64);
                let f = match self {
                    Preset::Seed => (4.0 * y).sin(),
                    Preset::Reference => {
                        let a = 2.0 * PI * (x + y);
                        0.1 * (a.sin() + a.cos())
                    }
                };
                f as f32
            })
            .collect()
    }

    /// The solver configuration of this preset on an `n × n` grid.
    pub fn config(self, n: usize, batch: usize, seed: u64) -> NsConfig {
        let s = self.spec();
        NsConfig {
            n,
            length: s.length,
            nu: s.nu,
            drag: s.drag,
            dt: s.dt,
            scheme: TimeScheme::Heun,
            batch,
            stochastic: s.stochastic,
            seed,
            advection: true,
        }
    }
}

crate::names::name_table! {
    Preset, "preset";
    Seed => "seed",
    Reference => "reference",
}

impl Grf {
    /// `batch` samples of the field's half spectrum `[batch, n, n/2+1]`
    /// (interleaved complex, NumPy `rfft2` layout), from the GPU random
    /// stream (`seed`, block 0).
    ///
    /// # Errors
    /// As [`Tensor::zeros`] and [`Gpu::read`].
    pub fn sample_hat(
        &self,
        gpu: &Gpu,
        batch: usize,
        n: usize,
        length: f64,
        seed: u64,
    ) -> Result<Vec<f32>> {
        let half = n / 2 + 1;
        let z = Tensor::zeros(gpu, &[batch, n, half], DType::C32)?;
        Rng::new(seed).fill(gpu, Distribution::Normal, &z)?;
        let z = gpu.read_one(&z)?;
        let kappa = 2.0 * PI / length;
        let sigma_fno = (n * n) as f64 * 2f64.sqrt() * self.tau.powf(self.alpha - 1.0);
        let mut out = vec![0f32; z.len()];
        for (b, (zs, os)) in z
            .chunks_exact(2 * n * half)
            .zip(out.chunks_exact_mut(2 * n * half))
            .enumerate()
        {
            let mut power = 0.0;
            for at in 0..n * half {
                let (iy, ix) = (at / half, at % half);
                let jy = if iy <= n / 2 {
                    iy as f64
                } else {
                    iy as f64 - n as f64
                };
                let lam2 = (ix as f64 * ix as f64 + jy * jy) * kappa * kappa;
                if lam2 == 0.0 {
                    continue;
                }
                let amp = (lam2 + self.tau * self.tau).powf(-self.alpha / 2.0);
                // Hermitian part of white complex noise (as the stochastic
                // forcing): real self-conjugate bins, 1/√2 elsewhere.
                let self_conj = (ix == 0 || 2 * ix == n) && (iy == 0 || 2 * iy == n);
                let (re, im) = if self_conj {
                    (f64::from(zs[2 * at]), 0.0)
                } else {
                    let c = std::f64::consts::FRAC_1_SQRT_2;
                    (c * f64::from(zs[2 * at]), c * f64::from(zs[2 * at + 1]))
                };
                let weight = if ix == 0 || 2 * ix == n { 1.0 } else { 2.0 };
                power += weight * amp * amp * (re * re + im * im);
                os[2 * at] = (amp * re) as f32;
                os[2 * at + 1] = (amp * im) as f32;
            }
            // <ω²> = Σ_full |ω̂|² / n⁴ (Parseval).
            let rms = (power / (n as f64).powi(4)).sqrt();
            let factor = match self.scale {
                GrfScale::Rms(target) if rms > 0.0 => target / rms,
                GrfScale::Rms(_) => {
                    return Err(Error::InvalidArgument(format!(
                        "GRF sample {b} has zero energy on a {n}x{n} grid"
                    )))
                }
                GrfScale::FnoGaussianRf => sigma_fno,
            };
            os.iter_mut()
                .for_each(|v| *v = (f64::from(*v) * factor) as f32);
        }
        Ok(out)
    }
}
