pub mod eval;
pub mod features;
pub mod run;
pub mod setup;
pub mod train;

use std::path::Path;

use crate::exit::BadInput;

/// VGG16 pools three times and its convolutions need a few pixels: smaller images are refused.
pub fn check_min_size(path: &Path, img: &stylize_io::RgbImage) -> Result<(), BadInput> {
    if img.width() < 16 || img.height() < 16 {
        return Err(BadInput(format!("{}: {}x{} is too small (at least 16x16)", path.display(), img.width(), img.height())));
    }
    Ok(())
}
