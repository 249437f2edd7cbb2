//! Sign-in: the form POST that starts a browser session, for the dashboard and for a pending
//! authorization request alike (DESIGN.md §3: a plain HTML POST answered with 303; the return
//! path is a stored request's handle, never a URL).

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;

use super::client_ip::ClientIp;
use super::error::WebError;
use super::forms::CsrfForm;
use super::session::{self, FlashKind};
use crate::service::{accounts, authorization, ServiceError};
use crate::state::SharedCore;

pub fn routes<S>() -> Router<S>
where
    SharedCore: axum::extract::FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/login", post(login))
}

#[derive(Deserialize)]
struct Credentials {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    /// The handle of a pending authorization request: sign-in returns to its consent page.
    #[serde(default)]
    authz: String,
}

async fn login(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    CsrfForm(form, session): CsrfForm<Credentials>,
) -> Result<Response, WebError> {
    let account_key = form.username.trim().to_ascii_lowercase();
    core.limits
        .sign_in(ip, Some(&account_key))
        .map_err(WebError::RateLimited)?;
    // The return path is a stored request's handle, never a URL (no open redirect).
    let consent = match form.authz.as_str() {
        "" => None,
        handle => authorization::request_exists(&core, handle)
            .await?
            .then(|| format!("/consent/{handle}")),
    };
    let back = consent.clone().unwrap_or_else(|| "/login".into());
    match accounts::sign_in(&core, Some(ip), &form.username, form.password).await {
        Ok(account) => {
            session::sign_in(&session, &account).await?;
            // Only paths Gatehouse stored itself (never one from the request): no open redirect.
            let kept = session::take_return_to(&session).await;
            let next = consent.or(kept).unwrap_or_else(|| "/servers".into());
            Ok(Redirect::to(&next).into_response())
        }
        // Wrong name or password: said on the form. Anything else (busy, a fault): a page.
        Err(err @ (ServiceError::BadCredentials | ServiceError::Invalid(_))) => {
            session::set_flash(
                &session,
                FlashKind::Error,
                session::sentence(&err.to_string()),
            )
            .await?;
            Ok(Redirect::to(&back).into_response())
        }
        Err(err) => Err(err.into()),
    }
}
