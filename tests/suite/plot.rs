//! PNG figures: the diverging colour map, heatmaps (decoded back with
//! `image`) and spectrum plots, and `spectrum --png/--heatmap`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use diffclosure::data::io::{self, NamedTensor};
use diffclosure::plot::colormap::{diverging, ANCHORS, NAN_COLOR};
use diffclosure::plot::heatmap::{heatmap_png, heatmap_strip_png, HeatmapOptions, Origin};
use diffclosure::plot::spectrum::{spectra_png, Curve, Marker, SlopeLine, SpectraOptions};
use diffclosure::Error;

/// A fresh path in this process's scratch directory (any old file removed).
fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("diffclosure-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

fn decode(path: &Path) -> image::RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}

/// CIE L* (0 black .. 100 white) of an sRGB colour.
fn lightness(c: [u8; 3]) -> f64 {
    let lin = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let y = 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
    if y > 216.0 / 24389.0 {
        116.0 * y.cbrt() - 16.0
    } else {
        24389.0 / 27.0 * y
    }
}

mod colormap {
    use super::*;

    /// Ends dark blue and dark red, centre off-white, clamping outside
    /// [-1, 1], NaN grey. Exact: the anchors are hit exactly at ±1 and 0.
    #[test]
    fn endpoints_midpoint_clamping_nan() {
        assert_eq!(diverging(-1.0), [0x05, 0x30, 0x61]);
        assert_eq!(diverging(1.0), [0x67, 0x00, 0x1f]);
        assert_eq!(diverging(0.0), [0xf7, 0xf7, 0xf7]);
        assert_eq!(diverging(-7.0), diverging(-1.0));
        assert_eq!(diverging(f64::INFINITY), diverging(1.0));
        assert_eq!(diverging(f64::NEG_INFINITY), diverging(-1.0));
        assert_eq!(diverging(f64::NAN), NAN_COLOR);
        // Every anchor is hit at its own t = -1 + 0.2 i.
        for (i, a) in ANCHORS.iter().enumerate() {
            assert_eq!(diverging(-1.0 + 0.2 * i as f64), *a, "anchor {i}");
        }
    }

    /// NaN's grey is told apart from every colour of the map: each differs
    /// from it by ≥ 50 in some channel (the closest, the blues near
    /// t = -0.5, differ by 65; 50 leaves room and still fails a map that
    /// passes through grey).
    #[test]
    fn nan_grey_is_distinct() {
        for i in 0..=1000 {
            let t = -1.0 + 0.002 * f64::from(i);
            let c = diverging(t);
            let d = (0..3)
                .map(|k| (i32::from(c[k]) - i32::from(NAN_COLOR[k])).abs())
                .max()
                .unwrap();
            assert!(d >= 50, "t = {t}: {c:?} too close to the NaN grey");
        }
    }

    /// Lightness rises from either end to the centre: L*(t) never
    /// decreases towards t = 0 (tolerance 0.5 L*: rounding a channel to u8
    /// moves L* by at most ~0.3), and spans ≥ 70 L* from end to centre.
    #[test]
    fn lightness_monotone_towards_centre() {
        let steps = 500;
        for side in [-1.0, 1.0] {
            let mut prev = lightness(diverging(side));
            for i in (0..steps).rev() {
                let t = side * f64::from(i) / f64::from(steps);
                let l = lightness(diverging(t));
                assert!(l >= prev - 0.5, "L*({t}) = {l:.2} < {prev:.2}");
                prev = l;
            }
            let span = lightness(diverging(0.0)) - lightness(diverging(side));
            assert!(span >= 70.0, "lightness span {span:.1} on side {side}");
        }
    }

