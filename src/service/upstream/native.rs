//! Upstreams with their own OAuth (DESIGN.md §4, journey 3): probing a server, Gatehouse's
//! client registration at its authorization server (a configured client, else its own CIMD
//! document, else DCR; one registration per issuer, shared by every user), and the endpoints
//! the vault's flows use, re-registering once when the server forgets the client.

use std::future::Future;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::connect::callback_url;
use crate::clock::{self, UnixTime};
use crate::domain::UserId;
use crate::service::servers::{self, ServerEntry};
use crate::service::{activity, activity::About, Actor, ServiceError};
use crate::state::Core;
use crate::store::{self, upstream};
use crate::vault::cipher::Binding;
use crate::vault::discovery::{self, same_issuer, AuthServer, Probed};
use crate::vault::oauth::ProviderError;
use crate::vault::provider::{AuthMethod, Endpoints};
use crate::vault::registration::{self, CLIENT_METADATA_PATH};

/// A whole probe (the initialize request and every document) ends within this.
const PROBE_BUDGET: Duration = Duration::from_secs(20);

/// How Gatehouse is registered at an issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Configured,
    Cimd,
    Dcr,
}

impl Method {
    pub fn label(self) -> &'static str {
        match self {
            Method::Configured => "pre-configured client",
            Method::Cimd => "Client ID Metadata Document",
            Method::Dcr => "dynamic client registration",
        }
    }

    /// A stored registration's method (`configured` is never stored).
    fn from_key(key: &str) -> Self {
        match key {
            "cimd" => Method::Cimd,
            _ => Method::Dcr,
        }
    }

    fn key(self) -> &'static str {
        match self {
            Method::Configured => "configured",
            Method::Cimd => "cimd",
            Method::Dcr => "dcr",
        }
    }
}

/// Gatehouse's client at one issuer.
pub struct Registration {
    /// The stored row (`None` for a configured client).
    id: Option<i64>,
    pub method: Method,
    pub client_id: String,
    secret: Option<SecretString>,
    auth_method: AuthMethod,
}

/// What the Servers page and `gatehouse server probe` show about a server's own sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    pub probed_at: UnixTime,
    pub outcome: Outcome,
    pub issuer: Option<String>,
    pub scopes: Vec<String>,
    /// How Gatehouse registered there (when it has).
    pub registration: Option<&'static str>,
    /// What went wrong, or what to do.
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Discovered and registered: *Authenticate* can start.
    OAuth,
    /// Answers without authorization.
    Open,
    Failed,
}

impl Discovery {
    /// One line for the CLI.
    pub fn line(&self) -> String {
        match self.outcome {
            Outcome::Open => "open: the server answers without authorization".to_owned(),
            Outcome::OAuth => format!(
                "own sign-in: authorization server {}, scopes [{}], registered by {}",
                self.issuer.as_deref().unwrap_or("?"),
                self.scopes.join(" "),
                self.registration.unwrap_or("?"),
            ),
            Outcome::Failed => format!(
                "no usable sign-in: {}",
                self.message.as_deref().unwrap_or("unknown")
            ),
        }
    }

    /// One sentence for the flash message after *Add server* or *Check*.
    pub fn sentence(&self) -> String {
        match self.outcome {
            Outcome::Open => "It answers without authorization: no sign-in needed.".to_owned(),
            Outcome::OAuth => format!(
                "Found its sign-in at {}: click Authenticate to connect.",
                self.issuer.as_deref().unwrap_or("its authorization server")
            ),
            Outcome::Failed => format!(
                "Its sign-in could not be used: {}.",
                self.message
                    .as_deref()
                    .unwrap_or("unknown")
                    .trim_end_matches('.')
            ),
        }
    }

    fn of(row: &upstream::ProbeRow, registration: Option<&'static str>) -> Self {
        Discovery {
            probed_at: row.probed_at,
            outcome: match row.outcome.as_str() {
                upstream::OAUTH => Outcome::OAuth,
                upstream::OPEN => Outcome::Open,
                _ => Outcome::Failed,
            },
            issuer: row.issuer.clone(),
            scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
            registration,
            message: row.message.clone(),
        }
    }
}

