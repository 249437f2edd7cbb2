//! The `invites` table: one-time set-password links, stored as token hashes.

use sqlx::SqliteConnection;

use crate::clock::UnixTime;
use crate::domain::{SecretHash, UserId};

pub async fn insert(
    conn: &mut SqliteConnection,
    token: &SecretHash,
    user: UserId,
    created_by: Option<UserId>,
    now: UnixTime,
    expires_at: UnixTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO invites (token_hash, user_id, created_by, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(token.as_str())
    .bind(user)
    .bind(created_by)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes the invite and returns its user if it existed and had not expired: single use.
pub async fn take(
    conn: &mut SqliteConnection,
    token: &SecretHash,
    now: UnixTime,
) -> Result<Option<UserId>, sqlx::Error> {
    sqlx::query_scalar(
        "DELETE FROM invites WHERE token_hash = ? AND expires_at > ? RETURNING user_id",
    )
    .bind(token.as_str())
    .bind(now)
    .fetch_optional(conn)
    .await
}

/// The user an unexpired invite belongs to, without using it up (to render the form).
pub async fn peek(
    conn: &mut SqliteConnection,
    token: &SecretHash,
    now: UnixTime,
) -> Result<Option<UserId>, sqlx::Error> {
    sqlx::query_scalar("SELECT user_id FROM invites WHERE token_hash = ? AND expires_at > ?")
        .bind(token.as_str())
        .bind(now)
        .fetch_optional(conn)
        .await
}

pub async fn delete_for_user(conn: &mut SqliteConnection, user: UserId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM invites WHERE user_id = ?")
        .bind(user)
        .execute(conn)
        .await?;
    Ok(())
}