    /// Mirror symmetry: t > 0 is red (R > B), -t blue (B > R), and both
    /// have nearly the same lightness: ColorBrewer's anchors differ by at
    /// most 4.5 L* between mirrored points, so 6 (with rounding) passes
    /// them and fails a map whose sides are unequally dark.
    #[test]
    fn symmetric_hues_and_lightness() {
        for i in 1..=100 {
            let t = f64::from(i) / 100.0;
            let (r, b) = (diverging(t), diverging(-t));
            assert!(r[0] > r[2], "t = {t}: {r:?} is not reddish");
            assert!(b[2] > b[0], "t = {}: {b:?} is not bluish", -t);
            let d = (lightness(r) - lightness(b)).abs();
            assert!(d <= 6.0, "t = ±{t}: L* differ by {d:.2}");
        }
    }
}

mod heatmap {
    use super::*;

    const H: usize = 16;
    const W: usize = 32;

    /// A [16, 32] field, zero but for the maximum +3 at (row 0, col 0),
    /// the minimum -3 at (row 15, col 0) and +1.5 at (row 0, col 31).
    fn field() -> Vec<f32> {
        let mut f = vec![0.0f32; H * W];
        f[0] = 3.0;
        f[(H - 1) * W] = -3.0;
        f[W - 1] = 1.5;
        f
    }

    /// The colour of grid cell (row i, col j) of panel p in a decoded image
    /// at scale s, row 0 at the bottom; asserts the s × s block is uniform
    /// (no interpolation).
    fn cell(img: &image::RgbImage, s: usize, p: usize, gap: usize, i: usize, j: usize) -> [u8; 3] {
        let x0 = p * (W * s + gap) + j * s;
        let y0 = (H - 1 - i) * s;
        let c = img.get_pixel(x0 as u32, y0 as u32).0;
        for dy in 0..s {
            for dx in 0..s {
                let q = img.get_pixel((x0 + dx) as u32, (y0 + dy) as u32).0;
                assert_eq!(q, c, "block of cell ({i}, {j}) not uniform");
            }
        }
        c
    }

    /// Size (a 32-wide grid is scaled ×8 to 256 px), max → red end, min →
    /// blue end, 0 → off-white, row 0 at the bottom. Colours compared
    /// exactly: the PNG is lossless and cells are not interpolated.
    #[test]
    fn colours_size_and_orientation() {
        let path = tmp("field.png");
        let limit = heatmap_png(&path, &field(), H, W, &HeatmapOptions::default()).unwrap();
        assert_eq!(limit, 3.0);
        let img = decode(&path);
        assert_eq!(img.dimensions(), (256, 128));
        assert_eq!(cell(&img, 8, 0, 0, 0, 0), ANCHORS[10], "max → red end");
        assert_eq!(cell(&img, 8, 0, 0, H - 1, 0), ANCHORS[0], "min → blue end");
        let zero = cell(&img, 8, 0, 0, 5, 5);
        assert!(zero.iter().all(|&c| c >= 240), "0 → {zero:?}, not white");
        assert_eq!(cell(&img, 8, 0, 0, 0, W - 1), diverging(0.5));
        // The bottom-left pixel is the maximum: row 0 is drawn at the bottom.
        assert_eq!(img.get_pixel(0, 127).0, ANCHORS[10]);
        assert_eq!(img.get_pixel(0, 0).0, ANCHORS[0]);
    }

    /// `Origin::Upper` puts row 0 at the top; an explicit limit rescales.
    #[test]
    fn upper_origin_and_explicit_limit() {
        let path = tmp("upper.png");
        let opts = HeatmapOptions {
            origin: Origin::Upper,
            limit: Some(6.0),
            min_size: 64,
            ..HeatmapOptions::default()
        };
        assert_eq!(heatmap_png(&path, &field(), H, W, &opts).unwrap(), 6.0);
        let img = decode(&path);
        // 64 / 32 = ×2.
        assert_eq!(img.dimensions(), (64, 32));
        assert_eq!(img.get_pixel(0, 0).0, diverging(0.5), "row 0 at the top");
        assert_eq!(img.get_pixel(0, 31).0, diverging(-0.5));
    }

