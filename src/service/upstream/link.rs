//! `gatehouse connect <user> <slug>`: a one-time link (10 minutes) that runs *Authenticate*
//! for that user once signed in, and the outcome the command waits for.

use url::Url;

use crate::clock::{self, UnixTime};
use crate::domain::{SecretHash, SecretToken, UserId};
use crate::service::{activity, activity::About, servers, Actor, ServiceError};
use crate::state::Core;
use crate::store::{self, upstream};

/// A link must be opened within this long.
pub const LINK_TTL: i64 = 600;

pub struct NewLink {
    pub id: i64,
    pub url: String,
    pub expires_at: UnixTime,
}

/// Where a link stands, for the waiting command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    Unused,
    /// Opened: the user is at the provider.
    InProgress,
    Done {
        connected: bool,
        message: String,
    },
    Expired,
    Gone,
}

/// Makes a link for one of `user`'s servers (the operator at the CLI, or the user).
pub async fn create(
    core: &Core,
    actor: &Actor,
    user: UserId,
    slug: &str,
) -> Result<NewLink, ServiceError> {
    if !actor.may_act_for(user) {
        return Err(ServiceError::Forbidden);
    }
    let server = servers::get(core, user, slug).await?;
    let token = SecretToken::generate("");
    let now = clock::now();
    let expires_at = now + LINK_TTL;
    let mut tx = store::begin_write(&core.pool).await?;
    let id =
        upstream::insert_link(&mut tx, token.hash().as_str(), user, server.id, expires_at).await?;
    activity::record_about(
        &mut tx,
        actor,
        Some(user),
        "vault.connect_link",
        About {
            server: Some(slug),
            ..About::default()
        },
        format!("{slug}: one-time Authenticate link, valid 10 min"),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(NewLink {
        id,
        url: core
            .public_url
            .join(&format!("/vault/connect/{}", token.expose())),
        expires_at,
    })
}

/// Whether `token` names a link that can still be used (shown before sign-in, so the
/// sign-in page can come back to it).
pub async fn usable(core: &Core, token: &str) -> Result<bool, ServiceError> {
    let now = clock::now();
    Ok(
        upstream::link_by_token(&core.pool, SecretHash::of(token).as_str())
            .await?
            .is_some_and(|l| l.used_at.is_none() && l.expires_at > now),
    )
}

/// Uses a link: for its own user only, once, before it expires. Returns the provider URL.
pub async fn open(
    core: &Core,
    actor: &Actor,
    session_binding: &str,
    token: &str,
) -> Result<Url, ServiceError> {
    let user = actor.own_account()?;
    let refused = || {
        ServiceError::Invalid(
            "this link is not for your account, was already used, or expired: run gatehouse connect again"
                .into(),
        )
    };
    let link = upstream::link_by_token(&core.pool, SecretHash::of(token).as_str())
        .await?
        .filter(|l| l.user_id == user)
        .ok_or_else(refused)?;
    let server = servers::get_by_id(core, user, link.server_id).await?;
    let mut tx = store::begin_write(&core.pool).await?;
    let first = upstream::use_link(&mut tx, link.id, clock::now()).await?;
    tx.commit().await?;
    if !first {
        return Err(refused());
    }
    match super::connect::start_for(core, user, &server, session_binding, Some(link.id)).await {
        Ok(url) => Ok(url),
        Err(err) => {
            finish(core, link.id, false, &err.to_string()).await?;
            Err(err)
        }
    }
}

/// Records how the flow a link started ended.
pub async fn finish(
    core: &Core,
    id: i64,
    connected: bool,
    message: &str,
) -> Result<(), ServiceError> {
    let mut tx = store::begin_write(&core.pool).await?;
    upstream::finish_link(&mut tx, id, connected, message).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn state(core: &Core, id: i64) -> Result<LinkState, ServiceError> {
    let now = clock::now();
    Ok(match upstream::link(&core.pool, id).await? {
        None => LinkState::Gone,
        Some(l) => match (l.succeeded, l.used_at) {
            (Some(ok), _) => LinkState::Done {
                connected: ok != 0,
                message: l.result.unwrap_or_default(),
            },
            // An opened link's flow has its own 10 minutes.
            (None, Some(used)) if used + LINK_TTL > now => LinkState::InProgress,
            (None, None) if l.expires_at > now => LinkState::Unused,
            _ => LinkState::Expired,
        },
    })
}
