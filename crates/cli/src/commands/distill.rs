//! `stylize distill`: trains the fast generator from a VGG16 model (see crates/train/src/distill.rs).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use stylize_model::fast::channels_last;
use stylize_model::{load_model, Vgg16};
use stylize_train::data::ImageSet;
use stylize_train::distill::{DistillLosses, DistillMeter};
use stylize_train::pool::TeacherPool;
use stylize_train::{checkpoint, log, DistillConfig, Distiller, TomlConfig};
use tch::Device;

use super::collection::Paintings;
use crate::exit::BadInput;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  stylize distill --content photos/ --style paintings/ --teacher models/default --out runs/fast --config configs/fast-stage-a.toml\n  stylize distill --content photos/ --style paintings/ --teacher models/default --out runs/fast --resume\n  stylize distill ... --out runs/fast --resume --config configs/fast-stage-b.toml     (next stage from the checkpoint)\n  stylize distill --from fast --teacher runs/hokusai/model --content photos/ --style hokusai/ --out runs/hokusai-fast   (a fine-tune distilled)\n\nThe teacher's outputs are kept in the cache directory (teacher-pool/), made once and reused by\nlater epochs, stages and runs. The run folder gets ckpt/, model/ (use with `stylize run --model`),\nlog.csv, loss.png and previews/.")]
pub struct Args {
    #[command(flatten)]
    run: super::RunArgs,
    /// The model to learn from: default, or a VGG16 model's folder
    #[arg(long)]
    teacher: PathBuf,
    /// Where the teacher's outputs are kept (default: teacher-pool/ in the cache directory)
    #[arg(long)]
    pool: Option<PathBuf>,
    /// Start the student from this fast model (fast, or a folder of the fast kind) instead of
    /// from scratch, e.g. to distil an artist's fine-tuned model into a fast one. Its widths
    /// replace the config's; the model remembers --style's paintings as its collection
    #[arg(long, value_name = "MODEL")]
    from: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let (run, ckpt_dir) = (&args.run, args.run.out.join("ckpt"));
    let file_cfg: Option<DistillConfig> = run.file_config()?;
    let mut cfg = if run.resume {
        let (old, _): (DistillConfig, u64) = checkpoint::read_meta(&ckpt_dir).with_context(|| format!("--resume: no checkpoint in {}", run.out.display()))?;
        match file_cfg {
            // The one change of shape allowed: parts added that start at zero (FastConfig::grows).
            Some(new) if !new.fast.grows(&old.fast) || new.discriminator != old.discriminator => {
                return Err(BadInput("--resume --config: [fast] and [discriminator] must match the checkpoint's (or only add parts that start at zero: skip2, photo_skip, more blocks4)".into()).into());
            }
            // Where the run started stays the checkpoint's; what it grows gains the parts this
            // config adds, so they learn at `grown_lr_scale` as parts added by --from do.
            Some(new) => {
                let mut grown = old.grown;
                grown.extend(new.fast.parts_added_to(&old.fast));
                DistillConfig { from: old.from, grown, ..new }
            }
            None => old,
        }
    } else {
        if ckpt_dir.exists() {
            return Err(BadInput(format!("{} already holds a run: pass --resume to continue it, or choose another --out", run.out.display())).into());
        }
        file_cfg.unwrap_or_default()
    };
    if let Some(s) = run.steps {
        cfg.steps = s;
    }
    if run.resume && args.from.is_some() {
        return Err(BadInput("--from starts a run; --resume continues one (its start is in the checkpoint)".into()).into());
    }
    // The student to start from, copied in once the distiller exists; its widths replace the config's.
    let start = match &args.from {
        Some(from) => {
            let dir = super::run::model_dir(Some(from));
            let (student, info) = stylize_model::model_dir::load_fast_model(&dir, Device::Cpu)?;
            // The student's widths, unless the config grows it (parts that start at zero).
            if !cfg.fast.grows(&student.net.cfg) {
                cfg.fast = student.net.cfg;
            }
            cfg.grown = cfg.fast.parts_added_to(&student.net.cfg);
            cfg.from = Some(from.display().to_string());
            eprintln!("starting from {} ({} steps)", dir.display(), info.steps);
            Some(student)
        }
        None => None,
    };
    cfg.validate().map_err(BadInput)?;

