//! Distilling the fast generator from a trained VGG16 model (`stylize distill`).
//!
//! One trainer covers the stages; a stage is a config:
//! - **A** (`teacher_weight`, `feature_weight` only): L1 to the teacher's stylization of the
//!   same photo and painting, plus the feature heads against VGG16's features of the photo.
//!   VGG16 runs once per photo (no gradients); the teacher's outputs come from the
//!   [`TeacherPool`] on disk.
//! - **B** (`perceptual_weight`, `content_weight`, `style_weight`, `adv_weight` too): VGG16
//!   features of the student's output against the teacher's output's (the texture an L1
//!   averages away), the teacher's own losses (content, style, the discriminator on real
//!   paintings) at lower weights, all away from a `loss_border` band that only the L1 sees.
//! - **C**, the fine-tune: B's losses at a larger `crop` (a new pool), with some examples at
//!   strengths below 1 (`varied_strength`).
//! - **D**: C with the style weight up, and `identity_weight`: the student at strength 0 gives
//!   the photo back (the strength slider's low end).

use std::path::Path;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use stylize_model::fast::{channels_last, distill_loss, FastConfig, FastNet, Features};
use stylize_model::losses::{content_loss, covariance_loss, d_accuracy, feature_loss, hinge_d, hinge_g, style_loss};
use stylize_model::optim::{Adam, AdamConfig};
use stylize_model::semantic::cut_margin;
use stylize_model::style::STYLE_TAPS;
use stylize_model::model_dir::save_weights;
use stylize_model::{Collection, Discriminator, DiscriminatorConfig, Generator, ModelInfo, ModelKind, StyleCode, Vgg16};
use tch::{nn, Device, Tensor};

use crate::checkpoint;
use crate::config::{check, min_zoom, ramp, TomlConfig};
use crate::data::ImageSet;
use crate::pool::{PoolSpec, TeacherPool};
use crate::TrainError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DistillConfig {
    pub steps: u64,
    /// Examples per step.
    pub batch: i64,
    /// Square crop of photos and paintings, in pixels.
    pub crop: u32,
    /// Images are resized to this short side, then each crop is taken at a random zoom
    /// between `min_short_side / short_side` and 1 (see `ImageSet::batch`).
    pub short_side: u32,
    pub min_short_side: u32,
    /// The share of pool examples at a random strength in [0, 1) (the rest at 1), so the
    /// student learns strengths below 1 from the teacher; their rows take only the teacher L1.
    pub varied_strength: f64,
    /// Examples in the teacher pool: step s reads examples s*batch.. (mod pool), in a fresh
    /// order each epoch after the first. A multiple of `batch`.
    pub pool: u64,
    pub adam: AdamConfig,
    /// From this step on (0 = never) the learning rate falls linearly to `lr_end` at `steps`.
    pub lr_decay_from: u64,
    pub lr_end: f64,
    /// L1 to the teacher's output.
    pub teacher_weight: f64,
    /// The feature heads' distance to VGG16's relu1_1..relu4_1 of the photo.
    pub feature_weight: f64,
    /// Stage B: VGG16 relu1_1..relu4_1 of the student's output against the teacher's output's.
    pub perceptual_weight: f64,
    /// The covariance of the student output's VGG16 relu1_1..relu4_1 against the teacher
    /// output's ([`covariance_loss`]): the teacher's texture statistics, wherever its strokes are.
    pub texture_weight: f64,
    /// The covariance of the student output's VGG16 relu1_1..relu4_1 against the painting's
    /// own ([`covariance_loss`]): the painting's full second-order statistics, as Gatys's Gram
    /// loss matches them, where `style_weight` matches only each channel's mean and std. (On
    /// the grown student, stage G11, it bought style at the content cost heavier style weights
    /// did: models/fast/MODEL_CARD.md.)
    pub painting_texture_weight: f64,
    /// Stage B: VGG16 content and style losses on the student's output (0 = off).
    pub content_weight: f64,
    pub style_weight: f64,
    /// Stage B: adversarial weight once ramped up (0 = off, no discriminator step).
    pub adv_weight: f64,
    pub adv_start: u64,
    pub adv_ramp: u64,
    /// L1 between the student's output at strength 0 and the photo itself, on every row (0 =
    /// off). The teacher pool's few rows at strengths below 1 did not teach the low end: after C
    /// the student at strength 0 was as far from the photo (40.7/255) as at strength 1.
    pub identity_weight: f64,
    /// Pixels at each crop edge that the VGG16 and GAN terms leave out (the teacher L1 still
    /// covers them). VGG16's zero padding makes a crop's edge special: with the terms on whole
    /// crops, the student learnt a bright frame at every image border and a ripple beside it.
    pub loss_border: u32,
    pub discriminator: DiscriminatorConfig,
    pub discriminator_adam: AdamConfig,
    pub fast: FastConfig,
    /// The fast model the student started from (`stylize distill --from`), if not from scratch.
    pub from: Option<String>,
    /// The student's variables that its start lacked, added by a config that grows it
    /// (`FastConfig::grows`; `--from` fills this in, and a `--resume --config` that grows the
    /// checkpoint's student adds to it). They learn at `grown_lr_scale` times the
    /// learning rate: parts that start at zero barely move at a fine-tune's rate (a block at
    /// 1/4 grown at 5e-5 ended 2,400 steps with weights 15x smaller than its neighbours').
    pub grown: Vec<String>,
    pub grown_lr_scale: f64,
    pub seed: u64,
    pub checkpoint_every: u64,
    pub preview_every: u64,
    pub log_every: u64,
}

