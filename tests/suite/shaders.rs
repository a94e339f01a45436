//! Every WGSL file of `shaders/` parses and validates with naga, with all
//! capabilities off that we do not request from the device, and is
//! declared by some host module (there is no central list of shaders: the
//! files are read from disk and the declarations found in `src/`).

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `(file name, source)` of every `shaders/*.wgsl`, sorted by name.
fn shader_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(root().join("shaders"))
        .expect("shaders/ exists")
        .map(|e| e.expect("readable shaders/").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wgsl"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).expect("readable shader"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no shaders found");
    files
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("readable source dir") {
        let p = e.expect("readable entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn shaders_validate_with_naga() {
    for (file, source) in shader_files() {
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{file}: {}", e.emit_to_string(&source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{file}: {}", e.emit_to_string(&source)));
    }
}

/// A file nobody declares would never be compiled by the registry (nor
/// noticed); a declaration of a missing file fails the build instead.
#[test]
fn every_file_in_shaders_dir_is_declared_by_a_host_module() {
    let mut sources = Vec::new();
    rust_files(&root().join("src"), &mut sources);
    let text: String = sources
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("readable source"))
        .collect();
    for (file, _) in shader_files() {
        assert!(
            text.contains(&format!("shader!(\"{file}\")")),
            "shaders/{file} is declared by no host module (`crate::shader!(\"{file}\")`)"
        );
    }
}
