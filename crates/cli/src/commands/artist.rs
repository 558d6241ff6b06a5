//! `stylize eval-artist`: does a fine-tune paint more like its artist than its parent does?
//! Every model paints the same photos with the same style (the equal mix of the artist's
//! paintings that the fine-tune learnt); the results are compared with the artist's
//! paintings that no model was fine-tuned on.

use std::path::{Path, PathBuf};

use anyhow::Result;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use stylize_eval::classifier::{accuracy, correlation_features, style_features, Classifier, FitConfig};
use stylize_eval::metrics::{painting_features, score, style_distances, PhotoFeatures, Reference, StyleDistances};
use stylize_eval::{pooled_frechet, Scores, StLpips};
use stylize_model::convert::rgb8_to_tensor;
use stylize_model::style::STYLE_TAPS;
use stylize_model::{load_network, StyleCode, Vgg16};
use stylize_train::data::list_images;
use stylize_train::trainer::to_image;
use tch::{Device, Tensor};

use super::eval::{model_name, spread};
use crate::exit::BadInput;

#[derive(clap::Args)]
#[command(after_help = "Example (bench/artist.sh makes these folders from the training data):
  stylize eval-artist --content photos/ --artist vangogh/train --held-out vangogh/held-out \\
      --others others/ --model default --model runs/vangogh/model --out report/

Each model paints the photos with the equal mix of the --artist paintings (what a fine-tune on
them uses without --style). Reported per model: content (ST-LPIPS and VGG16 distance to the
photo); style distances to each held-out painting, and the Frechet distance of all outputs
pooled against all held-out paintings pooled; the share of outputs that each of two
classifiers (this artist against the others, on style statistics and on channel correlations)
calls the artist's, with each one's accuracy on held-out real paintings. The artist's training
paintings and the others, scored as if they were outputs, are yardstick rows. Writes
report.json, report.md and sheet.png.")]
pub struct Args {
    /// Folder of photos to paint
    #[arg(long)]
    content: PathBuf,
    /// The artist's paintings the fine-tune learnt (its --style)
    #[arg(long)]
    artist: PathBuf,
    /// The artist's paintings no model was fine-tuned on
    #[arg(long)]
    held_out: PathBuf,
    /// Other artists' paintings: the classifier's other class (every 4th is kept for its test)
    #[arg(long)]
    others: PathBuf,
    /// default | fast | a model folder; repeat to compare (the first is the parent)
    #[arg(long, required = true)]
    model: Vec<PathBuf>,
    /// How many photos (evenly spaced through the sorted folder)
    #[arg(long, default_value_t = 8)]
    photos: usize,
    /// Working size (longer side) of the photos
    #[arg(long, default_value_t = 256)]
    size: u32,
    /// Random crops per painting for the classifier (besides the whole painting)
    #[arg(long, default_value_t = 12)]
    crops: usize,
    /// Report folder
    #[arg(long)]
    out: PathBuf,
}

/// The classifiers' two views of an image: what a style code carries (each channel's mean and
/// std at relu1_1..relu4_1), which any output painted with the artist's code shares, and what
/// it does not (the channels' correlations at relu1_1..relu3_1: the texture the decoder drew).
const PROXIES: [&str; 2] = ["mean/std", "correlations"];

/// `feats`: STYLE_TAPS features of one or more images -> one row each, per proxy.
fn proxy_features(feats: &[Tensor]) -> [Tensor; 2] {
    [style_features(&StyleCode::from_features(feats)), correlation_features(feats, 3)]
}

/// Paintings are read as `stylize run --style` reads them: longer side 512.
const PAINTING_SIDE: u32 = 512;
/// Classifier crops: this side, or the painting's short side if smaller.
const CROP_SIDE: i64 = 256;

