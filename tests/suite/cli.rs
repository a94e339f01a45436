//! The `diffclosure` binary: `info` lists adapters, a missing backend gives
//! a clear error and a non-zero exit code without a panic.

use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn diffclosure<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_diffclosure"))
        .args(args)
        .env_remove("DIFFCLOSURE_ADAPTER")
        .env_remove("DIFFCLOSURE_BACKEND")
        .output()
        .expect("run diffclosure");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts `diffclosure args` (as [`diffclosure`]: adapter variables
/// removed), kills it as soon as `file` exists or after `limit`, and waits
/// for it: an interrupted run for the resume tests.
pub(crate) fn kill_when_exists<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    file: &Path,
    limit: std::time::Duration,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_diffclosure"))
        .args(args)
        .env_remove("DIFFCLOSURE_ADAPTER")
        .env_remove("DIFFCLOSURE_BACKEND")
        .spawn()
        .expect("start diffclosure");
    let t0 = std::time::Instant::now();
    while !file.exists() && t0.elapsed() < limit {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().expect("kill diffclosure");
    child.wait().expect("wait for diffclosure");
}

/// `name` in this process's directory `diffclosure-{tag}-PID` under the
/// system temp dir (created), with any old file of that name removed
/// unless `keep`.
pub(crate) fn test_path(tag: &str, name: &str, keep: bool) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("diffclosure-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    if !keep {
        let _ = std::fs::remove_file(&p);
    }
    p
}

/// A path as the UTF-8 argument it is in these tests.
pub(crate) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs the binary and asserts success; returns stdout.
pub(crate) fn ok(args: &[&str]) -> String {
    let (ok, out, err) = diffclosure(args);
    assert!(ok, "{args:?}: {err}");
    out
}

/// `simulate` of `batch` trajectories at `grid`² for `steps` steps from
/// t = 0, snapshots every 10 steps with the `coarse` grids, into `out`
/// (asserts success).
pub(crate) fn simulate_from_t0(out: &Path, grid: &str, batch: &str, steps: &str, coarse: &str) {
    ok(&[
        "simulate",
        "--grid",
        grid,
        "--batch",
        batch,
        "--steps",
        steps,
        "--snapshot-every",
        "10",
        "--t-start",
        "0",
        "--coarse",
        coarse,
        "--quiet",
        "--out",
        s(out),
    ]);
}

/// The `train` flags of a network's shape: width, Fourier modes, layers,
/// time-embedding dimension and hidden units of the projection.
pub(crate) fn net_flags<'a>(
    width: &'a str,
    modes: &'a str,
    layers: &'a str,
    embed_dim: &'a str,
    fc_hidden: &'a str,
) -> [&'a str; 10] {
    [
        "--width",
        width,
        "--modes",
        modes,
        "--layers",
        layers,
        "--embed-dim",
        embed_dim,
        "--fc-hidden",
        fc_hidden,
    ]
}

#[test]
fn info_lists_adapters_and_passes_self_check() {
    let (ok, stdout, stderr) = diffclosure(&["info"]);
    assert!(ok, "info failed: {stderr}");
    assert!(stdout.contains("adapter(s):"), "{stdout}");
    assert!(
        stdout.contains("max_storage_buffer_binding_size"),
        "{stdout}"
    );
    assert!(stdout.contains("self-check: FFT"), "{stdout}");
    // The selected adapter is marked.
    assert!(stdout.lines().any(|l| l.starts_with("* [")), "{stdout}");
}

#[test]
fn info_json_is_valid() {
    let (ok, stdout, stderr) = diffclosure(&["info", "--json", "--no-check"]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let first = &v["adapters"][0];
    assert!(
        first["limits"]["max_storage_buffer_binding_size"]
            .as_u64()
            .is_some(),
        "{stdout}"
    );
    assert_eq!(first["selected"], serde_json::Value::Bool(true), "{stdout}");
}

/// A backend this OS does not have.
fn absent_backend() -> &'static str {
    if cfg!(target_os = "macos") {
        "dx12"
    } else {
        "metal"
    }
}

