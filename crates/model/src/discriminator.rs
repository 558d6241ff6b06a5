//! Discriminators with spectral normalisation, of two kinds behind one `forward`:
//! - `pixels`: a multi-scale PatchGAN on the image, learnt from scratch;
//! - `vgg`: small patch heads on frozen VGG16 features of the image (relu2_1, relu3_1,
//!   relu4_1), as projected and vision-aided GANs do (Sauer et al. 2021, Kumari et al. 2022).
//!   On pretrained features a fresh discriminator learns at once (0.61 patch accuracy after
//!   150 steps alone, 0.67 at the end of a fine-tune), where the pixel kind stayed at chance
//!   for a fine-tune's whole length (bench/artist.md); and they are the features the style
//!   distances are measured on.
//!
//! Why spectral norm: with a few dozen paintings the discriminator overfits and its gradients
//! explode; spectral norm bounds each layer's Lipschitz constant without batch statistics
//! (our batches hold 2-8 images, too few for batch norm), at the cost of one power iteration.

use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::augment::diff_augment;
use crate::losses::feature_scale;
use crate::{Tap, Vgg16};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscriminatorConfig {
    /// Channels of the first layer (doubled at each of the next two).
    pub channels: i64,
    /// Image scales judged: 1 = full only, 2 = full and half, ... (the pixel kind).
    pub scales: usize,
    #[serde(default)]
    pub kind: DiscriminatorKind,
    /// DiffAugment's colour jitter (brightness, saturation, contrast) on both real and fake
    /// inputs, before translation and cutout. It hides the colours a painter's palette is
    /// made of; the pixel kind learnt nothing in 300 steps with it on (bench/artist.md).
    #[serde(default = "yes")]
    pub colour_jitter: bool,
}

fn yes() -> bool {
    true
}

/// What the discriminator looks at (see the module's documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscriminatorKind {
    #[default]
    Pixels,
    Vgg,
}

impl Default for DiscriminatorConfig {
    fn default() -> Self {
        Self { channels: 64, scales: 2, kind: DiscriminatorKind::Pixels, colour_jitter: true }
    }
}

/// The VGG16 taps the `vgg` kind judges.
pub const VGG_TAPS: [Tap; 3] = [Tap::Relu2_1, Tap::Relu3_1, Tap::Relu4_1];

/// A conv whose weight is divided by its largest singular value, estimated by power iteration.
#[derive(Debug)]
struct SnConv {
    weight: Tensor,
    bias: Tensor,
    /// Left singular vector estimate; a non-trainable variable so checkpoints keep it.
    u: Tensor,
    stride: i64,
    padding: i64,
}

impl SnConv {
    fn new(vs: nn::Path, cin: i64, cout: i64, k: i64, stride: i64, padding: i64) -> Self {
        let bound = 1.0 / ((cin * k * k) as f64).sqrt();
        let init = nn::Init::Uniform { lo: -bound, up: bound };
        let weight = vs.var("weight", &[cout, cin, k, k], init);
        let bias = vs.var("bias", &[cout], init);
        let u = vs.var("u", &[cout], nn::Init::Randn { mean: 0.0, stdev: 1.0 }).set_requires_grad(false);
        tch::no_grad(|| {
            let n = u.norm();
            let _ = u.shallow_clone().g_div_(&(n + 1e-12));
        });
        Self { weight, bias, u, stride, padding }
    }

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let w_mat = self.weight.flatten(1, -1);
        let (u, v) = tch::no_grad(|| {
            let w = w_mat.detach();
            let v = normalize(&w.tr().mv(&self.u));
            let u = normalize(&w.mv(&v));
            if train {
                self.u.shallow_clone().copy_(&u);
            }
            (u, v)
        });
        let sigma = u.dot(&w_mat.mv(&v));
        let w = &self.weight / sigma;
        x.conv2d(&w, Some(&self.bias), [self.stride, self.stride], [self.padding, self.padding], [1, 1], 1)
    }
}

fn normalize(v: &Tensor) -> Tensor {
    v / (v.norm() + 1e-12)
}

fn leaky_relu(x: Tensor) -> Tensor {
    // tch's leaky_relu takes no slope.
    x.maximum(&(&x * 0.2))
}

#[derive(Debug)]
struct PatchGan {
    convs: Vec<SnConv>,
}

impl PatchGan {
    fn new(vs: nn::Path, ch: i64) -> Self {
        let convs = vec![
            SnConv::new(&vs / "c0", 3, ch, 4, 2, 1),
            SnConv::new(&vs / "c1", ch, ch * 2, 4, 2, 1),
            SnConv::new(&vs / "c2", ch * 2, ch * 4, 4, 2, 1),
            SnConv::new(&vs / "c3", ch * 4, ch * 4, 3, 1, 1),
            SnConv::new(&vs / "out", ch * 4, 1, 3, 1, 1),
        ];
        Self { convs }
    }

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let last = self.convs.len() - 1;
        let mut x = x.shallow_clone();
        for (i, c) in self.convs.iter().enumerate() {
            x = c.forward(&x, train);
            if i < last {
                x = leaky_relu(x);
            }
        }
        x
    }
}

