//! Training settings: a typed struct, read from TOML (unknown keys are errors), written as JSON
//! into every checkpoint and exported model.

use serde::{Deserialize, Serialize};
use stylize_model::optim::AdamConfig;
use stylize_model::{DecoderConfig, DiscriminatorConfig, Precision};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Total optimisation steps.
    pub steps: u64,
    /// Images per step (photos; as many paintings).
    pub batch: i64,
    /// Square crop size in pixels, after `warmup_steps`.
    pub crop: u32,
    /// Smaller crops first: 4x cheaper steps while the decoder learns coarse inversion.
    pub warmup_crop: u32,
    pub warmup_steps: u64,
    /// Images are resized so their short side is this, before cropping.
    pub short_side: u32,
    /// If set (0 = off), each crop comes from its image at a random short side between this
    /// and `short_side`, so the decoder also sees whole objects small, as in photos
    /// stylized at 256-512 px. Must be at least the crop sizes.
    pub min_short_side: u32,
    pub generator_adam: AdamConfig,
    pub discriminator_adam: AdamConfig,
    pub content_weight: f64,
    pub style_weight: f64,
    /// Adversarial weight once ramped up; 0 before `adv_start`, linear ramp over `adv_ramp`.
    pub adv_weight: f64,
    pub adv_start: u64,
    pub adv_ramp: u64,
    /// Steps at the start in which only the discriminator trains: the artist's paintings against
    /// the generator's outputs, which stay the parent's. A fresh discriminator learns slowly
    /// (the default model's took ~6,000 steps to pass 55% accuracy), so in a fine-tune of a few
    /// hundred steps it stayed at chance, and its term was noise. 0 = off.
    pub d_only_steps: u64,
    /// Pixel L1 of the photo decoded from its own features (row 0 of every `identity_every`-th step).
    pub identity_weight: f64,
    pub identity_every: u64,
    /// L1 of 8x8 block means (colours and brightness) on the identity row, beside the pixel L1.
    /// 0 by default; stage 4 of the default model turned it on because the pixel L1 alone let
    /// decoded photos drift darker (see models/default/MODEL_CARD.md).
    pub identity_colour_weight: f64,
    pub precision: Precision,
    pub decoder: DecoderConfig,
    pub discriminator: DiscriminatorConfig,
    pub seed: u64,
    /// The model this run started from (`stylize train --from`), recorded in the exported
    /// model.json as its parent; None: trained from scratch.
    pub from: Option<String>,
    pub checkpoint_every: u64,
    pub preview_every: u64,
    pub log_every: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            steps: 8000,
            batch: 4,
            crop: 256,
            warmup_crop: 128,
            warmup_steps: 1500,
            short_side: 512,
            min_short_side: 0,
            generator_adam: AdamConfig { lr: 2e-4, beta1: 0.5, beta2: 0.999 },
            discriminator_adam: AdamConfig { lr: 2e-4, beta1: 0.5, beta2: 0.999 },
            content_weight: 1.0,
            style_weight: 10.0,
            adv_weight: 0.5,
            adv_start: 500,
            adv_ramp: 1000,
            d_only_steps: 0,
            identity_weight: 5.0,
            identity_every: 4,
            identity_colour_weight: 0.0,
            precision: Precision::Bf16,
            decoder: DecoderConfig::default(),
            discriminator: DiscriminatorConfig::default(),
            seed: 1,
            from: None,
            checkpoint_every: 100,
            preview_every: 250,
            log_every: 10,
        }
    }
}

/// A run's settings as a TOML file: parsed (unknown keys are errors), then validated.
pub trait TomlConfig: serde::de::DeserializeOwned {
    /// A one-line reason when the settings cannot work together.
    fn validate(&self) -> Result<(), String>;

    fn from_toml(text: &str) -> Result<Self, String> {
        let cfg: Self = toml::from_str(text).map_err(|e| e.message().to_string())?;
        cfg.validate()?;
        Ok(cfg)
    }
}

/// `Err(msg)` unless `ok`: one rule of a `validate`.
pub(crate) fn check(ok: bool, msg: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(msg.to_string()) }
}

