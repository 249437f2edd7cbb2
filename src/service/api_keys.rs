//! API keys for clients without OAuth (DESIGN.md §2 journey 5, §5, §6): `gh_sk_` + 256 random
//! bits, shown once, stored as SHA-256 with a display prefix; accepted at `/mcp/{slug}` for
//! the owner's servers (or the ones the key is limited to), validated like access tokens.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{activity, Actor, ServiceError};
use crate::clock::{self, UnixTime};
use crate::domain::{Principal, SecretHash, SecretToken, ServerSlug, UserId, Via, AGGREGATE};
use crate::state::{Core, SharedCore};
use crate::store::{self, api_keys, servers};

pub use api_keys::KeyRow;

pub const PREFIX: &str = "gh_sk_";
/// `gh_sk_` and 43 base64url characters (32 bytes).
const KEY_LEN: usize = PREFIX.len() + 43;
/// Characters of a key shown in lists (enough to tell keys apart, far from guessable).
const SHOWN: usize = PREFIX.len() + 4;

/// A key as just created: the secret, to be shown once, and what it covers.
#[derive(Debug)]
pub struct Created {
    pub key: SecretToken,
    pub name: String,
    /// The slugs it covers; `None`: all the owner's servers.
    pub servers: Option<Vec<String>>,
    pub expires_at: Option<UnixTime>,
}

/// A key name: 1–64 printable characters, trimmed.
fn parse_name(name: &str) -> Result<String, ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ServiceError::Invalid(
            "a key needs a name of 1 to 64 printable characters".into(),
        ));
    }
    Ok(name.to_owned())
}

/// Creates a key for `user` (the actor itself, or any user for the CLI). `servers`: slugs
/// of the user's servers to limit it to (none: all of them); `lifetime`: when it expires.
pub async fn create(
    core: &Core,
    actor: &Actor,
    user: UserId,
    name: &str,
    lifetime: Option<Duration>,
    servers: &[String],
) -> Result<Created, ServiceError> {
    if !actor.may_act_for(user) {
        return Err(ServiceError::Forbidden);
    }
    let name = parse_name(name)?;
    let mut ids = Vec::with_capacity(servers.len());
    for slug in servers {
        let found = match ServerSlug::parse(slug) {
            Ok(slug) => servers::get_by_slug(&core.pool, user, slug.as_ref()).await?,
            Err(_) => None,
        };
        let row =
            found.ok_or_else(|| ServiceError::Invalid(format!("you have no server '{slug}'")))?;
        ids.push(row.id);
    }
    let key = SecretToken::generate(PREFIX);
    let now = clock::now();
    let expires_at = lifetime.map(|d| now + d.as_secs() as i64);
    let limited = (!servers.is_empty()).then_some(ids.as_slice());
    let mut tx = store::begin_write(&core.pool).await?;
    let new = api_keys::NewKey {
        user,
        name: &name,
        hash: &key.hash(),
        prefix: &key.expose()[..SHOWN],
        servers: limited,
        expires_at,
    };
    if let Err(err) = api_keys::insert(&mut tx, &new, now).await {
        return Err(match store::is_unique_violation(&err) {
            true => ServiceError::Conflict(format!("you already have a key named '{name}'")),
            false => err.into(),
        });
    }
    let scope = match servers {
        [] => "all servers".to_owned(),
        some => some.join(", "),
    };
    let detail = format!("{name} ({scope})");
    activity::record(&mut tx, actor, Some(user), "key.created", detail, now).await?;
    tx.commit().await?;
    Ok(Created {
        key,
        name,
        servers: (!servers.is_empty()).then(|| servers.to_vec()),
        expires_at,
    })
}

/// The user's live keys.
pub async fn list(core: &Core, actor: &Actor, user: UserId) -> Result<Vec<KeyRow>, ServiceError> {
    if !actor.may_act_for(user) {
        return Err(ServiceError::Forbidden);
    }
    Ok(api_keys::list_for_user(&core.pool, user).await?)
}

/// Revokes the user's key `name` (the CLI names keys).
pub async fn revoke_named(
    core: &Core,
    actor: &Actor,
    user: UserId,
    name: &str,
) -> Result<(), ServiceError> {
    if !actor.may_act_for(user) {
        return Err(ServiceError::Forbidden);
    }
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    if !api_keys::revoke_by_name(&mut *tx, user, name.trim(), now).await? {
        return Err(ServiceError::NotFound);
    }
    revoked(core, actor, user, name, tx, now).await
}

/// Revokes one of the actor's own keys (the page lists them by id).
pub async fn revoke(core: &Core, actor: &Actor, id: i64) -> Result<String, ServiceError> {
    let user = actor.own_account()?;
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    let name = api_keys::revoke_by_id(&mut *tx, user, id, now)
        .await?
        .ok_or(ServiceError::NotFound)?;
    revoked(core, actor, user, &name, tx, now).await?;
    Ok(name)
}

