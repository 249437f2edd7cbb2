//! Counts for the administrators' stats page: one query each, over everyone.

use sqlx::AnyPool;

use crate::clock::UnixTime;

async fn count(pool: &AnyPool, sql: &str, now: UnixTime) -> Result<i64, sqlx::Error> {
    // `now` is `$1`, wherever a query needs it.
    let query = sqlx::query_scalar::<_, i64>(sql);
    match sql.contains("$1") {
        true => query.bind(now).fetch_one(pool).await,
        false => query.fetch_one(pool).await,
    }
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

pub async fn totals(pool: &AnyPool, now: UnixTime, soon: i64) -> Result<Totals, sqlx::Error> {
    let live_family =
        "EXISTS (SELECT 1 FROM token_families f WHERE f.id = family_id AND f.revoked_at IS NULL)";
    Ok(Totals {
        users: count(pool, "SELECT COUNT(*) FROM users", now).await?,
        clients_dcr: count(pool, "SELECT COUNT(*) FROM oauth_clients WHERE kind = 'dcr'", now).await?,
        clients_cimd: count(pool, "SELECT COUNT(*) FROM oauth_clients WHERE kind = 'cimd'", now).await?,
        grants: count(pool, "SELECT COUNT(*) FROM grants WHERE revoked_at IS NULL", now).await?,
        access_tokens: count(pool, &format!("SELECT COUNT(*) FROM access_tokens WHERE expires_at > $1 AND {live_family}"), now).await?,
        refresh_tokens: count(pool, &format!("SELECT COUNT(*) FROM refresh_tokens WHERE expires_at > $1 AND used_at IS NULL AND {live_family}"), now).await?,
        api_keys: count(pool, "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)", now).await?,
        connected: count(pool, &format!("SELECT COUNT(*) FROM connections WHERE status = 'connected' AND last_error IS NULL AND (expires_at IS NULL OR expires_at > $1 + {soon})"), now).await?,
        expiring: count(pool, &format!("SELECT COUNT(*) FROM connections WHERE status = 'connected' AND last_error IS NULL AND expires_at <= $1 + {soon}"), now).await?,
        needs_reauth: count(pool, "SELECT COUNT(*) FROM connections WHERE status = 'needs_reauth'", now).await?,
        with_error: count(pool, "SELECT COUNT(*) FROM connections WHERE status = 'connected' AND last_error IS NOT NULL", now).await?,
    })
}

/// Every registered client's redirect URIs (JSON arrays), to recognise known clients.
pub async fn client_redirects(pool: &AnyPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT redirect_uris FROM oauth_clients WHERE kind = 'dcr'")
        .fetch_all(pool)
        .await
}

/// Gateway calls since `since`, per server: (server, calls, failed calls).
pub async fn calls_per_server(
    pool: &AnyPool,
    since: UnixTime,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT server, COUNT(*), COUNT(CASE WHEN outcome = 'error' THEN 1 END) FROM audit_events
          WHERE kind = 'mcp.call' AND at >= $1 AND server IS NOT NULL
          GROUP BY server ORDER BY COUNT(*) DESC",
    )
    .bind(since)
    .fetch_all(pool)
    .await
}

/// The call duration at rank `offset` (0-based, ascending) for one server since `since`.
pub async fn duration_at(
    pool: &AnyPool,
    server: &str,
    since: UnixTime,
    offset: i64,
) -> Result<Option<i64>, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, Option<i64>>(
        "SELECT duration_ms FROM audit_events
          WHERE kind = 'mcp.call' AND server = $1 AND at >= $2 AND duration_ms IS NOT NULL
          ORDER BY duration_ms LIMIT 1 OFFSET $3",
    )
    .bind(server)
    .bind(since)
    .bind(offset)
    .fetch_optional(pool)
    .await?
    .flatten())
}

/// Events of `kind` since `since`.
pub async fn events_since(pool: &AnyPool, kind: &str, since: UnixTime) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE kind = $1 AND at >= $2")
        .bind(kind)
        .bind(since)
        .fetch_one(pool)
        .await
}

/// Gateway calls per hour over the last `hours` hours: (hour start, calls, failed).
pub async fn calls_per_hour(
    pool: &AnyPool,
    now: UnixTime,
    hours: i64,
) -> Result<Vec<(i64, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT (at / 3600) * 3600 AS hour, COUNT(*), COUNT(CASE WHEN outcome = 'error' THEN 1 END) FROM audit_events
          WHERE kind = 'mcp.call' AND at >= $1 GROUP BY hour ORDER BY hour",
    )
    .bind(now - hours * 3600)
    .fetch_all(pool)
    .await
}
