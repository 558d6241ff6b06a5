pub mod distill;
pub mod eval;
pub mod features;
pub mod run;
pub mod serve;
pub mod setup;
pub mod train;

use std::path::Path;

use stylize_io::RgbImage;
use stylize_pipeline::Sizing;

use crate::exit::BadInput;

/// Sizes an image read from `path` for the networks; one that does not fit after its last
/// resize is the user's problem, told in one line with the file's own size.
pub fn fit(path: &Path, img: &RgbImage, sizing: Sizing) -> Result<RgbImage, BadInput> {
    stylize_pipeline::fit(img, sizing).map_err(|e| BadInput(format!("{}: {e}", path.display())))
}
