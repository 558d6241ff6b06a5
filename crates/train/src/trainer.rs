//! One adversarial training step, and the state that makes a run resumable bit for bit.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use stylize_model::losses::{colour_loss, content_loss, d_accuracy, hinge_d, hinge_g, identity_loss, style_loss};
use stylize_model::optim::Adam;
use stylize_model::style::STYLE_TAPS;
use stylize_model::{with_precision, Discriminator, Generator, StyleCode, Vgg16};
use tch::{nn, Device, Kind, Tensor};

use crate::data::ImageSet;
use crate::TrainConfig;

/// Loss values of one step (for logs and the progress bar).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepLosses {
    pub content: f64,
    pub style: f64,
    pub adv_g: f64,
    pub identity: f64,
    pub d_loss: f64,
    pub d_acc: f64,
}

pub struct Trainer {
    pub cfg: TrainConfig,
    pub vgg: Vgg16,
    pub g: Generator,
    pub d_vs: nn::VarStore,
    d: Discriminator,
    pub(crate) opt_g: Adam,
    pub(crate) opt_d: Adam,
    /// Steps completed.
    pub step: u64,
    pub content: ImageSet,
    pub style: ImageSet,
}

impl Trainer {
    pub fn new(cfg: TrainConfig, vgg: Vgg16, content: ImageSet, style: ImageSet, device: Device) -> Self {
        // Initial weights depend on the seed alone.
        tch::manual_seed(cfg.seed as i64);
        let g = Generator::new(device, cfg.decoder);
        let d_vs = nn::VarStore::new(device);
        let d = Discriminator::new(d_vs.root() / "disc", &cfg.discriminator);
        let opt_g = Adam::new(&g.vs, cfg.generator_adam);
        let opt_d = Adam::new(&d_vs, cfg.discriminator_adam);
        Self { cfg, vgg, g, d_vs, d, opt_g, opt_d, step: 0, content, style }
    }

    /// Whether step `step` trains the identity row.
    pub fn identity_at(&self, step: u64) -> bool {
        self.cfg.identity_weight > 0.0 && step % self.cfg.identity_every == 0
    }

    /// One step: a discriminator update, then a generator update.
    pub fn train_step(&mut self) -> StepLosses {
        let mut rng = seed_step(self.cfg.seed, self.step);
        let cfg = self.cfg.clone();
        let crop = cfg.crop_at(self.step);
        let device = self.g.vs.device();
        let min_zoom = cfg.min_zoom();
        let photos = self.content.batch(&mut rng, cfg.batch, crop, min_zoom).to_device(device);
        let paintings = self.style.batch(&mut rng, cfg.batch, crop, min_zoom).to_device(device);
        let identity_row = self.identity_at(self.step);
        let adv_w = cfg.adv_weight_at(self.step);
        let d_only = self.step < cfg.d_only_steps;
        let (vgg, g, d) = (&self.vgg, &self.g, &self.d);
        let (opt_g, opt_d) = (&mut self.opt_g, &mut self.opt_d);

        let losses = with_precision(cfg.precision, || {
            let (feats, own, code) = tch::no_grad(|| {
                let (feats, own) = Generator::encode(vgg, &photos);
                (feats, own, StyleCode::from_images(vgg, &paintings))
            });
            // Row 0 of identity steps takes the photo's own statistics: AdaIN then returns its
            // features, and the decoder learns to invert them.
            let code = if identity_row { StyleCode::cat(&[&own.narrow(0, 1), &code.narrow(1, cfg.batch - 1)]) } else { code };
            let target = Generator::target(&feats[3], &code, 1.0);
            let skips = g.skip_targets(&feats, &own, &code, 1.0);
            let decode = || g.decode(&target, &code, &skips).to_kind(Kind::Float);
            // While only the discriminator trains, the generator's outputs are its inputs alone.
            let out = if d_only { tch::no_grad(decode) } else { decode() };
            // Rows the style and adversarial terms apply to.
            let first = if identity_row { 1 } else { 0 };
            let n = cfg.batch - first;
            let styled = out.narrow(0, first, n);

            let mut l = StepLosses::default();
            if adv_w > 0.0 || d_only {
                let real = d.forward(&paintings, vgg, true);
                let fake = d.forward(&styled.detach(), vgg, false);
                let loss_d = hinge_d(&real, &fake);
                opt_d.zero_grad();
                loss_d.backward();
                opt_d.step();
                l.d_loss = loss_d.double_value(&[]);
                l.d_acc = d_accuracy(&real, &fake);
            }

            if d_only {
                return l;
            }
            let feats = vgg.features(&styled, &STYLE_TAPS);
            let loss_c = content_loss(&feats[3], &target.narrow(0, first, n));
            let loss_s = style_loss(&StyleCode::from_features(&feats), &code.narrow(first, n));
            let mut total = &loss_c * cfg.content_weight + &loss_s * cfg.style_weight;
            if adv_w > 0.0 {
                let loss_adv = hinge_g(&d.forward(&styled, vgg, false));
                l.adv_g = loss_adv.double_value(&[]);
                total = total + loss_adv * adv_w;
            }
            if identity_row {
                let (decoded, photo) = (out.narrow(0, 0, 1), photos.narrow(0, 0, 1));
                let loss_id = identity_loss(&decoded, &photo);
                l.identity = loss_id.double_value(&[]);
                total = total + loss_id * cfg.identity_weight;
                if cfg.identity_colour_weight > 0.0 {
                    total = total + colour_loss(&decoded, &photo) * cfg.identity_colour_weight;
                }
            }
            opt_g.zero_grad();
            total.backward();
            opt_g.step();
            l.content = loss_c.double_value(&[]);
            l.style = loss_s.double_value(&[]);
            l
        });
        self.step += 1;
        losses
    }

    /// Stylizes each of `photos` with each of `styles` (indices into the sets), at `size` px.
    pub fn preview(&self, photos: &[usize], styles: &[usize], size: u32) -> Vec<Vec<stylize_io::RgbImage>> {
        let device = self.g.vs.device();
        let codes: Vec<StyleCode> =
            styles.iter().map(|&s| StyleCode::from_images(&self.vgg, &self.style.preview_tensor(s, size).to_device(device))).collect();
        photos
            .iter()
            .map(|&p| {
                let x = self.content.preview_tensor(p, size).to_device(device);
                codes.iter().map(|c| to_image(&self.g.stylize(&self.vgg, &x, c, 1.0))).collect()
            })
            .collect()
    }
}

/// Every random draw of step `step` comes from generators seeded by (seed, step): libtorch's
/// (seeded here) and the returned one, so a resumed run draws exactly what an uninterrupted
/// one would.
pub(crate) fn seed_step(seed: u64, step: u64) -> ChaCha8Rng {
    let s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ step.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    tch::manual_seed((s >> 1) as i64);
    ChaCha8Rng::seed_from_u64(s)
}

/// A (1,3,H,W) tensor in 0..1 as an image.
pub fn to_image(t: &Tensor) -> stylize_io::RgbImage {
    let (px, h, w) = stylize_model::convert::tensor_to_rgb8(t);
    stylize_io::RgbImage::from_raw(w, h, px).expect("buffer matches its size")
}