impl Default for DistillConfig {
    fn default() -> Self {
        Self {
            steps: 20_000,
            batch: 8,
            crop: 128,
            short_side: 512,
            min_short_side: 256,
            pool: 16_384,
            varied_strength: 0.0,
            adam: AdamConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999 },
            lr_decay_from: 0,
            lr_end: 1e-4,
            teacher_weight: 1.0,
            feature_weight: 0.1,
            perceptual_weight: 0.0,
            texture_weight: 0.0,
            painting_texture_weight: 0.0,
            content_weight: 0.0,
            style_weight: 0.0,
            adv_weight: 0.0,
            adv_start: 0,
            adv_ramp: 500,
            identity_weight: 0.0,
            loss_border: 0,
            discriminator: DiscriminatorConfig::default(),
            discriminator_adam: AdamConfig { lr: 2e-4, beta1: 0.5, beta2: 0.999 },
            fast: FastConfig::default(),
            from: None,
            grown: Vec::new(),
            grown_lr_scale: 1.0,
            seed: 1,
            checkpoint_every: 100,
            preview_every: 500,
            log_every: 10,
        }
    }
}

impl TomlConfig for DistillConfig {
    fn validate(&self) -> Result<(), String> {
        check(self.batch >= 1, "batch must be at least 1")?;
        check(self.crop >= 64 && self.crop % 8 == 0, "crop must be a multiple of 8, at least 64")?;
        check(self.short_side >= self.crop, "short_side must be at least the crop size")?;
        check(self.min_short_side == 0 || (self.min_short_side >= self.crop && self.min_short_side <= self.short_side), "min_short_side must be 0 (off) or between crop and short_side")?;
        check(self.pool >= self.batch as u64 && self.pool % self.batch as u64 == 0, "pool must be a positive multiple of batch")?;
        check(self.checkpoint_every >= 1 && self.log_every >= 1 && self.preview_every >= 1, "*_every must be at least 1")?;
        check((0.0..=1.0).contains(&self.varied_strength), "varied_strength must be between 0 and 1")?;
        check(
            [self.teacher_weight, self.feature_weight, self.perceptual_weight, self.content_weight, self.style_weight, self.adv_weight, self.identity_weight].iter().all(|w| *w >= 0.0),
            "loss weights must not be negative",
        )?;
        check(self.crop >= 2 * self.loss_border + 64, "crop less twice loss_border must be at least 64")?;
        check(self.grown_lr_scale > 0.0, "grown_lr_scale must be positive")?;
        Ok(())
    }
}

impl DistillConfig {

    pub fn min_zoom(&self) -> f64 {
        min_zoom(self.min_short_side, self.short_side)
    }

