//! `/metrics` in the Prometheus text format: on the main listener for administrators only
//! (a signed-in session), and on `GATEHOUSE_METRICS_BIND` for anyone who can reach that
//! listener (meant for a private network: it has no authentication).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_sessions::Session;

use super::session;
use crate::state::SharedCore;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn exposition(core: &SharedCore) -> Response {
    match crate::telemetry::render(&core.pool) {
        Some(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are not available in this process",
        )
            .into_response(),
    }
}

/// `/metrics` on the main listener: administrators only.
pub fn routes<S>() -> Router<S>
where
    SharedCore: axum::extract::FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/metrics", get(for_admins))
}

async fn for_admins(State(core): State<SharedCore>, session: Session) -> Response {
    match session::current_account(&core, &session).await {
        Ok(Some(account)) if account.is_admin => exposition(&core),
        Ok(Some(_)) => (StatusCode::FORBIDDEN, "administrators only").into_response(),
        Ok(None) => (
            StatusCode::UNAUTHORIZED,
            "sign in as an administrator, or scrape GATEHOUSE_METRICS_BIND",
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The whole router of the `GATEHOUSE_METRICS_BIND` listener.
pub fn listener(core: SharedCore) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(core): State<SharedCore>| async move { exposition(&core) }),
        )
        .with_state(core)
}

/// Folds histogram samples into their buckets: a serving process calls this every few
/// seconds (`telemetry::upkeep`).
pub fn upkeep() {
    crate::telemetry::upkeep();
}
