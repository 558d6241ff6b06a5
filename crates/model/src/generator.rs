//! The generator: frozen VGG16 encoder to relu4_1 (the photo's high-level, semantic content),
//! AdaIN with a style's statistics at that bottleneck, and the trained decoder back to pixels.
//! Any painting works without retraining: a style is only its statistics.

use std::path::Path;

use tch::{nn, Device, Tensor};

use crate::adain::{adain, adain_given, blend, mean_std};
use crate::decoder::{StageNorm, SKIP_TAPS, STAGE_TAPS};
use crate::semantic::{attention_stats, cut_painting_margin, region_target, regional_adain, semantic_maps, Matching, Regions, SemanticConfig, SemanticStyle};
use crate::style::STYLE_TAPS;
use crate::{Decoder, DecoderConfig, ModelError, StyleCode, Vgg16};

/// What semantic transfer reads of an image: its features at STYLE_TAPS, then the block-5
/// context it clusters on beside relu4_1 ([`Vgg16::relu5_1_coarse`]).
fn semantic_features(vgg: &Vgg16, rgb: &Tensor) -> (Vec<Tensor>, Tensor) {
    let feats = vgg.features(rgb, &STYLE_TAPS);
    let deep = vgg.relu5_1_coarse(&feats[3]);
    (feats, deep)
}

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

    /// Loads decoder weights (safetensors, as `model_dir::save_model` writes them).
    pub fn load(weights: &Path, cfg: DecoderConfig, device: Device) -> Result<Self, ModelError> {
        let mut g = Self::new(device, cfg);
        g.vs.load(weights).map_err(|e| ModelError::BadWeights { path: weights.to_path_buf(), reason: e.to_string() })?;
        Ok(g)
    }

    /// The photo's features at the style layers (relu4_1 last: the content) and its own
    /// statistics there (one VGG pass).
    pub fn encode(vgg: &Vgg16, rgb: &Tensor) -> (Vec<Tensor>, StyleCode) {
        let feats = vgg.features(rgb, &STYLE_TAPS);
        let code = StyleCode::from_features(&feats);
        (feats, code)
    }

    /// A decoder with content skips takes the photo's features at SKIP_TAPS with the style's
    /// statistics, blended by `strength` like the relu4_1 target; other decoders take none.
    /// `own` holds the features' statistics (the whole image's, when `feats` is one tile).
    pub fn skip_targets(&self, feats: &[Tensor], own: &StyleCode, style: &StyleCode, strength: f64) -> Vec<Tensor> {
        if !self.decoder.has_skips() {
            return Vec::new();
        }
        SKIP_TAPS
            .iter()
            .map(|&l| blend(&feats[l], &adain_given(&feats[l], &own.means[l], &own.stds[l], &style.means[l], &style.stds[l]), strength))
            .collect()
    }

    /// The decoder's input: AdaIN of the content features with the style's relu4_1 statistics,
    /// blended with the content's own features by `strength` (0 = the photo, 1 = full style).
    pub fn target(content: &Tensor, style: &StyleCode, strength: f64) -> Tensor {
        let (mean, std) = style.bottleneck();
        blend(content, &adain(content, mean, std), strength)
    }

    /// Decodes a target; `stats` are the statistics the decoder's stages take and `skips` the
    /// content skips (see Decoder).
    pub fn decode(&self, target: &Tensor, stats: &StyleCode, skips: &[Tensor]) -> Tensor {
        self.decoder.forward(target, stats, skips)
    }

    /// Photo (N,3,H,W, RGB 0..1) to stylized image of the same size, clamped to 0..1, without
    /// gradients. The photo gets a reflection margin ([`edge_margin`]) and is padded to a
    /// multiple of 8 (VGG pools three times); the result is cropped back.
    pub fn stylize(&self, vgg: &Vgg16, rgb: &Tensor, style: &StyleCode, strength: f64) -> Tensor {
        tch::no_grad(|| {
            let (x, p) = Self::pad(rgb);
            let (feats, own) = Self::encode(vgg, &x);
            let target = Self::target(&feats[3], style, strength);
            let skips = self.skip_targets(&feats, &own, style, strength);
            let out = self.decode(&target, &StyleCode::blend(&own, style, strength), &skips);
            p.crop(&out.to_kind(tch::Kind::Float)).clamp(0.0, 1.0)
        })
    }

    /// A painting (1,3,H,W) for [`Generator::stylize_semantic`]: its VGG16 features computed
    /// with the photos' reflection margin, which is then cut off.
    pub fn semantic_style(vgg: &Vgg16, painting: &Tensor) -> SemanticStyle {
        tch::no_grad(|| {
            let (s, p) = Self::pad(painting);
            let (mut levels, deep) = semantic_features(vgg, &s);
            levels.push(deep);
            let mut levels = cut_painting_margin(&levels, p.margin as i64);
            let deep = levels.pop().expect("the block-5 context");
            let cluster = vec![levels[3].shallow_clone(), deep];
            SemanticStyle::new(levels, cluster, StyleCode::from_images(vgg, painting), (painting.size()[2], painting.size()[3]))
        })
    }

    /// `stylize` with semantic transfer (see [`crate::semantic`]): each region of the photo
    /// takes the statistics of the painting's matching region, in AdaIN, the content skips and
    /// the decoder's stages. One cluster is the plain `stylize`.
    /// `regions`, if given, replace the clustering: region i of the photo takes the style of
    /// region i of the painting.
    pub fn stylize_semantic(&self, vgg: &Vgg16, rgb: &Tensor, style: &SemanticStyle, cfg: &SemanticConfig, strength: f64, regions: Option<&Regions>) -> Tensor {
        // One region, found or drawn, is the whole image: the plain result.
        if cfg.clusters <= 1 {
            return self.stylize(vgg, rgb, &style.code, strength);
        }
        if let (Matching::Attention { temperature }, None) = (cfg.matching, regions) {
            return self.stylize_attention(vgg, rgb, style, temperature, strength);
        }
        tch::no_grad(|| {
            let (x, p) = Self::pad(rgb);
            let (feats, deep) = semantic_features(vgg, &x);
            let pad = |t: &Tensor| p.apply_to_grid(t);
            let maps = semantic_maps(&feats, &[&feats[3], &deep], p.margin as i64, style, cfg, regions.map(|r| (r, &pad as &dyn Fn(&Tensor) -> Tensor)));
            let styled = |l: usize| {
                let ((cm, cs), (sm, ss)) = (&maps.content[l], &maps.style[l]);
                regional_adain(&feats[l], &maps.memberships[l], (cm, cs), (sm, ss))
            };
            let target = blend(&feats[3], &styled(3), strength);
            let skips: Vec<Tensor> = if self.decoder.has_skips() { SKIP_TAPS.iter().map(|&l| blend(&feats[l], &styled(l), strength)).collect() } else { Vec::new() };
            // The decoder's stages take each region's statistics blended with the photo's own
            // by strength, as `stylize` blends the global ones.
            let own = StyleCode::from_features(&feats);
            let region_target = |l: usize| region_target(&maps.style[l], &own, l, strength);
            let out = if cfg.regional_decoder {
                let memberships: Vec<Tensor> = STAGE_TAPS.iter().map(|&l| maps.memberships[l].shallow_clone()).collect();
                let target_stats: Vec<(Tensor, Tensor)> = STAGE_TAPS.iter().map(|&l| region_target(l)).collect();
                // The stages take their targets from `Regions`; the global code beside is unread.
                let norm = StageNorm::Regions { memberships: &memberships, target: &target_stats, content: &[] };
                self.decoder.forward_with(&target, &style.code, &skips, &norm, None)
            } else {
                // Whole-image normalisation, then each position its mixture of the targets.
                let spread = |l: usize| {
                    let (m, s) = region_target(l);
                    (maps.spread(l, &m), maps.spread(l, &s))
                };
                let (means, stds) = (0..4).map(spread).unzip();
                self.decode(&target, &StyleCode { means, stds }, &skips)
            };
            p.crop(&out.to_kind(tch::Kind::Float)).clamp(0.0, 1.0)
        })
    }

    /// `stylize_semantic` by attention ([`attention_stats`]): every position takes its own
    /// statistics in AdaIN, the skips and the decoder's stages; the content is normalised with
    /// the photo's global statistics, as AdaAttN does.
    fn stylize_attention(&self, vgg: &Vgg16, rgb: &Tensor, style: &SemanticStyle, temperature: f64, strength: f64) -> Tensor {
        tch::no_grad(|| {
            let (x, p) = Self::pad(rgb);
            let (feats, deep) = semantic_features(vgg, &x);
            let stats = attention_stats(&feats, &[&feats[3], &deep], style, temperature);
            let styled = |l: usize| {
                let (cm, cs) = mean_std(&feats[l]);
                blend(&feats[l], &adain_given(&feats[l], &cm, &cs, &stats[l].0, &stats[l].1), strength)
            };
            let target = styled(3);
            let skips: Vec<Tensor> = if self.decoder.has_skips() { SKIP_TAPS.iter().map(|&l| styled(l)).collect() } else { Vec::new() };
            let own = StyleCode::from_features(&feats);
            let mixed = |s: &Tensor, o: &Tensor| s * strength + o * (1.0 - strength);
            let code = StyleCode {
                means: (0..4).map(|l| mixed(&stats[l].0, &own.means[l])).collect(),
                stds: (0..4).map(|l| mixed(&stats[l].1, &own.stds[l])).collect(),
            };
            let out = self.decode(&target, &code, &skips);
            p.crop(&out.to_kind(tch::Kind::Float)).clamp(0.0, 1.0)
        })
    }

    /// The photo as the networks see it: reflection-padded as [`Padding`] says.
    pub fn pad(rgb: &Tensor) -> (Tensor, Padding) {
        let p = Padding::new(rgb.size()[3] as u32, rgb.size()[2] as u32);
        (p.apply(rgb), p)
    }
}

