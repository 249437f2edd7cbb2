//! The `mcp_servers` table: each user's registered upstream MCP servers.

use sqlx::{AnyConnection, AnyPool, FromRow};

use crate::clock::UnixTime;
use crate::domain::{ServerSlug, UserId};

/// A server row as stored: `url` and `static_credential` are ciphertexts (see `vault`).
#[derive(Debug, Clone, FromRow)]
pub struct ServerRow {
    pub id: i64,
    pub user_id: UserId,
    pub slug: String,
    pub name: String,
    pub url: String,
    pub static_credential: Option<String>,
    /// The user's provider choice (`vault::provider::Choice` key); NULL = detect.
    pub provider: Option<String>,
    pub created_at: UnixTime,
}

const COLUMNS: &str =
    "s.id, s.user_id, s.slug, s.name, s.url, s.static_credential, s.provider, s.created_at";

/// The user's server with this slug (scoped by user).
pub async fn get_by_slug(
    db: impl crate::store::Executor<'_>,
    user: UserId,
    slug: &str,
) -> Result<Option<ServerRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM mcp_servers s WHERE s.user_id = $1 AND s.slug = $2"
    ))
    .bind(user)
    .bind(slug)
    .fetch_optional(db)
    .await
}

/// The user's server with this id (scoped by user).
pub async fn get_by_id(
    db: impl crate::store::Executor<'_>,
    user: UserId,
    id: i64,
) -> Result<Option<ServerRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM mcp_servers s WHERE s.user_id = $1 AND s.id = $2"
    ))
    .bind(user)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Sets the user's provider choice for a server; false when the user has no such server.
pub async fn set_provider(
    conn: &mut AnyConnection,
    user: UserId,
    slug: &str,
    choice: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE mcp_servers SET provider = $1 WHERE user_id = $2 AND slug = $3")
        .bind(choice)
        .bind(user)
        .bind(slug)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn list_for_user(
    db: impl crate::store::Executor<'_>,
    user: UserId,
) -> Result<Vec<ServerRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM mcp_servers s WHERE s.user_id = $1 ORDER BY s.slug"
    ))
    .bind(user)
    .fetch_all(db)
    .await
}

/// Every server with its owner's name, for operators.
pub async fn list_all(pool: &AnyPool) -> Result<Vec<(String, ServerRow)>, sqlx::Error> {
    #[derive(FromRow)]
    struct Owned {
        owner: String,
        #[sqlx(flatten)]
        row: ServerRow,
    }
    let rows: Vec<Owned> = sqlx::query_as(&format!(
        "SELECT u.username AS owner, {COLUMNS} FROM mcp_servers s JOIN users u ON u.id = s.user_id ORDER BY u.username, s.slug"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|o| (o.owner, o.row)).collect())
}

/// Inserts a server; the caller then stores its encrypted URL with [`set_url`] in the same
/// transaction (the ciphertext is bound to the new row's id).
pub async fn insert(
    conn: &mut AnyConnection,
    user: UserId,
    slug: &ServerSlug,
    name: &str,
    now: UnixTime,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO mcp_servers (user_id, slug, name, url, created_at) VALUES ($1, $2, $3, '', $4) RETURNING id")
        .bind(user)
        .bind(slug.as_str())
        .bind(name)
        .bind(now)
        .fetch_one(conn)
        .await
}

/// Deletes the user's server with this slug; false when the user has no such server.
pub async fn delete(
    conn: &mut AnyConnection,
    user: UserId,
    slug: &ServerSlug,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM mcp_servers WHERE user_id = $1 AND slug = $2")
        .bind(user)
        .bind(slug.as_str())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores the (encrypted) URL of a server row.
pub async fn set_url(
    conn: &mut AnyConnection,
    id: i64,
    url_ciphertext: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE mcp_servers SET url = $1 WHERE id = $2")
        .bind(url_ciphertext)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets the URL only while it is still `old`.
pub async fn replace_url(
    conn: &mut AnyConnection,
    id: i64,
    old: &str,
    url_ciphertext: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE mcp_servers SET url = $1 WHERE id = $2 AND url = $3")
        .bind(url_ciphertext)
        .bind(id)
        .bind(old)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_static_credential(
    conn: &mut AnyConnection,
    id: i64,
    ciphertext: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE mcp_servers SET static_credential = $1 WHERE id = $2")
        .bind(ciphertext)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Rows whose URL was stored before the vault existed (plain text).
pub async fn plaintext_urls(pool: &AnyPool) -> Result<Vec<(i64, UserId, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, user_id, url FROM mcp_servers WHERE url NOT LIKE 'gh1.%'")
        .fetch_all(pool)
        .await
}