fn secret_binding(id: i64) -> Binding<'static> {
    Binding {
        table: "upstream_registrations",
        column: "client_secret",
        row_id: id,
        user: UserId::new(0),
    }
}

fn cimd_client_id(core: &Core) -> Option<String> {
    core.public_url
        .is_https()
        .then(|| core.public_url.join(CLIENT_METADATA_PATH))
}

/// Gatehouse's Client ID Metadata Document, served at `/oauth/client-metadata.json`
/// (`CLIENT_METADATA_PATH`).
pub fn client_metadata_document(core: &Core) -> serde_json::Value {
    let id = core.public_url.join(CLIENT_METADATA_PATH);
    registration::client_metadata_document(&id, &callback_url(core))
}

/// The registration to use at `server`, making one if there is none yet.
pub async fn registration(core: &Core, server: &AuthServer) -> Result<Registration, String> {
    if let Some(c) = core
        .config
        .upstream_clients
        .iter()
        .find(|c| same_issuer(&c.issuer, &server.issuer))
    {
        let auth_method = match (&c.client_secret, c.secret_in_body) {
            (None, _) => AuthMethod::None,
            (Some(_), true) => AuthMethod::Post,
            (Some(_), false) => AuthMethod::Basic,
        };
        return Ok(Registration {
            id: None,
            method: Method::Configured,
            client_id: c.client_id.clone(),
            secret: c.client_secret.clone(),
            auth_method,
        });
    }
    let callback = callback_url(core);
    if let Some(stored) = stored_registration(core, &server.issuer, &callback).await? {
        return Ok(stored);
    }
    // One registration at a time in this process: two users' first probes of one issuer
    // must not register twice and leave connections on a replaced client.
    let _one_at_a_time = REGISTERING.lock().await;
    if let Some(stored) = stored_registration(core, &server.issuer, &callback).await? {
        return Ok(stored);
    }
    let cimd = cimd_client_id(core).filter(|_| server.client_id_metadata_document_supported);
    let (method, client_id, secret, auth_method) = match cimd {
        Some(id) => (Method::Cimd, id, None, AuthMethod::None),
        None => {
            let made =
                registration::register(&core.http, server, &callback, &core.public_url.issuer())
                    .await
                    .map_err(|e| e.to_string())?;
            (
                Method::Dcr,
                made.client_id,
                made.client_secret,
                made.auth_method,
            )
        }
    };
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await.map_err(db)?;
    let id = upstream::replace_registration(
        &mut tx,
        &upstream::NewRegistration {
            issuer: &server.issuer,
            method: method.key(),
            client_id: &client_id,
            auth_method: auth_method.as_str(),
            redirect_uri: callback.as_str(),
        },
        now,
    )
    .await
    .map_err(db)?;
    if let Some(secret) = &secret {
        let sealed = core
            .cipher
            .encrypt(secret.expose_secret().as_bytes(), secret_binding(id))
            .map_err(|e| e.to_string())?;
        upstream::set_client_secret(&mut tx, id, &sealed)
            .await
            .map_err(db)?;
    }
    activity::record(
        &mut tx,
        &Actor::system("vault"),
        None,
        "upstream.registered",
        format!("{} by {}", server.issuer, method.label()),
        now,
    )
    .await
    .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(db)?;
    Ok(Registration {
        id: Some(id),
        method,
        client_id,
        secret,
        auth_method,
    })
}