    let device = Device::cuda_if_available();
    let vgg = Vgg16::load(&stylize_weights::vgg16_path()?, device)?;
    let teacher_dir = super::run::model_dir(Some(&args.teacher));
    let (teacher, _) = load_model(&teacher_dir, device)?;
    let content = ImageSet::load_dir(&run.content, cfg.short_side, cfg.crop)?;
    let style = ImageSet::load_dir(&run.style, cfg.short_side, cfg.crop)?;
    let pool_root = match &args.pool {
        Some(p) => p.clone(),
        None => stylize_weights::cache_dir()?.join("teacher-pool"),
    };
    let pool = TeacherPool::open(&pool_root, &teacher_dir.join(stylize_model::model_dir::MODEL_WEIGHTS_FILE), &content, &style, cfg.pool_spec())?;
    eprintln!("distilling on {} photos and {} paintings; teacher pool {} ({} of {} examples stored)", content.len(), style.len(), pool.dir().display(), pool.stored(), cfg.pool);
    std::fs::create_dir_all(run.out.join("previews")).with_context(|| format!("cannot create {}", run.out.display()))?;

    let mut d = Distiller::new(cfg.clone(), teacher, vgg, content, style, pool, device);
    if let Some(start) = &start {
        // Every shipped variable (the feature heads are training's own and start fresh).
        let vars = d.vs.variables();
        tch::no_grad(|| {
            for (k, v) in start.vs.variables().iter().filter(|(k, _)| !k.starts_with("heads.")) {
                if let Some(var) = vars.get(k) {
                    var.shallow_clone().copy_(v);
                }
            }
        });
    }
    // A student started from a fast model remembers --style's paintings, as a fine-tune does:
    // their codes in its own style encoder's terms, made at each export.
    let collection = match &cfg.from {
        Some(_) => Some(Paintings::read(&run.style, device)?),
        None => None,
    };
    let export = |d: &Distiller| -> Result<()> {
        let dir = run.out.join("model");
        let info = match &collection {
            Some(c) => {
                c.save(&dir, &c.codes(|t| tch::no_grad(|| d.net.style_code(&channels_last(t)))))?;
                Some(c.info.clone())
            }
            None => None,
        };
        Ok(d.export(&dir, &args.teacher.display().to_string(), info)?)
    };
    let log_path = run.out.join("log.csv");
    if run.resume {
        d.load(&ckpt_dir)?;
        log::truncate_after(&log_path, d.step)?;
        eprintln!("resumed at step {}", d.step);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    let started = Instant::now();
    let before = log::elapsed_so_far(&log_path);
    let mut meter = DistillMeter::default();
    while d.step < cfg.steps {
        let (lr, adv_w) = (cfg.lr_at(d.step), cfg.adv_weight_at(d.step));
        let l = d.train_step()?;
        meter.add(&l);
        let step = d.step;
        if step % cfg.log_every == 0 {
            let avg = meter.take();
            let seconds = before + started.elapsed().as_secs_f64();
            log::append_row(&log_path, DistillLosses::HEADER, step, seconds, &avg.log_row(lr, adv_w))?;
            eprintln!(
                "step {step}/{} {seconds:.0}s teacher_l1 {:.4} features {:.4} perceptual {:.3} texture {:.4} painting_texture {:.4} content {:.3} style {:.3} identity {:.4} adv {:.3} D {:.3} acc {:.2}",
                cfg.steps, avg.teacher_l1, avg.features, avg.perceptual, avg.texture, avg.painting_texture, avg.content, avg.style, avg.identity, avg.adv_g, avg.d_loss, avg.d_acc
            );
        }
        let stopping = stop.load(Ordering::SeqCst);
        if step % cfg.preview_every == 0 || step == cfg.steps {
            super::write_preview(&d.content, &d.style, |p, s, size| d.preview(p, s, size), &run.out.join("previews").join(format!("step_{step:06}.png")))?;
        }
        if step % cfg.checkpoint_every == 0 || step == cfg.steps || stopping {
            d.save(&ckpt_dir)?;
            export(&d)?;
            let plot = stylize_report::loss_plot(&log::series_of(&log_path, &DistillLosses::PLOTTED), &Default::default());
            stylize_io::save(&run.out.join("loss.png"), &plot, None, &Default::default())?;
        }
        if stopping {
            eprintln!("stopped at step {step}; continue with --resume");
            return Ok(());
        }
    }
    eprintln!("done: model in {}", run.out.join("model").display());
    Ok(())
}
