//! The `users` table.

use sqlx::{FromRow, SqliteConnection, SqlitePool};

use crate::clock::UnixTime;
use crate::domain::{UserId, Username};

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub username: String,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub created_at: UnixTime,
}

const COLUMNS: &str = "id, username, password_hash, is_admin, created_at";

pub async fn count(pool: &SqlitePool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(pool)
        .await
}

pub async fn count_in(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(conn)
        .await
}

pub async fn by_name(pool: &SqlitePool, name: &Username) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE username = ?"))
        .bind(name.as_str())
        .fetch_optional(pool)
        .await
}

pub async fn by_id(pool: &SqlitePool, id: UserId) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = ?"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn list(pool: &SqlitePool) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users ORDER BY username"))
        .fetch_all(pool)
        .await
}

pub async fn insert(
    conn: &mut SqliteConnection,
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
    .fetch_one(conn)
    .await
}

pub async fn set_password(
    conn: &mut SqliteConnection,
    id: UserId,
    password_hash: &str,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?")
            .bind(password_hash)
            .bind(now)
            .bind(id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}
