use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use stylize_model::model_dir::load_collection;
use stylize_model::{load_network, Precision};
use stylize_pipeline::{Method, Stylizer};
use stylize_server::{Gallery, Server, ServerConfig, StylizerFactory};
use tch::Device;

use crate::exit::BadInput;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  stylize serve --styles samples/paintings                   http://127.0.0.1:8080
  stylize serve --styles paintings/ --addr 0.0.0.0:8080      reachable from other machines
  stylize serve --styles paintings/ --workers 2 --queue 16

The page at / lets a person drop a photo, pick a painting or upload one, and download the
result; the API is described at /api/openapi.json. Uploads stay in memory and are dropped
once answered; the log has one line per request with no image data or file names. Ctrl-C or
SIGTERM stops taking requests and finishes the running ones.")]
pub struct Args {
    /// Address to listen on; the default is reachable from this machine only
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Folder of paintings offered as the style gallery (without it, only uploaded styles)
    #[arg(long)]
    styles: Option<PathBuf>,
    /// Threads that run the model, each with its own copy of the networks
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Requests that may wait for a worker; one more is answered 429 with Retry-After
    #[arg(long, default_value_t = 8)]
    queue: usize,
    /// Seconds a request may take, waiting included; past it the answer is 503
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Seconds a client may take to send its headers, and then its whole upload (408); idle
    /// and slow connections are closed after it
    #[arg(long, default_value_t = 30)]
    read_timeout: u64,
    /// Open connections at most; more wait in the kernel's backlog
    #[arg(long, default_value_t = 512)]
    max_connections: usize,
    /// Largest request body in MB (photo and style image together); larger gets 413
    #[arg(long, default_value_t = 20.0)]
    max_upload_mb: f64,
    /// Largest uploaded image in megapixels, read from its header; larger gets 422
    #[arg(long, default_value_t = 16.0)]
    max_pixels: f64,
    /// Largest result a client may ask for (longer side, pixels)
    #[arg(long, default_value_t = 1024)]
    max_size: u32,
    /// default | fast (the shipped models), or a model folder (model.json + generator.safetensors)
    #[arg(long)]
    model: Option<PathBuf>,
    /// Compute precision: auto (bf16 on CPUs with AVX512-BF16 or AMX, f32 elsewhere), f32, or bf16
    #[arg(long, default_value = "auto", value_parser = Precision::parse_or_auto)]
    precision: Precision,
}

pub fn run(args: Args) -> Result<()> {
    if !(args.max_upload_mb > 0.0 && args.max_pixels > 0.0) {
        return Err(BadInput("--max-upload-mb and --max-pixels must be positive".into()).into());
    }
    let config = ServerConfig {
        addr: args.addr,
        workers: args.workers,
        queue: args.queue,
        timeout_ms: args.timeout.max(1).saturating_mul(1000),
        read_timeout_ms: args.read_timeout.max(1).saturating_mul(1000),
        max_connections: args.max_connections,
        max_upload_bytes: (args.max_upload_mb * 1e6) as usize,
        max_pixels: (args.max_pixels * 1e6) as u64,
        max_size: args.max_size,
        default_size: args.max_size.min(512),
        precision: args.precision,
        ..ServerConfig::default()
    };
    let mut gallery = match &args.styles {
        Some(dir) => Gallery::load(dir, config.style_size).map_err(|e| BadInput(e.to_string()))?,
        None => Gallery::default(),
    };
    let model_dir = super::run::model_dir(args.model.as_deref());
    let vgg_path = stylize_weights::vgg16_path()?;
    // Read the model once here, so a bad folder fails before anything listens.
    let info = stylize_model::model_dir::check_model(&model_dir)?;
    if let Some(c) = &info.collection {
        load_collection(&model_dir, &info, Device::Cpu)?;
        gallery.add_collection(&c.name, c.paintings.len(), collection_thumbnail(&model_dir));
    }
    let model_label = format!("{} ({}, {} steps)", model_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), info.kind, info.steps);
    if args.workers > 1 {
        // The workers share the cores: split torch's intra-op threads between them.
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        tch::set_num_threads((cores / args.workers).max(1) as i32);
    }
    let factory: Arc<StylizerFactory> = Arc::new(move || {
        let device = Device::cuda_if_available();
        let (net, info) = load_network(&model_dir, &vgg_path, device).map_err(|e| e.to_string())?;
        let codes = match info.collection {
            Some(_) => load_collection(&model_dir, &info, device).map_err(|e| e.to_string())?,
            None => Vec::new(),
        };
        Ok(Stylizer::new(Method::Model(net), device).with_collection(codes))
    });

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async move {
        let styles = gallery.styles().len();
        let server = Server::start(config.clone(), gallery, model_label.clone(), factory).await?;
        if !server.local_addr().ip().is_loopback() {
            eprintln!("warning: listening on {}: reachable from other machines", server.local_addr().ip());
        }
        eprintln!("config: {}", serde_json::to_string(&config).expect("serializable"));
        eprintln!("model {model_label}; {styles} styles, {} workers, queue {}", config.workers, config.queue);
        // Tests and scripts read this line for the port (with --addr 127.0.0.1:0).
        eprintln!("listening on http://{}", server.local_addr());
        server.run(shutdown_signal()).await.context("serving")?;
        eprintln!("stopped: running requests finished");
        Ok(())
    })
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    eprintln!("shutting down: finishing running requests");
}

/// The gallery thumbnail of a model's collection: the `collection.jpg` its fine-tune wrote, or
/// a plain grey tile for a folder without one.
fn collection_thumbnail(model_dir: &std::path::Path) -> Vec<u8> {
    std::fs::read(model_dir.join(stylize_model::model_dir::COLLECTION_THUMBNAIL)).unwrap_or_else(|_| {
        let grey = stylize_io::RgbImage::from_pixel(96, 96, stylize_io::image::Rgb([200, 200, 200]));
        let opts = stylize_io::SaveOptions { jpeg_quality: 85, metadata: vec![] };
        stylize_io::encode_to_vec(&grey, None, stylize_io::OutputFormat::Jpeg, &opts, "collection").expect("a small JPEG encodes")
    })
}
