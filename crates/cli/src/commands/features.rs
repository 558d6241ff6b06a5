use std::path::PathBuf;

use anyhow::Result;
use stylize_model::{Tap, Vgg16};
use tch::{Device, Kind};


#[derive(clap::Args)]
pub struct Args {
    /// Image to analyse (JPEG, PNG, WebP, TIFF, BMP, GIF)
    image: PathBuf,
    /// VGG16 layers to report (comma-separated); default: all taps
    #[arg(long, value_delimiter = ',')]
    layer: Vec<String>,
    /// Resize so the longer side is at most this many pixels (0 keeps the size)
    #[arg(long, default_value_t = 512)]
    size: u32,
}

pub fn run(args: Args) -> Result<()> {
    let taps: Vec<Tap> = if args.layer.is_empty() {
        Tap::ALL.to_vec()
    } else {
        args.layer.iter().map(|l| l.parse::<Tap>()).collect::<Result<_, _>>()?
    };
    let img = stylize_io::load(&args.image, &stylize_io::Limits::default())?;
    let rgb = super::fit(&args.image, &img.rgb, stylize_pipeline::Sizing::AtMost(args.size))?;
    let device = Device::cuda_if_available();
    let vgg = Vgg16::load(&stylize_weights::vgg16_path()?, device)?;
    let x = stylize_model::convert::rgb8_to_tensor(rgb.as_raw(), rgb.height(), rgb.width()).to_device(device);
    let feats = tch::no_grad(|| vgg.features(&x, &taps));
    println!("{}: {}x{} (W x H) on {device:?}", args.image.display(), rgb.width(), rgb.height());
    println!("{:<8} {:>18} {:>10} {:>10} {:>10} {:>8}", "layer", "shape", "mean", "std", "max", "zeros");
    for (tap, f) in taps.iter().zip(&feats) {
        let zeros = f.eq(0.0).to_kind(Kind::Float).mean(Kind::Float).double_value(&[]);
        println!(
            "{:<8} {:>18} {:>10.4} {:>10.4} {:>10.4} {:>7.1}%",
            tap.name(),
            format!("{:?}", f.size()),
            f.mean(Kind::Float).double_value(&[]),
            f.std(true).double_value(&[]),
            f.max().double_value(&[]),
            zeros * 100.0
        );
    }
    Ok(())
}
