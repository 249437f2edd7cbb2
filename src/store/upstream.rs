//! MCP-native upstreams: what each server's probe found (`server_probes`), Gatehouse's
//! registrations per issuer (`upstream_registrations`), and `gatehouse connect` links.

use super::Executor;
use sqlx::{AnyConnection, FromRow};

use crate::clock::UnixTime;
use crate::domain::UserId;

pub const OAUTH: &str = "oauth";
pub const OPEN: &str = "open";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, FromRow)]
pub struct ProbeRow {
    pub server_id: i64,
    pub user_id: UserId,
    pub probed_at: UnixTime,
    pub outcome: String,
    pub resource: Option<String>,
    pub issuer: Option<String>,
    pub metadata: Option<String>,
    pub scopes: String,
    pub message: Option<String>,
}

const PROBE_COLUMNS: &str =
    "server_id, user_id, probed_at, outcome, resource, issuer, metadata, scopes, message";

pub async fn probe(
    db: impl Executor<'_>,
    user: UserId,
    server_id: i64,
) -> Result<Option<ProbeRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PROBE_COLUMNS} FROM server_probes WHERE server_id = $1 AND user_id = $2"
    ))
    .bind(server_id)
    .bind(user)
    .fetch_optional(db)
    .await
}

pub async fn probes_for_user(
    db: impl Executor<'_>,
    user: UserId,
) -> Result<Vec<ProbeRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PROBE_COLUMNS} FROM server_probes WHERE user_id = $1 ORDER BY server_id"
    ))
    .bind(user)
    .fetch_all(db)
    .await
}

/// Replaces a server's probe result (only for the server's owner).
pub async fn save_probe(conn: &mut AnyConnection, p: &ProbeRow) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO server_probes (server_id, user_id, probed_at, outcome, resource, issuer, metadata, scopes, message)
         SELECT id, user_id, $1, $2, $3, $4, $5, $6, $7 FROM mcp_servers WHERE id = $8 AND user_id = $9
         ON CONFLICT (server_id) DO UPDATE SET probed_at = excluded.probed_at,
           outcome = excluded.outcome, resource = excluded.resource, issuer = excluded.issuer,
           metadata = excluded.metadata, scopes = excluded.scopes, message = excluded.message",
    )
    .bind(p.probed_at)
    .bind(&p.outcome)
    .bind(&p.resource)
    .bind(&p.issuer)
    .bind(&p.metadata)
    .bind(&p.scopes)
    .bind(&p.message)
    .bind(p.server_id)
    .bind(p.user_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct RegistrationRow {
    pub id: i64,
    pub method: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub auth_method: String,
    pub redirect_uri: String,
}

const REGISTRATION_COLUMNS: &str =
    "id, method, client_id, client_secret, auth_method, redirect_uri";

pub async fn registration(
    db: impl Executor<'_>,
    issuer: &str,
) -> Result<Option<RegistrationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {REGISTRATION_COLUMNS} FROM upstream_registrations WHERE issuer = $1"
    ))
    .bind(issuer)
    .fetch_optional(db)
    .await
}

/// Every stored registration: (issuer, method).
pub async fn registration_methods(
    db: impl Executor<'_>,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT issuer, method FROM upstream_registrations")
        .fetch_all(db)
        .await
}

pub struct NewRegistration<'a> {
    pub issuer: &'a str,
    pub method: &'a str,
    pub client_id: &'a str,
    pub auth_method: &'a str,
    pub redirect_uri: &'a str,
}

/// Replaces the issuer's registration; returns the row id. The secret is set afterwards
/// ([`set_client_secret`]) because its ciphertext is bound to this id.
pub async fn replace_registration(
    conn: &mut AnyConnection,
    r: &NewRegistration<'_>,
    now: UnixTime,
) -> Result<i64, sqlx::Error> {
    sqlx::query("DELETE FROM upstream_registrations WHERE issuer = $1")
        .bind(r.issuer)
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar(
        "INSERT INTO upstream_registrations (issuer, method, client_id, auth_method, redirect_uri, registered_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(r.issuer)
    .bind(r.method)
    .bind(r.client_id)
    .bind(r.auth_method)
    .bind(r.redirect_uri)
    .bind(now)
    .fetch_one(conn)
    .await
}

pub async fn set_client_secret(
    conn: &mut AnyConnection,
    id: i64,
    sealed: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE upstream_registrations SET client_secret = $1 WHERE id = $2")
        .bind(sealed)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes a registration the server no longer accepts, unless it was replaced meanwhile.
pub async fn drop_registration(conn: &mut AnyConnection, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM upstream_registrations WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks a connection for re-authentication with wider scopes (an upstream's
/// `insufficient_scope`).
pub async fn require_step_up(
    conn: &mut AnyConnection,
    user: UserId,
    server_id: i64,
    scopes: &str,
    reason: &str,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE connections SET status = 'needs_reauth', step_up_scopes = $1, last_error = $2, updated_at = $3
         WHERE id = $4 AND user_id = $5",
    )
    .bind(scopes)
    .bind(reason)
    .bind(now)
    .bind(server_id)
    .bind(user)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn step_up_scopes(
    db: impl Executor<'_>,
    user: UserId,
    server_id: i64,
) -> Result<Option<String>, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, Option<String>>(
        "SELECT step_up_scopes FROM connections WHERE id = $1 AND user_id = $2",
    )
    .bind(server_id)
    .bind(user)
    .fetch_optional(db)
    .await?
    .flatten())
}

#[derive(Debug, Clone, FromRow)]
pub struct LinkRow {
    pub id: i64,
    pub user_id: UserId,
    pub server_id: i64,
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
    /// 1 or 0 once the flow finished (an integer column in both dialects).
    pub succeeded: Option<i64>,
    pub result: Option<String>,
}

const LINK_COLUMNS: &str = "id, user_id, server_id, expires_at, used_at, succeeded, result";

pub async fn insert_link(
    conn: &mut AnyConnection,
    token_hash: &str,
    user: UserId,
    server_id: i64,
    expires_at: UnixTime,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO connect_links (token_hash, user_id, server_id, expires_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(token_hash)
    .bind(user)
    .bind(server_id)
    .bind(expires_at)
    .fetch_one(conn)
    .await
}

pub async fn link_by_token(
    db: impl Executor<'_>,
    token_hash: &str,
) -> Result<Option<LinkRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM connect_links WHERE token_hash = $1"
    ))
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

pub async fn link(db: impl Executor<'_>, id: i64) -> Result<Option<LinkRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM connect_links WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Uses a link once: true only for the first caller, before it expires.
pub async fn use_link(
    conn: &mut AnyConnection,
    id: i64,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE connect_links SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(now)
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn finish_link(
    conn: &mut AnyConnection,
    id: i64,
    succeeded: bool,
    result: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE connect_links SET succeeded = $1, result = $2 WHERE id = $3 AND succeeded IS NULL",
    )
    .bind(i64::from(succeeded))
    .bind(result)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}
