//! Style transfer by optimisation (Gatys, Ecker & Bethge 2016): the output's pixels are
//! optimised so that its VGG16 features keep the photo's content (relu4_1) and take the
//! painting's Gram matrices (relu1_1..relu4_1). No trained network: the slowest method, and
//! often the best-looking; also the classic baseline for the trained generator.

use tch::{nn, Kind, Tensor};

use crate::losses::feature_scale;
use crate::optim::{Adam, AdamConfig};
use crate::style::STYLE_TAPS;
use crate::Vgg16;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimizeConfig {
    pub steps: usize,
    /// Adam learning rate on pixels in 0..1.
    pub lr: f64,
    pub content_weight: f64,
    pub style_weight: f64,
}

impl Default for OptimizeConfig {
    fn default() -> Self {
        Self { steps: 300, lr: 0.02, content_weight: 1.0, style_weight: 1e4 }
    }
}

/// Gram matrix F F^T / (C H W) of (1,C,H,W) features in units of the layer's typical
/// activation: (C,C), comparable across image sizes.
pub fn gram(f: &Tensor, scale: f64) -> Tensor {
    let (c, h, w) = (f.size()[1], f.size()[2], f.size()[3]);
    let m = f.to_kind(Kind::Float).view([c, h * w]) / scale;
    m.matmul(&m.tr()) / (c * h * w) as f64
}

/// Target Gram matrices of one or more paintings, blended by `weights` (normalised).
pub fn style_grams(vgg: &Vgg16, paintings: &[Tensor], weights: &[f64]) -> Vec<Tensor> {
    let total: f64 = weights.iter().sum();
    tch::no_grad(|| {
        let per: Vec<Vec<Tensor>> = paintings
            .iter()
            .map(|p| vgg.features(p, &STYLE_TAPS).iter().zip(STYLE_TAPS).map(|(f, t)| gram(f, feature_scale(t))).collect())
            .collect();
        (0..STYLE_TAPS.len()).map(|l| per.iter().zip(weights).map(|(g, w)| &g[l] * (w / total)).reduce(|a, b| a + b).expect("one painting")).collect()
    })
}

/// Optimises an image starting from `photo` (1,3,H,W, 0..1). `strength` scales the style
/// term (0 returns the photo). `progress(step, loss)` after each step.
pub fn optimize(vgg: &Vgg16, photo: &Tensor, grams: &[Tensor], strength: f64, cfg: &OptimizeConfig, progress: &mut dyn FnMut(usize, f64)) -> Tensor {
    let content = tch::no_grad(|| vgg.feature(photo, crate::Tap::Relu4_1).to_kind(Kind::Float));
    let vs = nn::VarStore::new(photo.device());
    let image = vs.root().var_copy("image", &photo.to_kind(Kind::Float));
    let mut opt = Adam::new(&vs, AdamConfig { lr: cfg.lr, beta1: 0.9, beta2: 0.999 });
    let style_weight = cfg.style_weight * strength;
    for step in 0..cfg.steps {
        let feats = vgg.features(&image, &STYLE_TAPS);
        let c = (feats[3].to_kind(Kind::Float) - &content).square().mean(Kind::Float) / feature_scale(crate::Tap::Relu4_1).powi(2);
        let s = feats
            .iter()
            .zip(STYLE_TAPS)
            .zip(grams)
            .map(|((f, t), g)| (gram(f, feature_scale(t)) - g).square().sum(Kind::Float))
            .reduce(|a, b| a + b)
            .expect("four layers");
        let loss = c * cfg.content_weight + s * style_weight;
        opt.zero_grad();
        loss.backward();
        opt.step();
        tch::no_grad(|| {
            let _ = image.shallow_clone().clamp_(0.0, 1.0);
        });
        progress(step + 1, loss.double_value(&[]));
    }
    image.detach()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gram_by_hand() {
        // One channel holding 1,2,3,4 at scale 1: (1+4+9+16)/4 = 7.5; at scale 2, a quarter.
        let f = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).view([1, 1, 2, 2]);
        assert!((gram(&f, 1.0).double_value(&[0, 0]) - 7.5).abs() < 1e-6);
        assert!((gram(&f, 2.0).double_value(&[0, 0]) - 7.5 / 4.0).abs() < 1e-6);
    }
}
