//! Fresh upstream credentials, refreshed single-flight (DESIGN.md §4).
//!
//! Across processes a lease row decides who refreshes: taken in a short `BEGIN IMMEDIATE`
//! transaction, the HTTP call made outside any transaction, the result saved only if the
//! lease is still ours. Inside one process, concurrent callers share one future, so N calls
//! with an expired token cause exactly one refresh.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::FutureExt;
use secrecy::{ExposeSecret, SecretString};

use crate::clock::{self, UnixTime};
use crate::domain::secret::constant_time_eq;
use crate::domain::{SecretToken, UserId};
use crate::service::{activity, activity::About, servers, Actor};
use crate::state::{Core, SharedCore};
use crate::store::{self, connections};
use crate::vault::credential::{binding, open, seal};
pub use crate::vault::credential::{Credential, CredentialError};
use crate::vault::oauth::{self, ProviderError};
use crate::vault::provider::kind_of;

use super::native::CallError;
use super::provider::Provider;

/// How long a refresh may hold the lease (the HTTP client gives up after 30 s).
const LEASE_SECS: i64 = 45;

/// When a refresh is wanted.
#[derive(Clone)]
pub enum Need {
    /// The token expires within the configured skew.
    IfDue,
    /// The upstream rejected this token: refresh unless it has been replaced meanwhile.
    IfStill(SecretString),
}

/// Whether a token expiring at `expires_at` is within the refresh skew of `now`. Tokens
/// without an expiry are refreshed on an upstream 401 only.
fn is_due(core: &Core, expires_at: Option<UnixTime>, now: UnixTime) -> bool {
    let skew = core.config.upstream_refresh_skew.as_secs() as i64;
    expires_at.is_some_and(|at| at - skew <= now)
}

fn wanted(
    core: &Core,
    row: &connections::ConnectionRow,
    need: &Need,
    now: UnixTime,
) -> Result<bool, CredentialError> {
    Ok(match need {
        Need::IfDue => is_due(core, row.expires_at, now),
        Need::IfStill(rejected) => {
            let current = open(
                &core.cipher,
                &row.access_token,
                binding("access_token", row.id, row.user_id),
            )?;
            constant_time_eq(current.expose_secret(), rejected.expose_secret())
        }
    })
}

/// The user's upstream credential for a server, refreshed first when it is due.
pub async fn credential(
    core: &SharedCore,
    user: UserId,
    server_id: i64,
) -> Result<Credential, CredentialError> {
    let key = (user, server_id);
    let now = std::time::Instant::now();
    if let Some(hit) = core.credentials.get(&key, now) {
        if !is_due(core, hit.expires_at, clock::now()) {
            return Ok(hit);
        }
    }
    let fresh = credential_with(core, user, server_id, Need::IfDue).await?;
    core.credentials.put(key, fresh.clone(), now);
    Ok(fresh)
}

/// Like [`credential`], refreshing when `need` says so (e.g. after an upstream 401).
pub async fn credential_with(
    core: &SharedCore,
    user: UserId,
    server_id: i64,
    need: Need,
) -> Result<Credential, CredentialError> {
    let row = connections::get(&core.pool, user, server_id)
        .await?
        .ok_or(CredentialError::NotConnected)?;
    if row.status == connections::NEEDS_REAUTH {
        return Err(CredentialError::NeedsReauth);
    }
    let row = if wanted(core, &row, &need, clock::now())? {
        refresh_shared(core, user, server_id, need).await?;
        connections::get(&core.pool, user, server_id)
            .await?
            .ok_or(CredentialError::NotConnected)?
    } else {
        row
    };
    if row.status == connections::NEEDS_REAUTH {
        return Err(CredentialError::NeedsReauth);
    }
    Ok(Credential {
        token: open(
            &core.cipher,
            &row.access_token,
            binding("access_token", row.id, row.user_id),
        )?,
        expires_at: row.expires_at,
    })
}

/// Refreshes now, whatever the expiry (`gatehouse refresh`).
pub async fn refresh_now(
    core: &SharedCore,
    user: UserId,
    server_id: i64,
) -> Result<Credential, CredentialError> {
    let row = connections::get(&core.pool, user, server_id)
        .await?
        .ok_or(CredentialError::NotConnected)?;
    let current = open(
        &core.cipher,
        &row.access_token,
        binding("access_token", row.id, row.user_id),
    )?;
    credential_with(core, user, server_id, Need::IfStill(current)).await
}

/// Joins the refresh of this connection under way in this process, or starts one.
pub async fn refresh_shared(
    core: &SharedCore,
    user: UserId,
    server_id: i64,
    need: Need,
) -> Result<(), CredentialError> {
    let owner = Arc::clone(core);
    core.flights
        .join_or_start(server_id, move || {
            async move { refresh_leased(&owner, user, server_id, need).await }.boxed()
        })
        .await
}

