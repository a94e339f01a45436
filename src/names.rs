//! Enums a user names on the command line or that a file records by name:
//! one table per enum gives both its `FromStr` and its `Display`, so that
//! the names accepted, the canonical spelling written and the list an
//! error offers cannot drift apart.

use crate::error::{Error, Result};

/// The entry of `table` one of whose names is `s` (trimmed, in any case);
/// otherwise `unknown NOUN 'S': expected A, B or C`, with `S` trimmed and
/// lower-cased and the list the lower-cased first (canonical) names.
pub(crate) fn parse<T: Copy>(s: &str, noun: &str, table: &[(T, &[&str])]) -> Result<T> {
    let key = s.trim().to_ascii_lowercase();
    table
        .iter()
        .find(|(_, names)| names.iter().any(|n| n.eq_ignore_ascii_case(&key)))
        .map(|&(value, _)| value)
        .ok_or_else(|| {
            let canonical: Vec<String> = table
                .iter()
                .map(|(_, names)| names[0].to_ascii_lowercase())
                .collect();
            Error::InvalidArgument(format!(
                "unknown {noun} '{key}': expected {}",
                one_of(&canonical)
            ))
        })
}

/// `a`, `a or b`, `a, b or c`, …
fn one_of(names: &[String]) -> String {
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// `FromStr` (through [`parse`]) and `Display` (the first name) for a
/// fieldless `Copy` enum:
///
/// ```ignore
/// name_table! {
///     Backend, "backend";
///     Vulkan => "vulkan" | "vk",
///     Gl => "gl" | "gles" | "opengl",
/// }
/// ```
macro_rules! name_table {
    (
        $ty:ident, $noun:literal;
        $($variant:ident => $name:literal $(| $alias:literal)*),+ $(,)?
    ) => {
        impl ::std::str::FromStr for $ty {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<Self> {
                $crate::names::parse(
                    s,
                    $noun,
                    &[$((Self::$variant, &[$name $(, $alias)*][..])),+],
                )
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(match self {
                    $(Self::$variant => $name),+
                })
            }
        }
    };
}
pub(crate) use name_table;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Shade {
        Dark,
        Light,
        Grey,
    }
    name_table! {
        Shade, "shade";
        Dark => "Dark" | "black",
        Light => "light",
        Grey => "grey" | "gray",
    }

    #[test]
    fn parses_any_case_and_aliases_and_displays_the_first_name() {
        assert_eq!(" dark ".parse::<Shade>().unwrap(), Shade::Dark);
        assert_eq!("BLACK".parse::<Shade>().unwrap(), Shade::Dark);
        assert_eq!("gray".parse::<Shade>().unwrap(), Shade::Grey);
        assert_eq!(Shade::Dark.to_string(), "Dark");
        assert_eq!(Shade::Grey.to_string(), "grey");
    }

    #[test]
    fn error_lists_the_canonical_names() {
        let e = " Blue".parse::<Shade>().unwrap_err().to_string();
        assert!(
            e.ends_with("unknown shade 'blue': expected dark, light or grey"),
            "{e}"
        );
        assert_eq!(one_of(&["a".into(), "b".into()]), "a or b");
        assert_eq!(one_of(&["a".into()]), "a");
    }
}
