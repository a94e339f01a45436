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

/// A file cut short is named truncated, with the sizes; an empty file and
/// a text file are not called safetensors; none carries the "invalid
/// argument" prefix of a bad command-line value.
#[test]
fn truncated_and_foreign_files_are_named_so() {
    let d = dir();
    let t = NamedTensor {
        shape: vec![64],
        data: vec![0.5; 64],
    };
    let good = d.join("good.safetensors");
    let _ = std::fs::remove_file(&good);
    io::write_new_atomic(&good, &[("a", &t)], &HashMap::new()).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let cases: [(&str, &[u8], &str); 4] = [
        ("cut_header.safetensors", &bytes[..20], "looks truncated"),
        (
            "cut_data.safetensors",
            &bytes[..bytes.len() - 8],
            "truncated or corrupt",
        ),
        (
            "empty.safetensors",
            b"",
            "less than the 8-byte header length",
        ),
        (
            "text.safetensors",
            b"hello, this is text",
            "not a safetensors file",
        ),
    ];
    for (name, content, says) in cases {
        let p = d.join(name);
        std::fs::write(&p, content).unwrap();
        let e = io::read(&p).unwrap_err().to_string();
        assert!(e.contains(says) && e.contains(name), "{name}: {e}");
        assert!(!e.contains("invalid argument"), "{name}: {e}");
    }
}
