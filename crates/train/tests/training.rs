//! Training behaviour on tiny real data: the loss falls, a resumed run takes the identical next
//! step, bf16 losses track f32, the discriminator learns to separate, and folders are checked.

use std::path::{Path, PathBuf};

use stylize_model::losses::style_loss;
use stylize_model::style::STYLE_TAPS;
use stylize_model::{Discriminator, DiscriminatorConfig, DiscriminatorKind, Generator, Precision, StyleCode, Vgg16};
use stylize_train::data::ImageSet;
use stylize_train::{checkpoint, StepLosses, TrainConfig, Trainer};
use tch::{nn, Device, Kind, Tensor};

/// libtorch's random generator is process-wide and tests run on parallel threads: each test
/// that trains holds this lock, so no other test draws from the generator mid-step.
static TORCH_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples")
}

fn vgg() -> Vgg16 {
    Vgg16::load(&stylize_weights::vgg16_path().unwrap(), Device::Cpu).expect("real VGG16 weights: run `stylize setup`")
}

/// A few real photos and paintings, small.
fn tiny_set(sub: &str, names: &[&str]) -> ImageSet {
    let dir = data_dir().join(sub);
    let images = names
        .iter()
        .map(|n| stylize_io::resize_to_short_side(&stylize_io::load(&dir.join(n), &Default::default()).unwrap().rgb, 96, true))
        .collect();
    ImageSet { images, names: names.iter().map(|s| s.to_string()).collect() }
}

fn photos() -> ImageSet {
    tiny_set("photos", &["cat.jpg", "bent_pyramid.jpg", "berlin_cathedral.jpg"])
}

fn paintings() -> ImageSet {
    tiny_set(
        "paintings",
        &["hokusai_great_wave.jpg", "durer_lion.jpg"],
    )
}

fn tiny_config() -> TrainConfig {
    let mut cfg = TrainConfig { steps: 40, batch: 2, crop: 64, warmup_crop: 64, warmup_steps: 0, short_side: 96, adv_start: 5, adv_ramp: 5, identity_every: 3, precision: Precision::F32, ..Default::default() };
    // The shipped architecture (width 1, multi-level); 64 px crops keep it fast.
    cfg.discriminator.channels = 8;
    cfg.generator_adam.lr = 1e-3;
    cfg
}

fn weighted(cfg: &TrainConfig, l: &StepLosses) -> f64 {
    cfg.content_weight * l.content + cfg.style_weight * l.style
}

#[test]
fn a_short_run_lowers_the_perceptual_loss() {
    let _serial = serial();
    let cfg = tiny_config();
    let mut t = Trainer::new(cfg.clone(), vgg(), photos(), paintings(), Device::Cpu);
    let losses: Vec<f64> = (0..cfg.steps).map(|_| weighted(&cfg, &t.train_step())).collect();
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let (first, last) = (mean(&losses[..8]), mean(&losses[losses.len() - 8..]));
    assert!(losses.iter().all(|l| l.is_finite()));
    assert!(last < 0.5 * first, "loss should at least halve in {} steps: first {first:.3}, last {last:.3}", cfg.steps);
}

#[test]
fn a_short_fine_tune_matches_its_paintings_better_than_its_parent() {
    let _serial = serial();
    let (parent, _) = stylize_model::load_model(&data_dir().join("../models/default"), Device::Cpu).unwrap();
    let mut cfg = TrainConfig { steps: 60, batch: 2, crop: 64, warmup_crop: 64, warmup_steps: 0, short_side: 96, adv_start: 0, adv_ramp: 1, identity_every: 1000, precision: Precision::F32, ..Default::default() };
    cfg.decoder = parent.cfg;
    cfg.generator_adam.lr = 1e-4;
    cfg.discriminator.channels = 16;
    let mut t = Trainer::new(cfg.clone(), vgg(), photos(), paintings(), Device::Cpu);
    tch::no_grad(|| t.g.vs.copy(&parent.vs)).unwrap();
    for _ in 0..cfg.steps {
        t.train_step();
    }
    // On a fixed batch the run never drew, the fine-tune's outputs carry its paintings'
    // statistics more closely than the parent's. (Its discriminator is still near chance after
    // 60 steps, so the adversarial term's effect is measured on real runs: bench/artist.sh.)
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(77);
    let (x, s) = (t.content.batch(&mut rng, 4, 64, 1.0), t.style.batch(&mut rng, 4, 64, 1.0));
    let style_of = |g: &Generator| {
        tch::no_grad(|| {
            let (feats, own) = Generator::encode(&t.vgg, &x);
            let code = StyleCode::from_images(&t.vgg, &s);
            let out = g.decode(&Generator::target(&feats[3], &code, 1.0), &code, &g.skip_targets(&feats, &own, &code, 1.0));
            style_loss(&StyleCode::from_features(&t.vgg.features(&out, &STYLE_TAPS)), &code).double_value(&[])
        })
    };
    let (before, after) = (style_of(&parent), style_of(&t.g));
    assert!(after < 0.9 * before, "style loss on unseen crops: parent {before:.4}, fine-tune {after:.4}");
}

