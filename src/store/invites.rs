//! The `invites` table: one-time set-password links, stored as token hashes.

use sqlx::AnyConnection;

use crate::clock::UnixTime;
use crate::domain::{SecretHash, UserId};

pub async fn insert(
    conn: &mut AnyConnection,
    token: &SecretHash,
    user: UserId,
    created_by: Option<UserId>,
    now: UnixTime,
    expires_at: UnixTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO invites (token_hash, user_id, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
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
    conn: &mut AnyConnection,
    token: &SecretHash,
    now: UnixTime,
) -> Result<Option<UserId>, sqlx::Error> {
    sqlx::query_scalar(
        "DELETE FROM invites WHERE token_hash = $1 AND expires_at > $2 RETURNING user_id",
    )
    .bind(token.as_str())
    .bind(now)
    .fetch_optional(conn)
    .await
}

/// The user an unexpired invite belongs to, without using it up (to render the form).
pub async fn peek(
    conn: &mut AnyConnection,
    token: &SecretHash,
    now: UnixTime,
) -> Result<Option<UserId>, sqlx::Error> {
    sqlx::query_scalar("SELECT user_id FROM invites WHERE token_hash = $1 AND expires_at > $2")
        .bind(token.as_str())
        .bind(now)
        .fetch_optional(conn)
        .await
}

pub async fn delete_for_user(conn: &mut AnyConnection, user: UserId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM invites WHERE user_id = $1")
        .bind(user)
        .execute(conn)
        .await?;
    Ok(())
}
