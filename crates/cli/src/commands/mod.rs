pub mod artist;
pub mod collection;
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

/// A training run's preview: 4 fixed photos x 4 fixed paintings (evenly spaced through the
/// folders) at 256 px, as `stylize(photos, paintings, size)` renders them, under a header row
/// and column of the originals.
pub fn write_preview(
    content: &stylize_train::data::ImageSet,
    style: &stylize_train::data::ImageSet,
    stylize: impl FnOnce(&[usize], &[usize], u32) -> Vec<Vec<RgbImage>>,
    path: &Path,
) -> anyhow::Result<()> {
    let pick = |n: usize| -> Vec<usize> { (0..4.min(n)).map(|i| i * n / 4.min(n)).collect() };
    let (photos, styles) = (pick(content.len()), pick(style.len()));
    let results = stylize(&photos, &styles, 256);
    let thumbs = |set: &stylize_train::data::ImageSet, idx: &[usize]| -> Vec<RgbImage> {
        idx.iter().map(|&i| stylize_train::trainer::to_image(&set.preview_tensor(i, 256))).collect()
    };
    let sheet = stylize_report::header_sheet(&thumbs(content, &photos), &thumbs(style, &styles), &results, &Default::default());
    stylize_io::save(path, &sheet, None, &Default::default())?;
    Ok(())
}
