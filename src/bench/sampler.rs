//! Closure samples per second of the reverse sampler: one command encoder
//! per batch, the readback of the samples included. `cargo bench --bench
//! sampler` times the same [`Batch`] with criterion.

use std::collections::HashMap;

use serde::Serialize;

use super::model::Net;
use super::{host_cost, median_seconds, synthetic_samples, Section, Table, Timing};
use crate::data::dataset::Samples;
use crate::gpu::{Gpu, GpuCounts};
use crate::score::spectral_conv::Method;
use crate::sde::generate::Generator;
use crate::sde::{Noise, SamplerConfig};
use crate::Result;

/// The sampler section: a network, a sampler and the batch sizes timed.
#[derive(Clone, Debug)]
pub struct SamplerBench {
    /// The network (its grid check passed for `grid`).
    pub net: Net,
    /// Grid points per side.
    pub grid: usize,
    /// Batch sizes, each >= 1, measured in this order.
    pub batches: Vec<usize>,
    /// The sampler (its [`SamplerConfig::times`] accepted).
    pub sampler: SamplerConfig,
    /// The spectral route of the network.
    pub spectral: Method,
    /// Per batch size.
    pub timing: Timing,
}

/// One measured sampler case (one batch size).
#[derive(Serialize, Debug)]
struct SamplerResult {
    grid: usize,
    batch: usize,
    sampler: String,
    steps: usize,
    t_max: f64,
    spectral: String,
    calls_per_repeat: usize,
    ms_per_batch: f64,
    samples_per_s: f64,
    ms_per_eval_per_sample: f64,
    /// Dispatches per score evaluation (those of the sampler's own steps
    /// included).
    dispatches_per_eval: f64,
    /// Dispatches, bind groups and parameter buffers of one batch.
    per_call: GpuCounts,
}

/// Results of the sampler section.
#[derive(Serialize, Debug)]
pub struct SamplerSection {
    config: HashMap<String, String>,
    sampler: Vec<SamplerResult>,
}

/// One batch of conditions to sample closures for: `B` [`synthetic`]
/// conditions on `n × n` (a [`Generator`] borrows them) and the noise of
/// the reverse run.
///
/// [`synthetic`]: super::synthetic
pub struct Batch {
    data: Samples,
    conditions: Vec<usize>,
    noise: Noise,
}

impl Batch {
    /// `b` conditions on `n × n` with `sensors × sensors` observations.
    pub fn new(n: usize, sensors: usize, b: usize) -> Self {
        Self {
            data: synthetic_samples(n, sensors, b),
            conditions: (0..b).collect(),
            noise: Noise::batch(0, b * n * n),
        }
    }

    /// A generator of the whole batch at once for `net` and `sampler`.
    ///
    /// # Errors
    /// As [`Generator::new`].
    pub fn generator(
        &self,
        gpu: &Gpu,
        net: &Net,
        sampler: SamplerConfig,
        method: Method,
    ) -> Result<Generator<'_>> {
        let b = self.conditions.len();
        Generator::new(
            gpu,
            &net.config,
            &net.params,
            &self.data,
            sampler,
            b,
            method,
        )
    }

    /// Samples the batch with `g` (one of [`Batch::generator`]), read back.
    ///
    /// # Errors
    /// As [`Generator::run`].
    pub fn call(&self, g: &Generator<'_>) -> Result<()> {
        g.run(&self.conditions, &self.noise, None).map(drop)
    }
}

impl Section for SamplerBench {
    const NAME: &'static str = "sampler";
    type Output = SamplerSection;

    fn measure(&self, gpu: &Gpu) -> Result<SamplerSection> {
        let (scfg, method, n) = (self.sampler, self.spectral, self.grid);
        println!("{}", self.net.describe());
        let evals = scfg.sampler.evals(scfg.steps);
        println!(
            "sampler {} x{} from t_max = {} ({evals} score evaluations), {n}x{n} grid, spectral {method}",
            scfg.sampler, scfg.steps, scfg.t_max
        );
        let table = Table::new(&[
            ("batch", 6),
            ("ms/batch", 12),
            ("samples/s", 10),
            ("ms/eval/sample", 16),
            ("dispatches/eval", 16),
        ]);
        let mut results = Vec::new();
        for &b in &self.batches {
            let batch = Batch::new(n, self.net.sensors, b);
            let g = batch.generator(gpu, &self.net, scfg, method)?;
            let mut call = || batch.call(&g);
            let (calls, t) = median_seconds(gpu, &mut call, self.timing)?;
            let (per_call, _) = host_cost(gpu, &mut call)?;
            let r = SamplerResult {
                grid: n,
                batch: b,
                sampler: scfg.sampler.to_string(),
                steps: scfg.steps,
                t_max: scfg.t_max,
                spectral: method.to_string(),
                calls_per_repeat: calls,
                ms_per_batch: 1e3 * t,
                samples_per_s: b as f64 / t,
                ms_per_eval_per_sample: 1e3 * t / (b * evals) as f64,
                dispatches_per_eval: per_call.dispatches as f64 / evals as f64,
                per_call,
            };
            table.row(&[
                b.to_string(),
                format!("{:.1}", r.ms_per_batch),
                format!("{:.2}", r.samples_per_s),
                format!("{:.2}", r.ms_per_eval_per_sample),
                format!("{:.1}", r.dispatches_per_eval),
            ]);
            results.push(r);
        }
        Ok(SamplerSection {
            config: self.net.config.to_metadata(),
            sampler: results,
        })
    }

    fn timing_mut(&mut self) -> &mut Timing {
        &mut self.timing
    }
}
