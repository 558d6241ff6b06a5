//! A fixed number of worker threads that own the networks, fed by an admission-controlled
//! queue. The async runtime never runs the model: it hands a job over and awaits the reply.
//! Admission is a counter, so "full" is exact: at most `workers + queue` jobs are accepted
//! (a [`Slot`] reserved) and not yet finished; one more is refused (HTTP 429) instead of
//! waiting without bound. A job whose client is gone (its [`Ticket`] dropped) gives its place
//! back at once if it has not started; a running job keeps it until it ends (libtorch cannot
//! be interrupted).

use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use stylize_io::{GrayImage, OutputFormat, RgbImage, SaveOptions};
use stylize_model::Precision;
use stylize_model::semantic::SemanticConfig;
use stylize_pipeline::{Options, PipelineError, Style, Stylizer};
use tokio::sync::oneshot;

use crate::error::ServerError;
use crate::gallery::GallerySource;

/// Where a job's style comes from.
pub enum StyleSource {
    /// A gallery style: computed once per worker and kept.
    Gallery { id: String, source: crate::gallery::GallerySource },
    /// An uploaded painting, already fitted to the style size.
    Upload(RgbImage),
}

pub struct Job {
    /// Already fitted for the network.
    pub photo: RgbImage,
    pub alpha: Option<GrayImage>,
    pub style: StyleSource,
    /// Semantic transfer (regions matched to the painting's), if asked for.
    pub semantic: Option<SemanticConfig>,
    /// Where to stylize: a mask already fitted to the photo (see `stylize_io::mask`).
    pub mask: Option<GrayImage>,
    pub options: Options,
    pub format: OutputFormat,
    pub metadata: Vec<(String, String)>,
}

/// Why a job gave no image.
#[derive(Debug)]
pub enum JobError {
    /// The request asks for what this model cannot do (for the client: 422).
    Refused(String),
    /// Anything else: for the log only (the client gets 500).
    Failed(String),
}

/// What a worker answers: the encoded image, or what went wrong.
pub type Answer = Result<Vec<u8>, JobError>;

/// A submitted job, shared by its [`Ticket`] and the queue. Whoever takes the job out first
/// owns the place: a worker (it runs the job, then frees the place) or the ticket's drop (the
/// client is gone before the job started: the place is freed at once, and the images with it).
struct Queued {
    job: Mutex<Option<(Job, oneshot::Sender<Answer>)>>,
}

/// The pool is full: try again later.
#[derive(Debug)]
pub struct Busy;

/// A reserved place in the queue; dropped without [`Slot::submit`], it is given back.
pub struct Slot {
    pool: Arc<Pool>,
    submitted: bool,
}

