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
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

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
    /// Per request, from the job's submission (the upload read and decoded) to the answer,
    /// waiting in the queue included, in milliseconds; past it the answer is 503.
    pub timeout_ms: u64,
    /// Slow or idle clients: the most a connection may take to send a request's headers (an
    /// idle keep-alive connection is closed after it), and then its whole body (else 408).
    pub read_timeout_ms: u64,
    /// Open connections at most; more wait in the kernel's backlog until one closes. Bounds
    /// file descriptors and the upload bytes being received at once.
    pub max_connections: usize,
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
            read_timeout_ms: 30_000,
            max_connections: 512,
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

/// Request headers (request line included) larger than this are refused with 431: far above
/// what a browser sends, far below what would cost memory. Headers still incomplete when
/// hyper's read buffer (about 400 KB) is full get 431 the same way.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

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
        if config.read_timeout_ms == 0 || config.max_connections == 0 {
            return Err(ServerError::Config("the read timeout and the connection limit must be positive".into()));
        }
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|source| ServerError::Bind { addr: config.addr.to_string(), source })?;
        let (workers, queue, precision) = (config.workers, config.queue, config.precision);
        let pool = tokio::task::spawn_blocking(move || Pool::start(workers, queue, precision, factory))
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
    ///
    /// A small accept loop rather than `axum::serve`, which cannot set hyper's header read
    /// timeout or header size limit. HTTP/1 only. A client that closes its connection while
    /// its request is being handled has the handler's future dropped by hyper (it watches for
    /// EOF while the handler runs; half-close is off), which withdraws a queued job.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let config = &self.state.config;
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(Duration::from_millis(config.read_timeout_ms))
            .max_header_size(MAX_HEADER_BYTES);
        let app = api::router(self.state.clone());
        let graceful = GracefulShutdown::new();
        let connections = Arc::new(tokio::sync::Semaphore::new(config.max_connections));
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                permit = connections.clone().acquire_owned() => permit.expect("never closed"),
                _ = &mut shutdown => break,
            };
            let stream = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        eprintln!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone())));
            tokio::spawn(async move {
                let _ = conn.await; // a client's broken connection is no server error
                drop(permit);
            });
        }
        self.state.shutting_down.store(true, Ordering::SeqCst);
        drop(self.listener);
        // Idle connections close now; the ones with a request in progress when it is answered.
        graceful.shutdown().await;
        let pool = self.state.pool.clone();
        let _ = tokio::task::spawn_blocking(move || pool.shutdown()).await;
        Ok(())
    }
}
