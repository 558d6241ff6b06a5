use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, Result};
use indicatif::{ProgressBar, ProgressStyle};
use stylize_io::{Limits, LoadedImage, OutputFormat, SaveOptions};
use stylize_model::{load_model, Generator, ModelInfo, Precision, Vgg16};
use stylize_pipeline::{self as pipeline, Options, Sizing, Style, Stylizer};
use tch::Device;

use crate::exit::BadInput;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// The trained generator: one forward pass (fast)
    Model,
    /// Gatys et al.: optimise the pixels against VGG16 features (slow, no model needed)
    Optimize,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  stylize run photo.jpg --style wave.jpg                        writes photo_wave.png
  stylize run photo.jpg --style wave.jpg -o out.jpg --strength 0.6
  stylize run photo.jpg --style wave.jpg --preserve-color       keep the photo's colours
  stylize run photo.jpg --style a.jpg --style b.jpg --mix 0.7,0.3
  stylize run photo.jpg --style wave.jpg --style-scale 2        bigger brush strokes
  stylize run big.jpg --style wave.jpg --max-size 0             full resolution, in tiles
  stylize run photos/ more.jpg --style wave.jpg --out-dir out/  a batch
  stylize run photo.jpg --style wave.jpg --method optimize --steps 300

The default model is models/default (trained on ../shared/data); --model picks another
folder written by `stylize train` (its model/ subfolder). Images larger than 2 x --tile on a
side are stylized in tiles that share the whole image's statistics (bounded memory, no
seams). Settings are written into the output's metadata (PNG text, JPEG comment).")]
pub struct Args {
    /// Photos to stylize: image files, or folders (their images, sorted by name)
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Style image (a painting); repeat to mix several
    #[arg(long, required = true)]
    style: Vec<PathBuf>,
    /// Weights for mixing several styles, comma-separated (default: equal)
    #[arg(long, value_delimiter = ',')]
    mix: Vec<f64>,
    /// Output file for a single photo (.png, .jpg, .webp); default: <photo>_<style>.png here
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Output folder for a batch (several photos or a folder): <photo>_<style>.<format>
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Output format in --out-dir: png, jpg or webp
    #[arg(long, default_value = "png")]
    format: String,
    /// Replace existing outputs in --out-dir (default: skip them)
    #[arg(long)]
    overwrite: bool,
    /// Style strength: 0 = the photo, 1 = full style
    #[arg(long, default_value_t = 1.0)]
    strength: f64,
    /// Keep the photo's colours: the result's luminance with the photo's chrominance
    #[arg(long, visible_alias = "preserve-colour")]
    preserve_color: bool,
    /// Resize the photo so its longer side is exactly this (up or down); overrides --max-size
    #[arg(long)]
    size: Option<u32>,
    /// Shrink photos whose longer side exceeds this (0 = never: full resolution)
    #[arg(long, default_value_t = 1024)]
    max_size: u32,
    /// The style image's longer side, before --style-scale, when its statistics are taken
    #[arg(long, default_value_t = 512)]
    style_size: u32,
    /// Brush-stroke size: the style image is resized by this factor (2 = strokes twice as big)
    #[arg(long, default_value_t = 1.0)]
    style_scale: f64,
    /// Tile size for large images (a multiple of 8; 0 = never tile)
    #[arg(long, default_value_t = 512)]
    tile: u32,
    /// model: the trained generator; optimize: Gatys optimisation (slow)
    #[arg(long, value_enum, default_value = "model")]
    method: Method,
    /// Optimisation steps for --method optimize
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// Model folder (generator.safetensors + model.json)
    #[arg(long)]
    model: Option<PathBuf>,
    /// JPEG quality, 1-100
    #[arg(long, default_value_t = 92)]
    quality: u8,
    /// Compute precision: f32, or bf16 (faster on CPUs with AVX512-BF16 or AMX, slightly different output)
    #[arg(long, default_value = "f32")]
    precision: Precision,
}

/// Where the shipped default model lives: $STYLIZE_MODEL, else the repository's models/default.
pub fn default_model_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("STYLIZE_MODEL").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/default")
}

/// Everything loaded once and shared by every photo of a run.
struct Job<'a> {
    args: &'a Args,
    stylizer: Stylizer,
    style: Style,
    options: Options,
    /// (key, value) settings written into each output.
    settings: Vec<(String, String)>,
}

