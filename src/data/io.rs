//! safetensors files: f32 tensors with string metadata, written atomically.
//!
//! Writes go to `NAME.tmp` beside the target, are flushed to disk, then
//! renamed into place, so a crash or a full disk never leaves a truncated
//! file under the real name and never damages a file already there. Reads
//! check every tensor's dtype and size and name the file in errors.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, Result};

/// One named f32 tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    /// Shape (row-major).
    pub shape: Vec<usize>,
    /// Values, `shape.iter().product()` of them.
    pub data: Vec<f32>,
}

/// The contents of a safetensors file.
#[derive(Clone, Debug, Default)]
pub struct TensorFile {
    /// Tensors by name.
    pub tensors: HashMap<String, NamedTensor>,
    /// String metadata of the header (`__metadata__`).
    pub metadata: HashMap<String, String>,
}

fn io_err(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        error: source,
    }
}

fn format_err(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::File {
        path: path.to_path_buf(),
        reason: what.to_string(),
    }
}

/// Why `bytes` (all of a file) do not parse as safetensors, in words: a
/// file cut short (an interrupted copy or download) is the common case and
/// is named as such.
fn unreadable(bytes: &[u8], error: impl std::fmt::Display) -> String {
    let size = bytes.len();
    if size < 8 {
        return format!(
            "is not a safetensors file, or is truncated: {size} bytes, less than the 8-byte header length"
        );
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[..8]);
    let header = u64::from_le_bytes(len);
    // safetensors refuses headers over 100 MB: a larger length is not one.
    if header > 100_000_000 {
        return format!(
            "is not a safetensors file: its first 8 bytes do not give a header length ({header} bytes claimed)"
        );
    }
    if header > (size - 8) as u64 {
        return format!(
            "looks truncated or is not a safetensors file: its header claims {header} bytes, the file has {} after the length (copy it again)",
            size - 8
        );
    }
    format!("is not a valid safetensors file, or is truncated or corrupt ({error}): copy it again")
}

impl TensorFile {
    /// The tensor `name`, or an error naming the file and what it holds.
    ///
    /// # Errors
    /// [`Error::File`] if absent.
    pub fn get(&self, path: &Path, name: &str) -> Result<&NamedTensor> {
        self.tensors.get(name).ok_or_else(|| {
            let mut have: Vec<&str> = self.tensors.keys().map(String::as_str).collect();
            have.sort_unstable();
            format_err(
                path,
                format!("no tensor '{name}' (has: {})", have.join(", ")),
            )
        })
    }

    /// Metadata value `key`, or an error naming the file.
    ///
    /// # Errors
    /// [`Error::File`] if absent.
    pub fn meta(&self, path: &Path, key: &str) -> Result<&str> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format_err(path, format!("no metadata '{key}'")))
    }
}

/// Refuses to write over an existing file (callers that mean to replace a
/// file of their own, e.g. a checkpoint, call [`write_atomic`] directly).
///
/// # Errors
/// [`Error::File`] if `path` exists.
pub fn refuse_existing(path: &Path) -> Result<()> {
    // symlink_metadata: a dangling symlink is there too (writing through it
    // would replace the link).
    match path.symlink_metadata() {
        Ok(m) if m.is_dir() => Err(format_err(
            path,
            "is a directory; give a file name for the output (nothing was written)",
        )),
        Ok(_) => Err(format_err(
            path,
            "exists; choose another output or remove it first (nothing was written)",
        )),
        Err(_) => Ok(()),
    }
}

/// Checks that `path` can be created: its directory exists and is
/// writable (by creating and removing the temporary file a write would use).
///
/// # Errors
/// [`Error::Io`] naming `path`.
pub fn check_writable(path: &Path) -> Result<()> {
    let (tmp, _) = create_tmp(path).map_err(|e| io_err(path, e))?;
    std::fs::remove_file(&tmp).map_err(|e| io_err(path, e))
}

/// The same file under two spellings (`o` and `./o`) compares equal.
pub fn same_file(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| -> PathBuf {
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        dir.join(p.file_name().unwrap_or_default())
    };
    canon(a) == canon(b)
}

