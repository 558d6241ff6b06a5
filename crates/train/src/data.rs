//! Training images: every readable image of a folder, resized once to a short side and kept
//! in memory as 8-bit RGB; batches are random square crops with random horizontal flips.

use std::path::{Path, PathBuf};

use rand::Rng;
use stylize_io::{resize_to_short_side, Limits, RgbImage};
use tch::Tensor;

use crate::TrainError;

pub struct ImageSet {
    pub images: Vec<RgbImage>,
    pub names: Vec<String>,
}

/// Supported image files of `dir`, sorted by name (the order seeds depend on).
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>, TrainError> {
    let entries = std::fs::read_dir(dir).map_err(|e| TrainError::Folder { path: dir.to_path_buf(), reason: e.to_string() })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png" | "webp" | "tif" | "tiff" | "bmp" | "gif")
            })
        })
        .collect();
    files.sort();
    Ok(files)
}

impl ImageSet {
    /// Loads every image in `dir`. Unreadable files and images whose short side is under
    /// `min_side` are skipped with a warning on stderr; no usable image at all is an error.
    pub fn load_dir(dir: &Path, short_side: u32, min_side: u32) -> Result<Self, TrainError> {
        let files = list_images(dir)?;
        let (mut images, mut names) = (Vec::new(), Vec::new());
        for f in &files {
            match stylize_io::load(f, &Limits::default()) {
                Ok(img) => {
                    let (w, h) = img.rgb.dimensions();
                    if w.min(h) < min_side {
                        eprintln!("warning: skipping {}: {w}x{h} is smaller than {min_side} px on its short side", f.display());
                        continue;
                    }
                    images.push(resize_to_short_side(&img.rgb, short_side, true));
                    names.push(f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
                }
                Err(e) => eprintln!("warning: skipping {e}"),
            }
        }
        if images.is_empty() {
            let reason = if files.is_empty() { "no image files (jpg, png, webp, tiff, bmp, gif)".to_string() } else { format!("none of its {} image files could be used", files.len()) };
            return Err(TrainError::Folder { path: dir.to_path_buf(), reason });
        }
        Ok(Self { images, names })
    }

    pub fn len(&self) -> usize {
        self.images.len()
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// `n` random `crop`x`crop` crops (random image, position, flip) as (n,3,crop,crop) in 0..1.
    pub fn batch(&self, rng: &mut impl Rng, n: i64, crop: u32) -> Tensor {
        let crops: Vec<Tensor> = (0..n)
            .map(|_| {
                let img = &self.images[rng.gen_range(0..self.images.len())];
                let (w, h) = img.dimensions();
                let (x, y) = (rng.gen_range(0..=w - crop), rng.gen_range(0..=h - crop));
                let view = stylize_io::image::imageops::crop_imm(img, x, y, crop, crop).to_image();
                let t = stylize_model::convert::rgb8_to_tensor(view.as_raw(), crop, crop);
                if rng.gen_bool(0.5) { t.flip([3]) } else { t }
            })
            .collect();
        Tensor::cat(&crops, 0)
    }

    /// Image `i` resized to fit in a `size` square, centre-cropped to a multiple of 8 (previews).
    pub fn preview_tensor(&self, i: usize, size: u32) -> Tensor {
        let img = stylize_io::resize_to_short_side(&self.images[i], size, true);
        let (w, h) = img.dimensions();
        let (cw, ch) = (w.min(size) / 8 * 8, h.min(size) / 8 * 8);
        let view = stylize_io::image::imageops::crop_imm(&img, (w - cw) / 2, (h - ch) / 2, cw, ch).to_image();
        stylize_model::convert::rgb8_to_tensor(view.as_raw(), ch, cw)
    }
}
