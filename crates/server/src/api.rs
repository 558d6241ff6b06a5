//! The HTTP routes: the page, the style gallery, stylizing, health, and the OpenAPI document.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::FutureExt;
use stylize_io::{Limits, LoadedImage, OutputFormat};
use stylize_pipeline::{fit, Options, Sizing, MIN_SIDE};

use crate::error::{internal_body, ApiError, InternalDetail};
use crate::gallery::GallerySource;
use crate::pool::{Job, JobError, StyleSource};
use stylize_model::semantic::{SemanticConfig, DEFAULT_REGIONS};
use crate::AppState;

const INDEX_HTML: &str = include_str!("../assets/index.html");

/// Multipart overhead (boundaries, part headers, the text fields) allowed on top of the upload limit.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// A body over the limit is still read and dropped up to this many times the limit before the
/// 413 goes out (see [`read_upload`]); past that the connection is simply closed.
const DRAIN_FACTOR: usize = 4;

pub fn router(state: Arc<AppState>) -> Router {
    let body_limit = state.config.max_upload_bytes + MULTIPART_OVERHEAD;
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(health))
        .route("/api/openapi.json", get(openapi))
        .route("/api/styles", get(styles))
        .route("/api/styles/{id}/thumbnail", get(thumbnail))
        .route(
            "/api/stylize",
            post(stylize).layer(DefaultBodyLimit::max(body_limit)).layer(middleware::from_fn_with_state(state.clone(), read_upload)),
        )
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route; see /api/openapi.json") })
        .layer(middleware::from_fn(log_and_harden))
        .with_state(state)
}

async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

async fn health(State(app): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let status = if app.shutting_down.load(Ordering::SeqCst) { "shutting_down" } else { "ok" };
    Json(serde_json::json!({
        "status": status,
        "workers": app.pool.workers(),
        "queue": app.pool.queue(),
        "pending": app.pool.pending(),
        "styles": app.gallery.styles().len(),
    }))
}

async fn styles(State(app): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let c = &app.config;
    let styles: Vec<_> = app
        .gallery
        .styles()
        .iter()
        .map(|s| serde_json::json!({ "id": s.id, "name": s.name, "kind": s.source.kind(), "thumbnail": format!("/api/styles/{}/thumbnail", s.id) }))
        .collect();
    Json(serde_json::json!({
        "styles": styles,
        "limits": {
            "max_upload_bytes": c.max_upload_bytes,
            "max_pixels": c.max_pixels,
            "max_size": c.max_size,
            "default_size": c.default_size,
        },
    }))
}

async fn thumbnail(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let style = app.gallery.get(&id).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no style with id {id:?}")))?;
    let headers = [(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "public, max-age=3600")];
    Ok((headers, style.thumbnail.clone()).into_response())
}

/// The fields of a `POST /api/stylize` form, before any decoding.
#[derive(Default)]
pub struct Form {
    pub image: Option<Bytes>,
    pub style: Option<String>,
    pub style_image: Option<Bytes>,
    pub strength: Option<String>,
    pub preserve_color: Option<String>,
    pub size: Option<String>,
    pub format: Option<String>,
    pub semantic: Option<String>,
    pub mask: Option<Bytes>,
}

/// Parses a `POST /api/stylize` body of type `content_type` as the route does (what the fuzz
/// target `upload` drives, without a server): the form, or the 400/413 the client would get.
pub async fn parse_form(content_type: &str, body: Bytes, max_upload_bytes: usize) -> Result<Form, ApiError> {
    use axum::extract::FromRequest;
    let req = Request::post("/api/stylize").header(header::CONTENT_TYPE, content_type).body(axum::body::Body::from(body)).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let multipart = Multipart::from_request(req, &()).await.map_err(not_multipart)?;
    read_form(multipart, max_upload_bytes).await
}

fn too_big(max_upload_bytes: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the upload exceeds the limit of {max_upload_bytes} bytes (--max-upload-mb)"))
}