    pub fn lr_at(&self, step: u64) -> f64 {
        if self.lr_decay_from == 0 || step < self.lr_decay_from || self.steps <= self.lr_decay_from {
            return self.adam.lr;
        }
        let t = ((step - self.lr_decay_from) as f64 / (self.steps - self.lr_decay_from) as f64).min(1.0);
        self.adam.lr + (self.lr_end - self.adam.lr) * t
    }

    pub fn adv_weight_at(&self, step: u64) -> f64 {
        ramp(self.adv_weight, self.adv_start, self.adv_ramp, step)
    }

    /// Whether the student's output goes through VGG16 (stage B).
    pub fn uses_vgg_on_output(&self) -> bool {
        self.perceptual_weight > 0.0 || self.texture_weight > 0.0 || self.painting_texture_weight > 0.0 || self.content_weight > 0.0 || self.style_weight > 0.0
    }

    pub fn pool_spec(&self) -> PoolSpec {
        PoolSpec { crop: self.crop, min_zoom: self.min_zoom(), seed: self.seed, varied_strength: self.varied_strength }
    }
}

/// Pool example indices of step `step`: consecutive in the first epoch (so the pool fills in
/// order), a seeded permutation in each later one.
pub fn pool_indices(step: u64, batch: u64, pool: u64, seed: u64) -> Vec<u64> {
    let start = step * batch;
    let (epoch, offset) = (start / pool, start % pool);
    if epoch == 0 {
        return (offset..offset + batch).collect();
    }
    let mut order: Vec<u64> = (0..pool).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ epoch.wrapping_mul(0xA24B_AED4_963E_E407)));
    order[offset as usize..(offset + batch) as usize].to_vec()
}

/// Loss values of one step (0 for terms a stage leaves off).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DistillLosses {
    pub teacher_l1: f64,
    pub features: f64,
    pub content: f64,
    pub style: f64,
    pub adv_g: f64,
    pub d_loss: f64,
    pub d_acc: f64,
    pub perceptual: f64,
    pub identity: f64,
    pub texture: f64,
    pub painting_texture: f64,
}

impl DistillLosses {
    /// `perceptual`, `identity`, `texture` and `painting_texture` came last, in that order,
    /// after runs had logged the rest (see `log::open_log`).
    pub const HEADER: &'static str = "step,seconds,teacher_l1,features,content,style,adv_g,d_loss,d_acc,lr,adv_weight,perceptual,identity,texture,painting_texture";
    pub const PLOTTED: [&'static str; 11] = ["teacher_l1", "features", "perceptual", "texture", "painting_texture", "content", "style", "adv_g", "d_loss", "d_acc", "identity"];

    pub fn values(&self) -> [f64; 11] {
        [self.teacher_l1, self.features, self.content, self.style, self.adv_g, self.d_loss, self.d_acc, self.perceptual, self.identity, self.texture, self.painting_texture]
    }

    /// A log row after `step,seconds`, in `HEADER`'s order.
    pub fn log_row(&self, lr: f64, adv_weight: f64) -> Vec<f64> {
        let v = self.values();
        [&v[..7], &[lr, adv_weight], &v[7..]].concat()
    }

    pub fn add(&mut self, o: &DistillLosses) {
        let mut v = self.values();
        for (a, b) in v.iter_mut().zip(o.values()) {
            *a += b;
        }
        *self = Self::from_values(v);
    }

    pub fn scaled(&self, k: f64) -> Self {
        Self::from_values(self.values().map(|v| v * k))
    }

    fn from_values(v: [f64; 11]) -> Self {
        let [teacher_l1, features, content, style, adv_g, d_loss, d_acc, perceptual, identity, texture, painting_texture] = v;
        Self { teacher_l1, features, content, style, adv_g, d_loss, d_acc, perceptual, identity, texture, painting_texture }
    }
}

pub struct Distiller {
    pub cfg: DistillConfig,
    pub vs: nn::VarStore,
    pub net: FastNet,
    opt: Adam,
    d_vs: nn::VarStore,
    d: Discriminator,
    opt_d: Adam,
    pub teacher: Generator,
    pub vgg: Vgg16,
    pub pool: TeacherPool,
    pub content: ImageSet,
    pub style: ImageSet,
    pub step: u64,
}

impl Distiller {
    pub fn new(cfg: DistillConfig, teacher: Generator, vgg: Vgg16, content: ImageSet, style: ImageSet, pool: TeacherPool, device: Device) -> Self {
        tch::manual_seed(cfg.seed as i64);
        let vs = nn::VarStore::new(device);
        let net = FastNet::new(&vs.root(), cfg.fast);
        let mut opt = Adam::new(&vs, cfg.adam);
        opt.scale_lr(|name| cfg.grown.iter().any(|g| g == name), cfg.grown_lr_scale);
        let d_vs = nn::VarStore::new(device);
        let d = Discriminator::new(d_vs.root() / "disc", &cfg.discriminator);
        let opt_d = Adam::new(&d_vs, cfg.discriminator_adam);
        Self { cfg, vs, net, opt, d_vs, d, opt_d, teacher, vgg, pool, content, style, step: 0 }
    }

