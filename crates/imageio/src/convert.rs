//! Pure helpers for the model code: aspect-preserving resizes and CHW `f32` buffers.
//! No tensor library here on purpose, so this crate builds without libtorch.

use image::imageops::{self, FilterType};
use image::{ImageBuffer, Pixel, RgbImage};

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

/// RGB image -> planar CHW `f32` in `0.0..=1.0`. Returns `(data, height, width)`;
/// `data.len() == 3 * height * width`, channel planes R, G, B.
pub fn to_chw_f32(img: &RgbImage) -> (Vec<f32>, usize, usize) {
    let (w, h) = img.dimensions();
    let (w, h) = (w as usize, h as usize);
    let plane = w * h;
    let mut out = vec![0.0f32; 3 * plane];
    for (i, px) in img.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = f32::from(px.0[c]) / 255.0;
        }
    }
    (out, h, w)
}

/// Planar CHW `f32` (nominally `0.0..=1.0`) -> RGB image. Values are clamped to
/// `0..=1` and rounded to the nearest 8-bit level; NaN becomes 0.
///
/// # Panics
/// If `data.len() != 3 * h * w` or a side exceeds `u32::MAX`: that is a bug in the
/// caller's tensor shapes, not bad input.
pub fn from_chw_f32(data: &[f32], h: usize, w: usize) -> RgbImage {
    let plane = h.checked_mul(w).expect("image size overflows usize");
    assert_eq!(
        data.len(),
        3 * plane,
        "from_chw_f32: {} values for a 3x{h}x{w} image",
        data.len()
    );
    let to_u8 = |v: f32| -> u8 {
        if v.is_nan() {
            0
        } else {
            (v.clamp(0.0, 1.0) * 255.0).round() as u8
        }
    };
    let w32 = u32::try_from(w).expect("width exceeds u32");
    let h32 = u32::try_from(h).expect("height exceeds u32");
    let mut img = RgbImage::new(w32, h32);
    for (i, px) in img.pixels_mut().enumerate() {
        px.0 = [
            to_u8(data[i]),
            to_u8(data[plane + i]),
            to_u8(data[2 * plane + i]),
        ];
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Rgb};

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

    #[test]
    fn chw_layout_and_round_trip() {
        let mut img = RgbImage::new(3, 2);
        for (x, y, p) in img.enumerate_pixels_mut() {
            *p = Rgb([(x * 10 + y) as u8, 100 + x as u8, 255 - y as u8]);
        }
        let (data, h, w) = to_chw_f32(&img);
        assert_eq!((h, w, data.len()), (2, 3, 18));
        // R plane first, row-major: pixel (x=2, y=1) is index 1*3+2 = 5.
        assert_eq!(data[5], 21.0 / 255.0);
        assert_eq!(data[6 + 5], 102.0 / 255.0);
        assert_eq!(data[12 + 5], 254.0 / 255.0);
        assert!(data.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(from_chw_f32(&data, h, w), img);
    }

    #[test]
    fn from_chw_clamps_and_rounds() {
        let data = [-0.5, 1.7, f32::NAN, 0.5, 0.502, 1.0 / 255.0 * 0.49];
        // 3 channels x 1 row x 2 columns: R = [-0.5, 1.7], G = [NaN, 0.5], B = [0.502, tiny].
        let img = from_chw_f32(&data, 1, 2);
        assert_eq!(img.get_pixel(0, 0).0, [0, 0, 128]);
        assert_eq!(img.get_pixel(1, 0).0, [255, 128, 0]);
    }

    #[test]
    #[should_panic(expected = "from_chw_f32")]
    fn from_chw_rejects_wrong_length() {
        from_chw_f32(&[0.0; 5], 1, 2);
    }
}