/// Reads a `POST /api/stylize` body whole before the handler runs: within the read timeout
/// (else 408: a client that trickles its upload must not hold a connection and its buffers
/// forever) and within the upload limit (else 413). A body over the limit is still read and
/// dropped, up to `DRAIN_FACTOR` times the limit, before the 413 goes out: a client still
/// sending when the server answers and closes gets a broken pipe instead of the answer.
async fn read_upload(State(app): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    use futures_util::StreamExt;
    let c = &app.config;
    let limit = c.max_upload_bytes + MULTIPART_OVERHEAD;
    let (parts, body) = req.into_parts();
    let mut stream = body.into_data_stream();
    let (mut kept, mut seen) = (Vec::new(), 0usize);
    let read = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| ())?;
            seen += chunk.len();
            if seen <= limit {
                kept.extend_from_slice(&chunk);
            } else if seen > DRAIN_FACTOR * limit {
                break;
            }
        }
        Ok(())
    };
    match tokio::time::timeout(Duration::from_millis(c.read_timeout_ms), read).await {
        Err(_) => {
            let secs = c.read_timeout_ms as f64 / 1000.0;
            return ApiError::new(StatusCode::REQUEST_TIMEOUT, format!("the upload was not received within {secs} s (read timeout)")).into_response();
        }
        // The client went away mid-upload: nobody reads this answer.
        Ok(Err(())) => return ApiError::bad_request("the upload was cut off").into_response(),
        Ok(Ok(())) => {}
    }
    if seen > limit {
        return too_big(c.max_upload_bytes).into_response();
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(kept))).await
}

fn not_multipart(e: MultipartRejection) -> ApiError {
    ApiError::bad_request(format!("expected a multipart/form-data body: {e}"))
}

