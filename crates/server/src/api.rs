//! The HTTP routes: the page, the style gallery, stylizing, health, and the OpenAPI document.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use stylize_io::{Limits, LoadedImage, OutputFormat};
use stylize_pipeline::{size_problem, Options, Sizing, MIN_SIDE};
use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::pool::{Job, StyleSource};
use crate::AppState;

const INDEX_HTML: &str = include_str!("../assets/index.html");

pub fn router(state: Arc<AppState>) -> Router {
    // Multipart overhead (boundaries, headers, the text fields) on top of the image bytes.
    let body_limit = state.config.max_upload_bytes + 64 * 1024;
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(health))
        .route("/api/openapi.json", get(openapi))
        .route("/api/styles", get(styles))
        .route("/api/styles/{id}/thumbnail", get(thumbnail))
        .route("/api/stylize", post(stylize).layer(DefaultBodyLimit::max(body_limit)))
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
        .map(|s| serde_json::json!({ "id": s.id, "name": s.name, "thumbnail": format!("/api/styles/{}/thumbnail", s.id) }))
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
struct Form {
    image: Option<Bytes>,
    style: Option<String>,
    style_image: Option<Bytes>,
    strength: Option<String>,
    preserve_color: Option<String>,
    size: Option<String>,
    format: Option<String>,
}

async fn stylize(State(app): State<Arc<AppState>>, multipart: Result<Multipart, MultipartRejection>) -> Result<Response, ApiError> {
    if app.shutting_down.load(Ordering::SeqCst) {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down").retry_after(5));
    }
    let started = Instant::now();
    let multipart = multipart.map_err(|e| ApiError::bad_request(format!("expected a multipart/form-data body: {e}")))?;
    let form = read_form(multipart, app.config.max_upload_bytes).await?;
    let c = &app.config;

    let strength = parse_number("strength", form.strength.as_deref(), 1.0)?;
    if !(0.0..=1.0).contains(&strength) {
        return Err(ApiError::unprocessable(format!("strength must be between 0 and 1, got {strength}")));
    }
    let preserve_colour = parse_bool("preserve_color", form.preserve_color.as_deref())?;
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
            Err((s.id.clone(), s.image.clone()))
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
    let limits = Limits { max_pixels: c.max_pixels, max_file_bytes: c.max_upload_bytes as u64 };
    let style_side = c.style_size;
    let (photo, alpha, style, style_label) = tokio::task::spawn_blocking(move || {
        let photo = decode(&image, "image", &limits)?;
        let rgb = Sizing::AtMost(size as u32).apply(&photo.rgb);
        if let Some(problem) = size_problem(&rgb) {
            return Err(ApiError::unprocessable(format!("image: {problem}")));
        }
        let (style, label) = match style_source {
            Err((id, image)) => (StyleSource::Gallery { id: id.clone(), image }, id),
            Ok(bytes) => {
                let painting = decode(&bytes, "style_image", &limits)?;
                (StyleSource::Upload(stylize_io::resize_to_max_side(&painting.rgb, style_side, true)), "upload".to_string())
            }
        };
        Ok((rgb, photo.alpha, style, label))
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("decoding failed: {e}")))??;

    let options = Options { strength, preserve_colour, tile: c.tile, precision: c.precision };
    let metadata = vec![
        ("stylize:version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("stylize:model".to_string(), app.model_label.clone()),
        ("stylize:style".to_string(), style_label),
        ("stylize:strength".to_string(), strength.to_string()),
        ("stylize:preserve_color".to_string(), preserve_colour.to_string()),
        ("stylize:size".to_string(), format!("{}x{}", photo.width(), photo.height())),
    ];
    let (reply, answer) = oneshot::channel();
    let cancelled = Arc::new(AtomicBool::new(false));
    let job = Job { photo, alpha, style, options, format, metadata, cancelled: cancelled.clone(), reply };
    if slot.submit(job).is_err() {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down").retry_after(5));
    }
    let bytes = match tokio::time::timeout(Duration::from_millis(c.timeout_ms), answer).await {
        Ok(Ok(Ok(bytes))) => bytes,
        Ok(Ok(Err(e))) => return Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e)),
        Ok(Err(_)) => return Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the worker stopped before answering")),
        Err(_) => {
            cancelled.store(true, Ordering::SeqCst);
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
    let too_big = || {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the upload exceeds the limit of {} bytes (--max-upload-mb)", max_upload_bytes))
    };
    let field_err = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_big()
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

/// One log line per request (method, path, status, time: never image data or client file
/// names), and headers that keep browsers from guessing types or leaking the page's URL.
async fn log_and_harden(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let started = Instant::now();
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; img-src 'self' blob: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"),
    );
    eprintln!("{method} {path} {} {:.0} ms", res.status().as_u16(), started.elapsed().as_secs_f64() * 1000.0);
    res
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
}
