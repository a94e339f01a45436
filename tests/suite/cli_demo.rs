//! `diffclosure demo`: the stage plan of each preset, the refusals before
//! any work, and (with the shipped files) a whole run with its report.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use diffclosure::cli::parse_job;
use diffclosure::demo::{shell_words, DemoConfig};

use crate::cli::{diffclosure, ok, s, test_path};

/// The subcommand of each planned stage, in order.
fn plan(args: &[&str]) -> Vec<Vec<String>> {
    let mut all = vec!["demo", "--plan"];
    all.extend_from_slice(args);
    ok(&all)
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

fn value<'a>(words: &'a [String], flag: &str) -> Option<&'a str> {
    let i = words.iter().position(|w| w == flag)?;
    words.get(i + 1).map(String::as_str)
}

/// The small pipeline runs simulate → spectrum → dataset → train → sample
/// → evaluate → couple (none and the learned closure on the test truth,
/// never the training truth) → evaluate --online; the learned run uses
/// the model the training stage exports.
#[test]
fn demo_plans_the_whole_pipeline() {
    let dir = test_path("demo-plan", "d", false);
    let stages = plan(&["--out", s(&dir)]);
    let cmds: Vec<&str> = stages.iter().map(|w| w[1].as_str()).collect();
    assert!(stages.iter().all(|w| w[0] == "diffclosure"), "{stages:?}");
    let first = |c: &str| cmds.iter().position(|x| *x == c).unwrap_or(usize::MAX);
    let order = [
        "simulate", "spectrum", "dataset", "train", "sample", "couple",
    ];
    for pair in order.windows(2) {
        assert!(
            first(pair[0]) < first(pair[1]),
            "{} must come before {}: {cmds:?}",
            pair[0],
            pair[1]
        );
    }
    assert_eq!(cmds.last(), Some(&"evaluate"), "{cmds:?}");
    let train = &stages[first("train")];
    let model = value(train, "--export").expect("train --export");
    let couples: Vec<&Vec<String>> = stages.iter().filter(|w| w[1] == "couple").collect();
    let closures: Vec<&str> = couples
        .iter()
        .filter_map(|w| value(w, "--closure"))
        .collect();
    assert!(
        closures.contains(&"none") && closures.contains(&"learned"),
        "{closures:?}"
    );
    for w in &couples {
        assert!(
            value(w, "--truth")
                .unwrap()
                .ends_with("truth_test.safetensors"),
            "{w:?}"
        );
        if value(w, "--closure") == Some("learned") {
            assert_eq!(value(w, "--model"), Some(model), "{w:?}");
        }
    }
    // The training and test truths are different runs (seeds).
    let seeds: Vec<&str> = stages
        .iter()
        .filter(|w| w[1] == "simulate")
        .filter_map(|w| value(w, "--seed"))
        .collect();
    assert_eq!(seeds.len(), 2);
    assert_ne!(seeds[0], seeds[1]);
    assert!(!dir.exists(), "--plan must not create {}", dir.display());
}

