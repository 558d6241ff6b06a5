//! Multi-scale PatchGAN discriminator with spectral normalisation.
//!
//! Why spectral norm: with a few dozen paintings the discriminator overfits and its gradients
//! explode; spectral norm bounds each layer's Lipschitz constant without batch statistics
//! (our batches hold 2-8 images, too few for batch norm), at the cost of one power iteration.

use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscriminatorConfig {
    /// Channels of the first layer (doubled at each of the next two).
    pub channels: i64,
    /// Image scales judged: 1 = full only, 2 = full and half, ...
    pub scales: usize,
}

impl Default for DiscriminatorConfig {
    fn default() -> Self {
        Self { channels: 64, scales: 2 }
    }
}

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

/// Judges images (RGB 0..1) at several scales; each scale gives a map of patch logits.
#[derive(Debug)]
pub struct Discriminator {
    nets: Vec<PatchGan>,
}

impl Discriminator {
    pub fn new(vs: nn::Path, cfg: &DiscriminatorConfig) -> Self {
        Self { nets: (0..cfg.scales.max(1)).map(|s| PatchGan::new(&vs / format!("scale{s}"), cfg.channels)).collect() }
    }

    /// Patch logits per scale. `train` updates the spectral-norm estimates (once per D step).
    pub fn forward(&self, rgb: &Tensor, train: bool) -> Vec<Tensor> {
        // Centre the input so the first layer sees roughly zero-mean data.
        let mut x = rgb.to_kind(Kind::Float) * 2.0 - 1.0;
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
        let d = Discriminator::new(vs.root(), &DiscriminatorConfig { channels: 8, scales: 2 });
        let out = d.forward(&Tensor::rand([2, 3, 64, 64], (Kind::Float, tch::Device::Cpu)), false);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].size(), [2, 1, 8, 8]);
        assert_eq!(out[1].size(), [2, 1, 4, 4]);
    }
}