    /// A strip of three panels: shared limit by default (a panel of half
    /// the amplitude does not reach the red end), per panel on request.
    #[test]
    fn strip_shared_and_separate_limits() {
        let a = field();
        let half: Vec<f32> = a.iter().map(|v| 0.5 * v).collect();
        let fields: [&[f32]; 3] = [&a, &half, &a];
        let path = tmp("strip.png");
        let opts = HeatmapOptions::default();
        let limits = heatmap_strip_png(&path, &fields, H, W, &opts).unwrap();
        assert_eq!(limits, vec![3.0; 3]);
        let img = decode(&path);
        assert_eq!(img.dimensions(), ((3 * W * 8 + 2 * opts.gap) as u32, 128));
        assert_eq!(cell(&img, 8, 0, opts.gap, 0, 0), ANCHORS[10]);
        assert_eq!(cell(&img, 8, 1, opts.gap, 0, 0), diverging(0.5));
        assert_eq!(cell(&img, 8, 2, opts.gap, H - 1, 0), ANCHORS[0]);
        // The gap is white.
        assert_eq!(img.get_pixel((W * 8) as u32, 0).0, [255, 255, 255]);

        let path = tmp("strip_separate.png");
        let opts = HeatmapOptions {
            shared_limit: false,
            ..HeatmapOptions::default()
        };
        let limits = heatmap_strip_png(&path, &fields, H, W, &opts).unwrap();
        assert_eq!(limits, vec![3.0, 1.5, 3.0]);
        let img = decode(&path);
        assert_eq!(cell(&img, 8, 1, opts.gap, 0, 0), ANCHORS[10]);
    }

    /// NaN cells are grey; an all-zero field gets limit 1 (off-white).
    #[test]
    fn nan_and_zero_fields() {
        let mut f = vec![0.0f32; 4 * 4];
        f[5] = f32::NAN;
        let path = tmp("nan.png");
        assert_eq!(
            heatmap_png(&path, &f, 4, 4, &HeatmapOptions::default()).unwrap(),
            1.0
        );
        let img = decode(&path);
        // 4 × 64 = 256; cell (1, 1) is NaN, row 1 from the bottom.
        assert_eq!(img.dimensions(), (256, 256));
        assert_eq!(img.get_pixel(64, 128).0, NAN_COLOR);
        assert_eq!(img.get_pixel(0, 0).0, ANCHORS[5]);
    }

    /// Wrong length, an empty grid, a bad limit and no fields are errors
    /// and write nothing; an existing output is left as it was.
    #[test]
    fn errors_write_nothing() {
        let path = tmp("bad.png");
        let opts = HeatmapOptions::default();
        let e = heatmap_png(&path, &[0.0; 10], 3, 4, &opts).unwrap_err();
        assert!(matches!(e, Error::Shape(_)), "{e}");
        let e = heatmap_png(&path, &[], 0, 4, &opts).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
        for limit in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let o = HeatmapOptions {
                limit: Some(limit),
                ..HeatmapOptions::default()
            };
            let e = heatmap_png(&path, &[0.0; 4], 2, 2, &o).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{limit}: {e}");
        }
        let e = heatmap_strip_png(&path, &[], 2, 2, &opts).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
        assert!(!path.exists());

