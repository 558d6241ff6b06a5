//! The generator's decoder: VGG16's mirror from relu4_1 back to RGB. Nearest-neighbour
//! upsampling + 3x3 convs (no transposed convs, which leave checkerboard artifacts) and
//! reflection padding (no dark borders).
//!
//! Multi-level injection (`multilevel`): besides AdaIN at relu4_1, each decoder stage starts
//! by instance-normalising its features and giving them the target's statistics of the VGG
//! layer it mirrors (relu3_1, relu2_1, relu1_1: same channel counts). Why: trained on
//! relu4_1 alone for 1000 steps, the decoder still gave every painting the same colours (the
//! mapping from relu4_1 statistics to colour is slow to learn); shallow statistics carry
//! colour and brush texture directly.

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use crate::adain::{adain_given, mean_std};
use crate::semantic::{cluster_stats, mix, regional_adain};
use crate::init::conv2d;
use crate::losses::feature_scale;
use crate::style::{StyleCode, STYLE_TAPS};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecoderConfig {
    /// Width multiplier for the inner layers (1.0 = VGG16's mirror: 256/128/64 channels).
    pub width: f64,
    /// Inject the target statistics at every decoder stage, not only at relu4_1 (needs width 1).
    #[serde(default = "multilevel_default")]
    pub multilevel: bool,
    /// Divide the relu4_1 input by its typical activation (`feature_scale`), so the first
    /// conv sees O(1) values as in the AdaIN paper's normalised VGG, not Caffe's hundreds.
    /// Models saved before this option existed were trained without it.
    #[serde(default)]
    pub unit_input: bool,
    /// Content skips: the photo's relu3_1 and relu2_1 features, given the target statistics
    /// (AdaIN), added through a 1x1 conv after the first two stages' injection. Why: trained
    /// on relu4_1 alone the decoder keeps little of the photo's shapes (eval content distance
    /// 1.12 against Magenta's 0.74); shallower features carry them directly. The convs start
    /// at zero, so turning skips on for a trained decoder starts from exactly its output.
    #[serde(default)]
    pub skips: bool,
}

/// A `[decoder]` table that leaves `multilevel` out gets the same as `DecoderConfig::default()`.
fn multilevel_default() -> bool {
    true
}

impl Default for DecoderConfig {
    fn default() -> Self {
        Self { width: 1.0, multilevel: true, unit_input: false, skips: false }
    }
}

/// Style layer (index into STYLE_TAPS) whose statistics start each decoder stage.
pub const STAGE_TAPS: [usize; 3] = [2, 1, 0];
/// Layers (index into STYLE_TAPS) whose content features skip to the first stages: relu3_1
/// and relu2_1 (not relu1_1, which is nearly the pixels: the photo would pass straight through).
pub const SKIP_TAPS: [usize; 2] = [2, 1];

