//! *Authenticate*: sends the user to the provider (state + PKCE), and the callback at
//! `/vault/callback` that turns the code into a stored, encrypted connection.

use secrecy::SecretString;
use url::Url;

use super::provider::Provider;
use crate::clock;
use crate::domain::{SecretHash, SecretToken, UserId};
use crate::service::servers::{self, ServerEntry};
use crate::service::{activity, activity::About, Actor, ServiceError};
use crate::state::Core;
use crate::store::{self, connections, upstream};
use crate::vault::credential::{binding, seal, CredentialError};
use crate::vault::discovery::same_issuer;
use crate::vault::oauth;
use crate::vault::provider::{kind_of, Endpoints, Kind};

/// A pending flow lives this long.
const STATE_TTL: i64 = 600;

/// The redirect URI registered with providers.
pub fn callback_url(core: &Core) -> Url {
    #[allow(clippy::unwrap_used)] // the public origin joined with a fixed path always parses
    Url::parse(&core.public_url.join("/vault/callback")).unwrap()
}

/// Starts *Authenticate* for one of the actor's servers; returns the provider URL to visit.
/// `session_binding` is a per-session secret: only the same session can finish the flow.
pub async fn start(
    core: &Core,
    actor: &Actor,
    session_binding: &str,
    slug: &str,
) -> Result<Url, ServiceError> {
    let user = actor.own_account()?;
    let server = servers::get(core, user, slug).await?;
    start_for(core, user, &server, session_binding, None).await
}

/// [`start`] for a loaded server; `link` is the `gatehouse connect` link that began it.
pub(super) async fn start_for(
    core: &Core,
    user: UserId,
    server: &ServerEntry,
    session_binding: &str,
    link: Option<i64>,
) -> Result<Url, ServiceError> {
    let resolved = server
        .provider(&core.config)
        .ok_or_else(|| ServiceError::Internal("upstream URL cannot be decrypted".into()))?;
    let provider = Provider::of(core, user, server.id, &resolved.kind)
        .await
        .map_err(ServiceError::Invalid)?;
    let e = provider
        .endpoints(core)
        .await
        .map_err(ServiceError::Invalid)?;
    // The scopes: the provider's (or the discovered ones), plus any an upstream asked for
    // in an `insufficient_scope` answer since.
    let mut scopes: Vec<String> = provider
        .discovered_scopes()
        .map(<[String]>::to_vec)
        .unwrap_or_else(|| resolved.scopes.clone());
    if let Some(wider) = upstream::step_up_scopes(&core.pool, user, server.id).await? {
        for scope in wider.split_whitespace() {
            if !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
    }
    let state = SecretToken::generate("");
    let (challenge, verifier) = oauth::pkce_pair();
    let resource = e.resource_for(server.url.as_ref());
    let target = oauth::authorization_url(
        &e,
        &callback_url(core),
        state.expose(),
        challenge,
        &scopes,
        resource.as_deref(),
    );
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    connections::insert_state(
        &mut tx,
        &connections::NewState {
            state_hash: state.hash().as_str(),
            user,
            server_id: server.id,
            session_hash: SecretHash::of(session_binding).as_str(),
            provider: resolved.kind.id(),
            pkce_verifier: &verifier,
            scopes: &scopes.join(" "),
            expires_at: now + STATE_TTL,
            link,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(target)
}

/// The provider's answer at `/vault/callback`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CallbackParams {
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
    #[serde(default)]
    pub iss: Option<String>,
}

/// Why a callback did not connect; every case is shown to the user with a way to retry.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("this sign-in does not match a request of yours: it expired, was already used, or began in another browser session. Start again with Authenticate")]
    UnknownState,
    #[error("signing in for '{slug}' took longer than 10 minutes. Try again with Authenticate")]
    Expired { slug: String },
    #[error(
        "the provider did not grant access to '{slug}' ({reason}). Try again with Authenticate"
    )]
    Denied { slug: String, reason: String },
    #[error("connecting '{slug}' failed: {reason}. Try again with Authenticate")]
    Failed { slug: String, reason: String },
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<sqlx::Error> for CallbackError {
    fn from(err: sqlx::Error) -> Self {
        CallbackError::Service(err.into())
    }
}