/// The paper preset is the paper's code's setting (the reference preset
/// at 256², stride restriction, 8 + 2 trajectories, 16 × 16 sensors, the
/// reference training on t ≤ 0.1, test grids from the test truth alone,
/// online runs on a truth of the test seed to t = 50); --train-minutes
/// caps the training; --pretrained uses the shipped files and neither
/// simulates nor trains.
#[test]
fn demo_presets_and_pretrained() {
    let paper = plan(&[
        "--preset",
        "paper",
        "--scenario",
        "h",
        "--train-minutes",
        "4",
    ]);
    let train = paper.iter().find(|w| w[1] == "train").expect("train");
    assert_eq!(value(train, "--epochs"), Some("1000"));
    assert_eq!(value(train, "--batch"), Some("200"));
    assert_eq!(value(train, "--t-max"), Some("0.1"));
    assert_eq!(value(train, "--max-minutes"), Some("4"));
    let sims: Vec<&Vec<String>> = paper.iter().filter(|w| w[1] == "simulate").collect();
    assert_eq!(sims.len(), 3, "training, test and online truths");
    for sim in &sims {
        assert_eq!(value(sim, "--preset"), Some("reference"));
        assert_eq!(value(sim, "--grid"), Some("256"));
        assert_eq!(value(sim, "--restriction"), Some("stride"));
    }
    let (tr, te, on) = (sims[0], sims[1], sims[2]);
    assert_eq!(
        (value(tr, "--batch"), value(tr, "--coarse")),
        (Some("8"), Some("64"))
    );
    assert_eq!(value(te, "--coarse"), Some("64,128,256"));
    assert_eq!(
        (value(te, "--seed"), value(on, "--seed")),
        (Some("1"), Some("1"))
    );
    assert_eq!(
        (value(te, "--t-end"), value(on, "--t-end")),
        (Some("40"), Some("50"))
    );
    let online_truth = value(on, "--out").unwrap();
    let datasets: Vec<&Vec<String>> = paper.iter().filter(|w| w[1] == "dataset").collect();
    assert_eq!(datasets.len(), 3);
    assert!(datasets
        .iter()
        .all(|w| value(w, "--sensors") == Some("16x16")));
    assert!(datasets[1..]
        .iter()
        .all(|w| value(w, "--out-train").is_none()));
    assert!(paper.iter().all(|w| w[1] != "couple"
        || (value(w, "--scenario") == Some("h") && value(w, "--truth") == Some(online_truth))));

    let pre = plan(&["--pretrained"]);
    assert!(
        pre.iter().all(|w| w[1] != "simulate" && w[1] != "train"),
        "{pre:?}"
    );
    let sample = pre.iter().find(|w| w[1] == "sample").expect("sample");
    assert!(value(sample, "--model")
        .unwrap()
        .ends_with("assets/g_model_small.safetensors"));
}

/// Every stage of every demo (each preset × scenario, the pretrained one,
/// a training cap with adapter flags in a folder whose name has a space)
/// prints the command line of the job it runs, fresh and resumed: that
/// line, parsed and made into a job by the command line's own code
/// ([`parse_job`]), is the job. A recipe and a printed line that disagree
/// fail here.
#[test]
fn demo_stage_lines_are_the_jobs_they_run() {
    let config = |preset: &str, scenario: &str| DemoConfig {
        preset: preset.into(),
        scenario: scenario.into(),
        out: PathBuf::from("demo"),
        pretrained: false,
        assets: None,
        train_minutes: None,
        stage_flags: Vec::new(),
    };
    let mut configs = Vec::new();
    for preset in ["small", "paper", "seed-large"] {
        for scenario in ["g", "h", "sgs"] {
            configs.push(config(preset, scenario));
        }
    }
    configs.push(DemoConfig {
        pretrained: true,
        assets: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")),
        ..config("small", "g")
    });
    configs.push(DemoConfig {
        out: PathBuf::from("a demo"),
        train_minutes: Some(2.5),
        stage_flags: ["--backend", "vulkan", "--adapter", "llvm pipe"]
            .map(String::from)
            .to_vec(),
        ..config("paper", "sgs")
    });
    let mut kinds = BTreeSet::new();
    for c in configs {
        let demo = c.plan().unwrap();
        for st in &demo.stages {
            let resumed = {
                let mut j = st.job.resumed();
                j.record_command(&shell_words(&demo.command(&j)));
                j
            };
            for job in [&st.job, &resumed] {
                let argv = demo.command(job);
                let parsed =
                    parse_job(&argv).unwrap_or_else(|e| panic!("{}: {e:#}", shell_words(&argv)));
                assert_eq!(
                    &parsed,
                    job,
                    "{} {}: {}",
                    c.preset,
                    c.scenario,
                    shell_words(&argv)
                );
            }
            kinds.insert(argv_kind(&demo.command(&st.job)));
        }
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "couple",
            "dataset",
            "evaluate",
            "evaluate --online",
            "sample",
            "simulate",
            "spectrum",
            "train"
        ]
    );
}

/// The subcommand of a command line (`evaluate --online` for the online
/// report).
fn argv_kind(argv: &[String]) -> String {
    match argv.get(2).map(String::as_str) {
        Some("--online") => format!("{} --online", argv[1]),
        _ => argv[1].clone(),
    }
}