static REGISTERING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The stored registration for an issuer, if it still fits this Gatehouse (same callback;
/// for CIMD, the same document URL).
async fn stored_registration(
    core: &Core,
    issuer: &str,
    callback: &url::Url,
) -> Result<Option<Registration>, String> {
    match upstream::registration(&core.pool, issuer)
        .await
        .map_err(db)?
    {
        Some(row)
            if row.redirect_uri == callback.as_str()
                && (row.method != "cimd"
                    || cimd_client_id(core).as_deref() == Some(&row.client_id)) =>
        {
            open_row(core, row).map(Some)
        }
        _ => Ok(None),
    }
}

fn db(err: sqlx::Error) -> String {
    format!("database: {err}")
}

fn open_row(core: &Core, row: upstream::RegistrationRow) -> Result<Registration, String> {
    let secret = row
        .client_secret
        .as_deref()
        .map(|sealed| core.cipher.decrypt_text(sealed, secret_binding(row.id)))
        .transpose()
        .map_err(|e| format!("the stored client secret cannot be decrypted ({e})"))?
        .map(SecretString::from);
    Ok(Registration {
        id: Some(row.id),
        method: Method::from_key(&row.method),
        client_id: row.client_id,
        secret,
        auth_method: AuthMethod::parse(&row.auth_method).unwrap_or(AuthMethod::None),
    })
}

/// Drops a registration the server rejected (`invalid_client`) and registers again, once.
async fn reregister(
    core: &Core,
    server: &AuthServer,
    stale: &Registration,
) -> Result<Option<Registration>, String> {
    let Some(id) = stale.id else {
        // A configured client cannot be replaced automatically.
        return Ok(None);
    };
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await.map_err(db)?;
    upstream::drop_registration(&mut tx, id).await.map_err(db)?;
    activity::record(
        &mut tx,
        &Actor::system("vault"),
        None,
        "upstream.reregistering",
        format!(
            "{} rejected client {} (invalid_client); registering again",
            server.issuer, stale.client_id
        ),
        now,
    )
    .await
    .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(db)?;
    registration(core, server).await.map(Some)
}

/// A server's discovered sign-in: its authorization server, resource and scopes.
pub struct Found {
    pub server: AuthServer,
    pub resource: String,
    pub scopes: Vec<String>,
}

/// What the last probe found for one of `user`'s servers, if it found a sign-in.
pub async fn found(core: &Core, user: UserId, server_id: i64) -> Result<Found, String> {
    let row = upstream::probe(&core.pool, user, server_id)
        .await
        .map_err(db)?;
    let Some(row) = row else {
        return Err("this server has not been checked yet: use Check on the Servers page".into());
    };
    if row.outcome != upstream::OAUTH {
        return Err(match row.outcome.as_str() {
            upstream::OPEN => {
                "the server needs no sign-in (it answered without authorization)".into()
            }
            _ => format!(
                "no usable sign-in was found ({}); use Check after fixing it",
                row.message.as_deref().unwrap_or("unknown")
            ),
        });
    }
    let server: AuthServer = row
        .metadata
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .ok_or("the stored discovery is unreadable: use Check on the Servers page")?;
    Ok(Found {
        server,
        resource: row.resource.unwrap_or_default(),
        scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
    })
}

/// Why a provider call could not be made or failed.
#[derive(Debug)]
pub enum CallError {
    Setup(String),
    Provider(ProviderError),
}

/// Runs `call` with the server's endpoints; when the authorization server answers
/// `invalid_client`, registers again once (recorded in the activity log) and retries.
pub async fn with_endpoints<T, F, Fut>(core: &Core, found: &Found, call: F) -> Result<T, CallError>
where
    F: Fn(Endpoints) -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let first = registration(core, &found.server)
        .await
        .map_err(CallError::Setup)?;
    match call(endpoints(found, &first)).await {
        Err(ProviderError::InvalidClient) => {
            let Some(fresh) = reregister(core, &found.server, &first)
                .await
                .map_err(CallError::Setup)?
            else {
                return Err(CallError::Provider(ProviderError::InvalidClient));
            };
            call(endpoints(found, &fresh))
                .await
                .map_err(CallError::Provider)
        }
        other => other.map_err(CallError::Provider),
    }
}

/// The endpoints for a found server with a registration.
pub fn endpoints(found: &Found, r: &Registration) -> Endpoints {
    Endpoints::native(
        &found.server,
        &found.resource,
        r.client_id.clone(),
        r.secret.clone(),
        r.auth_method,
    )
}

/// Probes one of `user`'s servers, registers Gatehouse at its authorization server when it
/// has one, and stores what was found.
pub async fn probe(
    core: &Core,
    actor: &Actor,
    user: UserId,
    slug: &str,
) -> Result<Discovery, ServiceError> {
    if !actor.may_act_for(user) {
        return Err(ServiceError::Forbidden);
    }
    let server = servers::get(core, user, slug).await?;
    probe_server(core, actor, &server).await
}

