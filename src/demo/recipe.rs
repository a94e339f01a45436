//! The demo's recipe: the settings of each preset and the stages they
//! make, as `diffclosure` command lines with the files each one writes.

use std::path::{Path, PathBuf};

use super::Stage;
use crate::error::Result;
use crate::job::partial_path;
use crate::job_bail;

/// The pipeline's settings of one preset.
struct Recipe {
    /// The flow (`simulate --preset`) and the fine-to-coarse restriction.
    flow: &'static str,
    restriction: &'static str,
    /// Truth grid and the coarse grid of the model.
    fine: usize,
    coarse: usize,
    /// Extra test grids of the resolution study (≤ fine).
    extra_grids: Vec<usize>,
    dt: Option<f64>,
    train_batch: usize,
    test_batch: usize,
    train_t_end: f64,
    test_t_end: f64,
    snapshot_every: usize,
    /// Sparse sensors, `SxS` on the coarse grid.
    sensors: &'static str,
    /// The online runs' truth ends later than the test set's (the paper's
    /// +20 s from t = 30): a third simulation, of the test seed, to here.
    online_t_end: Option<f64>,
    train: Vec<&'static str>,
    conditions: usize,
    samples_per_condition: usize,
    /// Solver steps between closure draws online.
    every: usize,
}

impl Recipe {
    fn new(preset: &str) -> Result<Self> {
        Ok(match preset {
            // Measured on lavapipe (2 cores): truths ≈ 1.5 min, training
            // ≈ 2.5 min, the rest ≈ 3 min. Training up to t = 0.1 only
            // (the sampler's start), so every step teaches the noise levels
            // the fast sampler visits; see docs/results.md.
            "small" => Self {
                flow: "seed",
                restriction: "spectral",
                fine: 128,
                coarse: 64,
                // G lives at the smallest resolved scales: a 64² model
                // cannot know 128²'s (measured D_RE ≈ 100 %); the
                // resolution study is the paper preset's.
                extra_grids: Vec::new(),
                dt: Some(2e-3),
                train_batch: 4,
                test_batch: 2,
                train_t_end: 8.0,
                test_t_end: 10.0,
                snapshot_every: 10,
                sensors: "5x5",
                online_t_end: None,
                train: vec![
                    "--epochs",
                    "6",
                    "--width",
                    "8",
                    "--modes",
                    "32",
                    "--layers",
                    "2",
                    "--embed-dim",
                    "32",
                    "--fc-hidden",
                    "32",
                    "--batch",
                    "16",
                    "--lr",
                    "3e-3",
                    "--t-max",
                    "0.1",
                    "--spectral",
                    "fft",
                ],
                conditions: 32,
                samples_per_condition: 4,
                // 0.1 s holds: the same online error as 0.05 s (14.9 % vs
                // 14.7 % at +5 s, measured) at half the cost.
                every: 50,
            },
            // The paper's code (xdong99/SGM_FNO_Closure): the reference
            // preset at 256², stride restriction, snapshots every 10 steps
            // of t ∈ [30, 40] (the preset's data window), 8 training and 2
            // test trajectories (8 × 1001 = 8008 / 2002 samples), 16 × 16
            // sensors on 64², the reference network and training (Adam
            // 1e-3 halved every 200 epochs, 1000 epochs of batch 200) on
            // t ∈ [1e-5, 0.1] (the fast sampler's range), EM × 10 from 0.1;
            // online from t = 30 to 50 with a draw every 5 steps.
            "paper" => Self {
                flow: "reference",
                restriction: "stride",
                fine: 256,
                coarse: 64,
                extra_grids: vec![128, 256],
                dt: None,
                train_batch: 8,
                test_batch: 2,
                train_t_end: 40.0,
                test_t_end: 40.0,
                snapshot_every: 10,
                sensors: "16x16",
                online_t_end: Some(50.0),
                train: vec![
                    "--epochs",
                    "1000",
                    "--batch",
                    "200",
                    "--lr",
                    "1e-3",
                    "--lr-step",
                    "200",
                    "--lr-gamma",
                    "0.5",
                    "--t-max",
                    "0.1",
                ],
                conditions: 100,
                samples_per_condition: 4,
                every: 5,
            },
            // The seed preset (Kolmogorov flow) at the paper's size: its
            // data window, spectral restriction and 5 × 5 sensors, online
            // on the test truth.
            "seed-large" => Self {
                flow: "seed",
                restriction: "spectral",
                train_t_end: 15.0,
                test_t_end: 15.0,
                sensors: "5x5",
                online_t_end: None,
                samples_per_condition: 8,
                ..Self::new("paper")?
            },
            other => job_bail!("--preset {other}: expected small, paper or seed-large"),
        })
    }
}