        let keep = tmp("keep.png");
        std::fs::write(&keep, b"not mine").unwrap();
        let e = heatmap_png(&keep, &[1.0; 4], 2, 2, &opts).unwrap_err();
        assert!(e.to_string().contains("exists"), "{e}");
        assert_eq!(std::fs::read(&keep).unwrap(), b"not mine");
    }

    /// Dark (text) pixels in rows `rows` of `img`.
    fn dark_pixels(img: &image::RgbImage, rows: std::ops::Range<u32>) -> usize {
        rows.flat_map(|y| (0..img.width()).map(move |x| (x, y)))
            .filter(|&(x, y)| lightness(img.get_pixel(x, y).0) < 40.0)
            .count()
    }

    /// Title, panel titles and colour bar go around the panels, which are
    /// drawn exactly as without them; the bar runs from the blue end to
    /// the red end (one bar for a shared limit, one per panel otherwise).
    #[test]
    fn annotated_strip_keeps_the_panels() {
        let a = field();
        let half: Vec<f32> = a.iter().map(|v| 0.5 * v).collect();
        let fields: [&[f32]; 2] = [&a, &half];
        for shared in [true, false] {
            let plain_opts = HeatmapOptions {
                shared_limit: shared,
                ..HeatmapOptions::default()
            };
            let plain = tmp(&format!("plain_{shared}.png"));
            heatmap_strip_png(&plain, &fields, H, W, &plain_opts).unwrap();
            let plain = decode(&plain);
            let opts = HeatmapOptions {
                title: Some("closure term G".into()),
                panel_titles: vec!["truth".into(), "half".into()],
                colorbar: Some("G".into()),
                ..plain_opts
            };
            let path = tmp(&format!("annotated_{shared}.png"));
            heatmap_strip_png(&path, &fields, H, W, &opts).unwrap();
            let img = decode(&path);
            assert!(img.width() > plain.width() && img.height() > plain.height());
            // Where the panels went: the offset at which every pixel agrees.
            let (pw, ph) = plain.dimensions();
            let same_at = |x0: u32, y0: u32| {
                (0..ph).all(|y| {
                    (0..pw).all(|x| img.get_pixel(x0 + x, y0 + y) == plain.get_pixel(x, y))
                })
            };
            let at = (0..=img.height() - ph)
                .flat_map(|y| (0..=img.width() - pw).map(move |x| (x, y)))
                .find(|&(x0, y0)| same_at(x0, y0));
            let (_, y0) = at.expect("the panels are drawn unchanged");
            // Text above the panels (title and panel titles).
            assert!(dark_pixels(&img, 0..y0) > 100, "no title drawn");
            // Bars below: rows whose colours start at the blue end.
            let starts = |y: u32| {
                (1..img.width())
                    .filter(|&x| {
                        img.get_pixel(x - 1, y).0 == [255, 255, 255]
                            && img.get_pixel(x, y).0 == ANCHORS[0]
                    })
                    .count()
            };
            let bar_row = (y0 + ph..img.height()).find(|&y| starts(y) > 0);
            let bar_row = bar_row.expect("no colour bar");
            assert_eq!(starts(bar_row), if shared { 1 } else { 2 }, "bars");
            let red_end = (0..img.width()).any(|x| img.get_pixel(x, bar_row).0 == ANCHORS[10]);
            assert!(red_end, "the bar does not reach the red end");
            assert!(
                dark_pixels(&img, bar_row..img.height()) > 30,
                "no tick labels"
            );
        }
    }
}

mod spectrum {
    use super::*;

    /// The first curve's colour (tab10 blue).
    const BLUE: [u8; 3] = [31, 119, 180];

    fn power_law(p: f64) -> Vec<f64> {
        (0..64)
            .map(|k| if k == 0 { 0.0 } else { f64::from(k).powf(p) })
            .collect()
    }

