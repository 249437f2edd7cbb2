//! The tower-sessions table, swept here (the store crate owns its other queries).

use sqlx::SqliteConnection;

use super::SESSIONS_TABLE;
use crate::domain::UnixTime;

/// Deletes sessions expired at `now`; returns how many.
pub async fn sweep(conn: &mut SqliteConnection, now: UnixTime) -> Result<u64, sqlx::Error> {
    // The session store writes expiry as an SQLite date-time text.
    Ok(sqlx::query(&format!(
        "DELETE FROM {SESSIONS_TABLE} WHERE datetime(expiry_date) < datetime(?, 'unixepoch')"
    ))
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected())
}
