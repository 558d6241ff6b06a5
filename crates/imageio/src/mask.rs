//! Masks: where a result is stylized. A mask is any image; its luma is the stylized result's
//! share at each pixel (white: stylized, black: the photo, grey: in between). It is resized
//! to the result, then feathered (Gaussian blur) so the edge between the two does not show.
//!
//! A label image says which painting goes where: each of its colours is one region, and the
//! results for the regions' paintings are composed with feathered masks ([`label_masks`],
//! [`compose`]).

use image::imageops::{self, FilterType};
use image::{GrayImage, Luma, RgbImage};

use crate::ImageError;

/// Largest relative difference between the mask's and the photo's aspect ratios (a mask
/// exported at a rounded size is still the photo's mask; a different crop is not).
pub const MAX_ASPECT_DIFFERENCE: f64 = 0.02;

/// The feather (Gaussian sigma, pixels) when none is given: a soft edge that does not show at
/// 512-1024 px, narrow enough to keep a mask's shape.
pub const DEFAULT_FEATHER: f32 = 4.0;

/// `mask` (as read, RGB) as a mask for a result of `size`: its luma, resized to that size and
/// feathered with a Gaussian of `sigma` pixels. `path` names the file in the error.
pub fn fit_mask(mask: &RgbImage, path: &str, size: (u32, u32), sigma: f32) -> Result<GrayImage, ImageError> {
    let (mw, mh) = mask.dimensions();
    let luma = GrayImage::from_fn(mw, mh, |x, y| {
        let [r, g, b] = mask.get_pixel(x, y).0.map(f32::from);
        Luma([(0.299 * r + 0.587 * g + 0.114 * b).round().clamp(0.0, 255.0) as u8])
    });
    fit_gray(&luma, path, size, size, sigma)
}

/// A grey mask resized to `size` and feathered, if its aspect ratio is that of the photo (of
/// `photo` pixels; `size` may be smaller, as a grid over it).
fn fit_gray(mask: &GrayImage, path: &str, photo: (u32, u32), size: (u32, u32), sigma: f32) -> Result<GrayImage, ImageError> {
    let (mw, mh) = mask.dimensions();
    let ratio = (mw as f64 / mh as f64) / (photo.0 as f64 / photo.1 as f64);
    if (ratio - 1.0).abs() > MAX_ASPECT_DIFFERENCE {
        return Err(ImageError::MaskShape { path: path.to_string(), mask: (mw, mh), photo });
    }
    let (w, h) = size;
    let sized = if (mw, mh) == size { mask.clone() } else { imageops::resize(mask, w, h, FilterType::Triangle) };
    Ok(feather(&sized, sigma))
}

/// The most regions a label image may have (a JPEG's compression noise makes hundreds).
pub const MAX_LABELS: usize = 8;

/// A label image's distinct colours, darkest (luma, then RGB) first: region i is colour i.
pub fn label_colours(labels: &RgbImage) -> Vec<[u8; 3]> {
    let mut colours: Vec<[u8; 3]> = Vec::new();
    for p in labels.pixels() {
        if !colours.contains(&p.0) {
            colours.push(p.0);
            if colours.len() > MAX_LABELS {
                break;
            }
        }
    }
    let luma = |c: &[u8; 3]| 299 * u32::from(c[0]) + 587 * u32::from(c[1]) + 114 * u32::from(c[2]);
    colours.sort_by_key(|c| (luma(c), *c));
    colours
}

/// One feathered mask per region of a label image (region i: [`label_colours`]' colour i),
/// for a photo of `photo` pixels, made at `size` (the photo's, for [`compose`], or a grid
/// over it). `regions` is how many the caller has paintings for: a label image with another
/// number of colours is refused, naming both.
pub fn label_masks(labels: &RgbImage, path: &str, regions: usize, photo: (u32, u32), size: (u32, u32), sigma: f32) -> Result<Vec<GrayImage>, ImageError> {
    let colours = label_colours(labels);
    if colours.len() > MAX_LABELS {
        let detail = format!("more than {MAX_LABELS} colours in a label image (a JPEG's compression makes new ones: save labels as PNG)");
        return Err(ImageError::Read { path: path.to_string(), detail });
    }
    if colours.len() != regions {
        let paintings = if regions == 1 { "painting" } else { "paintings" };
        let detail = format!("the label image has {} colours for {regions} {paintings}: one painting per colour, darkest colour first", colours.len());
        return Err(ImageError::Read { path: path.to_string(), detail });
    }
    let (w, h) = labels.dimensions();
    colours
        .iter()
        .map(|c| fit_gray(&GrayImage::from_fn(w, h, |x, y| Luma([if labels.get_pixel(x, y).0 == *c { 255 } else { 0 }])), path, photo, size, sigma))
        .collect()
}

