//! Closure datasets (docs/specification.md §4): samples of (coarse vorticity, closure
//! target, sparse observations of the target), split into train and test
//! sets by trajectory, never by snapshot.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::data::io::{self, NamedTensor, TensorFile};
use crate::error::{Error, Result};
use crate::job::CommandLine;

/// Which closure term is the target `U` (docs/specification.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// `G = νΔω + σξ`: stochastic viscous diffusion.
    G,
    /// `H = −u·∇ω`: convection.
    H,
    /// `−τ = ‾u·∇‾ω − ‾(u·∇ω)`: the LES sub-grid term of a coarse model that
    /// keeps its own convection.
    Sgs,
}

// `G` and `H` print in upper case, as in the paper; they parse in any case.
crate::names::name_table! {
    Scenario, "scenario";
    G => "G",
    H => "H",
    Sgs => "sgs",
}

/// Sparse sensors: an `s × s` layout fixed in physical space.
///
/// Sensor `i` of an axis sits at grid index `⌊i·base/s⌋` of the `base`
/// grid (the dataset's grid, e.g. 64), i.e. at `x = ⌊i·base/s⌋ L / base`.
/// Those points exist on every finer power-of-two grid, so the same
/// sensors are used at every resolution. `16 × 16` on 64² is every 4th
/// point, the reference code's layout; `5 × 5` is the seed's figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sensors {
    /// Sensors per axis.
    pub per_axis: usize,
    /// The grid whose points the sensors sit on.
    pub base: usize,
}

impl Sensors {
    /// Parses `SxS` (e.g. `5x5`, `16x16`) on the `base` grid.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for another form, or more sensors per axis
    /// than `base` points.
    pub fn parse(s: &str, base: usize) -> Result<Self> {
        let bad = || {
            Error::InvalidArgument(format!(
                "--sensors '{s}': expected SxS with 1 <= S <= {base}, e.g. 5x5"
            ))
        };
        let (a, b) = s.trim().split_once(['x', 'X']).ok_or_else(bad)?;
        let (a, b): (usize, usize) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
        if a != b || a == 0 || a > base {
            return Err(bad());
        }
        Ok(Self { per_axis: a, base })
    }

    /// Grid indices of the sensors on an `m × m` grid (`m` a multiple of
    /// `base`).
    pub fn indices(&self, m: usize) -> Vec<usize> {
        (0..self.per_axis)
            .map(|i| i * self.base / self.per_axis * (m / self.base))
            .collect()
    }

    /// Appends the sensor values of `field` (`[m, m]`) to `out`, `[S, S]`
    /// row-major (y, then x), at the points `idx` of [`Sensors::indices`].
    pub fn extend_values(idx: &[usize], field: &[f32], m: usize, out: &mut Vec<f32>) {
        for &y in idx {
            out.extend(idx.iter().map(|&x| field[y * m + x]));
        }
    }
}

/// What to build.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetSpec {
    /// The target.
    pub scenario: Scenario,
    /// The coarse grid (the trajectory files must hold `omega_m`, `G_m`/`H_m`).
    pub grid: usize,
    /// Sensor layout.
    pub sensors: Sensors,
    /// Number of trajectories (counted over all inputs, in order) that go
    /// to the test set: the last ones.
    pub test_trajectories: usize,
    /// A test set alone (every trajectory may go to it): the finer grids of
    /// the resolution study, whose training split nobody uses.
    pub test_only: bool,
}

/// A built dataset split.
#[derive(Debug, Default)]
pub struct Split {
    /// Trajectory ids (global, in input order) of this split.
    pub trajectories: Vec<usize>,
    omega: Vec<f32>,
    target: Vec<f32>,
    sensors: Vec<f32>,
    time: Vec<f32>,
    trajectory: Vec<f32>,
}

impl Split {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// True when the split holds no sample.
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }
}

