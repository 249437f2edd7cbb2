//! The `api_keys` and `api_key_servers` tables. Keys are looked up by hash; every other
//! query takes the owner's `UserId`.

use super::{slug_array, Executor};
use sqlx::{AnyConnection, FromRow};

use crate::domain::{SecretHash, UnixTime, UserId};

pub struct NewKey<'a> {
    pub user: UserId,
    pub name: &'a str,
    pub hash: &'a SecretHash,
    pub prefix: &'a str,
    /// The servers a limited key covers (their ids); `None`: all the owner's servers.
    pub servers: Option<&'a [i64]>,
    pub expires_at: Option<UnixTime>,
}

pub async fn insert(
    conn: &mut AnyConnection,
    key: &NewKey<'_>,
    now: UnixTime,
) -> Result<i64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_keys (user_id, name, key_hash, prefix, limited, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(key.user)
    .bind(key.name)
    .bind(key.hash.as_str())
    .bind(key.prefix)
    .bind(i64::from(key.servers.is_some()))
    .bind(now)
    .bind(key.expires_at)
    .fetch_one(&mut *conn)
    .await?;
    for server in key.servers.unwrap_or_default() {
        sqlx::query("INSERT INTO api_key_servers (key_id, server_id) VALUES ($1, $2)")
            .bind(id)
            .bind(server)
            .execute(&mut *conn)
            .await?;
    }
    Ok(id)
}

/// What validating a key at `/mcp/{slug}` or `/mcp` needs, in one indexed lookup.
#[derive(Debug, Clone, FromRow)]
pub struct KeyCheck {
    pub id: i64,
    pub user_id: UserId,
    pub name: String,
    pub expires_at: Option<UnixTime>,
    /// Revoked, or its owner disabled.
    #[sqlx(try_from = "super::Flag")]
    pub stopped: bool,
    /// The slugs of the owner's servers the key covers (a JSON array).
    pub covered: String,
}

pub async fn check(
    db: impl Executor<'_>,
    hash: &SecretHash,
) -> Result<Option<KeyCheck>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT k.id, k.user_id, k.name, k.expires_at,
                (k.revoked_at IS NOT NULL OR u.disabled_at IS NOT NULL) AS stopped,
                (SELECT ",
        slug_array!(),
        " FROM mcp_servers s WHERE s.user_id = k.user_id
                 AND (k.limited = 0 OR EXISTS (SELECT 1 FROM api_key_servers ks
                      WHERE ks.key_id = k.id AND ks.server_id = s.id))) AS covered
         FROM api_keys k JOIN users u ON u.id = k.user_id
         WHERE k.key_hash = $1"
    ))
    .bind(hash.as_str())
    .fetch_optional(db)
    .await
}

/// Records a use; true when this was the key's first.
pub async fn touch(
    db: impl Executor<'_> + Copy,
    id: i64,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let first =
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND last_used_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(db)
            .await?
            .rows_affected()
            == 1;
    if !first {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(db)
            .await?;
    }
    Ok(first)
}

#[derive(Debug, Clone, FromRow)]
pub struct KeyRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: UnixTime,
    pub expires_at: Option<UnixTime>,
    pub last_used_at: Option<UnixTime>,
    /// The slugs of a limited key's servers, comma-separated; `None` for "all servers".
    pub servers: Option<String>,
}

/// A user's live keys (revoked ones are gone from the list), newest first.
pub async fn list_for_user(
    db: impl Executor<'_>,
    user: UserId,
) -> Result<Vec<KeyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT k.id, k.name, k.prefix, k.created_at, k.expires_at, k.last_used_at,
                CASE WHEN k.limited = 1 THEN
                  COALESCE((SELECT string_agg(s.slug, ', ' ORDER BY s.slug) FROM api_key_servers ks
                            JOIN mcp_servers s ON s.id = ks.server_id WHERE ks.key_id = k.id), '')
                END AS servers
         FROM api_keys k WHERE k.user_id = $1 AND k.revoked_at IS NULL
         ORDER BY k.created_at DESC, k.id DESC",
    )
    .bind(user)
    .fetch_all(db)
    .await
}

/// Revokes the user's live key `name`; false when there is none.
pub async fn revoke_by_name(
    db: impl Executor<'_>,
    user: UserId,
    name: &str,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE user_id = $2 AND name = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user)
    .bind(name)
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// Revokes the user's live key `id`; false when there is none.
pub async fn revoke_by_id(
    db: impl Executor<'_>,
    user: UserId,
    id: i64,
    now: UnixTime,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE api_keys SET revoked_at = $1 WHERE user_id = $2 AND id = $3 AND revoked_at IS NULL
         RETURNING name",
    )
    .bind(now)
    .bind(user)
    .bind(id)
    .fetch_optional(db)
    .await
}
