//! The embedded font: DejaVu Sans (`assets/fonts/DejaVuSans.ttf`, licence
//! beside it), registered with plotters' `ab_glyph` text renderer as the
//! `sans-serif` family the first time a plot needs text.

use std::sync::OnceLock;

use plotters::style::{register_font, FontStyle};

use crate::error::{Error, Result};

/// The font family name under which the embedded font is registered.
pub(crate) const FAMILY: &str = "sans-serif";

static DEJAVU_SANS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSans.ttf"
));

/// Registers the embedded font once per process; later calls return the
/// first call's outcome.
///
/// # Errors
/// [`Error::Plot`] if the font data does not parse (a damaged asset).
pub(crate) fn ensure() -> Result<()> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS)
                .map_err(|_| "the embedded DejaVu Sans font does not parse".to_string())
        })
        .clone()
        .map_err(Error::Plot)
}
