//! Colour preservation by luminance-only transfer (Gatys et al. 2017, "Controlling Perceptual
//! Factors in Neural Style Transfer"): the result keeps the stylized image's luminance (brush
//! strokes, texture, shading) and takes the photo's chrominance, so the photo's colours stay.
//! Chosen over matching the painting's colours to the photo before stylizing because it is
//! exact (hues cannot drift), costs one pass over the pixels, and leaves a style's statistics
//! computed once per style rather than once per photo.

use image::imageops::{self, FilterType};
use image::RgbImage;

/// BT.601 (JPEG) RGB -> YCbCr, values 0..255, Cb and Cr centred on 0.
fn to_ycc([r, g, b]: [f32; 3]) -> [f32; 3] {
    [0.299 * r + 0.587 * g + 0.114 * b, -0.168_736 * r - 0.331_264 * g + 0.5 * b, 0.5 * r - 0.418_688 * g - 0.081_312 * b]
}

fn to_rgb([y, cb, cr]: [f32; 3]) -> [f32; 3] {
    [y + 1.402 * cr, y - 0.344_136 * cb - 0.714_136 * cr, y + 1.772 * cb]
}

/// The stylized image's luminance with the photo's chrominance. A photo of another size is
/// resized to the stylized image's first.
pub fn preserve_colour(stylized: &RgbImage, photo: &RgbImage) -> RgbImage {
    let (w, h) = stylized.dimensions();
    let resized;
    let photo = if photo.dimensions() == (w, h) {
        photo
    } else {
        resized = imageops::resize(photo, w, h, FilterType::Triangle);
        &resized
    };
    let mut out = RgbImage::new(w, h);
    for ((o, s), p) in out.pixels_mut().zip(stylized.pixels()).zip(photo.pixels()) {
        let f = |px: &image::Rgb<u8>| px.0.map(f32::from);
        let [y, _, _] = to_ycc(f(s));
        let [_, cb, cr] = to_ycc(f(p));
        o.0 = to_rgb([y, cb, cr]).map(|v| v.round().clamp(0.0, 255.0) as u8);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_white() {
        let px = [200.0, 30.0, 90.0];
        let back = to_rgb(to_ycc(px));
        assert!(px.iter().zip(back).all(|(a, b)| (a - b).abs() < 0.01));
        let [y, cb, cr] = to_ycc([255.0; 3]);
        assert!((y - 255.0).abs() < 0.01 && cb.abs() < 0.01 && cr.abs() < 0.01);
    }

    #[test]
    fn keeps_stylized_luminance_and_photo_chroma() {
        let styl = RgbImage::from_fn(8, 8, |x, y| image::Rgb([(x * 20 + 40) as u8, (y * 20 + 50) as u8, 120]));
        let photo = RgbImage::from_fn(8, 8, |x, y| image::Rgb([150, (x * 10 + 60) as u8, (y * 15 + 70) as u8]));
        let out = preserve_colour(&styl, &photo);
        for ((o, s), p) in out.pixels().zip(styl.pixels()).zip(photo.pixels()) {
            let (o, s, p) = (to_ycc(o.0.map(f32::from)), to_ycc(s.0.map(f32::from)), to_ycc(p.0.map(f32::from)));
            // Within 8-bit rounding (mid-range values, nothing clipped).
            assert!((o[0] - s[0]).abs() < 1.0, "luminance {o:?} vs {s:?}");
            assert!((o[1] - p[1]).abs() < 1.5 && (o[2] - p[2]).abs() < 1.5, "chroma {o:?} vs {p:?}");
        }
    }
}