/// What a successful callback connected.
#[derive(Debug)]
pub struct Connected {
    pub slug: String,
    pub account: Option<String>,
}

impl Connected {
    /// One sentence for the flash message and the CLI.
    pub fn message(&self) -> String {
        match &self.account {
            Some(a) => format!("Connected '{}' as {a}.", self.slug),
            None => format!("Connected '{}'.", self.slug),
        }
    }
}

/// The origin of a URL, for comparing an `iss` with the provider's endpoints.
fn origin(url: &str) -> Option<String> {
    Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
}

/// RFC 9207 mix-up defence. A provider that advertises `iss` must send exactly its issuer;
/// one whose issuer is known must not send another; otherwise an `iss` that is sent must at
/// least be the origin of the authorization endpoint the user was sent to.
fn issuer_ok(e: &Endpoints, iss: Option<&str>) -> bool {
    match (e.issuer.as_deref(), iss) {
        (Some(expected), Some(iss)) => same_issuer(iss, expected),
        (Some(_), None) => !e.iss_required,
        (None, Some(iss)) => origin(iss).is_some() && origin(iss) == origin(e.auth_url.as_str()),
        (None, None) => true,
    }
}

pub async fn finish(
    core: &Core,
    actor: &Actor,
    session_binding: Option<&str>,
    params: CallbackParams,
) -> Result<Connected, CallbackError> {
    let user = actor.own_account()?;
    let state = params.state.as_deref().ok_or(CallbackError::UnknownState)?;
    // Taken (deleted) and committed before anything else: a state is used at most once.
    let mut tx = store::begin_write(&core.pool).await?;
    let row = connections::take_state(&mut tx, SecretHash::of(state).as_str()).await?;
    tx.commit().await?;
    let row = row.ok_or(CallbackError::UnknownState)?;
    let stored = SecretHash::from_stored(row.session_hash.clone());
    let same_session = session_binding.is_some_and(|b| stored.matches(b));
    if row.user_id != user || !same_session {
        return Err(CallbackError::UnknownState);
    }
    let outcome = finish_flow(core, actor, user, &row, &params).await;
    // A `gatehouse connect` link waiting for this flow learns how it ended.
    if let Some(link) = row.link_id {
        let (ok, text) = match &outcome {
            Ok(done) => (true, done.message()),
            Err(err) => (false, err.to_string()),
        };
        super::link::finish(core, link, ok, &text).await?;
    }
    outcome
}

async fn finish_flow(
    core: &Core,
    actor: &Actor,
    user: UserId,
    row: &connections::StateRow,
    params: &CallbackParams,
) -> Result<Connected, CallbackError> {
    let server = match servers::get_by_id(core, user, row.server_id).await {
        Ok(server) => server,
        Err(ServiceError::NotFound) => return Err(CallbackError::UnknownState),
        Err(err) => return Err(err.into()),
    };
    let slug = server.slug.clone();
    let now = clock::now();
    if row.expires_at <= now {
        return Err(CallbackError::Expired { slug });
    }
    let kind = kind_of(&row.provider);
    let failed = |reason: String| CallbackError::Failed {
        slug: slug.clone(),
        reason,
    };
    let provider = Provider::of(core, user, row.server_id, &kind)
        .await
        .map_err(&failed)?;
    let e = provider.endpoints(core).await.map_err(&failed)?;
    if !issuer_ok(&e, params.iss.as_deref()) {
        return Err(failed("the response came from an unexpected issuer".into()));
    }
    if let Some(error) = &params.error {
        let reason = match &params.error_description {
            Some(d) => format!("{}: {}", oauth::printable(error), oauth::printable(d)),
            None => oauth::printable(error),
        };
        return Err(CallbackError::Denied { slug, reason });
    }
    let code = params
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| failed("the provider sent no authorization code".into()))?;
    let callback = callback_url(core);
    let tokens = provider
        .call(core, |e| {
            let resource = e.resource_for(server.url.as_ref());
            let (callback, verifier) = (&callback, &row.pkce_verifier);
            async move {
                oauth::exchange_code(
                    &core.http,
                    &e,
                    callback,
                    code,
                    verifier,
                    resource.as_deref(),
                )
                .await
            }
        })
        .await
        .map_err(|err| failed(err.to_string()))?;
    let account = match oauth::account_name(&core.http, &e, &tokens.access_token).await {
        Ok(account) => account,
        Err(err) => {
            tracing::warn!(server = row.server_id, "userinfo failed: {err}");
            None
        }
    };
    store_connection(
        core,
        actor,
        user,
        row.server_id,
        &slug,
        &kind,
        &row.scopes,
        account.as_deref(),
        tokens,
    )
    .await?;
    Ok(Connected { slug, account })
}

