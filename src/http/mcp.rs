//! `/mcp/{slug}`: the gateway's front door, in this order: the `Host` (DNS rebinding, DESIGN.md
//! §5), the slug's shape, authentication (RFC 6750, RFC 9728 §5.1) from the headers alone,
//! then the body, read within a time limit. `gateway::forward` does the rest.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};

use super::wellknown::resource_metadata_url;
use crate::domain::ServerSlug;
use crate::gateway::auth::{authenticate, AuthFailure};
use crate::gateway::forward::{forward, Caller, Inbound};
use crate::gateway::SharedGateway;
use crate::oauth::metadata::bearer_challenge;
use crate::state::Core;

pub fn routes() -> Router<SharedGateway> {
    Router::new().route("/mcp/{slug}", any(mcp))
}

/// Largest MCP request body accepted (tool arguments can be documents).
pub const MAX_MCP_BODY: usize = 4 * 1024 * 1024;

fn json_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

fn unauthorized(core: &Core, slug: &ServerSlug, invalid_token: bool) -> Response {
    let url = resource_metadata_url(&core.public_url.issuer(), slug.as_ref());
    let challenge = bearer_challenge(&url, invalid_token);
    let mut res = (StatusCode::UNAUTHORIZED, Json(serde_json::json!({ "error": if invalid_token { "invalid_token" } else { "unauthorized" }, "error_description": "A Gatehouse access token for this server is required", "resource_metadata": url }))).into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

/// The authority the client addressed: `Host` (HTTP/1.1) or the URI's (HTTP/2 `:authority`).
fn addressed_host(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
}

async fn mcp(
    State(gw): State<SharedGateway>,
    Path(slug): Path<String>,
    request: Request,
) -> Response {
    // DNS rebinding: a page on another name that resolves to us must not reach the gateway,
    // whatever it sends next (MCP transport spec; DESIGN.md §5).
    if !addressed_host(&request).is_some_and(|host| gw.host_allowed(host)) {
        return json_error(
            StatusCode::MISDIRECTED_REQUEST,
            "misdirected_request",
            "this Gatehouse does not serve that host name",
        );
    }
    // The slug goes into the challenge's quoted `resource_metadata`: only a valid one.
    let Ok(slug) = ServerSlug::parse(&slug) else {
        return json_error(StatusCode::NOT_FOUND, "not_found", "no such server");
    };
    let (parts, body) = request.into_parts();
    // A token in the query (RFC 6750 §2.3) is not accepted: it ends up in logs. The client
    // gets the challenge as for any request without usable credentials (§3.1).
    let query_token = parts
        .uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("access_token=")));
    if query_token {
        return unauthorized(&gw.core, &slug, false);
    }
    let principal = match authenticate(&gw, &parts.headers, slug.as_ref()).await {
        Ok(principal) => principal,
        Err(AuthFailure::Missing) => return unauthorized(&gw.core, &slug, false),
        Err(AuthFailure::Invalid) => return unauthorized(&gw.core, &slug, true),
        Err(AuthFailure::Unavailable(err)) => {
            tracing::error!(%err, "bearer validation failed");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "token validation unavailable",
            )
                .into_response();
        }
    };
    let within = gw.core.config.connection_limits.body_read_timeout;
    let body = match read_body(body, &parts.headers, within).await {
        Ok(body) => body,
        Err(refusal) => return refusal,
    };
    let caller = Caller {
        user: principal.user,
        client: &principal.client_id,
    };
    let inbound = Inbound {
        method: parts.method,
        headers: parts.headers,
        body,
    };
    forward(&gw, caller, slug.as_ref(), inbound).await
}

/// The body, at most `MAX_MCP_BODY` bytes, all arrived `within` its headers.
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    within: Duration,
) -> Result<axum::body::Bytes, Response> {
    let too_large = || {
        json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "MCP request bodies are limited to 4 MiB",
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_MCP_BODY) {
        return Err(too_large());
    }
    match tokio::time::timeout(within, axum::body::to_bytes(body, MAX_MCP_BODY)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(err)) => match err.into_inner().is::<http_body_util::LengthLimitError>() {
            true => Err(too_large()),
            false => Err(json_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the request body could not be read",
            )),
        },
        Err(_) => Err(json_error(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body did not arrive in time",
        )),
    }
}
