//! The f64 reference of the bicubic interpolation (`shaders/bicubic.wgsl`,
//! `src/score/bicubic.rs`): PyTorch's `interpolate(mode="bicubic",
//! align_corners=True)` and its transpose.

use super::CUBIC_A;

// ---------------------------------------------------------------------------
// Bicubic interpolation
// ---------------------------------------------------------------------------

/// Keys' cubic convolution for `|x| ≤ 1`.
fn cubic1(x: f64) -> f64 {
    ((CUBIC_A + 2.0) * x - (CUBIC_A + 3.0)) * x * x + 1.0
}

/// Keys' cubic convolution for `1 < |x| < 2`.
fn cubic2(x: f64) -> f64 {
    ((CUBIC_A * x - 5.0 * CUBIC_A) * x + 8.0 * CUBIC_A) * x - 4.0 * CUBIC_A
}

/// The four `(source index, weight)` taps of output index `dst` when
/// resizing `src` points to `dst_size` along one axis, as PyTorch's CPU
/// `upsample_bicubic2d` with `align_corners=True`: source coordinate
/// `dst (src−1)/(dst_size−1)` (0 when `dst_size = 1`), taps
/// `⌊·⌋−1 … ⌊·⌋+2` clamped to the border.
pub fn bicubic_taps(src: usize, dst_size: usize, dst: usize) -> [(usize, f64); 4] {
    assert!(src >= 1 && dst < dst_size);
    let scale = if dst_size > 1 {
        (src - 1) as f64 / (dst_size - 1) as f64
    } else {
        0.0
    };
    let real = scale * dst as f64;
    // PyTorch's guard_index_and_lambda.
    let i0 = (real.floor() as usize).min(src - 1);
    let t = (real - i0 as f64).clamp(0.0, 1.0);
    let c = [cubic2(t + 1.0), cubic1(t), cubic1(1.0 - t), cubic2(2.0 - t)];
    std::array::from_fn(|k| ((i0 + k).saturating_sub(1).min(src - 1), c[k]))
}

/// Bicubic resize (`F.interpolate(mode="bicubic", align_corners=True)`) of
/// `planes` fields `[planes, sh, sw]` → `[planes, dh, dw]`; interpolates
/// along `x` first, then `y`, as PyTorch.
pub fn bicubic(
    x: &[f64],
    planes: usize,
    (sh, sw): (usize, usize),
    (dh, dw): (usize, usize),
) -> Vec<f64> {
    assert_eq!(x.len(), planes * sh * sw, "bicubic: input size");
    let ty: Vec<_> = (0..dh).map(|i| bicubic_taps(sh, dh, i)).collect();
    let tx: Vec<_> = (0..dw).map(|j| bicubic_taps(sw, dw, j)).collect();
    let mut y = vec![0.0; planes * dh * dw];
    for p in 0..planes {
        let src = &x[p * sh * sw..][..sh * sw];
        for (i, ty) in ty.iter().enumerate() {
            for (j, tx) in tx.iter().enumerate() {
                y[(p * dh + i) * dw + j] = ty
                    .iter()
                    .map(|&(r, wy)| {
                        wy * tx.iter().map(|&(c, wx)| wx * src[r * sw + c]).sum::<f64>()
                    })
                    .sum();
            }
        }
    }
    y
}

/// Backward of [`bicubic`] (its transpose): every output gradient is
/// scattered back to its 16 clamped taps.
pub fn bicubic_backward(
    dy: &[f64],
    planes: usize,
    (sh, sw): (usize, usize),
    (dh, dw): (usize, usize),
) -> Vec<f64> {
    assert_eq!(dy.len(), planes * dh * dw, "bicubic_backward: dy size");
    let ty: Vec<_> = (0..dh).map(|i| bicubic_taps(sh, dh, i)).collect();
    let tx: Vec<_> = (0..dw).map(|j| bicubic_taps(sw, dw, j)).collect();
    let mut dx = vec![0.0; planes * sh * sw];
    for p in 0..planes {
        let dsrc = &mut dx[p * sh * sw..][..sh * sw];
        for (i, ty) in ty.iter().enumerate() {
            for (j, tx) in tx.iter().enumerate() {
                let d = dy[(p * dh + i) * dw + j];
                for &(r, wy) in ty {
                    for &(c, wx) in tx {
                        dsrc[r * sw + c] += wy * wx * d;
                    }
                }
            }
        }
    }
    dx
}
