//! One interface for every kind of trained generator, so the pipeline, tiling, the server and
//! eval never branch on the kind: [`StyleNetwork`], made by [`crate::load_network`] from a
//! model folder.
//!
//! - [`VggNetwork`]: the VGG16 model (frozen ImageNet VGG16 to relu4_1, AdaIN, trained decoder).
//! - [`FastNetwork`]: the fast generator distilled from it (no VGG16 at inference).

use tch::{nn, Device, Tensor};

use crate::fast::FastNet;
use crate::model_dir::ModelKind;
use crate::semantic::{Regions, SemanticConfig, SemanticStyle};
use crate::tiling::{stylize_tiled, stylize_tiled_fast, stylize_tiled_semantic, stylize_tiled_semantic_fast, Rgb8, SemanticRequest, TileConfig, fast_halo};
use crate::{Generator, StyleCode, Vgg16};

pub trait StyleNetwork {
    fn kind(&self) -> ModelKind;

    fn device(&self) -> Device;

    /// A painting's style in this network's terms: (1,3,H,W) RGB in 0..1.
    fn style_code(&self, rgb: &Tensor) -> StyleCode;

    /// Photo (N,3,H,W in 0..1, any size) to its stylization (same size, 0..1), no gradients.
    /// `strength` 0 gives the photo back through the network, 1 the full style.
    fn stylize(&self, rgb: &Tensor, style: &StyleCode, strength: f64) -> Tensor;

    /// The same as `stylize` on a large HWC RGB image, tile by tile in bounded memory, with
    /// the whole image's statistics (equal to `stylize` up to float rounding). `tile` is the
    /// core side in pixels (a multiple of 8); `progress(done, total)` counts tile passes.
    fn stylize_tiled(&self, photo: Rgb8, style: &StyleCode, strength: f64, tile: u32, progress: &mut dyn FnMut(usize, usize)) -> Vec<u8>;

    /// A painting (1,3,H,W in 0..1) prepared for semantic transfer ([`crate::semantic`]), or
    /// `None` for a kind that has no semantic mode.
    fn semantic_style(&self, _painting: &Tensor) -> Option<SemanticStyle> {
        None
    }

    /// `stylize` with semantic transfer: regions of the photo take the statistics of the
    /// painting's matching regions, found by clustering or given as `regions`. Kinds without a
    /// semantic mode make no `SemanticStyle`; given one, they paint with its global code.
    fn stylize_semantic(&self, rgb: &Tensor, style: &SemanticStyle, _cfg: &SemanticConfig, strength: f64, _regions: Option<&Regions>) -> Tensor {
        self.stylize(rgb, &style.code, strength)
    }

    /// `stylize_semantic` on a large HWC RGB image in tiles, as `stylize_tiled` does for
    /// `stylize`; `None` for a kind without a semantic mode.
    fn stylize_tiled_semantic(&self, _photo: Rgb8, _request: SemanticRequest, _strength: f64, _tile: u32, _progress: &mut dyn FnMut(usize, usize)) -> Option<Vec<u8>> {
        None
    }
}

/// The VGG16 model: VGG16 encoder, AdaIN and the trained decoder.
pub struct VggNetwork {
    pub generator: Generator,
    pub vgg: Vgg16,
}

impl StyleNetwork for VggNetwork {
    fn kind(&self) -> ModelKind {
        ModelKind::Vgg
    }

    fn device(&self) -> Device {
        self.generator.vs.device()
    }

    fn style_code(&self, rgb: &Tensor) -> StyleCode {
        StyleCode::from_images(&self.vgg, rgb)
    }

    fn stylize(&self, rgb: &Tensor, style: &StyleCode, strength: f64) -> Tensor {
        self.generator.stylize(&self.vgg, rgb, style, strength)
    }

    fn stylize_tiled(&self, photo: Rgb8, style: &StyleCode, strength: f64, tile: u32, progress: &mut dyn FnMut(usize, usize)) -> Vec<u8> {
        let cfg = TileConfig { tile, ..Default::default() };
        stylize_tiled(&self.generator, &self.vgg, photo, style, strength, &cfg, progress)
    }

    fn semantic_style(&self, painting: &Tensor) -> Option<SemanticStyle> {
        Some(Generator::semantic_style(&self.vgg, painting))
    }

    fn stylize_semantic(&self, rgb: &Tensor, style: &SemanticStyle, cfg: &SemanticConfig, strength: f64, regions: Option<&Regions>) -> Tensor {
        self.generator.stylize_semantic(&self.vgg, rgb, style, cfg, strength, regions)
    }

    fn stylize_tiled_semantic(&self, photo: Rgb8, request: SemanticRequest, strength: f64, tile: u32, progress: &mut dyn FnMut(usize, usize)) -> Option<Vec<u8>> {
        let tiles = TileConfig { tile, ..Default::default() };
        Some(stylize_tiled_semantic(&self.generator, &self.vgg, photo, request, strength, &tiles, progress))
    }
}

/// The fast generator.
pub struct FastNetwork {
    pub vs: nn::VarStore,
    pub net: FastNet,
}

impl StyleNetwork for FastNetwork {
    fn kind(&self) -> ModelKind {
        ModelKind::Fast
    }

    fn device(&self) -> Device {
        self.vs.device()
    }

    fn style_code(&self, rgb: &Tensor) -> StyleCode {
        tch::no_grad(|| self.net.style_code(&crate::fast::channels_last(rgb)))
    }

    fn stylize(&self, rgb: &Tensor, style: &StyleCode, strength: f64) -> Tensor {
        self.net.stylize(rgb, style, strength)
    }

    fn semantic_style(&self, painting: &Tensor) -> Option<SemanticStyle> {
        Some(self.net.semantic_style(painting))
    }

    fn stylize_semantic(&self, rgb: &Tensor, style: &SemanticStyle, cfg: &SemanticConfig, strength: f64, regions: Option<&Regions>) -> Tensor {
        self.net.stylize_semantic(rgb, style, cfg, strength, regions)
    }

    fn stylize_tiled_semantic(&self, photo: Rgb8, request: SemanticRequest, strength: f64, tile: u32, progress: &mut dyn FnMut(usize, usize)) -> Option<Vec<u8>> {
        let tiles = TileConfig { tile, halo: fast_halo(&self.net.cfg), ..Default::default() };
        Some(stylize_tiled_semantic_fast(&self.net, self.device(), photo, request, strength, &tiles, progress))
    }

    fn stylize_tiled(&self, photo: Rgb8, style: &StyleCode, strength: f64, tile: u32, progress: &mut dyn FnMut(usize, usize)) -> Vec<u8> {
        let cfg = TileConfig { tile, halo: fast_halo(&self.net.cfg), ..Default::default() };
        stylize_tiled_fast(&self.net, self.device(), photo, style, strength, &cfg, progress)
    }
}
