//! Token families, refresh tokens and access tokens.

use super::{slug_array, Batch, Executor, Writing};
use sqlx::AnyPool;
use sqlx::FromRow;

use super::json_list as json;
use crate::clock::UnixTime;
use crate::domain::{SecretHash, UserId};

pub async fn insert_family(
    db: impl Executor<'_>,
    grant_id: i64,
    code: &SecretHash,
    resources: &[String],
    now: UnixTime,
    absolute_expires_at: UnixTime,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO token_families (grant_id, code_hash, resources, created_at, absolute_expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(grant_id)
        .bind(code.as_str())
        .bind(json(resources))
        .bind(now)
        .bind(absolute_expires_at)
        .fetch_one(db)
        .await
}

/// A new pair of tokens in a family: the refresh token (the child of `parent` when it
/// replaces one) and the access token issued with it.
pub struct NewPair<'a> {
    pub access: &'a SecretHash,
    pub refresh: &'a SecretHash,
    pub family_id: i64,
    pub parent: Option<&'a SecretHash>,
    pub resources: &'a [String],
    pub now: UnixTime,
    pub access_expires_at: UnixTime,
    pub refresh_expires_at: UnixTime,
}

/// Adds the pair's two rows to `batch`.
pub(crate) fn insert_pair<'q>(batch: &mut Batch<'q>, pair: &NewPair<'q>) {
    batch
        .statement("INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(pair.refresh.as_str())
        .bind(pair.family_id)
        .bind(pair.parent.map(SecretHash::as_str))
        .bind(pair.now)
        .bind(pair.refresh_expires_at);
    batch
        .statement("INSERT INTO access_tokens (token_hash, refresh_hash, family_id, resources, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(pair.access.as_str())
        .bind(pair.refresh.as_str())
        .bind(pair.family_id)
        .bind(json(pair.resources))
        .bind(pair.now)
        .bind(pair.access_expires_at);
}

#[derive(Debug, Clone, FromRow)]
pub struct RefreshRow {
    pub family_id: i64,
    pub grant_id: i64,
    pub user_id: UserId,
    pub client_id: String,
    pub scope: String,
    pub resources: String,
    pub used_at: Option<UnixTime>,
    #[sqlx(try_from = "super::Flag")]
    pub successor_used: bool,
    pub expires_at: UnixTime,
    pub absolute_expires_at: UnixTime,
    #[sqlx(try_from = "super::Flag")]
    pub revoked: bool,
    /// A grace-window retry replaced this token before it was used.
    #[sqlx(try_from = "super::Flag")]
    pub superseded: bool,
    /// The slugs the grant still allows, as a JSON array (read with the token: one statement).
    pub granted: String,
    /// When the grant was last used (refreshes touch it at most once a minute).
    pub grant_used_at: Option<UnixTime>,
}

/// A refresh token with its family, its grant and the grant's servers, in one statement.
const REFRESH_ROW: &str = concat!("SELECT r.family_id, f.grant_id, g.user_id, g.client_id, g.scope, f.resources, r.used_at,
                EXISTS (SELECT 1 FROM refresh_tokens c WHERE c.parent_hash = r.token_hash AND c.used_at IS NOT NULL) AS successor_used,
                r.expires_at, f.absolute_expires_at,
                (f.revoked_at IS NOT NULL OR g.revoked_at IS NOT NULL) AS revoked,
                r.superseded_at IS NOT NULL AS superseded,
                (SELECT ", slug_array!(), " FROM grant_servers gs JOIN mcp_servers s ON s.id = gs.server_id
                  WHERE gs.grant_id = g.id) AS granted,
                g.last_used_at AS grant_used_at
         FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id JOIN grants g ON g.id = f.grant_id
         WHERE r.token_hash = $1");

/// Takes the write lock and reads the refresh token's row (`REFRESH_ROW`) in the same call:
/// the rotation decides on it and writes under the same lock.
pub(crate) async fn begin_refresh(
    pool: &AnyPool,
    token: &SecretHash,
) -> Result<(Writing, Option<RefreshRow>), sqlx::Error> {
    Writing::begin_reading(pool, REFRESH_ROW, token.as_str()).await
}

/// Marks a refresh token used (first use only; later uses keep the first time).
pub(crate) fn mark_refresh_used<'q>(batch: &mut Batch<'q>, token: &'q SecretHash, now: UnixTime) {
    batch
        .statement(
            "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(token.as_str());
}

/// Supersedes the pairs issued from `parent` that were never used (a retry inside the grace
/// window replaces them): their refresh and access tokens stop working.
pub async fn supersede_unused_children(
    conn: &mut sqlx::AnyConnection,
    parent: &SecretHash,
    now: UnixTime,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE access_tokens SET superseded_at = $1 WHERE superseded_at IS NULL AND refresh_hash IN
           (SELECT token_hash FROM refresh_tokens WHERE parent_hash = $2 AND used_at IS NULL AND superseded_at IS NULL)",
    )
    .bind(now)
    .bind(parent.as_str())
    .execute(&mut *conn)
    .await?;
    let done = sqlx::query(
        "UPDATE refresh_tokens SET superseded_at = $1 WHERE parent_hash = $2 AND used_at IS NULL AND superseded_at IS NULL",
    )
    .bind(now)
    .bind(parent.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

pub async fn revoke_family(
    db: impl Executor<'_>,
    family_id: i64,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE token_families SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(family_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Revokes every family started by this code (a replayed code, RFC 6749 §4.1.2).
pub async fn revoke_families_of_code(
    db: impl Executor<'_>,
    code: &SecretHash,
    now: UnixTime,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE token_families SET revoked_at = $1 WHERE code_hash = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(code.as_str())
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

#[derive(Debug, Clone, FromRow)]
pub struct AccessRow {
    pub user_id: UserId,
    pub grant_id: i64,
    pub client_id: String,
    pub resources: String,
    pub expires_at: UnixTime,
    #[sqlx(try_from = "super::Flag")]
    pub revoked: bool,
    /// The slugs of the user's servers the grant still covers (a JSON array in slug order, so
    /// list cursors keep their place; deleted servers drop out).
    pub granted: String,
}

/// One indexed lookup answers everything bearer validation needs.
pub async fn get_access(
    db: impl Executor<'_>,
    token: &SecretHash,
) -> Result<Option<AccessRow>, sqlx::Error> {
    sqlx::query_as(
        concat!("SELECT g.user_id, g.id AS grant_id, g.client_id, a.resources, a.expires_at,
                (f.revoked_at IS NOT NULL OR g.revoked_at IS NOT NULL OR a.superseded_at IS NOT NULL
                 OR EXISTS (SELECT 1 FROM oauth_clients c WHERE c.client_id = g.client_id AND c.disabled = 1)
                 OR EXISTS (SELECT 1 FROM users u WHERE u.id = g.user_id AND u.disabled_at IS NOT NULL)) AS revoked,
                (SELECT ", slug_array!(), " FROM grant_servers gs JOIN mcp_servers s ON s.id = gs.server_id
                 WHERE gs.grant_id = g.id) AS granted
         FROM access_tokens a JOIN token_families f ON f.id = a.family_id JOIN grants g ON g.id = f.grant_id
         WHERE a.token_hash = $1"),
    )
    .bind(token.as_str())
    .fetch_optional(db)
    .await
}

/// The family and client of a refresh or access token (for revocation and introspection).
#[derive(Debug, Clone, FromRow)]
pub struct TokenOwner {
    pub family_id: i64,
    pub client_id: String,
    pub user_id: UserId,
    pub resources: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    #[sqlx(try_from = "super::Flag")]
    pub active: bool,
}

pub async fn refresh_owner(
    db: impl Executor<'_>,
    token: &SecretHash,
    now: UnixTime,
) -> Result<Option<TokenOwner>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.family_id, g.client_id, g.user_id, f.resources, r.created_at, CASE WHEN r.expires_at < f.absolute_expires_at THEN r.expires_at ELSE f.absolute_expires_at END AS expires_at,
                (f.revoked_at IS NULL AND g.revoked_at IS NULL AND r.superseded_at IS NULL
                 AND r.expires_at > $2 AND f.absolute_expires_at > $2
                 AND NOT EXISTS (SELECT 1 FROM refresh_tokens c WHERE c.parent_hash = r.token_hash AND c.used_at IS NOT NULL)) AS active
         FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id JOIN grants g ON g.id = f.grant_id
         WHERE r.token_hash = $1",
    )
    .bind(token.as_str())
    .bind(now)
    .fetch_optional(db)
    .await
}

pub async fn access_owner(
    db: impl Executor<'_>,
    token: &SecretHash,
    now: UnixTime,
) -> Result<Option<TokenOwner>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.family_id, g.client_id, g.user_id, a.resources, a.created_at, a.expires_at,
                (f.revoked_at IS NULL AND g.revoked_at IS NULL AND a.superseded_at IS NULL
                 AND a.expires_at > $2) AS active
         FROM access_tokens a JOIN token_families f ON f.id = a.family_id JOIN grants g ON g.id = f.grant_id
         WHERE a.token_hash = $1",
    )
    .bind(token.as_str())
    .bind(now)
    .fetch_optional(db)
    .await
}

/// Ends one access token (revoking an access token alone leaves its family alive).
pub async fn delete_access(db: impl Executor<'_>, token: &SecretHash) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM access_tokens WHERE token_hash = $1")
        .bind(token.as_str())
        .execute(db)
        .await?;
    Ok(())
}

/// Rows removed by a sweep, by kind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    pub requests: u64,
    pub codes: u64,
    pub access_tokens: u64,
    pub refresh_tokens: u64,
    pub families: u64,
    pub invites: u64,
    pub vault_states: u64,
    pub connect_links: u64,
    pub gateway_sessions: u64,
    /// Registered or metadata-document clients that never got a grant.
    pub unused_clients: u64,
}

/// Deletes what can never be used again. Codes are kept a day past expiry so a late replay is
/// still recognised; revoked families go once none of their refresh tokens could be presented;
/// clients that never got a grant go once they are older than `unused_client_ttl` seconds
/// (anyone can create them: registration, a new metadata-document URL).
pub async fn sweep(
    conn: &mut sqlx::AnyConnection,
    now: UnixTime,
    unused_client_ttl: i64,
) -> Result<Swept, sqlx::Error> {
    let mut run = async |sql: &str| -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(sql)
            .bind(now)
            .execute(&mut *conn)
            .await?
            .rows_affected())
    };
    Ok(Swept {
        requests: run("DELETE FROM authorization_requests WHERE expires_at <= $1").await?,
        codes: run("DELETE FROM authorization_codes WHERE expires_at <= $1 - 86400").await?,
        access_tokens: run("DELETE FROM access_tokens WHERE expires_at <= $1").await?,
        refresh_tokens: run("DELETE FROM refresh_tokens WHERE expires_at <= $1").await?,
        families: run("DELETE FROM token_families WHERE absolute_expires_at <= $1 OR (revoked_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = token_families.id) AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.family_id = token_families.id))").await?,
        invites: run("DELETE FROM invites WHERE expires_at <= $1").await?,
        vault_states: run("DELETE FROM oauth_states WHERE expires_at <= $1").await?,
        // Kept a day, so a waiting `gatehouse connect` still reads the outcome.
        connect_links: run("DELETE FROM connect_links WHERE expires_at <= $1 - 86400").await?,
        // Clients re-initialize when a session id is no longer recognised (404).
        gateway_sessions: run("DELETE FROM gateway_sessions WHERE created_at <= $1 - 7 * 86400").await?,
        unused_clients: sqlx::query(
            "DELETE FROM oauth_clients WHERE created_at <= $1 - $2
               AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = oauth_clients.client_id)",
        )
        .bind(now)
        .bind(unused_client_ttl)
        .execute(&mut *conn)
        .await?
        .rows_affected(),
    })
}