    /// One optimisation step on the pool's next examples.
    pub fn train_step(&mut self) -> Result<DistillLosses, TrainError> {
        let cfg = self.cfg.clone();
        let mut rng = crate::trainer::seed_step(cfg.seed, self.step);
        let idx = pool_indices(self.step, cfg.batch as u64, cfg.pool, cfg.seed);
        let ex = self.pool.get(&idx, &self.content, &self.style, &self.teacher, &self.vgg)?;
        // A horizontal flip of photo and teacher output together (the teacher is flip-equivariant
        // up to rounding), a separate one for the painting: twice the pool's variety.
        let flip = |t: &Tensor, rows: &[bool]| -> Tensor {
            Tensor::cat(&rows.iter().enumerate().map(|(i, &f)| { let r = t.narrow(0, i as i64, 1); if f { r.flip([3]) } else { r } }).collect::<Vec<_>>(), 0)
        };
        let (fp, fs): (Vec<bool>, Vec<bool>) = (0..cfg.batch).map(|_| (rng.gen_bool(0.5), rng.gen_bool(0.5))).unzip();
        let device = self.vs.device();
        let photos = channels_last(&flip(&ex.photos, &fp).to_device(device));
        let teacher_out = flip(&ex.teacher, &fp).to_device(device);
        let paintings = channels_last(&flip(&ex.paintings, &fs).to_device(device));

        self.opt.set_lr(cfg.lr_at(self.step));
        let adv_w = cfg.adv_weight_at(self.step);
        let vgg_feats = tch::no_grad(|| self.vgg.features(&photos, &STYLE_TAPS));
        let feats = self.net.encode(&photos);
        let style = self.net.style_code(&paintings);
        let out = decode_at(&self.net, &feats, &style, &ex.strengths);
        let (_, pixels, features) = distill_loss(&out, &teacher_out, &self.net.predict_vgg(&feats), &vgg_feats, 1.0);
        let mut total = &pixels * cfg.teacher_weight + &features * cfg.feature_weight;
        let mut l = DistillLosses::default();
        if cfg.identity_weight > 0.0 {
            let back = self.net.decode(&feats, &self.net.own_statistics(&feats, &style, 0.0), &style, 0.0);
            let loss_i = (back - &photos).abs().mean(tch::Kind::Float);
            l.identity = loss_i.double_value(&[]);
            total = total + loss_i * cfg.identity_weight;
        }
        // The GAN's and VGG16's terms are the teacher's at strength 1: its rows only.
        let full: Vec<i64> = (0..cfg.batch).filter(|&i| ex.strengths[i as usize] == 1.0).collect();
        let rows = |t: &Tensor| if full.len() as i64 == cfg.batch { t.shallow_clone() } else { t.index_select(0, &Tensor::from_slice(&full).to_device(device)) };
        let border = cfg.loss_border as i64;
        let (out_full, paintings_full) = (cut_margin(&rows(&out), border), rows(&paintings));

        if adv_w > 0.0 && !full.is_empty() {
            // Real crops the size of the fakes, so size tells D nothing.
            let real = self.d.forward(&cut_margin(&paintings_full, border), &self.vgg, true);
            let fake = self.d.forward(&out_full.detach(), &self.vgg, false);
            let loss_d = hinge_d(&real, &fake);
            self.opt_d.zero_grad();
            loss_d.backward();
            self.opt_d.step();
            l.d_loss = loss_d.double_value(&[]);
            l.d_acc = d_accuracy(&real, &fake);
            let loss_adv = hinge_g(&self.d.forward(&out_full, &self.vgg, false));
            l.adv_g = loss_adv.double_value(&[]);
            total = total + loss_adv * adv_w;
        }
        if cfg.uses_vgg_on_output() && !full.is_empty() {
            let out_feats = self.vgg.features(&out_full, &STYLE_TAPS);
            if cfg.perceptual_weight > 0.0 || cfg.texture_weight > 0.0 {
                let teacher_feats = tch::no_grad(|| self.vgg.features(&cut_margin(&rows(&teacher_out), border), &STYLE_TAPS));
                // Each term only where its weight is on: stages B-D have no texture term, and
                // its covariances at four taps (and their backward pass) are not free.
                if cfg.perceptual_weight > 0.0 {
                    let loss_p = feature_loss(&out_feats, &teacher_feats, &STYLE_TAPS);
                    l.perceptual = loss_p.double_value(&[]);
                    total = total + loss_p * cfg.perceptual_weight;
                }
                if cfg.texture_weight > 0.0 {
                    let loss_t = covariance_loss(&out_feats, &teacher_feats, &STYLE_TAPS);
                    l.texture = loss_t.double_value(&[]);
                    total = total + loss_t * cfg.texture_weight;
                }
            }
            if cfg.painting_texture_weight > 0.0 {
                let painting_feats = tch::no_grad(|| self.vgg.features(&cut_margin(&paintings_full, border), &STYLE_TAPS));
                let loss_pt = covariance_loss(&out_feats, &painting_feats, &STYLE_TAPS);
                l.painting_texture = loss_pt.double_value(&[]);
                total = total + loss_pt * cfg.painting_texture_weight;
            }
            if cfg.content_weight > 0.0 || cfg.style_weight > 0.0 {
                let code = tch::no_grad(|| StyleCode::from_images(&self.vgg, &paintings_full));
                // The content target from the same inner crop of the photo as the output's.
                let content = if border == 0 {
                    rows(&vgg_feats[3])
                } else {
                    tch::no_grad(|| self.vgg.features(&cut_margin(&rows(&photos), border), &[STYLE_TAPS[3]]).remove(0))
                };
                let target = Generator::target(&content, &code, 1.0);
                let loss_c = content_loss(&out_feats[3], &target);
                let loss_s = style_loss(&StyleCode::from_features(&out_feats), &code);
                l.content = loss_c.double_value(&[]);
                l.style = loss_s.double_value(&[]);
                total = total + loss_c * cfg.content_weight + loss_s * cfg.style_weight;
            }
        }
        self.opt.zero_grad();
        total.backward();
        self.opt.step();
        // The discriminator's gradients from the generator's term are dropped at its next zero_grad.
        l.teacher_l1 = pixels.double_value(&[]);
        l.features = features.double_value(&[]);
        self.step += 1;
        Ok(l)
    }

