//! Each pipeline job's `command_line` is the command that runs that job:
//! parsed by the command line's own definitions and made into a job by
//! its own code ([`diffclosure::cli::parse_job`]), it gives the job back,
//! for the defaults (so `new` and the subcommand agree on them) and with
//! every setting changed (so no field is left out or misspelt).

use std::path::{Path, PathBuf};

use diffclosure::cli::parse_job;
use diffclosure::couple::{ClosureKind, CoupledJob};
use diffclosure::data::dataset::{DatasetJob, DatasetSpec, Scenario, Sensors};
use diffclosure::demo::{shell_words, StageJob};
use diffclosure::metrics::offline::{self, OfflineConfig};
use diffclosure::metrics::online::{self, OnlineConfig};
use diffclosure::metrics::spectrum_job::SpectrumJob;
use diffclosure::ns::eddy::{Coefficient, EddyModel, EddyViscosity};
use diffclosure::ns::restrict::Restriction;
use diffclosure::ns::{Preset, TimeScheme, TrajectoryJob};
use diffclosure::score::spectral_conv::Method;
use diffclosure::score::train_job::{ScoreOverrides, Spectral, TrainJob, TrainOverrides};
use diffclosure::sde::{FinalStep, SampleJob, Sampler, SamplerConfig, Shard};

/// `job`'s command line, and `job` as the command line makes it (a
/// training records its line).
fn line_and_job(mut job: StageJob) -> (Vec<String>, StageJob) {
    let argv: Vec<String> = std::iter::once("diffclosure".to_string())
        .chain(job.command_line())
        .collect();
    job.record_command(&shell_words(&argv));
    (argv, job)
}

/// Asserts that `job`'s command line parses back to `expected`.
fn parses_to(job: StageJob, expected: StageJob) {
    let (argv, _) = line_and_job(job);
    let (_, expected) = line_and_job(expected);
    let parsed = parse_job(&argv).unwrap_or_else(|e| panic!("{}: {e:#}", shell_words(&argv)));
    assert_eq!(parsed, expected, "{}", shell_words(&argv));
}

fn round_trips(job: StageJob) {
    parses_to(job.clone(), job);
}

fn p(s: &str) -> PathBuf {
    PathBuf::from(s)
}

/// A sampler with every setting changed.
fn sampler() -> SamplerConfig {
    SamplerConfig {
        sampler: Sampler::Heun,
        steps: 4,
        t_max: 0.5,
        t_min: 2e-3,
        rho: 5.5,
        final_step: FinalStep::Euler,
        allow_unstable: true,
        ..SamplerConfig::default()
    }
}

