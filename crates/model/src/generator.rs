//! The generator: frozen VGG16 encoder to relu4_1 (the photo's high-level, semantic content),
//! AdaIN with a style's statistics at that bottleneck, and the trained decoder back to pixels.
//! Any painting works without retraining: a style is only its statistics.

use std::path::Path;

use tch::{nn, Device, Tensor};

use crate::adain::{adain, blend};
use crate::style::STYLE_TAPS;
use crate::{Decoder, DecoderConfig, ModelError, StyleCode, Vgg16};

pub struct Generator {
    pub vs: nn::VarStore,
    pub decoder: Decoder,
    pub cfg: DecoderConfig,
}

impl Generator {
    pub fn new(device: Device, cfg: DecoderConfig) -> Self {
        let vs = nn::VarStore::new(device);
        let decoder = Decoder::new(vs.root() / "decoder", &cfg);
        Self { vs, decoder, cfg }
    }

    /// Loads decoder weights saved by `save` (safetensors).
    pub fn load(weights: &Path, cfg: DecoderConfig, device: Device) -> Result<Self, ModelError> {
        let mut g = Self::new(device, cfg);
        g.vs.load(weights).map_err(|e| ModelError::BadWeights { path: weights.to_path_buf(), reason: e.to_string() })?;
        Ok(g)
    }

    pub fn save(&self, weights: &Path) -> Result<(), ModelError> {
        self.vs.save(weights).map_err(ModelError::from)
    }

    /// The photo's relu4_1 features and its own statistics at the style layers (one VGG pass).
    pub fn encode(vgg: &Vgg16, rgb: &Tensor) -> (Tensor, StyleCode) {
        let feats = vgg.features(rgb, &STYLE_TAPS);
        let code = StyleCode::from_features(&feats);
        (feats[3].to_kind(tch::Kind::Float), code)
    }

    /// The decoder's input: AdaIN of the content features with the style's relu4_1 statistics,
    /// blended with the content's own features by `strength` (0 = the photo, 1 = full style).
    pub fn target(content: &Tensor, style: &StyleCode, strength: f64) -> Tensor {
        let (mean, std) = style.bottleneck();
        blend(content, &adain(content, mean, std), strength)
    }

    /// Decodes a target; `stats` are the statistics the decoder's stages take (see Decoder).
    pub fn decode(&self, target: &Tensor, stats: &StyleCode) -> Tensor {
        self.decoder.forward(target, stats)
    }

    /// Photo (N,3,H,W, RGB 0..1) to stylized image of the same size, clamped to 0..1, without
    /// gradients. The photo is reflection-padded to a multiple of 8 (VGG pools three times)
    /// and the result cropped back.
    pub fn stylize(&self, vgg: &Vgg16, rgb: &Tensor, style: &StyleCode, strength: f64) -> Tensor {
        tch::no_grad(|| {
            let (h, w) = (rgb.size()[2], rgb.size()[3]);
            let (ph, pw) = ((8 - h % 8) % 8, (8 - w % 8) % 8);
            let x = if ph + pw > 0 { rgb.reflection_pad2d([0, pw, 0, ph]) } else { rgb.shallow_clone() };
            let (content, own) = Self::encode(vgg, &x);
            let t = Self::target(&content, style, strength);
            self.decode(&t, &StyleCode::blend(&own, style, strength)).to_kind(tch::Kind::Float).narrow(2, 0, h).narrow(3, 0, w).clamp(0.0, 1.0)
        })
    }
}
