//! One photo in, one stylized image out: the per-image work that `stylize run` and
//! `stylize serve` share. Loading (weights, files, uploads) stays with the callers; this crate
//! only sizes the photo, runs the network (whole or in tiles) and applies colour preservation.

use stylize_io::RgbImage;
use stylize_model::convert::{rgb8_to_tensor, tensor_to_rgb8};
use stylize_model::optimize::{optimize, style_grams, OptimizeConfig};
use stylize_model::tiling::{stylize_tiled, TileConfig};
use stylize_model::{with_precision, Generator, Precision, StyleCode, Vgg16};
use tch::{Device, Tensor};

/// VGG16 pools three times and its convolutions need a few pixels: smaller photos are refused.
pub const MIN_SIDE: u32 = 16;

/// `None` when a photo of this size can be stylized, else why not ("WxH is too small ...").
pub fn size_problem(photo: &RgbImage) -> Option<String> {
    let (w, h) = photo.dimensions();
    (w < MIN_SIDE || h < MIN_SIDE).then(|| format!("{w}x{h} is too small (at least {MIN_SIDE}x{MIN_SIDE})"))
}

/// How the photo is sized before stylizing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sizing {
    /// The longer side becomes exactly this (up or down).
    Exact(u32),
    /// Shrink when the longer side exceeds this; 0 keeps the full resolution.
    AtMost(u32),
}

impl Sizing {
    pub fn apply(self, rgb: &RgbImage) -> RgbImage {
        match self {
            Sizing::Exact(s) => stylize_io::resize_to_max_side(rgb, s, true),
            Sizing::AtMost(0) => rgb.clone(),
            Sizing::AtMost(s) => stylize_io::resize_to_max_side(rgb, s, false),
        }
    }
}

/// What runs the pixels: the trained generator, or Gatys optimisation (no model).
pub enum Method {
    Model(Generator),
    Optimize { steps: usize },
}

/// The per-request knobs.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// 0 = the photo, 1 = full style.
    pub strength: f64,
    /// Keep the photo's chrominance (luminance-only transfer).
    pub preserve_colour: bool,
    /// Tile side for large photos (0 = never tile); tiles are used when a side exceeds 2 x tile.
    pub tile: u32,
    pub precision: Precision,
}

impl Default for Options {
    fn default() -> Self {
        Options { strength: 1.0, preserve_colour: false, tile: 512, precision: Precision::F32 }
    }
}

/// A style ready to apply: computed once per painting (or mix) and reused for every photo.
pub enum Style {
    Code(StyleCode),
    Grams(Vec<Tensor>),
}

/// The loaded networks. Not `Sync` (tch tensors are not): a server gives each worker its own.
pub struct Stylizer {
    vgg: Vgg16,
    method: Method,
    device: Device,
}

impl Stylizer {
    pub fn new(vgg: Vgg16, method: Method, device: Device) -> Self {
        Stylizer { vgg, method, device }
    }

    /// The style of one or several paintings, mixed by `weights` (one per painting, not all 0).
    /// Each painting is resized so its longer side is `side` (the brush-stroke scale).
    pub fn style(&self, paintings: &[&RgbImage], weights: &[f64], side: u32, precision: Precision) -> Style {
        assert_eq!(paintings.len(), weights.len(), "one weight per painting");
        let tensors: Vec<Tensor> =
            paintings.iter().map(|p| self.tensor(&stylize_io::resize_to_max_side(p, side.max(MIN_SIDE), true))).collect();
        with_precision(precision, || match self.method {
            Method::Model(_) => {
                let codes: Vec<StyleCode> = tensors.iter().map(|t| StyleCode::from_images(&self.vgg, t)).collect();
                Style::Code(StyleCode::mix(&codes.iter().collect::<Vec<_>>(), weights))
            }
            Method::Optimize { .. } => Style::Grams(style_grams(&self.vgg, &tensors, weights)),
        })
    }

    /// Stylizes an already sized photo (see [`Sizing`]); the result has the photo's size.
    /// `progress(done, total)` reports tile passes or optimisation steps.
    pub fn stylize(&self, photo: &RgbImage, style: &Style, opts: &Options, progress: &mut dyn FnMut(usize, usize)) -> RgbImage {
        assert!(size_problem(photo).is_none(), "callers refuse photos under {MIN_SIDE} px");
        let out = with_precision(opts.precision, || self.run(photo, style, opts, progress));
        if opts.preserve_colour {
            stylize_io::preserve_colour(&out, photo)
        } else {
            out
        }
    }

    fn run(&self, photo: &RgbImage, style: &Style, opts: &Options, progress: &mut dyn FnMut(usize, usize)) -> RgbImage {
        let (w, h) = photo.dimensions();
        match (&self.method, style) {
            (Method::Model(generator), Style::Code(code)) => {
                if needs_tiles(w, h, opts.tile) {
                    let cfg = TileConfig { tile: opts.tile, ..Default::default() };
                    let px = stylize_tiled(generator, &self.vgg, photo.as_raw(), w, h, code, opts.strength, &cfg, progress);
                    RgbImage::from_raw(w, h, px).expect("tiling returns the input's size")
                } else {
                    to_image(&generator.stylize(&self.vgg, &self.tensor(photo), code, opts.strength))
                }
            }
            (Method::Optimize { steps }, Style::Grams(grams)) => {
                let cfg = OptimizeConfig { steps: *steps, ..Default::default() };
                to_image(&optimize(&self.vgg, &self.tensor(photo), grams, opts.strength, &cfg, &mut |s, _| progress(s, *steps)))
            }
            _ => panic!("a style must come from the same Stylizer's method"),
        }
    }

    fn tensor(&self, img: &RgbImage) -> Tensor {
        rgb8_to_tensor(img.as_raw(), img.height(), img.width()).to_device(self.device)
    }
}

/// Whether a `w` x `h` photo is stylized in tiles of side `tile` (0 = never).
pub fn needs_tiles(w: u32, h: u32, tile: u32) -> bool {
    tile > 0 && (w > 2 * tile || h > 2 * tile)
}

fn to_image(t: &Tensor) -> RgbImage {
    let (px, h, w) = tensor_to_rgb8(t);
    RgbImage::from_raw(w, h, px).expect("buffer matches its size")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizing_rules() {
        let img = RgbImage::new(400, 200);
        assert_eq!(Sizing::Exact(100).apply(&img).dimensions(), (100, 50));
        assert_eq!(Sizing::Exact(800).apply(&img).dimensions(), (800, 400));
        assert_eq!(Sizing::AtMost(800).apply(&img).dimensions(), (400, 200));
        assert_eq!(Sizing::AtMost(200).apply(&img).dimensions(), (200, 100));
        assert_eq!(Sizing::AtMost(0).apply(&img).dimensions(), (400, 200));
    }

    #[test]
    fn photos_under_16_px_are_refused() {
        assert_eq!(size_problem(&RgbImage::new(16, 16)), None);
        assert_eq!(size_problem(&RgbImage::new(100, 15)).as_deref(), Some("100x15 is too small (at least 16x16)"));
    }

    #[test]
    fn tiles_only_beyond_twice_the_tile() {
        assert!(!needs_tiles(1024, 768, 512));
        assert!(needs_tiles(1025, 768, 512));
        assert!(!needs_tiles(10_000, 10_000, 0));
    }
}