async fn stylize(State(app): State<Arc<AppState>>, multipart: Result<Multipart, MultipartRejection>) -> Result<Response, ApiError> {
    if app.shutting_down.load(Ordering::SeqCst) {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down").retry_after(5));
    }
    let started = Instant::now();
    let multipart = multipart.map_err(not_multipart)?;
    let c = &app.config;
    // The body is already in memory (read_upload), within the read timeout and the limit.
    let form = read_form(multipart, c.max_upload_bytes).await?;

    let strength = parse_number("strength", form.strength.as_deref(), 1.0)?;
    if !(0.0..=1.0).contains(&strength) {
        return Err(ApiError::unprocessable(format!("strength must be between 0 and 1, got {strength}")));
    }
    let preserve_colour = parse_bool("preserve_color", form.preserve_color.as_deref())?;
    let semantic = parse_semantic(form.semantic.as_deref())?;
    let size = parse_number("size", form.size.as_deref(), c.default_size as f64)?;
    if !(size >= MIN_SIDE as f64 && size <= c.max_size as f64 && size.fract() == 0.0) {
        return Err(ApiError::unprocessable(format!("size must be a whole number of pixels from {MIN_SIDE} to {}, got {size}", c.max_size)));
    }
    let format = match form.format.as_deref().unwrap_or("png") {
        "png" => OutputFormat::Png,
        "jpeg" | "jpg" => OutputFormat::Jpeg,
        other => return Err(ApiError::unprocessable(format!("format must be png or jpeg, got {other:?}"))),
    };
    let image = form.image.ok_or_else(|| ApiError::bad_request("missing the image field (the photo)"))?;
    let style_source = match (form.style, form.style_image) {
        (Some(_), Some(_)) => return Err(ApiError::bad_request("give either style (a gallery id) or style_image, not both")),
        (None, None) => return Err(ApiError::bad_request("missing style (a gallery id) or style_image (a painting)")),
        (Some(id), None) => {
            let s = app.gallery.get(&id).ok_or_else(|| ApiError::unprocessable(format!("no style with id {id:?}; see /api/styles")))?;
            if semantic.is_some() && matches!(s.source, GallerySource::Collection { .. }) {
                return Err(ApiError::unprocessable("semantic matches the regions of one painting; a collection is many: choose a painting"));
            }
            Err((s.id.clone(), s.source.clone()))
        }
        (None, Some(bytes)) => Ok(bytes),
    };

    // A place in the queue before decoding: at most workers + queue uploads are decoded and held.
    let Ok(slot) = app.pool.reserve() else {
        let wait = app.pool.retry_after_secs();
        return Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, format!("all workers are busy and the queue is full; retry in {wait} s"))
            .retry_after(wait));
    };
    // Decoding is CPU work: off the async threads. Limits come from the header, before decoding.
    // The slot travels with the decoding, so it is held while decoded images exist.
    let limits = Limits { max_pixels: c.max_pixels, max_file_bytes: c.max_upload_bytes as u64 };
    let style_side = c.style_size;
    let mask_bytes = form.mask;
    let (photo, alpha, style, style_label, mask, slot) = tokio::task::spawn_blocking(move || {
        let photo = decode(&image, "image", &limits)?;
        // Sizes are checked after the last resize; the message names the upload's own size.
        let rgb = fit(&photo.rgb, Sizing::AtMost(size as u32)).map_err(|e| ApiError::unprocessable(format!("image: {e}")))?;
        // Every problem with a mask is the request's: 422, whatever the decoder says.
        let mask = match mask_bytes {
            Some(bytes) => {
                let m = stylize_io::load_from_bytes(&bytes, "mask", &limits).map_err(|e| ApiError::unprocessable(e.to_string()))?;
                Some(stylize_io::mask::fit_mask(&m.rgb, "mask", rgb.dimensions(), stylize_io::mask::DEFAULT_FEATHER).map_err(|e| ApiError::unprocessable(e.to_string()))?)
            }
            None => None,
        };
        let (style, label) = match style_source {
            Err((id, source)) => (StyleSource::Gallery { id: id.clone(), source }, id),
            Ok(bytes) => {
                let painting = decode(&bytes, "style_image", &limits)?;
                let sized = fit(&painting.rgb, Sizing::Exact(style_side)).map_err(|e| ApiError::unprocessable(format!("style_image: {e}")))?;
                (StyleSource::Upload(sized), "upload".to_string())
            }
        };
        Ok((rgb, photo.alpha, style, label, mask, slot))
    })
    .await
    .map_err(|e| ApiError::internal(format!("decoding task failed: {e}")))??;

    let options = Options { strength, preserve_colour, tile: c.tile, precision: c.precision };
    let mut metadata = vec![
        ("stylize:version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("stylize:model".to_string(), app.model_label.clone()),
        ("stylize:style".to_string(), style_label),
        ("stylize:strength".to_string(), strength.to_string()),
        ("stylize:preserve_color".to_string(), preserve_colour.to_string()),
        ("stylize:size".to_string(), format!("{}x{}", photo.width(), photo.height())),
    ];
    if let Some(cfg) = &semantic {
        metadata.push(("stylize:semantic".to_string(), format!("{} regions", cfg.clusters)));
    }
    if mask.is_some() {
        metadata.push(("stylize:mask".to_string(), format!("uploaded, feather {} px", stylize_io::mask::DEFAULT_FEATHER)));
    }
    let job = Job { photo, alpha, style, semantic, mask, options, format, metadata };
    let Ok(mut ticket) = slot.submit(job) else {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down").retry_after(5));
    };
    // If this future is dropped (the client went away) or times out, dropping the ticket
    // withdraws a job that has not started, and its place is free at once.
    let bytes = match tokio::time::timeout(Duration::from_millis(c.timeout_ms), ticket.answer()).await {
        Ok(Ok(Ok(bytes))) => bytes,
        Ok(Ok(Err(JobError::Refused(why)))) => return Err(ApiError::unprocessable(why)),
        Ok(Ok(Err(JobError::Failed(detail)))) => return Err(ApiError::internal(detail)),
        Ok(Err(_)) => return Err(ApiError::internal("the worker stopped before answering")),
        Err(_) => {
            drop(ticket);
            let wait = app.pool.retry_after_secs();
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("not done within the {} s limit (--timeout)", c.timeout_ms as f64 / 1000.0))
                .retry_after(wait));
        }
    };
    let seconds = format!("{:.3}", started.elapsed().as_secs_f64());
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(format.mime_type())),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::HeaderName::from_static("x-stylize-seconds"), HeaderValue::from_str(&seconds).expect("ASCII digits")),
    ];
    Ok((headers, bytes).into_response())
}

