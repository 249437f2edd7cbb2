//! The `users` table.

use super::Executor;
use sqlx::FromRow;

use crate::clock::UnixTime;
use crate::domain::{UserId, Username};

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub username: String,
    pub password_hash: Option<String>,
    #[sqlx(try_from = "super::Flag")]
    pub is_admin: bool,
    pub created_at: UnixTime,
    pub password_version: i64,
    #[sqlx(try_from = "super::Flag")]
    pub disabled: bool,
}

const COLUMNS: &str = "id, username, password_hash, is_admin, created_at, password_version, disabled_at IS NOT NULL AS disabled";

pub async fn count(db: impl Executor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(db)
        .await
}

pub async fn by_name(
    db: impl Executor<'_>,
    name: &Username,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE username = $1"))
        .bind(name.as_str())
        .fetch_optional(db)
        .await
}

pub async fn by_id(db: impl Executor<'_>, id: UserId) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn list(db: impl Executor<'_>) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users ORDER BY username"))
        .fetch_all(db)
        .await
}

pub async fn insert(
    db: impl Executor<'_>,
    name: &Username,
    password_hash: Option<&str>,
    is_admin: bool,
    now: UnixTime,
) -> Result<UserId, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, is_admin, created_at, password_changed_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(name.as_str())
    .bind(password_hash)
    .bind(i64::from(is_admin))
    .bind(now)
    .bind(password_hash.map(|_| now))
    .fetch_one(db)
    .await
}

pub async fn set_password(
    db: impl Executor<'_>,
    id: UserId,
    password_hash: &str,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE users SET password_hash = $1, password_changed_at = $2, password_version = password_version + 1 WHERE id = $3")
            .bind(password_hash)
            .bind(now)
            .bind(id)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Disables (or enables again) an account; false when there is no such account.
pub async fn set_disabled(
    db: impl Executor<'_>,
    id: UserId,
    disabled_at: Option<UnixTime>,
) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
            .bind(disabled_at)
            .bind(id)
            .execute(db)
            .await?
            .rows_affected()
            == 1,
    )
}
