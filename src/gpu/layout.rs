//! Rust mirrors of WGSL structs (kernel uniforms), declared with
//! [`wgsl_struct!`] so that a test checks each against its shader.
//!
//! A uniform is uploaded as the bytes of a `#[repr(C)]` Rust struct; WGSL
//! reads them by its own struct's layout, and nothing at build or run time
//! compares the two. A field added, removed or reordered on one side only
//! shifts every later field, which the kernels read as silently wrong
//! numbers. The macro lists the Rust fields (names, `offset_of!`, types)
//! and emits a unit test that parses the shader with naga and compares
//! them with the WGSL struct's members and size.

use crate::gpu::ShaderSource;

/// One field of a Rust mirror of a WGSL struct.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// Field name (the WGSL member's).
    pub name: &'static str,
    /// Byte offset in the Rust struct.
    pub offset: usize,
    /// The Rust type as written (`u32`, `f32`, `[u32; 2]`, …).
    pub ty: &'static str,
}

/// A `#[repr(C)]` struct whose bytes a kernel reads as the WGSL struct
/// `WGSL_NAME` of `SHADER` (implemented by [`wgsl_struct!`]).
pub trait WgslStruct: bytemuck::Pod {
    /// The shader declaring the struct.
    const SHADER: ShaderSource;
    /// The struct's name in the shader.
    const WGSL_NAME: &'static str;
    /// The Rust fields in declaration order.
    const FIELDS: &'static [Field];
}

/// Declares a `#[repr(C)]` mirror of a WGSL struct, implements
/// [`WgslStruct`] for it and emits the unit test `$test` that checks it
/// against the shader (see [`assert_mirrors`]):
///
/// ```ignore
/// wgsl_struct! {
///     #[wgsl(SHADER, Params, test params_mirror_wgsl)]
///     #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
///     struct Params { n: u32, scale: f32 }
/// }
/// ```
///
/// Fields whose names start with `_` are padding: they must fill the same
/// bytes on both sides (the offsets of the fields after them and the size
/// are checked) but may be split differently (`_pad: [u32; 2]` against
/// `_pad0: u32, _pad1: u32`).
macro_rules! wgsl_struct {
    (
        #[wgsl($shader:path, $wgsl:ident, test $test:ident)]
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[repr(C)]
        $vis struct $name {
            $($(#[$fmeta])* $fvis $field: $ty),*
        }

        impl $crate::gpu::layout::WgslStruct for $name {
            const SHADER: $crate::gpu::ShaderSource = $shader;
            const WGSL_NAME: &'static str = stringify!($wgsl);
            const FIELDS: &'static [$crate::gpu::layout::Field] = &[$(
                $crate::gpu::layout::Field {
                    name: stringify!($field),
                    offset: ::std::mem::offset_of!($name, $field),
                    ty: stringify!($ty),
                }
            ),*];
        }

        #[cfg(test)]
        #[test]
        fn $test() {
            $crate::gpu::layout::assert_mirrors::<$name>();
        }
    };
}
pub(crate) use wgsl_struct;

/// `(name, offset, type)` of the non-padding fields, one per line.
#[cfg(test)]
fn listing(fields: &[(String, usize, String)]) -> String {
    fields
        .iter()
        .map(|(n, o, t)| format!("\n    {o:>3}: {n}: {t}"))
        .collect()
}

/// Panics unless `T` and its WGSL struct have the same size and the same
/// non-padding fields (names starting with `_` are padding) in the same
/// order, at the same offsets, of the same scalar types.
#[cfg(test)]
pub(crate) fn assert_mirrors<T: WgslStruct>() {
    let (file, source) = (T::SHADER.name, T::SHADER.source);
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{file}: {}", e.emit_to_string(source)));
    let (members, span) = module
        .types
        .iter()
        .find_map(|(_, t)| match (&t.name, &t.inner) {
            (Some(n), naga::TypeInner::Struct { members, span }) if n == T::WGSL_NAME => {
                Some((members.clone(), *span as usize))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("shaders/{file} has no struct {}", T::WGSL_NAME));
    let padding = |n: &str| n.starts_with('_');
    let wgsl: Vec<(String, usize, String)> = members
        .iter()
        .map(|m| {
            let ty = match module.types[m.ty].inner {
                naga::TypeInner::Scalar(s) => match (s.kind, s.width) {
                    (naga::ScalarKind::Uint, 4) => "u32".to_string(),
                    (naga::ScalarKind::Sint, 4) => "i32".to_string(),
                    (naga::ScalarKind::Float, 4) => "f32".to_string(),
                    other => format!("{other:?}"),
                },
                ref other => format!("{other:?}"),
            };
            (m.name.clone().unwrap_or_default(), m.offset as usize, ty)
        })
        .filter(|(n, ..)| !padding(n))
        .collect();
    let rust: Vec<(String, usize, String)> = T::FIELDS
        .iter()
        .filter(|f| !padding(f.name))
        .map(|f| (f.name.to_string(), f.offset, f.ty.to_string()))
        .collect();
    let rust_name = std::any::type_name::<T>();
    let size = std::mem::size_of::<T>();
    assert!(
        rust == wgsl && size == span,
        "{rust_name} does not mirror struct {} of shaders/{file}:\n  \
         Rust ({size} bytes):{}\n  WGSL ({span} bytes):{}",
        T::WGSL_NAME,
        listing(&rust),
        listing(&wgsl),
    );
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every `#[repr(C)]` struct of the crate is a WGSL mirror declared
    /// through [`wgsl_struct!`] (whose expansion is the only `#[repr(C)]`
    /// in the sources), so none escapes the layout test.
    #[test]
    fn every_repr_c_struct_is_a_checked_mirror() {
        fn visit(dir: &Path, hits: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).expect("readable src/") {
                let p = e.expect("readable entry").path();
                if p.is_dir() {
                    visit(&p, hits);
                } else if p.extension().is_some_and(|e| e == "rs") && !p.ends_with("gpu/layout.rs")
                {
                    let text = std::fs::read_to_string(&p).expect("readable source");
                    if text.contains(concat!("#[repr", "(C)]")) {
                        hits.push(p.display().to_string());
                    }
                }
            }
        }
        let mut hits = Vec::new();
        visit(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut hits,
        );
        assert!(
            hits.is_empty(),
            "declare WGSL mirrors with gpu::layout::wgsl_struct! (checked against the shader), \
             not a bare #[repr(C)]: {hits:?}"
        );
    }
}
