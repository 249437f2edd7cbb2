//! Security headers on every response (DESIGN.md §6). Leptos pages set their own CSP with a
//! per-response nonce; everything else gets a CSP that allows nothing.

use axum::http::{header, HeaderName, HeaderValue};
use tower_http::set_header::SetResponseHeaderLayer;

/// CSP for responses that are not Leptos pages (form redirects, error pages, JSON).
pub const DEFAULT_CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// CSP for a Leptos page rendered with `nonce`: the inline hydration script runs under the
/// nonce, the wasm bundle needs 'wasm-unsafe-eval'. No form-action: consent leaves the origin.
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; frame-ancestors 'none'"
    )
}

/// The layers, outermost first; `if_not_present` lets a page's own CSP win.
pub fn layers() -> [SetResponseHeaderLayer<HeaderValue>; 4] {
    [
        SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CSP),
        ),
        SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ),
        SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        SetResponseHeaderLayer::overriding(
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("no-referrer"),
        ),
    ]
}

/// `Strict-Transport-Security` when the public URL is https: browsers then never try http
/// (a sign-in over a network that strips TLS). Two years, as the HSTS preload list asks.
pub fn hsts(public_url: &crate::config::PublicUrl) -> Option<SetResponseHeaderLayer<HeaderValue>> {
    public_url.is_https().then(|| {
        SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        )
    })
}
