//! Shell spectra of many fields through the GPU FFT (metrics/spectra):
//! Parseval on random fields, over several transform chunks.

use diffclosure::metrics::spectra::mean_shell_spectra;

use crate::{gpu, test_data};

/// Σ_k Z(k) = the mean over fields of ½(⟨f²⟩ − ⟨f⟩²) (Parseval; the mean,
/// shell 0, is excluded), for 20 fields of 32² (chunks of 16 and 4, the
/// last padded). Tolerance 1e-5 relative: f32 FFT sums of 1024 terms (a
/// few 1e-7) and padding that leaked into the sum would add whole fields'
/// variance.
#[test]
fn mean_shell_spectra_obey_parseval() {
    let (count, n) = (20, 32);
    let mut f = test_data(17, count * n * n);
    // Different variances per field, so a mis-weighted chunk shows.
    for (j, v) in f.iter_mut().enumerate() {
        *v = *v * (1.0 + (j / (n * n)) as f32) + 0.3;
    }
    let (e, z) = mean_shell_spectra(gpu(), &f, n, std::f64::consts::TAU).unwrap();
    let want: f64 = f
        .chunks_exact(n * n)
        .map(|c| {
            let m = c.iter().map(|&v| f64::from(v)).sum::<f64>() / (n * n) as f64;
            0.5 * c.iter().map(|&v| (f64::from(v) - m).powi(2)).sum::<f64>() / (n * n) as f64
        })
        .sum::<f64>()
        / count as f64;
    let got: f64 = z.iter().sum();
    assert!((got / want - 1.0).abs() < 1e-5, "{got} vs {want}");
    assert_eq!(e.len(), z.len());
    assert_eq!(z[0], 0.0, "the mean is not a shell");
    assert!(mean_shell_spectra(gpu(), &f[..100], n, 1.0).is_err());
}
