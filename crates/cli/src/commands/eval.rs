use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;
use stylize_eval::baselines::colour_transfer;
use stylize_eval::metrics::{painting_features, score, PhotoFeatures, Reference};
use stylize_eval::{Reconstruction, Scores, StLpips};
use stylize_model::convert::rgb8_to_tensor;
use stylize_model::optimize::{optimize, style_grams, OptimizeConfig};
use stylize_model::semantic::{Matching, SemanticConfig};
use stylize_model::{load_network, StyleCode, Vgg16};
use stylize_train::data::list_images;
use stylize_train::trainer::to_image;
use tch::{Device, Tensor};

use crate::exit::BadInput;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  stylize eval --content samples/photos --style samples/paintings --out report/
  stylize eval ... --gatys 4 --external magenta=runs/magenta   (see bench/eval.sh)

Writes report.json, report.md, sheet.png (the model: rows photos, columns paintings) and
methods.png (a few pairs by every method) to --out. Metrics: see crates/eval/src/lib.rs.")]
pub struct Args {
    /// Folder of photos
    #[arg(long)]
    content: PathBuf,
    /// Folder of paintings
    #[arg(long)]
    style: PathBuf,
    /// default | fast | a model folder; repeat it to compare models, each a method row (the
    /// first one fills sheet.png). Default: the shipped default model
    #[arg(long)]
    model: Vec<PathBuf>,
    /// How many photos (evenly spaced through the sorted folder)
    #[arg(long, default_value_t = 8)]
    photos: usize,
    /// How many paintings (evenly spaced through the sorted folder)
    #[arg(long, default_value_t = 8)]
    paintings: usize,
    /// Score only this many (photo, painting) pairs, evenly spaced through the grid (default: all)
    #[arg(long)]
    pairs: Option<usize>,
    /// Working size (longer side) of photos and paintings
    #[arg(long, default_value_t = 256)]
    size: u32,
    /// Also run Gatys optimisation on the first N scored pairs (slow: about a minute each)
    #[arg(long, default_value_t = 0)]
    gatys: usize,
    /// Also the first model with semantic transfer into K regions (`stylize run --semantic K`)
    #[arg(long, num_args = 0..=1, default_missing_value = "4", value_name = "K")]
    semantic: Option<usize>,
    /// Also the first model with semantic transfer by attention (AdaAttN-style, identity
    /// projections) at softmax temperature T; repeat to compare temperatures
    #[arg(long, value_name = "T")]
    attention: Vec<f64>,
    /// Optimisation steps for the Gatys baseline
    #[arg(long, default_value_t = 200)]
    gatys_steps: usize,
    /// Leave out the colour-transfer and --preserve-color rows (the photo and painting rows
    /// stay, as the scale of every measure): 8x8 pairs at 512 px take ~40 minutes in all
    #[arg(long)]
    no_baselines: bool,
    /// Another method's outputs: NAME=DIR holding <photo stem>__<painting stem>.png per pair
    /// (e.g. Magenta's arbitrary stylization from scripts/magenta.py)
    #[arg(long, value_parser = parse_external)]
    external: Vec<(String, PathBuf)>,
    /// Report folder
    #[arg(long)]
    out: PathBuf,
}

fn parse_external(s: &str) -> Result<(String, PathBuf), String> {
    let (name, dir) = s.split_once('=').ok_or_else(|| format!("expected NAME=DIR, got {s}"))?;
    Ok((name.to_string(), PathBuf::from(dir)))
}

#[derive(Serialize)]
struct MethodResult {
    method: String,
    mean: Scores,
    /// (1 + content) x (1 + style Frechet) of the means: see `Scores::artfid_shaped`.
    artfid_shaped: f64,
    seconds_per_image: f64,
    pairs: Vec<PairResult>,
}

#[derive(Serialize)]
struct PairResult {
    photo: String,
    painting: String,
    scores: Scores,
}

/// `n` items evenly spaced through `items` (all of them when n >= len).
pub(super) fn spread<T: Clone>(items: &[T], n: usize) -> Vec<T> {
    let k = n.min(items.len());
    (0..k).map(|i| items[i * items.len() / k].clone()).collect()
}

/// A model's name in method rows: its folder's, or the run's for a run's `model/` folder.
pub(super) fn model_name(dir: &Path) -> String {
    match (dir.file_name(), dir.parent().and_then(Path::file_name)) {
        (Some(n), Some(run)) if n == "model" => run.to_string_lossy().into_owned(),
        _ => stem(dir),
    }
}