    /// Stylizes each of `photos` with each of `styles` (indices into the sets) at `size` px:
    /// the student's result, as `stylize run --model fast` makes it.
    pub fn preview(&self, photos: &[usize], styles: &[usize], size: u32) -> Vec<Vec<stylize_io::RgbImage>> {
        let device = self.vs.device();
        let codes: Vec<StyleCode> = styles.iter().map(|&s| tch::no_grad(|| self.net.style_code(&self.style.preview_tensor(s, size).to_device(device)))).collect();
        photos
            .iter()
            .map(|&p| {
                let x = self.content.preview_tensor(p, size).to_device(device);
                codes.iter().map(|c| crate::trainer::to_image(&self.net.stylize(&x, c, 1.0))).collect()
            })
            .collect()
    }

    /// Checkpoint: student, discriminator, both Adam states, step and config.
    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        let named = checkpoint::state(&[("s", &self.vs), ("d", &self.d_vs)], &[("opt", &self.opt), ("opt_d", &self.opt_d)]);
        checkpoint::write(dir, named, self.step, &self.cfg)
    }

    /// The shipped model: the student without its feature heads (training only), and
    /// `model.json` saying it is the fast kind, its teacher and how it was made.
    /// Writes the student as a model folder; `collection`: the paintings a fine-tune learnt
    /// (their codes already written there).
    pub fn export(&self, dir: &Path, teacher: &str, collection: Option<Collection>) -> Result<(), TrainError> {
        let named: Vec<(String, Tensor)> = self.vs.variables().into_iter().filter(|(k, _)| !k.starts_with("heads.")).collect();
        let info = ModelInfo {
            kind: ModelKind::Fast,
            decoder: None,
            fast: Some(self.cfg.fast),
            steps: self.step,
            train_config: serde_json::to_value(&self.cfg).expect("serialisable"),
            stylize_version: env!("CARGO_PKG_VERSION").to_string(),
            parent: Some(teacher.to_string()),
            collection,
        };
        Ok(save_weights(dir, &named, &info)?)
    }

