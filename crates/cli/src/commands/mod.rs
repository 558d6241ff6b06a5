pub mod eval;
pub mod features;
pub mod run;
pub mod serve;
pub mod setup;
pub mod train;

use std::path::Path;

use crate::exit::BadInput;

/// VGG16 pools three times and its convolutions need a few pixels: smaller images are refused.
pub fn check_min_size(path: &Path, img: &stylize_io::RgbImage) -> Result<(), BadInput> {
    match stylize_pipeline::size_problem(img) {
        Some(problem) => Err(BadInput(format!("{}: {problem}", path.display()))),
        None => Ok(()),
    }
}