async fn read_form(mut multipart: Multipart, max_upload_bytes: usize) -> Result<Form, ApiError> {
    let mut form = Form::default();
    let field_err = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_big(max_upload_bytes)
        } else {
            ApiError::bad_request(format!("malformed multipart body: {}", e.body_text()))
        }
    };
    while let Some(field) = multipart.next_field().await.map_err(field_err)? {
        // Only the field name is used; a client's file name is never read, logged or stored.
        let name = field.name().unwrap_or_default().to_string();
        let bytes = field.bytes().await.map_err(field_err)?;
        let text = || String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::bad_request(format!("field {name} must be UTF-8 text")));
        let slot = match name.as_str() {
            "image" => {
                form.image = Some(bytes.clone());
                continue;
            }
            "style_image" => {
                form.style_image = Some(bytes.clone());
                continue;
            }
            "mask" => {
                form.mask = Some(bytes.clone());
                continue;
            }
            "semantic" => &mut form.semantic,
            "style" => &mut form.style,
            "strength" => &mut form.strength,
            "preserve_color" | "preserve_colour" => &mut form.preserve_color,
            "size" => &mut form.size,
            "format" => &mut form.format,
            other => return Err(ApiError::bad_request(format!("unknown field {other:?}; see /api/openapi.json"))),
        };
        let value = text()?;
        *slot = Some(value.trim().to_string()).filter(|v| !v.is_empty());
    }
    Ok(form)
}

fn decode(bytes: &[u8], field: &str, limits: &Limits) -> Result<LoadedImage, ApiError> {
    stylize_io::load_from_bytes(bytes, field, limits).map_err(|e| ApiError::from_image(&e))
}

/// The `semantic` field: absent, "false" or "0" is off; "true" is `DEFAULT_REGIONS`; 1-8 that many.
fn parse_semantic(value: Option<&str>) -> Result<Option<SemanticConfig>, ApiError> {
    let clusters = match value {
        None | Some("false") | Some("0") => return Ok(None),
        Some("true") => DEFAULT_REGIONS,
        Some(v) => match v.parse::<usize>() {
            Ok(k) if (1..=MAX_REGIONS).contains(&k) => k,
            _ => return Err(ApiError::unprocessable(format!("semantic must be true, false or a number of regions from 1 to {MAX_REGIONS}, got {v:?}"))),
        },
    };
    Ok(Some(SemanticConfig { clusters, ..Default::default() }))
}

/// The most regions `semantic` may ask for (as `stylize run --semantic`).
const MAX_REGIONS: usize = 8;

fn parse_number(field: &str, value: Option<&str>, default: f64) -> Result<f64, ApiError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| ApiError::unprocessable(format!("{field} must be a number, got {v:?}"))),
    }
}

fn parse_bool(field: &str, value: Option<&str>) -> Result<bool, ApiError> {
    match value.map(|v| v.to_ascii_lowercase()).as_deref() {
        None | Some("false" | "0" | "off" | "no") => Ok(false),
        Some("true" | "1" | "on" | "yes") => Ok(true),
        Some(v) => Err(ApiError::unprocessable(format!("{field} must be true or false, got {v:?}"))),
    }
}

/// One log line per request (method, path, status, time, request id, and for a 500 what went
/// wrong: never image data or client file names), an `X-Request-Id` header on every answer,
/// and headers that keep browsers from guessing types or leaking the page's URL. Every 500
/// (a handler's panic included) leaves with the same fixed body, so no internal text leaks.
async fn log_and_harden(req: Request, next: Next) -> Response {
    let id = forwarded_request_id(&req).unwrap_or_else(next_request_id);
    let mut line = LogLine { method: req.method().to_string(), path: req.uri().path().to_string(), id: id.clone(), started: Instant::now(), outcome: None };
    let mut res = AssertUnwindSafe(next.run(req))
        .catch_unwind()
        .await
        .unwrap_or_else(|p| ApiError::internal(format!("handler panicked: {}", crate::pool::panic_message(&p))).into_response());
    let mut detail = String::new();
    if res.status() == StatusCode::INTERNAL_SERVER_ERROR {
        let d = res.extensions().get::<InternalDetail>().map_or("(no detail)", |d| d.0.as_str());
        detail = format!(" error: {}", one_line(d));
        res = (StatusCode::INTERNAL_SERVER_ERROR, Json(internal_body(&id))).into_response();
    }
    line.outcome = Some((res.status().as_u16(), detail));
    let h = res.headers_mut();
    h.insert(header::HeaderName::from_static("x-request-id"), HeaderValue::from_str(&id).expect("hex digits"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; img-src 'self' blob: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"),
    );
    res
}

/// A request's log line, written when dropped: so a request whose client went away (hyper
/// then drops the handler mid-way) is logged too, as 499 like nginx does.
struct LogLine {
    method: String,
    path: String,
    id: String,
    started: Instant,
    /// The status and the detail for the log; `None` while unanswered.
    outcome: Option<(u16, String)>,
}

impl Drop for LogLine {
    fn drop(&mut self) {
        let (status, detail) = self.outcome.take().unwrap_or((499, " client closed the connection; nothing sent".into()));
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        eprintln!("{} {} {status} {ms:.0} ms id={}{detail}", self.method, self.path, self.id);
    }
}

/// The `X-Request-Id` a load balancer or proxy already gave the request, so its logs and ours
/// name the request alike; only a short, plain token is taken (1-64 of `A-Za-z0-9._-`).
fn forwarded_request_id(req: &Request) -> Option<String> {
    let id = req.headers().get("x-request-id")?.to_str().ok()?;
    let plain = (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    plain.then(|| id.to_string())
}

/// 16 hex digits: a process-wide counter mixed with the start time, through splitmix64's
/// finaliser (a bijection), so ids never repeat within a process and rarely across restarts.
fn next_request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static START: OnceLock<u64> = OnceLock::new();
    let start = *START.get_or_init(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64));
    let mut x = start.wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    format!("{:016x}", x ^ (x >> 31))
}

