//! The conditional score network ScoreFno (docs/specification.md §6) on the GPU.
//!
//! # The network, exactly
//!
//! Per sample: the noisy closure `x = U_t` `[n, n]`, the vorticity `ω`
//! `[n, n]`, the sparse observations `s` `[S, S]` and the diffusion time
//! `t`. Fields are `[B, C, H, W]`, rows along `H` (the first axis, `y`).
//!
//! * **Time embedding.** `f = [sin(2π t W_j), cos(2π t W_j)]` (`W = t_feat.W`,
//!   `embed_dim/2` fixed frequencies ~ N(0, 30²)), then
//!   `temb = t_mlp.2(SiLU(t_mlp.0(f)))` `[B, width]`.
//! * **Lifting** of a field `a` `[B, H, W]`: the channels `[a, g_y, g_x]` with
//!   `g_y[i, j] = i/(H−1)`, `g_x[i, j] = j/(W−1)` (PyTorch's
//!   `linspace(0, 1)` grid, `meshgrid(indexing="ij")`; 0 when the size is 1),
//!   through `Linear(3, width)` at every point.
//! * **Spectral convolution** `SpectralConv(v)`: `V = rfft2(v)` (unnormalised,
//!   half spectrum `[.., H, W/2+1]`), `O[o, ky, kx] = Σ_i V[i, ky, kx] w[i, o,
//!   ky', kx]` for `kx < modes` and the rows `ky < modes` (`w_pos`, `ky' = ky`)
//!   and `ky ≥ H − modes` (`w_neg`, `ky' = ky − (H − modes)`), all other bins
//!   0, then `irfft2(O)` (scaled by `1/(HW)`; NumPy's `irfft2`, which drops
//!   the imaginary part of the `kx = 0` column after the inverse along `H`).
//!   The weights never see the grid size: the same weights run at any `n ≥
//!   2·modes`, and a field band-limited to the kept modes gives the same
//!   output values on every grid.
//! * **Fourier layer**: `v ← SpectralConv(v) + W v + b` (`W`: 1×1 conv),
//!   `+ temb` broadcast over space in the noisy-sample pipeline, then GELU
//!   (exact, with erf) except after the last of the `layers` layers.
//! * **Pipelines**: `x` → lift_x → fno_x (with temb); `ω` → lift_w → fno_w;
//!   `s` → lift_s on its own `S × S` grid → bicubic interpolation to `H × W`
//!   (PyTorch's `interpolate(mode="bicubic", align_corners=True)`: `A =
//!   −0.75`, source index `i (S−1)/(H−1)`, taps clamped at the border) →
//!   s_spec_b(GELU(s_spec_a(·))) → fno_s.
//! * **Fusion**: concat of the pipelines' outputs in the order (x, ω, s)
//!   (ablated ones absent) → fuse1 → GELU → fuse2 → GELU → fuse3 → GELU →
//!   fc1 → GELU → fc2 → `[B, H, W]`, divided by `σ(t) = sqrt((26^{2t} − 1) /
//!   (2 ln 26))`.
//!
//! Parameters are named as the PyTorch baseline's `state_dict`
//! (`benches/baselines/torch_score_fno.py`); see [`ScoreConfig::params`].

pub mod adam;
pub mod bicubic;
pub mod checkpoint;
pub mod config;
pub mod init;
pub(crate) mod inputs;
pub mod linear;
pub mod model;
pub mod spectral_conv;
pub mod train;
pub mod train_job;

pub use config::{ParamSpec, ScoreConfig};