impl Slot {
    /// Hands the job to the workers; it then holds the place until a worker is done with it,
    /// or until the returned ticket is dropped before a worker took it.
    pub fn submit(mut self, job: Job) -> Result<Ticket, Busy> {
        let (reply, answer) = oneshot::channel();
        let queued = Arc::new(Queued { job: Mutex::new(Some((job, reply))) });
        let sender = self.pool.sender.lock().expect("not poisoned");
        let sent = sender.as_ref().is_some_and(|tx| tx.send(queued.clone()).is_ok());
        drop(sender);
        self.submitted = sent;
        if sent {
            Ok(Ticket { pool: self.pool.clone(), queued, answer })
        } else {
            Err(Busy) // shutting down; the place is given back on drop
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.submitted {
            self.pool.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// A submitted job, seen from its request. Dropping it (the client went away, the request
/// timed out) withdraws a job that has not started and frees its place immediately.
pub struct Ticket {
    pool: Arc<Pool>,
    queued: Arc<Queued>,
    answer: oneshot::Receiver<Answer>,
}

impl Ticket {
    /// The worker's answer; `Err` if the worker went away without answering.
    pub async fn answer(&mut self) -> Result<Answer, oneshot::error::RecvError> {
        (&mut self.answer).await
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let withdrawn = self.queued.job.lock().expect("not poisoned").take();
        if withdrawn.is_some() {
            self.pool.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Builds one worker's networks; called on the worker's own thread (tch tensors are not `Sync`).
pub type StylizerFactory = dyn Fn() -> Result<Stylizer, String> + Send + Sync;

pub struct Pool {
    sender: Mutex<Option<mpsc::Sender<Arc<Queued>>>>,
    handles: Mutex<Vec<JoinHandle<()>>>,
    workers: usize,
    capacity: usize,
    /// Accepted and not yet finished (queued + running).
    pending: AtomicUsize,
    /// Exponential moving average of a job's run time, in milliseconds (for Retry-After).
    avg_ms: AtomicU64,
    precision: Precision,
}

impl Pool {
    /// Starts `workers` threads, each loading its networks with `factory`; returns once all
    /// have loaded, or the first loading error.
    pub fn start(
        workers: usize,
        queue: usize,
        precision: Precision,
        factory: Arc<StylizerFactory>,
    ) -> Result<Arc<Pool>, ServerError> {
        if workers == 0 {
            return Err(ServerError::Config("--workers must be at least 1".into()));
        }
        let (tx, rx) = mpsc::channel::<Arc<Queued>>();
        let rx = Arc::new(Mutex::new(rx));
        let pool = Arc::new(Pool {
            sender: Mutex::new(Some(tx)),
            handles: Mutex::new(Vec::new()),
            workers,
            capacity: workers + queue,
            pending: AtomicUsize::new(0),
            avg_ms: AtomicU64::new(2000),
            precision,
        });
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        for i in 0..workers {
            let (rx, factory, ready, me) = (rx.clone(), factory.clone(), ready_tx.clone(), Arc::downgrade(&pool));
            let handle = std::thread::Builder::new()
                .name(format!("stylize-worker-{i}"))
                .spawn(move || {
                    let stylizer = match factory() {
                        Ok(s) => {
                            let _ = ready.send(Ok(()));
                            s
                        }
                        Err(e) => {
                            let _ = ready.send(Err(e));
                            return;
                        }
                    };
                    worker_loop(&stylizer, &rx, &me);
                })
                .map_err(|e| ServerError::Worker(e.to_string()))?;
            pool.handles.lock().expect("not poisoned").push(handle);
        }
        for _ in 0..workers {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    pool.shutdown();
                    return Err(ServerError::Worker(e));
                }
                Err(_) => return Err(ServerError::Worker("a worker exited while loading".into())),
            }
        }
        Ok(pool)
    }

    /// Takes a place in the queue, or refuses when `workers + queue` jobs are already pending.
    /// Taken before the upload is decoded, so decoded images in memory are bounded too.
    pub fn reserve(self: &Arc<Self>) -> Result<Slot, Busy> {
        self.pending
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |p| (p < self.capacity).then_some(p + 1))
            .map_err(|_| Busy)?;
        Ok(Slot { pool: self.clone(), submitted: false })
    }

    /// Seconds until a slot is likely free: the queue ahead, at the recent job time.
    pub fn retry_after_secs(&self) -> u64 {
        let per_job = self.avg_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        let waves = (self.pending.load(Ordering::Relaxed) as f64 / self.workers as f64).max(1.0);
        (per_job * waves).ceil().clamp(1.0, 600.0) as u64
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    pub fn queue(&self) -> usize {
        self.capacity - self.workers
    }

    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Stops taking jobs; the workers finish what is queued, then exit. Blocks until they have.
    pub fn shutdown(&self) {
        self.sender.lock().expect("not poisoned").take();
        let handles = std::mem::take(&mut *self.handles.lock().expect("not poisoned"));
        for h in handles {
            let _ = h.join();
        }
    }

    fn finished(&self, ms: u64) {
        // 80/20 moving average: follows a change of image sizes within a few jobs.
        let old = self.avg_ms.load(Ordering::Relaxed);
        self.avg_ms.store((old * 4 + ms) / 5, Ordering::Relaxed);
    }
}

fn worker_loop(stylizer: &Stylizer, rx: &Mutex<mpsc::Receiver<Arc<Queued>>>, pool: &std::sync::Weak<Pool>) {
    let mut gallery_styles: HashMap<String, Style> = HashMap::new();
    loop {
        // The lock is held only while waiting for the next job, not while running it.
        let queued = match rx.lock().expect("not poisoned").recv() {
            Ok(q) => q,
            Err(_) => return, // the sender is gone: shutting down
        };
        let Some(pool) = pool.upgrade() else { return };
        // Withdrawn by its request (which already freed the place): skip it.
        let Some((job, reply)) = queued.job.lock().expect("not poisoned").take() else { continue };
        let started = Instant::now();
        let result = panic::catch_unwind(AssertUnwindSafe(|| run(stylizer, job, &mut gallery_styles, pool.precision)))
            .unwrap_or_else(|p| Err(JobError::Failed(format!("worker panicked: {}", panic_message(&p)))));
        pool.finished(started.elapsed().as_millis() as u64);
        // Free the place before answering, so a client that got its answer sees the capacity.
        pool.pending.fetch_sub(1, Ordering::SeqCst);
        let _ = reply.send(result);
    }
}

fn run(stylizer: &Stylizer, job: Job, gallery_styles: &mut HashMap<String, Style>, precision: Precision) -> Answer {
    let Job { photo, alpha, style, semantic, mask, options, format, metadata } = job;
    let of_painting = |image: &RgbImage| match semantic {
        Some(cfg) => stylizer.semantic_style(image, cfg, None),
        None => stylizer.style(&[image], &[1.0], precision),
    };
    let uploaded;
    let style: &Style = match style {
        // A gallery style is kept per worker, plain and semantic apart.
        StyleSource::Gallery { id, source } => match gallery_styles.entry(format!("{id}#{}", semantic.map_or(0, |c| c.clusters))) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let style = match source {
                    GallerySource::Painting(image) => of_painting(&image),
                    GallerySource::Collection { paintings } => stylizer.collection_style(&vec![1.0; paintings]),
                };
                e.insert(style.map_err(job_error)?)
            }
        },
        StyleSource::Upload(img) => {
            uploaded = of_painting(&img).map_err(job_error)?;
            &uploaded
        }
    };
    let out = stylizer.stylize(&photo, style, &options, &mut |_, _| {}).map_err(job_error)?;
    let out = match &mask {
        Some(m) => stylize_io::mask::blend(&photo, &out, m),
        None => out,
    };
    let opts = SaveOptions { jpeg_quality: 92, metadata };
    stylize_io::encode_to_vec(&out, alpha.as_ref(), format, &opts, "result").map_err(|e| JobError::Failed(format!("encoding failed: {e}")))
}

/// What the client may hear (a setting this model cannot do) and what only the log may.
fn job_error(e: PipelineError) -> JobError {
    match e {
        PipelineError::Unsupported(s) => JobError::Refused(s),
        PipelineError::Size(s) => JobError::Refused(s.to_string()),
        other => JobError::Failed(other.to_string()),
    }
}

pub(crate) fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_else(|| "panic".into())
}