fn s<T: ToString>(v: T) -> String {
    v.to_string()
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// The stages of the demo of `preset` and `scenario` (g, h or sgs) in
/// `dir`, in order: with the shipped files of `assets` (`Some`: the
/// pretrained demo), without simulation and training. `train_minutes`
/// caps the training.
///
/// # Errors
/// [`crate::Error::Job`] for an unknown preset.
pub(super) fn stages(
    preset: &str,
    scenario: &str,
    dir: &Path,
    assets: Option<&Path>,
    train_minutes: Option<f64>,
) -> Result<Vec<Stage>> {
    let r = Recipe::new(preset)?;
    let f = |name: &str| dir.join(name);
    let mut out = Vec::new();
    let (truth_test, test, model) = if let Some(assets) = assets {
        (
            assets.join("g_truth_test.safetensors"),
            assets.join("g_test_64.safetensors"),
            assets.join(super::PRETRAINED_MODEL),
        )
    } else {
        // The training truth needs the model's grid alone; the test truth
        // the finer test grids too, and the fine field (its spectrum).
        let all_grids = std::iter::once(r.coarse)
            .chain(r.extra_grids.iter().copied())
            .map(s)
            .collect::<Vec<_>>()
            .join(",");
        let mut truths = vec![
            (
                "truth_train",
                "truth (training)",
                0,
                r.train_batch,
                r.train_t_end,
                s(r.coarse),
                true,
            ),
            (
                "truth_test",
                "truth (test)",
                1,
                r.test_batch,
                r.test_t_end,
                all_grids,
                false,
            ),
        ];
        if let Some(t_end) = r.online_t_end {
            truths.push((
                "truth_online",
                "truth (online)",
                1,
                r.test_batch,
                t_end,
                s(r.coarse),
                true,
            ));
        }
        for (name, label, seed, batch, t_end, coarse, no_fine) in truths {
            let file = f(&format!("{name}.safetensors"));
            let mut args = vec![
                s("simulate"),
                s("--preset"),
                s(r.flow),
                s("--grid"),
                s(r.fine),
                s("--batch"),
                s(batch),
                s("--seed"),
                s(seed),
                s("--t-end"),
                s(t_end),
                s("--snapshot-every"),
                s(r.snapshot_every),
                s("--coarse"),
                coarse,
                s("--restriction"),
                s(r.restriction),
            ];
            if no_fine {
                args.push(s("--no-fine"));
            }
            if let Some(dt) = r.dt {
                args.extend([s("--dt"), s(dt)]);
            }
            args.extend([s("--out"), p(&file)]);
            out.push(Stage {
                name: label,
                args,
                resume_from: Some(partial_path(&file)),
                outputs: vec![file],
                scratch: Vec::new(),
                training: None,
            });
        }
        let truth_dir = f("truth");
        out.push(Stage {
            name: "truth spectrum",
            args: vec![
                s("spectrum"),
                s("--input"),
                p(&f("truth_test.safetensors")),
                s("--json"),
                p(&truth_dir.join("spectrum.json")),
                s("--png"),
                p(&truth_dir.join("spectrum.png")),
                s("--heatmap"),
                p(&truth_dir.join("vorticity.png")),
            ],
            outputs: ["spectrum.json", "spectrum.png", "vorticity.png"]
                .iter()
                .map(|n| truth_dir.join(n))
                .collect(),
            resume_from: None,
            scratch: vec![truth_dir.clone()],
            training: None,
        });
        for &grid in std::iter::once(&r.coarse).chain(&r.extra_grids) {
            let test = f(&format!("test_{grid}.safetensors"));
            let mut args = vec![s("dataset"), s("--input")];
            // The model's grid: training and test splits of both truths;
            // a finer grid: the test truth's test split alone.
            let train = (grid == r.coarse).then(|| f(&format!("train_{grid}.safetensors")));
            if train.is_some() {
                args.push(p(&f("truth_train.safetensors")));
            }
            args.extend([
                p(&f("truth_test.safetensors")),
                s("--scenario"),
                s(scenario),
                s("--grid"),
                s(grid),
                s("--sensor-grid"),
                s(r.coarse),
                s("--sensors"),
                s(r.sensors),
                s("--test-trajectories"),
                s(r.test_batch),
                s("--out-test"),
                p(&test),
            ]);
            if let Some(t) = &train {
                args.extend([s("--out-train"), p(t)]);
            }
            let outputs: Vec<PathBuf> = train.into_iter().chain([test]).collect();
            out.push(Stage {
                name: "dataset",
                args,
                scratch: outputs.clone(),
                outputs,
                resume_from: None,
                training: None,
            });
        }
        let (ck, model) = (f("model.ckpt.safetensors"), f("model.safetensors"));
        let mut args = vec![
            s("train"),
            s("--data"),
            p(&f(&format!("train_{}.safetensors", r.coarse))),
            s("--out"),
            p(&ck),
            s("--export"),
            p(&model),
            s("--loss-log"),
            p(&f("loss.csv")),
        ];
        args.extend(r.train.iter().map(s));
        if let Some(m) = train_minutes {
            args.extend([s("--max-minutes"), s(m)]);
        }
        out.push(Stage {
            name: "training",
            args,
            outputs: vec![model.clone()],
            resume_from: Some(ck.clone()),
            scratch: vec![f("loss.csv")],
            training: Some(ck.clone()),
        });
        (
            f(if r.online_t_end.is_some() {
                "truth_online.safetensors"
            } else {
                "truth_test.safetensors"
            }),
            f(&format!("test_{}.safetensors", r.coarse)),
            model,
        )
    };

    // Offline: samples on the model's grid and (resolution study) finer.
    let mut grids = vec![r.coarse];
    if assets.is_none() {
        grids.extend(r.extra_grids.iter().copied());
    }
    let mut sample_files = Vec::new();
    for &grid in &grids {
        let file = f(&format!("samples_{grid}.safetensors"));
        let data = if grid == r.coarse {
            test.clone()
        } else {
            f(&format!("test_{grid}.safetensors"))
        };
        let mut args = vec![
            s("sample"),
            s("--model"),
            p(&model),
            s("--data"),
            p(&data),
            s("--conditions"),
            s(r.conditions),
            s("--samples-per-condition"),
            s(if grid == r.coarse {
                r.samples_per_condition
            } else {
                1
            }),
            s("--out"),
            p(&file),
        ];
        let mut scratch = Vec::new();
        if grid == r.coarse {
            args.extend([s("--trajectory"), p(&f("denoising"))]);
            scratch.push(f("denoising"));
        }
        out.push(Stage {
            name: "sampling",
            args,
            resume_from: Some(partial_path(&file)),
            outputs: vec![file.clone()],
            scratch,
            training: None,
        });
        sample_files.push(file);
    }
    out.push(evaluation(
        &sample_files,
        &f("offline"),
        "offline",
        scenario,
        preset,
    ));

    // Online: the coarse model from the test truth's first snapshot.
    let mut closures = vec!["none"];
    match scenario {
        "g" => closures.extend(["dynamic-smagorinsky", "oracle"]),
        "h" => closures.push("oracle"),
        _ => closures.push("dynamic-smagorinsky"),
    }
    closures.push("learned");
    let mut runs = Vec::new();
    for c in closures {
        let file = f(&format!("online_{c}.safetensors"));
        let mut args = vec![
            s("couple"),
            s("--truth"),
            p(&truth_test),
            s("--scenario"),
            s(scenario),
            s("--grid"),
            s(r.coarse),
            s("--closure"),
            s(c),
        ];
        if c == "learned" {
            args.extend([s("--model"), p(&model), s("--every"), s(r.every)]);
        }
        args.extend([s("--out"), p(&file)]);
        out.push(Stage {
            name: "coupled run",
            args,
            resume_from: Some(partial_path(&file)),
            outputs: vec![file.clone()],
            scratch: Vec::new(),
            training: None,
        });
        runs.push(file);
    }
    out.push(evaluation(&runs, &f("online"), "online", scenario, preset));
    Ok(out)
}

/// The `evaluate` stage of `kind` (offline: samples files; online:
/// coupled runs) writing its report into `dir`.
fn evaluation(
    files: &[PathBuf],
    dir: &Path,
    kind: &'static str,
    scenario: &str,
    preset: &str,
) -> Stage {
    let mut args = vec![s("evaluate")];
    if kind == "online" {
        args.push(s("--online"));
    }
    args.extend(files.iter().map(|x| p(x)));
    let title = format!(
        "{}{} evaluation ({scenario}, demo {preset})",
        kind[..1].to_uppercase(),
        &kind[1..]
    );
    args.extend([s("--out"), p(dir), s("--title"), title]);
    Stage {
        name: if kind == "online" {
            "online evaluation"
        } else {
            "offline evaluation"
        },
        args,
        outputs: vec![dir.join("report.md")],
        resume_from: None,
        scratch: vec![dir.to_path_buf()],
        training: None,
    }
}
