//! The dashboard's state-changing forms: plain HTML POSTs answered with 303, so they work
//! with and without the wasm bundle. Every one checks the session's CSRF token.

use axum::extract::{FromRequest, Path, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tower_sessions::Session;

use super::client_ip::ClientIp;
use super::error::WebError;
use super::session::{self, FlashKind, SignedIn};
use crate::service::{accounts, authorization, servers, token_admin, ServiceError};
use crate::state::SharedCore;

pub fn routes<S>() -> Router<S>
where
    SharedCore: axum::extract::FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/setup", post(setup))
        .route("/login", post(login))
        .route("/signup", post(signup))
        .route("/logout", post(logout))
        .route("/invite/{token}", post(accept_invite))
        .route("/admin/users", post(invite_user))
        .route("/servers", post(add_server))
        .route("/servers/{slug}/delete", post(delete_server))
        .route("/clients/{grant}/revoke", post(revoke_grant))
        .route("/admin/clients/{action}", post(admin_client))
}

/// A form whose `_csrf` field matched the session's token; the rest deserializes into `T`.
pub struct CsrfForm<T>(pub T, pub Session);

#[derive(Deserialize)]
struct WithCsrf<T> {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(flatten)]
    inner: T,
}

impl<S, T> FromRequest<S> for CsrfForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session =
            <Session as axum::extract::FromRequestParts<S>>::from_request_parts(&mut parts, state)
                .await
                .map_err(|(_, msg)| WebError::Internal(msg.to_owned()))?;
        let req = Request::from_parts(parts, body);
        let Form(form) = Form::<WithCsrf<T>>::from_request(req, state)
            .await
            .map_err(|rejection| {
                // A body over the limit or a wrong content type is the client's error, said plainly.
                WebError::BadForm(rejection.body_text())
            })?;
        if !session::csrf_matches(&session, &form.csrf).await {
            return Err(WebError::Csrf);
        }
        Ok(CsrfForm(form.inner, session))
    }
}

/// Ends a form post: flash the outcome, 303 to `to` (or to `back` on a user-facing error).
pub(super) async fn finish(
    session: &Session,
    outcome: Result<String, ServiceError>,
    to: &str,
    back: &str,
) -> Result<Response, WebError> {
    match outcome {
        Ok(message) => {
            session::set_flash(session, FlashKind::Success, message).await?;
            Ok(Redirect::to(to).into_response())
        }
        Err(ServiceError::Internal(cause)) => Err(WebError::Internal(cause)),
        Err(ServiceError::Forbidden) => Err(WebError::Forbidden),
        Err(err) => {
            session::set_flash(session, FlashKind::Error, capitalize(&err.to_string())).await?;
            Ok(Redirect::to(back).into_response())
        }
    }
}

/// Tokens and handles Gatehouse puts in URLs are base64url: checking the shape before one
/// goes back into a `Location` header keeps a crafted path (CR/LF, `//host`) out of it.
pub fn is_opaque_token(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(super) fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
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

#[derive(Deserialize)]
struct SetupForm {
    #[serde(default)]
    code: String,
    #[serde(flatten)]
    credentials: Credentials,
}

async fn setup(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    CsrfForm(form, session): CsrfForm<SetupForm>,
) -> Result<Response, WebError> {
    core.limits
        .sign_in(ip, None)
        .map_err(WebError::RateLimited)?;
    let c = form.credentials;
    match accounts::complete_setup(&core, Some(ip), &form.code, &c.username, c.password).await {
        Ok(account) => {
            session::sign_in(&session, &account).await?;
            let text = format!("Welcome, {}. You are the administrator.", account.username);
            finish(&session, Ok(text), "/servers", "/setup").await
        }
        Err(ServiceError::Forbidden) => {
            finish(
                &session,
                Err(ServiceError::Invalid(
                    "setup is already complete; sign in instead".into(),
                )),
                "/login",
                "/login",
            )
            .await
        }
        Err(err) => finish(&session, Err(err), "/servers", "/setup").await,
    }
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
            .await
            .map_err(|e| WebError::Internal(e.to_string()))?
            .then(|| format!("/consent/{handle}")),
    };
    let back = consent.clone().unwrap_or_else(|| "/login".into());
    match accounts::sign_in(&core, Some(ip), &form.username, form.password).await {
        Ok(account) => {
            session::sign_in(&session, &account).await?;
            Ok(Redirect::to(consent.as_deref().unwrap_or("/servers")).into_response())
        }
        Err(err) => finish(&session, Err(err), "/servers", &back).await,
    }
}

async fn signup(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    CsrfForm(form, session): CsrfForm<Credentials>,
) -> Result<Response, WebError> {
    core.limits
        .sign_in(ip, None)
        .map_err(WebError::RateLimited)?;
    match accounts::sign_up(&core, Some(ip), &form.username, form.password).await {
        Ok(account) => {
            session::sign_in(&session, &account).await?;
            finish(
                &session,
                Ok(format!("Welcome, {}.", account.username)),
                "/servers",
                "/signup",
            )
            .await
        }
        Err(ServiceError::Forbidden) => {
            finish(
                &session,
                Err(ServiceError::Invalid(
                    "sign-up is closed; ask an administrator for an invite".into(),
                )),
                "/login",
                "/login",
            )
            .await
        }
        Err(err) => finish(&session, Err(err), "/servers", "/signup").await,
    }
}

