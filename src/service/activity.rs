//! The activity log: recording events inside the caller's transaction, and listing them.

use sqlx::SqliteConnection;

use super::{Actor, ServiceError};
use crate::clock::UnixTime;
use crate::domain::UserId;
use crate::state::Core;
use crate::store::audit::{self, AuditRow, NewEvent};

/// Records `kind` about `subject` (the affected account) done by `actor`.
pub async fn record(
    conn: &mut SqliteConnection,
    actor: &Actor,
    subject: Option<UserId>,
    kind: &str,
    detail: String,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    let event = NewEvent {
        user: subject.or(actor.user),
        actor: &actor.name,
        kind,
        detail,
        ip: actor.ip.map(|ip| ip.to_string()),
    };
    audit::insert(conn, &event, now).await
}

/// Records one event in a write transaction of its own (when nothing else is written).
pub async fn record_alone(
    core: &Core,
    actor: &Actor,
    subject: Option<UserId>,
    kind: &str,
    detail: String,
) -> Result<(), ServiceError> {
    let mut tx = crate::store::begin_write(&core.pool).await?;
    record(&mut tx, actor, subject, kind, detail, crate::clock::now()).await?;
    tx.commit().await?;
    Ok(())
}

/// One gateway call for the activity log.
pub struct CallEvent {
    pub user: UserId,
    /// The OAuth client that made the call.
    pub client: String,
    pub detail: String,
}

/// Writes a batch of gateway calls in one transaction (one multi-row insert).
pub async fn record_calls(core: &Core, calls: &[CallEvent]) -> Result<(), ServiceError> {
    let events: Vec<NewEvent<'_>> = calls
        .iter()
        .map(|call| NewEvent {
            user: Some(call.user),
            actor: &call.client,
            kind: "mcp.call",
            detail: call.detail.clone(),
            ip: None,
        })
        .collect();
    let mut tx = crate::store::begin_write(&core.pool).await?;
    audit::insert_many(&mut tx, &events, crate::clock::now()).await?;
    tx.commit().await?;
    Ok(())
}

/// The viewer's own events; administrators see everyone's.
pub async fn list(core: &Core, viewer: &Actor, limit: i64) -> Result<Vec<AuditRow>, ServiceError> {
    let limit = limit.clamp(1, 500);
    match (viewer.is_admin, viewer.user) {
        (true, _) => Ok(audit::list_all(&core.pool, limit).await?),
        (false, Some(user)) => Ok(audit::list_for_user(&core.pool, user, limit).await?),
        (false, None) => Err(ServiceError::Forbidden),
    }
}
