//! The servers registry: a user's upstream MCP servers, by slug.

use super::{activity, activity::About, Actor, ServiceError};
use crate::clock;
use secrecy::{ExposeSecret, SecretString};

use crate::domain::{ServerSlug, UpstreamUrl, UserId};
use crate::state::Core;
use crate::store::{self, servers};
use crate::vault::cipher::Binding;
use crate::vault::provider::{resolve, Choice, Resolved};

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

/// A server as callers see it: the URL decrypted (`None` if it cannot be, e.g. a missing
/// key), whether a static credential is stored — never the credential itself.
#[derive(Debug, Clone)]
pub struct ServerEntry {
    pub id: i64,
    pub user_id: UserId,
    pub slug: String,
    pub name: String,
    pub url: Option<UpstreamUrl>,
    pub has_static_credential: bool,
    /// The user's provider choice key (`vault::provider::Choice`); `None` = detect.
    pub provider_choice: Option<String>,
    pub created_at: clock::UnixTime,
}

impl ServerEntry {
    /// The server's provider: its stored choice, else detection from its URL. `None` when
    /// the URL cannot be decrypted.
    pub fn provider(&self, config: &crate::config::Config) -> Option<Resolved> {
        let choice =
            Choice::parse(self.provider_choice.as_deref(), config).unwrap_or(Choice::Detect);
        self.url.as_ref().map(|url| resolve(config, url, &choice))
    }
}

