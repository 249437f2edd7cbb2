//! The one place HTTP errors of the web layer become responses.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::rate_limit::RetryAfter;
use crate::service::ServiceError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("CSRF token missing or wrong")]
    Csrf,
    #[error("bad form: {0}")]
    BadForm(String),
    #[error("rate limited")]
    RateLimited(RetryAfter),
    #[error("sign-in required")]
    SignInRequired,
    #[error("not allowed")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("busy")]
    Busy,
    #[error("internal: {0}")]
    Internal(String),
}

/// Service errors as pages: what the user can fix is said; internal causes are logged.
impl From<ServiceError> for WebError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Invalid(text) | ServiceError::Conflict(text) => WebError::BadForm(text),
            ServiceError::BadCredentials => WebError::BadForm(err.to_string()),
            ServiceError::NotFound => WebError::NotFound,
            ServiceError::Forbidden => WebError::Forbidden,
            ServiceError::Busy => WebError::Busy,
            ServiceError::Internal(cause) => WebError::Internal(cause),
        }
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A minimal standalone page for errors raised outside the Leptos app.
pub fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · Gatehouse</title>\
         <link rel=\"stylesheet\" href=\"/pkg/gatehouse.css\"></head><body><main class=\"narrow\">\
         <h1>{t}</h1><p role=\"alert\">{m}</p><p><a href=\"/\">Back to Gatehouse</a></p>\
         </main></body></html>",
        t = escape_html(title),
        m = escape_html(text)
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::Csrf => message_page(
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form was not accepted because its security token is missing or stale. Reload the page and try again.",
            ),
            WebError::BadForm(msg) => message_page(StatusCode::BAD_REQUEST, "Bad request", &msg),
            WebError::RateLimited(RetryAfter(wait)) => {
                let secs = wait.as_secs().max(1);
                let mut res = message_page(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many attempts",
                    &format!("Too many sign-in attempts. Wait {secs} seconds, then try again."),
                );
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
                res
            }
            WebError::SignInRequired => Redirect::to("/login").into_response(),
            WebError::Forbidden => message_page(StatusCode::FORBIDDEN, "Not allowed", "Your account may not do this."),
            WebError::NotFound => message_page(StatusCode::NOT_FOUND, "Not found", "There is nothing here, or it is not yours."),
            WebError::Busy => {
                let mut res = message_page(StatusCode::SERVICE_UNAVAILABLE, "Busy", "Gatehouse is checking many passwords at once. Try again in a moment.");
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                res
            }
            WebError::Internal(cause) => {
                tracing::error!(%cause, "request failed");
                message_page(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "The server could not complete this request. It has been logged.")
            }
        }
    }
}
