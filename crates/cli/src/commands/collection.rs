//! A fine-tune's own paintings (`train --from`, `distill --from`): read once, their style
//! codes written beside the model in the model's own terms, with a thumbnail for the server's
//! gallery.

use std::path::Path;

use anyhow::Result;
use stylize_io::RgbImage;
use stylize_model::{Collection, StyleCode};
use tch::{Device, Tensor};

/// The paintings of a fine-tune's --style folder, as `stylize run --style` reads them (longer
/// side 512).
pub struct Paintings {
    pub info: Collection,
    images: Vec<Tensor>,
    thumbnail: RgbImage,
}

impl Paintings {
    /// Every painting of `dir` that can be read (as training skips the others), and a
    /// thumbnail of the first four, 2x2.
    pub fn read(dir: &Path, device: Device) -> Result<Self> {
        let (mut paintings, mut images, mut firsts) = (Vec::new(), Vec::new(), Vec::new());
        for path in stylize_train::data::list_images(dir)? {
            let Ok(img) = stylize_io::load(&path, &Default::default()) else { continue };
            let Ok(img) = super::fit(&path, &img.rgb, stylize_pipeline::Sizing::Exact(512)) else { continue };
            images.push(stylize_model::convert::rgb8_to_tensor(img.as_raw(), img.height(), img.width()).to_device(device));
            paintings.push(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
            if firsts.len() < 4 {
                firsts.push(Some(img));
            }
        }
        let name = dir.canonicalize().ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned())).unwrap_or_else(|| "collection".into());
        let grid: Vec<Vec<Option<RgbImage>>> = firsts.chunks(2).map(<[_]>::to_vec).collect();
        let opts = stylize_report::SheetOptions { cell: 94, gap: 4, margin: 0, ..Default::default() };
        Ok(Paintings { info: Collection { name, paintings }, images, thumbnail: stylize_report::contact_sheet(&grid, &opts) })
    }

    /// Each painting's style code by `code` (the model's own style encoding).
    pub fn codes(&self, code: impl Fn(&Tensor) -> StyleCode) -> Vec<StyleCode> {
        self.images.iter().map(code).collect()
    }

    /// Writes `codes` and the thumbnail into the model folder `dir` (model.json names them).
    pub fn save(&self, dir: &Path, codes: &[StyleCode]) -> Result<()> {
        stylize_model::model_dir::save_collection(dir, codes)?;
        let thumb = dir.join(stylize_model::model_dir::COLLECTION_THUMBNAIL);
        stylize_io::save(&thumb, &self.thumbnail, None, &stylize_io::SaveOptions::default().with_jpeg_quality(85))?;
        Ok(())
    }
}
