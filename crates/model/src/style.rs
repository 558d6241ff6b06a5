//! A style as the statistics the model uses: per-channel mean and std of VGG16 features at
//! relu1_1, relu2_1, relu3_1, relu4_1. AdaIN injects the relu4_1 pair; the style loss matches
//! all four. Computed once per style image and reused for every photo. The fast generator's
//! styles are the same kind of code over its own style encoder's three levels.

use tch::Tensor;

use crate::adain::mean_std;
use crate::{Tap, Vgg16};

/// The layers whose statistics define a style (the AdaIN paper's choice).
pub const STYLE_TAPS: [Tap; 4] = [Tap::Relu1_1, Tap::Relu2_1, Tap::Relu3_1, Tap::Relu4_1];

/// Mean and std per style layer, each (N,C,1,1) in f32; N = 1 for one image.
#[derive(Debug)]
pub struct StyleCode {
    pub means: Vec<Tensor>,
    pub stds: Vec<Tensor>,
}

impl StyleCode {
    /// Statistics of a batch of style images (RGB 0..1), no gradients.
    pub fn from_images(vgg: &Vgg16, rgb: &Tensor) -> Self {
        tch::no_grad(|| Self::from_features(&vgg.features(rgb, &STYLE_TAPS)))
    }

    /// Statistics of already computed STYLE_TAPS features.
    pub fn from_features(feats: &[Tensor]) -> Self {
        let (means, stds) = feats.iter().map(mean_std).unzip();
        Self { means, stds }
    }

    /// The relu4_1 statistics that AdaIN injects.
    pub fn bottleneck(&self) -> (&Tensor, &Tensor) {
        (&self.means[3], &self.stds[3])
    }

    /// Weighted blend of several styles' statistics (weights are normalised to sum to 1).
    /// Panics on mismatched lengths or a non-positive sum: callers validate user input first.
    pub fn mix(codes: &[&StyleCode], weights: &[f64]) -> Self {
        assert!(!codes.is_empty() && codes.len() == weights.len(), "one weight per style");
        let total: f64 = weights.iter().sum();
        assert!(total > 0.0, "weights must sum to a positive number");
        let layer = |pick: &dyn Fn(&StyleCode) -> &Vec<Tensor>| -> Vec<Tensor> {
            (0..codes[0].means.len())
                .map(|l| {
                    codes.iter().zip(weights).map(|(c, w)| &pick(c)[l] * (w / total)).reduce(|a, b| a + b).expect("non-empty")
                })
                .collect()
        };
        Self { means: layer(&|c| &c.means), stds: layer(&|c| &c.stds) }
    }

    /// Rows `start..start+len` of a batched code.
    pub fn narrow(&self, start: i64, len: i64) -> Self {
        let n = |v: &Vec<Tensor>| v.iter().map(|t| t.narrow(0, start, len)).collect();
        Self { means: n(&self.means), stds: n(&self.stds) }
    }

    /// alpha * style + (1 - alpha) * content, layer by layer: the statistics at strength alpha.
    pub fn blend(content: &StyleCode, style: &StyleCode, alpha: f64) -> Self {
        let b = |c: &Vec<Tensor>, s: &Vec<Tensor>| c.iter().zip(s).map(|(c, s)| s * alpha + c * (1.0 - alpha)).collect();
        Self { means: b(&content.means, &style.means), stds: b(&content.stds, &style.stds) }
    }

    /// Concatenates codes along the batch.
    pub fn cat(codes: &[&StyleCode]) -> Self {
        let c = |pick: &dyn Fn(&StyleCode) -> &Vec<Tensor>| -> Vec<Tensor> {
            (0..codes[0].means.len()).map(|l| Tensor::cat(&codes.iter().map(|c| pick(c)[l].shallow_clone()).collect::<Vec<_>>(), 0)).collect()
        };
        Self { means: c(&|c| &c.means), stds: c(&|c| &c.stds) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn code(v: f32) -> StyleCode {
        let t = |c: i64| Tensor::full([1, c, 1, 1], v as f64, (Kind::Float, tch::Device::Cpu));
        StyleCode { means: STYLE_TAPS.iter().map(|s| t(s.channels())).collect(), stds: STYLE_TAPS.iter().map(|s| t(s.channels()) * 2.0).collect() }
    }

    #[test]
    fn mix_is_a_normalised_weighted_average() {
        let (a, b) = (code(1.0), code(4.0));
        let m = StyleCode::mix(&[&a, &b], &[3.0, 1.0]);
        assert!((m.means[2].double_value(&[0, 5, 0, 0]) - 1.75).abs() < 1e-6);
        assert!((m.stds[3].double_value(&[0, 0, 0, 0]) - 3.5).abs() < 1e-6);
        let only_a = StyleCode::mix(&[&a, &b], &[1.0, 0.0]);
        assert!((only_a.means[0].double_value(&[0, 0, 0, 0]) - 1.0).abs() < 1e-6);
    }
}
