//! *Revoke*: revoke at the provider, then delete the stored tokens, and say how it went.

use crate::clock;
use crate::domain::UserId;
use crate::service::{activity, activity::About, servers, Actor, ServiceError};
use crate::state::Core;
use crate::store::{self, connections};
use crate::vault::credential::{binding, open};
use crate::vault::oauth::{self, ProviderError};
use crate::vault::provider::{kind_of, Kind};

use super::native::CallError;
use super::provider::Provider;

/// What happened at the provider; the stored tokens are deleted in every case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderOutcome {
    Revoked,
    /// The provider has no revocation endpoint: the grant ends when its tokens expire.
    NoEndpoint,
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Disconnected {
    pub slug: String,
    pub outcome: ProviderOutcome,
    /// Other servers that used the same Google grant (Google ends it for all of them).
    pub also_ended: Vec<String>,
}

impl Disconnected {
    /// One sentence for the flash message and the CLI.
    pub fn message(&self) -> String {
        let first = match &self.outcome {
            ProviderOutcome::Revoked => format!("Disconnected '{}': the provider revoked the access and the stored tokens are deleted.", self.slug),
            ProviderOutcome::NoEndpoint => format!("Disconnected '{}': the stored tokens are deleted (the provider offers no revocation; its grant ends when the tokens expire).", self.slug),
            ProviderOutcome::Failed(why) => format!("Disconnected '{}': the stored tokens are deleted, but the provider could not revoke the access ({why}); remove it in the provider's account settings too.", self.slug),
        };
        if self.also_ended.is_empty() {
            first
        } else {
            format!(
                "{first} Google ends the whole grant, so {} must be authenticated again.",
                self.also_ended.join(", ")
            )
        }
    }
}

pub async fn disconnect(
    core: &Core,
    actor: &Actor,
    user: UserId,
    slug: &str,
) -> Result<Disconnected, ServiceError> {
    if !actor.may_act_for(user) {
        return Err(ServiceError::Forbidden);
    }
    let server = servers::get(core, user, slug).await?;
    let row = connections::get(&core.pool, user, server.id)
        .await?
        .ok_or_else(|| ServiceError::Invalid(format!("'{slug}' is not connected")))?;
    let kind = kind_of(&row.provider);
    // Revoking the refresh token ends the grant; without one, the access token is all there is.
    let token = match &row.refresh_token {
        Some(sealed) => open(&core.cipher, sealed, binding("refresh_token", row.id, user))
            .map(|t| (t, "refresh_token")),
        None => open(
            &core.cipher,
            &row.access_token,
            binding("access_token", row.id, user),
        )
        .map(|t| (t, "access_token")),
    };
    let provider = Provider::of(core, user, row.id, &kind).await;
    let outcome = match (token, provider) {
        (Ok((token, hint)), Ok(provider)) => {
            let revoked = provider
                .call(core, |e| {
                    let token = &token;
                    async move { oauth::revoke(&core.http, &e, token, hint).await }
                })
                .await;
            match revoked {
                Ok(true) => ProviderOutcome::Revoked,
                Ok(false) => ProviderOutcome::NoEndpoint,
                Err(CallError::Provider(ProviderError::Unreachable(why))) => {
                    ProviderOutcome::Failed(format!("unreachable: {why}"))
                }
                Err(err) => ProviderOutcome::Failed(err.to_string()),
            }
        }
        (Err(err), _) => ProviderOutcome::Failed(err.to_string()),
        (_, Err(err)) => ProviderOutcome::Failed(err),
    };
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    let also_ended = if kind == Kind::Google && outcome == ProviderOutcome::Revoked {
        let reason = format!("Google access was revoked together with '{slug}'");
        connections::end_shared_grant(
            &mut tx,
            user,
            row.id,
            &row.provider,
            row.account.as_deref(),
            &reason,
            now,
        )
        .await?
    } else {
        Vec::new()
    };
    connections::delete(&mut tx, user, row.id).await?;
    let result = Disconnected {
        slug: slug.to_owned(),
        outcome,
        also_ended,
    };
    activity::record_about(
        &mut tx,
        actor,
        Some(user),
        "vault.disconnected",
        About {
            server: Some(slug),
            ..About::default()
        },
        format!("{slug}: {:?}", result.outcome),
        now,
    )
    .await?;
    tx.commit().await?;
    core.credentials.clear();
    Ok(result)
}

/// Deletes one of the actor's servers; a connected one has its upstream grant revoked first,
/// as *Revoke* would (the connection row would otherwise vanish with the server, leaving a
/// live grant at the provider). Returns the message for the user.
pub async fn delete_server(
    core: &Core,
    actor: &Actor,
    user: UserId,
    slug: &str,
) -> Result<String, ServiceError> {
    let revoked = match is_connected(core, user, slug).await? {
        true => format!(" {}", disconnect(core, actor, user, slug).await?.message()),
        false => String::new(),
    };
    servers::delete(core, actor, user, slug).await?;
    Ok(format!("Deleted server '{slug}'.{revoked}"))
}

/// Whether the user's server `slug` has a connection (false for no such server).
async fn is_connected(core: &Core, user: UserId, slug: &str) -> Result<bool, ServiceError> {
    match servers::get(core, user, slug).await {
        Ok(server) => Ok(connections::get(&core.pool, user, server.id)
            .await?
            .is_some()),
        Err(ServiceError::NotFound) => Ok(false),
        Err(err) => Err(err),
    }
}