/// Each model's row name: its short name, or its folder as given where two short names meet
/// (`models/fast` beside `runs/fast/model`).
fn row_names(dirs: &[PathBuf]) -> Vec<String> {
    let short: Vec<String> = dirs.iter().map(|d| model_name(d)).collect();
    let clash = |n: &String| short.iter().filter(|m| *m == n).count() > 1;
    short.iter().zip(dirs).map(|(n, d)| if clash(n) { d.display().to_string() } else { n.clone() }).collect()
}

fn stem(p: &Path) -> String {
    p.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

pub fn run(args: Args) -> Result<()> {
    let photos = spread(&list_images(&args.content)?, args.photos);
    let paintings = spread(&list_images(&args.style)?, args.paintings);
    if photos.is_empty() || paintings.is_empty() {
        return Err(BadInput("eval needs at least one photo and one painting".into()).into());
    }
    for (name, dir) in &args.external {
        if !dir.is_dir() {
            return Err(BadInput(format!("--external {name}: {} is not a folder", dir.display())).into());
        }
    }
    let grid: Vec<(usize, usize)> = (0..photos.len()).flat_map(|i| (0..paintings.len()).map(move |j| (i, j))).collect();
    let pairs = spread(&grid, args.pairs.unwrap_or(grid.len()));

    let device = Device::cuda_if_available();
    let vgg_path = stylize_weights::vgg16_path()?;
    let model_dirs: Vec<PathBuf> = if args.model.is_empty() { vec![super::run::model_dir(None)] } else { args.model.iter().map(|m| super::run::model_dir(Some(m))).collect() };
    let names = row_names(&model_dirs);
    let mut models = Vec::new();
    for (dir, name) in model_dirs.iter().zip(&names) {
        let (net, info) = load_network(dir, &vgg_path, device)?;
        models.push((format!("stylize {name} ({})", info.kind), net, info));
    }
    let vgg = Vgg16::load(&vgg_path, device)?;
    // Missing or damaged weights are the user's to fix (`stylize setup`), like VGG16's.
    let stlpips = StLpips::load(&stylize_weights::stlpips_vgg_path()?, device).map_err(|e| BadInput(e.to_string()))?;
    let load = |p: &Path| -> Result<Tensor> {
        let img = stylize_io::load(p, &Default::default())?;
        let img = super::fit(p, &img.rgb, stylize_pipeline::Sizing::Exact(args.size))?;
        Ok(rgb8_to_tensor(img.as_raw(), img.height(), img.width()).to_device(device))
    };
    let xs = photos.iter().map(|p| load(p)).collect::<Result<Vec<_>>>()?;
    let ss = paintings.iter().map(|p| load(p)).collect::<Result<Vec<_>>>()?;
    // Each model's own codes of the paintings (a fast generator has its own style encoder).
    let model_codes: Vec<Vec<StyleCode>> = models.iter().map(|(_, net, _)| ss.iter().map(|s| net.style_code(s)).collect()).collect();
    let (generator, codes, info) = (&models[0].1, &model_codes[0], &models[0].2);
    let size_of = |t: &Tensor| (t.size()[2], t.size()[3]);
    let resize_to = |t: &Tensor, (h, w): (i64, i64)| t.upsample_bilinear2d([h, w], false, None, None).clamp(0.0, 1.0);

    // Each painting's semantic style, made once for all the semantic rows.
    let semantic_styles = if args.semantic.is_some() || !args.attention.is_empty() {
        let styles = ss.iter().map(|s| generator.semantic_style(s)).collect::<Option<Vec<_>>>();
        styles.ok_or_else(|| BadInput(format!("--semantic and --attention: the {} kind has no semantic mode", info.kind)))?
    } else {
        Vec::new()
    };
    // The model's outputs, kept for the contact sheet. (The --preserve-color method runs the
    // model again so that its seconds per image are its own.)
    let model_outputs: RefCell<HashMap<(usize, usize), stylize_io::RgbImage>> = RefCell::default();
    type Method<'a> = Box<dyn Fn(usize, usize) -> Result<Tensor> + 'a>;
    let mut methods: Vec<(String, Method, usize)> = vec![
        ("photo (no change)".into(), Box::new(|i, _| Ok(xs[i].shallow_clone())), pairs.len()),
        ("painting (resized to the photo)".into(), Box::new(|i, j| Ok(resize_to(&ss[j], size_of(&xs[i])))), pairs.len()),
    ];
    if !args.no_baselines {
        methods.push(("colour transfer".into(), Box::new(|i, j| Ok(colour_transfer(&xs[i], &ss[j]))), pairs.len()));
    }
    for (k, ((label, net, _), codes)) in models.iter().zip(&model_codes).enumerate() {
        let (xs, outputs) = (&xs, &model_outputs);
        let f = move |i: usize, j: usize| {
            let out = net.stylize(&xs[i], &codes[j], 1.0);
            if k == 0 {
                outputs.borrow_mut().insert((i, j), to_image(&out));
            }
            Ok(out)
        };
        methods.push((label.clone(), Box::new(f), pairs.len()));
    }
    let semantic_rows = args.semantic.map(|k| (format!("{} --semantic {k}", models[0].0), SemanticConfig { clusters: k, ..Default::default() }));
    let attention_rows = args.attention.iter().map(|&t| {
        (format!("{} --semantic (attention, T {t})", models[0].0), SemanticConfig { matching: Matching::Attention { temperature: t }, ..Default::default() })
    });
    for (label, cfg) in semantic_rows.into_iter().chain(attention_rows) {
        let (xs, styles) = (&xs, &semantic_styles);
        let f = move |i: usize, j: usize| -> Result<Tensor> { Ok(generator.stylize_semantic(&xs[i], &styles[j], &cfg, 1.0, None)) };
        methods.push((label, Box::new(f), pairs.len()));
    }
    if !args.no_baselines {
        methods.push((
            format!("{} --preserve-color", models[0].0),
            Box::new(|i, j| {
                let out = stylize_io::preserve_colour(&to_image(&generator.stylize(&xs[i], &codes[j], 1.0)), &to_image(&xs[i]));
                Ok(rgb8_to_tensor(out.as_raw(), out.height(), out.width()).to_device(device))
            }),
            pairs.len(),
        ));
    }
    for (name, dir) in &args.external {
        let (photos, paintings, xs) = (&photos, &paintings, &xs);
        let f = move |i: usize, j: usize| -> Result<Tensor> {
            let p = dir.join(format!("{}__{}.png", stem(&photos[i]), stem(&paintings[j])));
            let img = stylize_io::load(&p, &Default::default()).with_context(|| format!("--external {name}"))?;
            Ok(resize_to(&rgb8_to_tensor(img.rgb.as_raw(), img.rgb.height(), img.rgb.width()).to_device(device), size_of(&xs[i])))
        };
        methods.push((name.clone(), Box::new(f), pairs.len()));
    }
    if args.gatys > 0 {
        let cfg = OptimizeConfig { steps: args.gatys_steps, ..Default::default() };
        let (vgg, xs, ss) = (&vgg, &xs, &ss);
        let f = move |i: usize, j: usize| Ok(optimize(vgg, &xs[i], &style_grams(vgg, &[ss[j].shallow_clone()], &[1.0]), 1.0, &cfg, &mut |_, _| {}));
        methods.push((format!("Gatys optimisation ({} steps)", args.gatys_steps), Box::new(f), args.gatys.min(pairs.len())));
    }

    let name = |p: &PathBuf| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let shown = &pairs[..pairs.len().min(4)];
    // The photo and the painting lead each row as methods of their own.
    let mut method_cells: Vec<Vec<Option<stylize_io::RgbImage>>> = shown.iter().map(|_| Vec::new()).collect();
    // The photos' and paintings' features and each pair's regions, made once for every method.
    let photo_feats = xs.iter().map(|x| PhotoFeatures::new(&vgg, &stlpips, x)).collect::<Result<Vec<_>, _>>()?;
    let painting_feats: Vec<Vec<Tensor>> = ss.iter().map(|s| painting_features(&vgg, s)).collect();
    let references: Vec<Reference> = pairs.iter().map(|&(i, j)| Reference::new(&photo_feats[i], &painting_feats[j])).collect();
    let mut results = Vec::new();
    for (method, f, count) in &methods {
        let (mut scored, mut seconds) = (Vec::new(), 0.0);
        for (k, &(i, j)) in pairs.iter().take(*count).enumerate() {
            let t = Instant::now();
            let out = f(i, j)?;
            seconds += t.elapsed().as_secs_f64();
            if let Some(row) = method_cells.get_mut(k) {
                row.push(Some(to_image(&out)));
            }
            scored.push(PairResult { photo: name(&photos[i]), painting: name(&paintings[j]), scores: score(&vgg, &stlpips, &out, &references[k])? });
        }
        for row in method_cells.iter_mut().skip(scored.len()) {
            row.push(None);
        }
        let mean = Scores::mean(&scored.iter().map(|p| p.scores).collect::<Vec<_>>());
        eprintln!(
            "{method:<34} content {:.3}  st-lpips {:.3}  stats {:.3}  gram {:.3}  frechet {:.3}  regions {:.3}  ({} pairs)",
            mean.content, mean.st_lpips, mean.style_stats, mean.style_gram, mean.style_frechet, mean.style_region, scored.len()
        );
        let n = scored.len().max(1) as f64;
        results.push(MethodResult { method: method.clone(), mean, artfid_shaped: mean.artfid_shaped(), seconds_per_image: seconds / n, pairs: scored });
    }

    // Strength 0 decodes the photo's own features (the style does not enter): how close does
    // the decoder come back to the photo?
    let recon = Reconstruction::mean(&xs.iter().map(|x| Reconstruction::of(&generator.stylize(x, &codes[0], 0.0), x)).collect::<Vec<_>>());
    eprintln!("strength 0: error {:.1}/255, brightness shift {:+.1}/255", recon.error, recon.brightness_shift);

    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let json = serde_json::json!({
        "model": names[0],
        "model_steps": info.steps,
        "models": models.iter().zip(&names).map(|((_, _, i), n)| serde_json::json!({"name": n, "kind": i.kind, "steps": i.steps})).collect::<Vec<_>>(),
        "size": args.size,
        "photos": photos.iter().map(name).collect::<Vec<_>>(),
        "paintings": paintings.iter().map(name).collect::<Vec<_>>(),
        "pairs_scored": pairs.len(),
        "methods": results,
        "reconstruction_at_strength_0": recon,
    });
    stylize_model::model_dir::write_atomic(&args.out.join("report.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    let mut md = markdown(&results, &names[0], info.steps, photos.len(), paintings.len(), pairs.len(), args.size);
    md += &format!(
        "\nStrength 0 of {} (the photo's own features decoded), over the {} photos: mean absolute error {:.1}/255, brightness shift {:+.1}/255.\n",
        names[0],
        xs.len(),
        recon.error,
        recon.brightness_shift
    );
    stylize_model::model_dir::write_atomic(&args.out.join("report.md"), md.as_bytes())?;

    // The model on every cell of the grid, whichever pairs were scored.
    let thumbs = |ts: &[Tensor]| ts.iter().map(to_image).collect::<Vec<_>>();
    let mut cached = model_outputs.take();
    let rows: Vec<Vec<stylize_io::RgbImage>> = (0..xs.len())
        .map(|i| {
            (0..codes.len())
                .map(|j| cached.remove(&(i, j)).unwrap_or_else(|| to_image(&generator.stylize(&xs[i], &codes[j], 1.0))))
                .collect()
        })
        .collect();
    let sheet = stylize_report::header_sheet(&thumbs(&xs), &thumbs(&ss), &rows, &Default::default());
    stylize_io::save(&args.out.join("sheet.png"), &sheet, None, &Default::default())?;
    let labels = methods.iter().map(|(m, _, _)| short_label(m)).collect();
    let opts = stylize_report::SheetOptions { col_labels: labels, ..Default::default() };
    stylize_io::save(&args.out.join("methods.png"), &stylize_report::contact_sheet(&method_cells, &opts), None, &Default::default())?;
    println!("{md}");
    Ok(())
}

/// A column label for the methods sheet: the model's name for a model row ("stylize NAME
/// (kind)"), "preserved" for the colour-preserving variant, "semantic" for semantic transfer
/// ("attention T" by attention), else the method's first word.
fn short_label(method: &str) -> String {
    if method.contains("preserve") {
        return "preserved".into();
    }
    if let Some(t) = method.split("attention, T ").nth(1) {
        return format!("attention {}", t.trim_end_matches(')'));
    }
    if method.contains("--semantic") {
        return "semantic".into();
    }
    let mut words = method.split(' ');
    match (words.next(), words.next()) {
        (Some("stylize"), Some(model)) => model.to_string(),
        (first, _) => first.unwrap_or(method).to_string(),
    }
}

fn markdown(results: &[MethodResult], model: &str, steps: u64, photos: usize, paintings: usize, pairs: usize, size: u32) -> String {
    let mut md = format!(
        "Model: {model} ({steps} steps); {photos} photos x {paintings} paintings, {pairs} pairs scored, at {size} px.\n\n\
         | method | pairs | content distance (lower: closer to the photo) | ST-LPIPS to the photo (lower: closer) | style: mean/std | style: Gram | style: Frechet relu3_1/4_1 | style: regions (mean/std per matched region) | ArtFID-shaped (1+content)(1+Frechet) | seconds/image |\n\
         |---|---|---|---|---|---|---|---|---|---|\n"
    );
    for r in results {
        md += &format!(
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
            r.method,
            r.pairs.len(),
            r.mean.content,
            r.mean.st_lpips,
            r.mean.style_stats,
            r.mean.style_gram,
            r.mean.style_frechet,
            r.mean.style_region,
            r.artfid_shaped,
            r.seconds_per_image
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_models_with_one_short_name_are_told_apart_by_their_folders() {
        let dirs: Vec<PathBuf> = ["models/fast", "runs/fast/model", "models/default"].iter().map(PathBuf::from).collect();
        assert_eq!(row_names(&dirs), ["models/fast", "runs/fast/model", "default"]);
        assert_eq!(row_names(&dirs[1..]), ["fast", "default"]);
    }
}