async fn revoked(
    core: &Core,
    actor: &Actor,
    user: UserId,
    name: &str,
    mut tx: sqlx::Transaction<'static, sqlx::Any>,
    now: UnixTime,
) -> Result<(), ServiceError> {
    activity::record(
        &mut tx,
        actor,
        Some(user),
        "key.revoked",
        name.to_owned(),
        now,
    )
    .await?;
    tx.commit().await?;
    // After the commit: a request in between would re-cache the key.
    core.bearer_cache.clear();
    Ok(())
}

fn display_binding(user: UserId) -> crate::vault::cipher::Binding<'static> {
    crate::vault::cipher::Binding {
        table: "sessions",
        column: "new_api_key",
        row_id: 0,
        user,
    }
}

/// Text holding a new key, sealed (AES-GCM, bound to its owner) so a plain form post can
/// show it on the page it redirects to: the session store never holds it in clear, and the
/// redirect carries no secret.
pub fn seal_for_display(core: &Core, user: UserId, text: &str) -> Result<String, ServiceError> {
    core.cipher
        .encrypt(text.as_bytes(), display_binding(user))
        .map_err(|e| ServiceError::Internal(e.to_string()))
}

/// The key sealed by [`seal_for_display`] for `user`, if it opens.
pub fn open_for_display(core: &Core, user: UserId, sealed: &str) -> Option<String> {
    core.cipher.decrypt_text(sealed, display_binding(user)).ok()
}

/// Whether `token` has the shape of an API key (the rest is refused without a lookup).
fn well_formed(token: &str) -> bool {
    token.len() == KEY_LEN
        && token.starts_with(PREFIX)
        && token[PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The principal an API key speaks for at `/mcp/{slug}` (or `/mcp`, `slug` = `AGGREGATE`): a hash lookup plus the ≤ 2 s cache
/// access tokens use (never argon2). `None` for a wrong, malformed, expired, revoked or
/// foreign key, or one of a disabled account.
pub async fn validate(
    core: &SharedCore,
    token: &str,
    slug: &str,
) -> Result<Option<Principal>, ServiceError> {
    if !well_formed(token) {
        return Ok(None);
    }
    let hash = SecretHash::of(token);
    let started = Instant::now();
    let key = (hash.as_str().to_owned(), slug.to_owned());
    if let Some(hit) = core.bearer_cache.get(&key, started) {
        record_use(core, &hit);
        return Ok(Some(hit));
    }
    let Some(row) = api_keys::check(&core.pool, &hash).await? else {
        return Ok(None);
    };
    let now = clock::now();
    let servers: Arc<[String]> = store::parse_list(&row.covered).into();
    let covers = slug == AGGREGATE || servers.iter().any(|s| s == slug);
    if row.stopped || !covers || row.expires_at.is_some_and(|at| now >= at) {
        return Ok(None);
    }
    let principal = Principal {
        user: row.user_id,
        client_id: format!("API key '{}'", row.name),
        via: Via::Key(row.id),
        servers,
    };
    core.bearer_cache.put(key, principal.clone(), started);
    record_use(core, &principal);
    Ok(Some(principal))
}

/// Records a key's use at most once a minute, in the background: the call never waits for
/// the write. The first use is an activity event.
fn record_use(core: &SharedCore, principal: &Principal) {
    let Via::Key(id) = principal.via else {
        return;
    };
    if !core.key_uses.due(id, Instant::now()) {
        return;
    }
    let (core, user) = (Arc::clone(core), principal.user);
    let name = principal.client_id.clone();
    tokio::spawn(async move {
        let now = clock::now();
        let written = async {
            if api_keys::touch(&core.pool, id, now).await? {
                let actor = Actor {
                    user: Some(user),
                    name: name.clone(),
                    is_admin: false,
                    ip: None,
                };
                activity::record_alone(&core, &actor, Some(user), "key.first_used", name).await?;
            }
            Ok::<(), ServiceError>(())
        };
        if let Err(err) = written.await {
            tracing::warn!(%err, key = id, "recording an API key's use failed");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_gatehouse_keys_are_looked_up() {
        let key = SecretToken::generate(PREFIX);
        assert!(well_formed(key.expose()));
        assert!(!well_formed(&key.expose()[..KEY_LEN - 1]), "truncated");
        assert!(!well_formed(&format!("{}x", key.expose())), "too long");
        assert!(!well_formed(&key.expose().replacen("gh_sk_", "gh_at_", 1)));
        assert!(!well_formed(&format!("gh_sk_{}", "!".repeat(43))));
    }

    #[test]
    fn names_are_printable_and_short() {
        assert_eq!(parse_name("  laptop ").unwrap(), "laptop");
        assert!(parse_name("").is_err());
        assert!(parse_name(&"x".repeat(65)).is_err());
        assert!(parse_name("a\nb").is_err());
    }
}
