//! Errors: startup failures (`ServerError`) and HTTP answers (`ApiError`, JSON `{"error": ...}`).

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
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
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