/// Creates a new temporary file beside `path` under a name no other file
/// has (`NAME.PID.K.tmp`, created exclusively: an existing file is never
/// truncated).
fn create_tmp(path: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    loop {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(
            ".{}.{}.tmp",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let tmp = path.with_file_name(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Moves the finished temporary file `tmp` to `path`: replacing what is
/// there (`replace`, for checkpoints) or only if nothing is (outputs: a
/// file that appeared during the run is kept, and so is ours, at `tmp`).
fn publish(tmp: &Path, path: &Path, replace: bool) -> Result<()> {
    if replace {
        return std::fs::rename(tmp, path).map_err(|e| io_err(path, e));
    }
    match std::fs::hard_link(tmp, path) {
        Ok(()) => {
            let _ = std::fs::remove_file(tmp);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(format_err(
            path,
            format!(
                "appeared while this was running; it was not overwritten, the result is in {}",
                tmp.display()
            ),
        )),
        // No hard links on this file system: a last check, then rename.
        Err(_) if path.symlink_metadata().is_err() => {
            std::fs::rename(tmp, path).map_err(|e| io_err(path, e))
        }
        Err(e) => Err(io_err(path, e)),
    }
}

/// Writes `tensors` and `metadata` to `path` atomically (temporary file,
/// fsync, rename), replacing `path` if it exists.
///
/// # Errors
/// [`Error::Shape`] for a tensor whose data does not match its shape;
/// [`Error::Io`] for file-system errors (the temporary file is removed).
pub fn write_atomic(
    path: &Path,
    tensors: &[(&str, &NamedTensor)],
    metadata: &HashMap<String, String>,
) -> Result<()> {
    write_files(&[(path, tensors, metadata)], true)
}

/// As [`write_atomic`] for a new output: fails, overwriting nothing, if
/// `path` exists by the time the file is complete.
///
/// # Errors
/// As [`write_atomic`], and [`Error::File`] if `path` exists.
pub fn write_new_atomic(
    path: &Path,
    tensors: &[(&str, &NamedTensor)],
    metadata: &HashMap<String, String>,
) -> Result<()> {
    write_files(&[(path, tensors, metadata)], false)
}

/// One file for [`write_all_atomic`]: path, tensors, metadata.
pub type FileSpec<'a> = (
    &'a Path,
    &'a [(&'a str, &'a NamedTensor)],
    &'a HashMap<String, String>,
);

/// Writes several new files so that either all appear or none does: every
/// temporary file is written and flushed first, then all are moved into
/// place, none over an existing file.
///
/// # Errors
/// As [`write_new_atomic`]; on failure nothing of this call is left but a
/// result that could not be placed (its temporary file is named).
pub fn write_all_atomic(files: &[FileSpec<'_>]) -> Result<()> {
    write_files(files, false)
}

fn write_files(files: &[FileSpec<'_>], replace: bool) -> Result<()> {
    let mut written: Vec<PathBuf> = Vec::new();
    let cleanup = |written: &[PathBuf]| {
        for t in written {
            let _ = std::fs::remove_file(t);
        }
    };
    for (path, tensors, metadata) in files {
        let bytes = match serialize(path, tensors, metadata) {
            Ok(b) => b,
            Err(e) => {
                cleanup(&written);
                return Err(e);
            }
        };
        match write_tmp(path, &bytes) {
            Ok(tmp) => written.push(tmp),
            Err(e) => {
                cleanup(&written);
                return Err(e);
            }
        }
    }
    for (i, ((path, _, _), tmp)) in files.iter().zip(&written).enumerate() {
        if let Err(e) = publish(tmp, path, replace) {
            // Take back what this call already published, so that all
            // appear or none does.
            for (p, _, _) in &files[..i] {
                let _ = std::fs::remove_file(p);
            }
            cleanup(&written[i + 1..]);
            return Err(e);
        }
    }
    Ok(())
}

/// Writes `bytes` to `path`'s temporary file and flushes it to disk;
/// returns the temporary path (removed again on failure).
fn write_tmp(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let (tmp, mut f) = create_tmp(path).map_err(|e| io_err(path, e))?;
    let mut write = || -> std::io::Result<()> {
        f.write_all(bytes)?;
        f.sync_all()
    };
    write().map(|()| tmp.clone()).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(path, e)
    })
}

/// Writes any bytes (a JSON report, a PNG) to the new file `path`
/// atomically, as [`write_new_atomic`] does for tensors.
///
/// # Errors
/// [`Error::Io`] naming `path` (the temporary file is removed);
/// [`Error::File`] if `path` exists by then.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = write_tmp(path, bytes)?;
    publish(&tmp, path, false)
}

/// As [`write_bytes_atomic`], replacing `path` if it exists (a file the
/// caller owns and rewrites, such as a log of progress).
///
/// # Errors
/// [`Error::Io`] naming `path` (the temporary file is removed).
pub fn replace_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = write_tmp(path, bytes)?;
    publish(&tmp, path, true)
}

fn serialize(
    path: &Path,
    tensors: &[(&str, &NamedTensor)],
    metadata: &HashMap<String, String>,
) -> Result<Vec<u8>> {
    for (name, t) in tensors {
        if t.shape.iter().product::<usize>() != t.data.len() {
            return Err(Error::Shape(format!(
                "tensor '{name}': {} values for shape {:?}",
                t.data.len(),
                t.shape
            )));
        }
    }
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, t)| {
            TensorView::new(Dtype::F32, t.shape.clone(), bytemuck::cast_slice(&t.data))
                .map(|v| (name.to_string(), v))
                .map_err(|e| format_err(path, e))
        })
        .collect::<Result<_>>()?;
    safetensors::serialize(views, Some(metadata.clone())).map_err(|e| format_err(path, e))
}

/// Reads every tensor (all must be f32) and the metadata of `path`.
///
/// # Errors
/// [`Error::Io`] if unreadable; [`Error::File`] for a file that is not
/// safetensors, is truncated (said so), or holds non-f32 tensors.
pub fn read(path: &Path) -> Result<TensorFile> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    let st =
        SafeTensors::deserialize(&bytes).map_err(|e| format_err(path, unreadable(&bytes, e)))?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| format_err(path, format!("bad header ({e})")))?;
    let mut tensors = HashMap::new();
    for name in st.names() {
        let view = st.tensor(name).map_err(|e| format_err(path, e))?;
        if view.dtype() != Dtype::F32 {
            return Err(format_err(
                path,
                format!(
                    "tensor '{name}' is {:?}; only F32 is supported",
                    view.dtype()
                ),
            ));
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        tensors.insert(
            name.to_string(),
            NamedTensor {
                shape: view.shape().to_vec(),
                data,
            },
        );
    }
    Ok(TensorFile {
        tensors,
        metadata: header.metadata().clone().unwrap_or_default(),
    })
}
