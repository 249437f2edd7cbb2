//! The `audit_events` table: what happened, to whom, by whom; never secrets or payloads.

use sqlx::{AnyConnection, AnyPool, FromRow};

use super::{Backend, Batch, Built};
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
    pub server: Option<String>,
    pub client: Option<String>,
    pub outcome: String,
    pub duration_ms: Option<i64>,
}

/// Whether an event reports a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
        }
    }
}

/// One event to record. `kind` is a stable dotted name, e.g. `auth.sign_in`.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub user: Option<UserId>,
    pub actor: &'a str,
    pub kind: &'a str,
    pub detail: String,
    pub ip: Option<String>,
    pub server: Option<&'a str>,
    pub client: Option<&'a str>,
    pub outcome: Outcome,
    pub duration_ms: Option<i64>,
}

pub async fn insert(
    conn: &mut AnyConnection,
    event: &NewEvent<'_>,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    let mut batch = Batch::new(Backend::of_connection(conn));
    insert_into(&mut batch, event, now);
    batch.execute(conn).await
}

macro_rules! insert_rows {
    () => {
        "INSERT INTO audit_events (at, user_id, actor, kind, detail, ip, server, client, outcome, duration_ms) VALUES "
    };
}
const INSERT: &str = insert_rows!();
const INSERT_ONE: &str = concat!(insert_rows!(), "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");

/// Adds the event's row to `batch` (written together with the rows it reports).
pub(crate) fn insert_into<'q>(batch: &mut Batch<'q>, e: &'q NewEvent<'q>, now: UnixTime) {
    batch
        .statement(INSERT_ONE)
        .bind(now)
        .bind(e.user)
        .bind(e.actor)
        .bind(e.kind)
        .bind(e.detail.as_str())
        .bind(e.ip.as_deref())
        .bind(e.server)
        .bind(e.client)
        .bind(e.outcome.as_str())
        .bind(e.duration_ms);
}

const SELECT: &str = "SELECT e.id, e.at, e.user_id, u.username, e.actor, e.kind, e.detail, e.ip,
     e.server, e.client, e.outcome, e.duration_ms
     FROM audit_events e LEFT JOIN users u ON u.id = e.user_id";

/// Inserts many events in multi-row statements (the gateway's batched call log).
pub async fn insert_many(
    conn: &mut AnyConnection,
    events: &[NewEvent<'_>],
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    // SQLite allows 32,766 bound parameters per statement (Postgres 65,535); 10 per row.
    for chunk in events.chunks(500) {
        let mut query = Built::new(Backend::of_connection(conn), INSERT);
        for (i, e) in chunk.iter().enumerate() {
            query.push(if i == 0 { "(" } else { ", (" });
            query
                .bind(now)
                .push(", ")
                .bind(e.user)
                .push(", ")
                .bind(e.actor)
                .push(", ");
            query
                .bind(e.kind)
                .push(", ")
                .bind(e.detail.as_str())
                .push(", ");
            query
                .bind(e.ip.as_deref())
                .push(", ")
                .bind(e.server)
                .push(", ")
                .bind(e.client);
            query
                .push(", ")
                .bind(e.outcome.as_str())
                .push(", ")
                .bind(e.duration_ms)
                .push(")");
        }
        let (sql, args) = query.finish()?;
        // Not kept prepared: batch sizes vary, and each size would stay in the cache.
        sqlx::query_with(&sql, args)
            .persistent(false)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Which events to list: every field narrows; `before` pages (ids only go down).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this account's events (non-administrators always).
    pub user: Option<UserId>,
    pub server: Option<String>,
    pub client: Option<String>,
    pub kind: Option<String>,
    pub outcome: Option<Outcome>,
    pub since: Option<UnixTime>,
    pub until: Option<UnixTime>,
    pub before: Option<i64>,
}

/// The newest events matching `filter`, at most `limit`.
pub async fn list(
    pool: &AnyPool,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    let mut query = Built::new(Backend::of(pool), SELECT);
    query.push(" WHERE 1 = 1");
    if let Some(user) = filter.user {
        query.push(" AND e.user_id = ").bind(user);
    }
    if let Some(server) = &filter.server {
        query.push(" AND e.server = ").bind(server.clone());
    }
    if let Some(client) = &filter.client {
        query.push(" AND e.client = ").bind(client.clone());
    }
    if let Some(kind) = &filter.kind {
        query.push(" AND e.kind = ").bind(kind.clone());
    }
    if let Some(outcome) = filter.outcome {
        query.push(" AND e.outcome = ").bind(outcome.as_str());
    }
    if let Some(since) = filter.since {
        query.push(" AND e.at >= ").bind(since);
    }
    if let Some(until) = filter.until {
        query.push(" AND e.at < ").bind(until);
    }
    if let Some(before) = filter.before {
        query.push(" AND e.id < ").bind(before);
    }
    query.push(" ORDER BY e.id DESC LIMIT ").bind(limit);
    let (sql, args) = query.finish()?;
    sqlx::query_as_with(&sql, args).fetch_all(pool).await
}

/// Deletes events older than `before`, then the oldest beyond `max_rows`; returns how many.
pub async fn sweep(
    conn: &mut AnyConnection,
    before: UnixTime,
    max_rows: i64,
) -> Result<u64, sqlx::Error> {
    let old = sqlx::query("DELETE FROM audit_events WHERE at < $1")
        .bind(before)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    // Ids only grow: the newest `max_rows` are those at or above the max_rows-th largest id.
    let beyond = sqlx::query(
        "DELETE FROM audit_events WHERE id < (SELECT id FROM audit_events ORDER BY id DESC LIMIT 1 OFFSET $1)",
    )
    .bind(max_rows - 1)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(old + beyond)
}
