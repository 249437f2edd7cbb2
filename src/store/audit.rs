//! The `audit_events` table: what happened, to whom, by whom; never secrets or payloads.

use sqlx::{FromRow, SqliteConnection, SqlitePool};

use crate::clock::UnixTime;
use crate::domain::UserId;

#[derive(Debug, Clone, FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: UnixTime,
    pub user_id: Option<UserId>,
    pub username: Option<String>,
    pub actor: String,
    pub kind: String,
    pub detail: String,
    pub ip: Option<String>,
}

/// One event to record. `kind` is a stable dotted name, e.g. `auth.sign_in`.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub user: Option<UserId>,
    pub actor: &'a str,
    pub kind: &'a str,
    pub detail: String,
    pub ip: Option<String>,
}

pub async fn insert(
    conn: &mut SqliteConnection,
    event: &NewEvent<'_>,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (at, user_id, actor, kind, detail, ip) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(now)
    .bind(event.user)
    .bind(event.actor)
    .bind(event.kind)
    .bind(&event.detail)
    .bind(&event.ip)
    .execute(conn)
    .await?;
    Ok(())
}

const SELECT: &str = "SELECT e.id, e.at, e.user_id, u.username, e.actor, e.kind, e.detail, e.ip
     FROM audit_events e LEFT JOIN users u ON u.id = e.user_id";

/// The newest events about one user.
/// Inserts many events in multi-row statements (the gateway's batched call log).
pub async fn insert_many(
    conn: &mut SqliteConnection,
    events: &[NewEvent<'_>],
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    // SQLite allows 32,766 bound parameters per statement; 5 per row.
    for chunk in events.chunks(500) {
        let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO audit_events (at, user_id, actor, kind, detail, ip) ",
        );
        query.push_values(chunk, |mut row, e| {
            row.push_bind(now)
                .push_bind(e.user)
                .push_bind(e.actor)
                .push_bind(e.kind)
                .push_bind(&e.detail)
                .push_bind(e.ip.as_deref());
        });
        query.build().execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn list_for_user(
    pool: &SqlitePool,
    user: UserId,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE e.user_id = ? ORDER BY e.id DESC LIMIT ?"
    ))
    .bind(user)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The newest events of everyone (administrators).
pub async fn list_all(pool: &SqlitePool, limit: i64) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} ORDER BY e.id DESC LIMIT ?"))
        .bind(limit)
        .fetch_all(pool)
        .await
}
