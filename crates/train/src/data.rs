//! Training images: every readable image of a folder, resized once to a short side and kept
//! in memory as 8-bit RGB; batches are random square crops with random horizontal flips, taken
//! at one scale or, with a zoom range, at a random smaller one.

use std::path::{Path, PathBuf};

use rand::Rng;
use stylize_io::{Limits, RgbImage, Sizing, DEFAULT_MAX_PIXELS};
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
                    // A very long, thin image would become huge at the short side: refused.
                    match stylize_io::fit(&img.rgb, Sizing::ShortSide(short_side), min_side.min(short_side), DEFAULT_MAX_PIXELS) {
                        Ok(sized) => images.push(sized),
                        Err(e) => {
                            eprintln!("warning: skipping {}: {e}", f.display());
                            continue;
                        }
                    }
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
    ///
    /// With `min_zoom` < 1 each crop is first drawn at a random zoom z in [min_zoom, 1]: a
    /// square of side crop / z, resized down to crop, as if the image had been resized by z.
    /// `min_zoom` >= 1 draws no zoom at all, so such runs draw exactly what they always did.
    pub fn batch(&self, rng: &mut impl Rng, n: i64, crop: u32, min_zoom: f64) -> Tensor {
        let crops: Vec<Tensor> = (0..n)
            .map(|_| {
                let img = &self.images[rng.gen_range(0..self.images.len())];
                let (w, h) = img.dimensions();
                let side = if min_zoom < 1.0 { zoomed_side(crop, rng.gen_range(min_zoom..=1.0), w.min(h)) } else { crop };
                let (x, y) = (rng.gen_range(0..=w - side), rng.gen_range(0..=h - side));
                let mut view = stylize_io::image::imageops::crop_imm(img, x, y, side, side).to_image();
                if side != crop {
                    view = stylize_io::image::imageops::resize(&view, crop, crop, stylize_io::image::imageops::FilterType::Triangle);
                }
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

/// The side of the square that, resized by `zoom`, becomes `crop`: never under `crop`, never
/// over the image's short side.
fn zoomed_side(crop: u32, zoom: f64, short_side: u32) -> u32 {
    ((crop as f64 / zoom).round() as u32).clamp(crop, short_side.max(crop))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn zoomed_side_by_hand() {
        assert_eq!(zoomed_side(128, 1.0, 512), 128);
        assert_eq!(zoomed_side(128, 0.5, 512), 256);
        assert_eq!(zoomed_side(128, 0.2, 512), 512, "never past the short side");
        assert_eq!(zoomed_side(128, 1.5, 512), 128, "never under the crop");
    }

    #[test]
    fn zoomed_crops_show_more_of_the_image() {
        // A 512x512 image, left half black, right half white. A 128 px crop at zoom 1 holds
        // both halves only when it straddles the middle (about a third of crops); zoomed out
        // to 1/4 (squares up to the whole image), most crops do.
        let img = RgbImage::from_fn(512, 512, |x, _| if x < 256 { [0, 0, 0].into() } else { [255, 255, 255].into() });
        let set = ImageSet { images: vec![img], names: vec!["halves".into()] };
        let mixed = |min_zoom: f64| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
            let b = set.batch(&mut rng, 64, 128, min_zoom);
            assert_eq!(b.size(), [64, 3, 128, 128]);
            let m = b.mean_dim(&[1i64, 2, 3][..], false, tch::Kind::Float);
            m.gt(0.05).logical_and(&m.lt(0.95)).sum(tch::Kind::Int64).int64_value(&[])
        };
        let (plain, zoomed) = (mixed(1.0), mixed(0.25));
        assert!(plain > 8 && plain < 40 && zoomed > plain + 10, "mixed crops: {plain} at zoom 1, {zoomed} zoomed");
    }

    #[test]
    fn without_zoom_the_draws_are_the_old_ones() {
        // Image, x, y, flip: the order checkpoints of earlier runs were made with.
        let img = RgbImage::from_fn(300, 200, |x, y| [(x % 251) as u8, (y % 251) as u8, 7].into());
        let set = ImageSet { images: vec![img.clone()], names: vec!["ramp".into()] };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let got = set.batch(&mut rng.clone(), 1, 64, 1.0);
        let _image: usize = rng.gen_range(0..1);
        let (x, y): (u32, u32) = (rng.gen_range(0..=236), rng.gen_range(0..=136));
        let view = stylize_io::image::imageops::crop_imm(&img, x, y, 64, 64).to_image();
        let t = stylize_model::convert::rgb8_to_tensor(view.as_raw(), 64, 64);
        let want = if rng.gen_bool(0.5) { t.flip([3]) } else { t };
        assert!(got.equal(&want));
    }
}
