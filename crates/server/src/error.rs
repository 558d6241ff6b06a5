//! Errors: startup failures (`ServerError`) and HTTP answers (`ApiError`, JSON `{"error": ...}`).
//! An unexpected failure is a 500 whose body says only "internal error" and the request id:
//! its details (libtorch's text may hold C++ frames and install paths) go to the log alone.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use stylize_io::ImageError;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("styles folder {path}: {detail}")]
    Styles { path: String, detail: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("a worker could not load the model: {0}")]
    Worker(String),
    #[error("invalid setting: {0}")]
    Config(String),
}

/// An HTTP error answer: a status, a one-line message and, for 429/503, when to retry.
/// For a 500 the message is the detail for the log, never sent (see [`ApiError::internal`]).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

/// Carried by a 500 response from the handler to the logging middleware, which logs it with
/// the request id and writes the generic body (see `api::log_and_harden`).
#[derive(Clone, Debug)]
pub struct InternalDetail(pub String);

/// The body of every 500: fixed words and the id to quote.
pub fn internal_body(request_id: &str) -> serde_json::Value {
    serde_json::json!({ "error": format!("internal error; quote request id {request_id}"), "request_id": request_id })
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), retry_after: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// Something that should not happen (the network failed, a worker panicked or went away,
    /// encoding failed): 500; `detail` is logged, the client sees a fixed message.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Upload problems: not an image -> 415, too big -> 413, anything else about it -> 422.
    pub fn from_image(e: &ImageError) -> Self {
        let status = match e {
            ImageError::NotAnImage { .. } | ImageError::UnsupportedFormat { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ImageError::FileTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Self::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::INTERNAL_SERVER_ERROR {
            // The middleware replaces this body with one that names the request id.
            let mut res = (self.status, axum::Json(internal_body("unknown"))).into_response();
            res.extensions_mut().insert(InternalDetail(self.message));
            return res;
        }
        let body = serde_json::json!({ "error": self.message });
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_errors_map_to_statuses() {
        let p = || "image".to_string();
        assert_eq!(ApiError::from_image(&ImageError::NotAnImage { path: p() }).status, 415);
        assert_eq!(ApiError::from_image(&ImageError::FileTooLarge { path: p(), bytes: 2, limit: 1 }).status, 413);
        let bomb = ImageError::TooManyPixels { path: p(), width: 60000, height: 60000, limit: 1 };
        assert_eq!(ApiError::from_image(&bomb).status, 422);
    }
}
