//! Every request gets an id: in an `X-Request-Id` response header, and on every log line
//! written while it is handled (a `request` span a tracing backend can group by). An id sent
//! by a trusted proxy is kept, so one request can be followed across both; anyone else's is
//! replaced. Log lines name the route family, never the path: paths can hold one-time tokens
//! (`/invite/…`, `/vault/connect/…`) and queries hold codes and state.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use rand::Rng;
use tracing::Instrument;

use crate::state::SharedCore;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The route family of a path, for logs and metrics: the route's pattern, without any value
/// that could be a secret or grow without bound. Parameters are written `:name`, not
/// `{name}`: braces inside label values trip some Prometheus text parsers.
pub fn route_family(path: &str) -> &'static str {
    const EXACT: &[&str] = &[
        "/",
        "/authorize",
        "/token",
        "/register",
        "/revoke",
        "/introspect",
        "/login",
        "/logout",
        "/setup",
        "/signup",
        "/servers",
        "/clients",
        "/keys",
        "/activity",
        "/admin",
        "/admin/checks",
        "/admin/stats",
        "/healthz",
        "/readyz",
        "/metrics",
        "/vault/callback",
        "/oauth/client-metadata.json",
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-protected-resource",
    ];
    if let Some(exact) = EXACT.iter().find(|p| **p == path) {
        return exact;
    }
    const PREFIXES: &[(&str, &str)] = &[
        (
            "/.well-known/oauth-protected-resource/mcp/",
            "/.well-known/oauth-protected-resource/mcp/:slug",
        ),
        ("/mcp/", "/mcp/:slug"),
        ("/consent/", "/consent/:handle"),
        ("/invite/", "/invite/:token"),
        ("/vault/connect/", "/vault/connect/:token"),
        ("/api/", "/api/:function"),
        ("/pkg/", "/pkg/:asset"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix))
        .map(|(_, family)| *family)
        .unwrap_or("other")
}

/// A kept id: 1–64 visible ASCII characters.
fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=64).contains(&bytes.len()) && bytes.iter().all(|b| b.is_ascii_graphic())
}

fn fresh_id() -> String {
    format!("{:032x}", rand::thread_rng().gen::<u128>())
}

pub async fn middleware(
    State(core): State<SharedCore>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let trusted = |ip: &IpAddr| {
        core.config
            .trusted_proxies
            .iter()
            .any(|net| net.contains(ip))
    };
    let kept = request
        .headers()
        .get(&HEADER)
        .filter(|v| peer.as_ref().is_some_and(trusted) && acceptable(v))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let id = kept.unwrap_or_else(fresh_id);
    let value = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    request.headers_mut().insert(HEADER, value.clone());
    let route = route_family(request.uri().path());
    let method = request.method().clone();
    let span = tracing::info_span!("request", id = %id, method = %method, route);
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    crate::telemetry::http_request(route, method.as_str(), status, took);
    // An access line per request only when asked for (RUST_LOG=gatehouse=debug): at
    // thousands of MCP calls a second, info-level lines would cost more than the proxying.
    let _entered = span.enter();
    tracing::debug!(status, ms = took.as_secs_f64() * 1000.0, "handled");
    response.headers_mut().insert(HEADER, value);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_hide_tokens_and_slugs() {
        assert_eq!(route_family("/invite/abc123secret"), "/invite/:token");
        assert_eq!(route_family("/vault/connect/xyz"), "/vault/connect/:token");
        assert_eq!(route_family("/mcp/gmail"), "/mcp/:slug");
        assert_eq!(
            route_family("/.well-known/oauth-protected-resource/mcp/gmail"),
            "/.well-known/oauth-protected-resource/mcp/:slug"
        );
        assert_eq!(route_family("/token"), "/token");
        assert_eq!(route_family("/tokens"), "other");
    }

    #[test]
    fn only_short_visible_ids_are_kept() {
        assert!(acceptable(&HeaderValue::from_static("abc-123")));
        assert!(!acceptable(&HeaderValue::from_static("")));
        assert!(!acceptable(&HeaderValue::from_static("has space")));
        assert!(!acceptable(
            &HeaderValue::from_str(&"x".repeat(65)).unwrap()
        ));
        assert_eq!(fresh_id().len(), 32);
    }
}