#[allow(clippy::too_many_arguments)]
async fn store_connection(
    core: &Core,
    actor: &Actor,
    user: UserId,
    server_id: i64,
    slug: &str,
    kind: &Kind,
    requested_scopes: &str,
    account: Option<&str>,
    tokens: oauth::TokenSet,
) -> Result<(), CallbackError> {
    let internal =
        |e: CredentialError| CallbackError::Service(ServiceError::Internal(e.to_string()));
    let access = seal(
        &core.cipher,
        &tokens.access_token,
        binding("access_token", server_id, user),
    )
    .map_err(internal)?;
    let refresh = tokens
        .refresh_token
        .as_ref()
        .map(|t: &SecretString| seal(&core.cipher, t, binding("refresh_token", server_id, user)))
        .transpose()
        .map_err(internal)?;
    let scopes = tokens
        .scopes
        .map(|s| s.join(" "))
        .unwrap_or_else(|| requested_scopes.to_owned());
    let provider = kind.id();
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    connections::upsert(
        &mut tx,
        &connections::NewConnection {
            server_id,
            user,
            provider,
            account,
            scopes: &scopes,
            access_token: &access,
            refresh_token: refresh.as_deref(),
            expires_at: tokens.expires_in.map(|d| now + d.as_secs() as i64),
        },
        now,
    )
    .await?;
    activity::record_about(
        &mut tx,
        actor,
        Some(user),
        "vault.connected",
        About {
            server: Some(slug),
            ..About::default()
        },
        format!(
            "{slug}: {provider}{}{}",
            account.map(|a| format!(" as {a}")).unwrap_or_default(),
            if refresh.is_none() {
                " (no refresh token)"
            } else {
                ""
            }
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    core.credentials.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(issuer: Option<&str>, required: bool) -> Endpoints {
        Endpoints {
            client_id: "c".into(),
            client_secret: None,
            auth_url: Url::parse("https://auth.example.com/authorize").unwrap(),
            token_url: Url::parse("https://auth.example.com/token").unwrap(),
            revoke_url: None,
            userinfo_url: None,
            extra_auth_params: &[],
            resource: crate::vault::provider::Resource::None,
            issuer: issuer.map(str::to_owned),
            iss_required: required,
            auth_method: crate::vault::provider::AuthMethod::None,
        }
    }

    #[test]
    fn iss_is_required_iff_advertised_and_must_match_a_known_issuer() {
        let advertised = endpoints(Some("https://auth.example.com/realms/x"), true);
        assert!(issuer_ok(
            &advertised,
            Some("https://auth.example.com/realms/x")
        ));
        assert!(!issuer_ok(&advertised, None), "advertised, so required");
        assert!(!issuer_ok(&advertised, Some("https://auth.example.com")));
        let known = endpoints(Some("https://auth.example.com/"), false);
        assert!(issuer_ok(&known, None), "not advertised: may be absent");
        assert!(issuer_ok(&known, Some("https://auth.example.com")));
        assert!(!issuer_ok(&known, Some("https://evil.example")));
        let unknown = endpoints(None, false);
        assert!(issuer_ok(&unknown, None));
        assert!(issuer_ok(&unknown, Some("https://auth.example.com")));
        assert!(issuer_ok(&unknown, Some("https://auth.example.com/tenant")));
        assert!(!issuer_ok(&unknown, Some("https://evil.example")));
        assert!(!issuer_ok(&unknown, Some("not a url")));
    }
}
