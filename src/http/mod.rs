//! axum only: the HTTP surface of the core. The single `IntoResponse` lives in `error.rs`.

pub mod client_ip;
pub mod error;
pub mod headers;
pub mod health;
pub mod session;
pub mod web;

use axum::extract::FromRef;
use axum::Router;

use crate::state::SharedCore;

/// Largest form body accepted by the web handlers.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// Every route the core serves (health, sign-in and the dashboard's form posts), for any
/// router state that can hand out the core. Sessions and security headers are layered on by
/// the caller around everything.
pub fn routes<S>() -> Router<S>
where
    SharedCore: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .merge(health::routes())
        .merge(web::routes())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_FORM_BYTES,
        ))
}
