//! Adam with its state in plain named tensors, so checkpoints hold it and a resumed run takes
//! exactly the step the uninterrupted one would have (tch's optimiser state can't be saved).

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
}

pub struct Adam {
    cfg: AdamConfig,
    step: i64,
    params: Vec<(String, Tensor)>,
    /// Each parameter's learning rate as a multiple of `cfg.lr` (1 unless `scale_lr` set it).
    lr_scales: Vec<f64>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
}

const EPS: f64 = 1e-8;

impl Adam {
    /// Optimises the trainable variables of `vs` (sorted by name for a stable order).
    pub fn new(vs: &nn::VarStore, cfg: AdamConfig) -> Self {
        let mut params: Vec<(String, Tensor)> = vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let zeros = |p: &Vec<(String, Tensor)>| p.iter().map(|(_, t)| t.zeros_like()).collect();
        Self { cfg, step: 0, m: zeros(&params), v: zeros(&params), lr_scales: vec![1.0; params.len()], params }
    }

    /// The parameters `which` names learn at `factor` times the learning rate (the schedule
    /// still applies): e.g. parts added to a trained network, which start at zero and would
    /// barely move at a fine-tune's rate.
    pub fn scale_lr(&mut self, which: impl Fn(&str) -> bool, factor: f64) {
        for ((name, _), scale) in self.params.iter().zip(&mut self.lr_scales) {
            if which(name) {
                *scale = factor;
            }
        }
    }

    /// Changes the learning rate from the next step on (schedules); the moments carry over.
    pub fn set_lr(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    pub fn zero_grad(&self) {
        for (_, p) in &self.params {
            let mut p = p.shallow_clone();
            p.zero_grad();
        }
    }

    pub fn step(&mut self) {
        self.step += 1;
        let AdamConfig { lr, beta1: b1, beta2: b2 } = self.cfg;
        let bc1 = 1.0 - b1.powi(self.step as i32);
        let bc2 = 1.0 - b2.powi(self.step as i32);
        tch::no_grad(|| {
            for ((((_, p), m), v), scale) in self.params.iter().zip(&self.m).zip(&self.v).zip(&self.lr_scales) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                m.shallow_clone().copy_(&(m * b1 + &g * (1.0 - b1)));
                v.shallow_clone().copy_(&(v * b2 + &g * &g * (1.0 - b2)));
                let update = (m / bc1) / ((v / bc2).sqrt() + EPS) * (lr * scale);
                let _ = p.shallow_clone().g_sub_(&update);
            }
        });
    }

    /// Named state for a checkpoint: `<prefix>.m.<param>`, `<prefix>.v.<param>`, `<prefix>.step`.
    pub fn state(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let mut out = vec![(format!("{prefix}.step"), Tensor::from_slice(&[self.step]))];
        for (((name, _), m), v) in self.params.iter().zip(&self.m).zip(&self.v) {
            out.push((format!("{prefix}.m.{name}"), m.shallow_clone()));
            out.push((format!("{prefix}.v.{name}"), v.shallow_clone()));
        }
        out
    }

    /// Restores what `state` saved; every entry must be present.
    pub fn load_state(&mut self, prefix: &str, get: &dyn Fn(&str) -> Option<Tensor>) -> Result<(), String> {
        let key = format!("{prefix}.step");
        self.step = get(&key).ok_or(format!("missing {key}"))?.int64_value(&[0]);
        for (((name, _), m), v) in self.params.iter().zip(&self.m).zip(&self.v) {
            for (kind, dst) in [("m", m), ("v", v)] {
                let key = format!("{prefix}.{kind}.{name}");
                let t = get(&key).ok_or(format!("missing {key}"))?;
                tch::no_grad(|| dst.shallow_clone().copy_(&t));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    #[test]
    fn first_step_moves_each_weight_by_lr_against_its_gradient_sign() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let w = vs.root().var("w", &[3], nn::Init::Const(1.0));
        let mut opt = Adam::new(&vs, AdamConfig { lr: 0.1, beta1: 0.9, beta2: 0.999 });
        opt.zero_grad();
        (&w * Tensor::from_slice(&[2.0f32, -3.0, 0.5])).sum(Kind::Float).backward();
        opt.step();
        // Adam's first step is lr * sign(g) (bias-corrected m / sqrt(v) = g / |g|).
        let got = Vec::<f32>::try_from(&w.detach()).unwrap();
        for (g, want) in got.iter().zip([0.9f32, 1.1, 0.9]) {
            assert!((g - want).abs() < 1e-5, "{got:?}");
        }
    }

    #[test]
    fn a_scaled_parameter_takes_a_scaled_step() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let (a, b) = (vs.root().var("a", &[1], nn::Init::Const(1.0)), (vs.root() / "grown").var("b", &[1], nn::Init::Const(1.0)));
        let mut opt = Adam::new(&vs, AdamConfig { lr: 0.1, beta1: 0.9, beta2: 0.999 });
        opt.scale_lr(|name| name.starts_with("grown."), 5.0);
        opt.zero_grad();
        (&a * 2.0 + &b * 2.0).sum(Kind::Float).backward();
        opt.step();
        assert!((a.double_value(&[0]) - 0.9).abs() < 1e-5 && (b.double_value(&[0]) - 0.5).abs() < 1e-5);
    }

    #[test]
    fn minimises_a_quadratic() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let w = vs.root().var("w", &[4], nn::Init::Const(5.0));
        let mut opt = Adam::new(&vs, AdamConfig { lr: 0.1, beta1: 0.9, beta2: 0.999 });
        for _ in 0..300 {
            opt.zero_grad();
            (&w - 2.0).square().sum(Kind::Float).backward();
            opt.step();
        }
        assert!((&w - 2.0).abs().max().double_value(&[]) < 0.05);
    }
}
