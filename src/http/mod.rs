//! axum only: the HTTP surface of the core. The single `IntoResponse` of the web forms lives
//! in `error.rs`, the OAuth JSON one in `oauth_error.rs`.

pub mod client_ip;
pub mod error;
pub mod headers;
pub mod health;
pub mod mcp;
pub mod oauth;
pub mod oauth_error;
pub mod session;
pub mod vault;
pub mod web;
pub mod wellknown;

use axum::extract::FromRef;
use axum::http::{header, HeaderName, Method};
use axum::Router;

use crate::state::SharedCore;

/// Largest request body accepted by the form, JSON and OAuth handlers.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// Every route the core serves, for any router state that can hand out the core. Sessions and
/// security headers are layered on by the caller around everything.
pub fn routes<S>() -> Router<S>
where
    SharedCore: FromRef<S>,
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
        .merge(web::routes())
        .merge(vault::routes())
        .merge(oauth::browser_routes())
        .merge(oauth::server_routes())
        .merge(for_clients)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_FORM_BYTES,
        ))
        .merge(gateway)
}
