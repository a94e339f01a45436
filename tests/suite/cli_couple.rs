//! `diffclosure couple` end to end without a network: the coarse model
//! alone from a truth snapshot writes its snapshots beside the restricted
//! truth; bad input is refused before any work.

use diffclosure::data::io;

use crate::cli::{diffclosure, ok, s, test_path};

/// A 64² truth (2 trajectories, snapshots every 10 steps, t = 0..0.2)
/// with 32² fields; the coarse G model (no ν, no noise) from t = 0.05.
/// Its first snapshot is the truth's (the start), later ones drift from it
/// (no closure), and the span, closure and scenario are checked first.
#[test]
fn couple_runs_the_coarse_model_and_refuses_bad_input() {
    let tmp = |name: &str| test_path("couple", name, false);
    let truth = tmp("truth.safetensors");
    ok(&[
        "simulate",
        "--grid",
        "64",
        "--batch",
        "2",
        "--steps",
        "200",
        "--snapshot-every",
        "10",
        "--t-start",
        "0",
        "--coarse",
        "32",
        "--quiet",
        "--out",
        s(&truth),
    ]);
    let out = tmp("run.safetensors");
    let base = ["couple", "--truth", s(&truth), "--start", "0.05", "--quiet"];
    let mut a = base.to_vec();
    a.extend([
        "--grid",
        "32",
        "--closure",
        "none",
        "--span",
        "0.1",
        "--out",
        s(&out),
    ]);
    ok(&a);
    let f = io::read(&out).unwrap();
    let (w, t, time) = (
        &f.tensors["vorticity"],
        &f.tensors["truth"],
        &f.tensors["time"],
    );
    assert_eq!(w.shape, vec![11, 2, 32, 32]);
    assert_eq!(t.shape, w.shape);
    assert!((time.data[0] - 0.05).abs() < 1e-6 && (time.data[10] - 0.15).abs() < 1e-6);
    let per = 2 * 32 * 32;
    let diff = |k: usize| -> f32 {
        w.data[k * per..(k + 1) * per]
            .iter()
            .zip(&t.data[k * per..(k + 1) * per])
            .fold(0f32, |a, (x, y)| a.max((x - y).abs()))
    };
    let scale = t.data[..per].iter().fold(0f32, |a, v| a.max(v.abs()));
    assert!(diff(0) < 1e-5 * scale, "starts from the truth: {}", diff(0));
    assert!(diff(10) > 1e-3 * scale, "no closure: drifts from the truth");

    // The online report: D_RE 0 at the start, growing; one row per run.
    let report = tmp("online");
    let md = ok(&[
        "evaluate",
        "--online",
        s(&out),
        s(&out),
        "--out",
        s(&report),
        "--labels",
        "a,b",
    ]);
    assert!(md.contains("| 1 | a |") && md.contains("| 2 | b |"), "{md}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let d: Vec<f64> = json["rows"][0]["d_re"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(d.len(), 11);
    assert!(d[0] < 1e-5 && d[10] > d[1], "{d:?}");

    let fails = |extra: &[&str], needle: &str| {
        let mut a = base.to_vec();
        let bad = tmp("bad.safetensors");
        a.extend(extra);
        a.extend(["--out", s(&bad)]);
        let (okay, _, err) = diffclosure(&a);
        assert!(!okay && err.contains(needle), "{extra:?}: {err}");
        assert!(!bad.exists());
    };
    fails(
        &["--grid", "32", "--closure", "none", "--span", "5"],
        "the truth ends at",
    );
    fails(&["--grid", "32"], "needs --model");
    fails(&["--closure", "smagorinsky"], "expected none or learned");
    fails(
        &["--closure", "none", "--grid", "16"],
        "simulate with --coarse 16",
    );
    fails(&["--closure", "none", "--every", "0"], ">= 1");
    fails(
        &["--closure", "none", "--model", s(&truth)],
        "only used with --closure learned",
    );
    fails(
        &["--closure", "none", "--span", "-1"],
        "must be a positive time",
    );
}
