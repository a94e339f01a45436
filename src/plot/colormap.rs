//! The diverging colour map of the heatmaps: dark blue – white – dark red.
//!
//! Its anchors are ColorBrewer's 11-class RdBu reversed (what matplotlib
//! calls `RdBu_r`), placed at equal steps of 0.2 on `[-1, 1]` and joined
//! piecewise-linearly in sRGB. The lightness rises monotonically from
//! either end to the centre (`#f7f7f7`, an off-white), so the sign of a
//! value is its hue and its magnitude its darkness.

/// Colour of a NaN: a mid grey, which the map itself never produces
/// (its only near-neutral colour is the off-white centre).
pub const NAN_COLOR: [u8; 3] = [128, 128, 128];

/// The anchors, from `t = -1` (dark blue) through `t = 0` (off-white) to
/// `t = 1` (dark red), at `t = -1 + 0.2 i`.
pub const ANCHORS: [[u8; 3]; 11] = [
    [0x05, 0x30, 0x61],
    [0x21, 0x66, 0xac],
    [0x43, 0x93, 0xc3],
    [0x92, 0xc5, 0xde],
    [0xd1, 0xe5, 0xf0],
    [0xf7, 0xf7, 0xf7],
    [0xfd, 0xdb, 0xc7],
    [0xf4, 0xa5, 0x82],
    [0xd6, 0x60, 0x4d],
    [0xb2, 0x18, 0x2b],
    [0x67, 0x00, 0x1f],
];

/// sRGB colour of `t ∈ [-1, 1]`: negative blue, zero off-white, positive
/// red. `t` outside the interval (±∞ included) is clamped to the ends; NaN
/// gives [`NAN_COLOR`].
pub fn diverging(t: f64) -> [u8; 3] {
    if t.is_nan() {
        return NAN_COLOR;
    }
    let segments = ANCHORS.len() - 1;
    let x = (t.clamp(-1.0, 1.0) + 1.0) * 0.5 * segments as f64;
    // x ∈ [0, segments]; the last anchor belongs to the last segment.
    let i = (x.floor() as usize).min(segments - 1);
    let f = x - i as f64;
    let (a, b) = (ANCHORS[i], ANCHORS[i + 1]);
    std::array::from_fn(|c| {
        let v = f64::from(a[c]) + f * (f64::from(b[c]) - f64::from(a[c]));
        v.round() as u8
    })
}