#[test]
fn absent_backend_names_the_adapters_that_exist() {
    let (ok, stdout, stderr) = diffclosure(&["--backend", absent_backend(), "info"]);
    assert!(!ok, "must fail: {stdout}");
    assert!(
        stderr.contains("no GPU adapter found for backend"),
        "{stderr}"
    );
    assert!(stderr.contains("Adapters on other backends"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// With every driver hidden from the loaders there is no adapter at all:
/// the error says how to get one.
#[cfg(target_os = "linux")]
#[test]
fn no_adapter_at_all_says_how_to_get_one() {
    let out = Command::new(env!("CARGO_BIN_EXE_diffclosure"))
        .arg("info")
        .env_remove("DIFFCLOSURE_ADAPTER")
        .env_remove("DIFFCLOSURE_BACKEND")
        .env("VK_ICD_FILENAMES", "/nonexistent.json")
        .env("VK_DRIVER_FILES", "/nonexistent.json")
        .env("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent.json")
        .output()
        .expect("run diffclosure");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("found none"), "{stderr}");
    assert!(stderr.contains("mesa-vulkan-drivers"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn selection_is_checked_even_without_the_self_check() {
    let (ok, _, stderr) = diffclosure(&["--adapter", "99", "info", "--no-check"]);
    assert!(!ok);
    assert!(stderr.contains("no adapter matches '99'"), "{stderr}");
    // An empty variable means unset, as for the library.
    let out = Command::new(env!("CARGO_BIN_EXE_diffclosure"))
        .args(["info", "--no-check"])
        .env("DIFFCLOSURE_BACKEND", "")
        .env_remove("DIFFCLOSURE_ADAPTER")
        .output()
        .expect("run diffclosure");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unknown_adapter_and_backend_are_refused() {
    let (ok, _, stderr) = diffclosure(&["--adapter", "no-such-gpu-xyz", "info"]);
    assert!(!ok);
    assert!(
        stderr.contains("no adapter matches 'no-such-gpu-xyz'"),
        "{stderr}"
    );
    let (ok, _, stderr) = diffclosure(&["--backend", "cuda", "info"]);
    assert!(!ok);
    assert!(stderr.contains("unknown backend 'cuda'"), "{stderr}");
}

mod simulate {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};

    use diffclosure::data::io::{self, NamedTensor};

    use super::{diffclosure, kill_when_exists, s};

    /// `bench <what>` of one small case (`grid`², batch 2, 0.05 s per
    /// repeat, `repeats` repeats), its JSON into `out`.
    fn bench_case<'a>(
        what: &'a str,
        repeats: &'a str,
        grid: &'a str,
        out: &'a Path,
    ) -> Vec<&'a str> {
        vec![
            "bench",
            what,
            "--grid",
            grid,
            "--batch",
            "2",
            "--seconds",
            "0.05",
            "--repeats",
            repeats,
            "--json",
            s(out),
        ]
    }

    /// Runs `args` (a `bench` command writing JSON to `out`), asserts
    /// success; returns stdout and the JSON.
    fn bench_json(args: &[&str], out: &Path) -> (String, serde_json::Value) {
        let (ok, stdout, e) = diffclosure(args);
        assert!(ok, "{e}");
        let v = serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
        (stdout, v)
    }

    /// A bench case's rate (per second), checked positive and consistent
    /// with its milliseconds per call (rate · ms = 1000, to f64 rounding).
    fn rate_of(c: &serde_json::Value, per_s: &str, ms: &str) -> f64 {
        let (rate, ms) = (c[per_s].as_f64().unwrap(), c[ms].as_f64().unwrap());
        assert!(
            rate > 0.0 && (rate * ms - 1e3).abs() < 1e-6 * rate * ms,
            "{c}"
        );
        rate
    }

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("diffclosure-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        let _ = std::fs::remove_file(&p);
        let _ = std::fs::remove_file(p.with_extension("safetensors.partial"));
        p
    }

    fn write_init(path: &Path, shape: &[usize], value: f32) {
        let t = NamedTensor {
            shape: shape.to_vec(),
            data: vec![value; shape.iter().product()],
        };
        io::write_atomic(path, &[("vorticity", &t)], &HashMap::new()).unwrap();
    }

    const SMALL: [&str; 8] = [
        "simulate",
        "--grid",
        "32",
        "--steps",
        "200",
        "--snapshot-every",
        "50",
        "--quiet",
    ];

    fn run(extra: &[&str], out: &Path) -> (bool, String, String) {
        let mut args: Vec<&str> = SMALL.to_vec();
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", out.to_str().unwrap()]);
        diffclosure(&args)
    }

    /// [`run`], asserting success; returns the file written.
    fn run_ok(extra: &[&str], out: &Path) -> io::TensorFile {
        let (ok, _, e) = run(extra, out);
        assert!(ok, "{e}");
        io::read(out).unwrap()
    }

    #[test]
    fn writes_snapshots_with_metadata() {
        let out = tmp("ok.safetensors");
        let f = run_ok(&["--batch", "2"], &out);
        assert_eq!(f.get(&out, "vorticity").unwrap().shape, vec![5, 2, 32, 32]);
        assert_eq!(
            f.get(&out, "time").unwrap().data,
            vec![0.0, 0.05, 0.1, 0.15, 0.2]
        );
        assert_eq!(f.meta(&out, "preset").unwrap(), "seed");
        assert_eq!(f.meta(&out, "grid").unwrap(), "32");
        let w = &f.get(&out, "vorticity").unwrap().data;
        assert!(w.iter().all(|v| v.is_finite()));
        // Two independent initial conditions.
        assert_ne!(w[..1024], w[1024..2048]);
    }

    /// The recorded coarse fields are the spectral truncation of the
    /// recorded vorticity, H is minus its dealiased advection and sgs is H
    /// minus the coarse grid's own dealiased advection of the truncated
    /// vorticity, as the f64 reference computes them from the same snapshot. Tolerance 1e-4
    /// of the field's max: the GPU state is f32 (FFT errors ~1e-6) and the
    /// reference starts from the f32 snapshot.
    /// `-adv` with the 2/3 rule of an `n` grid applied (half spectrum).
    fn minus_dealiased(
        adv: &[rustfft::num_complex::Complex64],
        n: usize,
    ) -> Vec<rustfft::num_complex::Complex64> {
        adv.iter()
            .enumerate()
            .map(|(at, v)| {
                let (iy, ix) = (at / (n / 2 + 1), at % (n / 2 + 1));
                let jy = if iy <= n / 2 {
                    iy as i64
                } else {
                    iy as i64 - n as i64
                };
                let keep = 3 * ix <= n && 3 * jy.unsigned_abs() as usize <= n;
                if keep {
                    -v
                } else {
                    Default::default()
                }
            })
            .collect()
    }

    #[test]
    fn records_restricted_vorticity_and_closures() {
        use crate::reference::{fft as cpu_fft, ns as cpu_ns};
        use rustfft::num_complex::Complex64;
        let out = tmp("closures.safetensors");
        let f = run_ok(&["--coarse", "16"], &out);
        let (n, m) = (32, 16);
        let w = &f.get(&out, "vorticity").unwrap().data;
        let om = &f.get(&out, "omega_16").unwrap().data;
        let hh = &f.get(&out, "H_16").unwrap().data;
        let sgs = &f.get(&out, "sgs_16").unwrap().data;
        assert_eq!(f.get(&out, "G_16").unwrap().shape, vec![5, 1, m, m]);
        let truncate = |spec: &[Complex64]| cpu_fft::c2r(&cpu_ns::truncate(spec, n, m), m, m);
        let p = cpu_ns::NsParams {
            n,
            length: std::f64::consts::TAU,
            nu: 1e-3,
            drag: 0.1,
            dt: 1e-3,
            heun: true,
        };
        for t in 0..5 {
            let field: Vec<f64> = w[t * n * n..(t + 1) * n * n]
                .iter()
                .map(|v| f64::from(*v))
                .collect();
            let spec = cpu_fft::r2c(&field, n, n);
            let want_omega = truncate(&spec);
            let want_h = truncate(&minus_dealiased(&cpu_ns::advection_hat(&p, &spec), n));
            // sgs = H_bar − H(ω_bar), the coarse convection on the 16² grid.
            let pm = cpu_ns::NsParams { n: m, ..p };
            let coarse_h = minus_dealiased(
                &cpu_ns::advection_hat(&pm, &cpu_ns::truncate(&spec, n, m)),
                m,
            );
            let coarse_h = cpu_fft::c2r(&coarse_h, m, m);
            let want_sgs: Vec<f64> = want_h.iter().zip(&coarse_h).map(|(a, b)| a - b).collect();
            for (name, got, want) in [
                ("omega", &om[t * m * m..(t + 1) * m * m], want_omega),
                ("H", &hh[t * m * m..(t + 1) * m * m], want_h),
                ("sgs", &sgs[t * m * m..(t + 1) * m * m], want_sgs),
            ] {
                let (scale, err) = (crate::max_abs(&want), crate::max_abs_err(got, &want));
                assert!(
                    err <= 1e-4 * scale,
                    "{name} at snapshot {t}: {err:.2e} of {scale:.2e}"
                );
            }
        }
    }

    /// `--no-fine` stores the same coarse fields without the fine
    /// vorticity; without a coarse grid it would store nothing: refused.
    #[test]
    fn no_fine_keeps_only_the_coarse_fields() {
        let (full, lean) = (tmp("full.safetensors"), tmp("lean.safetensors"));
        let f = run_ok(&["--coarse", "16"], &full);
        let g = run_ok(&["--coarse", "16", "--no-fine"], &lean);
        assert!(g.get(&lean, "vorticity").is_err());
        assert_eq!(g.tensors.len(), f.tensors.len() - 1);
        for (name, t) in &g.tensors {
            assert!(t == f.get(&full, name).unwrap(), "{name} differs");
        }
        assert_eq!(g.meta(&lean, "fine_stored").unwrap(), "false");
        let none = tmp("none.safetensors");
        let (ok, _, e) = run(&["--coarse", "none", "--no-fine"], &none);
        assert!(!ok && e.contains("would store no field"), "{e}");
        assert!(!none.exists());
    }

    /// A run that blows up (dt far over the stability limit, though the
    /// initial CFL number is below 1) stops with an error naming the time
    /// instead of writing NaN snapshots.
    #[test]
    fn blow_up_stops_with_an_error() {
        let out = tmp("blowup.safetensors");
        let (ok, _, e) = diffclosure(&[
            "simulate",
            "--grid",
            "32",
            "--steps",
            "3000",
            "--dt",
            "0.1",
            "--snapshot-every",
            "50",
            "--coarse",
            "16",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(!ok, "a blown-up run must fail");
        assert!(e.contains("non-finite") || e.contains("CFL"), "{e}");
        assert!(!out.exists(), "no output from a failed run");
    }

    /// `bench ns` measures one small case, prints it and writes JSON with
    /// consistent positive rates; a bad grid or an existing JSON output is
    /// refused before any GPU work.
    #[test]
    fn bench_ns_reports_steps_per_second() {
        let out = tmp("bench.json");
        let (stdout, v) = bench_json(&bench_case("ns", "3", "16", &out), &out);
        assert!(stdout.contains("adapter:"), "{stdout}");
        let cases = v["ns"].as_array().unwrap();
        assert_eq!(cases.len(), 2, "heun and euler");
        for c in cases {
            let rate = rate_of(c, "steps_per_s", "ms_per_step");
            assert!(c["min_steps_per_s"].as_f64().unwrap() <= rate);
            assert!(
                (c["trajectory_steps_per_s"].as_f64().unwrap() - 2.0 * rate).abs() < 1e-9 * rate
            );
        }
        let before = std::fs::read(&out).unwrap();
        let (ok, _, e) = diffclosure(&bench_case("ns", "3", "16", &out));
        assert!(!ok && e.contains("exists"), "{e}");
        assert_eq!(std::fs::read(&out).unwrap(), before, "output must be kept");
        let (ok, _, e) = diffclosure(&bench_case("ns", "3", "24", &tmp("bench24.json")));
        assert!(!ok && e.contains("power of two"), "{e}");
    }

    /// `bench model` on a tiny network: a forward and a training-step case
    /// with positive, consistent rates, and a per-kernel-family profile
    /// whose shares sum to 1 (when the adapter has timestamps inside
    /// passes); an unknown case is refused before any GPU work.
    #[test]
    fn bench_model_reports_and_profiles() {
        let out = tmp("bench_model.json");
        let net = [
            "bench",
            "model",
            "--width",
            "4",
            "--modes",
            "4",
            "--layers",
            "1",
            "--embed-dim",
            "8",
            "--fc-hidden",
            "8",
            "--sensors",
            "4",
            "--seconds",
            "0.05",
            "--repeats",
            "1",
        ];
        let mut args = net.to_vec();
        args.extend([
            "--cases",
            "f64x1,t64x32",
            "--profile",
            "--json",
            out.to_str().unwrap(),
        ]);
        let (stdout, v) = bench_json(&args, &out);
        assert!(stdout.contains("adapter:"), "{stdout}");
        let cases = v["model"].as_array().unwrap();
        assert_eq!(cases.len(), 2);
        for c in cases {
            let (ms, per, b) = (
                c["ms_per_call"].as_f64().unwrap(),
                c["ms_per_sample"].as_f64().unwrap(),
                c["batch"].as_f64().unwrap(),
            );
            assert!(ms > 0.0 && (per * b - ms).abs() < 1e-9 * ms, "{c}");
            let shares: f64 = c["profile"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p[1].as_f64().unwrap())
                .sum();
            assert!(shares == 0.0 || (shares - 1.0).abs() < 1e-9, "{c}");
        }
        let mut bad = net.to_vec();
        bad.extend(["--cases", "f64x2"]);
        let (ok, _, e) = diffclosure(&bad);
        assert!(!ok && e.contains("unknown case"), "{e}");
    }

    /// `bench fft` on one small case writes JSON naming the adapter, with
    /// both round trips and consistent positive rates; a grid that is not
    /// a power of two is refused before any GPU work, and nothing written.
    #[test]
    fn bench_fft_reports_transforms_per_second() {
        let out = tmp("bench_fft.json");
        let (stdout, v) = bench_json(&bench_case("fft", "1", "16", &out), &out);
        let adapter = v["adapter"].as_str().unwrap();
        assert!(
            !adapter.is_empty() && stdout.contains(&format!("adapter: {adapter}")),
            "{stdout}"
        );
        assert!(v["unix_time"].as_u64().unwrap() > 0 && v["date"].is_string());
        let cases = v["fft"].as_array().unwrap();
        let kinds: Vec<&str> = cases
            .iter()
            .map(|c| c["transform"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["r2c+c2r", "c2c"]);
        for c in cases {
            let rate = rate_of(c, "transforms_per_s", "ms_per_transform");
            assert!((c["fields_per_s"].as_f64().unwrap() - 2.0 * rate).abs() < 1e-9 * rate);
            assert_eq!(
                (c["grid"].as_u64(), c["batch"].as_u64()),
                (Some(16), Some(2))
            );
        }
        let bad = tmp("bench_fft24.json");
        let (ok, _, e) = diffclosure(&bench_case("fft", "1", "24", &bad));
        assert!(!ok && e.contains("power of two"), "{e}");
        assert!(!bad.exists());
    }

    /// `spectrum` reads a `simulate` output; its enstrophy spectrum sums to
    /// ½⟨ω²⟩ of the file's snapshots (Parseval; f32 data, 1e-4).
    #[test]
    fn spectrum_of_a_trajectory() {
        let out = tmp("spec.safetensors");
        let w = run_ok(&[], &out)
            .get(&out, "vorticity")
            .unwrap()
            .data
            .clone();
        let json = out.with_extension("json");
        let (ok, stdout, e) = diffclosure(&[
            "spectrum",
            "--input",
            out.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ]);
        assert!(ok, "{e}");
        assert!(stdout.contains("decades below the peak"), "{stdout}");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let z: f64 = v["enstrophy_spectrum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .sum();
        let half_mean_sq =
            0.5 * w.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / w.len() as f64;
        assert!(
            (z - half_mean_sq).abs() < 1e-4 * half_mean_sq,
            "{z} vs {half_mean_sq}"
        );
        let (ok, _, e) =
            diffclosure(&["spectrum", "--input", out.to_str().unwrap(), "--from", "99"]);
        assert!(!ok && e.contains("no snapshot"), "{e}");
    }

    /// `dataset` splits by trajectory, and the sensor values are the target
    /// at the sensor points.
    #[test]
    fn dataset_splits_by_trajectory_with_sensors() {
        let traj = tmp("traj.safetensors");
        run_ok(&["--batch", "3", "--coarse", "16"], &traj);
        let (train, test) = (tmp("train.safetensors"), tmp("test.safetensors"));
        let args = |extra: &[&str]| -> (bool, String, String) {
            let mut v = vec![
                "dataset",
                "--input",
                traj.to_str().unwrap(),
                "--grid",
                "16",
                "--scenario",
                "h",
                "--out-train",
                train.to_str().unwrap(),
                "--out-test",
                test.to_str().unwrap(),
            ];
            v.extend_from_slice(extra);
            diffclosure(&v)
        };
        let (ok, _, e) = args(&["--sensors", "4x4"]);
        assert!(ok, "{e}");
        let (tr, te) = (io::read(&train).unwrap(), io::read(&test).unwrap());
        let ids = |f: &io::TensorFile, p: &Path| f.get(p, "trajectory").unwrap().data.clone();
        let (a, b) = (ids(&tr, &train), ids(&te, &test));
        assert_eq!(a.len(), 10, "5 snapshots x 2 train trajectories");
        assert_eq!(b.len(), 5);
        assert!(
            a.iter().all(|t| *t < 2.0) && b.iter().all(|t| *t == 2.0),
            "split by trajectory: {a:?} {b:?}"
        );
        assert_eq!(tr.meta(&train, "scenario").unwrap(), "H");
        assert_eq!(te.meta(&test, "split").unwrap(), "test");
        let target = &tr.get(&train, "target").unwrap().data;
        let sensors = &tr.get(&train, "sensors").unwrap().data;
        assert_eq!(tr.get(&train, "sensors").unwrap().shape, vec![10, 4, 4]);
        for s in 0..10 {
            for (iy, y) in [0, 4, 8, 12].into_iter().enumerate() {
                for (ix, x) in [0, 4, 8, 12].into_iter().enumerate() {
                    assert_eq!(sensors[s * 16 + iy * 4 + ix], target[s * 256 + y * 16 + x]);
                }
            }
        }
        assert_eq!(
            tr.get(&train, "sensor_x").unwrap().data[1],
            (std::f64::consts::TAU / 4.0) as f32
        );
        // Refusals, with the outputs left alone.
        let before = std::fs::read(&train).unwrap();
        let (ok, _, e) = args(&[]);
        assert!(!ok && e.contains("exists"), "{e}");
        assert_eq!(std::fs::read(&train).unwrap(), before);
        let (t2, t3) = (tmp("t2.safetensors"), tmp("t3.safetensors"));
        let other = |extra: &[&str]| -> String {
            let mut v = vec![
                "dataset",
                "--input",
                traj.to_str().unwrap(),
                "--out-train",
                t2.to_str().unwrap(),
                "--out-test",
                t3.to_str().unwrap(),
            ];
            v.extend_from_slice(extra);
            let (ok, _, e) = diffclosure(&v);
            assert!(!ok, "{extra:?} must fail");
            e
        };
        assert!(other(&["--grid", "16", "--scenario", "les"]).contains("unknown scenario"));
        assert!(other(&["--grid", "64"]).contains("no tensor 'omega_64'"));
        assert!(other(&["--grid", "16", "--test-trajectories", "3"]).contains("cannot put 3"));
        assert!(other(&["--grid", "16", "--sensors", "5x4"]).contains("expected SxS"));
        assert!(other(&["--grid", "16", "--test-trajectories", "0"]).contains("must be >= 1"));
        let twice = other(&["--grid", "16", "--input", traj.to_str().unwrap()]);
        assert!(twice.contains("given twice"), "{twice}");
        assert!(!t2.exists() && !t3.exists());
    }

    #[test]
    fn refuses_bad_input_without_touching_files() {
        let out = tmp("existing.safetensors");
        std::fs::write(&out, b"precious").unwrap();
        let (ok, _, e) = run(&[], &out);
        assert!(!ok && e.contains("exists"), "{e}");
        assert_eq!(std::fs::read(&out).unwrap(), b"precious");

        let out = tmp("never.safetensors");
        let nan = tmp("nan.safetensors");
        write_init(&nan, &[32, 32], f32::NAN);
        let (ok, _, e) = run(&["--init", nan.to_str().unwrap()], &out);
        assert!(!ok && e.contains("non-finite"), "{e}");
        let shape = tmp("shape.safetensors");
        write_init(&shape, &[16, 16], 0.0);
        let (ok, _, e) = run(&["--init", shape.to_str().unwrap()], &out);
        assert!(!ok && e.contains("expected [32, 32]"), "{e}");
        let garbage = tmp("garbage.safetensors");
        std::fs::write(&garbage, b"not a tensor file").unwrap();
        let (ok, _, e) = run(&["--init", garbage.to_str().unwrap()], &out);
        assert!(!ok && e.contains("not a safetensors file"), "{e}");
        let (ok, _, e) = diffclosure(&[
            "simulate",
            "--grid",
            "48",
            "--steps",
            "1",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(!ok && e.contains("power of two"), "{e}");
        let (ok, _, e) = run(&["--dt", "0.5"], &out);
        assert!(!ok && e.contains("CFL"), "{e}");
        let nodir = tmp("x").join("missing-dir").join("o.safetensors");
        let (ok, _, e) = run(&[], &nodir);
        assert!(!ok && e.contains("No such file"), "{e}");
        let (ok, _, e) = run(&["--coarse", "16,16"], &out);
        assert!(!ok && e.contains("twice"), "{e}");
        let (ok, _, e) = run(&["--t-start", "5"], &out);
        assert!(!ok && e.contains("after the end"), "{e}");
        let (ok, _, e) = run(&["--resume"], &out);
        assert!(!ok && e.contains("nothing to continue"), "{e}");
        assert!(!out.exists(), "a failed run must not leave an output");
        assert!(!e.contains("panicked"), "{e}");
    }

    /// Kill a run after its first state checkpoint, resume it: the result
    /// equals an uninterrupted run bit for bit (state = exact spectrum +
    /// random-stream position, same adapter).
    #[test]
    fn resumed_run_equals_uninterrupted_run() {
        let args = [
            "simulate",
            "--grid",
            "32",
            "--steps",
            "3000",
            "--snapshot-every",
            "100",
            "--checkpoint-every",
            "150",
            "--coarse",
            "16",
            "--quiet",
        ];
        let whole = tmp("whole.safetensors");
        let mut a = args.to_vec();
        a.extend_from_slice(&["--out", whole.to_str().unwrap()]);
        let (ok, _, e) = diffclosure(&a);
        assert!(ok, "{e}");

        let cut = tmp("cut.safetensors");
        let partial = cut.with_extension("safetensors.partial");
        kill_when_exists(
            &[&args[..], &["--out", cut.to_str().unwrap()]].concat(),
            &partial,
            std::time::Duration::from_secs(120),
        );
        assert!(
            !cut.exists(),
            "the run finished before it could be interrupted"
        );
        assert!(partial.exists());
        let (ok, _, e) = diffclosure(&[&args[..], &["--out", cut.to_str().unwrap()]].concat());
        assert!(
            !ok && e.contains("--resume"),
            "a leftover partial file must not be ignored: {e}"
        );
        let (ok, _, e) =
            diffclosure(&[&args[..], &["--resume", "--out", cut.to_str().unwrap()]].concat());
        assert!(ok, "{e}");
        assert!(
            !partial.exists(),
            "the partial file is removed after success"
        );
        let (fa, fb) = (io::read(&whole).unwrap(), io::read(&cut).unwrap());
        for name in ["vorticity", "time", "omega_16", "G_16", "H_16"] {
            let (a, b) = (fa.get(&whole, name).unwrap(), fb.get(&cut, name).unwrap());
            assert_eq!(a.shape, b.shape, "{name}");
            let diff = a.data.iter().zip(&b.data).position(|(x, y)| x != y);
            assert_eq!(diff, None, "{name} differs first at flat index {diff:?}");
        }
    }
}