#[test]
fn the_discriminator_alone_trains_for_d_only_steps_and_then_the_generator_too() {
    let _serial = serial();
    let cfg = TrainConfig { steps: 6, d_only_steps: 3, adv_start: 3, adv_ramp: 1, ..tiny_config() };
    let mut t = Trainer::new(cfg.clone(), vgg(), photos(), paintings(), Device::Cpu);
    let snapshot = |vs: &nn::VarStore| vs.variables().into_iter().map(|(k, v)| (k, v.copy())).collect::<std::collections::BTreeMap<_, _>>();
    let changed = |before: &std::collections::BTreeMap<String, Tensor>, vs: &nn::VarStore| {
        vs.variables().iter().any(|(k, v)| !v.equal(&before[k]))
    };
    let (g0, d0) = (snapshot(&t.g.vs), snapshot(&t.d_vs));
    for _ in 0..cfg.d_only_steps {
        let l = t.train_step();
        // No generator terms were computed; the discriminator's were.
        assert_eq!((l.content, l.style, l.adv_g), (0.0, 0.0, 0.0));
        assert!(l.d_loss > 0.0);
    }
    assert!(!changed(&g0, &t.g.vs), "the generator moved while only the discriminator trains");
    assert!(changed(&d0, &t.d_vs), "the discriminator did not train");
    let l = t.train_step();
    assert!(l.content > 0.0 && l.style > 0.0 && l.adv_g != 0.0);
    assert!(changed(&g0, &t.g.vs), "the generator did not train after d_only_steps");
}

#[test]
fn a_resumed_run_takes_the_identical_next_step() {
    let _serial = serial();
    let cfg = tiny_config();
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("ckpt");
    let mut a = Trainer::new(cfg.clone(), vgg(), photos(), paintings(), Device::Cpu);
    for _ in 0..7 {
        a.train_step();
    }
    checkpoint::save(&a, &ckpt).unwrap();
    let next_a = a.train_step();

    // A fresh trainer with another seed's initial weights, then the checkpoint.
    let mut b = Trainer::new(TrainConfig { seed: 99, ..cfg.clone() }, vgg(), photos(), paintings(), Device::Cpu);
    checkpoint::load(&mut b, &ckpt).unwrap();
    b.cfg.seed = cfg.seed;
    assert_eq!(b.step, 7);
    let next_b = b.train_step();
    assert_eq!(next_a, next_b, "losses of the step after resuming");
    for ((name, va), (_, vb)) in sorted(&a.g.vs).iter().zip(sorted(&b.g.vs).iter()) {
        assert!(va.equal(vb), "generator weight {name} differs after the resumed step");
    }
    for ((name, va), (_, vb)) in sorted(&a.d_vs).iter().zip(sorted(&b.d_vs).iter()) {
        assert!(va.equal(vb), "discriminator variable {name} differs after the resumed step");
    }
}

