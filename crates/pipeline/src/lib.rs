//! One photo in, one stylized image out: the per-image work that `stylize run` and
//! `stylize serve` share. Loading (weights, files, uploads) stays with the callers; this crate
//! sizes images (and checks the size after the last resize), runs the network (whole or in
//! tiles) and applies colour preservation. No call here panics on an image a user gave.

mod guard;

use stylize_io::RgbImage;
use stylize_model::convert::{rgb8_to_tensor, tensor_to_rgb8};
use stylize_model::optimize::{optimize, style_grams, OptimizeConfig};
use stylize_model::semantic::{Regions, SemanticConfig, SemanticStyle};
use stylize_model::tiling::{Rgb8, SemanticRequest};
use stylize_model::{with_precision, Precision, StyleCode, StyleNetwork, Vgg16};
pub use stylize_io::{SizeError, Sizing};
use tch::{Device, Tensor};

/// VGG16 pools three times and its convolutions need a few pixels: smaller images are refused.
pub const MIN_SIDE: u32 = 16;

/// The largest image the networks are given after sizing (as the loader's default input limit).
pub const MAX_PIXELS: u64 = stylize_io::DEFAULT_MAX_PIXELS;

/// Sizes a photo or a painting for the networks and checks the result: every image goes
/// through here, after its last resize, before any network sees it.
pub fn fit(img: &RgbImage, sizing: Sizing) -> Result<RgbImage, SizeError> {
    stylize_io::fit(img, sizing, MIN_SIDE, MAX_PIXELS)
}

/// Why an image could not be stylized.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Size(#[from] SizeError),
    /// libtorch refused the computation (a bug, or memory): the first line of its message.
    #[error("the network failed: {0}")]
    Network(String),
    /// A combination of settings this method or model cannot do (a user's choice, not a bug).
    #[error("{0}")]
    Unsupported(String),
}

/// An image already sized must still fit (no resize happens here).
fn check(img: &RgbImage) -> Result<(), SizeError> {
    stylize_io::check_size(img.dimensions(), img.dimensions(), MIN_SIDE, MAX_PIXELS)
}

/// What runs the pixels: a trained generator of any kind, or Gatys optimisation (no model,
/// VGG16 only).
pub enum Method {
    Model(Box<dyn StyleNetwork>),
    Optimize { vgg: Vgg16, steps: usize },
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
    /// Semantic transfer from one painting: its regions are matched to each photo's, so its
    /// features are kept, not only its statistics. With `regions`, a person's label images
    /// say which region of the photo takes which region of the painting.
    Semantic { style: SemanticStyle, cfg: SemanticConfig, regions: Option<RegionLabels> },
}

/// Paired label images for semantic transfer: colour i of the photo's (darkest first) takes
/// the style of colour i of the painting's. Each has its image's aspect ratio.
pub struct RegionLabels {
    pub photo: (String, RgbImage),
    pub painting: (String, RgbImage),
}

impl RegionLabels {
    /// The regions as masks (each (1,k,H,W) in 0..1) for a photo of `photo_size`, on its 1/8
    /// grid, and a painting of `painting_size`; the two images must have the same number of
    /// colours.
    fn regions(&self, (w, h): (u32, u32), painting_size: (u32, u32), device: Device) -> Result<Regions, PipelineError> {
        let k = stylize_io::mask::label_colours(&self.painting.1).len();
        let masks = |(path, img): &(String, RgbImage), photo, size: (u32, u32)| -> Result<Tensor, PipelineError> {
            let masks = stylize_io::mask::label_masks(img, path, k, photo, size, 0.0).map_err(|e| PipelineError::Unsupported(e.to_string()))?;
            let planes: Vec<Tensor> = masks.iter().map(|m| Tensor::from_slice(m.as_raw()).view([1, 1, size.1 as i64, size.0 as i64])).collect();
            Ok((Tensor::cat(&planes, 1).to_kind(tch::Kind::Float) / 255.0).to_device(device))
        };
        Ok(Regions { photo: masks(&self.photo, (w, h), (w.div_ceil(8), h.div_ceil(8)))?, painting: masks(&self.painting, painting_size, painting_size)? })
    }
}

/// The loaded networks. Not `Sync` (tch tensors are not): a server gives each worker its own.
pub struct Stylizer {
    method: Method,
    device: Device,
    /// The model's own paintings' codes (a fine-tune's collection), if it has them.
    collection: Vec<StyleCode>,
}

impl Stylizer {
    pub fn new(method: Method, device: Device) -> Self {
        Stylizer { method, device, collection: Vec::new() }
    }

    /// The same, with the model's collection (`model_dir::load_collection`), which
    /// [`Stylizer::collection_style`] mixes.
    pub fn with_collection(self, codes: Vec<StyleCode>) -> Self {
        Stylizer { collection: codes, ..self }
    }

    /// Paintings in the model's collection (0: none).
    pub fn collection_len(&self) -> usize {
        self.collection.len()
    }

