//! Browser sessions (tower-sessions on the SQLite store): who is signed in, the CSRF token,
//! and one-shot flash messages.

use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use super::error::WebError;
use crate::clock::{self, UnixTime};
use crate::domain::secret::constant_time_eq;
use crate::domain::UserId;
use crate::service::accounts::{self, Account, SessionStore};
use crate::state::{Core, SharedCore};

const USER: &str = "user_id";
const SIGNED_IN_AT: &str = "signed_in_at";
const PASSWORD_VERSION: &str = "password_version";
const CSRF: &str = "csrf";
const FLASH: &str = "flash";
const VAULT_BINDING: &str = "vault_binding";
const REVEAL: &str = "reveal";
const RETURN_TO: &str = "return_to";

/// A session ends after this long without a request…
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(12 * 3600);
/// …and this long after sign-in, however active.
pub const ABSOLUTE_TIMEOUT_SECS: UnixTime = 7 * 86400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlashKind {
    Success,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    pub kind: FlashKind,
    pub text: String,
}

/// The cookie name: `__Host-` pins it to this origin when served over https.
pub fn cookie_name(core: &Core) -> &'static str {
    if core.public_url.is_https() {
        "__Host-gatehouse_session"
    } else {
        "gatehouse_session"
    }
}

pub fn layer(core: &Core) -> Result<SessionManagerLayer<SessionStore>, String> {
    let idle = time::Duration::seconds(IDLE_TIMEOUT.as_secs() as i64);
    Ok(SessionManagerLayer::new(accounts::session_store(core)?)
        .with_name(cookie_name(core))
        .with_path("/")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(core.public_url.is_https())
        .with_expiry(Expiry::OnInactivity(idle)))
}

fn session_err(err: tower_sessions::session::Error) -> WebError {
    WebError::Internal(format!("session: {err}"))
}

/// The session's CSRF token, created on first use.
pub async fn csrf_token(session: &Session) -> Result<String, WebError> {
    if let Some(token) = session.get::<String>(CSRF).await.map_err(session_err)? {
        return Ok(token);
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    session.insert(CSRF, &token).await.map_err(session_err)?;
    Ok(token)
}

/// A per-session secret that binds vault *Authenticate* flows to this session: created on
/// first use (`create`), else read.
pub async fn vault_binding(session: &Session, create: bool) -> Result<Option<String>, WebError> {
    if let Some(value) = session
        .get::<String>(VAULT_BINDING)
        .await
        .map_err(session_err)?
    {
        return Ok(Some(value));
    }
    if !create {
        return Ok(None);
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let value = URL_SAFE_NO_PAD.encode(bytes);
    session
        .insert(VAULT_BINDING, &value)
        .await
        .map_err(session_err)?;
    Ok(Some(value))
}

/// True iff `submitted` equals the session's token (constant-time).
pub async fn csrf_matches(session: &Session, submitted: &str) -> bool {
    match session.get::<String>(CSRF).await {
        Ok(Some(expected)) => !submitted.is_empty() && constant_time_eq(&expected, submitted),
        _ => false,
    }
}

pub async fn set_flash(
    session: &Session,
    kind: FlashKind,
    text: impl Into<String>,
) -> Result<(), WebError> {
    session
        .insert(
            FLASH,
            Flash {
                kind,
                text: text.into(),
            },
        )
        .await
        .map_err(session_err)
}

/// A message as a sentence: service errors start lowercase ("wrong username or password").
pub fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Keeps a sealed secret for the next page view of this session (a new API key shown once).
pub async fn set_reveal(session: &Session, sealed: String) -> Result<(), WebError> {
    session.insert(REVEAL, sealed).await.map_err(session_err)
}

/// The sealed secret kept by [`set_reveal`], removed as it is read.
pub async fn take_reveal(session: &Session) -> Option<String> {
    session.remove::<String>(REVEAL).await.ok().flatten()
}

/// A path of Gatehouse's own to go on to after signing in (a `gatehouse connect` link).
pub async fn set_return_to(session: &Session, path: String) -> Result<(), WebError> {
    session.insert(RETURN_TO, path).await.map_err(session_err)
}

/// The path kept by [`set_return_to`], removed as it is read.
pub async fn take_return_to(session: &Session) -> Option<String> {
    session.remove::<String>(RETURN_TO).await.ok().flatten()
}

pub async fn take_flash(session: &Session) -> Option<Flash> {
    session.remove::<Flash>(FLASH).await.ok().flatten()
}

/// Signs `account` in: a new session id (no fixation), a new CSRF token.
pub async fn sign_in(session: &Session, account: &Account) -> Result<(), WebError> {
    session.cycle_id().await.map_err(session_err)?;
    session.remove::<String>(CSRF).await.map_err(session_err)?;
    session
        .insert(USER, account.id)
        .await
        .map_err(session_err)?;
    session
        .insert(SIGNED_IN_AT, clock::now())
        .await
        .map_err(session_err)?;
    session
        .insert(PASSWORD_VERSION, account.password_version)
        .await
        .map_err(session_err)?;
    Ok(())
}

pub async fn sign_out(session: &Session) -> Result<(), WebError> {
    session.flush().await.map_err(session_err)
}

/// The signed-in account, reloaded from the database (so removed or demoted accounts and
/// password changes apply at once), or `None` when the session is anonymous, past its
/// absolute lifetime, or began before the account's last password change.
pub async fn current_account(core: &Core, session: &Session) -> Result<Option<Account>, WebError> {
    let Some(id) = session.get::<UserId>(USER).await.map_err(session_err)? else {
        return Ok(None);
    };
    let signed_in_at = session
        .get::<UnixTime>(SIGNED_IN_AT)
        .await
        .map_err(session_err)?
        .unwrap_or(0);
    if clock::now() - signed_in_at > ABSOLUTE_TIMEOUT_SECS {
        session.flush().await.map_err(session_err)?;
        return Ok(None);
    }
    let signed_in_with = session
        .get::<i64>(PASSWORD_VERSION)
        .await
        .map_err(session_err)?
        .unwrap_or(0);
    // A removed or disabled account, or a password changed since this session signed in,
    // ends it.
    let account = accounts::load(core, id)
        .await?
        .filter(|a| a.password_version == signed_in_with && !a.disabled);
    if account.is_none() {
        session.flush().await.map_err(session_err)?;
    }
    Ok(account)
}

/// Extractor: the signed-in account, or a redirect to the sign-in page.
pub struct SignedIn(pub Account);

impl<S> FromRequestParts<S> for SignedIn
where
    SharedCore: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let core = SharedCore::from_ref(state);
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, msg)| WebError::Internal(msg.to_owned()))?;
        match current_account(&core, &session).await? {
            Some(account) => Ok(SignedIn(account)),
            None => Err(WebError::SignInRequired),
        }
    }
}
