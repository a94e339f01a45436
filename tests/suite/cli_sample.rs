//! `diffclosure sample`, `merge` and `evaluate` end to end on a tiny
//! model: shards (by flag and by Slurm's variables) merge into the very
//! bytes of the unsharded job; a killed run resumes to the same bytes; the
//! trajectory figures hold every step; evaluate writes its table; bad input
//! is refused before any work.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use image::AnimationDecoder;

use diffclosure::data::io;

use crate::cli::{diffclosure, kill_when_exists, net_flags, ok, s, simulate_from_t0, test_path};

/// `name` in this test's directory (not removed: see [`tmp`]).
fn path(name: &str) -> PathBuf {
    test_path("sample", name, true)
}

/// A fresh `name` in this test's directory (an old file removed).
fn tmp(name: &str) -> PathBuf {
    test_path("sample", name, false)
}

fn fails(args: &[&str], needle: &str) {
    let (ok, _, err) = diffclosure(args);
    assert!(!ok, "{args:?} should fail");
    assert!(err.contains(needle), "{args:?}: '{needle}' not in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn samples(p: &Path) -> Vec<f32> {
    io::read(p).unwrap().tensors["samples"].data.clone()
}

/// Test splits at 32² (5×5 and 4×4 sensors) and 8², and a tiny model
/// trained one epoch on the 32² train split (8 modes: too many for 8²).
fn setup() -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let traj = tmp("traj.safetensors");
    simulate_from_t0(&traj, "32", "3", "200", "32,8");
    let split = |grid: &str, sensors: &str, name: &str| -> (PathBuf, PathBuf) {
        let (train, test) = (
            tmp(&format!("{name}.train.safetensors")),
            tmp(&format!("{name}.test.safetensors")),
        );
        ok(&[
            "dataset",
            "--input",
            s(&traj),
            "--grid",
            grid,
            "--sensors",
            sensors,
            "--out-train",
            s(&train),
            "--out-test",
            s(&test),
        ]);
        (train, test)
    };
    let (train, test) = split("32", "5x5", "d32");
    let (_, test4) = split("32", "4x4", "d32s4");
    let (_, test8) = split("8", "4x4", "d8");
    let model = tmp("model.safetensors");
    let mut args = vec![
        "train",
        "--data",
        s(&train),
        "--out",
        s(&model),
        "--epochs",
        "1",
        "--batch",
        "8",
        "--quiet",
    ];
    args.extend(net_flags("4", "8", "2", "16", "8"));
    ok(&args);
    (model, test, test4, test8)
}

