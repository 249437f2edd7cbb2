//! Counts for the administrators' stats page: one query each, over everyone.

use sqlx::SqlitePool;

use crate::clock::UnixTime;

async fn count(pool: &SqlitePool, sql: &str, now: UnixTime) -> Result<i64, sqlx::Error> {
    // Every query binds `now` once per `?` it has (0, 1 or 2 of them).
    let mut query = sqlx::query_scalar::<_, i64>(sql);
    for _ in 0..sql.matches('?').count() {
        query = query.bind(now);
    }
    query.fetch_one(pool).await
}

#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub users: i64,
    pub clients_dcr: i64,
    pub clients_cimd: i64,
    pub grants: i64,
    pub access_tokens: i64,
    pub refresh_tokens: i64,
    pub api_keys: i64,
    pub connected: i64,
    pub expiring: i64,
    pub needs_reauth: i64,
    pub with_error: i64,
}

pub async fn totals(pool: &SqlitePool, now: UnixTime, soon: i64) -> Result<Totals, sqlx::Error> {
    let live_family =
        "EXISTS (SELECT 1 FROM token_families f WHERE f.id = family_id AND f.revoked_at IS NULL)";
    Ok(Totals {
        users: count(pool, "SELECT COUNT(*) FROM users", now).await?,
        clients_dcr: count(pool, "SELECT COUNT(*) FROM oauth_clients WHERE kind = 'dcr'", now).await?,
        clients_cimd: count(pool, "SELECT COUNT(*) FROM oauth_clients WHERE kind = 'cimd'", now).await?,
        grants: count(pool, "SELECT COUNT(*) FROM grants WHERE revoked_at IS NULL", now).await?,
        access_tokens: count(pool, &format!("SELECT COUNT(*) FROM access_tokens WHERE expires_at > ? AND {live_family}"), now).await?,
        refresh_tokens: count(pool, &format!("SELECT COUNT(*) FROM refresh_tokens WHERE expires_at > ? AND used_at IS NULL AND {live_family}"), now).await?,
        api_keys: count(pool, "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", now).await?,
        connected: count(pool, &format!("SELECT COUNT(*) FROM connections WHERE status = 'connected' AND last_error IS NULL AND (expires_at IS NULL OR expires_at > ? + {soon})"), now).await?,
        expiring: count(pool, &format!("SELECT COUNT(*) FROM connections WHERE status = 'connected' AND last_error IS NULL AND expires_at <= ? + {soon}"), now).await?,
        needs_reauth: count(pool, "SELECT COUNT(*) FROM connections WHERE status = 'needs_reauth'", now).await?,
        with_error: count(pool, "SELECT COUNT(*) FROM connections WHERE status = 'connected' AND last_error IS NOT NULL", now).await?,
    })
}

/// Every registered client's redirect URIs (JSON arrays), to recognise known clients.
pub async fn client_redirects(pool: &SqlitePool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT redirect_uris FROM oauth_clients WHERE kind = 'dcr'")
        .fetch_all(pool)
        .await
}

/// Gateway calls since `since`, per server: (server, calls, failed calls).
pub async fn calls_per_server(
    pool: &SqlitePool,
    since: UnixTime,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT server, COUNT(*), SUM(outcome = 'error') FROM audit_events
          WHERE kind = 'mcp.call' AND at >= ? AND server IS NOT NULL
          GROUP BY server ORDER BY COUNT(*) DESC",
    )
    .bind(since)
    .fetch_all(pool)
    .await
}

/// The call duration at rank `offset` (0-based, ascending) for one server since `since`.
pub async fn duration_at(
    pool: &SqlitePool,
    server: &str,
    since: UnixTime,
    offset: i64,
) -> Result<Option<i64>, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, Option<i64>>(
        "SELECT duration_ms FROM audit_events
          WHERE kind = 'mcp.call' AND server = ? AND at >= ? AND duration_ms IS NOT NULL
          ORDER BY duration_ms LIMIT 1 OFFSET ?",
    )
    .bind(server)
    .bind(since)
    .bind(offset)
    .fetch_optional(pool)
    .await?
    .flatten())
}

/// Events of `kind` since `since`.
pub async fn events_since(
    pool: &SqlitePool,
    kind: &str,
    since: UnixTime,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE kind = ? AND at >= ?")
        .bind(kind)
        .bind(since)
        .fetch_one(pool)
        .await
}

/// Gateway calls per hour over the last `hours` hours: (hour start, calls, failed).
pub async fn calls_per_hour(
    pool: &SqlitePool,
    now: UnixTime,
    hours: i64,
) -> Result<Vec<(i64, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT (at / 3600) * 3600 AS hour, COUNT(*), SUM(outcome = 'error') FROM audit_events
          WHERE kind = 'mcp.call' AND at >= ? GROUP BY hour ORDER BY hour",
    )
    .bind(now - hours * 3600)
    .fetch_all(pool)
    .await
}
