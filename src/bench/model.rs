//! ScoreFno forward ms/sample and training-step ms/sample, with either
//! spectral route or the faster per case, and optionally where the time
//! goes per kernel family. `cargo bench --bench model` times the same
//! [`Forward`] and [`trainer`] with criterion.

use std::collections::HashMap;

use serde::Serialize;

use super::{host_cost, median_seconds, synthetic, synthetic_samples, Section, Table, Timing};
use crate::gpu::{DType, Gpu, GpuCounts, Tensor};
use crate::score::init::init_params;
use crate::score::model::{ScoreFno, Workspace};
use crate::score::spectral_conv::Method;
use crate::score::train::{TrainConfig, Trainer};
use crate::score::ScoreConfig;
use crate::Result;

/// The network measured: its configuration, flat parameters and sensors
/// per axis `S` (observations `[B, S, S]`).
#[derive(Clone, Debug)]
pub struct Net {
    /// Sizes and inputs (checked with [`ScoreConfig::validate`]).
    pub config: ScoreConfig,
    /// Flat parameters, `config.flat_len()` of them.
    pub params: Vec<f32>,
    /// Sensors per axis, >= 1.
    pub sensors: usize,
}

impl Net {
    /// `config` with random weights ([`init_params`], seed 1).
    pub fn random(config: ScoreConfig, sensors: usize) -> Self {
        let params = init_params(&config, 1);
        Self {
            config,
            params,
            sensors,
        }
    }

    /// One line naming the sizes and the parameter count (the network's
    /// tensors; the flat vector adds alignment padding).
    pub fn describe(&self) -> String {
        let c = &self.config;
        let count: usize = c.params().iter().map(|p| p.len()).sum();
        format!(
            "ScoreFno width {}, modes {}, {} layers, embed {}, fc {}, {}x{} sensors; {} parameters",
            c.width, c.modes, c.layers, c.embed_dim, c.fc_hidden, self.sensors, self.sensors, count
        )
    }
}

/// A model benchmark case: forward or training step, grid, batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelCase {
    /// A training step (else a forward).
    pub train: bool,
    /// Grid points per side.
    pub n: usize,
    /// Samples per call.
    pub batch: usize,
}

impl ModelCase {
    /// Every case, in the order measured.
    pub const ALL: [ModelCase; 5] = [
        ModelCase::forward(64, 1),
        ModelCase::forward(64, 16),
        ModelCase::forward(128, 4),
        ModelCase::forward(256, 4),
        ModelCase {
            train: true,
            n: 64,
            batch: 32,
        },
    ];

    const fn forward(n: usize, batch: usize) -> Self {
        ModelCase {
            train: false,
            n,
            batch,
        }
    }

    /// `f64x16`: f(orward) or t(raining step), grid, `x`, batch.
    pub fn name(&self) -> String {
        format!(
            "{}{}x{}",
            if self.train { "t" } else { "f" },
            self.n,
            self.batch
        )
    }

    /// The case of [`ModelCase::ALL`] with this [`ModelCase::name`].
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The model section: a network, its cases and how they are timed.
#[derive(Clone, Debug)]
pub struct ModelBench {
    /// The network (every case's grid checked with
    /// [`ScoreConfig::check_grid`]).
    pub net: Net,
    /// Measured in this order.
    pub cases: Vec<ModelCase>,
    /// The spectral route; `None`: both, timed in turn, the faster kept.
    pub spectral: Option<Method>,
    /// Also time every dispatch once and report each kernel family's share.
    pub profile: bool,
    /// Per case and route.
    pub timing: Timing,
}

/// One measured model case.
#[derive(Serialize, Debug)]
struct ModelResult {
    case: String,
    kind: &'static str,
    grid: usize,
    batch: usize,
    micro_batch: usize,
    spectral: String,
    calls_per_repeat: usize,
    ms_per_call: f64,
    ms_per_sample: f64,
    samples_per_s: f64,
    /// Dispatches, bind groups and parameter buffers one call records.
    per_call: GpuCounts,
    /// Host milliseconds to record and submit one call (not waited for):
    /// the floor of a call's time whatever the GPU.
    host_ms_per_call: f64,
    /// (kernel family, share of the GPU time of one call) with --profile.
    profile: Vec<(String, f64)>,
}

/// Results of the model section.
#[derive(Serialize, Debug)]
pub struct ModelSection {
    config: HashMap<String, String>,
    parameters: usize,
    model: Vec<ModelResult>,
}

/// A forward pass ready to run: a workspace of `B` samples on `n × n`
/// filled with [`synthetic`] inputs at diffusion time 0.3, and the
/// parameters on the GPU.
pub struct Forward {
    gpu: Gpu,
    model: ScoreFno,
    params: Tensor,
    ws: Workspace,
}

impl Forward {
    /// The forward of `model` with `params` for `batch` samples on `n × n`
    /// with `sensors × sensors` observations, spectral route `method`.
    ///
    /// # Errors
    /// As [`ScoreFno::workspace`]; allocation errors.
    pub fn new(
        gpu: &Gpu,
        model: &ScoreFno,
        params: &[f32],
        (batch, n, sensors): (usize, usize, usize),
        method: Method,
    ) -> Result<Self> {
        let ws = model.workspace(gpu, batch, n, sensors, method)?;
        ws.x.write(gpu, &synthetic(4, batch * n * n))?;
        ws.w.write(gpu, &synthetic(5, batch * n * n))?;
        ws.s.write(gpu, &synthetic(6, batch * sensors * sensors))?;
        ws.t.write(gpu, &vec![0.3; batch])?;
        let params = Tensor::from_f32(gpu, &[params.len()], DType::F32, params)?;
        Ok(Self {
            gpu: gpu.clone(),
            model: model.clone(),
            params,
            ws,
        })
    }

