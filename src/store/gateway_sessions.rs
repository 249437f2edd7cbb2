//! The `gateway_sessions` table: upstream `Mcp-Session-Id`s bound to (user, server).

use super::Executor;

use crate::clock::UnixTime;
use crate::domain::UserId;

/// Who a session id belongs to: `(user, server)`, or `None` if Gatehouse never bound it.
pub async fn owner(
    db: impl Executor<'_>,
    session_hash: &str,
) -> Result<Option<(UserId, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT user_id, server_id FROM gateway_sessions WHERE session_hash = $1")
        .bind(session_hash)
        .fetch_optional(db)
        .await
}

/// Binds a session id to its opener; an existing binding is kept (first opener wins).
pub async fn bind(
    db: impl Executor<'_>,
    session_hash: &str,
    user: UserId,
    server_id: i64,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO gateway_sessions (session_hash, user_id, server_id, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (session_hash) DO NOTHING",
    )
    .bind(session_hash)
    .bind(user)
    .bind(server_id)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn unbind(
    db: impl Executor<'_>,
    session_hash: &str,
    user: UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM gateway_sessions WHERE session_hash = $1 AND user_id = $2")
        .bind(session_hash)
        .bind(user)
        .execute(db)
        .await?;
    Ok(())
}
