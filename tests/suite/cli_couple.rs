//! `diffclosure couple` end to end without a network: the coarse model
//! alone from a truth snapshot writes its snapshots beside the restricted
//! truth; bad input is refused before any work.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use diffclosure::data::io;
use diffclosure::score::init::init_params;
use diffclosure::score::{checkpoint, ScoreConfig};

use crate::cli::{diffclosure, kill_when_exists, ok, s, simulate_from_t0, test_path};

/// A random tiny checkpoint "trained" on `scenario` with 2×2 sensors of a
/// 32² grid.
fn tiny_model(path: &Path, scenario: &str, modes: usize) -> PathBuf {
    let cfg = ScoreConfig {
        modes,
        layers: 1,
        ..crate::tiny_config()
    };
    let meta: HashMap<String, String> = [
        ("data.scenario", scenario),
        ("data.sensors", "2"),
        ("data.grid", "32"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    checkpoint::save(path, &cfg, &init_params(&cfg, 1), None, &meta).unwrap();
    path.to_path_buf()
}

/// A 64² truth (2 trajectories, snapshots every 10 steps, t = 0..0.2)
/// with 32² fields; the coarse G model (no ν, no noise) from t = 0.05.
/// Its first snapshot is the truth's (the start), later ones drift from it
/// (no closure), and the span, closure and scenario are checked first.
#[test]
fn couple_runs_the_coarse_model_and_refuses_bad_input() {
    let tmp = |name: &str| test_path("couple", name, false);
    let truth = tmp("truth.safetensors");
    simulate_from_t0(&truth, "64", "2", "200", "32");
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
        "--at",
        "0.05,0.1",
    ]);
    assert!(md.contains("| 1 | a |") && md.contains("| 2 | b |"), "{md}");
    assert!(md.contains("D_RE at +0.05 s | D_RE at +0.10 s |"), "{md}");
    for fig in [
        "d_re.png",
        "correlation.png",
        "spectra_t0.10.png",
        "pdf_t0.05.png",
    ] {
        assert!(report.join(fig).exists(), "{fig}");
    }
    let (okay, _, err) = diffclosure(&[
        "evaluate",
        "--online",
        s(&out),
        "--out",
        s(&tmp("online2")),
        "--at",
        "5",
    ]);
    assert!(
        !okay && err.contains("the runs cover elapsed times"),
        "{err}"
    );
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
        err
    };
    fails(
        &["--grid", "32", "--closure", "none", "--span", "5"],
        "the truth ends at",
    );
    fails(&["--grid", "32"], "need --model");
    fails(
        &["--grid", "32", "--closure", "none", "--perturb", "0.1"],
        "only used with --closure learned",
    );
    fails(
        &["--closure", "smagorinski"],
        "expected none, learned, mean, oracle",
    );
    fails(
        &["--grid", "32", "--scenario", "sgs", "--closure", "oracle"],
        "no part computable from the coarse state",
    );
    fails(
        &[
            "--grid",
            "32",
            "--closure",
            "dynamic-leith",
            "--coefficient",
            "0.2",
        ],
        "only used with --closure smagorinsky or leith",
    );
    // Models that do not fit the run: another scenario, too many modes.
    let h_model = tiny_model(&tmp("h.safetensors"), "h", 4);
    fails(
        &["--grid", "32", "--model", s(&h_model)],
        "trained on scenario h",
    );
    let wide = tiny_model(&tmp("wide.safetensors"), "g", 20);
    fails(&["--grid", "32", "--model", s(&wide)], "20 modes");
    fails(
        &["--closure", "none", "--grid", "16"],
        "simulate with --coarse 16",
    );
    fails(&["--closure", "none", "--every", "0"], ">= 1");
    // A grid no truth can hold is refused as such, not with advice to
    // simulate it (`simulate --coarse 48` is refused too).
    let e = fails(&["--closure", "none", "--grid", "48"], "powers of two");
    assert!(!e.contains("--coarse 48"), "{e}");
    fails(
        &[
            "--grid",
            "32",
            "--scenario",
            "h",
            "--closure",
            "smagorinsky",
        ],
        "cannot stand in",
    );
    fails(
        &["--grid", "32", "--closure", "none", "--ensemble", "2"],
        "only used with --closure learned or mean",
    );
    fails(&["--grid", "32", "--perturb", "0.1"], "needs --every > 1");
    fails(
        &["--closure", "none", "--model", s(&truth)],
        "only used with --closure learned",
    );
    fails(
        &["--closure", "none", "--span", "-1"],
        "must be a positive time",
    );
}