/// Reflection margin around every photo: the network draws a frame at image edges (VGG's zero
/// padding gives edge features of their own); computed on a mirrored margin, that frame falls
/// outside the kept image. 32 px covers most of it (measured edge-ring contrast on a 512 px
/// photo: 1.68 without, 0.53 with) for about 30% more pixels at 512 px.
pub const EDGE_MARGIN: u32 = 32;

/// How a `width` x `height` photo is padded before the networks: `margin` on every side
/// (0 for photos under 48 px, too small to mirror it), plus reflection on the right and
/// bottom up to a multiple of 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Padding {
    pub width: u32,
    pub height: u32,
    pub margin: u32,
}

impl Padding {
    pub fn new(width: u32, height: u32) -> Self {
        let margin = if width.min(height) >= 48 { EDGE_MARGIN } else { 0 };
        Padding { width, height, margin }
    }

    /// No margin, only the rounding to a multiple of 8: for the fast generator, which learnt
    /// on crops whose borders it saw zero-padded, so it draws no frame of its own.
    pub fn to_multiple_of_8(width: u32, height: u32) -> Self {
        Padding { width, height, margin: 0 }
    }

    /// Reflection-pads a (N,C,H,W) tensor of this size.
    pub fn apply(&self, t: &Tensor) -> Tensor {
        let (m, r, b) = (self.margin as i64, self.right() as i64, self.bottom() as i64);
        if m + r + b > 0 { t.reflection_pad2d([m, r, m, b]) } else { t.shallow_clone() }
    }