    /// A decodable PNG of the requested size, with the first curve drawn
    /// (≥ 300 pixels of its colour: a 2-px line across ~500 px of plot
    /// gives ~1000; an undrawn curve gives none, apart from the legend's
    /// 20 × 2 sample).
    #[test]
    fn writes_png_of_requested_size() {
        let path = tmp("spectrum.png");
        let opts = SpectraOptions {
            width: 640,
            height: 480,
            slope: Some(SlopeLine {
                exponent: -3.0,
                label: "∝ k⁻³".to_string(),
                curve: 0,
                k_from: 4.0,
                k_to: 30.0,
                factor: 2.0,
            }),
            marker: Some(Marker {
                k: 21.0,
                label: "cutoff".to_string(),
            }),
            ..SpectraOptions::default()
        };
        let curves = [
            Curve::from_shells("k^-3", &power_law(-3.0)),
            Curve::from_shells("k^-5/3", &power_law(-5.0 / 3.0)),
        ];
        spectra_png(&path, "test", &curves, &opts).unwrap();
        let img = decode(&path);
        assert_eq!(img.dimensions(), (640, 480));
        let blue = img.pixels().filter(|p| p.0 == BLUE).count();
        assert!(blue >= 300, "{blue} pixels of the first curve's colour");
        // Dark pixels: text, frame, the reference line.
        let dark = img.pixels().filter(|p| p.0.iter().all(|&c| c < 60)).count();
        assert!(dark > 500, "{dark} dark pixels: no text or axes?");
    }

    /// Zeros, negatives, NaN and infinities are skipped, not a panic; a
    /// plot with nothing plottable, a bad slope or marker, a tiny image or
    /// an existing output is an error that writes nothing.
    #[test]
    fn non_positive_values_and_errors() {
        let path = tmp("ragged.png");
        let ragged = Curve::new(
            "ragged",
            vec![
                (0.0, 1.0),
                (1.0, 0.5),
                (2.0, 0.0),
                (3.0, -1.0),
                (4.0, 0.1),
                (5.0, f64::NAN),
                (6.0, f64::INFINITY),
                (-1.0, 2.0),
                (7.0, 1e-30),
                (8.0, 1e-300),
            ],
        );
        spectra_png(&path, "ragged", &[ragged], &SpectraOptions::default()).unwrap();
        assert_eq!(decode(&path).dimensions(), (800, 600));

        let bad = tmp("bad_spectrum.png");
        let nothing = Curve::new("nothing", vec![(0.0, 1.0), (1.0, 0.0), (2.0, -3.0)]);
        let e = spectra_png(&bad, "t", &[nothing], &SpectraOptions::default()).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
        let e = spectra_png(&bad, "t", &[], &SpectraOptions::default()).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");

        let curve = [Curve::from_shells("c", &power_law(-3.0))];
        let slope = SlopeLine {
            exponent: -3.0,
            label: String::new(),
            curve: 1,
            k_from: 2.0,
            k_to: 10.0,
            factor: 1.0,
        };
        let bad_opts = [
            SpectraOptions {
                slope: Some(slope.clone()),
                ..SpectraOptions::default()
            },
            SpectraOptions {
                slope: Some(SlopeLine {
                    curve: 0,
                    k_from: 10.0,
                    k_to: 2.0,
                    ..slope.clone()
                }),
                ..SpectraOptions::default()
            },
            SpectraOptions {
                marker: Some(Marker {
                    k: 0.0,
                    label: String::new(),
                }),
                ..SpectraOptions::default()
            },
            SpectraOptions {
                width: 10,
                ..SpectraOptions::default()
            },
        ];
        for o in &bad_opts {
            let e = spectra_png(&bad, "t", &curve, o).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{o:?}: {e}");
        }
        assert!(!bad.exists());

        let keep = tmp("keep_spectrum.png");
        std::fs::write(&keep, b"not mine").unwrap();
        let e = spectra_png(&keep, "t", &curve, &SpectraOptions::default()).unwrap_err();
        assert!(e.to_string().contains("exists"), "{e}");
        assert_eq!(std::fs::read(&keep).unwrap(), b"not mine");
    }
}

mod cli {
    use super::*;