/// A detail fit for one log line: no line breaks, at most 300 characters.
fn one_line(text: &str) -> String {
    let flat: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(300).collect();
    flat.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_parse_strictly() {
        assert_eq!(parse_number("size", None, 512.0).unwrap(), 512.0);
        assert_eq!(parse_number("strength", Some("0.25"), 1.0).unwrap(), 0.25);
        assert_eq!(parse_number("strength", Some("nan"), 1.0).unwrap_err().status, 422);
        assert_eq!(parse_number("strength", Some("lots"), 1.0).unwrap_err().status, 422);
        assert!(parse_bool("p", Some("ON")).unwrap());
        assert!(!parse_bool("p", None).unwrap());
        assert_eq!(parse_bool("p", Some("maybe")).unwrap_err().status, 422);
    }

    async fn panics() -> &'static str {
        panic!("worker state at /opt/secret/path")
    }

    #[tokio::test]
    async fn every_500_has_a_fixed_body_naming_the_request_id() {
        use tower::ServiceExt;
        let libtorch = "the network failed: Exception raised from conv at /opt/libtorch/aten/Conv.cpp:42\nframe #0: c10::Error";
        let app = Router::new()
            .route("/fails", get(move || async move { Err::<(), _>(ApiError::internal(libtorch)) }))
            .route("/panics", get(panics))
            .route("/ok", get(|| async { "ok" }))
            .layer(middleware::from_fn(log_and_harden));
        let call = |path: &str| app.clone().oneshot(Request::get(path).body(axum::body::Body::empty()).unwrap());
        for path in ["/fails", "/panics"] {
            let res = call(path).await.unwrap();
            assert_eq!(res.status(), 500);
            let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
            assert!(id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
            let body = axum::body::to_bytes(res.into_body(), 10_000).await.unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body, serde_json::json!({ "error": format!("internal error; quote request id {id}"), "request_id": id }));
        }
        let (a, b) = (call("/ok").await.unwrap(), call("/ok").await.unwrap());
        assert_ne!(a.headers()["x-request-id"], b.headers()["x-request-id"], "every request has its own id");
        // An id from a load balancer is kept when it is a plain token, replaced otherwise.
        let with = |id: &str| app.clone().oneshot(Request::get("/ok").header("x-request-id", id).body(axum::body::Body::empty()).unwrap());
        assert_eq!(with("lb-7f3a.2_x").await.unwrap().headers()["x-request-id"], "lb-7f3a.2_x");
        for bad in ["<script>", "a b", &"x".repeat(65)] {
            let got = with(bad).await.unwrap().headers()["x-request-id"].to_str().unwrap().to_string();
            assert!(got != bad && got.len() == 16, "{bad:?} -> {got}");
        }
    }

    #[test]
    fn log_details_are_one_line() {
        assert_eq!(one_line("a\nb\r\tc"), "a b  c");
        assert_eq!(one_line(&"x".repeat(1000)).len(), 300);
    }
}
