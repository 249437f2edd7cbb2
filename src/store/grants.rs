//! Authorization requests, grants (with their servers) and authorization codes.

use super::{Batch, Executor};
use sqlx::{AnyConnection, FromRow};

use super::json_list as json;
use crate::clock::UnixTime;
use crate::domain::{SecretHash, UserId};

#[derive(Debug, Clone, FromRow)]
pub struct RequestRow {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: String,
    pub scope: String,
    pub resources: String,
}

pub struct NewRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub state: Option<&'a str>,
    pub code_challenge: &'a str,
    pub scope: &'a str,
    pub resources: &'a [String],
}

pub async fn insert_request(
    db: impl Executor<'_>,
    handle: &SecretHash,
    r: &NewRequest<'_>,
    now: UnixTime,
    expires_at: UnixTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO authorization_requests (handle_hash, client_id, redirect_uri, state, code_challenge, scope, resources, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(handle.as_str())
    .bind(r.client_id)
    .bind(r.redirect_uri)
    .bind(r.state)
    .bind(r.code_challenge)
    .bind(r.scope)
    .bind(json(r.resources))
    .bind(now)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

const REQUEST_COLUMNS: &str = "client_id, redirect_uri, state, code_challenge, scope, resources";

/// A pending request that has not expired.
pub async fn get_request(
    db: impl Executor<'_>,
    handle: &SecretHash,
    now: UnixTime,
) -> Result<Option<RequestRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {REQUEST_COLUMNS} FROM authorization_requests WHERE handle_hash = $1 AND expires_at > $2"))
        .bind(handle.as_str())
        .bind(now)
        .fetch_optional(db)
        .await
}

/// Removes and returns a pending request: a consent decision uses it exactly once.
pub async fn take_request(
    db: impl Executor<'_>,
    handle: &SecretHash,
    now: UnixTime,
) -> Result<Option<RequestRow>, sqlx::Error> {
    sqlx::query_as(&format!("DELETE FROM authorization_requests WHERE handle_hash = $1 AND expires_at > $2 RETURNING {REQUEST_COLUMNS}"))
        .bind(handle.as_str())
        .bind(now)
        .fetch_optional(db)
        .await
}

pub async fn insert_grant(
    conn: &mut AnyConnection,
    user: UserId,
    client_id: &str,
    scope: &str,
    redirect_uri: &str,
    server_ids: &[i64],
    now: UnixTime,
) -> Result<i64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar("INSERT INTO grants (user_id, client_id, scope, redirect_uri, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(user)
        .bind(client_id)
        .bind(scope)
        .bind(redirect_uri)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
    add_servers(conn, id, server_ids).await?;
    Ok(id)
}

async fn add_servers(
    conn: &mut AnyConnection,
    grant_id: i64,
    server_ids: &[i64],
) -> Result<(), sqlx::Error> {
    for server in server_ids {
        sqlx::query("INSERT INTO grant_servers (grant_id, server_id) VALUES ($1, $2)")
            .bind(grant_id)
            .bind(server)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Replaces the servers of one of the user's active grants; false if there is no such grant.
pub async fn set_servers(
    conn: &mut AnyConnection,
    user: UserId,
    grant_id: i64,
    server_ids: &[i64],
) -> Result<bool, sqlx::Error> {
    let active: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM grants WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(grant_id)
    .bind(user)
    .fetch_optional(&mut *conn)
    .await?;
    if active.is_none() {
        return Ok(false);
    }
    sqlx::query("DELETE FROM grant_servers WHERE grant_id = $1")
        .bind(grant_id)
        .execute(&mut *conn)
        .await?;
    add_servers(conn, grant_id, server_ids).await?;
    Ok(true)
}

pub struct NewCode<'a> {
    pub grant_id: i64,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub code_challenge: &'a str,
    pub resources: &'a [String],
}

pub async fn insert_code(
    db: impl Executor<'_>,
    code: &SecretHash,
    c: &NewCode<'_>,
    expires_at: UnixTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO authorization_codes (code_hash, grant_id, client_id, redirect_uri, code_challenge, resources, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(code.as_str())
    .bind(c.grant_id)
    .bind(c.client_id)
    .bind(c.redirect_uri)
    .bind(c.code_challenge)
    .bind(json(c.resources))
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct CodeRow {
    pub grant_id: i64,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub resources: String,
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
    pub user_id: UserId,
    #[sqlx(try_from = "super::Flag")]
    pub grant_revoked: bool,
}

pub async fn get_code(
    db: impl Executor<'_>,
    code: &SecretHash,
) -> Result<Option<CodeRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.grant_id, c.client_id, c.redirect_uri, c.code_challenge, c.resources, c.expires_at, c.used_at,
                g.user_id, g.revoked_at IS NOT NULL AS grant_revoked
         FROM authorization_codes c JOIN grants g ON g.id = c.grant_id WHERE c.code_hash = $1",
    )
    .bind(code.as_str())
    .fetch_optional(db)
    .await
}

/// Marks a code used; false if another request used it first (the caller treats that as replay).
pub async fn mark_code_used(
    db: impl Executor<'_>,
    code: &SecretHash,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE authorization_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL",
    )
    .bind(now)
    .bind(code.as_str())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A user's active grants, newest first, with their client and servers.
#[derive(Debug, Clone, FromRow)]
pub struct GrantRow {
    pub id: i64,
    pub client_id: String,
    pub client_name: Option<String>,
    pub client_kind: String,
    pub redirect_uri: String,
    pub created_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
    pub servers: Option<String>,
}

pub async fn list_for_user(
    db: impl Executor<'_>,
    user: UserId,
) -> Result<Vec<GrantRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT g.id, g.client_id, c.client_name, c.kind AS client_kind, g.redirect_uri, g.created_at, g.last_used_at,
                (SELECT string_agg(s.slug, ', ' ORDER BY s.slug) FROM grant_servers gs JOIN mcp_servers s ON s.id = gs.server_id WHERE gs.grant_id = g.id) AS servers
         FROM grants g JOIN oauth_clients c ON c.client_id = g.client_id
         WHERE g.user_id = $1 AND g.revoked_at IS NULL ORDER BY g.created_at DESC, g.id DESC",
    )
    .bind(user)
    .fetch_all(db)
    .await
}

/// Revokes one of the user's grants; false if the user has no such active grant.
pub async fn revoke(
    db: impl Executor<'_>,
    user: UserId,
    grant_id: i64,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE grants SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(grant_id)
    .bind(user)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Adds "the grant was used at `now`" to `batch`.
pub(crate) fn touch(batch: &mut Batch<'_>, grant_id: i64, now: UnixTime) {
    batch
        .statement("UPDATE grants SET last_used_at = $1 WHERE id = $2")
        .bind(now)
        .bind(grant_id);
}