/// One refresh under the cross-process lease.
async fn refresh_leased(
    core: &Core,
    user: UserId,
    server_id: i64,
    need: Need,
) -> Result<(), CredentialError> {
    let lease = SecretToken::generate("").expose().to_owned();
    let mut wait = Duration::from_millis(20);
    let row = loop {
        let now = clock::now();
        let mut tx = store::begin_write(&core.pool).await?;
        let row = connections::get(&mut *tx, user, server_id)
            .await?
            .ok_or(CredentialError::NotConnected)?;
        if row.status == connections::NEEDS_REAUTH {
            return Err(CredentialError::NeedsReauth);
        }
        // Someone (here or in another process) may have refreshed since the caller looked.
        if !wanted(core, &row, &need, now)? {
            return Ok(());
        }
        if connections::take_lease(&mut tx, server_id, &lease, now + LEASE_SECS, now).await? {
            tx.commit().await?;
            break row;
        }
        drop(tx);
        // Another process holds the lease: look again shortly (its refresh takes one round
        // trip to the provider; a crashed holder's lease runs out after LEASE_SECS).
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_millis(500));
    };
    let outcome = call_provider(core, &row).await;
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    let result = match outcome {
        Ok(tokens) => {
            let access = seal(
                &core.cipher,
                &tokens.access_token,
                binding("access_token", server_id, user),
            )?;
            let refresh = tokens
                .refresh_token
                .as_ref()
                .map(|t| seal(&core.cipher, t, binding("refresh_token", server_id, user)))
                .transpose()?;
            let expires_at = tokens.expires_in.map(|d| now + d.as_secs() as i64);
            let scopes = tokens.scopes.map(|s| s.join(" "));
            crate::telemetry::upstream_refresh("ok");
            if !connections::save_refreshed(
                &mut tx,
                server_id,
                &lease,
                &access,
                refresh.as_deref(),
                expires_at,
                scopes.as_deref(),
                now,
            )
            .await?
            {
                tracing::warn!(
                    connection = server_id,
                    "refresh lease lost before saving; result dropped"
                );
            } else {
                record(
                    &mut tx,
                    user,
                    server_id,
                    "vault.refreshed",
                    "upstream token refreshed",
                    now,
                )
                .await?;
            }
            Ok(())
        }
        Err(err) => {
            let needs_reauth = matches!(
                err,
                RefreshFailure::Provider(ProviderError::InvalidGrant)
                    | RefreshFailure::NoRefreshToken
            );
            let message = err.to_string();
            crate::telemetry::upstream_refresh(if needs_reauth {
                "needs_reauth"
            } else {
                "failed"
            });
            connections::record_failure(&mut tx, server_id, &lease, &message, needs_reauth, now)
                .await?;
            record(
                &mut tx,
                user,
                server_id,
                "vault.refresh_failed",
                &message,
                now,
            )
            .await?;
            Err(if needs_reauth {
                CredentialError::NeedsReauth
            } else {
                CredentialError::Provider(message)
            })
        }
    };
    tx.commit().await?;
    core.credentials.clear();
    result
}

/// Records a refresh's outcome in the activity log, under the server's slug.
async fn record(
    tx: &mut sqlx::AnyConnection,
    user: UserId,
    server_id: i64,
    kind: &str,
    what: &str,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    let slug = store::servers::get_by_id(&mut *tx, user, server_id)
        .await?
        .map(|server| server.slug);
    let about = About {
        server: slug.as_deref(),
        ..About::default()
    };
    let detail = format!("{}: {what}", slug.as_deref().unwrap_or_default());
    activity::record_about(
        tx,
        &Actor::system("vault"),
        Some(user),
        kind,
        about,
        detail,
        now,
    )
    .await
}

#[derive(Debug, thiserror::Error)]
enum RefreshFailure {
    #[error("no refresh token was issued; sign in again")]
    NoRefreshToken,
    #[error("{0}")]
    Provider(ProviderError),
    #[error("{0}")]
    Setup(String),
}

async fn call_provider(
    core: &Core,
    row: &connections::ConnectionRow,
) -> Result<oauth::TokenSet, RefreshFailure> {
    let Some(sealed) = &row.refresh_token else {
        return Err(RefreshFailure::NoRefreshToken);
    };
    let refresh_token = open(
        &core.cipher,
        sealed,
        binding("refresh_token", row.id, row.user_id),
    )
    .map_err(|e| RefreshFailure::Setup(e.to_string()))?;
    let provider = Provider::of(core, row.user_id, row.id, &kind_of(&row.provider))
        .await
        .map_err(RefreshFailure::Setup)?;
    // Only a configured provider with `resource = true` sends the server's URL: decrypt it
    // for those alone.
    let server_url = match provider.sends_server_url() {
        true => servers::get_by_id(core, row.user_id, row.id)
            .await
            .ok()
            .and_then(|server| server.url),
        false => None,
    };
    let callback = super::connect::callback_url(core);
    provider
        .call(core, |e| {
            let resource = e.resource_for(server_url.as_ref());
            let (callback, refresh_token) = (&callback, &refresh_token);
            async move {
                oauth::refresh(&core.http, &e, callback, refresh_token, resource.as_deref()).await
            }
        })
        .await
        .map_err(|err| match err {
            CallError::Provider(p) => RefreshFailure::Provider(p),
            CallError::Setup(why) => RefreshFailure::Setup(why),
        })
}
