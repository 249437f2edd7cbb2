//! OAuth errors as JSON (RFC 6749 §5.2), never cached; `invalid_client` is 401.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::oauth::error::{ErrorCode, OAuthError};
use crate::service::ServiceError;

/// Marks a response as holding secrets or per-request answers (RFC 6749 §5.1).
pub fn no_store(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

pub struct JsonError {
    pub error: OAuthError,
    /// The client tried HTTP Basic: a 401 then names the scheme (RFC 6749 §5.2).
    pub basic_challenge: bool,
}

impl From<OAuthError> for JsonError {
    fn from(error: OAuthError) -> Self {
        Self {
            error,
            basic_challenge: false,
        }
    }
}

impl From<ServiceError> for JsonError {
    fn from(err: ServiceError) -> Self {
        tracing::error!(%err, "oauth endpoint failed");
        OAuthError::new(
            ErrorCode::ServerError,
            "the server could not complete the request",
        )
        .into()
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let status = match self.error.code {
            ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = serde_json::json!({ "error": self.error.code.as_str(), "error_description": self.error.description });
        let mut res = no_store((status, Json(body)).into_response());
        if status == StatusCode::UNAUTHORIZED && self.basic_challenge {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"gatehouse\""),
            );
        }
        res
    }
}