impl TomlConfig for TrainConfig {
    fn validate(&self) -> Result<(), String> {
        check(self.batch >= 1, "batch must be at least 1")?;
        check(self.crop >= 64 && self.crop % 8 == 0, "crop must be a multiple of 8, at least 64")?;
        check(self.warmup_crop >= 64 && self.warmup_crop % 8 == 0, "warmup_crop must be a multiple of 8, at least 64")?;
        check(self.short_side >= self.crop.max(self.warmup_crop), "short_side must be at least the crop size")?;
        check(
            self.min_short_side == 0 || (self.min_short_side >= self.crop.max(self.warmup_crop) && self.min_short_side <= self.short_side),
            "min_short_side must be 0 (off) or between the crop size and short_side",
        )?;
        check(self.checkpoint_every >= 1 && self.log_every >= 1 && self.preview_every >= 1, "*_every must be at least 1")?;
        check(self.identity_colour_weight >= 0.0, "identity_colour_weight must not be negative")?;
        check(self.identity_every >= 1, "identity_every must be at least 1")?;
        check(self.decoder.width > 0.0, "decoder.width must be positive")?;
        check(!self.decoder.multilevel || self.decoder.width == 1.0, "decoder.multilevel needs decoder.width = 1.0")?;
        check(
            self.d_only_steps < self.steps,
            &format!("{} steps leave none for the generator after d_only_steps = {} (the discriminator's warm-up)", self.steps, self.d_only_steps),
        )?;
        Ok(())
    }
}

impl TrainConfig {
    /// Crop size at `step`.
    pub fn crop_at(&self, step: u64) -> u32 {
        if step < self.warmup_steps { self.warmup_crop } else { self.crop }
    }

    /// The smallest zoom of a training crop (1 = one scale): `min_short_side / short_side`.
    pub fn min_zoom(&self) -> f64 {
        min_zoom(self.min_short_side, self.short_side)
    }

    /// Adversarial weight at `step`.
    pub fn adv_weight_at(&self, step: u64) -> f64 {
        ramp(self.adv_weight, self.adv_start, self.adv_ramp, step)
    }
}

/// `min_short_side / short_side`, or 1 (one scale) when `min_short_side` is 0 (off).
pub(crate) fn min_zoom(min_short_side: u32, short_side: u32) -> f64 {
    if min_short_side == 0 { 1.0 } else { min_short_side as f64 / short_side as f64 }
}

/// A weight that is 0 before `start` and rises linearly to `weight` over `ramp` steps.
pub(crate) fn ramp(weight: f64, start: u64, ramp: u64, step: u64) -> f64 {
    if step < start { 0.0 } else { weight * ((step - start + 1) as f64 / ramp.max(1) as f64).min(1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_defaults_and_rejects_unknown_keys() {
        let cfg = TrainConfig::from_toml("steps = 10\nbatch = 2\n[decoder]\nwidth = 0.5\nmultilevel = false\n").unwrap();
        assert!(TrainConfig::from_toml("[decoder]\nwidth = 0.5\n").unwrap_err().contains("multilevel"));
        assert_eq!((cfg.steps, cfg.batch, cfg.decoder.width), (10, 2, 0.5));
        assert_eq!(cfg.crop, TrainConfig::default().crop);
        let e = TrainConfig::from_toml("stepz = 10").unwrap_err();
        assert!(e.contains("stepz"), "{e}");
        assert!(TrainConfig::from_toml("crop = 100").unwrap_err().contains("multiple of 8"));
        assert!(TrainConfig::from_toml("min_short_side = 100").unwrap_err().contains("min_short_side"));
        assert!(TrainConfig::from_toml("steps = 300\nd_only_steps = 300").unwrap_err().contains("d_only_steps = 300"));
        assert_eq!(TrainConfig::from_toml("min_short_side = 256\ncrop = 128").unwrap().min_zoom(), 0.5);
        assert_eq!(TrainConfig::default().min_zoom(), 1.0);
    }

    #[test]
    fn schedules() {
        let cfg = TrainConfig { adv_start: 10, adv_ramp: 10, adv_weight: 1.0, warmup_steps: 5, ..Default::default() };
        assert_eq!(cfg.adv_weight_at(9), 0.0);
        assert!((cfg.adv_weight_at(14) - 0.5).abs() < 1e-12);
        assert_eq!(cfg.adv_weight_at(100), 1.0);
        assert_eq!(cfg.crop_at(4), cfg.warmup_crop);
        assert_eq!(cfg.crop_at(5), cfg.crop);
    }
}