/// [`probe`] for a server already loaded.
pub async fn probe_server(
    core: &Core,
    actor: &Actor,
    server: &ServerEntry,
) -> Result<Discovery, ServiceError> {
    let url = server
        .url
        .as_ref()
        .ok_or_else(|| ServiceError::Invalid("the server's URL cannot be decrypted".into()))?;
    let target =
        url::Url::parse(url.as_str()).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let allow = &core.config.allow_private_networks;
    let probed = tokio::time::timeout(PROBE_BUDGET, discovery::probe(&core.http, &target, allow))
        .await
        .unwrap_or_else(|_| {
            Err(discovery::DiscoveryError::Unreachable(
                "discovery took longer than 20 s".into(),
            ))
        });
    let now = clock::now();
    let mut row = upstream::ProbeRow {
        server_id: server.id,
        user_id: server.user_id,
        probed_at: now,
        outcome: upstream::FAILED.into(),
        resource: None,
        issuer: None,
        metadata: None,
        scopes: String::new(),
        message: None,
    };
    let mut registered = None;
    match probed {
        Ok(Probed::Open) => row.outcome = upstream::OPEN.into(),
        Ok(Probed::Protected(found)) => {
            row.issuer = Some(found.server.issuer.clone());
            row.scopes = found.scopes.join(" ");
            match registration(core, &found.server).await {
                Ok(r) => {
                    registered = Some(r.method.label());
                    row.outcome = upstream::OAUTH.into();
                    row.resource = Some(found.resource.clone());
                    row.metadata = serde_json::to_string(&found.server).ok();
                }
                Err(why) => row.message = Some(why),
            }
        }
        Err(err) => row.message = Some(err.to_string()),
    }
    let discovery = Discovery::of(&row, registered);
    let mut tx = store::begin_write(&core.pool).await?;
    if !upstream::save_probe(&mut tx, &row).await? {
        return Err(ServiceError::NotFound);
    }
    activity::record_about(
        &mut tx,
        actor,
        Some(server.user_id),
        "server.probed",
        About {
            server: Some(&server.slug),
            ..About::default()
        },
        format!("{}: {}", server.slug, discovery.line()),
        now,
    )
    .await?;
    tx.commit().await?;
    core.servers_changed.bump();
    Ok(discovery)
}

/// Every stored probe result of `user`'s servers, by server id.
pub async fn discoveries(core: &Core, user: UserId) -> Result<Vec<(i64, Discovery)>, ServiceError> {
    let rows = upstream::probes_for_user(&core.pool, user).await?;
    // One read of the (few) stored registrations, not one per server.
    let stored = upstream::registration_methods(&core.pool).await?;
    let label = |issuer: &str| -> Option<&'static str> {
        if core
            .config
            .upstream_clients
            .iter()
            .any(|c| same_issuer(&c.issuer, issuer))
        {
            return Some(Method::Configured.label());
        }
        stored
            .iter()
            .find(|(i, _)| i == issuer)
            .map(|(_, method)| Method::from_key(method).label())
    };
    Ok(rows
        .into_iter()
        .map(|row| {
            let method = match (&row.issuer, row.outcome == upstream::OAUTH) {
                (Some(issuer), true) => label(issuer),
                _ => None,
            };
            (row.server_id, Discovery::of(&row, method))
        })
        .collect())
}

/// Whether the gateway should send the vault's token: the last probe found a sign-in.
pub async fn needs_sign_in(
    core: &Core,
    user: UserId,
    server_id: i64,
) -> Result<bool, ServiceError> {
    Ok(upstream::probe(&core.pool, user, server_id)
        .await?
        .is_some_and(|p| p.outcome == upstream::OAUTH))
}

/// After *Add server*: a server without a static credential that uses its own sign-in is
/// probed at once, so the page shows what was found.
pub async fn probe_if_native(
    core: &Core,
    actor: &Actor,
    server: &ServerEntry,
) -> Result<Option<Discovery>, ServiceError> {
    let native = server
        .provider(&core.config)
        .is_some_and(|p| p.kind == crate::vault::provider::Kind::Native);
    if server.has_static_credential || !native {
        return Ok(None);
    }
    probe_server(core, actor, server).await.map(Some)
}
