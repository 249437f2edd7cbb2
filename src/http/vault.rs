//! The vault's browser routes: *Authenticate* (to the provider and back), *Revoke*, and the
//! per-server provider choice. Outcomes are flashed on the Servers page, where each server's
//! row offers the next step (retry, reconnect).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tower_sessions::Session;

use super::client_ip::ClientIp;
use super::error::WebError;
use super::session::{self, FlashKind, SignedIn};
use super::web::{capitalize, finish, CsrfForm, Empty};
use crate::service::{servers, ServiceError};
use crate::state::SharedCore;
use crate::vault::connect::{self, CallbackError, CallbackParams};
use crate::vault::disconnect;

pub fn routes<S>() -> Router<S>
where
    SharedCore: axum::extract::FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/servers/{slug}/authenticate", post(authenticate))
        .route("/servers/{slug}/disconnect", post(disconnect))
        .route("/servers/{slug}/provider", post(set_provider))
        .route("/vault/callback", get(callback))
}

async fn authenticate(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    SignedIn(account): SignedIn,
    Path(slug): Path<String>,
    CsrfForm(Empty {}, session): CsrfForm<Empty>,
) -> Result<Response, WebError> {
    let binding = session::vault_binding(&session, true)
        .await?
        .unwrap_or_default();
    match connect::start(&core, &account.actor(Some(ip)), &binding, &slug).await {
        Ok(url) => Ok(Redirect::to(url.as_str()).into_response()),
        Err(err) => finish(&session, Err(err), "/servers", "/servers").await,
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
        Ok(done) => (
            FlashKind::Success,
            match done.account {
                Some(a) => format!("Connected '{}' as {a}.", done.slug),
                None => format!("Connected '{}'.", done.slug),
            },
        ),
        Err(CallbackError::Service(ServiceError::Internal(cause))) => {
            return Err(WebError::Internal(cause))
        }
        Err(err) => (FlashKind::Error, capitalize(&err.to_string())),
    };
    session::set_flash(&session, kind, text).await?;
    Ok(Redirect::to("/servers").into_response())
}

async fn disconnect(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    SignedIn(account): SignedIn,
    Path(slug): Path<String>,
    CsrfForm(Empty {}, session): CsrfForm<Empty>,
) -> Result<Response, WebError> {
    let outcome = disconnect::disconnect(&core, &account.actor(Some(ip)), account.id, &slug)
        .await
        .map(|done| done.message());
    finish(&session, outcome, "/servers", "/servers").await
}

#[derive(Deserialize)]
struct ProviderForm {
    #[serde(default)]
    provider: String,
}

async fn set_provider(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    SignedIn(account): SignedIn,
    Path(slug): Path<String>,
    CsrfForm(form, session): CsrfForm<ProviderForm>,
) -> Result<Response, WebError> {
    let outcome = servers::set_provider(&core, &account.actor(Some(ip)), &slug, &form.provider)
        .await
        .map(|_| format!("Saved the provider of '{slug}'."));
    finish(&session, outcome, "/servers", "/servers").await
}
