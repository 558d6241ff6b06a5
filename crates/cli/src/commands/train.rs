use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use stylize_model::{DecoderConfig, Precision, Vgg16};
use stylize_train::data::ImageSet;
use stylize_model::{save_model, ModelInfo, StyleCode};
use stylize_train::{checkpoint, log, TomlConfig, TrainConfig, Trainer};
use tch::Device;

use super::collection::Paintings;
use crate::exit::BadInput;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  stylize train --content photos/ --style monet/ --out runs/monet\n  stylize train --content photos/ --style monet/ --out runs/monet --resume     (continue after Ctrl-C)\n  stylize train --content photos/ --style monet/ --out runs/monet --config my.toml --steps 2000\n\nThe run folder gets: ckpt/ (resumable state), model/ (use with `stylize run --model`),\nlog.csv, loss.png and previews/step_NNNNNN.png (fixed photos x fixed paintings).")]
pub struct Args {
    #[command(flatten)]
    run: super::RunArgs,
    /// Fine-tune this model instead of starting from scratch: default, or a VGG16 model's
    /// folder. Its decoder is loaded as it is; the discriminator starts fresh on --style's
    /// paintings. Use with a short schedule, e.g. --config configs/finetune.toml. (A fast
    /// model is distilled from the fine-tune: `stylize distill --from`.)
    #[arg(long, value_name = "MODEL")]
    from: Option<PathBuf>,
    /// Override the random seed
    #[arg(long)]
    seed: Option<u64>,
    /// Override the precision: bf16 (autocast, faster on CPUs with AVX512-BF16 or AMX) or f32
    #[arg(long)]
    precision: Option<Precision>,
}

