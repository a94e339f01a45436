//! Command-line interface: clap definitions, one file per subcommand.

mod bench;
mod bench_args;
mod bench_net_args;
mod couple;
mod dataset;
mod demo;
mod evaluate;
mod info;
mod sample;
mod simulate;
mod spectrum;
mod train;

use clap::{Args, Parser, Subcommand};

use crate::demo::{shell_words, StageJob};
use crate::gpu::{Backend, GpuOptions, ADAPTER_ENV, BACKEND_ENV};
use crate::sde::{FinalStep, Sampler, SamplerConfig};

/// diffclosure: GPU stochastic closure models (conditional diffusion + FNO).
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    gpu: GpuArgs,
    #[command(subcommand)]
    command: Command,
}

/// Adapter selection, shared by every subcommand.
#[derive(Args, Debug, Clone)]
pub struct GpuArgs {
    /// Graphics backend: vulkan, metal, dx12 or gl (default: all, best adapter).
    #[arg(long, global = true, env = BACKEND_ENV)]
    backend: Option<String>,
    /// Adapter index (as listed by `info`) or a substring of its name.
    #[arg(long, global = true, env = ADAPTER_ENV)]
    adapter: Option<String>,
}

impl GpuArgs {
    /// The adapter options these flags select (an empty value = unset, as
    /// for the environment variables).
    ///
    /// # Errors
    /// An unknown backend name.
    pub fn options(&self) -> crate::Result<GpuOptions> {
        let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
        Ok(GpuOptions {
            backend: nonempty(&self.backend)
                .map(|s| s.parse::<Backend>())
                .transpose()?,
            adapter: nonempty(&self.adapter),
        })
    }
}

/// The reverse sampler and its schedule, shared by `sample` and `couple`.
#[derive(Args, Debug, Clone)]
pub struct SamplerArgs {
    /// Sampler: em (Euler–Maruyama), heun (stochastic Heun) or ode
    /// (probability-flow ODE, Heun); every one ends with the noise-free
    /// --final-step from t_min to 0.
    #[arg(long, default_value = "em")]
    sampler: Sampler,
    /// Sampler steps N, the final step to 0 included (score evaluations:
    /// N for em, 2N − 1 for heun and ode).
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Start time of the reverse run (0.1: the fast sampler; 1: the
    /// classical one). Must lie inside the noise range the model was
    /// trained on (its `train.t_max`).
    #[arg(long, default_value_t = 0.1)]
    t_max: f64,
    /// The last Karras time, from which the final step goes to t = 0.
    #[arg(long, default_value_t = 1e-3)]
    t_min: f64,
    /// Karras schedule exponent ρ.
    #[arg(long, default_value_t = 7.0)]
    rho: f64,
    /// The step from t_min to 0: tweedie (the posterior mean x + σ² ∇log p:
    /// the least-squares clean estimate) or euler (the reference code's
    /// noise-free Euler–Maruyama step, to reproduce its samples).
    #[arg(long, default_value = "tweedie")]
    final_step: FinalStep,
    /// Run a schedule whose steps amplify deviations (few Heun or ODE
    /// steps from a large t_max), which is refused otherwise.
    #[arg(long)]
    allow_unstable: bool,
    /// Sample at noise levels outside the model's training range
    /// [train.t_min, train.t_max], which is refused otherwise (the network
    /// has never seen them: errors of 10⁴× the closure were measured).
    #[arg(long)]
    allow_untrained_noise: bool,
}

impl SamplerArgs {
    /// The sampler and schedule these flags choose, for a model not yet
    /// known (the default SDE: [`SamplerConfig::for_model`] sets the
    /// model's).
    pub fn settings(&self) -> SamplerConfig {
        SamplerConfig {
            sampler: self.sampler,
            steps: self.steps,
            t_max: self.t_max,
            t_min: self.t_min,
            rho: self.rho,
            sde: crate::sde::VeSde::default(),
            final_step: self.final_step,
            allow_unstable: self.allow_unstable,
        }
    }

