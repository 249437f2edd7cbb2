//! The servers registry: a user's upstream MCP servers, by slug.

use super::{activity, Actor, ServiceError};
use crate::clock;
use crate::domain::{ServerSlug, UpstreamUrl, UserId};
use crate::state::Core;
use crate::store::{self, servers};

pub use servers::ServerRow;

/// Form input for a new server, already parsed.
#[derive(Debug)]
pub struct NewServer {
    pub slug: ServerSlug,
    pub name: String,
    pub url: UpstreamUrl,
}

impl NewServer {
    /// Parses raw form fields; the name defaults to the slug.
    pub fn parse(slug: &str, name: &str, url: &str) -> Result<Self, ServiceError> {
        let slug = ServerSlug::parse(slug.trim())
            .map_err(|e| ServiceError::Invalid(format!("Slug: {e}")))?;
        let url =
            UpstreamUrl::parse(url).map_err(|e| ServiceError::Invalid(format!("URL: {e}")))?;
        let name = name.trim();
        if name.chars().count() > 80 || name.chars().any(char::is_control) {
            return Err(ServiceError::Invalid(
                "Name: at most 80 printable characters".into(),
            ));
        }
        let name = if name.is_empty() {
            slug.to_string()
        } else {
            name.to_owned()
        };
        Ok(Self { slug, name, url })
    }
}

fn owner(actor: &Actor) -> Result<UserId, ServiceError> {
    actor.user.ok_or(ServiceError::Forbidden)
}

pub async fn list(core: &Core, actor: &Actor) -> Result<Vec<ServerRow>, ServiceError> {
    Ok(servers::list_for_user(&core.pool, owner(actor)?).await?)
}

/// Adds a server for `user` (the actor itself, or any user when the actor is the CLI).
pub async fn add(
    core: &Core,
    actor: &Actor,
    user: UserId,
    new: NewServer,
) -> Result<ServerRow, ServiceError> {
    if actor.user != Some(user) && !(actor.is_admin && actor.user.is_none()) {
        return Err(ServiceError::Forbidden);
    }
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    let id = match servers::insert(&mut tx, user, &new.slug, &new.name, &new.url, now).await {
        Ok(id) => id,
        Err(e) if store::is_unique_violation(&e) => {
            return Err(ServiceError::Conflict(format!(
                "you already have a server with the slug '{}'",
                new.slug
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let detail = format!("{} → {}", new.slug, new.url.redacted());
    activity::record(&mut tx, actor, Some(user), "server.added", detail, now).await?;
    tx.commit().await?;
    Ok(ServerRow {
        id,
        user_id: user,
        slug: new.slug.to_string(),
        name: new.name,
        url: new.url.as_str().to_owned(),
        created_at: now,
    })
}

/// Deletes one of the actor's own servers. Another user's slug is simply "not found".
pub async fn delete(core: &Core, actor: &Actor, slug: &str) -> Result<(), ServiceError> {
    let user = owner(actor)?;
    let slug = ServerSlug::parse(slug).map_err(|_| ServiceError::NotFound)?;
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    if !servers::delete(&mut tx, user, &slug).await? {
        return Err(ServiceError::NotFound);
    }
    activity::record(
        &mut tx,
        actor,
        Some(user),
        "server.deleted",
        slug.to_string(),
        now,
    )
    .await?;
    tx.commit().await?;
    // Grants lose the server with it (ON DELETE CASCADE); cached validations must too.
    core.bearer_cache.clear();
    Ok(())
}
