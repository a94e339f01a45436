//! The `diffclosure` binary: `info` lists adapters, a missing backend gives
//! a clear error and a non-zero exit code without a panic.

use std::process::Command;

fn diffclosure(args: &[&str]) -> (bool, String, String) {
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
    assert!(!v["adapters"].as_array().expect("adapters array").is_empty());
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
fn no_adapter_is_a_clear_error() {
    let (ok, stdout, stderr) = diffclosure(&["--backend", absent_backend(), "info"]);
    assert!(!ok, "must fail: {stdout}");
    assert!(stderr.contains("no GPU adapter found"), "{stderr}");
    assert!(stderr.contains("mesa-vulkan-drivers"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
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