    /// Records one forward in its own submission (as a sampler issues
    /// them), not waited for.
    ///
    /// # Errors
    /// As [`ScoreFno::record_forward`].
    pub fn call(&self) -> Result<()> {
        let mut enc = self.gpu.encoder("bench forward");
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            self.model
                .record_forward(&self.gpu, &mut pass, &self.params, &self.ws)?;
        }
        self.gpu.submit(enc);
        Ok(())
    }
}

/// A trainer of `model` from `params` with batches of `batch` on `n × n`
/// (`sensors` per axis), over [`synthetic_samples`] of two batches, with
/// the spectral route `spectral` (`None`: the trainer's choice).
///
/// # Errors
/// As [`Trainer::new`].
pub fn trainer(
    gpu: &Gpu,
    model: &ScoreFno,
    params: &[f32],
    (batch, n, sensors): (usize, usize, usize),
    spectral: Option<Method>,
) -> Result<Trainer> {
    let data = synthetic_samples(n, sensors, 2 * batch);
    let tcfg = TrainConfig {
        batch,
        spectral,
        ..TrainConfig::default()
    };
    Trainer::new(gpu, model.clone(), params, &data, tcfg, None)
}

impl ModelBench {
    /// Times one case with `method`: forward calls (one submission each)
    /// or training steps, median over the repeats.
    fn measure_case(
        &self,
        gpu: &Gpu,
        model: &ScoreFno,
        c: ModelCase,
        method: Method,
    ) -> Result<ModelResult> {
        let shape = (c.batch, c.n, self.net.sensors);
        let params = &self.net.params;
        let (mut call, micro): (Box<dyn FnMut() -> Result<()>>, usize) = if c.train {
            let mut t = trainer(gpu, model, params, shape, Some(method))?;
            let micro = t.micro_batch();
            (Box::new(move || t.step()), micro)
        } else {
            let f = Forward::new(gpu, model, params, shape, method)?;
            (Box::new(move || f.call()), c.batch)
        };
        let (calls, t) = median_seconds(gpu, &mut *call, self.timing)?;
        let (per_call, host_ms_per_call) = host_cost(gpu, &mut *call)?;
        let profile = if self.profile && gpu.time_dispatches(2048) {
            call()?;
            gpu.wait()?;
            family_shares(gpu.dispatch_times()?)
        } else {
            Vec::new()
        };
        Ok(ModelResult {
            case: c.name(),
            kind: if c.train { "train step" } else { "forward" },
            grid: c.n,
            batch: c.batch,
            micro_batch: micro,
            spectral: method.to_string(),
            calls_per_repeat: calls,
            ms_per_call: 1e3 * t,
            ms_per_sample: 1e3 * t / c.batch as f64,
            samples_per_s: c.batch as f64 / t,
            per_call,
            host_ms_per_call,
            profile,
        })
    }
}

/// Each kernel family's share of the total of `(label, ns)` dispatch
/// times, largest first (a family: the label up to its first `[`).
fn family_shares(times: Vec<(String, f64)>) -> Vec<(String, f64)> {
    let mut by: Vec<(String, f64)> = Vec::new();
    for (label, ns) in times {
        let family = label.split('[').next().unwrap_or(&label).to_string();
        match by.iter_mut().find(|(f, _)| *f == family) {
            Some(e) => e.1 += ns,
            None => by.push((family, ns)),
        }
    }
    let total: f64 = by.iter().map(|e| e.1).sum();
    by.sort_by(|x, y| y.1.total_cmp(&x.1));
    by.into_iter()
        .map(|(f, ns)| (f, ns / total.max(1.0)))
        .collect()
}

impl Section for ModelBench {
    const NAME: &'static str = "model";
    type Output = ModelSection;

    fn measure(&self, gpu: &Gpu) -> Result<ModelSection> {
        let model = ScoreFno::new(&self.net.config)?;
        println!("{}", self.net.describe());
        let table = Table::new(&[
            ("case", 8),
            ("grid", 6),
            ("batch", 6),
            ("spectral", 8),
            ("ms/call", 10),
            ("ms/sample", 12),
            ("samples/s", 10),
            ("dispatches", 10),
            ("bind grps", 9),
            ("host ms", 8),
        ]);
        let methods = match self.spectral {
            Some(m) => vec![m],
            None => vec![Method::Dft, Method::Fft],
        };
        let mut results = Vec::new();
        for &c in &self.cases {
            let mut best: Option<ModelResult> = None;
            for &m in &methods {
                let r = self.measure_case(gpu, &model, c, m)?;
                table.row(&[
                    r.case.clone(),
                    format!("{}²", r.grid),
                    r.batch.to_string(),
                    r.spectral.clone(),
                    format!("{:.2}", r.ms_per_call),
                    format!("{:.3}", r.ms_per_sample),
                    format!("{:.1}", r.samples_per_s),
                    r.per_call.dispatches.to_string(),
                    r.per_call.bind_groups.to_string(),
                    format!("{:.3}", r.host_ms_per_call),
                ]);
                if best.as_ref().is_none_or(|b| r.ms_per_call < b.ms_per_call) {
                    best = Some(r);
                }
            }
            let Some(r) = best else { continue };
            for (family, share) in &r.profile {
                println!("{:>30} {:>5.1} %", family, 100.0 * share);
            }
            results.push(r);
        }
        Ok(ModelSection {
            config: self.net.config.to_metadata(),
            parameters: self.net.params.len(),
            model: results,
        })
    }

    fn timing_mut(&mut self) -> &mut Timing {
        &mut self.timing
    }

    fn quicken(&mut self) {
        self.timing = Timing::QUICK;
        self.spectral = Some(Method::Fft);
    }
}
