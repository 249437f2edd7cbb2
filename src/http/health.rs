//! Liveness (`/healthz`) and readiness (`/readyz`: the database answers).

use axum::{extract::State, http::StatusCode, routing::get, Router};

use crate::state::SharedCore;

pub fn routes<S>() -> Router<S>
where
    SharedCore: axum::extract::FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
}

async fn ready(State(core): State<SharedCore>) -> (StatusCode, &'static str) {
    match sqlx::query_scalar::<_, i64>("SELECT 1")
        .fetch_one(&core.pool)
        .await
    {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(err) => {
            tracing::warn!(%err, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