    /// Restores a checkpoint written by `save` with the same networks.
    pub fn load(&mut self, dir: &Path) -> Result<(), TrainError> {
        let (saved, step): (DistillConfig, u64) = checkpoint::read_meta(dir)?;
        let mut map = checkpoint::read_tensors(dir)?;
        // Parts this config adds to the checkpoint's student (`FastConfig::grows`: the skips,
        // blocks at 1/4) keep their initial values, which leave the output as it was, and
        // Adam's moments for them start at zero: the student resumes exactly as it was.
        let vars = self.vs.variables();
        for k in self.cfg.fast.parts_added_to(&saved.fast) {
            let v = &vars[&k];
            map.insert(format!("s.{k}"), v.copy());
            for key in [format!("opt.m.{k}"), format!("opt.v.{k}")] {
                map.insert(key, v.zeros_like());
            }
        }
        checkpoint::restore(dir, &map, &[("s", &self.vs), ("d", &self.d_vs)], &mut [("opt", &mut self.opt), ("opt_d", &mut self.opt_d)])?;
        self.step = step;
        Ok(())
    }
}

/// The student's output for each row at its own strength (the decoder takes one strength per
/// call: rows sharing one go together).
fn decode_at(net: &FastNet, feats: &Features, style: &StyleCode, strengths: &[f64]) -> Tensor {
    if strengths.iter().all(|&s| s == strengths[0]) {
        let own = net.own_statistics(feats, style, strengths[0]);
        return net.decode(feats, &own, style, strengths[0]);
    }
    let rows: Vec<Tensor> = strengths
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let i = i as i64;
            let f = Features(feats.0.each_ref().map(|t| t.narrow(0, i, 1)), feats.1.narrow(0, i, 1));
            let st = style.narrow(i, 1);
            net.decode(&f, &net.own_statistics(&f, &st, s), &st, s)
        })
        .collect();
    Tensor::cat(&rows, 0)
}

/// Mean of loss rows over a logging window.
#[derive(Default)]
pub struct DistillMeter {
    sum: DistillLosses,
    n: u32,
}

impl DistillMeter {
    pub fn add(&mut self, l: &DistillLosses) {
        self.sum.add(l);
        self.n += 1;
    }

