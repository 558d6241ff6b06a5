//! Aspect-preserving resizes (pixel tensors are made in stylize-model's `convert`).
//! No tensor library here on purpose, so this crate builds without libtorch.

use image::imageops::{self, FilterType};
use image::{ImageBuffer, Pixel, RgbImage};

use crate::error::fmt_megapixels;

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

/// How an image is sized before the networks see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sizing {
    /// The longer side becomes exactly this (up or down).
    Exact(u32),
    /// Shrink when the longer side exceeds this; 0 keeps the full resolution.
    AtMost(u32),
    /// The shorter side becomes exactly this (up or down).
    ShortSide(u32),
}

impl Sizing {
    /// The `(w, h)` a `w` x `h` image gets, computed as the resize computes it.
    pub fn dims(self, w: u32, h: u32) -> (u32, u32) {
        let scaled = match self {
            Sizing::Exact(s) => scaled_dims(w, h, w.max(h), s, true),
            Sizing::AtMost(0) => None,
            Sizing::AtMost(s) => scaled_dims(w, h, w.max(h), s, false),
            Sizing::ShortSide(s) => scaled_dims(w, h, w.min(h), s, true),
        };
        scaled.unwrap_or((w, h))
    }

    pub fn apply(self, rgb: &RgbImage) -> RgbImage {
        let (w, h) = rgb.dimensions();
        match self.dims(w, h) {
            same if same == (w, h) => rgb.clone(),
            (nw, nh) => imageops::resize(rgb, nw, nh, FILTER),
        }
    }
}

/// An image that does not fit the networks once sized: the one size check, made on the size
/// after the last resize, worded with the file's own size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("{}", too_small(*.original, *.sized, *.min_side))]
    TooSmall {
        original: (u32, u32),
        sized: (u32, u32),
        min_side: u32,
    },
    #[error(
        "{}x{} would be resized to {}x{} = {} megapixels, over the limit of {} megapixels",
        .original.0, .original.1, .sized.0, .sized.1,
        fmt_megapixels(u64::from(.sized.0) * u64::from(.sized.1)),
        fmt_megapixels(*.max_pixels)
    )]
    TooLarge {
        original: (u32, u32),
        sized: (u32, u32),
        max_pixels: u64,
    },
}

fn too_small((w, h): (u32, u32), (sw, sh): (u32, u32), min: u32) -> String {
    if (w, h) == (sw, sh) {
        format!("{w}x{h} is too small (at least {min}x{min})")
    } else {
        format!("{w}x{h} is too small: it would be resized to {sw}x{sh}, and both sides must be at least {min} px")
    }
}

/// The check of [`fit`] on its own: an image of size `original` that will be `sized` (the same,
/// for one already sized).
pub fn check_size(original: (u32, u32), sized: (u32, u32), min_side: u32, max_pixels: u64) -> Result<(), SizeError> {
    if sized.0 < min_side || sized.1 < min_side {
        return Err(SizeError::TooSmall { original, sized, min_side });
    }
    if u64::from(sized.0) * u64::from(sized.1) > max_pixels {
        return Err(SizeError::TooLarge { original, sized, max_pixels });
    }
    Ok(())
}

/// Sizes `img` as `sizing` says, refusing (before any pixel is resized) a result with a side
/// under `min_side` or more than `max_pixels` pixels.
pub fn fit(img: &RgbImage, sizing: Sizing, min_side: u32, max_pixels: u64) -> Result<RgbImage, SizeError> {
    let original = img.dimensions();
    let sized = sizing.dims(original.0, original.1);
    check_size(original, sized, min_side, max_pixels)?;
    Ok(sizing.apply(img))
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
    fn sizing_rules() {
        let img = RgbImage::new(400, 200);
        assert_eq!(Sizing::Exact(100).apply(&img).dimensions(), (100, 50));
        assert_eq!(Sizing::Exact(800).apply(&img).dimensions(), (800, 400));
        assert_eq!(Sizing::AtMost(800).apply(&img).dimensions(), (400, 200));
        assert_eq!(Sizing::AtMost(200).apply(&img).dimensions(), (200, 100));
        assert_eq!(Sizing::AtMost(0).apply(&img).dimensions(), (400, 200));
        assert_eq!(Sizing::ShortSide(100).apply(&img).dimensions(), (200, 100));
        for s in [Sizing::Exact(333), Sizing::AtMost(77), Sizing::ShortSide(51), Sizing::AtMost(0)] {
            assert_eq!(s.dims(400, 200), s.apply(&img).dimensions(), "{s:?}");
        }
    }

    #[test]
    fn fit_checks_the_size_after_the_last_resize_and_names_the_original() {
        // A 20000x2 painting at a 512 px style size is 512x1: refused, with both sizes named.
        let e = fit(&RgbImage::new(20_000, 2), Sizing::Exact(512), 16, 64_000_000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "20000x2 is too small: it would be resized to 512x1, and both sides must be at least 16 px"
        );
        let e = fit(&RgbImage::new(10, 40), Sizing::AtMost(1024), 16, 64_000_000).unwrap_err();
        assert_eq!(e.to_string(), "10x40 is too small (at least 16x16)");
        // Big enough before, too small after (and the other way round).
        assert!(fit(&RgbImage::new(100, 20), Sizing::AtMost(50), 16, u64::MAX).is_err());
        assert_eq!(fit(&RgbImage::new(10, 12), Sizing::Exact(64), 16, u64::MAX).unwrap().dimensions(), (53, 64));
        // Upscaling past the pixel limit is refused before a pixel is allocated.
        let e = fit(&RgbImage::new(640, 480), Sizing::Exact(20_000), 16, 64_000_000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "640x480 would be resized to 20000x15000 = 300 megapixels, over the limit of 64 megapixels"
        );
    }

    #[test]
    fn resize_preserves_a_flat_colour() {
        let img = RgbImage::from_pixel(64, 48, Rgb([200, 100, 30]));
        let small = resize_to_max_side(&img, 16, false);
        assert!(small.pixels().all(|p| p.0 == [200, 100, 30]));
    }
}
