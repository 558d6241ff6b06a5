//! `stylize serve`: a web page and an HTTP API over the same pipeline as `stylize run`.
//!
//! - [`api`]: the routes and their limits;
//! - [`pool`]: worker threads that own the networks, and the bounded queue in front of them;
//! - [`gallery`]: the configured style folder, in memory;
//! - [`openapi`]: the API's description.

pub mod api;
pub mod error;
pub mod gallery;
pub mod openapi;
pub mod pool;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;
use stylize_model::Precision;

pub use error::{ApiError, ServerError};
pub use gallery::Gallery;
pub use pool::{Pool, StylizerFactory};

/// Everything `stylize serve` can be told; printed at startup.
#[derive(Clone, Debug, Serialize)]
pub struct ServerConfig {
    pub addr: SocketAddr,
    /// Threads that run the model, each with its own copy of the networks.
    pub workers: usize,
    /// Jobs that may wait for a worker; one more gets 429.
    pub queue: usize,
    /// Per request, from upload to answer, in milliseconds; past it the answer is 503.
    pub timeout_ms: u64,
    /// Largest request body (photo and style image together).
    pub max_upload_bytes: usize,
    /// Largest `width * height` of an uploaded image, checked from its header.
    pub max_pixels: u64,
    /// Largest `size` a client may ask for (the result's longer side).
    pub max_size: u32,
    pub default_size: u32,
    /// Paintings are resized to this longer side before their style is taken.
    pub style_size: u32,
    /// Tile side for the network (see `stylize run --tile`).
    pub tile: u32,
    pub precision: Precision,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: 1,
            queue: 8,
            timeout_ms: 120_000,
            max_upload_bytes: 20_000_000,
            max_pixels: 16_000_000,
            max_size: 1024,
            default_size: 512,
            style_size: 512,
            tile: 512,
            precision: Precision::F32,
        }
    }
}

/// Shared by every request.
pub struct AppState {
    pub config: ServerConfig,
    pub gallery: Gallery,
    pub pool: Arc<Pool>,
    /// Written into each result's metadata, e.g. "default (6502 steps)".
    pub model_label: String,
    pub shutting_down: AtomicBool,
}

/// A bound, ready server: the workers have loaded their networks.
pub struct Server {
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
}

impl Server {
    /// Starts the workers (each calls `factory` once) and binds `config.addr`.
    pub async fn start(
        config: ServerConfig,
        gallery: Gallery,
        model_label: String,
        factory: Arc<StylizerFactory>,
    ) -> Result<Server, ServerError> {
        if config.max_size < stylize_pipeline::MIN_SIDE || config.default_size > config.max_size {
            return Err(ServerError::Config(format!(
                "sizes must satisfy {} <= default size <= --max-size (got {} and {})",
                stylize_pipeline::MIN_SIDE,
                config.default_size,
                config.max_size
            )));
        }
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|source| ServerError::Bind { addr: config.addr.to_string(), source })?;
        let (workers, queue, side, precision) = (config.workers, config.queue, config.style_size, config.precision);
        let pool = tokio::task::spawn_blocking(move || Pool::start(workers, queue, side, precision, factory))
            .await
            .map_err(|e| ServerError::Worker(e.to_string()))??;
        let state = Arc::new(AppState { config, gallery, pool, model_label, shutting_down: AtomicBool::new(false) });
        Ok(Server { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until `shutdown` completes; then refuses new jobs, lets running requests finish
    /// and waits for the workers to exit.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let state = self.state.clone();
        let signal = async move {
            shutdown.await;
            state.shutting_down.store(true, Ordering::SeqCst);
        };
        axum::serve(self.listener, api::router(self.state.clone())).with_graceful_shutdown(signal).await?;
        let pool = self.state.pool.clone();
        let _ = tokio::task::spawn_blocking(move || pool.shutdown()).await;
        Ok(())
    }
}
