//! A deception-style proxy for "looks like the artist": logistic regression on VGG16 style
//! features, trained on real paintings of one artist against other artists' paintings and
//! then applied to stylized outputs. Two kinds of features: per-channel mean and std at
//! relu1_1..relu4_1 (the code AdaIN works with, so an output painted with the artist's code
//! has them by construction) and channel correlations (which AdaIN leaves to the decoder).
//! A proxy only: it sees texture statistics, not composition or subject; its accuracy on
//! held-out real paintings says how far to trust it.

use stylize_model::StyleCode;
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

/// One feature row per image: the code's means and stds, all layers, as one vector (N, D).
/// `log1p` evens out the scales (relu1_1 statistics are tens, relu4_1's near 1).
pub fn style_features(code: &StyleCode) -> Tensor {
    let n = code.means[0].size()[0];
    let parts: Vec<Tensor> = code.means.iter().chain(&code.stds).map(|t| t.to_kind(Kind::Float).view([n, -1])).collect();
    Tensor::cat(&parts, 1).clamp_min(0.0).log1p()
}

/// One feature row per image of what a style code does *not* carry: each level's channel
/// correlation matrix (upper triangle) over positions, for the first `levels` of `feats`
/// (each (N,C,H,W)). AdaIN sets every channel's mean and std to the style's, so a classifier
/// on those calls any output painted with the artist's code the artist's; correlations are
/// unchanged by a per-channel scale and shift, so they read the texture the decoder drew.
pub fn correlation_features(feats: &[Tensor], levels: usize) -> Tensor {
    let n = feats[0].size()[0];
    let parts: Vec<Tensor> = feats[..levels]
        .iter()
        .map(|f| {
            let c = f.size()[1];
            let x = f.to_kind(Kind::Double).view([n, c, -1]);
            let x = &x - x.mean_dim(&[2i64][..], true, Kind::Double);
            // A dead channel (constant) correlates with nothing rather than dividing by zero.
            let x = &x / x.square().sum_dim_intlist(&[2i64][..], true, Kind::Double).sqrt().clamp_min(1e-12);
            let corr = x.matmul(&x.transpose(1, 2));
            let (rows, cols) = upper_triangle(c);
            corr.index(&[None, Some(rows), Some(cols)]).to_kind(Kind::Float)
        })
        .collect();
    Tensor::cat(&parts, 1)
}

/// Row and column indices of the strict upper triangle of a C x C matrix.
fn upper_triangle(c: i64) -> (Tensor, Tensor) {
    let idx = Tensor::triu_indices(c, c, 1, (Kind::Int64, Device::Cpu));
    (idx.get(0), idx.get(1))
}

/// Training settings; the defaults fit a few hundred rows of ~2,000 features.
#[derive(Debug, Clone, Copy)]
pub struct FitConfig {
    pub steps: usize,
    pub lr: f64,
    /// L2 penalty on the weights (the features outnumber the rows).
    pub weight_decay: f64,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig { steps: 400, lr: 0.05, weight_decay: 1e-2 }
    }
}

/// A linear classifier on standardised features: P(class 1) = sigmoid(w . (x - mu) / sd + b).
pub struct Classifier {
    mean: Tensor,
    std: Tensor,
    _vs: nn::VarStore,
    linear: nn::Linear,
}

impl Classifier {
    /// Fits on `x` (N, D) with labels `y` (N, 0 or 1), each class weighted by the other's share
    /// so an unbalanced set does not buy accuracy by always answering the larger class.
    /// Deterministic for the same inputs (fixed seed, full-batch Adam).
    pub fn fit(x: &Tensor, y: &[bool], cfg: &FitConfig) -> Classifier {
        assert_eq!(x.size()[0] as usize, y.len(), "one label per row");
        let positives = y.iter().filter(|&&p| p).count();
        assert!(positives > 0 && positives < y.len(), "both classes are needed");
        let x = x.to_kind(Kind::Float).to_device(Device::Cpu);
        let mean = x.mean_dim(&[0i64][..], true, Kind::Float);
        let std = x.std_dim(&[0i64][..], false, true).clamp_min(1e-6);
        let z = (&x - &mean) / &std;
        let target = Tensor::from_slice(&y.iter().map(|&p| if p { 1.0f32 } else { 0.0 }).collect::<Vec<_>>());
        let (n, np) = (y.len() as f64, positives as f64);
        let weights = Tensor::from_slice(&y.iter().map(|&p| if p { (n / (2.0 * np)) as f32 } else { (n / (2.0 * (n - np))) as f32 }).collect::<Vec<_>>());
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let linear = nn::linear(vs.root(), x.size()[1], 1, nn::LinearConfig { ws_init: nn::Init::Const(0.0), ..Default::default() });
        let mut opt = nn::Adam::default().build(&vs, cfg.lr).expect("Adam on a CPU var store");
        for _ in 0..cfg.steps {
            let logits = linear.forward(&z).squeeze_dim(1);
            let loss = logits.binary_cross_entropy_with_logits::<&Tensor>(&target, Some(&weights), None, tch::Reduction::Mean)
                + linear.ws.square().sum(Kind::Float) * cfg.weight_decay;
            opt.backward_step(&loss);
        }
        Classifier { mean, std, _vs: vs, linear }
    }