#[derive(Debug)]
/// What a multi-level decoder's stages normalise their features with before taking the
/// target statistics.
pub enum StageNorm<'a> {
    /// Each image's own statistics at the stage.
    Own,
    /// (mean, std) given for the first stages (tiling: the whole image's); the rest their own.
    Given(&'a [(Tensor, Tensor)]),
    /// Each region's own statistics under memberships (1,k,H,W) given per stage, at the
    /// stage's resolution (semantic transfer: a region is normalised as AdaIN normalises a
    /// whole image, then takes its region's target statistics).
    Regional(&'a [Tensor]),
    /// Semantic transfer, each region restyled on its own ([`regional_adain`]): at stage k,
    /// region r of the features is normalised with its own statistics (`content[k]`, (k,C),
    /// where given: tiling gives the whole image's; else measured under the memberships) and
    /// given `target[k]` (k,C), and each position mixes the regions' results by its
    /// memberships (`memberships[k]`, (1,k,H,W) at the stage's resolution). The decoder's
    /// `stats` are not read at these stages. (The VGG16 model's semantic transfer; the fast
    /// kind still normalises with mixed statistics, `Regional`.)
    Regions { memberships: &'a [Tensor], target: &'a [(Tensor, Tensor)], content: &'a [(Tensor, Tensor)] },
}

impl StageNorm<'_> {
    /// The (mean, std) that stage `stage` normalises its features `x` with; `own` measures a
    /// whole image's.
    pub fn at(&self, stage: usize, x: &Tensor, own: impl Fn(&Tensor) -> (Tensor, Tensor)) -> (Tensor, Tensor) {
        match self {
            StageNorm::Given(norms) if stage < norms.len() => (norms[stage].0.shallow_clone(), norms[stage].1.shallow_clone()),
            StageNorm::Regional(memberships) => mixed_region_stats(x, &memberships[stage], None),
            // For a decoder that only normalises: the regions' statistics mixed per position.
            StageNorm::Regions { memberships, content, .. } => mixed_region_stats(x, &memberships[stage], content.get(stage)),
            _ => own(x),
        }
    }

    /// Stage `stage`'s features `x` restyled region by region, for `Regions` (targets divided
    /// by `unit`, the stage's typical activation); None for the other kinds, which normalise
    /// with [`StageNorm::at`] and take the decoder's own targets.
    pub fn restyle_regions(&self, stage: usize, x: &Tensor, unit: f64) -> Option<Tensor> {
        let StageNorm::Regions { memberships, target, content } = self else { return None };
        let m = &memberships[stage];
        let (cm, cs) = region_stats(x, m, content.get(stage));
        let (tm, ts) = &target[stage];
        Some(regional_adain(x, m, (&cm, &cs), (&(tm / unit), &(ts / unit))))
    }
}

/// [`region_stats`] as per-position maps: each position's mixture of its regions' (mean, std).
fn mixed_region_stats(x: &Tensor, m: &Tensor, given: Option<&(Tensor, Tensor)>) -> (Tensor, Tensor) {
    let (cm, cs) = region_stats(x, m, given);
    (mix(m, &cm), mix(m, &cs))
}

/// Each region's (mean, std) of `x` under memberships `m`: `given` (the whole image's, for a
/// tile), else measured.
fn region_stats(x: &Tensor, m: &Tensor, given: Option<&(Tensor, Tensor)>) -> (Tensor, Tensor) {
    match given {
        Some((cm, cs)) => (cm.shallow_clone(), cs.shallow_clone()),
        None => {
            let (cm, cs, _) = cluster_stats(x, m);
            (cm, cs)
        }
    }
}

pub struct Decoder {
    layers: Vec<(nn::Conv2D, bool /* upsample after */)>,
    /// 1x1 convs, one per SKIP_TAPS entry (empty without skips).
    skips: Vec<nn::Conv2D>,
    multilevel: bool,
    unit_input: bool,
}

impl Decoder {
    pub fn new(vs: nn::Path, cfg: &DecoderConfig) -> Self {
        let w = |c: i64| ((c as f64 * cfg.width).round() as i64).max(8);
        let (c3, c2, c1) = (w(256), w(128), w(64));
        // (in, out, upsample after): relu4_1 (512ch, 1/8 scale) up to RGB.
        let plan = [(512, c3, true), (c3, c3, false), (c3, c3, false), (c3, c2, true), (c2, c2, false), (c2, c1, true), (c1, c1, false), (c1, 3, false)];
        let layers = plan
            .iter()
            .enumerate()
            .map(|(i, &(cin, cout, up))| (conv2d(&vs / format!("conv{i}"), cin, cout, 3, 1), up))
            .collect();
        assert!(!cfg.multilevel || cfg.width == 1.0, "multi-level injection needs decoder width 1");
        assert!(!cfg.skips || cfg.multilevel, "content skips need the multi-level decoder");
        let zero = nn::ConvConfig { ws_init: nn::Init::Const(0.0), bs_init: nn::Init::Const(0.0), ..Default::default() };
        let skips = if cfg.skips {
            SKIP_TAPS.iter().enumerate().map(|(k, &l)| nn::conv2d(&vs / format!("skip{k}"), STYLE_TAPS[l].channels(), STYLE_TAPS[l].channels(), 1, zero)).collect()
        } else {
            Vec::new()
        };
        Self { layers, skips, multilevel: cfg.multilevel, unit_input: cfg.unit_input }
    }

    /// Features (N,512,h,w) to an image (N,3,8h,8w), nominally RGB 0..1 (not clamped: the
    /// losses see the raw output; callers clamp for display). `stats` are the target
    /// statistics at STYLE_TAPS, used by a multi-level decoder and ignored otherwise; `skips`
    /// the content features at SKIP_TAPS with those statistics, used when `has_skips`.
    pub fn forward(&self, feat: &Tensor, stats: &StyleCode, skips: &[Tensor]) -> Tensor {
        self.forward_with(feat, stats, skips, &StageNorm::Own, None)
    }

    /// Whether `forward` takes content skips.
    pub fn has_skips(&self) -> bool {
        !self.skips.is_empty()
    }

    /// Normalising stages of this decoder (3 when multi-level, else 0).
    pub fn stages(&self) -> usize {
        if self.multilevel {
            STAGE_TAPS.len()
        } else {
            0
        }
    }

    /// `forward`, where each stage normalises as `norm` says, and `stop_at = Some(k)` returns
    /// stage k's features just before normalisation. Tiling uses both to give every tile the
    /// whole image's statistics.
    pub fn forward_with(&self, feat: &Tensor, stats: &StyleCode, skips: &[Tensor], norm: &StageNorm, stop_at: Option<usize>) -> Tensor {
        assert_eq!(skips.len(), self.skips.len(), "one content skip per SKIP_TAPS entry, or none without skips");
        let last = self.layers.len() - 1;
        let mut x = if self.unit_input { feat / feature_scale(STYLE_TAPS[3]) } else { feat.shallow_clone() };
        let mut stage = 0;
        for (i, (conv, up)) in self.layers.iter().enumerate() {
            x = x.reflection_pad2d([1, 1, 1, 1]).apply(conv);
            if i < last {
                x = x.relu();
            }
            if *up {
                x = x.upsample_nearest2d_vec(None::<&[i64]>, &[2.0, 2.0][..]);
                if self.multilevel {
                    if stop_at == Some(stage) {
                        return x;
                    }
                    // Statistics in units of the layer's typical activation, so they are O(1).
                    let l = STAGE_TAPS[stage];
                    let scale = feature_scale(STYLE_TAPS[l]);
                    x = match norm.restyle_regions(stage, &x, scale) {
                        Some(y) => y,
                        None => {
                            let (m, s) = norm.at(stage, &x, mean_std);
                            adain_given(&x, &m, &s, &(&stats.means[l] / scale), &(&stats.stds[l] / scale))
                        }
                    };
                    if let (Some(conv), Some(skip)) = (self.skips.get(stage), skips.get(stage)) {
                        let kind = x.kind();
                        x = x + (skip.to_kind(kind) / scale).apply(conv);
                    }
                }
                stage += 1;
            }
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_parameter_count() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let d = Decoder::new(vs.root(), &DecoderConfig::default());
        let feats: Vec<Tensor> =
            STYLE_TAPS.iter().map(|t| Tensor::rand([2, t.channels(), 4, 6], (tch::Kind::Float, tch::Device::Cpu))).collect();
        let y = d.forward(&feats[3], &StyleCode::from_features(&feats), &[]);
        assert_eq!(y.size(), [2, 3, 32, 48]);
        let params: i64 = vs.trainable_variables().iter().map(|t| t.numel() as i64).sum();
        // 512*256*9 + 2*(256*256*9) + 256*128*9 + 128*128*9 + 128*64*9 + 64*64*9 + 64*3*9 + biases
        assert_eq!(params, 2_913_984 + (256 * 3 + 128 * 2 + 64 * 2 + 3));
    }

    #[test]
    fn zero_initialised_skips_leave_the_output_unchanged() {
        tch::manual_seed(0);
        // relu1_1 at 32x32 down to relu4_1 at 4x4.
        let feats: Vec<Tensor> =
            STYLE_TAPS.iter().enumerate().map(|(l, t)| Tensor::rand([1, t.channels(), 32 >> l, 32 >> l], (tch::Kind::Float, tch::Device::Cpu))).collect();
        let code = StyleCode::from_features(&feats);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let plain = Decoder::new(vs.root(), &DecoderConfig::default());
        let with = nn::VarStore::new(tch::Device::Cpu);
        let skipped = Decoder::new(with.root(), &DecoderConfig { skips: true, ..Default::default() });
        let targets = with.variables();
        for (name, t) in vs.variables() {
            tch::no_grad(|| targets[&name].shallow_clone().copy_(&t));
        }
        let skips: Vec<Tensor> = SKIP_TAPS.iter().map(|&l| feats[l].shallow_clone()).collect();
        let a = plain.forward(&feats[3], &code, &[]);
        let b = skipped.forward(&feats[3], &code, &skips);
        assert_eq!(a.size(), b.size());
        assert!((a - b).abs().max().double_value(&[]) < 1e-6);
        assert_eq!(skipped.skips.len(), 2);
    }
}