fn binding(column: &'static str, id: i64, user: UserId) -> Binding<'static> {
    Binding {
        table: "mcp_servers",
        column,
        row_id: id,
        user,
    }
}

fn entry(core: &Core, row: ServerRow) -> ServerEntry {
    let url = core
        .cipher
        .decrypt_text(&row.url, binding("url", row.id, row.user_id))
        .ok()
        .and_then(|text| UpstreamUrl::parse(&text).ok());
    if url.is_none() {
        tracing::warn!(server = row.id, "stored upstream URL cannot be decrypted");
    }
    ServerEntry {
        id: row.id,
        user_id: row.user_id,
        slug: row.slug,
        name: row.name,
        url,
        has_static_credential: row.static_credential.is_some(),
        provider_choice: row.provider,
        created_at: row.created_at,
    }
}

/// One of `user`'s servers by slug; another user's slug is "not found".
pub async fn get(core: &Core, user: UserId, slug: &str) -> Result<ServerEntry, ServiceError> {
    let row = servers::get_by_slug(&core.pool, user, slug)
        .await?
        .ok_or(ServiceError::NotFound)?;
    Ok(entry(core, row))
}

/// One of `user`'s servers by row id; another user's id is "not found".
pub async fn get_by_id(core: &Core, user: UserId, id: i64) -> Result<ServerEntry, ServiceError> {
    let row = servers::get_by_id(&core.pool, user, id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    Ok(entry(core, row))
}

/// The decrypted static credential of a server, if one is stored.
pub async fn static_credential(
    core: &Core,
    user: UserId,
    slug: &str,
) -> Result<Option<SecretString>, ServiceError> {
    let row = servers::get_by_slug(&core.pool, user, slug)
        .await?
        .ok_or(ServiceError::NotFound)?;
    row.static_credential
        .map(|sealed| {
            core.cipher
                .decrypt_text(&sealed, binding("static_credential", row.id, row.user_id))
                .ok()
                .map(SecretString::from)
                .ok_or_else(|| {
                    ServiceError::Internal("static credential cannot be decrypted".into())
                })
        })
        .transpose()
}

/// Sets which provider a server authenticates with (overriding detection).
pub async fn set_provider(
    core: &Core,
    actor: &Actor,
    slug: &str,
    choice_key: &str,
) -> Result<String, ServiceError> {
    let user = actor.own_account()?;
    let choice = Choice::parse(Some(choice_key), &core.config)
        .ok_or_else(|| ServiceError::Invalid("unknown provider".into()))?;
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    if !servers::set_provider(&mut tx, user, slug, choice.key().as_deref()).await? {
        return Err(ServiceError::NotFound);
    }
    let shown = choice.key().unwrap_or_else(|| "detect".into());
    activity::record_about(
        &mut tx,
        actor,
        Some(user),
        "server.provider_set",
        About {
            server: Some(slug),
            ..About::default()
        },
        format!("{slug}: {shown}"),
        now,
    )
    .await?;
    tx.commit().await?;
    core.servers_changed.bump();
    Ok(shown)
}

pub async fn list(core: &Core, actor: &Actor) -> Result<Vec<ServerEntry>, ServiceError> {
    list_of(core, actor.own_account()?).await
}

/// `user`'s servers (the caller has established who may see them).
pub async fn list_of(core: &Core, user: UserId) -> Result<Vec<ServerEntry>, ServiceError> {
    let rows = servers::list_for_user(&core.pool, user).await?;
    Ok(rows.into_iter().map(|row| entry(core, row)).collect())
}

/// How many servers all users have registered (administrators).
pub async fn count_all(core: &Core, actor: &Actor) -> Result<usize, ServiceError> {
    Ok(list_all(core, actor).await?.len())
}

/// Every user's servers with their owners' names (operators only).
pub async fn list_all(
    core: &Core,
    actor: &Actor,
) -> Result<Vec<(String, ServerEntry)>, ServiceError> {
    if !actor.is_admin {
        return Err(ServiceError::Forbidden);
    }
    let rows = servers::list_all(&core.pool).await?;
    Ok(rows
        .into_iter()
        .map(|(owner, row)| (owner, entry(core, row)))
        .collect())
}

fn encrypt(core: &Core, plaintext: &str, b: Binding<'_>) -> Result<String, ServiceError> {
    core.cipher
        .encrypt(plaintext.as_bytes(), b)
        .map_err(|e| ServiceError::Internal(e.to_string()))
}

/// Adds a server for `user` (the actor itself, or any user when the actor is the CLI), with
/// an optional static credential. URL and credential are stored encrypted.
pub async fn add(
    core: &Core,
    actor: &Actor,
    user: UserId,
    new: NewServer,
    credential: Option<SecretString>,
) -> Result<ServerEntry, ServiceError> {
    if !actor.may_act_for(user) {
        return Err(ServiceError::Forbidden);
    }
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    let id = match servers::insert(&mut tx, user, &new.slug, &new.name, now).await {
        Ok(id) => id,
        Err(e) if store::is_unique_violation(&e) => {
            return Err(ServiceError::Conflict(format!(
                "you already have a server with the slug '{}'",
                new.slug
            )))
        }
        Err(e) => return Err(e.into()),
    };
    servers::set_url(
        &mut tx,
        id,
        &encrypt(core, new.url.as_str(), binding("url", id, user))?,
    )
    .await?;
    if let Some(secret) = &credential {
        let sealed = encrypt(
            core,
            secret.expose_secret(),
            binding("static_credential", id, user),
        )?;
        servers::set_static_credential(&mut tx, id, Some(&sealed)).await?;
    }
    let detail = format!(
        "{} → {}{}",
        new.slug,
        new.url.redacted(),
        if credential.is_some() {
            " (static credential)"
        } else {
            ""
        }
    );
    let about = About {
        server: Some(new.slug.as_str()),
        ..About::default()
    };
    activity::record_about(
        &mut tx,
        actor,
        Some(user),
        "server.added",
        about,
        detail,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ServerEntry {
        id,
        user_id: user,
        slug: new.slug.to_string(),
        name: new.name,
        url: Some(new.url),
        has_static_credential: credential.is_some(),
        provider_choice: None,
        created_at: now,
    })
}

/// Encrypts URLs stored in plain text before the vault existed (run at start-up).
pub async fn encrypt_plaintext_urls(core: &Core) -> Result<usize, ServiceError> {
    let rows = servers::plaintext_urls(&core.pool).await?;
    for (id, user, url) in &rows {
        let sealed = encrypt(core, url, binding("url", *id, *user))?;
        let mut tx = store::begin_write(&core.pool).await?;
        // Only if nobody changed it meanwhile (another instance starting, an edit).
        servers::replace_url(&mut tx, *id, url, &sealed).await?;
        tx.commit().await?;
    }
    Ok(rows.len())
}

/// Deletes one of `user`'s servers (the actor's own, or any user's from the CLI). Another
/// user's slug is simply "not found".
pub async fn delete(
    core: &Core,
    actor: &Actor,
    user: UserId,
    slug: &str,
) -> Result<(), ServiceError> {
    if !actor.may_act_for(user) {
        return Err(ServiceError::Forbidden);
    }
    let slug = ServerSlug::parse(slug).map_err(|_| ServiceError::NotFound)?;
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    if !servers::delete(&mut tx, user, &slug).await? {
        return Err(ServiceError::NotFound);
    }
    activity::record_about(
        &mut tx,
        actor,
        Some(user),
        "server.deleted",
        About {
            server: Some(slug.as_str()),
            ..About::default()
        },
        slug.to_string(),
        now,
    )
    .await?;
    tx.commit().await?;
    // Grants lose the server with it (ON DELETE CASCADE); cached validations must too.
    core.bearer_cache.clear();
    core.servers_changed.bump();
    Ok(())
}
