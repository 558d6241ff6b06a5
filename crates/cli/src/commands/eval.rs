use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;
use stylize_eval::baselines::colour_transfer;
use stylize_eval::metrics::score;
use stylize_eval::Scores;
use stylize_model::convert::rgb8_to_tensor;
use stylize_model::{load_model, StyleCode, Vgg16};
use stylize_train::data::list_images;
use stylize_train::trainer::to_image;
use tch::{Device, Tensor};

use crate::exit::BadInput;

#[derive(clap::Args)]
#[command(after_help = "Example:\n  stylize eval --content ../shared/data/photos --style ../shared/data/paintings --out report/\n\nWrites report.json, report.md and sheet.png (rows: photos; columns: paintings) to --out.")]
pub struct Args {
    /// Folder of photos
    #[arg(long)]
    content: PathBuf,
    /// Folder of paintings
    #[arg(long)]
    style: PathBuf,
    /// Model folder (default: the shipped model)
    #[arg(long)]
    model: Option<PathBuf>,
    /// How many photos (evenly spaced through the sorted folder)
    #[arg(long, default_value_t = 8)]
    photos: usize,
    /// How many paintings (evenly spaced through the sorted folder)
    #[arg(long, default_value_t = 8)]
    paintings: usize,
    /// Working size (longer side) of photos and paintings
    #[arg(long, default_value_t = 256)]
    size: u32,
    /// Report folder
    #[arg(long)]
    out: PathBuf,
}

#[derive(Serialize)]
struct MethodResult {
    method: String,
    mean: Scores,
    seconds_per_image: f64,
    pairs: Vec<PairResult>,
}

#[derive(Serialize)]
struct PairResult {
    photo: String,
    painting: String,
    scores: Scores,
}

fn pick(files: Vec<PathBuf>, n: usize) -> Vec<PathBuf> {
    let k = n.min(files.len());
    (0..k).map(|i| files[i * files.len() / k].clone()).collect()
}

pub fn run(args: Args) -> Result<()> {
    let photos = pick(list_images(&args.content)?, args.photos);
    let paintings = pick(list_images(&args.style)?, args.paintings);
    if photos.is_empty() || paintings.is_empty() {
        return Err(BadInput("eval needs at least one photo and one painting".into()).into());
    }
    let device = Device::cuda_if_available();
    let model_dir = args.model.clone().unwrap_or_else(super::run::default_model_dir);
    let (generator, info) = load_model(&model_dir, device)?;
    let vgg = Vgg16::load(&stylize_weights::vgg16_path()?, device)?;
    let load = |p: &PathBuf| -> Result<Tensor> {
        let img = stylize_io::load(p, &Default::default())?;
        let img = stylize_io::resize_to_max_side(&img.rgb, args.size, true);
        Ok(rgb8_to_tensor(img.as_raw(), img.height(), img.width()).to_device(device))
    };
    let xs = photos.iter().map(load).collect::<Result<Vec<_>>>()?;
    let ss = paintings.iter().map(load).collect::<Result<Vec<_>>>()?;
    let codes: Vec<StyleCode> = ss.iter().map(|s| StyleCode::from_images(&vgg, s)).collect();
    let name = |p: &PathBuf| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();

    type Method<'a> = Box<dyn Fn(usize, usize) -> Tensor + 'a>;
    let methods: Vec<(&str, Method)> = vec![
        ("photo (no change)", Box::new(|i, _| xs[i].shallow_clone())),
        ("colour transfer", Box::new(|i, j| colour_transfer(&xs[i], &ss[j]))),
        ("stylize (this model)", Box::new(|i, j| generator.stylize(&vgg, &xs[i], &codes[j], 1.0))),
    ];
    let mut results = Vec::new();
    let mut sheet_rows: Vec<Vec<stylize_io::RgbImage>> = vec![Vec::new(); xs.len()];
    for (method, f) in &methods {
        let (mut pairs, mut seconds) = (Vec::new(), 0.0);
        for i in 0..xs.len() {
            for j in 0..ss.len() {
                let t = Instant::now();
                let out = f(i, j);
                seconds += t.elapsed().as_secs_f64();
                if method.starts_with("stylize") {
                    sheet_rows[i].push(to_image(&out));
                }
                pairs.push(PairResult { photo: name(&photos[i]), painting: name(&paintings[j]), scores: score(&vgg, &out, &xs[i], &ss[j]) });
            }
        }
        let n = pairs.len() as f64;
        let mean = Scores {
            content: pairs.iter().map(|p| p.scores.content).sum::<f64>() / n,
            style_stats: pairs.iter().map(|p| p.scores.style_stats).sum::<f64>() / n,
            style_gram: pairs.iter().map(|p| p.scores.style_gram).sum::<f64>() / n,
        };
        eprintln!("{method:<22} content {:.3}  style stats {:.3}  style gram {:.3}", mean.content, mean.style_stats, mean.style_gram);
        results.push(MethodResult { method: method.to_string(), mean, seconds_per_image: seconds / n, pairs });
    }

    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let json = serde_json::json!({
        "model": model_dir.display().to_string(),
        "model_steps": info.steps,
        "size": args.size,
        "photos": photos.iter().map(name).collect::<Vec<_>>(),
        "paintings": paintings.iter().map(name).collect::<Vec<_>>(),
        "methods": results,
    });
    stylize_model::model_dir::write_atomic(&args.out.join("report.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    let mut md = format!(
        "Model: {} ({} steps); {} photos x {} paintings at {} px.\n\n| method | content distance (lower: closer to the photo) | style distance, mean/std (lower: closer to the painting) | style distance, Gram | seconds/image |\n|---|---|---|---|---|\n",
        model_dir.display(), info.steps, photos.len(), paintings.len(), args.size
    );
    for r in &results {
        md += &format!("| {} | {:.3} | {:.3} | {:.3} | {:.3} |\n", r.method, r.mean.content, r.mean.style_stats, r.mean.style_gram, r.seconds_per_image);
    }
    stylize_model::model_dir::write_atomic(&args.out.join("report.md"), md.as_bytes())?;
    let thumbs = |ts: &[Tensor]| ts.iter().map(to_image).collect::<Vec<_>>();
    let sheet = stylize_report::header_sheet(&thumbs(&xs), &thumbs(&ss), &sheet_rows, &Default::default());
    stylize_io::save(&args.out.join("sheet.png"), &sheet, None, &Default::default())?;
    println!("{md}");
    Ok(())
}
