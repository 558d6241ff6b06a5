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
        use stylize_model::ModelError;
        use stylize_train::TrainError;
        let model_input = |m: &ModelError| !matches!(m, ModelError::Torch(_));
        c.is::<stylize_io::ImageError>()
            || c.is::<stylize_weights::WeightsError>()
            || c.is::<BadInput>()
            || c.downcast_ref::<stylize_server::ServerError>().is_some_and(|s| {
                matches!(s, stylize_server::ServerError::Styles { .. } | stylize_server::ServerError::Config(_))
            })
            || c.downcast_ref::<ModelError>().is_some_and(model_input)
            || c.downcast_ref::<stylize_pipeline::PipelineError>().is_some_and(|p| matches!(p, stylize_pipeline::PipelineError::Size(_)))
            || c.downcast_ref::<TrainError>().is_some_and(|t| match t {
                TrainError::Folder { .. } | TrainError::Config { .. } | TrainError::Checkpoint { .. } | TrainError::Image(_) => true,
                TrainError::Model(m) => model_input(m),
                TrainError::Io { .. } | TrainError::Torch(_) => false,
            })
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
