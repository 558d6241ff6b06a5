//! A deception-style proxy for "looks like the artist": logistic regression on VGG16 style
//! features (per-channel mean and std at relu1_1..relu4_1, the code AdaIN works with), trained
//! on real paintings of one artist against other artists' paintings and then applied to
//! stylized outputs. A proxy only: it sees the statistics a style code carries, not
//! composition or subject; its accuracy on held-out real paintings says how far to trust it.

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
