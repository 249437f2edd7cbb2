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

/// Largest page read back to find its nonce (pages are a few KiB).
const MAX_PAGE: usize = 1024 * 1024;

/// Page answers as the browser needs them. A page that redirected while rendering
/// (`<Redirect/>`, `leptos_axum::redirect`) answers 302 with an empty body for every client,
/// not only for those that send `Accept: text/html`. And a rendered page always carries its
/// CSP with the nonce of its scripts: the shell sets it through Leptos' response options,
/// which on rare occasions (seen once in CI, under load) did not reach the response — the
/// page then got the deny-all CSP and could not hydrate. The nonce is read back from the page.
pub async fn page_responses(req: Request, next: Next) -> Response {
    let page = req.method() == Method::GET && !req.uri().path().starts_with(API);
    let res = next.run(req).await;
    if !page || !res.status().is_success() {
        return res;
    }
    if res.headers().contains_key(header::LOCATION) {
        let (mut parts, _) = res.into_parts();
        parts.status = StatusCode::FOUND;
        parts.headers.remove(header::CONTENT_TYPE);
        parts.headers.remove("serverfnredirect");
        return Response::from_parts(parts, Body::empty());
    }
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let has_nonce_csp = res
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("'nonce-"));
    if !html || has_nonce_csp {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_PAGE).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "page too large").into_response();
    };
    if let Some(csp) = nonce_of(&bytes)
        .map(|n| gatehouse::http::headers::page_csp(&n))
        .and_then(|csp| HeaderValue::from_str(&csp).ok())
    {
        parts.headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The nonce of a page's scripts (`<script … nonce="…">`), if it has one.
fn nonce_of(page: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(page).ok()?;
    let at = text.find("<script type=\"module\" nonce=\"")?;
    let rest = &text[at + "<script type=\"module\" nonce=\"".len()..];
    let nonce: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (!nonce.is_empty() && rest[nonce.len()..].starts_with('"')).then_some(nonce)
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

#[cfg(test)]
mod tests {
    use super::nonce_of;

    #[test]
    fn the_nonce_is_read_from_the_hydration_script() {
        let page =
            br#"<head><script type="module" nonce="AbC-12_x">(function(){})</script></head>"#;
        assert_eq!(nonce_of(page).as_deref(), Some("AbC-12_x"));
        assert_eq!(nonce_of(b"<p>no scripts</p>"), None);
        assert_eq!(nonce_of(br#"<script type="module" nonce="a'b">"#), None);
    }
}
