//! Every section in one process ([`All`]) and the JSON document a result
//! is written as ([`write_document`]).

use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::couple::{CoupleBench, CoupleSection};
use super::fft::{FftBench, FftSection};
use super::model::{ModelBench, ModelSection};
use super::ns::{NsBench, NsSection};
use super::sampler::{SamplerBench, SamplerSection};
use super::{Section, Timing};
use crate::data::io;
use crate::gpu::Gpu;
use crate::{Error, Result};

/// Every section, measured in this order on one adapter by
/// [`All::measure`].
#[derive(Debug)]
pub struct All {
    /// Batched 2-D FFT round trips.
    pub fft: FftBench,
    /// Solver steps.
    pub ns: NsBench,
    /// Score-network forward and training step.
    pub model: ModelBench,
    /// Closure samples.
    pub sampler: SamplerBench,
    /// Coupled runs.
    pub couple: CoupleBench,
    /// Whether the sections were [`Section::quicken`]ed (recorded in the
    /// results).
    pub quick: bool,
}

/// Wall seconds each section took in [`All::measure`], and all together.
#[derive(Serialize, Debug)]
pub struct AllSeconds {
    fft: f64,
    ns: f64,
    model: f64,
    sampler: f64,
    couple: f64,
    total: f64,
}

/// Results of [`All::measure`]: each section's under its name exactly as
/// the section alone returns them.
#[derive(Serialize, Debug)]
pub struct AllResults {
    fft: FftSection,
    ns: NsSection,
    model: ModelSection,
    sampler: SamplerSection,
    couple: CoupleSection,
    quick: bool,
    seconds: AllSeconds,
}

impl All {
    /// `bench all --quick` and the timing overrides: with `quick`, every
    /// section [`Section::quicken`]ed; then `seconds` and `repeats`, where
    /// given, replace every section's own.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a timing [`Timing::new`] refuses.
    pub fn adjust(
        &mut self,
        quick: bool,
        seconds: Option<f64>,
        repeats: Option<usize>,
    ) -> Result<()> {
        fn one<S: Section>(
            s: &mut S,
            quick: bool,
            seconds: Option<f64>,
            repeats: Option<usize>,
        ) -> Result<()> {
            if quick {
                s.quicken();
            }
            let t = s.timing_mut();
            *t = Timing::new(
                seconds.unwrap_or(t.seconds()),
                repeats.unwrap_or(t.repeats()),
            )?;
            Ok(())
        }
        self.quick |= quick;
        one(&mut self.fft, quick, seconds, repeats)?;
        one(&mut self.ns, quick, seconds, repeats)?;
        one(&mut self.model, quick, seconds, repeats)?;
        one(&mut self.sampler, quick, seconds, repeats)?;
        one(&mut self.couple, quick, seconds, repeats)
    }

    /// Measures every section on `gpu`, each under a `== bench NAME ==`
    /// heading and followed by its wall time.
    ///
    /// # Errors
    /// The first section's error.
    pub fn measure(&self, gpu: &Gpu) -> Result<AllResults> {
        let t0 = Instant::now();
        let (fft, fft_s) = timed(gpu, &self.fft)?;
        let (ns, ns_s) = timed(gpu, &self.ns)?;
        let (model, model_s) = timed(gpu, &self.model)?;
        let (sampler, sampler_s) = timed(gpu, &self.sampler)?;
        let (couple, couple_s) = timed(gpu, &self.couple)?;
        let total = t0.elapsed().as_secs_f64();
        println!("\nall sections in {total:.1} s");
        Ok(AllResults {
            fft,
            ns,
            model,
            sampler,
            couple,
            quick: self.quick,
            seconds: AllSeconds {
                fft: fft_s,
                ns: ns_s,
                model: model_s,
                sampler: sampler_s,
                couple: couple_s,
                total,
            },
        })
    }
}

/// One section of [`All`] and its wall seconds, announced and timed.
fn timed<S: Section>(gpu: &Gpu, s: &S) -> Result<(S::Output, f64)> {
    println!("\n== bench {} ==", S::NAME);
    let t = Instant::now();
    let out = s.measure(gpu)?;
    let secs = t.elapsed().as_secs_f64();
    println!("({} in {secs:.1} s)", S::NAME);
    Ok((out, secs))
}

/// Writes `{"adapter", "diffclosure" (this version), "unix_time", "date",
/// ...body}` to `path` (atomically, keys sorted), `adapter` being the
/// [`Gpu::describe`] of the adapter measured and `started` when the
/// measurement began; a body that is not a JSON object goes under
/// `"results"`. Prints `wrote PATH`.
///
/// # Errors
/// [`Error::Io`] where the file cannot be written or `body` does not
/// serialize.
pub fn write_document(
    path: &Path,
    adapter: &str,
    started: SystemTime,
    body: &impl Serialize,
) -> Result<()> {
    let as_io = |e: serde_json::Error| Error::Io {
        path: path.to_path_buf(),
        error: std::io::Error::other(e),
    };
    let unix = started
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut doc = serde_json::Map::new();
    doc.insert("adapter".into(), adapter.into());
    doc.insert("diffclosure".into(), env!("CARGO_PKG_VERSION").into());
    doc.insert("unix_time".into(), unix.into());
    doc.insert("date".into(), iso_utc(unix).into());
    match serde_json::to_value(body).map_err(as_io)? {
        serde_json::Value::Object(m) => doc.extend(m),
        other => {
            doc.insert("results".into(), other);
        }
    }
    let text = serde_json::to_string_pretty(&serde_json::Value::Object(doc)).map_err(as_io)?;
    io::write_bytes_atomic(path, text.as_bytes())?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Seconds since the Unix epoch as an ISO 8601 UTC time (the proleptic
/// Gregorian calendar; days to civil date as in H. Hinnant's algorithm).
pub fn iso_utc(unix: u64) -> String {
    let (days, secs) = ((unix / 86_400) as i64, unix % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::iso_utc;

    #[test]
    fn iso_utc_dates() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        // 2000-02-29 (a leap day of a century leap year) 12:34:56.
        assert_eq!(iso_utc(951_827_696), "2000-02-29T12:34:56Z");
        assert_eq!(iso_utc(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
