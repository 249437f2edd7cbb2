//! The `users` table.

use sqlx::{FromRow, SqliteExecutor};

use crate::clock::UnixTime;
use crate::domain::{UserId, Username};

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub username: String,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub created_at: UnixTime,
    pub password_version: i64,
    pub disabled: bool,
}

const COLUMNS: &str = "id, username, password_hash, is_admin, created_at, password_version, disabled_at IS NOT NULL AS disabled";

pub async fn count(db: impl SqliteExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(db)
        .await
}

pub async fn by_name(
    db: impl SqliteExecutor<'_>,
    name: &Username,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE username = ?"))
        .bind(name.as_str())
        .fetch_optional(db)
        .await
}

pub async fn by_id(
    db: impl SqliteExecutor<'_>,
    id: UserId,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = ?"))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn list(db: impl SqliteExecutor<'_>) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users ORDER BY username"))
        .fetch_all(db)
        .await
}

pub async fn insert(
    db: impl SqliteExecutor<'_>,
    name: &Username,
    password_hash: Option<&str>,
    is_admin: bool,
    now: UnixTime,
) -> Result<UserId, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, is_admin, created_at, password_changed_at)
         VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(name.as_str())
    .bind(password_hash)
    .bind(is_admin)
    .bind(now)
    .bind(password_hash.map(|_| now))
    .fetch_one(db)
    .await
}

pub async fn set_password(
    db: impl SqliteExecutor<'_>,
    id: UserId,
    password_hash: &str,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE users SET password_hash = ?, password_changed_at = ?, password_version = password_version + 1 WHERE id = ?")
            .bind(password_hash)
            .bind(now)
            .bind(id)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Disables (or enables again) an account; false when there is no such account.
pub async fn set_disabled(
    db: impl SqliteExecutor<'_>,
    id: UserId,
    disabled_at: Option<UnixTime>,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("UPDATE users SET disabled_at = ? WHERE id = ?")
        .bind(disabled_at)
        .bind(id)
        .execute(db)
        .await?
        .rows_affected()
        == 1)
}