    fn diffclosure(args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_diffclosure"))
            .args(args)
            .output()
            .expect("run diffclosure");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// A [T = 2, B = 2, 32, 32] trajectory file on [0, 2π]²: ω = sin(x)
    /// cos(2y) scaled by t + 1, so the last snapshot's first trajectory
    /// peaks at ±2 with its maximum at (x, y) = (π/2, 0).
    fn trajectory(path: &Path) {
        let n = 32;
        let mut data = Vec::new();
        for t in 0..2 {
            for _b in 0..2 {
                for i in 0..n {
                    for j in 0..n {
                        let (x, y) = (
                            2.0 * std::f64::consts::PI * j as f64 / n as f64,
                            2.0 * std::f64::consts::PI * i as f64 / n as f64,
                        );
                        data.push(((t + 1) as f64 * x.sin() * (2.0 * y).cos()) as f32);
                    }
                }
            }
        }
        let vorticity = NamedTensor {
            shape: vec![2, 2, n, n],
            data,
        };
        let time = NamedTensor {
            shape: vec![2],
            data: vec![0.0, 1.0],
        };
        let meta = HashMap::from([(
            "length".to_string(),
            format!("{}", 2.0 * std::f64::consts::PI),
        )]);
        io::write_atomic(path, &[("vorticity", &vorticity), ("time", &time)], &meta).unwrap();
    }

    /// `spectrum --png --heatmap` writes both figures; the heatmap is the
    /// last snapshot of trajectory 0 (max +2 → red end at the bottom row,
    /// x = π/2 → column 8 of 32, scaled ×8). Existing or clashing outputs
    /// are refused before anything is written.
    #[test]
    fn spectrum_writes_plot_and_heatmap() {
        let input = tmp("traj.safetensors");
        trajectory(&input);
        let (png, heat) = (tmp("spec.png"), tmp("vort.png"));
        let s = |p: &Path| p.to_str().unwrap().to_string();
        // `spectrum` of the input with both figures.
        let both = |png: &Path, heat: &Path| {
            diffclosure(&[
                "spectrum",
                "--input",
                &s(&input),
                "--png",
                &s(png),
                "--heatmap",
                &s(heat),
            ])
        };
        let (ok, stdout, e) = both(&png, &heat);
        assert!(ok, "{e}");
        assert!(stdout.contains("±2.000"), "{stdout}");
        assert_eq!(decode(&png).dimensions(), (800, 600));
        let img = decode(&heat);
        // The 256² field (32² cells of 8 pixels), centred, with a title
        // above and a colour bar below.
        let (w, h) = img.dimensions();
        assert!(w >= 256 && h > 256, "{w} x {h}");
        // Cell (row 0, col 8) = +2 = the limit: the red end, in the
        // field's bottom row (the lowest red cell of its column, 8 pixels
        // high, the white margin below it: y points up).
        let x = (w - 256) / 2 + 8 * 8 + 3;
        let red: Vec<u32> = (0..h)
            .filter(|&y| img.get_pixel(x, y).0 == ANCHORS[10])
            .collect();
        assert!(red.len() >= 8, "{red:?}");
        let bottom = &red[red.len() - 8..];
        assert_eq!(bottom[7] - bottom[0], 7, "one cell: {red:?}");
        assert_eq!(img.get_pixel(x, bottom[7] + 1).0, [255, 255, 255]);

        // --png exists: refused, and --heatmap (new name) is not written.
        let heat2 = tmp("vort2.png");
        let (ok, _, e) = both(&png, &heat2);
        assert!(!ok && e.contains("exists"), "{e}");
        assert!(!heat2.exists());
        // The input as an output, or one file for two outputs.
        let (ok, _, e) = diffclosure(&["spectrum", "--input", &s(&input), "--png", &s(&input)]);
        assert!(!ok && e.contains("input"), "{e}");
        let (ok, _, e) = both(&heat2, &heat2);
        assert!(!ok && e.contains("same file"), "{e}");
        // A directory that does not exist.
        let nowhere = input.with_file_name("no-such-dir").join("x.png");
        let (ok, _, e) =
            diffclosure(&["spectrum", "--input", &s(&input), "--heatmap", &s(&nowhere)]);
        assert!(!ok && e.contains("no-such-dir"), "{e}");
    }
}