#[test]
fn every_job_command_line_parses_back_to_the_job() {
    let out = Path::new("dir with space/out.safetensors");
    round_trips(StageJob::Simulate(TrajectoryJob::new(Preset::Seed, out)));
    round_trips(StageJob::Simulate(TrajectoryJob {
        grid: Some(64),
        batch: 3,
        seed: 7,
        t_end: Some(1.25),
        t_start: Some(0.5),
        snapshot_every: Some(3),
        dt: Some(1e-3),
        scheme: TimeScheme::Euler,
        init: Some(p("init.safetensors")),
        coarse: Some(vec![16, 32]),
        restriction: Restriction::Stride,
        fine: false,
        checkpoint_every: 17,
        resume: true,
        quiet: true,
        ..TrajectoryJob::new(Preset::Reference, out)
    }));
    round_trips(StageJob::Simulate(TrajectoryJob {
        steps: Some(100),
        coarse: Some(Vec::new()),
        ..TrajectoryJob::new(Preset::Seed, out)
    }));

    round_trips(StageJob::Spectrum(SpectrumJob::new(out)));
    round_trips(StageJob::Spectrum(SpectrumJob {
        from: 2.5,
        json: Some(p("s.json")),
        png: Some(p("s.png")),
        heatmap: Some(p("h.png")),
        ..SpectrumJob::new(out)
    }));

    let spec = DatasetSpec {
        scenario: Scenario::Sgs,
        grid: 32,
        sensors: Sensors::parse("4x4", 64).unwrap(),
        test_trajectories: 3,
        test_only: false,
    };
    let inputs = vec![p("a.safetensors"), p("b c.safetensors")];
    round_trips(StageJob::Dataset(DatasetJob::new(
        inputs.clone(),
        spec.clone(),
        Some(p("train.safetensors")),
        out.to_path_buf(),
    )));
    round_trips(StageJob::Dataset(DatasetJob::new(
        inputs,
        spec,
        None,
        out.to_path_buf(),
    )));

    let data = Path::new("train.safetensors");
    round_trips(StageJob::Train(TrainJob::new(data, out)));
    round_trips(StageJob::Train(TrainJob {
        resume: true,
        epochs: Some(12),
        network: ScoreOverrides {
            config_file: Some(p("net.json")),
            width: Some(6),
            modes: Some(5),
            layers: Some(3),
            embed_dim: Some(16),
            fc_hidden: Some(24),
            no_vorticity: true,
            no_sparse: true,
        },
        hyper: TrainOverrides {
            batch: Some(8),
            micro_batch: Some(4),
            lr: Some(2.5e-4),
            lr_step: Some(7),
            lr_gamma: Some(0.25),
            t_min: Some(1e-4),
            t_max: Some(0.3),
            seed: Some(11),
            spectral: Some(Spectral::Auto),
        },
        checkpoint_every: 3,
        max_minutes: Some(1.5),
        log_every: 5,
        loss_log: Some(p("loss.csv")),
        export: Some(p("model.safetensors")),
        quiet: true,
        ..TrainJob::new(data, out)
    }));
    round_trips(StageJob::Train(TrainJob {
        hyper: TrainOverrides {
            spectral: Some(Spectral::Fixed(Method::Fft)),
            ..TrainOverrides::default()
        },
        ..TrainJob::new(data, out)
    }));

    let (model, test) = (Path::new("m.safetensors"), Path::new("t.safetensors"));
    round_trips(StageJob::Sample(SampleJob::new(model, test, out)));
    round_trips(StageJob::Sample(SampleJob {
        grid: Some(32),
        samples_per_condition: 3,
        conditions: Some(5),
        sampler: sampler(),
        allow_untrained_noise: true,
        seed: 9,
        batch: 4,
        spectral: Method::Dft,
        shard: Shard { index: 1, count: 3 },
        resume: true,
        checkpoint_every: 2,
        trajectory: Some(p("denoising")),
        quiet: true,
        ..SampleJob::new(model, test, out)
    }));

    let truth = Path::new("truth.safetensors");
    round_trips(StageJob::Couple(CoupledJob::new(truth, out)));
    round_trips(StageJob::Couple(CoupledJob {
        scenario: Scenario::Sgs,
        closure: "smagorinsky".parse().unwrap(),
        coefficient: Some(0.2),
        perturb: 0.01,
        mean_samples: 3,
        model: Some(model.to_path_buf()),
        grid: 32,
        start: Some(1.5),
        span: Some(2.0),
        every: 2,
        ensemble: 4,
        observations: Some(false),
        sampler: sampler(),
        allow_untrained_noise: true,
        seed: 5,
        quiet: true,
        resume: true,
        checkpoint_every: 7,
        ..CoupledJob::new(truth, out)
    }));
    // A constant eddy viscosity's own coefficient is written as
    // --coefficient: the same run, held in `coefficient` by the command
    // line.
    let leith = |c| {
        ClosureKind::Eddy(EddyViscosity {
            model: EddyModel::Leith,
            coefficient: c,
        })
    };
    parses_to(
        StageJob::Couple(CoupledJob {
            closure: leith(Coefficient::Constant(0.3)),
            ..CoupledJob::new(truth, out)
        }),
        StageJob::Couple(CoupledJob {
            closure: leith(Coefficient::DEFAULT),
            coefficient: Some(0.3),
            ..CoupledJob::new(truth, out)
        }),
    );

    let files = vec![p("a.safetensors"), p("b.safetensors")];
    let report = Path::new("report dir");
    round_trips(StageJob::Offline(OfflineConfig {
        samples: files.clone(),
        out: report.to_path_buf(),
        title: offline::DEFAULT_TITLE.into(),
        labels: Vec::new(),
    }));
    round_trips(StageJob::Offline(OfflineConfig {
        samples: files.clone(),
        out: report.to_path_buf(),
        title: "A title".into(),
        labels: vec!["one".into(), "two".into()],
    }));
    round_trips(StageJob::Online(OnlineConfig {
        runs: files.clone(),
        out: report.to_path_buf(),
        title: online::DEFAULT_TITLE.into(),
        labels: Vec::new(),
        at: Vec::new(),
    }));
    round_trips(StageJob::Online(OnlineConfig {
        runs: files,
        out: report.to_path_buf(),
        title: "A title".into(),
        labels: vec!["one".into(), "two".into()],
        at: vec![0.5, 1.25],
    }));
}

/// A line that is not a pipeline job, or does not parse, is an error.
#[test]
fn parse_job_refuses_other_lines() {
    for line in [
        vec!["diffclosure", "info"],
        vec!["diffclosure", "merge", "a", "--out", "b"],
        vec!["diffclosure", "simulate"],
        vec![
            "diffclosure",
            "couple",
            "--truth",
            "t",
            "--out",
            "o",
            "--closure",
            "x",
        ],
    ] {
        assert!(parse_job(&line).is_err(), "{line:?}");
    }
}
