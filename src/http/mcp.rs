//! `/mcp/{slug}`: the gateway's front door. Authentication is enforced here (RFC 6750,
//! RFC 9728 §5.1); `gateway::forward` does the rest.

use axum::extract::{FromRef, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};

use super::wellknown::resource_metadata_url;
use crate::gateway::auth::{authenticate, AuthFailure};
use crate::gateway::forward::{forward, Caller, Inbound};
use crate::gateway::SharedGateway;
use crate::oauth::metadata::bearer_challenge;
use crate::state::Core;

pub fn routes<S>() -> Router<S>
where
    SharedGateway: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/mcp/{slug}", any(mcp))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_MCP_BODY))
}

/// Largest MCP request body accepted (tool arguments can be documents).
pub const MAX_MCP_BODY: usize = 4 * 1024 * 1024;

fn unauthorized(core: &Core, slug: &str, invalid_token: bool) -> Response {
    let url = resource_metadata_url(&core.public_url.issuer(), slug);
    let challenge = bearer_challenge(&url, invalid_token);
    let mut res = (StatusCode::UNAUTHORIZED, Json(serde_json::json!({ "error": if invalid_token { "invalid_token" } else { "unauthorized" }, "error_description": "A Gatehouse access token for this server is required", "resource_metadata": url }))).into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

async fn mcp(
    State(gw): State<SharedGateway>,
    Path(slug): Path<String>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    // RFC 6750 §2.3 allows tokens in the query; Gatehouse refuses them (they end up in logs).
    if uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("access_token=")))
    {
        let mut res = (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": "invalid_request", "error_description": "send the token in the Authorization header, not the URL" }))).into_response();
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_request\""),
        );
        return res;
    }
    match authenticate(&gw, &headers, &slug).await {
        Ok(principal) => {
            let caller = Caller {
                user: principal.user,
                client: &principal.client_id,
            };
            let inbound = Inbound {
                method,
                headers,
                body,
            };
            forward(&gw, caller, &slug, inbound).await
        }
        Err(AuthFailure::Missing) => unauthorized(&gw.core, &slug, false),
        Err(AuthFailure::Invalid) => unauthorized(&gw.core, &slug, true),
        Err(AuthFailure::Unavailable(err)) => {
            tracing::error!(%err, "bearer validation failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "token validation unavailable",
            )
                .into_response()
        }
    }
}
