//! axum only: the protocol surface of the core — the OAuth endpoints with the sign-in and
//! consent POSTs of an authorization request, well-known documents, `/mcp`, `/vault/callback`,
//! health. Dashboard pages and actions are the app's. Errors become responses once: pages in
//! `error.rs`, OAuth JSON in `oauth_error.rs`, JSON-RPC in `gateway::errors`.

pub mod client_ip;
pub mod error;
mod forms;
pub mod headers;
mod health;
mod mcp;
pub mod metrics;
mod oauth;
mod oauth_error;
pub mod request_id;
pub mod session;
mod sign_in;
mod vault;
mod wellknown;

use axum::extract::FromRef;
use axum::http::{header, HeaderName, Method};
use axum::Router;

pub use crate::rate_limit::{address_key, RetryAfter};

use crate::gateway::SharedGateway;
use crate::state::SharedCore;

/// Largest request body accepted by the form, JSON and OAuth handlers.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// Every route the core serves, for any router state that can hand out the core. Sessions and
/// security headers are layered on by the caller around everything.
pub fn routes<S>() -> Router<S>
where
    SharedCore: FromRef<S>,
    SharedGateway: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    // Called by MCP clients, some from a browser (the MCP Inspector): CORS for any origin,
    // without cookies (DESIGN.md §3). Sign-in, consent and /authorize never send CORS headers.
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("mcp-session-id"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            header::WWW_AUTHENTICATE,
            HeaderName::from_static("mcp-session-id"),
        ]);
    let for_clients = Router::new()
        .merge(wellknown::routes())
        .merge(oauth::client_routes())
        .layer(cors.clone());
    // MCP bodies get their own, larger limit (set on the route).
    let gateway = mcp::routes().layer(cors);
    Router::new()
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(sign_in::routes())
        .merge(vault::routes())
        .merge(oauth::browser_routes())
        .merge(oauth::server_routes())
        .merge(for_clients)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_FORM_BYTES,
        ))
        .merge(gateway)
}