/// The other closures end to end on the same kind of truth: the learned
/// closure (a tiny random network with sparse observations, drawn every 3
/// steps and perturbed in between) killed after a progress save (every 10
/// steps, so mid-hold) and resumed gives the uninterrupted run's bytes
/// (state, held sample and closure term, noise position are saved); an eddy-viscosity run
/// records its dynamic coefficient; the oracle (ν∆ω put back for G) stays
/// closer to the truth than no closure.
#[test]
fn couple_learned_resumes_and_baselines_run() {
    let tmp = |name: &str| test_path("couple2", name, false);
    let truth = tmp("truth.safetensors");
    simulate_from_t0(&truth, "64", "1", "200", "32");
    let model = tiny_model(&tmp("g.safetensors"), "g", 4);
    let args = |out: &Path| -> Vec<String> {
        [
            "couple",
            "--truth",
            s(&truth),
            "--grid",
            "32",
            "--model",
            s(&model),
            "--every",
            "3",
            "--steps",
            "4",
            "--perturb",
            "0.1",
            "--quiet",
            "--out",
            s(out),
        ]
        .iter()
        .map(|x| x.to_string())
        .collect()
    };
    let whole = tmp("whole.safetensors");
    let (okay, _, e) = diffclosure(&args(&whole));
    assert!(okay, "{e}");
    let cut = tmp("cut.safetensors");
    let partial = PathBuf::from(format!("{}.partial", cut.display()));
    let mut a = args(&cut);
    a.extend(["--checkpoint-every".to_string(), "1".to_string()]);
    kill_when_exists(&a, &partial, Duration::from_secs(300));
    assert!(
        !cut.exists(),
        "the run finished before it could be interrupted"
    );
    let (okay, _, e) = diffclosure(&a);
    assert!(
        !okay && e.contains("--resume"),
        "a leftover partial is not ignored: {e}"
    );
    a.push("--resume".into());
    let (okay, _, e) = diffclosure(&a);
    assert!(okay, "{e}");
    assert!(!partial.exists(), "the progress file is removed at the end");
    let (fa, fb) = (io::read(&whole).unwrap(), io::read(&cut).unwrap());
    assert_eq!(fa.tensors["vorticity"].shape, vec![21, 1, 32, 32]);
    assert_eq!(
        fa.tensors["vorticity"].data, fb.tensors["vorticity"].data,
        "resumed = uninterrupted"
    );

    // A 32² run with `closure` (and `extra` flags) into `out`.
    let couple = |closure: &str, extra: &[&str], out: &Path| {
        let mut a = vec![
            "couple",
            "--truth",
            s(&truth),
            "--grid",
            "32",
            "--closure",
            closure,
            "--quiet",
            "--out",
            s(out),
        ];
        a.extend_from_slice(extra);
        ok(&a);
    };
    let eddy = tmp("eddy.safetensors");
    couple("dynamic-smagorinsky", &["--scenario", "sgs"], &eddy);
    let c: f64 = io::read(&eddy).unwrap().metadata["eddy_c_mean"]
        .parse()
        .unwrap();
    // Clipped at 0 on the GPU: a wrong sign in L or M would give 0 here
    // (this truth gives ≈ 1.7e-2).
    assert!(c.is_finite() && c > 0.0, "dynamic C {c}");

    let d_end = |closure: &str| -> f32 {
        let out = tmp(&format!("{closure}.safetensors"));
        couple(closure, &[], &out);
        let f = io::read(&out).unwrap();
        let (w, t) = (&f.tensors["vorticity"].data, &f.tensors["truth"].data);
        let last = w.len() - 32 * 32;
        let num: f32 = w[last..]
            .iter()
            .zip(&t[last..])
            .map(|(a, b)| (a - b).powi(2))
            .sum();
        let den: f32 = t[last..].iter().map(|b| b * b).sum();
        (num / den).sqrt()
    };
    let (none, oracle) = (d_end("none"), d_end("oracle"));
    assert!(oracle < none, "oracle {oracle} vs none {none}");
}
