//! `/vault/callback`: where upstream providers send the user back after *Authenticate*. The
//! outcome is flashed on the Servers page, where each server's row offers the next step.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use tower_sessions::Session;

use super::client_ip::ClientIp;
use super::error::WebError;
use super::session::{self, FlashKind, SignedIn};
use crate::service::upstream::connect::{self, CallbackError, CallbackParams};
use crate::service::ServiceError;
use crate::state::SharedCore;

pub fn routes<S>() -> Router<S>
where
    SharedCore: axum::extract::FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/vault/callback", get(callback))
}

async fn callback(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    SignedIn(account): SignedIn,
    session: Session,
    Query(params): Query<CallbackParams>,
) -> Result<Response, WebError> {
    let binding = session::vault_binding(&session, false).await?;
    let outcome =
        connect::finish(&core, &account.actor(Some(ip)), binding.as_deref(), params).await;
    let (kind, text) = match outcome {
        Ok(done) => (FlashKind::Success, done.message()),
        Err(CallbackError::Service(ServiceError::Internal(cause))) => {
            return Err(WebError::Internal(cause))
        }
        Err(err) => (FlashKind::Error, session::sentence(&err.to_string())),
    };
    session::set_flash(&session, kind, text).await?;
    Ok(Redirect::to("/servers").into_response())
}