    /// P(class 1) for each row of `x` (N, D).
    pub fn predict(&self, x: &Tensor) -> Vec<f64> {
        tch::no_grad(|| {
            let z = (x.to_kind(Kind::Float).to_device(Device::Cpu) - &self.mean) / &self.std;
            Vec::<f64>::try_from(self.linear.forward(&z).squeeze_dim(1).sigmoid().to_kind(Kind::Double)).expect("a vector")
        })
    }
}

/// Share of `labels` that the probabilities `p` get right (p > 0.5 means class 1).
pub fn accuracy(p: &[f64], labels: &[bool]) -> f64 {
    assert_eq!(p.len(), labels.len());
    p.iter().zip(labels).filter(|(p, &l)| (**p > 0.5) == l).count() as f64 / p.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two Gaussian clouds in 50 dimensions whose means differ along a few directions.
    fn clouds(n: i64, seed: i64) -> (Tensor, Vec<bool>) {
        tch::manual_seed(seed);
        let noise = Tensor::randn([2 * n, 50], (Kind::Float, Device::Cpu));
        let shift = Tensor::zeros([1, 50], (Kind::Float, Device::Cpu));
        let _ = shift.narrow(1, 0, 5).fill_(1.5);
        let x = Tensor::cat(&[noise.narrow(0, 0, n) + &shift, noise.narrow(0, n, n)], 0);
        (x, (0..2 * n).map(|i| i < n).collect())
    }

    #[test]
    fn it_separates_classes_that_can_be_separated() {
        let (x, y) = clouds(100, 1);
        let c = Classifier::fit(&x, &y, &FitConfig::default());
        let (xt, yt) = clouds(200, 2);
        let acc = accuracy(&c.predict(&xt), &yt);
        // The Bayes rate along the shift (distance 1.5 * sqrt 5 = 3.35 sd) is 95%.
        assert!(acc > 0.9, "held-out accuracy {acc}");
    }

    #[test]
    fn it_finds_nothing_where_nothing_is() {
        let (x, _) = clouds(100, 3);
        let noise = x.narrow(0, 100, 100).copy();
        let labels: Vec<bool> = (0..100).map(|i| i % 2 == 0).collect();
        let c = Classifier::fit(&noise, &labels, &FitConfig::default());
        let (xt, _) = clouds(200, 4);
        let fresh = xt.narrow(0, 200, 200).copy();
        let truth: Vec<bool> = (0..200).map(|i| i % 2 == 0).collect();
        let acc = accuracy(&c.predict(&fresh), &truth);
        assert!((0.35..0.65).contains(&acc), "chance on labels that mean nothing: {acc}");
    }

    #[test]
    fn correlations_ignore_a_channels_scale_and_shift_and_see_its_pairing() {
        let opts = (Kind::Float, Device::Cpu);
        tch::manual_seed(5);
        let f = Tensor::randn([2, 3, 8, 8], opts);
        let base = correlation_features(&[f.shallow_clone()], 1);
        assert_eq!(base.size(), [2, 3]);
        // What AdaIN does (each channel scaled and shifted) leaves every correlation as it was.
        let scale = Tensor::from_slice(&[3.0f32, 0.5, 7.0]).view([1, 3, 1, 1]);
        let adain = &f * &scale + 2.0;
        assert!((correlation_features(&[adain], 1) - &base).abs().max().double_value(&[]) < 1e-5);
        // Channel 1 made a copy of channel 0 (scaled): their correlation is 1; negated, -1.
        let paired = Tensor::cat(&[f.narrow(1, 0, 1), f.narrow(1, 0, 1) * 4.0, f.narrow(1, 2, 1)], 1);
        assert!((correlation_features(&[paired.shallow_clone()], 1).double_value(&[0, 0]) - 1.0).abs() < 1e-5);
        let opposed = Tensor::cat(&[f.narrow(1, 0, 1), -f.narrow(1, 0, 1), f.narrow(1, 2, 1)], 1);
        assert!((correlation_features(&[opposed], 1).double_value(&[1, 0]) + 1.0).abs() < 1e-5);
        // Two levels: 3 + 6 pairs; a constant channel correlates with nothing.
        let g = Tensor::cat(&[Tensor::ones([2, 1, 4, 4], opts), Tensor::randn([2, 3, 4, 4], opts)], 1);
        let both = correlation_features(&[f, g], 2);
        assert_eq!(both.size(), [2, 9]);
        assert!(both.narrow(1, 3, 3).abs().max().double_value(&[]) < 1e-6);
    }

    #[test]
    fn style_features_flatten_means_and_stds() {
        let code = StyleCode {
            means: vec![Tensor::full([2, 3, 1, 1], 1.0, (Kind::Float, Device::Cpu)), Tensor::full([2, 4, 1, 1], 0.0, (Kind::Float, Device::Cpu))],
            stds: vec![Tensor::full([2, 3, 1, 1], 2.0, (Kind::Float, Device::Cpu)), Tensor::full([2, 4, 1, 1], 3.0, (Kind::Float, Device::Cpu))],
        };
        let f = style_features(&code);
        assert_eq!(f.size(), [2, 14]);
        assert!((f.double_value(&[1, 0]) - 2f64.ln()).abs() < 1e-6);
        assert!((f.double_value(&[0, 13]) - 4f64.ln()).abs() < 1e-6);
    }
}
