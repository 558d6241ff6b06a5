//! Aspect-preserving resizes (pixel tensors are made in stylize-model's `convert`).
//! No tensor library here on purpose, so this crate builds without libtorch.

use image::imageops::{self, FilterType};
use image::{ImageBuffer, Pixel};

/// Lanczos3: sharpest of image's filters, worth its cost on a few photos per run.
const FILTER: FilterType = FilterType::Lanczos3;

/// Resize so the shorter side becomes `short` (aspect kept, the other side rounded,
/// at least 1). With `allow_upscale == false` an image already at or below `short`
/// is returned unchanged. `short == 0` is treated as 1.
pub fn resize_to_short_side<P>(
    img: &ImageBuffer<P, Vec<P::Subpixel>>,
    short: u32,
    allow_upscale: bool,
) -> ImageBuffer<P, Vec<P::Subpixel>>
where
    P: Pixel + 'static,
    P::Subpixel: 'static,
{
    let (w, h) = img.dimensions();
    match scaled_dims(w, h, w.min(h), short, allow_upscale) {
        Some((nw, nh)) => imageops::resize(img, nw, nh, FILTER),
        None => img.clone(),
    }
}

/// Resize so the longer side becomes `max` (aspect kept). With `allow_upscale == false`
/// an image already within `max` is returned unchanged. `max == 0` is treated as 1.
pub fn resize_to_max_side<P>(
    img: &ImageBuffer<P, Vec<P::Subpixel>>,
    max: u32,
    allow_upscale: bool,
) -> ImageBuffer<P, Vec<P::Subpixel>>
where
    P: Pixel + 'static,
    P::Subpixel: 'static,
{
    let (w, h) = img.dimensions();
    match scaled_dims(w, h, w.max(h), max, allow_upscale) {
        Some((nw, nh)) => imageops::resize(img, nw, nh, FILTER),
        None => img.clone(),
    }
}

/// New `(w, h)` scaling side `side` (one of `w`, `h`) to `target`; `None` = keep as is.
fn scaled_dims(w: u32, h: u32, side: u32, target: u32, allow_upscale: bool) -> Option<(u32, u32)> {
    let target = target.max(1);
    if w == 0 || h == 0 || target == side || (target > side && !allow_upscale) {
        return None;
    }
    let scale = |v: u32| -> u32 {
        // Integer rounding of v * target / side; u64 cannot overflow for u32 inputs.
        let s = u64::from(side);
        let r = (u64::from(v) * u64::from(target) + s / 2) / s;
        u32::try_from(r).unwrap_or(u32::MAX).max(1)
    };
    Some((scale(w), scale(h)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Rgb, RgbImage};

    #[test]
    fn short_side_keeps_aspect_and_does_not_upscale_by_default() {
        let img = RgbImage::new(640, 480);
        assert_eq!(
            resize_to_short_side(&img, 240, false).dimensions(),
            (320, 240)
        );
        assert_eq!(
            resize_to_short_side(&img, 960, false).dimensions(),
            (640, 480)
        );
        assert_eq!(
            resize_to_short_side(&img, 960, true).dimensions(),
            (1280, 960)
        );
        let tall = RgbImage::new(3, 1000);
        assert_eq!(resize_to_short_side(&tall, 1, false).dimensions(), (1, 333));
        assert_eq!(resize_to_short_side(&tall, 0, false).dimensions(), (1, 333));
    }

    #[test]
    fn max_side_keeps_aspect_and_does_not_upscale_by_default() {
        let img = RgbImage::new(640, 480);
        assert_eq!(
            resize_to_max_side(&img, 320, false).dimensions(),
            (320, 240)
        );
        assert_eq!(
            resize_to_max_side(&img, 1000, false).dimensions(),
            (640, 480)
        );
        assert_eq!(
            resize_to_max_side(&img, 1280, true).dimensions(),
            (1280, 960)
        );
        // Very thin images never collapse to 0.
        let thin = RgbImage::new(10_000, 1);
        assert_eq!(resize_to_max_side(&thin, 100, false).dimensions(), (100, 1));
        // Works for other pixel types (alpha masks).
        let mask = GrayImage::new(200, 100);
        assert_eq!(resize_to_max_side(&mask, 50, false).dimensions(), (50, 25));
        let empty = RgbImage::new(0, 0);
        assert_eq!(resize_to_max_side(&empty, 50, true).dimensions(), (0, 0));
    }

    #[test]
    fn resize_preserves_a_flat_colour() {
        let img = RgbImage::from_pixel(64, 48, Rgb([200, 100, 30]));
        let small = resize_to_max_side(&img, 16, false);
        assert!(small.pixels().all(|p| p.0 == [200, 100, 30]));
    }
}