#[test]
fn sample_shards_resume_evaluate_and_refuse_bad_input() {
    let (model, test, test4, test8) = setup();
    let base = |out: &Path| -> Vec<String> {
        [
            "sample",
            "--model",
            s(&model),
            "--data",
            s(&test),
            "--samples-per-condition",
            "2",
            "--conditions",
            "6",
            "--steps",
            "5",
            "--batch",
            "3",
            "--sampler",
            "heun",
            "--quiet",
            "--out",
            s(out),
        ]
        .iter()
        .map(|v| v.to_string())
        .collect()
    };
    let run = |out: &Path, extra: &[&str]| {
        let mut a = base(out);
        a.extend(extra.iter().map(|v| v.to_string()));
        let r: Vec<&str> = a.iter().map(String::as_str).collect();
        ok(&r)
    };
    // The whole job, with its trajectory figures.
    let whole = tmp("whole.safetensors");
    let traj = tmp("traj");
    run(&whole, &["--trajectory", s(&traj)]);
    let all = samples(&whole);
    assert_eq!(all.len(), 6 * 2 * 32 * 32);
    assert!(all.iter().all(|v| v.is_finite()));
    assert_ne!(
        &all[..1024],
        &all[1024..2048],
        "two samples of one condition differ"
    );
    let gif = std::fs::File::open(traj.join("trajectory.gif")).unwrap();
    let frames = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(gif))
        .unwrap()
        .into_frames()
        .count();
    assert_eq!(frames, 6, "start + 5 steps");
    assert!(traj.join("trajectory.png").exists());

    // Shards by flag (3 pieces: 2 conditions each, cutting batches of 3
    // samples differently) and by Slurm's variables (an array 1-3:2) merge
    // into the same bytes.
    let pieces = tmp("piece_%i.safetensors");
    for i in 0..3 {
        run(&pieces, &["--shard", &format!("{i}/3")]);
    }
    let shard = |i: usize| path(&format!("piece_{i}.safetensors"));
    let merged = tmp("merged.safetensors");
    ok(&[
        "merge",
        s(&shard(2)),
        s(&shard(0)),
        s(&shard(1)),
        "--out",
        s(&merged),
    ]);
    assert_eq!(samples(&merged), all, "merged shards = the whole job");
    fails(
        &[
            "merge",
            s(&shard(0)),
            s(&shard(2)),
            "--out",
            s(&tmp("m2.safetensors")),
        ],
        "do not tile",
    );
    let slurm = tmp("slurm.safetensors");
    for id in [1, 3] {
        let mut a = base(&slurm);
        a.extend(["--shard".to_string(), "slurm".to_string()]);
        let out = Command::new(env!("CARGO_BIN_EXE_diffclosure"))
            .args(&a)
            .env("SLURM_ARRAY_TASK_ID", id.to_string())
            .env("SLURM_ARRAY_TASK_MIN", "1")
            .env("SLURM_ARRAY_TASK_STEP", "2")
            .env("SLURM_ARRAY_TASK_COUNT", "2")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let merged2 = tmp("merged2.safetensors");
    ok(&[
        "merge",
        s(&path("slurm.shard-0-of-2.safetensors")),
        s(&path("slurm.shard-1-of-2.safetensors")),
        "--out",
        s(&merged2),
    ]);
    assert_eq!(samples(&merged2), all, "Slurm shards = the whole job");

    // Killed after a progress save, resumed: the same bytes.
    let killed = tmp("killed.safetensors");
    let partial = PathBuf::from(format!("{}.partial", killed.display()));
    let mut args = base(&killed);
    args.extend(["--checkpoint-every".to_string(), "1".to_string()]);
    kill_when_exists(&args, &partial, Duration::from_secs(300));
    if !killed.exists() {
        assert!(partial.exists(), "no progress save within 300 s");
        fails(
            &base(&killed).iter().map(String::as_str).collect::<Vec<_>>(),
            "--resume",
        );
        run(&killed, &["--resume", "--checkpoint-every", "1"]);
    }
    assert_eq!(samples(&killed), all, "resumed = uninterrupted");
    assert!(!partial.exists(), "the progress file is removed at the end");

    // Evaluate: one row per file, the ensemble columns filled (K = 2).
    let report = tmp("report");
    let md = ok(&["evaluate", s(&whole), s(&merged), "--out", s(&report)]);
    assert_eq!(md.matches("| 6×2 |").count(), 2, "{md}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let row = &json["rows"][0];
    assert!(row["crps"].as_f64().unwrap() > 0.0);
    assert_eq!(row["d_re"], json["rows"][1]["d_re"]);
    assert!(report.join("row1_fields.png").exists() && report.join("spectra.png").exists());
    fails(&["evaluate", s(&whole), "--out", s(&report)], "exists");

    // Bad input, refused before any work; nothing written.
    let bad = tmp("bad.safetensors");
    // The base arguments with `flag value` pairs set (replaced or added).
    let with = |extra: &[&str]| -> Vec<String> {
        let mut a = base(&bad);
        for kv in extra.chunks(2) {
            match a.iter().position(|v| v == kv[0]) {
                Some(i) => a[i + 1] = kv[1].to_string(),
                None => a.extend([kv[0].to_string(), kv[1].to_string()]),
            }
        }
        a
    };
    let check = |a: Vec<String>, needle: &str| {
        fails(&a.iter().map(String::as_str).collect::<Vec<_>>(), needle)
    };
    check(with(&["--steps", "0"]), "at least 1 step");
    check(with(&["--shard", "3/3"]), "need 0 <= i < n");
    check(with(&["--shard", "0/7"]), "some would be empty");
    check(
        with(&["--shard", "slurm"]),
        "SLURM_ARRAY_TASK_ID is not set",
    );
    check(with(&["--grid", "64"]), "holds a 32x32 dataset");
    check(with(&["--sampler", "rk4"]), "expected em, heun or ode");
    check(
        with(&["--final-step", "exact"]),
        "expected tweedie or euler",
    );
    // Guard rails: a Heun run that amplifies (2 steps from 0.1), a schedule
    // that is not one (ρ so small every time underflows), a start above the
    // model's training range (t ≤ 1).
    check(
        with(&["--steps", "2"]),
        "the run grows instead of converging",
    );
    check(
        with(&["--rho", "0.001"]),
        "not strictly decreasing and positive",
    );
    check(
        with(&["--t-max", "1.5", "--steps", "40"]),
        "trained on t in [0.00001, 1]",
    );
    check(with(&["--data", s(&test4)]), "sensors");
    check(with(&["--data", s(&test8)]), "cannot run on the 8x8");
    assert!(!bad.exists());
    // An existing output is kept.
    fails(
        &base(&whole).iter().map(String::as_str).collect::<Vec<_>>(),
        "exists",
    );
    assert_eq!(samples(&whole), all);
}

/// A failed `evaluate` creates nothing: every input is read and checked
/// before the output folder is made (a missing file, a file of another
/// kind, labels that are not one per file; offline and --online).
#[test]
fn evaluate_refuses_bad_input_before_creating_anything() {
    let report = tmp("refused-report");
    let missing = tmp("no-such-samples.safetensors");
    // A dataset (not a samples file, not a coupled run).
    let dataset = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/g_test_64.safetensors");
    let missing_offline = format!("evaluate {}: no such file", missing.display());
    let missing_online = format!("evaluate --online {}: no such file", missing.display());
    for (args, says) in [
        // The option (here the positional files) is named.
        (vec![s(&missing)], missing_offline.as_str()),
        (vec![s(&dataset)], "not a samples file"),
        (vec![s(&dataset), "--labels", "a,b"], "2 labels for 1 files"),
        (vec!["--online", s(&missing)], missing_online.as_str()),
        (
            vec!["--online", s(&dataset)],
            "not a `diffclosure couple` output",
        ),
    ] {
        let mut all = vec!["evaluate", "--out", s(&report)];
        all.extend_from_slice(&args);
        fails(&all, says);
        assert!(!report.exists(), "{args:?} created {}", report.display());
    }
}

/// A missing input is reported with the option that named it, before any
/// work (and nothing is created): `--model m: no such file`, not the bare
/// operating-system error.
#[test]
fn missing_inputs_are_named_by_their_option() {
    let missing = tmp("no-such-input.safetensors");
    let out = tmp("never-written.safetensors");
    let m = s(&missing);
    let dataset = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/g_test_64.safetensors");
    for (args, option) in [
        (
            vec!["sample", "--model", m, "--data", s(&dataset)],
            "--model",
        ),
        (
            vec!["sample", "--model", s(&dataset), "--data", m],
            "--data",
        ),
        (vec!["couple", "--truth", m], "--truth"),
        (vec!["train", "--data", m], "--data"),
        (vec!["spectrum", "--input", m], "--input"),
        (vec!["simulate", "--init", m], "--init"),
    ] {
        let mut all = args.clone();
        if all[0] != "spectrum" {
            all.extend(["--out", s(&out)]);
        }
        fails(&all, &format!("{option} {m}: no such file"));
        assert!(!out.exists(), "{all:?} created {}", out.display());
    }
}
