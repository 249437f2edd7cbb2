//! Revocation (RFC 7009) and introspection (RFC 7662) for clients, and the user's own view
//! and revocation of grants (the AI clients page).

use serde::Serialize;

use super::tokens::{authenticate, PresentedClient, TokenError};
use super::{activity, activity::About, Actor, ServiceError};
use crate::clock;
use crate::domain::SecretHash;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::state::Core;
use crate::store::{self, clients, grants, servers, tokens};

/// RFC 7009 §2: unknown tokens and other clients' tokens answer 200 and change nothing (the
/// answer must not reveal whether a token exists). A refresh token takes its whole family —
/// its access tokens included (§2.1); an access token goes alone.
pub async fn revoke(
    core: &Core,
    presented: PresentedClient,
    token: &str,
    ip: Option<std::net::IpAddr>,
) -> Result<(), TokenError> {
    let client_id = authenticate(core, &presented).await?;
    let hash = SecretHash::of(token);
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    let (owner, is_refresh) = match tokens::refresh_owner(&mut *tx, &hash, now).await? {
        Some(owner) => (Some(owner), true),
        None => (tokens::access_owner(&mut *tx, &hash, now).await?, false),
    };
    let Some(owner) = owner.filter(|o| o.client_id == client_id) else {
        return Ok(());
    };
    if is_refresh {
        tokens::revoke_family(&mut *tx, owner.family_id, now).await?;
    } else {
        tokens::delete_access(&mut *tx, &hash).await?;
    }
    let actor = Actor {
        user: Some(owner.user_id),
        name: format!("client {client_id}"),
        is_admin: false,
        ip,
    };
    let what = if is_refresh {
        "refresh token and its family"
    } else {
        "access token"
    };
    activity::record_about(
        &mut tx,
        &actor,
        Some(owner.user_id),
        "token.revoked",
        About {
            client: Some(client_id.as_str()),
            ..About::default()
        },
        format!("client {client_id} revoked its {what}"),
        now,
    )
    .await?;
    tx.commit().await?;
    core.bearer_cache.clear();
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

impl Introspection {
    fn inactive() -> Self {
        Self {
            active: false,
            client_id: None,
            scope: None,
            token_type: None,
            exp: None,
            iat: None,
            sub: None,
            aud: None,
            iss: None,
        }
    }
}

/// RFC 7662: only confidential clients may ask, and only about their own tokens; anything
/// else reads `active: false`.
pub async fn introspect(
    core: &Core,
    presented: PresentedClient,
    token: &str,
) -> Result<Introspection, TokenError> {
    let client_id = authenticate(core, &presented).await?;
    let client = clients::get(&core.pool, &client_id).await?.ok_or_else(|| {
        TokenError::OAuth(OAuthError::new(ErrorCode::InvalidClient, "unknown client"))
    })?;
    if client.secret_hash.is_none() {
        return Err(TokenError::OAuth(OAuthError::new(
            ErrorCode::InvalidClient,
            "introspection needs a confidential client",
        )));
    }
    let hash = SecretHash::of(token);
    let now = clock::now();
    let (owner, token_type) = match tokens::access_owner(&core.pool, &hash, now).await? {
        Some(owner) => (Some(owner), "Bearer"),
        None => (
            tokens::refresh_owner(&core.pool, &hash, now).await?,
            "refresh_token",
        ),
    };
    let Some(owner) = owner.filter(|o| o.active && o.client_id == client_id) else {
        return Ok(Introspection::inactive());
    };
    let issuer = core.public_url.issuer();
    let aud = store::parse_list(&owner.resources)
        .iter()
        .map(|slug| format!("{issuer}/mcp/{slug}"))
        .collect();
    Ok(Introspection {
        active: true,
        client_id: Some(client_id),
        scope: Some(crate::domain::scope::MCP_SCOPE.into()),
        token_type: Some(token_type),
        exp: Some(owner.expires_at),
        iat: Some(owner.created_at),
        sub: Some(owner.user_id.to_string()),
        aud: Some(aud),
        iss: Some(issuer),
    })
}

/// The signed-in user's grants (AI clients page).
pub async fn list_grants(
    core: &Core,
    actor: &Actor,
) -> Result<Vec<grants::GrantRow>, ServiceError> {
    let user = actor.own_account()?;
    Ok(grants::list_for_user(&core.pool, user).await?)
}

/// Ends one of the user's grants at once: every token issued under it stops working. The
/// client itself (shared by other users, e.g. ChatGPT) is untouched.
pub async fn revoke_grant(core: &Core, actor: &Actor, grant_id: i64) -> Result<(), ServiceError> {
    let user = actor.own_account()?;
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    if !grants::revoke(&mut *tx, user, grant_id, now).await? {
        return Err(ServiceError::NotFound);
    }
    activity::record(
        &mut tx,
        actor,
        Some(user),
        "grant.revoked",
        format!("grant {grant_id}"),
        now,
    )
    .await?;
    tx.commit().await?;
    core.bearer_cache.clear();
    Ok(())
}

/// Changes which of the user's servers a grant covers (the *AI clients* page). Takes effect
/// at once: the bearer cache is cleared, and `/mcp` lists what the grant covers on each call.
pub async fn set_grant_servers(
    core: &Core,
    actor: &Actor,
    grant_id: i64,
    slugs: &[String],
) -> Result<(), ServiceError> {
    let user = actor.own_account()?;
    let mine = servers::list_for_user(&core.pool, user).await?;
    if slugs.is_empty()
        || slugs
            .iter()
            .any(|slug| !mine.iter().any(|s| &s.slug == slug))
    {
        return Err(ServiceError::Invalid(
            "choose at least one of your servers".into(),
        ));
    }
    let ids: Vec<i64> = mine
        .iter()
        .filter(|s| slugs.contains(&s.slug))
        .map(|s| s.id)
        .collect();
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    if !grants::set_servers(&mut tx, user, grant_id, &ids).await? {
        return Err(ServiceError::NotFound);
    }
    activity::record(
        &mut tx,
        actor,
        Some(user),
        "grant.changed",
        format!("grant {grant_id} → {}", slugs.join(", ")),
        now,
    )
    .await?;
    tx.commit().await?;
    core.bearer_cache.clear();
    Ok(())
}

/// What a cleanup deleted besides the token tables.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cleaned {
    pub sessions: u64,
    /// Activity events past `GATEHOUSE_ACTIVITY_RETENTION` or `_MAX_ROWS`.
    pub events: u64,
}

/// Deletes expired codes, requests, tokens, invites and sessions, and activity past its
/// retention (also run periodically).
pub async fn cleanup(core: &Core) -> Result<(tokens::Swept, Cleaned), ServiceError> {
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    let unused_client_ttl = core.config.unused_client_ttl.as_secs() as i64;
    let swept = tokens::sweep(&mut tx, now, unused_client_ttl).await?;
    let sessions = store::sessions::sweep(&mut tx, now).await?;
    tx.commit().await?;
    // The activity sweep in its own transaction: it can be large, and tokens need not wait.
    let retention = core.config.activity_retention.as_secs() as i64;
    let max_rows = i64::try_from(core.config.activity_max_rows).unwrap_or(i64::MAX);
    let mut tx = store::begin_write(&core.pool).await?;
    let events = store::audit::sweep(&mut tx, now - retention, max_rows).await?;
    tx.commit().await?;
    Ok((swept, Cleaned { sessions, events }))
}
