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

/// Called by MCP clients, some from a browser (the MCP Inspector): CORS for any origin,
/// without cookies (DESIGN.md §3). Sign-in, consent and /authorize never send CORS headers.
fn cors_for_clients() -> tower_http::cors::CorsLayer {
    tower_http::cors::CorsLayer::new()
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
        ])
}

/// The routes a browser uses with its session: sign-in, the vault's callback, `/authorize`
/// and consent, and `/metrics` for signed-in administrators. The caller adds the session
/// layer.
pub fn browser_routes<S>() -> Router<S>
where
    SharedCore: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .merge(metrics::routes())
        .merge(sign_in::routes())
        .merge(vault::routes())
        .merge(oauth::browser_routes())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_FORM_BYTES,
        ))
}

/// The routes MCP clients, resource servers and probes call: discovery, registration,
/// tokens, revocation, introspection, health. None reads a browser session, so none pays
/// for the session layer.
pub fn client_routes<S>() -> Router<S>
where
    SharedCore: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    let for_clients = Router::new()
        .merge(wellknown::routes())
        .merge(oauth::client_routes())
        .layer(cors_for_clients());
    Router::new()
        .merge(health::routes())
        .merge(oauth::server_routes())
        .merge(for_clients)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_FORM_BYTES,
        ))
}

/// `/mcp/{slug}` with its own state, apart from the pages: a gateway call carries no browser
/// session, and its handler needs nothing but the gateway (the hot path clones one `Arc`).
/// MCP bodies have their own limit and read timeout (in the handler).
pub fn gateway(gateway: SharedGateway) -> Router {
    mcp::routes(&gateway)
        .layer(cors_for_clients())
        .with_state(gateway)
}