/// Unknown presets and scenarios, and --pretrained outside its one
/// setting or without the shipped files, are refused before anything is
/// written.
#[test]
fn demo_refuses_bad_input_before_any_work() {
    let dir = test_path("demo-bad", "d", false);
    for (args, says) in [
        (
            vec!["--preset", "huge"],
            "expected small, paper or seed-large",
        ),
        (vec!["--scenario", "x"], "expected g, h or sgs"),
        (
            vec!["--pretrained", "--scenario", "h"],
            "small preset's G model",
        ),
        (
            vec!["--pretrained", "--preset", "paper"],
            "small preset's G model",
        ),
        (
            vec!["--pretrained", "--assets", "/nonexistent"],
            "is missing",
        ),
    ] {
        let mut all = vec!["demo", "--out", s(&dir)];
        all.extend_from_slice(&args);
        let (good, out, err) = diffclosure(&all);
        assert!(!good, "{args:?} must fail: {out}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!dir.exists(), "{args:?} created {}", dir.display());
    }
}

/// The whole demo on the shipped model and test truth: every stage runs,
/// the report holds the offline and online tables, and the learned
/// closure beats the coarse model alone at every reported time (on the
/// reference run its D_RE is 14 % against 22–38 % without closure, a
/// margin far beyond the run-to-run noise of one adapter). Run again, it
/// redoes nothing; another scenario in the same directory is refused.
#[test]
fn pretrained_demo_reports_and_resumes() {
    let dir = test_path("demo-pretrained", "d", false);
    let _ = std::fs::remove_dir_all(&dir);
    let out = ok(&["demo", "--pretrained", "--out", s(&dir)]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["format"], "diffclosure.demo.v1");
    let stages = report["stages"].as_array().unwrap();
    assert!(
        stages.iter().all(|st| st["seconds"].as_f64().is_some()),
        "{stages:?}"
    );
    let d_re = report["offline"]["rows"][0]["d_re"].as_f64().unwrap();
    assert!(d_re > 0.0 && d_re < 0.6, "offline D_RE {d_re}");
    let v = &report["verdict"];
    assert_eq!(v["learned_beats_none"], true, "{v}\n{out}");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for part in [
        "## Offline",
        "## Online",
        "online/d_re.png",
        "offline/row1_fields.png",
    ] {
        assert!(md.contains(part), "report.md lacks {part}");
    }
    for fig in [
        "online/d_re.png",
        "offline/row1_fields.png",
        "denoising/trajectory.png",
    ] {
        assert!(dir.join(fig).exists(), "{fig} missing");
    }

    let again = ok(&["demo", "--pretrained", "--out", s(&dir)]);
    assert_eq!(
        again.matches("done already, skipped").count(),
        stages.len(),
        "{again}"
    );
    let (good, _, err) = diffclosure(&["demo", "--scenario", "h", "--out", s(&dir)]);
    assert!(!good && err.contains("other settings"), "{err}");
}

/// `demo --pretrained` finds the shipped files at run time: from another
/// directory (beside the executable's target/ folder or the source tree),
/// in `$DIFFCLOSURE_ASSETS`, and in --assets before the variable; a
/// variable that names a folder without them is an error that says so.
#[test]
fn demo_finds_the_shipped_files_at_run_time() {
    let elsewhere = test_path("demo-assets", "cwd", false);
    std::fs::create_dir_all(&elsewhere).unwrap();
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .canonicalize()
        .unwrap();
    let model = |env: Option<&str>, extra: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_diffclosure"));
        cmd.current_dir(&elsewhere)
            .args(["demo", "--plan", "--pretrained"])
            .args(extra)
            .env_remove("DIFFCLOSURE_ASSETS");
        if let Some(v) = env {
            cmd.env("DIFFCLOSURE_ASSETS", v);
        }
        let out = cmd.output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        let words: Vec<String> = stdout
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        (value(&words, "--model").map(str::to_string), stderr)
    };
    let shipped = assets.join("g_model_small.safetensors");
    let shipped = s(&shipped);
    assert_eq!(model(None, &[]).0.as_deref(), Some(shipped));
    assert_eq!(model(Some(s(&assets)), &[]).0.as_deref(), Some(shipped));
    let (found, err) = model(Some(s(&elsewhere)), &[]);
    assert!(found.is_none(), "{found:?}");
    assert!(
        err.contains("is missing") && err.contains("DIFFCLOSURE_ASSETS"),
        "{err}"
    );
    let (found, _) = model(Some(s(&elsewhere)), &["--assets", s(&assets)]);
    assert_eq!(found.as_deref(), Some(shipped));
}
