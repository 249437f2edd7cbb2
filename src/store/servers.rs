//! The `mcp_servers` table: each user's registered upstream MCP servers.

use sqlx::{FromRow, SqliteConnection, SqlitePool};

use crate::clock::UnixTime;
use crate::domain::{ServerSlug, UpstreamUrl, UserId};

#[derive(Debug, Clone, FromRow)]
pub struct ServerRow {
    pub id: i64,
    pub user_id: UserId,
    pub slug: String,
    pub name: String,
    pub url: String,
    pub created_at: UnixTime,
}

pub async fn list_for_user(pool: &SqlitePool, user: UserId) -> Result<Vec<ServerRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, user_id, slug, name, url, created_at FROM mcp_servers WHERE user_id = ? ORDER BY slug",
    )
    .bind(user)
    .fetch_all(pool)
    .await
}

/// Every server with its owner's name, for operators.
pub async fn list_all(pool: &SqlitePool) -> Result<Vec<(String, ServerRow)>, sqlx::Error> {
    let rows: Vec<(String, i64, UserId, String, String, String, UnixTime)> = sqlx::query_as(
        "SELECT u.username, s.id, s.user_id, s.slug, s.name, s.url, s.created_at
         FROM mcp_servers s JOIN users u ON u.id = s.user_id ORDER BY u.username, s.slug",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(owner, id, user_id, slug, name, url, created_at)| {
            (
                owner,
                ServerRow {
                    id,
                    user_id,
                    slug,
                    name,
                    url,
                    created_at,
                },
            )
        })
        .collect())
}

pub async fn insert(
    conn: &mut SqliteConnection,
    user: UserId,
    slug: &ServerSlug,
    name: &str,
    url: &UpstreamUrl,
    now: UnixTime,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO mcp_servers (user_id, slug, name, url, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(user)
    .bind(slug.as_str())
    .bind(name)
    .bind(url.as_str())
    .bind(now)
    .fetch_one(conn)
    .await
}

/// Deletes the user's server with this slug; false when the user has no such server.
pub async fn delete(
    conn: &mut SqliteConnection,
    user: UserId,
    slug: &ServerSlug,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM mcp_servers WHERE user_id = ? AND slug = ?")
        .bind(user)
        .bind(slug.as_str())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
