//! Atomic file writes: nothing that exists is overwritten or truncated by
//! an output, a dangling symlink counts as existing, checkpoints replace.

use std::collections::HashMap;

use diffclosure::data::io::{self, NamedTensor};

fn dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("diffclosure-io-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn outputs_never_overwrite_and_temporaries_never_clobber() {
    let d = dir();
    let t = NamedTensor {
        shape: vec![2],
        data: vec![1.0, 2.0],
    };
    let meta = HashMap::new();
    // A file named like a temporary of the output is someone else's.
    let out = d.join("out.safetensors");
    let _ = std::fs::remove_file(&out);
    let bystander = d.join("out.safetensors.tmp");
    std::fs::write(&bystander, "precious notes").unwrap();
    io::write_new_atomic(&out, &[("a", &t)], &meta).unwrap();
    assert_eq!(
        std::fs::read_to_string(&bystander).unwrap(),
        "precious notes"
    );
    // An output that exists by the time the result is ready is kept.
    let before = std::fs::read(&out).unwrap();
    let e = io::write_new_atomic(&out, &[("b", &t)], &meta).unwrap_err();
    assert!(e.to_string().contains("not overwritten"), "{e}");
    assert_eq!(std::fs::read(&out).unwrap(), before);
    let e = io::write_bytes_atomic(&out, b"{}").unwrap_err();
    assert!(e.to_string().contains("not overwritten"), "{e}");
    // Checkpoints replace.
    io::write_atomic(&out, &[("c", &t)], &meta).unwrap();
    assert!(io::read(&out).unwrap().tensors.contains_key("c"));
    // A dangling symlink is an existing output; a directory is named so.
    #[cfg(unix)]
    {
        let link = d.join("dangling.safetensors");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(d.join("nowhere"), &link).unwrap();
        assert!(io::refuse_existing(&link).is_err());
    }
    let e = io::refuse_existing(&d).unwrap_err().to_string();
    assert!(e.contains("is a directory"), "{e}");
    // The two refused results are kept under the temporary names their
    // errors give; nothing else is left behind.
    let left: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") && n != "out.safetensors.tmp")
        .collect();
    assert_eq!(left.len(), 2, "temporaries: {left:?}");
}
