//! The `connections` table: one upstream connection per server (id = the server's id), with
//! its tokens as ciphertexts, and `oauth_states`, the pending *Authenticate* flows.

use super::Executor;
use sqlx::{AnyConnection, FromRow};

use crate::clock::UnixTime;
use crate::domain::UserId;

pub const NEEDS_REAUTH: &str = "needs_reauth";

#[derive(Debug, Clone, FromRow)]
pub struct ConnectionRow {
    pub id: i64,
    pub user_id: UserId,
    pub provider: String,
    pub account: Option<String>,
    pub scopes: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<UnixTime>,
    pub status: String,
    pub last_refresh_at: Option<UnixTime>,
    pub last_error: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<UnixTime>,
    pub connected_at: UnixTime,
}

const COLUMNS: &str = "id, user_id, provider, account, scopes, access_token, refresh_token, expires_at, status, last_refresh_at, last_error, lease_owner, lease_until, connected_at";

/// The user's connection for a server (scoped by user: another user's id finds nothing).
pub async fn get(
    db: impl Executor<'_>,
    user: UserId,
    server_id: i64,
) -> Result<Option<ConnectionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM connections WHERE id = $1 AND user_id = $2"
    ))
    .bind(server_id)
    .bind(user)
    .fetch_optional(db)
    .await
}

pub async fn list_for_user(
    db: impl Executor<'_>,
    user: UserId,
) -> Result<Vec<ConnectionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM connections WHERE user_id = $1 ORDER BY id"
    ))
    .bind(user)
    .fetch_all(db)
    .await
}

/// What a successful sign-in stores (ciphertexts already bound to the server row).
pub struct NewConnection<'a> {
    pub server_id: i64,
    pub user: UserId,
    pub provider: &'a str,
    pub account: Option<&'a str>,
    pub scopes: &'a str,
    pub access_token: &'a str,
    pub refresh_token: Option<&'a str>,
    pub expires_at: Option<UnixTime>,
}

/// Stores a fresh connection, replacing any earlier one for the server (a reconnect).
pub async fn upsert(
    conn: &mut AnyConnection,
    c: &NewConnection<'_>,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO connections (id, user_id, provider, account, scopes, access_token, refresh_token, expires_at, status, last_refresh_at, last_error, lease_owner, lease_until, connected_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'connected', NULL, NULL, NULL, NULL, $9, $10)
         ON CONFLICT (id) DO UPDATE SET provider = excluded.provider, account = excluded.account,
           scopes = excluded.scopes, access_token = excluded.access_token,
           refresh_token = excluded.refresh_token, expires_at = excluded.expires_at,
           status = 'connected', last_refresh_at = NULL, last_error = NULL, lease_owner = NULL,
           lease_until = NULL, step_up_scopes = NULL, connected_at = excluded.connected_at,
           updated_at = excluded.updated_at
         WHERE connections.user_id = excluded.user_id",
    )
    .bind(c.server_id)
    .bind(c.user)
    .bind(c.provider)
    .bind(c.account)
    .bind(c.scopes)
    .bind(c.access_token)
    .bind(c.refresh_token)
    .bind(c.expires_at)
    .bind(now)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes the refresh lease unless another holder's lease is still running. True if taken.
pub async fn take_lease(
    conn: &mut AnyConnection,
    server_id: i64,
    owner: &str,
    until: UnixTime,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE connections SET lease_owner = $1, lease_until = $2
         WHERE id = $3 AND (lease_owner IS NULL OR lease_until IS NULL OR lease_until <= $4 OR lease_owner = $5)",
    )
    .bind(owner)
    .bind(until)
    .bind(server_id)
    .bind(now)
    .bind(owner)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Saves refreshed tokens if the lease is still `owner`'s; releases it. True if saved.