/// `results[i]` where `masks[i]` is, mixed where masks overlap (weights normalised per pixel);
/// all the same size. Where one mask is 255 and the others 0, the pixel is that result's.
pub fn compose(results: &[&RgbImage], masks: &[GrayImage]) -> RgbImage {
    assert!(!results.is_empty() && results.len() == masks.len(), "one mask per result");
    let (w, h) = results[0].dimensions();
    RgbImage::from_fn(w, h, |x, y| {
        let weights: Vec<f32> = masks.iter().map(|m| f32::from(m.get_pixel(x, y).0[0])).collect();
        let total: f32 = weights.iter().sum();
        if total <= 0.0 {
            return *results[0].get_pixel(x, y);
        }
        let mut px = [0f32; 3];
        for (r, wgt) in results.iter().zip(&weights) {
            for (c, v) in px.iter_mut().zip(r.get_pixel(x, y).0) {
                *c += wgt / total * f32::from(v);
            }
        }
        image::Rgb(px.map(|v| v.round().clamp(0.0, 255.0) as u8))
    })
}

/// Gaussian blur of `sigma` pixels (0: unchanged), edges extended: a uniform mask stays
/// uniform, so an all-white mask gives exactly the stylized result.
pub fn feather(mask: &GrayImage, sigma: f32) -> GrayImage {
    if sigma <= 0.0 {
        return mask.clone();
    }
    let radius = (3.0 * sigma).ceil() as i64;
    let kernel: Vec<f32> = (-radius..=radius).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let total: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / total).collect();
    let (w, h) = mask.dimensions();
    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        let mut out = vec![0.0f32; src.len()];
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                let mut acc = 0.0;
                for (k, weight) in kernel.iter().enumerate() {
                    let d = k as i64 - radius;
                    let (sx, sy) = if horizontal { ((x + d).clamp(0, w as i64 - 1), y) } else { (x, (y + d).clamp(0, h as i64 - 1)) };
                    acc += weight * src[(sy * w as i64 + sx) as usize];
                }
                out[(y * w as i64 + x) as usize] = acc;
            }
        }
        out
    };
    let src: Vec<f32> = mask.as_raw().iter().map(|&v| f32::from(v)).collect();
    let blurred = pass(&pass(&src, true), false);
    GrayImage::from_raw(w, h, blurred.iter().map(|v| v.round().clamp(0.0, 255.0) as u8).collect()).expect("same size")
}