    /// The padded size, a multiple of 8 on both axes.
    pub fn padded(&self) -> (u32, u32) {
        ((self.width + 2 * self.margin).div_ceil(8) * 8, (self.height + 2 * self.margin).div_ceil(8) * 8)
    }

    pub fn right(&self) -> u32 {
        self.padded().0 - self.width - self.margin
    }

    pub fn bottom(&self) -> u32 {
        self.padded().1 - self.height - self.margin
    }

    /// A map on the photo's 1/8 grid (ceil(height/8) x ceil(width/8) cells) padded as `apply`
    /// pads the photo, onto the padded photo's 1/8 grid: the margin's cells repeat the edge's.
    pub fn apply_to_grid(&self, t: &Tensor) -> Tensor {
        let m = (self.margin / 8) as i64;
        if m > 0 { t.replication_pad2d([m, m, m, m]) } else { t.shallow_clone() }
    }

    /// The photo's part of a padded (N,C,H',W') tensor.
    pub fn crop(&self, t: &Tensor) -> Tensor {
        t.narrow(2, self.margin as i64, self.height as i64).narrow(3, self.margin as i64, self.width as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_map_pads_onto_the_padded_photos_grid() {
        for (w, h) in [(640, 480), (101, 60), (40, 30)] {
            let p = Padding::new(w, h);
            let grid = Tensor::ones([1, 2, h.div_ceil(8) as i64, w.div_ceil(8) as i64], (tch::Kind::Float, tch::Device::Cpu));
            let (pw, ph) = p.padded();
            assert_eq!(p.apply_to_grid(&grid).size(), [1, 2, (ph / 8) as i64, (pw / 8) as i64], "{w}x{h}");
        }
    }

    #[test]
    fn padding_adds_the_margin_and_rounds_to_8() {
        let p = Padding::new(640, 480);
        assert_eq!((p.margin, p.padded(), p.right(), p.bottom()), (32, (704, 544), 32, 32));
        let p = Padding::new(101, 60);
        assert_eq!((p.padded(), p.right(), p.bottom()), ((168, 128), 35, 36));
        let p = Padding::new(40, 30);
        assert_eq!((p.margin, p.padded(), p.right(), p.bottom()), (0, (40, 32), 0, 2));
    }
}