pub fn run(args: Args) -> Result<()> {
    let ckpt_dir = args.run.out.join("ckpt");
    let file_cfg: Option<TrainConfig> = args.run.file_config()?;
    let (mut cfg, resumed_step) = if args.run.resume {
        let (old, step) = checkpoint::read_config(&ckpt_dir).with_context(|| format!("--resume: no checkpoint in {}", args.run.out.display()))?;
        match file_cfg {
            // A schedule change (learning rate, weights, crops) from here on; the weights and
            // optimiser state carry over, so the networks must be the same shape.
            Some(new) => {
                // The one change of shape allowed: content skips added (they start at zero).
                let adds_skips = new.decoder.skips && !old.decoder.skips && DecoderConfig { skips: false, ..new.decoder } == old.decoder;
                if (new.decoder != old.decoder && !adds_skips) || new.discriminator != old.discriminator {
                    return Err(BadInput(
                        "--resume --config: [decoder] and [discriminator] must match the checkpoint's (or only add skips = true)".into(),
                    )
                    .into());
                }
                if adds_skips {
                    eprintln!("adding content skips to the decoder: they start at zero, so training goes on from the same model");
                }
                eprintln!("resuming at step {step} with a new config (earlier steps used the checkpoint's)");
                (new, Some(step))
            }
            None => (old, Some(step)),
        }
    } else {
        (file_cfg.unwrap_or_default(), None)
    };
    if let Some(s) = args.run.steps {
        cfg.steps = s;
    }
    if args.run.resume && args.from.is_some() {
        return Err(BadInput("--from starts a fine-tune; --resume continues one (its parent is in the checkpoint)".into()).into());
    }
    // The parent's decoder, to be loaded once the trainer exists; its shape replaces the config's.
    let parent = match &args.from {
        Some(from) => {
            let dir = super::run::model_dir(Some(from));
            if stylize_model::model_dir::read_info(&dir).is_ok_and(|i| i.kind == stylize_model::ModelKind::Fast) {
                return Err(BadInput(format!(
                    "--from {}: a fast model learns from a teacher; fine-tune a VGG16 model (--from default), then distil it: stylize distill --from {} --teacher <the fine-tune's model folder>",
                    from.display(),
                    from.display()
                ))
                .into());
            }
            let (generator, info) = stylize_model::load_model(&dir, Device::Cpu)?;
            cfg.decoder = generator.cfg;
            cfg.from = Some(from.display().to_string());
            eprintln!("fine-tuning {} ({} steps)", dir.display(), info.steps);
            Some(generator)
        }
        None => None,
    };
    if !args.run.resume {
        if let Some(s) = args.seed {
            cfg.seed = s;
        }
        if let Some(p) = args.precision {
            cfg.precision = p;
        }
        if ckpt_dir.exists() {
            return Err(BadInput(format!("{} already holds a run: pass --resume to continue it, or choose another --out", args.run.out.display())).into());
        }
    }
    cfg.validate().map_err(BadInput)?;

    let device = Device::cuda_if_available();
    let vgg = Vgg16::load(&stylize_weights::vgg16_path()?, device)?;
    let min_side = cfg.crop.max(cfg.warmup_crop);
    let content = ImageSet::load_dir(&args.run.content, cfg.short_side, min_side)?;
    let style = ImageSet::load_dir(&args.run.style, cfg.short_side, min_side)?;
    eprintln!("training on {} photos and {} paintings, {device:?}, {:?}", content.len(), style.len(), cfg.precision);
    std::fs::create_dir_all(args.run.out.join("previews")).with_context(|| format!("cannot create {}", args.run.out.display()))?;

    let mut trainer = Trainer::new(cfg.clone(), vgg, content, style, device);
    if let Some(parent) = &parent {
        // Copied into the trainer's own variables, which its optimiser already holds.
        tch::no_grad(|| trainer.g.vs.copy(&parent.vs))?;
    }
    // A fine-tune remembers its paintings' styles (VGG16 is frozen: computed once).
    let collection = match &trainer.cfg.from {
        Some(_) => {
            let paintings = Paintings::read(&args.run.style, device)?;
            let codes = paintings.codes(|t| StyleCode::from_images(&trainer.vgg, t));
            Some(FineTuneCollection { paintings, codes })
        }
        None => None,
    };
    let log_path = args.run.out.join("log.csv");
    if let Some(step) = resumed_step {
        checkpoint::load(&mut trainer, &ckpt_dir)?;
        log::truncate_after(&log_path, step)?;
        eprintln!("resumed at step {step}");
    }

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // First Ctrl-C: finish the step, checkpoint, exit. The handler is process-wide.
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));

    let pb = ProgressBar::new(cfg.steps).with_position(trainer.step);
    pb.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} {per_sec} ETA {eta} {msg}").expect("valid template"));
    let started = Instant::now();
    let elapsed_before = log::elapsed_so_far(&log_path);
    let mut meter = log::LossMeter::default();
    let quiet_bar = pb.is_hidden();
    while trainer.step < cfg.steps {
        let crop = cfg.crop_at(trainer.step);
        let adv_w = cfg.adv_weight_at(trainer.step);
        let had_identity = trainer.identity_at(trainer.step);
        let l = trainer.train_step();
        meter.add(&l, had_identity);
        let step = trainer.step;
        pb.set_position(step);
        pb.set_message(format!("c {:.3} s {:.3} adv {:.3} id {:.3} D {:.3} acc {:.2}", l.content, l.style, l.adv_g, l.identity, l.d_loss, l.d_acc));
        if step % cfg.log_every == 0 {
            let avg = meter.take();
            let seconds = elapsed_before + started.elapsed().as_secs_f64();
            log::append(&log_path, step, seconds, crop, &avg, adv_w)?;
            if quiet_bar {
                // No terminal (a background run with a log file): one line per logged window.
                eprintln!("step {step}/{} {seconds:.0}s content {:.3} style {:.3} adv {:.3} identity {:.3} D {:.3} acc {:.2}", cfg.steps, avg.content, avg.style, avg.adv_g, avg.identity, avg.d_loss, avg.d_acc);
            }
        }
        let stopping = stop.load(Ordering::SeqCst);
        if step % cfg.preview_every == 0 || step == cfg.steps {
            super::write_preview(&trainer.content, &trainer.style, |p, s, size| trainer.preview(p, s, size), &args.run.out.join("previews").join(format!("step_{step:06}.png")))?;
        }
        if step % cfg.checkpoint_every == 0 || step == cfg.steps || stopping {
            save_all(&trainer, &args.run.out, collection.as_ref())?;
        }
        if stopping {
            pb.abandon_with_message(format!("stopped at step {step}; continue with --resume"));
            return Ok(());
        }
    }
    pb.finish();
    eprintln!("done: model in {}", args.run.out.join("model").display());
    Ok(())
}

/// A fine-tune's paintings and their codes (VGG16 is frozen: computed once).
struct FineTuneCollection {
    paintings: Paintings,
    codes: Vec<StyleCode>,
}

fn save_all(trainer: &Trainer, out: &Path, collection: Option<&FineTuneCollection>) -> Result<()> {
    checkpoint::save(trainer, &out.join("ckpt"))?;
    if let Some(c) = collection {
        c.paintings.save(&out.join("model"), &c.codes)?;
    }
    let info = ModelInfo {
        collection: collection.map(|c| c.paintings.info.clone()),
        kind: stylize_model::ModelKind::Vgg,
        decoder: Some(trainer.cfg.decoder),
        fast: None,
        parent: trainer.cfg.from.clone(),
        steps: trainer.step,
        train_config: serde_json::to_value(&trainer.cfg)?,
        stylize_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    save_model(&out.join("model"), &trainer.g, &info)?;
    let plot = stylize_report::loss_plot(&log::series(&out.join("log.csv")), &Default::default());
    stylize_io::save(&out.join("loss.png"), &plot, None, &Default::default())?;
    Ok(())
}