#[derive(Serialize)]
struct ModelResult {
    model: String,
    /// Means over photos x held-out paintings (`Scores` against each held-out painting).
    held_out: Scores,
    /// All outputs pooled against all held-out paintings pooled, relu3_1 and relu4_1 averaged.
    pooled_frechet: f64,
    /// Per classifier (in `PROXIES`' order): the share of outputs it calls the artist's, and
    /// its mean probability.
    classified_as_artist: Vec<f64>,
    mean_artist_probability: Vec<f64>,
}

/// A yardstick for the models' rows: real paintings scored against the held-out ones by the
/// same style distances, as if they were outputs.
#[derive(Serialize)]
struct PaintingsResult {
    paintings: String,
    /// Means over (painting, held-out painting) pairs.
    held_out: StyleDistances,
    pooled_frechet: f64,
}

#[derive(Serialize)]
struct ClassifierReport {
    features: &'static str,
    train_rows: usize,
    test_rows: usize,
    /// On held-out real paintings (their crops): the artist's held-out ones and every 4th other.
    held_out_accuracy: f64,
    held_out_accuracy_artist: f64,
    held_out_accuracy_others: f64,
}

pub fn run(args: Args) -> Result<()> {
    let folder = |dir: &Path, what: &str| -> Result<Vec<PathBuf>> {
        let files = list_images(dir)?;
        if files.is_empty() {
            return Err(BadInput(format!("{}: no images in this folder ({what})", dir.display())).into());
        }
        Ok(files)
    };
    let photos = spread(&folder(&args.content, "--content")?, args.photos);
    let (artist, held_out, others) = (folder(&args.artist, "--artist")?, folder(&args.held_out, "--held-out")?, folder(&args.others, "--others")?);
    let device = Device::cuda_if_available();
    let vgg_path = stylize_weights::vgg16_path()?;
    let vgg = Vgg16::load(&vgg_path, device)?;
    let stlpips = StLpips::load(&stylize_weights::stlpips_vgg_path()?, device).map_err(|e| BadInput(e.to_string()))?;
    let load = |p: &Path, side: u32| -> Result<Tensor> {
        let img = stylize_io::load(p, &Default::default())?;
        let img = super::fit(p, &img.rgb, stylize_pipeline::Sizing::Exact(side))?;
        Ok(rgb8_to_tensor(img.as_raw(), img.height(), img.width()).to_device(device))
    };
    let xs = photos.iter().map(|p| load(p, args.size)).collect::<Result<Vec<_>>>()?;
    let artist_t = artist.iter().map(|p| load(p, PAINTING_SIDE)).collect::<Result<Vec<_>>>()?;
    let held_t = held_out.iter().map(|p| load(p, PAINTING_SIDE)).collect::<Result<Vec<_>>>()?;
    let others_t = others.iter().map(|p| load(p, PAINTING_SIDE)).collect::<Result<Vec<_>>>()?;

    // The classifiers: the artist's training paintings against 3 of every 4 others.
    let features = |t: &Tensor, seed: u64| -> [Tensor; 2] {
        let rows: Vec<[Tensor; 2]> = crops(t, args.crops, seed).iter().map(|c| proxy_features(&tch::no_grad(|| vgg.features(c, &STYLE_TAPS)))).collect();
        [0, 1].map(|k| Tensor::cat(&rows.iter().map(|r| r[k].shallow_clone()).collect::<Vec<_>>(), 0))
    };
    let (mut train_x, mut train_y, mut test_x, mut test_y) = ([Vec::new(), Vec::new()], Vec::new(), [Vec::new(), Vec::new()], Vec::new());
    for (i, t) in artist_t.iter().enumerate() {
        let f = features(t, i as u64);
        train_y.extend(vec![true; f[0].size()[0] as usize]);
        train_x.iter_mut().zip(f).for_each(|(x, f)| x.push(f));
    }
    for (i, t) in others_t.iter().enumerate() {
        let f = features(t, 1000 + i as u64);
        let (x, y) = if i % 4 == 3 { (&mut test_x, &mut test_y) } else { (&mut train_x, &mut train_y) };
        y.extend(vec![false; f[0].size()[0] as usize]);
        x.iter_mut().zip(f).for_each(|(x, f)| x.push(f));
    }
    for (i, t) in held_t.iter().enumerate() {
        let f = features(t, 2000 + i as u64);
        test_y.extend(vec![true; f[0].size()[0] as usize]);
        test_x.iter_mut().zip(f).for_each(|(x, f)| x.push(f));
    }
    if !train_y.iter().any(|&y| !y) || !test_y.iter().any(|&y| !y) {
        return Err(BadInput(format!("{}: the classifier needs at least 4 other paintings (3 to learn, 1 to test)", args.others.display())).into());
    }
    let (mut classifiers, mut creports) = (Vec::new(), Vec::new());
    for (k, name) in PROXIES.iter().enumerate() {
        let classifier = Classifier::fit(&Tensor::cat(&train_x[k], 0), &train_y, &FitConfig::default());
        let p_test = classifier.predict(&Tensor::cat(&test_x[k], 0));
        let class_acc = |want: bool| {
            let (p, y): (Vec<f64>, Vec<bool>) = p_test.iter().zip(&test_y).filter(|(_, &y)| y == want).map(|(p, y)| (*p, *y)).unzip();
            accuracy(&p, &y)
        };
        let c = ClassifierReport {
            features: name,
            train_rows: train_y.len(),
            test_rows: test_y.len(),
            held_out_accuracy: accuracy(&p_test, &test_y),
            held_out_accuracy_artist: class_acc(true),
            held_out_accuracy_others: class_acc(false),
        };
        eprintln!(
            "classifier on {name}: {} rows to learn; on {} held-out rows {:.3} right (the artist's {:.3}, others {:.3})",
            c.train_rows, c.test_rows, c.held_out_accuracy, c.held_out_accuracy_artist, c.held_out_accuracy_others
        );
        classifiers.push(classifier);
        creports.push(c);
    }

    // Every (photo, held-out painting) pair's features and regions, made once for all models
    // (the paintings' first four levels are STYLE_TAPS, pooled below too).
    let photo_feats = xs.iter().map(|x| PhotoFeatures::new(&vgg, &stlpips, x)).collect::<Result<Vec<_>, _>>()?;
    let painting_feats: Vec<Vec<Tensor>> = held_t.iter().map(|h| painting_features(&vgg, h)).collect();
    let references: Vec<Vec<Reference>> = photo_feats.iter().map(|fx| painting_feats.iter().map(|fh| Reference::new(fx, fh)).collect()).collect();
    let mut results = Vec::new();
    let mut sheet_rows: Vec<Vec<Option<stylize_io::RgbImage>>> = xs.iter().map(|x| vec![Some(to_image(x))]).collect();
    for dir in &args.model {
        let model_dir = super::run::model_dir(Some(dir));
        let (net, info) = load_network(&model_dir, &vgg_path, device)?;
        let codes: Vec<StyleCode> = artist_t.iter().map(|t| net.style_code(t)).collect();
        let style = StyleCode::mix(&codes.iter().collect::<Vec<_>>(), &vec![1.0; codes.len()]);
        let (mut scores, mut out_feats, mut p_artist) = (Vec::new(), Vec::new(), Vec::new());
        for ((x, row), pairs) in xs.iter().zip(sheet_rows.iter_mut()).zip(&references) {
            let out = net.stylize(x, &style, 1.0);
            row.push(Some(to_image(&out)));
            for pair in pairs {
                scores.push(score(&vgg, &stlpips, &out, pair)?);
            }
            let f = tch::no_grad(|| vgg.features(&out, &STYLE_TAPS));
            p_artist.push(classifiers.iter().zip(proxy_features(&f)).map(|(c, x)| c.predict(&x)[0]).collect::<Vec<_>>());
            out_feats.push(f);
        }
        let pooled = [2usize, 3].iter().map(|&l| pooled_frechet(&layer(&out_feats, l), &layer(&painting_feats, l), STYLE_TAPS[l])).sum::<f64>() / 2.0;
        let r = ModelResult {
            model: format!("{} ({}, {} steps)", model_name(&model_dir), info.kind, info.steps),
            held_out: Scores::mean(&scores),
            pooled_frechet: pooled,
            classified_as_artist: (0..PROXIES.len()).map(|k| p_artist.iter().filter(|p| p[k] > 0.5).count() as f64 / p_artist.len() as f64).collect(),
            mean_artist_probability: (0..PROXIES.len()).map(|k| p_artist.iter().map(|p| p[k]).sum::<f64>() / p_artist.len() as f64).collect(),
        };
        eprintln!(
            "{:<40} st-lpips {:.3}  content {:.3}  held-out stats {:.3} gram {:.3} frechet {:.3}  pooled {:.3}  as the artist {:.2} / {:.2}",
            r.model, r.held_out.st_lpips, r.held_out.content, r.held_out.style_stats, r.held_out.style_gram, r.held_out.style_frechet, r.pooled_frechet, r.classified_as_artist[0], r.classified_as_artist[1]
        );
        results.push(r);
    }

    // How far the artist's own other paintings are from the held-out ones, and everyone
    // else's: the scale the models' distances read on (an output painted with the
    // collection's mean code can be nearer one canvas than the artist's other canvases are).
    let yardstick = |set: &[PathBuf], paintings: &str| -> Result<PaintingsResult> {
        // At the outputs' size, as they are scored.
        let feats = set.iter().map(|p| Ok(painting_features(&vgg, &load(p, args.size)?))).collect::<Result<Vec<_>>>()?;
        let all: Vec<StyleDistances> = feats.iter().flat_map(|f| painting_feats.iter().map(move |h| style_distances(f, h))).collect();
        let pooled = [2usize, 3].iter().map(|&l| pooled_frechet(&layer(&feats, l), &layer(&painting_feats, l), STYLE_TAPS[l])).sum::<f64>() / 2.0;
        Ok(PaintingsResult { paintings: paintings.to_string(), held_out: StyleDistances::mean(&all), pooled_frechet: pooled })
    };
    let yardsticks = vec![
        yardstick(&artist, &format!("the artist's {} training paintings", artist.len()))?,
        yardstick(&others, &format!("the {} other paintings", others.len()))?,
    ];
    for y in &yardsticks {
        eprintln!(
            "{:<40} held-out stats {:.3} gram {:.3} frechet {:.3}  pooled {:.3}",
            y.paintings, y.held_out.stats, y.held_out.gram, y.held_out.frechet, y.pooled_frechet
        );
    }

    std::fs::create_dir_all(&args.out).map_err(|e| BadInput(format!("{}: cannot create the report folder: {e}", args.out.display())))?;
    let name = |p: &PathBuf| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let json = serde_json::json!({
        "size": args.size,
        "photos": photos.iter().map(name).collect::<Vec<_>>(),
        "artist": artist.iter().map(name).collect::<Vec<_>>(),
        "held_out": held_out.iter().map(name).collect::<Vec<_>>(),
        "others": others.iter().map(name).collect::<Vec<_>>(),
        "classifiers": creports,
        "models": results,
        "yardsticks": yardsticks,
    });
    stylize_model::model_dir::write_atomic(&args.out.join("report.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    let md = markdown(&results, &yardsticks, &creports, photos.len(), artist.len(), held_out.len(), args.size);
    stylize_model::model_dir::write_atomic(&args.out.join("report.md"), md.as_bytes())?;
    let mut labels = vec!["photo".to_string()];
    labels.extend(args.model.iter().map(|m| model_name(&super::run::model_dir(Some(m)))));
    let opts = stylize_report::SheetOptions { col_labels: labels, ..Default::default() };
    stylize_io::save(&args.out.join("sheet.png"), &stylize_report::contact_sheet(&sheet_rows, &opts), None, &Default::default())?;
    println!("{md}");
    Ok(())
}

/// Level `l` of each image's features.
fn layer(feats: &[Vec<Tensor>], l: usize) -> Vec<Tensor> {
    feats.iter().map(|f| f[l].shallow_clone()).collect()
}

/// The whole painting and `n` random square crops of it (seeded), each (1,3,S,S).
fn crops(t: &Tensor, n: usize, seed: u64) -> Vec<Tensor> {
    let (h, w) = (t.size()[2], t.size()[3]);
    let side = CROP_SIDE.min(h).min(w);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = vec![t.shallow_clone()];
    for _ in 0..n {
        let (y, x) = (rng.gen_range(0..=h - side), rng.gen_range(0..=w - side));
        out.push(t.narrow(2, y, side).narrow(3, x, side));
    }
    out
}

fn markdown(results: &[ModelResult], yardsticks: &[PaintingsResult], classifiers: &[ClassifierReport], photos: usize, artist: usize, held_out: usize, size: u32) -> String {
    let mut md = format!(
        "{photos} photos at {size} px, each painted with the equal mix of the artist's {artist} training paintings; \
         compared with the artist's {held_out} held-out paintings.\n\n\
         | model | ST-LPIPS to the photo | content distance | held-out: mean/std | held-out: Gram | held-out: Frechet | pooled Frechet | called the artist's: mean/std | mean P | called the artist's: correlations | mean P |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n"
    );
    for r in results {
        let s = &r.held_out;
        md += &format!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
            r.model,
            s.st_lpips,
            s.content,
            s.style_stats,
            s.style_gram,
            s.style_frechet,
            r.pooled_frechet,
            r.classified_as_artist[0],
            r.mean_artist_probability[0],
            r.classified_as_artist[1],
            r.mean_artist_probability[1]
        );
    }
    for y in yardsticks {
        let d = &y.held_out;
        md += &format!("| *{} (yardstick)* | | | {:.3} | {:.3} | {:.3} | {:.3} | | | | |\n", y.paintings, d.stats, d.gram, d.frechet, y.pooled_frechet);
    }
    if let Some(parent) = results.first() {
        let change = |a: f64, b: f64| 100.0 * (a - b) / b.abs().max(1e-12);
        for r in &results[1..] {
            md += &format!(
                "\n{} against {}: held-out mean/std {:+.1}%, Gram {:+.1}%, Frechet {:+.1}%, pooled Frechet {:+.1}%; ST-LPIPS {:+.1}%, content distance {:+.1}% (negative: closer).",
                r.model,
                parent.model,
                change(r.held_out.style_stats, parent.held_out.style_stats),
                change(r.held_out.style_gram, parent.held_out.style_gram),
                change(r.held_out.style_frechet, parent.held_out.style_frechet),
                change(r.pooled_frechet, parent.pooled_frechet),
                change(r.held_out.st_lpips, parent.held_out.st_lpips),
                change(r.held_out.content, parent.held_out.content),
            );
        }
        md += "\n";
    }
    md += "\nThe classifiers (logistic regression, this artist against the others; rows: whole paintings and random 256 px crops) are proxies: \
           the one on mean/std reads what the style code carries, which every model here is given; the one on correlations reads what it does not.\n";
    for c in classifiers {
        md += &format!(
            "- on {}: {} rows to learn; right on {:.0}% of {} held-out real rows (the artist's {:.0}%, others' {:.0}%).\n",
            c.features,
            c.train_rows,
            100.0 * c.held_out_accuracy,
            c.test_rows,
            100.0 * c.held_out_accuracy_artist,
            100.0 * c.held_out_accuracy_others
        );
    }
    md
}