pub fn run(args: Args) -> Result<()> {
    validate(&args)?;
    let weights = mix_weights(&args.mix, args.style.len())?;
    let batch = args.out_dir.is_some() || args.inputs.len() > 1 || args.inputs[0].is_dir();
    if batch && args.output.is_some() {
        let what = match args.inputs.iter().find(|p| p.is_dir()) {
            Some(d) => format!("{} is a directory", d.display()),
            None => format!("{} photos given", args.inputs.len()),
        };
        return Err(BadInput(format!("{what}, and -o names one output file: use --out-dir for a batch")).into());
    }
    if batch && args.out_dir.is_none() {
        return Err(BadInput("several photos or a folder need --out-dir".into()).into());
    }
    let format = OutputFormat::from_path(Path::new(&format!("x.{}", args.format)))
        .ok_or_else(|| BadInput(format!("--format {}: use png, jpg or webp", args.format)))?;
    if let Some(out) = &args.output {
        if OutputFormat::from_path(out).is_none() {
            return Err(BadInput(format!("{}: unknown output format: use .png, .jpg or .webp", out.display())).into());
        }
    }

    // Styles first: a bad style fails the whole run before any heavy work.
    let limits = Limits::default();
    let styles = args.style.iter().map(|p| stylize_io::load(p, &limits)).collect::<Result<Vec<_>, _>>()?;
    let job = Job::new(&args, &styles, &weights)?;

    if !batch {
        let photo = &args.inputs[0];
        let output = args.output.clone().unwrap_or_else(|| output_name(photo, &args.style[0], OutputFormat::Png));
        let started = Instant::now();
        let (w, h) = job.process(photo, &output, true)?;
        eprintln!("{} ({w}x{h}) in {:.2} s", output.display(), started.elapsed().as_secs_f64());
        return Ok(());
    }

    let out_dir = args.out_dir.as_ref().expect("checked above");
    std::fs::create_dir_all(out_dir).map_err(|e| BadInput(format!("{}: cannot create the output folder: {e}", out_dir.display())))?;
    let (photos, mut failed) = expand_inputs(&args.inputs);
    let total = photos.len() + failed.len();
    let pb = ProgressBar::new(photos.len() as u64);
    pb.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} photos, ETA {eta} {msg}").expect("valid template"));
    let (mut written, mut skipped) = (0, 0);
    for photo in &photos {
        let output = out_dir.join(output_name(photo, &args.style[0], format));
        pb.set_message(file_name(photo));
        if output.exists() && !args.overwrite {
            skipped += 1;
        } else {
            match job.process(photo, &output, false) {
                Ok(_) => written += 1,
                Err(e) => failed.push(format!("{e:#}")),
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    for f in &failed {
        eprintln!("error: {f}");
    }
    eprintln!("{written} written, {skipped} skipped (already there; --overwrite replaces them), {} failed, in {}", failed.len(), out_dir.display());
    if !failed.is_empty() {
        return Err(anyhow!("{} of {total} inputs failed", failed.len()));
    }
    Ok(())
}

fn validate(args: &Args) -> Result<(), BadInput> {
    if !(0.0..=1.0).contains(&args.strength) {
        return Err(BadInput(format!("--strength must be between 0 and 1, got {}", args.strength)));
    }
    if !(args.style_scale.is_finite() && args.style_scale > 0.0 && args.style_scale <= 8.0) {
        return Err(BadInput(format!("--style-scale must be in (0, 8], got {}", args.style_scale)));
    }
    if args.tile != 0 && (args.tile % 8 != 0 || args.tile < 128) {
        return Err(BadInput(format!("--tile must be 0 or a multiple of 8 of at least 128, got {}", args.tile)));
    }
    if args.size == Some(0) || args.style_size == 0 {
        return Err(BadInput("--size and --style-size must be positive".into()));
    }
    if !(1..=100).contains(&args.quality) {
        return Err(BadInput(format!("--quality must be 1-100, got {}", args.quality)));
    }
    Ok(())
}

/// Files named directly, and the images in folders named; paths that are neither are
/// reported as failures (the batch goes on).
fn expand_inputs(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<String>) {
    let (mut photos, mut failed) = (Vec::new(), Vec::new());
    for p in inputs {
        if p.is_dir() {
            match stylize_train::data::list_images(p) {
                Ok(files) if files.is_empty() => failed.push(format!("{}: no images in this folder", p.display())),
                Ok(files) => photos.extend(files),
                Err(e) => failed.push(e.to_string()),
            }
        } else {
            photos.push(p.clone());
        }
    }
    (photos, failed)
}

impl<'a> Job<'a> {
    fn new(args: &'a Args, styles: &[LoadedImage], weights: &[f64]) -> Result<Self> {
        let device = Device::cuda_if_available();
        let vgg = Vgg16::load(&stylize_weights::vgg16_path()?, device)?;
        let mut settings = vec![
            ("stylize:version", env!("CARGO_PKG_VERSION").to_string()),
            ("stylize:styles", args.style.iter().map(|p| file_name(p)).collect::<Vec<_>>().join(", ")),
            ("stylize:mix", weights.iter().map(|w| format!("{w}")).collect::<Vec<_>>().join(",")),
            ("stylize:strength", args.strength.to_string()),
            ("stylize:preserve_color", args.preserve_color.to_string()),
            ("stylize:style_size", format!("{} x {}", args.style_size, args.style_scale)),
        ];
        let method = match args.method {
            Method::Model => {
                let model_dir = args.model.clone().unwrap_or_else(default_model_dir);
                let (generator, info): (Generator, ModelInfo) = load_model(&model_dir, device)?;
                settings.push(("stylize:model", format!("{} ({} steps)", file_name(&model_dir), info.steps)));
                pipeline::Method::Model(generator)
            }
            Method::Optimize => {
                settings.push(("stylize:method", format!("optimize, {} steps", args.steps)));
                pipeline::Method::Optimize { steps: args.steps }
            }
        };
        let stylizer = Stylizer::new(vgg, method, device);
        let side = (args.style_size as f64 * args.style_scale).round() as u32;
        let style = stylizer.style(&styles.iter().map(|s| &s.rgb).collect::<Vec<_>>(), weights, side, args.precision);
        let options =
            Options { strength: args.strength, preserve_colour: args.preserve_color, tile: args.tile, precision: args.precision };
        let settings = settings.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        Ok(Self { args, stylizer, style, options, settings })
    }

    /// Stylizes one photo into `output` (written atomically); returns the output's size.
    fn process(&self, photo_path: &Path, output: &Path, show_progress: bool) -> Result<(u32, u32)> {
        let photo = stylize_io::load(photo_path, &Limits::default())?;
        let sizing = match self.args.size {
            Some(s) => Sizing::Exact(s),
            None => Sizing::AtMost(self.args.max_size),
        };
        let rgb = sizing.apply(&photo.rgb);
        super::check_min_size(photo_path, &rgb)?;
        let what = match self.args.method {
            Method::Model => "tile passes",
            Method::Optimize => "steps",
        };
        let pb = if show_progress { ProgressBar::new(0) } else { ProgressBar::hidden() };
        pb.set_style(ProgressStyle::with_template(&format!("{{bar:30}} {{pos}}/{{len}} {what}, ETA {{eta}}")).expect("valid template"));
        let result = self.stylizer.stylize(&rgb, &self.style, &self.options, &mut |done, total| {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
        });
        pb.finish_and_clear();
        let mut metadata = self.settings.clone();
        metadata.push(("stylize:size".into(), format!("{}x{}", rgb.width(), rgb.height())));
        let opts = SaveOptions { jpeg_quality: self.args.quality, metadata };
        stylize_io::save(output, &result, photo.alpha.as_ref(), &opts)?;
        Ok(result.dimensions())
    }
}

/// One weight per style, validated; equal weights when none are given.
fn mix_weights(mix: &[f64], styles: usize) -> Result<Vec<f64>, BadInput> {
    if mix.is_empty() {
        return Ok(vec![1.0; styles]);
    }
    if mix.len() != styles {
        return Err(BadInput(format!("--mix has {} weights for {styles} styles", mix.len())));
    }
    if mix.iter().any(|w| !w.is_finite() || *w < 0.0) || mix.iter().sum::<f64>() <= 0.0 {
        return Err(BadInput("--mix weights must be non-negative and sum to a positive number".into()));
    }
    Ok(mix.to_vec())
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
}

/// `<photo stem>_<style stem>.<ext>`.
fn output_name(photo: &Path, style: &Path, format: OutputFormat) -> PathBuf {
    let stem = |p: &Path| p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into());
    PathBuf::from(format!("{}_{}.{}", stem(photo), stem(style), format.extension()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_weights_are_validated() {
        assert_eq!(mix_weights(&[], 2).unwrap(), vec![1.0, 1.0]);
        assert_eq!(mix_weights(&[0.7, 0.3], 2).unwrap(), vec![0.7, 0.3]);
        assert!(mix_weights(&[1.0], 2).unwrap_err().0.contains("1 weights for 2 styles"));
        assert!(mix_weights(&[0.0, 0.0], 2).is_err());
        assert!(mix_weights(&[-1.0, 2.0], 2).is_err());
    }

    #[test]
    fn output_names_photo_and_style() {
        assert_eq!(output_name(Path::new("a/cat.jpg"), Path::new("b/wave.png"), OutputFormat::Png), PathBuf::from("cat_wave.png"));
        assert_eq!(output_name(Path::new("a/cat.jpg"), Path::new("b/wave.png"), OutputFormat::Jpeg).extension().unwrap(), "jpg");
    }
}