/// Reads trajectory files and builds the train and test splits.
///
/// # Errors
/// [`Error::InvalidArgument`] for files without the requested grid or
/// scenario, inputs of different presets/parameters, non-finite values, or
/// a split that leaves the train or test set without trajectories.
pub fn build(
    inputs: &[PathBuf],
    spec: &DatasetSpec,
) -> Result<(Split, Split, HashMap<String, String>)> {
    let m = spec.grid;
    if !m.is_multiple_of(spec.sensors.base) {
        return Err(Error::InvalidArgument(format!(
            "grid {m} is not a multiple of the sensors' base grid {}",
            spec.sensors.base
        )));
    }
    let files: Vec<(PathBuf, TensorFile)> = inputs
        .iter()
        .map(|p| io::read(p).map(|f| (p.clone(), f)))
        .collect::<Result<_>>()?;
    let first = files
        .first()
        .ok_or_else(|| Error::InvalidArgument("no input trajectory file".into()))?;
    // Inputs must describe the same physics, and be different runs: two
    // runs of one seed are the same trajectories (a train/test leak).
    for (i, (p, f)) in files.iter().enumerate() {
        for (q, g) in &files[..i] {
            if io::same_file(p, q) {
                return Err(Error::InvalidArgument(format!(
                    "{} is given twice",
                    p.display()
                )));
            }
            // The same seed and start: identical trajectories (a different
            // --init with the same seed is a different run).
            let start = |f: &TensorFile, p: &Path| -> Result<(String, String)> {
                Ok((
                    f.meta(p, "seed")?.to_string(),
                    f.metadata.get("init").cloned().unwrap_or_default(),
                ))
            };
            if start(f, p)? == start(g, q)? {
                return Err(Error::InvalidArgument(format!(
                    "{} and {} were run with the same seed ({}) from the same start: their trajectories are identical; \
                     simulate with different --seed values",
                    q.display(),
                    p.display(),
                    f.meta(p, "seed")?
                )));
            }
        }
        for key in [
            "preset",
            "grid",
            "dt",
            "nu",
            "drag",
            "length",
            "restriction",
            "scheme",
            "stochastic",
            "snapshot_every",
        ] {
            let (a, b) = (f.meta(p, key)?, first.1.meta(&first.0, key)?);
            if a != b {
                return Err(Error::InvalidArgument(format!(
                    "{}: {key} = {a}, but {} has {b}: inputs must share the run parameters",
                    p.display(),
                    first.0.display()
                )));
            }
        }
    }
    let total: usize = files
        .iter()
        .map(|(p, f)| {
            f.get(p, &format!("omega_{m}"))
                .map(|t| t.shape.get(1).copied().unwrap_or(0))
        })
        .sum::<Result<usize>>()?;
    if spec.test_trajectories == 0 {
        return Err(Error::InvalidArgument(
            "--test-trajectories must be >= 1 (a test set needs a trajectory)".into(),
        ));
    }
    if spec.test_trajectories > total || (spec.test_trajectories == total && !spec.test_only) {
        return Err(Error::InvalidArgument(format!(
            "{total} trajectories in the inputs: cannot put {} in the test set and keep any for training",
            spec.test_trajectories
        )));
    }
    let idx = spec.sensors.indices(m);
    let (mut train, mut test) = (Split::default(), Split::default());
    let mut id = 0;
    for (p, f) in &files {
        let omega = f.get(p, &format!("omega_{m}"))?;
        let target = f.get(p, &format!("{}_{m}", spec.scenario))?;
        let time = f.get(p, "time")?;
        let s = &omega.shape;
        if s.len() != 4 || s[2] != m || s[3] != m || target.shape != *s || time.shape != [s[0]] {
            return Err(Error::InvalidArgument(format!(
                "{}: omega_{m} {s:?}, {}_{m} {:?}, time {:?} do not match [T, B, {m}, {m}]",
                p.display(),
                spec.scenario,
                target.shape,
                time.shape
            )));
        }
        let (t_count, b) = (s[0], s[1]);
        if let Some(i) = omega
            .data
            .iter()
            .chain(&target.data)
            .position(|v| !v.is_finite())
        {
            return Err(Error::InvalidArgument(format!(
                "{}: non-finite value at index {i}",
                p.display()
            )));
        }
        for bi in 0..b {
            let split = if id >= total - spec.test_trajectories {
                &mut test
            } else {
                &mut train
            };
            split.trajectories.push(id);
            for t in 0..t_count {
                let at = (t * b + bi) * m * m;
                let field = &target.data[at..at + m * m];
                split.omega.extend_from_slice(&omega.data[at..at + m * m]);
                split.target.extend_from_slice(field);
                Sensors::extend_values(&idx, field, m, &mut split.sensors);
                split.time.push(time.data[t]);
                split.trajectory.push(id as f32);
            }
            id += 1;
        }
    }
    let mut meta = first.1.metadata.clone();
    meta.insert("format".into(), "diffclosure.dataset.v1".into());
    meta.insert("scenario".into(), spec.scenario.to_string());
    meta.insert("grid".into(), m.to_string());
    meta.insert(
        "fine_grid".into(),
        first.1.meta(&first.0, "grid")?.to_string(),
    );
    meta.insert("sensors".into(), format!("{0}x{0}", spec.sensors.per_axis));
    meta.insert("sensor_base_grid".into(), spec.sensors.base.to_string());
    meta.insert(
        "sources".into(),
        inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    // Per-input provenance: what differs between inputs, in input order.
    for key in ["seed", "batch", "init"] {
        let values: Vec<&str> = files
            .iter()
            .map(|(p, f)| f.meta(p, key).unwrap_or("?"))
            .collect();
        meta.insert(format!("{key}s"), values.join(","));
        meta.remove(key);
    }
    Ok((train, test, meta))
}

/// The tensors of one split (`omega`, `target` `[N, m, m]`, `sensors`
/// `[N, s, s]`, `sensor_x`/`sensor_y` `[s]` physical positions, `time`,
/// `trajectory` `[N]`) and its metadata (`meta` plus `split` and its
/// trajectory ids).
fn split_tensors(
    split: &Split,
    spec: &DatasetSpec,
    length: f64,
    name: &str,
    meta: &HashMap<String, String>,
) -> (Vec<(&'static str, NamedTensor)>, HashMap<String, String>) {
    let (n, m, s) = (split.len(), spec.grid, spec.sensors.per_axis);
    let pos: Vec<f32> = spec
        .sensors
        .indices(m)
        .iter()
        .map(|&i| (i as f64 * length / m as f64) as f32)
        .collect();
    let t = |shape: Vec<usize>, data: Vec<f32>| NamedTensor { shape, data };
    let tensors = vec![
        ("omega", t(vec![n, m, m], split.omega.clone())),
        ("target", t(vec![n, m, m], split.target.clone())),
        ("sensors", t(vec![n, s, s], split.sensors.clone())),
        ("sensor_x", t(vec![s], pos.clone())),
        ("sensor_y", t(vec![s], pos)),
        ("time", t(vec![n], split.time.clone())),
        ("trajectory", t(vec![n], split.trajectory.clone())),
    ];
    let mut meta = meta.clone();
    meta.insert("split".into(), name.into());
    meta.insert(
        "trajectories".into(),
        split
            .trajectories
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    (tensors, meta)
}

/// Writes the train and test files together: both appear or neither does.
///
/// # Errors
/// Existing outputs, the same file twice, or I/O errors (nothing is left).
pub fn write(
    paths: (Option<&Path>, &Path),
    splits: (&Split, &Split),
    spec: &DatasetSpec,
    length: f64,
    meta: &HashMap<String, String>,
) -> Result<()> {
    if let Some(train) = paths.0 {
        io::refuse_existing(train)?;
        if io::same_file(train, paths.1) {
            return Err(Error::InvalidArgument(format!(
                "the train and test outputs are the same file ({})",
                train.display()
            )));
        }
    }
    io::refuse_existing(paths.1)?;
    let (tt, mt) = split_tensors(splits.0, spec, length, "train", meta);
    let (te, me) = split_tensors(splits.1, spec, length, "test", meta);
    let nt: Vec<(&str, &NamedTensor)> = tt.iter().map(|(k, v)| (*k, v)).collect();
    let ne: Vec<(&str, &NamedTensor)> = te.iter().map(|(k, v)| (*k, v)).collect();
    match paths.0 {
        Some(train) => io::write_all_atomic(&[(train, &nt, &mt), (paths.1, &ne, &me)]),
        None => io::write_all_atomic(&[(paths.1, &ne, &me)]),
    }
}

/// A dataset split read back for training or evaluation, checked on the
/// host before any GPU work.
#[derive(Clone, Debug)]
pub struct Samples {
    /// Grid side `m`.
    pub grid: usize,
    /// Sensors per axis `S`.
    pub sensors: usize,
    /// Number of samples `N`.
    pub len: usize,
    /// Coarse vorticity `[N, m, m]`.
    pub omega: Vec<f32>,
    /// Closure target `[N, m, m]`.
    pub target: Vec<f32>,
    /// Sensor values of the target `[N, S, S]`.
    pub obs: Vec<f32>,
    /// The file's metadata (`scenario`, `grid`, `sensors`, …).
    pub meta: HashMap<String, String>,
}

impl Samples {
    /// Reads a split written by [`write()`].
    ///
    /// # Errors
    /// [`Error::Io`] if unreadable; [`Error::InvalidArgument`] for another
    /// format, inconsistent shapes, a grid that is not a power of two, an
    /// empty split or a non-finite value (naming the tensor and index).
    pub fn read(path: &Path) -> Result<Self> {
        let f = io::read(path)?;
        let bad = |what: String| Error::InvalidArgument(format!("{}: {what}", path.display()));
        if f.metadata.get("format").map(String::as_str) != Some("diffclosure.dataset.v1") {
            return Err(bad(
                "not a diffclosure dataset (metadata format != diffclosure.dataset.v1); build one with `diffclosure dataset`".into(),
            ));
        }
        let (omega, target, obs) = (
            f.get(path, "omega")?,
            f.get(path, "target")?,
            f.get(path, "sensors")?,
        );
        let s = &omega.shape;
        let ok = s.len() == 3
            && s[1] == s[2]
            && s[1].is_power_of_two()
            && target.shape == *s
            && obs.shape.len() == 3
            && obs.shape[0] == s[0]
            && obs.shape[1] == obs.shape[2];
        if !ok || s[0] == 0 {
            return Err(bad(format!(
                "omega {s:?}, target {:?}, sensors {:?}: expected [N, m, m] (m a power of two, N >= 1) twice and [N, S, S]",
                target.shape, obs.shape
            )));
        }
        for (name, t) in [("omega", omega), ("target", target), ("sensors", obs)] {
            if let Some(i) = t.data.iter().position(|v| !v.is_finite()) {
                return Err(bad(format!(
                    "tensor '{name}' has a non-finite value at index {i}"
                )));
            }
        }
        Ok(Self {
            grid: s[1],
            sensors: obs.shape[1],
            len: s[0],
            omega: omega.data.clone(),
            target: target.data.clone(),
            obs: obs.data.clone(),
            meta: f.metadata,
        })
    }
}

/// The job behind `diffclosure dataset`: train and test closure datasets
/// from trajectory files, split by trajectory (the last
/// `test_trajectories` to the test set).
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetJob {
    /// Trajectory files of [`crate::ns::TrajectoryJob`] holding the grid's
    /// coarse fields (one or more, of one physics, different seeds).
    pub inputs: Vec<PathBuf>,
    /// What to build: scenario, grid, sensors, split.
    pub spec: DatasetSpec,
    /// Training set output; `None`: a test set alone (then every
    /// trajectory may go to it).
    pub out_train: Option<PathBuf>,
    /// Test set output.
    pub out_test: PathBuf,
}

/// What [`DatasetJob::run`] wrote.
#[derive(Clone, Debug)]
pub struct DatasetSummary {
    /// The training set, if any: its path, samples and trajectory ids.
    pub train: Option<(PathBuf, usize, Vec<usize>)>,
    /// The test set: its path, samples and trajectory ids.
    pub test: (PathBuf, usize, Vec<usize>),
}

impl DatasetJob {
    /// A job of `spec` from `inputs` writing `out_train` (if any) and
    /// `out_test`; `spec.test_only` is set when there is no training
    /// output.
    pub fn new(
        inputs: Vec<PathBuf>,
        mut spec: DatasetSpec,
        out_train: Option<PathBuf>,
        out_test: PathBuf,
    ) -> Self {
        spec.test_only = out_train.is_none();
        DatasetJob {
            inputs,
            spec,
            out_train,
            out_test,
        }
    }

    /// Checks the outputs before anything is read: none exists, they
    /// differ from each other and from every input, and each can be
    /// created.
    ///
    /// # Errors
    /// [`Error::Job`] or a file error naming the output.
    pub fn plan(&self) -> Result<()> {
        let outputs: Vec<&PathBuf> = self.out_train.iter().chain([&self.out_test]).collect();
        for out in &outputs {
            io::refuse_existing(out)?;
        }
        if self
            .out_train
            .as_ref()
            .is_some_and(|t| io::same_file(t, &self.out_test))
        {
            crate::job_bail!("--out-train and --out-test must differ");
        }
        for input in &self.inputs {
            if outputs.iter().any(|o| io::same_file(input, o)) {
                crate::job_bail!("{} is both an input and an output", input.display());
            }
        }
        for out in &outputs {
            io::check_writable(out)?;
        }
        Ok(())
    }

    /// Builds the splits ([`build`]) and writes them ([`write`]), both
    /// files or neither.
    ///
    /// # Errors
    /// What [`Self::plan`], [`build`] and [`write`] refuse.
    pub fn run(&self) -> Result<DatasetSummary> {
        self.plan()?;
        let (train, test, meta) = build(&self.inputs, &self.spec)?;
        let length: f64 = meta
            .get("length")
            .and_then(|s| s.parse().ok())
            .unwrap_or(std::f64::consts::TAU);
        write(
            (self.out_train.as_deref(), &self.out_test),
            (&train, &test),
            &self.spec,
            length,
            &meta,
        )?;
        Ok(DatasetSummary {
            train: self
                .out_train
                .clone()
                .map(|p| (p, train.len(), train.trajectories.clone())),
            test: (self.out_test.clone(), test.len(), test.trajectories),
        })
    }

    /// The arguments of the `diffclosure dataset` command that runs this
    /// job: every setting (the command line's `--sensor-grid` is
    /// `spec.sensors.base`). The command line sets `spec.test_only` when
    /// there is no training output, as [`Self::new`] does: a job that sets
    /// it otherwise has no command line of its own.
    pub fn command_line(&self) -> Vec<String> {
        let spec = &self.spec;
        let mut c = CommandLine::new("dataset");
        c.words(["--input"])
            .words(self.inputs.iter().map(|p| p.display()))
            .arg("--scenario", spec.scenario.to_string().to_lowercase())
            .arg("--grid", spec.grid)
            .arg("--sensor-grid", spec.sensors.base)
            .arg("--sensors", format!("{s}x{s}", s = spec.sensors.per_axis))
            .arg("--test-trajectories", spec.test_trajectories)
            .arg("--out-test", self.out_test.display())
            .opt_path("--out-train", self.out_train.as_deref());
        c.into_words()
    }

    /// The line `dataset` prints for `done`, a run of this job: the files,
    /// their samples and trajectories, and the setting.
    pub fn describe(&self, done: &DatasetSummary) -> String {
        let train_part = match &done.train {
            Some((p, samples, trajectories)) => format!(
                "{} ({samples} samples, trajectories {trajectories:?}) and ",
                p.display(),
            ),
            None => String::new(),
        };
        let (test, samples, trajectories) = &done.test;
        format!(
            "wrote {train_part}{} ({samples} samples, trajectories {trajectories:?}): scenario {}, {g}x{g} grid, {s}x{s} sensors",
            test.display(),
            self.spec.scenario,
            g = self.spec.grid,
            s = self.spec.sensors.per_axis
        )
    }
}