/// A patch head on one VGG16 tap: 1x1 down to `ch` channels, a 3x3, a 1x1 to one logit.
fn feature_head(vs: nn::Path, cin: i64, ch: i64) -> PatchGan {
    PatchGan { convs: vec![SnConv::new(&vs / "c0", cin, ch, 1, 1, 0), SnConv::new(&vs / "c1", ch, ch, 3, 1, 1), SnConv::new(&vs / "out", ch, 1, 1, 1, 0)] }
}

/// Judges images (RGB 0..1): one map of patch logits per scale (pixels) or per tap (vgg).
#[derive(Debug)]
pub struct Discriminator {
    kind: DiscriminatorKind,
    colour_jitter: bool,
    nets: Vec<PatchGan>,
}

impl Discriminator {
    pub fn new(vs: nn::Path, cfg: &DiscriminatorConfig) -> Self {
        let nets = match cfg.kind {
            DiscriminatorKind::Pixels => (0..cfg.scales.max(1)).map(|s| PatchGan::new(&vs / format!("scale{s}"), cfg.channels)).collect(),
            DiscriminatorKind::Vgg => VGG_TAPS.iter().map(|t| feature_head(&vs / format!("{t:?}").to_lowercase(), t.channels(), cfg.channels)).collect(),
        };
        Self { kind: cfg.kind, colour_jitter: cfg.colour_jitter, nets }
    }

    /// Patch logits of `rgb` after DiffAugment (fresh draws on every call). `vgg` is used by
    /// the vgg kind only, frozen (gradients pass through it to the image, not into it).
    /// `train` updates the spectral-norm estimates (once per D step).
    pub fn forward(&self, rgb: &Tensor, vgg: &Vgg16, train: bool) -> Vec<Tensor> {
        let x = diff_augment(&rgb.to_kind(Kind::Float), self.colour_jitter);
        match self.kind {
            DiscriminatorKind::Pixels => self.pixels(&x, train),
            DiscriminatorKind::Vgg => {
                let feats = vgg.features(&x, &VGG_TAPS);
                feats.iter().zip(&VGG_TAPS).zip(&self.nets).map(|((f, &t), net)| net.forward(&(f.to_kind(Kind::Float) / feature_scale(t)), train)).collect()
            }
        }
    }

    /// The pixel kind on an (augmented) image: one map per scale.
    fn pixels(&self, x: &Tensor, train: bool) -> Vec<Tensor> {
        // Centre the input so the first layer sees roughly zero-mean data.
        let mut x = x * 2.0 - 1.0;
        let mut out = Vec::with_capacity(self.nets.len());
        for (i, net) in self.nets.iter().enumerate() {
            if i > 0 {
                x = x.avg_pool2d([2, 2], [2, 2], [0, 0], false, false, None::<i64>);
            }
            out.push(net.forward(&x, train).to_kind(Kind::Float));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectral_norm_bounds_the_largest_singular_value() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let c = SnConv::new(vs.root(), 8, 16, 3, 1, 1);
        tch::no_grad(|| {
            let _ = c.weight.shallow_clone().g_mul_scalar_(37.0);
        });
        // Power iteration converges at rate (sigma2/sigma1)^2 per step, which depends on the
        // random init (shared with tests on other threads): enough steps for any usual gap.
        for _ in 0..400 {
            let _ = c.forward(&Tensor::zeros([1, 8, 4, 4], (Kind::Float, tch::Device::Cpu)), true);
        }
        let w_mat = c.weight.flatten(1, -1);
        let (u, v) = (c.u.shallow_clone(), normalize(&w_mat.tr().mv(&c.u)));
        let sigma = u.dot(&w_mat.mv(&v)).double_value(&[]);
        let w_sn = (&w_mat / sigma).to_kind(Kind::Double);
        // Largest singular value = sqrt of the largest eigenvalue of W W^T.
        let normalised = w_sn.matmul(&w_sn.tr()).linalg_eigvalsh("L").max().double_value(&[]).sqrt();
        assert!((normalised - 1.0).abs() < 1e-3, "largest singular value after SN: {normalised}");
    }

    #[test]
    fn outputs_one_map_per_scale() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let d = Discriminator::new(vs.root(), &DiscriminatorConfig { channels: 8, ..Default::default() });
        let out = d.pixels(&Tensor::rand([2, 3, 64, 64], (Kind::Float, tch::Device::Cpu)), false);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].size(), [2, 1, 8, 8]);
        assert_eq!(out[1].size(), [2, 1, 4, 4]);
    }
}