    /// Whether `--allow-untrained-noise` was given.
    pub fn allow_untrained_noise(&self) -> bool {
        self.allow_untrained_noise
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List GPU adapters with backend, type, driver, limits and features,
    /// and check the selected one by running an FFT and the RNG on it.
    Info(info::InfoArgs),
    /// Simulate truth trajectories of a preset (2-D Navier–Stokes on the GPU)
    /// and write vorticity snapshots to a safetensors file.
    #[command(allow_negative_numbers = true)]
    Simulate(simulate::SimulateArgs),
    /// Time-averaged energy and enstrophy spectra of a `simulate` output,
    /// and whether the run is resolved (enstrophy spectrum >= 4 decades
    /// below its peak at the 2/3 cutoff).
    #[command(allow_negative_numbers = true)]
    Spectrum(spectrum::SpectrumArgs),
    /// Build train/test closure datasets (coarse vorticity, target closure
    /// term, sparse sensor values) from `simulate` outputs, split by
    /// trajectory.
    #[command(allow_negative_numbers = true)]
    Dataset(dataset::DatasetArgs),
    /// Train the conditional score network on a closure dataset
    /// (denoising score matching, resumable checkpoints).
    #[command(allow_negative_numbers = true)]
    Train(train::TrainArgs),
    /// Sample closures from a trained score network for the conditions of
    /// a dataset (reverse-SDE / ODE samplers on the GPU; batched,
    /// resumable, shardable with --shard i/n or a Slurm array).
    #[command(allow_negative_numbers = true)]
    Sample(sample::SampleArgs),
    /// Offline metrics of `sample` outputs against the truth (D_RE,
    /// D_MSE, correlation, spread–skill, CRPS, spectra): one table row per
    /// file, Markdown + JSON + PNG figures; with --online, a posteriori
    /// errors of `couple` runs over time.
    Evaluate(evaluate::EvaluateArgs),
    /// Run the coarse model of a closure scenario from a truth snapshot,
    /// with no closure, an eddy viscosity, the exact oracle, or the learned
    /// closure (one sample or a mean) sampled online on the GPU.
    #[command(allow_negative_numbers = true)]
    Couple(couple::CoupleArgs),
    /// Join the shard files of one `sample` job into one file.
    Merge(sample::MergeArgs),
    /// The whole pipeline with one set of defaults: truth simulation,
    /// dataset, training, sampling, offline evaluation, coupled runs and
    /// online evaluation, with a report (DIR/report.md, report.json, PNG
    /// figures); resumable stage by stage.
    Demo(demo::DemoArgs),
    /// Measure throughput on the selected adapter: `fft` (batched 2-D
    /// FFTs), `ns` (solver steps/s), `model` (score-network forward and
    /// training step), `sampler` (closure samples/s), `couple` (wall time
    /// per simulated second with each closure), `all` (every section, one
    /// JSON document naming the adapter).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// The process's command line, `diffclosure` first, words joined by
/// spaces (words with spaces or quotes single-quoted): what `train`
/// records in its checkpoint.
fn command_line() -> String {
    let words: Vec<String> = std::iter::once("diffclosure".to_string())
        .chain(std::env::args().skip(1))
        .collect();
    shell_words(&words)
}

/// Refuses input files that do not exist, naming the option that gave
/// each (`--model m.safetensors: no such file`), before any job reads
/// them — the jobs' own file errors name the file alone.
///
/// # Errors
/// The first missing input.
fn require_inputs<'a>(
    inputs: impl IntoIterator<Item = (&'a str, &'a std::path::Path)>,
) -> anyhow::Result<()> {
    for (option, path) in inputs {
        // symlink_metadata: a dangling link is reported by the job (as
        // what it is), not as a missing file.
        if path.symlink_metadata().is_err() {
            anyhow::bail!("{option} {}: no such file", path.display());
        }
    }
    Ok(())
}

/// Parses the process arguments and runs the chosen subcommand.
///
/// # Errors
/// Any error of the subcommand, with context.
pub fn run() -> anyhow::Result<()> {
    dispatch(Cli::parse())
}

/// The library job that the `diffclosure` command line `argv` runs
/// (`diffclosure` first): parsed by the same definitions and made by the
/// same code as when it runs; a `train` job records `argv` as its
/// command. The demo's check that each stage's printed line is the job it
/// runs.
///
/// # Errors
/// A line that does not parse, values the job refuses to take (an unknown
/// scenario, closure, spectral method, shard), a subcommand that is not a
/// pipeline job (`info`, `merge`, `demo`, `bench`).
pub fn parse_job<S: AsRef<str>>(argv: &[S]) -> anyhow::Result<StageJob> {
    let words: Vec<&str> = argv.iter().map(AsRef::as_ref).collect();
    Ok(match Cli::try_parse_from(&words)?.command {
        Command::Simulate(a) => StageJob::Simulate(simulate::job(&a)?),
        Command::Spectrum(a) => StageJob::Spectrum(spectrum::job(&a)),
        Command::Dataset(a) => StageJob::Dataset(dataset::job(&a)?),
        Command::Train(a) => StageJob::Train(train::job(&a, shell_words(&words))?),
        Command::Sample(a) => StageJob::Sample(sample::job(&a)?),
        Command::Evaluate(a) => evaluate::job(&a),
        Command::Couple(a) => StageJob::Couple(couple::job(&a)?),
        Command::Info(_) | Command::Merge(_) | Command::Demo(_) | Command::Bench(_) => {
            anyhow::bail!("{}: not a pipeline job", words.join(" "))
        }
    })
}

/// Runs one parsed command line.
fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Info(args) => info::run(&cli.gpu, &args),
        Command::Demo(args) => demo::run(&cli.gpu, &args),
        Command::Simulate(args) => simulate::run(&cli.gpu, &args),
        Command::Spectrum(args) => spectrum::run(&cli.gpu, &args),
        Command::Dataset(args) => dataset::run(&args),
        Command::Bench(cmd) => bench::run(&cli.gpu, &cmd),
        Command::Train(args) => train::run(&cli.gpu, &args),
        Command::Sample(args) => sample::run(&cli.gpu, &args),
        Command::Merge(args) => sample::merge(&args),
        Command::Couple(args) => couple::run(&cli.gpu, &args),
        Command::Evaluate(args) => evaluate::run(&cli.gpu, &args),
    }
}