    pub fn take(&mut self) -> DistillLosses {
        let out = self.sum.scaled(1.0 / self.n.max(1) as f64);
        *self = Self::default();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_epoch_reads_the_pool_in_order_and_later_ones_permute_it() {
        assert_eq!(pool_indices(0, 4, 16, 1), vec![0, 1, 2, 3]);
        assert_eq!(pool_indices(3, 4, 16, 1), vec![12, 13, 14, 15]);
        let epoch1: Vec<u64> = (4..8).flat_map(|s| pool_indices(s, 4, 16, 1)).collect();
        let mut sorted = epoch1.clone();
        sorted.sort();
        assert_eq!(sorted, (0..16).collect::<Vec<_>>(), "each example once per epoch");
        assert_ne!(epoch1, (0..16).collect::<Vec<_>>());
        let epoch2: Vec<u64> = (8..12).flat_map(|s| pool_indices(s, 4, 16, 1)).collect();
        assert_ne!(epoch1, epoch2, "a new order each epoch");
    }

    #[test]
    fn the_shipped_stage_configs_parse_and_chain() {
        let read = |name: &str| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs").join(name);
            DistillConfig::from_toml(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let (a, b) = (read("fast-stage-a.toml"), read("fast-stage-b.toml"));
        assert!(!a.uses_vgg_on_output() && a.adv_weight == 0.0, "stage A is distillation only");
        assert!(b.uses_vgg_on_output() && b.adv_weight > 0.0);
        // B resumes A's checkpoint: the same networks, later steps, and A's pool.
        assert_eq!((a.fast, a.pool_spec()), (b.fast, b.pool_spec()));
        assert!(b.steps > a.steps && b.adv_start >= a.steps);
        // G2 grows D's student (--from); G3-G5 resume it in the same shape, on its pool.
        let (d, g2) = (read("fast-stage-d.toml"), read("fast-stage-g2.toml"));
        assert!(g2.fast.grows(&d.fast) && g2.fast != d.fast && g2.grown_lr_scale > 1.0);
        let mut prev = g2;
        for name in ["fast-stage-g3.toml", "fast-stage-g4.toml", "fast-stage-g5.toml"] {
            let next = read(name);
            assert_eq!((next.fast, next.pool_spec()), (prev.fast, prev.pool_spec()), "{name}");
            assert!(next.steps > prev.steps && next.lr_decay_from > prev.steps, "{name}");
            prev = next;
        }
        // The experiments after G5 (configs/experiments, not shipped) each resume G5, in its
        // shape or one that grows it (`grows` holds for both), on its pool (G12 on larger
        // crops: a pool of its own).
        for name in ["fast-g7.toml", "fast-g8.toml", "fast-g10.toml", "fast-g11.toml", "fast-g12.toml"] {
            let next = read(&format!("experiments/{name}"));
            assert!(next.fast.grows(&prev.fast), "{name}");
            assert!(next.pool_spec() == prev.pool_spec() || next.crop > prev.crop, "{name}");
            assert!(next.steps > prev.steps && next.lr_decay_from > prev.steps, "{name}");
        }
    }

    #[test]
    fn a_log_row_fills_the_header() {
        let l = DistillLosses { teacher_l1: 1.0, d_acc: 7.0, perceptual: 8.0, identity: 9.0, painting_texture: 10.0, ..Default::default() };
        let row = l.log_row(0.5, 0.25);
        let cols: Vec<&str> = DistillLosses::HEADER.split(',').skip(2).collect();
        assert_eq!(row.len(), cols.len());
        let at = |name: &str| row[cols.iter().position(|c| *c == name).unwrap()];
        assert_eq!((at("teacher_l1"), at("d_acc"), at("lr"), at("adv_weight"), at("perceptual"), at("identity")), (1.0, 7.0, 0.5, 0.25, 8.0, 9.0));
        assert_eq!(at("painting_texture"), 10.0);
    }

    #[test]
    fn schedules_and_validation() {
        let cfg = DistillConfig { steps: 100, lr_decay_from: 50, adam: AdamConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999 }, lr_end: 1e-4, ..Default::default() };
        assert_eq!(cfg.lr_at(10), 1e-3);
        assert!((cfg.lr_at(75) - 5.5e-4).abs() < 1e-12);
        assert!((cfg.lr_at(100) - 1e-4).abs() < 1e-12);
        assert_eq!(DistillConfig::default().adv_weight_at(1000), 0.0, "stage A has no discriminator");
        let b = DistillConfig { adv_weight: 0.2, adv_start: 10, adv_ramp: 10, ..Default::default() };
        assert_eq!(b.adv_weight_at(9), 0.0);
        assert!((b.adv_weight_at(14) - 0.1).abs() < 1e-12);
        assert!(DistillConfig::from_toml("pool = 12").unwrap_err().contains("multiple of batch"));
        assert!(DistillConfig::from_toml("poool = 16").unwrap_err().contains("poool"));
        assert_eq!(DistillConfig::from_toml("[fast]\nchannels = [8, 16, 32]").unwrap().fast.channels, [8, 16, 32]);
        assert!(!DistillConfig::default().uses_vgg_on_output(), "stage A has no VGG16 on the student");
        assert!(DistillConfig::from_toml("painting_texture_weight = 4.0").unwrap().uses_vgg_on_output());
    }
}
