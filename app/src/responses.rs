//! (ssr) Answers the browser needs as real HTTP, whatever Leptos rendered: `GET /` and page
//! redirects as 3xx (not a 200 with a `Location` header and an empty body), and a server
//! function's error after a plain form post (no JavaScript) as an HTML page.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse::http::error::message_page;
use gatehouse::http::session;
use gatehouse::state::SharedCore;
use tower_sessions::Session;

use crate::error::AppError;

/// Server functions live under this prefix.
const API: &str = "/api/";
/// The header the server-function layer puts on every error response.
const SERVER_FN_ERROR: &str = "serverfnerror";
/// Longest error body read back from a server function.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// `GET /`: the Servers page when signed in, else first-run setup or sign-in.
pub async fn home(State(core): State<SharedCore>, session: Session) -> Response {
    let signed_in = matches!(session::current_account(&core, &session).await, Ok(Some(_)));
    let to = if signed_in {
        "/servers"
    } else if gatehouse::service::setup::pending(&core).await {
        "/setup"
    } else {
        "/login"
    };
    Redirect::to(to).into_response()
}

fn accepts_html(req: &Request) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// A page that redirected while rendering (`<Redirect/>`, `leptos_axum::redirect`) answers
/// 302 with an empty body for every client, not only for those that send `Accept: text/html`.
pub async fn real_redirects(req: Request, next: Next) -> Response {
    let page = req.method() == Method::GET && !req.uri().path().starts_with(API);
    let res = next.run(req).await;
    if !page || !res.status().is_success() || !res.headers().contains_key(header::LOCATION) {
        return res;
    }
    let (mut parts, _) = res.into_parts();
    parts.status = StatusCode::FOUND;
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove("serverfnredirect");
    Response::from_parts(parts, Body::empty())
}

/// A plain form post to a server function that failed with an error the form cannot show
/// (expired form, not allowed, too many attempts, a form it cannot read, a server fault):
/// the error as a page, with its status (and `Retry-After`), never a redirect.
pub async fn form_errors(req: Request, next: Next) -> Response {
    let form_post =
        req.method() == Method::POST && req.uri().path().starts_with(API) && accepts_html(&req);
    let res = next.run(req).await;
    let failed = res.status().as_u16() >= 400 || res.headers().contains_key(SERVER_FN_ERROR);
    if !form_post || !failed {
        return res;
    }
    // Unreadable arguments come back as a redirect carrying the error: a bad request.
    let status = match res.status() {
        s if s.as_u16() >= 400 => s,
        _ => StatusCode::BAD_REQUEST,
    };
    let retry_after = res.headers().get(header::RETRY_AFTER).cloned();
    let body = to_bytes(res.into_body(), MAX_ERROR_BODY).await;
    let err = match body
        .ok()
        .and_then(|b| serde_json::from_slice::<AppError>(&b).ok())
    {
        Some(err) => err,
        // Refused before the server function ran (the body limit).
        None if status == StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::Invalid("The form is too large.".into())
        }
        None => AppError::Internal,
    };
    let mut page = message_page(status, err.title(), &err.to_string());
    if let Some(value) = retry_after {
        page.headers_mut().insert(header::RETRY_AFTER, value);
    }
    page.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    page
}