#[test]
fn content_skips_added_on_resume_start_from_the_same_model() {
    let _serial = serial();
    let cfg = tiny_config();
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("ckpt");
    let mut a = Trainer::new(cfg.clone(), vgg(), photos(), paintings(), Device::Cpu);
    for _ in 0..4 {
        a.train_step();
    }
    checkpoint::save(&a, &ckpt).unwrap();
    let next_a = a.train_step();

    let mut with_skips = cfg.clone();
    with_skips.decoder.skips = true;
    let mut b = Trainer::new(with_skips, vgg(), photos(), paintings(), Device::Cpu);
    checkpoint::load(&mut b, &ckpt).unwrap();
    // The skip convs start at zero: the same losses as without them; then they learn.
    let next_b = b.train_step();
    assert_eq!((next_a.content, next_a.style), (next_b.content, next_b.style));
    let skip = b.g.vs.variables()["decoder.skip0.weight"].abs().max().double_value(&[]);
    assert!(skip > 0.0, "the skip conv moved off zero");
}

fn sorted(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<_> = vs.variables().into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn bf16_losses_track_f32() {
    let _serial = serial();
    let cfg = tiny_config();
    let mut f32_run = Trainer::new(cfg.clone(), vgg(), photos(), paintings(), Device::Cpu);
    let mut bf16_run = Trainer::new(TrainConfig { precision: Precision::Bf16, ..cfg.clone() }, vgg(), photos(), paintings(), Device::Cpu);
    // The first step's losses are computed before any update: same weights, same batch.
    let (a, b) = (f32_run.train_step(), bf16_run.train_step());
    for (name, x, y) in [("content", a.content, b.content), ("style", a.style, b.style), ("identity", a.identity, b.identity)] {
        let rel = (x - y).abs() / x.abs().max(1e-6);
        assert!(rel < 0.05, "{name}: f32 {x} vs bf16 {y} (rel {rel:.4})");
    }
}

#[test]
fn both_discriminator_kinds_separate_stripes_from_smooth_noise() {
    let _serial = serial();
    let vgg = vgg();
    for kind in [DiscriminatorKind::Pixels, DiscriminatorKind::Vgg] {
        tch::manual_seed(3);
        let vs = nn::VarStore::new(Device::Cpu);
        let d = Discriminator::new(vs.root(), &DiscriminatorConfig { channels: 8, scales: 2, kind, colour_jitter: true });
        let mut opt = stylize_model::optim::Adam::new(&vs, stylize_model::optim::AdamConfig { lr: 2e-3, beta1: 0.5, beta2: 0.999 });
        let stripes = |n: i64| {
            let x = Tensor::arange(32, (Kind::Float, Device::Cpu)).view([1, 1, 1, 32]);
            let phase = Tensor::rand([n, 1, 1, 1], (Kind::Float, Device::Cpu)) * 6.28;
            ((x * 1.2 + phase).sin() * 0.5 + 0.5).expand([n, 3, 32, 32], false)
        };
        let smooth = |n: i64| Tensor::rand([n, 3, 4, 4], (Kind::Float, Device::Cpu)).upsample_bilinear2d([32, 32], false, None, None);
        for _ in 0..60 {
            let loss = stylize_model::losses::hinge_d(&d.forward(&stripes(8), &vgg, true), &d.forward(&smooth(8), &vgg, false));
            opt.zero_grad();
            loss.backward();
            opt.step();
        }
        // Through DiffAugment, as in training (a cutout can hide a patch's stripes).
        let acc = tch::no_grad(|| stylize_model::losses::d_accuracy(&d.forward(&stripes(16), &vgg, false), &d.forward(&smooth(16), &vgg, false)));
        assert!(acc > 0.95, "{kind:?}: held-out accuracy {acc}");
    }
}

#[test]
fn folders_without_usable_images_are_clear_errors() {
    let empty = tempfile::tempdir().unwrap();
    let e = ImageSet::load_dir(empty.path(), 64, 64).err().unwrap().to_string();
    assert!(e.contains(&empty.path().display().to_string()) && e.contains("no image files"), "{e}");

    std::fs::write(empty.path().join("broken.jpg"), b"not a jpeg").unwrap();
    let e = ImageSet::load_dir(empty.path(), 64, 64).err().unwrap().to_string();
    assert!(e.contains("none of its 1 image files could be used"), "{e}");

    let e = ImageSet::load_dir(&empty.path().join("missing"), 64, 64).err().unwrap().to_string();
    assert!(e.contains("missing"), "{e}");

    // Real photos but a minimum side larger than all of them.
    let e = ImageSet::load_dir(&data_dir().join("paintings"), 512, 5000).err().unwrap().to_string();
    assert!(e.contains("could be used"), "{e}");
}