#[derive(Deserialize)]
pub(super) struct Empty {}

async fn logout(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    CsrfForm(Empty {}, session): CsrfForm<Empty>,
) -> Result<Response, WebError> {
    if let Some(account) = session::current_account(&core, &session).await? {
        if let Err(err) = accounts::record_sign_out(&core, &account, Some(ip)).await {
            tracing::warn!(%err, "could not record sign-out");
        }
    }
    session::sign_out(&session).await?;
    Ok(Redirect::to("/login").into_response())
}

#[derive(Deserialize)]
struct NewPassword {
    #[serde(default)]
    password: String,
}

async fn accept_invite(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    CsrfForm(form, session): CsrfForm<NewPassword>,
) -> Result<Response, WebError> {
    core.limits
        .sign_in(ip, None)
        .map_err(WebError::RateLimited)?;
    if !is_opaque_token(&token) {
        return Err(WebError::BadForm("this invite link is malformed".into()));
    }
    let back = format!("/invite/{token}");
    match accounts::accept_invite(&core, Some(ip), &token, form.password).await {
        Ok(account) => {
            session::sign_in(&session, &account).await?;
            finish(
                &session,
                Ok(format!("Password set. Welcome, {}.", account.username)),
                "/servers",
                &back,
            )
            .await
        }
        Err(err) => finish(&session, Err(err), "/servers", &back).await,
    }
}

#[derive(Deserialize)]
struct InviteForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    is_admin: Option<String>,
}

async fn invite_user(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    SignedIn(account): SignedIn,
    CsrfForm(form, session): CsrfForm<InviteForm>,
) -> Result<Response, WebError> {
    let actor = account.actor(Some(ip));
    let outcome = accounts::invite(&core, &actor, &form.username, form.is_admin.is_some())
        .await
        .map(|(user, token)| {
            let link = core.public_url.join(&format!("/invite/{}", token.expose()));
            format!("Created {}. Send them this one-time link to choose a password (valid 7 days, shown only now): {link}", user.username)
        });
    finish(&session, outcome, "/admin", "/admin").await
}

#[derive(Deserialize)]
struct ServerForm {
    /// An optional static credential for the upstream (sent as a bearer token).
    #[serde(default)]
    credential: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
}

async fn add_server(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    SignedIn(account): SignedIn,
    CsrfForm(form, session): CsrfForm<ServerForm>,
) -> Result<Response, WebError> {
    let actor = account.actor(Some(ip));
    let outcome = match servers::NewServer::parse(&form.slug, &form.name, &form.url) {
        Ok(new) => servers::add(
            &core,
            &actor,
            account.id,
            new,
            Some(form.credential.trim().to_owned())
                .filter(|c| !c.is_empty())
                .map(secrecy::SecretString::from),
        )
        .await
        .map(|s| format!("Added server '{}'.", s.slug)),
        Err(err) => Err(err),
    };
    finish(&session, outcome, "/servers", "/servers").await
}

async fn delete_server(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    SignedIn(account): SignedIn,
    Path(slug): Path<String>,
    CsrfForm(Empty {}, session): CsrfForm<Empty>,
) -> Result<Response, WebError> {
    let outcome =
        crate::vault::disconnect::delete_server(&core, &account.actor(Some(ip)), &slug).await;
    finish(&session, outcome, "/servers", "/servers").await
}

async fn revoke_grant(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    SignedIn(account): SignedIn,
    Path(grant): Path<i64>,
    CsrfForm(Empty {}, session): CsrfForm<Empty>,
) -> Result<Response, WebError> {
    let outcome = token_admin::revoke_grant(&core, &account.actor(Some(ip)), grant)
        .await
        .map(|()| {
            "Access revoked. The app's tokens stopped working; it must ask again to reconnect."
                .to_owned()
        });
    finish(&session, outcome, "/clients", "/clients").await
}

#[derive(Deserialize)]
struct ClientForm {
    #[serde(default)]
    client_id: String,
}

async fn admin_client(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    SignedIn(account): SignedIn,
    Path(action): Path<String>,
    CsrfForm(form, session): CsrfForm<ClientForm>,
) -> Result<Response, WebError> {
    use crate::service::client_admin::{self, Action};
    let (action, done) = match action.as_str() {
        "disable" => (Action::Disable, "disabled: its tokens stopped working"),
        "enable" => (Action::Enable, "enabled"),
        "delete" => (Action::Delete, "deleted with its grants and tokens"),
        _ => return Err(WebError::BadForm("unknown action".into())),
    };
    let outcome = client_admin::apply(&core, &account.actor(Some(ip)), &form.client_id, action)
        .await
        .map(|()| format!("Client {} {done}.", form.client_id));
    finish(&session, outcome, "/admin", "/admin").await
}
