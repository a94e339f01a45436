//! The `diffclosure` command line; see `diffclosure --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    match diffclosure::cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
