//! The demo's recipe: the settings of each preset and the stages they
//! make, as library jobs with the files each one writes.

use std::path::{Path, PathBuf};

use super::{Stage, StageJob};
use crate::couple::{ClosureKind, CoupledJob};
use crate::data::dataset::{DatasetJob, DatasetSpec, Scenario, Sensors};
use crate::error::Result;
use crate::job_bail;
use crate::metrics::offline::OfflineConfig;
use crate::metrics::online::OnlineConfig;
use crate::metrics::spectrum_job::SpectrumJob;
use crate::ns::restrict::Restriction;
use crate::ns::{Preset, TrajectoryJob};
use crate::score::spectral_conv::Method;
use crate::score::train_job::{ScoreOverrides, Spectral, TrainJob, TrainOverrides};
use crate::sde::SampleJob;

/// The pipeline's settings of one preset.
struct Recipe {
    /// The flow (`simulate --preset`) and the fine-to-coarse restriction.
    flow: Preset,
    restriction: Restriction,
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
    /// Training: epochs, the network and the hyper-parameters (the others
    /// the defaults).
    epochs: u64,
    network: ScoreOverrides,
    hyper: TrainOverrides,
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
                flow: Preset::Seed,
                restriction: Restriction::Spectral,
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
                epochs: 6,
                network: ScoreOverrides {
                    width: Some(8),
                    modes: Some(32),
                    layers: Some(2),
                    embed_dim: Some(32),
                    fc_hidden: Some(32),
                    ..ScoreOverrides::default()
                },
                hyper: TrainOverrides {
                    batch: Some(16),
                    lr: Some(3e-3),
                    t_max: Some(0.1),
                    spectral: Some(Spectral::Fixed(Method::Fft)),
                    ..TrainOverrides::default()
                },
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
                flow: Preset::Reference,
                restriction: Restriction::Stride,
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
                epochs: 1000,
                network: ScoreOverrides::default(),
                hyper: TrainOverrides {
                    batch: Some(200),
                    lr: Some(1e-3),
                    lr_step: Some(200),
                    lr_gamma: Some(0.5),
                    t_max: Some(0.1),
                    ..TrainOverrides::default()
                },
                conditions: 100,
                samples_per_condition: 4,
                every: 5,
            },
            // The seed preset (Kolmogorov flow) at the paper's size: its
            // data window, spectral restriction and 5 × 5 sensors, online
            // on the test truth.
            "seed-large" => Self {
                flow: Preset::Seed,
                restriction: Restriction::Spectral,
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

/// The stages of the demo of `preset` and `scenario` (g, h or sgs) in
/// `dir`, in order: with the shipped files of `assets` (`Some`: the
/// pretrained demo), without simulation and training. `train_minutes`
/// caps the training. A training job's `command` is left empty: the
/// caller records the stage's command line there.
///
/// # Errors
/// [`crate::Error::Job`] for an unknown preset;
/// [`crate::Error::InvalidArgument`] for an unknown scenario.
pub(super) fn stages(
    preset: &str,
    scenario: &str,
    dir: &Path,
    assets: Option<&Path>,
    train_minutes: Option<f64>,
) -> Result<Vec<Stage>> {
    let r = Recipe::new(preset)?;
    let kind: Scenario = scenario.parse()?;
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
        let all_grids: Vec<usize> = std::iter::once(r.coarse)
            .chain(r.extra_grids.iter().copied())
            .collect();
        let mut truths = vec![
            (
                "truth_train",
                "truth (training)",
                0,
                r.train_batch,
                r.train_t_end,
                vec![r.coarse],
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
                vec![r.coarse],
                true,
            ));
        }
        for (name, label, seed, batch, t_end, coarse, no_fine) in truths {
            let file = f(&format!("{name}.safetensors"));
            out.push(Stage {
                name: label,
                job: StageJob::Simulate(TrajectoryJob {
                    grid: Some(r.fine),
                    batch,
                    seed,
                    t_end: Some(t_end),
                    snapshot_every: Some(r.snapshot_every),
                    coarse: Some(coarse),
                    restriction: r.restriction,
                    fine: !no_fine,
                    dt: r.dt,
                    ..TrajectoryJob::new(r.flow, &file)
                }),
                outputs: vec![file],
                scratch: Vec::new(),
            });
        }
        let truth_dir = f("truth");
        let [json, png, heatmap] =
            ["spectrum.json", "spectrum.png", "vorticity.png"].map(|n| truth_dir.join(n));
        out.push(Stage {
            name: "truth spectrum",
            job: StageJob::Spectrum(SpectrumJob {
                json: Some(json.clone()),
                png: Some(png.clone()),
                heatmap: Some(heatmap.clone()),
                ..SpectrumJob::new(&f("truth_test.safetensors"))
            }),
            outputs: vec![json, png, heatmap],
            scratch: vec![truth_dir.clone()],
        });
        for &grid in std::iter::once(&r.coarse).chain(&r.extra_grids) {
            let test = f(&format!("test_{grid}.safetensors"));
            // The model's grid: training and test splits of both truths;
            // a finer grid: the test truth's test split alone.
            let train = (grid == r.coarse).then(|| f(&format!("train_{grid}.safetensors")));
            let mut inputs = Vec::new();
            if train.is_some() {
                inputs.push(f("truth_train.safetensors"));
            }
            inputs.push(f("truth_test.safetensors"));
            let spec = DatasetSpec {
                scenario: kind,
                grid,
                sensors: Sensors::parse(r.sensors, r.coarse)?,
                test_trajectories: r.test_batch,
                test_only: train.is_none(),
            };
            let job = DatasetJob::new(inputs, spec, train.clone(), test.clone());
            let outputs: Vec<PathBuf> = train.into_iter().chain([test]).collect();
            out.push(Stage {
                name: "dataset",
                job: StageJob::Dataset(job),
                scratch: outputs.clone(),
                outputs,
            });
        }
        let (ck, model) = (f("model.ckpt.safetensors"), f("model.safetensors"));
        out.push(Stage {
            name: "training",
            job: StageJob::Train(TrainJob {
                export: Some(model.clone()),
                loss_log: Some(f("loss.csv")),
                epochs: Some(r.epochs),
                network: r.network.clone(),
                hyper: r.hyper.clone(),
                max_minutes: train_minutes,
                ..TrainJob::new(&f(&format!("train_{}.safetensors", r.coarse)), &ck)
            }),
            outputs: vec![model.clone()],
            scratch: vec![f("loss.csv")],
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
        let trajectory = (grid == r.coarse).then(|| f("denoising"));
        out.push(Stage {
            name: "sampling",
            job: StageJob::Sample(SampleJob {
                conditions: Some(r.conditions),
                samples_per_condition: if grid == r.coarse {
                    r.samples_per_condition
                } else {
                    1
                },
                trajectory: trajectory.clone(),
                ..SampleJob::new(&model, &data, &file)
            }),
            outputs: vec![file.clone()],
            scratch: trajectory.into_iter().collect(),
        });
        sample_files.push(file);
    }
    let offline = f("offline");
    out.push(Stage {
        name: "offline evaluation",
        job: StageJob::Offline(OfflineConfig {
            samples: sample_files,
            out: offline.clone(),
            title: title("Offline", scenario, preset),
            labels: Vec::new(),
        }),
        outputs: vec![offline.join("report.md")],
        scratch: vec![offline],
    });

    // Online: the coarse model from the test truth's first snapshot.
    let mut closures = vec!["none"];
    match kind {
        Scenario::G => closures.extend(["dynamic-smagorinsky", "oracle"]),
        Scenario::H => closures.push("oracle"),
        Scenario::Sgs => closures.push("dynamic-smagorinsky"),
    }
    closures.push("learned");
    let mut runs = Vec::new();
    for c in closures {
        let file = f(&format!("online_{c}.safetensors"));
        let closure: ClosureKind = c.parse()?;
        let learned = closure == ClosureKind::Learned;
        out.push(Stage {
            name: "coupled run",
            job: StageJob::Couple(CoupledJob {
                scenario: kind,
                grid: r.coarse,
                closure,
                model: learned.then(|| model.clone()),
                every: if learned { r.every } else { 1 },
                ..CoupledJob::new(&truth_test, &file)
            }),
            outputs: vec![file.clone()],
            scratch: Vec::new(),
        });
        runs.push(file);
    }
    let online = f("online");
    out.push(Stage {
        name: "online evaluation",
        job: StageJob::Online(OnlineConfig {
            runs,
            out: online.clone(),
            title: title("Online", scenario, preset),
            labels: Vec::new(),
            at: Vec::new(),
        }),
        outputs: vec![online.join("report.md")],
        scratch: vec![online],
    });
    Ok(out)
}

/// The heading of the demo's `kind` (Offline, Online) report.
fn title(kind: &str, scenario: &str, preset: &str) -> String {
    format!("{kind} evaluation ({scenario}, demo {preset})")
}
