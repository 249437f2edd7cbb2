//! `/vault/callback`: where upstream providers send the user back after *Authenticate*. The
//! outcome is flashed on the Servers page, where each server's row offers the next step.
//! `/vault/connect/{token}`: `gatehouse connect`'s one-time link.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use tower_sessions::Session;

use super::client_ip::ClientIp;
use super::error::WebError;
use super::session::{self, FlashKind, SignedIn};
use crate::service::upstream::connect::{self, CallbackError, CallbackParams};
use crate::service::upstream::link;
use crate::service::ServiceError;
use crate::state::SharedCore;

pub fn routes<S>() -> Router<S>
where
    SharedCore: axum::extract::FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/vault/callback", get(callback))
        .route("/vault/connect/{token}", get(connect_link))
}

/// A `gatehouse connect` link: signed in as its user, it runs *Authenticate* (on to the
/// provider); signed out, it keeps its own path for after sign-in.
async fn connect_link(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    session: Session,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let Some(account) = session::current_account(&core, &session).await? else {
        if link::usable(&core, &token).await? {
            session::set_return_to(&session, format!("/vault/connect/{token}")).await?;
            session::set_flash(
                &session,
                FlashKind::Success,
                "Sign in to connect the server this link is for.",
            )
            .await?;
        }
        return Ok(Redirect::to("/login").into_response());
    };
    let binding = session::vault_binding(&session, true)
        .await?
        .ok_or_else(|| WebError::Internal("no session binding".into()))?;
    match link::open(&core, &account.actor(Some(ip)), &binding, &token).await {
        Ok(target) => Ok(Redirect::to(target.as_str()).into_response()),
        Err(ServiceError::Internal(cause)) => Err(WebError::Internal(cause)),
        Err(err) => {
            session::set_flash(
                &session,
                FlashKind::Error,
                session::sentence(&err.to_string()),
            )
            .await?;
            Ok(Redirect::to("/servers").into_response())
        }
    }
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