/// The photo where the mask is black, the stylized result where it is white, mixed between;
/// all three the same size. A pixel with mask 0 is the photo's exactly, with 255 the result's.
pub fn blend(photo: &RgbImage, stylized: &RgbImage, mask: &GrayImage) -> RgbImage {
    assert!(photo.dimensions() == stylized.dimensions() && mask.dimensions() == photo.dimensions(), "one size for photo, result and mask");
    let mut out = photo.clone();
    for ((o, s), m) in out.pixels_mut().zip(stylized.pixels()).zip(mask.pixels()) {
        let m = f32::from(m.0[0]) / 255.0;
        for c in 0..3 {
            let p = f32::from(o.0[c]);
            o.0[c] = (p + (f32::from(s.0[c]) - p) * m).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Whether the mask stylizes anything at all.
pub fn has_white(mask: &GrayImage) -> bool {
    mask.as_raw().iter().any(|&v| v > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn photo() -> RgbImage {
        RgbImage::from_fn(40, 30, |x, y| Rgb([(x * 6) as u8, (y * 8) as u8, 77]))
    }

    #[test]
    fn black_is_the_photo_and_white_the_result() {
        let (p, s) = (photo(), RgbImage::from_pixel(40, 30, Rgb([250, 10, 128])));
        for sigma in [0.0, 3.0] {
            let black = fit_mask(&RgbImage::new(40, 30), "m.png", (40, 30), sigma).unwrap();
            assert!(blend(&p, &s, &black) == p);
            let white = fit_mask(&RgbImage::from_pixel(20, 15, Rgb([255; 3])), "m.png", (40, 30), sigma).unwrap();
            assert!(blend(&p, &s, &white) == s, "a white mask at half size, feathered, is still all white");
        }
    }

    #[test]
    fn a_half_mask_splits_the_image_with_a_soft_edge() {
        let (p, s) = (photo(), RgbImage::from_pixel(40, 30, Rgb([255, 255, 255])));
        let half = RgbImage::from_fn(40, 30, |x, _| if x >= 20 { Rgb([255; 3]) } else { Rgb([0; 3]) });
        let m = fit_mask(&half, "m.png", (40, 30), 2.0).unwrap();
        let out = blend(&p, &s, &m);
        assert_eq!(out.get_pixel(0, 5), p.get_pixel(0, 5));
        assert_eq!(out.get_pixel(39, 5), s.get_pixel(39, 5));
        // At the edge, between the two.
        let (a, b, e) = (p.get_pixel(19, 5).0[1], s.get_pixel(19, 5).0[1], out.get_pixel(19, 5).0[1]);
        assert!(a < e && e < b, "{a} < {e} < {b}");
        assert!(has_white(&m) && !has_white(&GrayImage::new(4, 4)));
    }

    #[test]
    fn label_images_split_the_result_between_paintings() {
        let (a, b) = (RgbImage::from_pixel(40, 30, Rgb([200, 0, 0])), RgbImage::from_pixel(40, 30, Rgb([0, 0, 200])));
        // Left half dark (region 0), right half light (region 1), at half the size.
        let labels = RgbImage::from_fn(20, 15, |x, _| if x < 10 { Rgb([10, 20, 30]) } else { Rgb([250, 240, 230]) });
        assert_eq!(label_colours(&labels), vec![[10, 20, 30], [250, 240, 230]]);
        let masks = label_masks(&labels, "l.png", 2, (40, 30), (40, 30), 1.0).unwrap();
        let out = compose(&[&a, &b], &masks);
        assert_eq!(out.get_pixel(2, 10), a.get_pixel(2, 10));
        assert_eq!(out.get_pixel(37, 10), b.get_pixel(37, 10));
        let edge = out.get_pixel(20, 10).0;
        assert!(edge[0] > 0 && edge[2] > 0, "mixed at the edge: {edge:?}");
        // One colour and one painting is that painting's result everywhere.
        let one = label_masks(&RgbImage::from_pixel(4, 3, Rgb([9, 9, 9])), "l.png", 1, (40, 30), (40, 30), 2.0).unwrap();
        assert!(compose(&[&a], &one) == a);
        // A colour without a painting, or a noisy label image, is refused by name.
        let e = label_masks(&labels, "l.png", 3, (40, 30), (40, 30), 1.0).unwrap_err().to_string();
        assert!(e.contains("l.png") && e.contains("2 colours") && e.contains("3 paintings"), "{e}");
        let noisy = RgbImage::from_fn(20, 15, |x, y| Rgb([(x * 7 + y) as u8, 0, 0]));
        assert!(label_masks(&noisy, "l.jpg", 2, (40, 30), (40, 30), 1.0).unwrap_err().to_string().contains("PNG"));
    }

    #[test]
    fn a_mask_of_another_shape_is_refused() {
        let e = fit_mask(&RgbImage::new(40, 40), "sky.png", (40, 30), 0.0).unwrap_err().to_string();
        assert!(e.contains("sky.png") && e.contains("40x40") && e.contains("40x30") && !e.contains('\n'), "{e}");
        // 1% off (a rounded export size) is fine.
        assert!(fit_mask(&RgbImage::new(404, 300), "m.png", (40, 30), 0.0).is_ok());
    }
}