#[allow(clippy::too_many_arguments)]
pub async fn save_refreshed(
    conn: &mut AnyConnection,
    server_id: i64,
    owner: &str,
    access_token: &str,
    refresh_token: Option<&str>,
    expires_at: Option<UnixTime>,
    scopes: Option<&str>,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE connections SET access_token = $1, refresh_token = COALESCE($2, refresh_token),
           expires_at = $3, scopes = COALESCE($4, scopes), status = 'connected', last_refresh_at = $5,
           last_error = NULL, lease_owner = NULL, lease_until = NULL, updated_at = $6
         WHERE id = $7 AND lease_owner = $8",
    )
    .bind(access_token)
    .bind(refresh_token)
    .bind(expires_at)
    .bind(scopes)
    .bind(now)
    .bind(now)
    .bind(server_id)
    .bind(owner)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed refresh (and, for a dead grant, the *Needs re-authentication* state);
/// releases the lease if it is `owner`'s.
pub async fn record_failure(
    conn: &mut AnyConnection,
    server_id: i64,
    owner: &str,
    error: &str,
    needs_reauth: bool,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE connections SET last_error = $1,
           status = CASE WHEN $2 THEN 'needs_reauth' ELSE status END,
           lease_owner = NULL, lease_until = NULL, updated_at = $3
         WHERE id = $4 AND lease_owner = $5",
    )
    .bind(error)
    .bind(needs_reauth)
    .bind(now)
    .bind(server_id)
    .bind(owner)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(
    conn: &mut AnyConnection,
    user: UserId,
    server_id: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM connections WHERE id = $1 AND user_id = $2")
        .bind(server_id)
        .bind(user)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The provider ended the whole account grant (Google): the user's other connections with
/// that provider and account are marked *Needs re-authentication*; returns their slugs.
pub async fn end_shared_grant(
    conn: &mut AnyConnection,
    user: UserId,
    except: i64,
    provider: &str,
    account: Option<&str>,
    reason: &str,
    now: UnixTime,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE connections SET status = 'needs_reauth', last_error = $1, updated_at = $2
         WHERE user_id = $3 AND id != $4 AND provider = $5 AND account IS NOT DISTINCT FROM $6
         RETURNING (SELECT slug FROM mcp_servers s WHERE s.id = connections.id)",
    )
    .bind(reason)
    .bind(now)
    .bind(user)
    .bind(except)
    .bind(provider)
    .bind(account)
    .fetch_all(conn)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct StateRow {
    pub user_id: UserId,
    pub server_id: i64,
    pub session_hash: String,
    pub provider: String,
    pub pkce_verifier: String,
    pub scopes: String,
    pub expires_at: UnixTime,
    /// The `gatehouse connect` link that started the flow.
    pub link_id: Option<i64>,
}

pub struct NewState<'a> {
    pub state_hash: &'a str,
    pub user: UserId,
    pub server_id: i64,
    pub session_hash: &'a str,
    pub provider: &'a str,
    pub pkce_verifier: &'a str,
    pub scopes: &'a str,
    pub expires_at: UnixTime,
    pub link: Option<i64>,
}

pub async fn insert_state(conn: &mut AnyConnection, s: &NewState<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oauth_states (state_hash, user_id, server_id, session_hash, provider, pkce_verifier, scopes, expires_at, link_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(s.state_hash)
    .bind(s.user)
    .bind(s.server_id)
    .bind(s.session_hash)
    .bind(s.provider)
    .bind(s.pkce_verifier)
    .bind(s.scopes)
    .bind(s.expires_at)
    .bind(s.link)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes and returns a state: whatever happens next, it cannot be used twice.
pub async fn take_state(
    conn: &mut AnyConnection,
    state_hash: &str,
) -> Result<Option<StateRow>, sqlx::Error> {
    sqlx::query_as(
        "DELETE FROM oauth_states WHERE state_hash = $1
         RETURNING user_id, server_id, session_hash, provider, pkce_verifier, scopes, expires_at, link_id",
    )
    .bind(state_hash)
    .fetch_optional(conn)
    .await
}