    /// The style of one or several paintings, mixed by `weights` (one per painting, not all 0).
    /// Each painting is already sized by [`fit`] (its longer side sets the brush-stroke scale).
    pub fn style(&self, paintings: &[&RgbImage], weights: &[f64], precision: Precision) -> Result<Style, PipelineError> {
        if paintings.is_empty() || paintings.len() != weights.len() {
            return Err(PipelineError::Network(format!("{} paintings for {} weights", paintings.len(), weights.len())));
        }
        for p in paintings {
            check(p)?;
        }
        guard::guarded(|| {
            let tensors: Vec<Tensor> = paintings.iter().map(|p| self.tensor(p)).collect();
            with_precision(precision, || match &self.method {
                Method::Model(net) => {
                    let codes: Vec<StyleCode> = tensors.iter().map(|t| net.style_code(t)).collect();
                    Style::Code(StyleCode::mix(&codes.iter().collect::<Vec<_>>(), weights))
                }
                Method::Optimize { vgg, .. } => Style::Grams(style_grams(vgg, &tensors, weights)),
            })
        })
    }

    /// A painting (sized by [`fit`]) for semantic transfer: each photo's regions take the
    /// statistics of the painting's matching regions (`cfg.clusters` of them).
    pub fn semantic_style(&self, painting: &RgbImage, cfg: SemanticConfig, regions: Option<RegionLabels>) -> Result<Style, PipelineError> {
        check(painting)?;
        match &self.method {
            Method::Model(net) => match guard::guarded(|| net.semantic_style(&self.tensor(painting)))? {
                Some(style) => Ok(Style::Semantic { style, cfg, regions }),
                None => Err(PipelineError::Unsupported(format!("the {} kind has no semantic mode", net.kind()))),
            },
            Method::Optimize { .. } => Err(PipelineError::Unsupported("semantic transfer is for the trained model, not --method optimize".into())),
        }
    }

    /// The model's collection (its paintings' codes, in its own terms) mixed by `weights`,
    /// one per painting.
    pub fn collection_style(&self, weights: &[f64]) -> Result<Style, PipelineError> {
        let codes = &self.collection;
        match &self.method {
            Method::Model(_) if !codes.is_empty() && codes.len() == weights.len() && weights.iter().sum::<f64>() > 0.0 => {
                Ok(Style::Code(StyleCode::mix(&codes.iter().collect::<Vec<_>>(), weights)))
            }
            _ => Err(PipelineError::Network(format!("a collection of {} paintings for {} weights, or not a model", codes.len(), weights.len()))),
        }
    }

    /// Stylizes a photo already sized by [`fit`]; the result has the photo's size.
    /// `progress(done, total)` reports tile passes or optimisation steps.
    pub fn stylize(&self, photo: &RgbImage, style: &Style, opts: &Options, progress: &mut dyn FnMut(usize, usize)) -> Result<RgbImage, PipelineError> {
        check(photo)?;
        let out = guard::guarded(|| with_precision(opts.precision, || self.run(photo, style, opts, progress)))??;
        Ok(if opts.preserve_colour { stylize_io::preserve_colour(&out, photo) } else { out })
    }

    fn run(&self, photo: &RgbImage, style: &Style, opts: &Options, progress: &mut dyn FnMut(usize, usize)) -> Result<RgbImage, PipelineError> {
        let (w, h) = photo.dimensions();
        Ok(match (&self.method, style) {
            (Method::Model(net), Style::Code(code)) => {
                if needs_tiles(w, h, opts.tile) {
                    let px = net.stylize_tiled(Rgb8 { pixels: photo.as_raw(), width: w, height: h }, code, opts.strength, opts.tile, progress);
                    RgbImage::from_raw(w, h, px).expect("tiling returns the input's size")
                } else {
                    to_image(&net.stylize(&self.tensor(photo), code, opts.strength))
                }
            }
            (Method::Model(net), Style::Semantic { style, cfg, regions }) => {
                let regions = match regions {
                    // The painting's masks at the size its features were made at.
                    Some(r) => Some(r.regions((w, h), (style.size.1 as u32, style.size.0 as u32), self.device)?),
                    None => None,
                };
                if needs_tiles(w, h, opts.tile) {
                    let request = SemanticRequest { style, cfg, regions: regions.as_ref() };
                    let px = net.stylize_tiled_semantic(Rgb8 { pixels: photo.as_raw(), width: w, height: h }, request, opts.strength, opts.tile, progress);
                    let px = px.ok_or_else(|| PipelineError::Unsupported(format!("the {} kind has no semantic mode", net.kind())))?;
                    return Ok(RgbImage::from_raw(w, h, px).expect("tiling returns the input's size"));
                }
                to_image(&net.stylize_semantic(&self.tensor(photo), style, cfg, opts.strength, regions.as_ref()))
            }
            (Method::Optimize { vgg, steps }, Style::Grams(grams)) => {
                let cfg = OptimizeConfig { steps: *steps, ..Default::default() };
                to_image(&optimize(vgg, &self.tensor(photo), grams, opts.strength, &cfg, &mut |s, _| progress(s, *steps)))
            }
            _ => return Err(PipelineError::Network("the style was made for the other method".into())),
        })
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
    fn images_under_16_px_are_refused() {
        assert!(check(&RgbImage::new(16, 16)).is_ok());
        assert_eq!(check(&RgbImage::new(100, 15)).unwrap_err().to_string(), "100x15 is too small (at least 16x16)");
        assert!(fit(&RgbImage::new(2000, 20), Sizing::Exact(512)).is_err(), "512x5 after the resize");
    }

    #[test]
    fn tiles_only_beyond_twice_the_tile() {
        assert!(!needs_tiles(1024, 768, 512));
        assert!(needs_tiles(1025, 768, 512));
        assert!(!needs_tiles(10_000, 10_000, 0));
    }
}
