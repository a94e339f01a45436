//! A demo stage: the library job it runs ([`StageJob`]), the files it
//! makes, and the `diffclosure` command line that runs the same job by
//! hand (each job's own `command_line`).

use std::path::PathBuf;

use crate::couple::CoupledJob;
use crate::data::dataset::DatasetJob;
use crate::error::Result;
use crate::gpu::Gpu;
use crate::job::partial_path;
use crate::metrics::offline::{self, OfflineConfig};
use crate::metrics::online::{self, OnlineConfig};
use crate::metrics::spectrum_job::SpectrumJob;
use crate::ns::TrajectoryJob;
use crate::score::train_job::TrainJob;
use crate::sde::SampleJob;

/// The job of a pipeline stage: one of the library jobs behind the
/// subcommands `simulate`, `spectrum`, `dataset`, `train`, `sample`,
/// `evaluate` (offline or `--online`) and `couple`.
#[derive(Clone, Debug, PartialEq)]
pub enum StageJob {
    /// Truth trajectories (`simulate`).
    Simulate(TrajectoryJob),
    /// Spectra and figures of a truth (`spectrum`).
    Spectrum(SpectrumJob),
    /// Closure datasets (`dataset`).
    Dataset(DatasetJob),
    /// The score network (`train`).
    Train(TrainJob),
    /// Closure samples (`sample`).
    Sample(SampleJob),
    /// The offline report (`evaluate`).
    Offline(OfflineConfig),
    /// The online report (`evaluate --online`).
    Online(OnlineConfig),
    /// A coupled run (`couple`).
    Couple(CoupledJob),
}

impl StageJob {
    /// The arguments of the `diffclosure` command that runs this job (the
    /// words after `diffclosure`, without the adapter flags).
    pub fn command_line(&self) -> Vec<String> {
        match self {
            Self::Simulate(j) => j.command_line(),
            Self::Spectrum(j) => j.command_line(),
            Self::Dataset(j) => j.command_line(),
            Self::Train(j) => j.command_line(),
            Self::Sample(j) => j.command_line(),
            Self::Offline(c) => c.command_line(),
            Self::Online(c) => c.command_line(),
            Self::Couple(j) => j.command_line(),
        }
    }

    /// The file an interrupted run of this job leaves to continue from:
    /// `OUT.partial` of a simulation, sampling or coupled run, a training's
    /// checkpoint; `None` for the jobs that start over.
    pub fn resume_file(&self) -> Option<PathBuf> {
        match self {
            Self::Simulate(j) => Some(partial_path(&j.out)),
            Self::Sample(j) => Some(partial_path(&j.shard.path(&j.out))),
            Self::Couple(j) => Some(partial_path(&j.out)),
            Self::Train(j) => Some(j.out.clone()),
            Self::Spectrum(_) | Self::Dataset(_) | Self::Offline(_) | Self::Online(_) => None,
        }
    }

    /// This job continuing from [`Self::resume_file`] (`--resume`); the
    /// same job for those that start over.
    pub fn resumed(&self) -> Self {
        let mut j = self.clone();
        match &mut j {
            Self::Simulate(x) => x.resume = true,
            Self::Sample(x) => x.resume = true,
            Self::Couple(x) => x.resume = true,
            Self::Train(x) => x.resume = true,
            Self::Spectrum(_) | Self::Dataset(_) | Self::Offline(_) | Self::Online(_) => {}
        }
        j
    }

    /// Records `line`, the command line that runs this job, where the job
    /// keeps it: a training's checkpoint (`train.command`); the other jobs
    /// keep none.
    pub fn record_command(&mut self, line: &str) {
        if let Self::Train(j) = self {
            j.command = line.to_string();
        }
    }

    /// Runs the job on `gpu` (a dataset needs none), checking everything
    /// before its GPU work as the subcommand does, and returns the lines
    /// the subcommand prints when done.
    ///
    /// # Errors
    /// The job's own: its plan's refusals (arguments, inputs, existing
    /// outputs), then GPU and I/O errors.
    pub fn run(&self, gpu: &Gpu) -> Result<String> {
        Ok(match self {
            Self::Simulate(j) => j.run(gpu)?.to_string(),
            Self::Spectrum(j) => j.describe(&j.run(gpu)?),
            Self::Dataset(j) => j.describe(&j.run()?),
            Self::Train(j) => j.run(gpu)?.to_string(),
            Self::Sample(j) => j.run(gpu)?.to_string(),
            Self::Offline(c) => {
                c.validate()?;
                offline::run(gpu, c)?.to_string()
            }
            Self::Online(c) => {
                c.validate()?;
                online::run(gpu, c)?.to_string()
            }
            Self::Couple(j) => j.run(gpu)?.to_string(),
        })
    }
}

/// One pipeline stage: its job and the files it makes.
#[derive(Clone, Debug)]
pub struct Stage {
    /// What the stage does ("truth (training)", "sampling", …).
    pub name: &'static str,
    /// The job.
    pub job: StageJob,
    /// The stage is done when all exist (and a training's checkpoint holds
    /// every epoch: one stopped by --train-minutes is not done).
    pub outputs: Vec<PathBuf>,
    /// What a fresh (not resumed) start removes first: partial outputs of
    /// an earlier attempt, which the job would refuse to overwrite.
    pub scratch: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::recipe;

    /// A stage continues an interrupted run exactly when its job can: the
    /// jobs with a resume file take `--resume`, the others start over; a
    /// job's resume file is in the demo's directory (the runner removes a
    /// stale one there).
    #[test]
    fn resume_file_and_resumed_agree() {
        let dir = Path::new("d");
        for preset in ["small", "paper", "seed-large"] {
            for scenario in ["g", "h", "sgs"] {
                for st in recipe::stages(preset, scenario, dir, None, None).unwrap() {
                    let file = st.job.resume_file();
                    assert_eq!(file.is_some(), st.job.resumed() != st.job, "{st:?}");
                    assert!(file.is_none_or(|f| f.starts_with(dir)), "{st:?}");
                }
            }
        }
    }
}
