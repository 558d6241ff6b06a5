use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use stylize_io::{Limits, RgbImage, SaveOptions};
use stylize_model::convert::rgb8_to_tensor;
use stylize_model::{load_model, with_precision, Precision, StyleCode, Vgg16};
use tch::Device;

use crate::exit::BadInput;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  stylize run photo.jpg --style wave.jpg\n  stylize run photo.jpg --style wave.jpg -o out.jpg --strength 0.6 --size 1024\n  stylize run photo.jpg --style a.jpg --style b.jpg --mix 0.7,0.3\n\nThe default model is models/default (trained on ../shared/data); --model picks another\nfolder written by `stylize train` (its model/ subfolder).")]
pub struct Args {
    /// The photo to stylize
    photo: PathBuf,
    /// Style image (a painting); repeat to mix several
    #[arg(long, required = true)]
    style: Vec<PathBuf>,
    /// Weights for mixing several styles, comma-separated (default: equal)
    #[arg(long, value_delimiter = ',')]
    mix: Vec<f64>,
    /// Output file (.png, .jpg, .webp); default: <photo>_<style>.png in the current folder
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Style strength: 0 = the photo, 1 = full style
    #[arg(long, default_value_t = 1.0)]
    strength: f64,
    /// Working size: the photo's longer side is resized to this (0 = keep the photo's size)
    #[arg(long, default_value_t = 768)]
    size: u32,
    /// The style image's longer side is resized to this before its statistics are taken
    #[arg(long, default_value_t = 512)]
    style_size: u32,
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

pub fn run(args: Args) -> Result<()> {
    if !(0.0..=1.0).contains(&args.strength) {
        return Err(BadInput(format!("--strength must be between 0 and 1, got {}", args.strength)).into());
    }
    let weights = mix_weights(&args.mix, args.style.len())?;
    let output = args.output.clone().unwrap_or_else(|| default_output(&args.photo, &args.style[0]));
    if stylize_io::OutputFormat::from_path(&output).is_none() {
        return Err(BadInput(format!("{}: unknown output format: use .png, .jpg or .webp", output.display())).into());
    }
    let limits = Limits::default();

    // Read every input before the heavy work, so bad input fails fast.
    let photo = stylize_io::load(&args.photo, &limits)?;
    let styles = args.style.iter().map(|p| stylize_io::load(p, &limits)).collect::<Result<Vec<_>, _>>()?;

    let device = Device::cuda_if_available();
    let model_dir = args.model.clone().unwrap_or_else(default_model_dir);
    let (generator, info) = load_model(&model_dir, device)?;
    let vgg = Vgg16::load(&stylize_weights::vgg16_path()?, device)?;

    let started = Instant::now();
    let rgb = if args.size > 0 { stylize_io::resize_to_max_side(&photo.rgb, args.size, false) } else { photo.rgb.clone() };
    super::check_min_size(&args.photo, &rgb)?;
    let out = with_precision(args.precision, || {
        let codes: Vec<StyleCode> = styles
            .iter()
            .map(|s| StyleCode::from_images(&vgg, &image_tensor(&stylize_io::resize_to_max_side(&s.rgb, args.style_size, false), device)))
            .collect();
        let code = StyleCode::mix(&codes.iter().collect::<Vec<_>>(), &weights);
        generator.stylize(&vgg, &image_tensor(&rgb, device), &code, args.strength)
    });
    let result = stylize_train::trainer::to_image(&out);
    let (w, h) = result.dimensions();

    let style_names: Vec<String> = args.style.iter().map(|p| file_name(p)).collect();
    let settings = [
        ("stylize:version", env!("CARGO_PKG_VERSION").to_string()),
        ("stylize:model", format!("{} ({} steps)", file_name(&model_dir), info.steps)),
        ("stylize:styles", style_names.join(", ")),
        ("stylize:mix", weights.iter().map(|w| format!("{w}")).collect::<Vec<_>>().join(",")),
        ("stylize:strength", args.strength.to_string()),
        ("stylize:size", args.size.to_string()),
    ];
    let opts = SaveOptions { jpeg_quality: args.quality, metadata: settings.iter().map(|(k, v)| (k.to_string(), v.clone())).collect() };
    stylize_io::save(&output, &result, photo.alpha.as_ref(), &opts)?;
    eprintln!("{} ({}x{}) in {:.2} s", output.display(), w, h, started.elapsed().as_secs_f64());
    Ok(())
}

fn image_tensor(img: &RgbImage, device: Device) -> tch::Tensor {
    rgb8_to_tensor(img.as_raw(), img.height(), img.width()).to_device(device)
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

fn default_output(photo: &Path, style: &Path) -> PathBuf {
    let stem = |p: &Path| p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into());
    PathBuf::from(format!("{}_{}.png", stem(photo), stem(style)))
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
    fn default_output_names_photo_and_style() {
        assert_eq!(default_output(Path::new("a/cat.jpg"), Path::new("b/wave.png")), PathBuf::from("cat_wave.png"));
    }
}
