//! Turning errors into one line on stderr and an exit code.

use std::process::ExitCode;

/// Exit code for bad input (unreadable or invalid files, bad arguments): like clap's usage errors.
pub const BAD_INPUT: u8 = 2;
/// Exit code for everything else (a failed computation, an I/O failure writing results).
pub const FAILURE: u8 = 1;

pub fn report(e: &anyhow::Error) -> ExitCode {
    // `{:#}` joins the context chain on one line: "context: cause".
    eprintln!("error: {e:#}");
    let bad_input = e.chain().any(|c| {
        c.is::<stylize_io::ImageError>() || c.is::<stylize_weights::WeightsError>() || c.is::<stylize_model::ModelError>() || c.is::<BadInput>()
    });
    ExitCode::from(if bad_input { BAD_INPUT } else { FAILURE })
}

/// A user mistake found by the CLI itself (bad flag values and the like).
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}
