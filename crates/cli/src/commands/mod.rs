pub mod distill;
pub mod eval;
pub mod features;
pub mod run;
pub mod serve;
pub mod setup;
pub mod train;

use std::path::{Path, PathBuf};

use stylize_io::RgbImage;
use stylize_pipeline::Sizing;

use crate::exit::BadInput;

/// Sizes an image read from `path` for the networks; one that does not fit after its last
/// resize is the user's problem, told in one line with the file's own size.
pub fn fit(path: &Path, img: &RgbImage, sizing: Sizing) -> Result<RgbImage, BadInput> {
    stylize_pipeline::fit(img, sizing).map_err(|e| BadInput(format!("{}: {e}", path.display())))
}

/// What every training command (`train`, `distill`) takes.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Folder of photos (content images)
    #[arg(long)]
    pub content: PathBuf,
    /// Folder of paintings (style images, and the discriminator's real images)
    #[arg(long)]
    pub style: PathBuf,
    /// Run folder for checkpoints, logs, previews and the exported model
    #[arg(long)]
    pub out: PathBuf,
    /// Settings (TOML; unknown keys are errors); the defaults and every key: configs/ and
    /// crates/train/src (config.rs for train, distill.rs for distill)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Continue the run in --out from its last checkpoint (bit for bit; with --config, the new
    /// settings apply from the checkpoint's step on, and the networks must match)
    #[arg(long)]
    pub resume: bool,
    /// Override the total number of steps
    #[arg(long)]
    pub steps: Option<u64>,
}

impl RunArgs {
    /// The settings of --config, if given: unreadable is bad input, invalid names the file.
    pub fn file_config<C: stylize_train::TomlConfig>(&self) -> anyhow::Result<Option<C>> {
        let Some(p) = &self.config else { return Ok(None) };
        let text = std::fs::read_to_string(p).map_err(|e| BadInput(format!("{}: {e}", p.display())))?;
        Ok(Some(C::from_toml(&text).map_err(|reason| stylize_train::TrainError::Config { path: p.clone(), reason })?))
    }
}
