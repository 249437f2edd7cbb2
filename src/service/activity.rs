//! The activity log: recording events inside the caller's transaction, and listing them.

use sqlx::AnyConnection;

use super::{Actor, ServiceError};
use crate::clock::UnixTime;
use crate::domain::UserId;
use crate::state::Core;
pub use crate::store::audit::Outcome;
use crate::store::audit::{self, AuditRow, NewEvent};

/// What an event concerns besides its account: the server (slug) and the OAuth client, so
/// the Activity page can filter by them.
#[derive(Debug, Clone, Copy, Default)]
pub struct About<'a> {
    pub server: Option<&'a str>,
    pub client: Option<&'a str>,
}

/// Records `kind` about `subject` (the affected account) done by `actor`.
pub async fn record(
    conn: &mut AnyConnection,
    actor: &Actor,
    subject: Option<UserId>,
    kind: &str,
    detail: String,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    record_about(conn, actor, subject, kind, About::default(), detail, now).await
}

/// [`record`], naming the server or client the event concerns.
pub async fn record_about(
    conn: &mut AnyConnection,
    actor: &Actor,
    subject: Option<UserId>,
    kind: &str,
    about: About<'_>,
    detail: String,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    audit::insert(conn, &event_about(actor, subject, kind, about, detail), now).await
}

/// The event [`record_about`] records, for a caller that writes it together with other rows
/// (`store::Batch`).
pub fn event_about<'a>(
    actor: &'a Actor,
    subject: Option<UserId>,
    kind: &'a str,
    about: About<'a>,
    detail: String,
) -> NewEvent<'a> {
    NewEvent {
        user: subject.or(actor.user),
        actor: &actor.name,
        kind,
        detail,
        ip: actor.ip.map(|ip| ip.to_string()),
        server: about.server,
        client: about.client,
        outcome: outcome_of(kind),
        duration_ms: None,
    }
}

/// Whether an event kind reports something that went wrong (the page's outcome filter).
pub fn outcome_of(kind: &str) -> Outcome {
    const FAILURES: &[&str] = &[
        "auth.sign_in_failed",
        "consent.denied",
        "token.code_replay",
        "token.reuse_detected",
        "vault.refresh_failed",
        "vault.step_up",
        "upstream.reregistering",
    ];
    if FAILURES.contains(&kind) {
        Outcome::Error
    } else {
        Outcome::Ok
    }
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
    pub server: String,
    pub detail: String,
    /// Gatehouse answered itself, or the upstream answered ≥ 400.
    pub failed: bool,
    pub duration_ms: i64,
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
            server: Some(&call.server),
            client: Some(&call.client),
            outcome: if call.failed {
                Outcome::Error
            } else {
                Outcome::Ok
            },
            duration_ms: Some(call.duration_ms),
        })
        .collect();
    let mut tx = crate::store::begin_write(&core.pool).await?;
    audit::insert_many(&mut tx, &events, crate::clock::now()).await?;
    tx.commit().await?;
    Ok(())
}

/// The Activity page's filters as they arrive in the URL (every field optional text).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Query {
    #[serde(default)]
    pub server: String,
    #[serde(default)]
    pub client: String,
    #[serde(default)]
    pub kind: String,
    /// `ok` or `error`.
    #[serde(default)]
    pub outcome: String,
    /// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`, UTC.
    #[serde(default)]
    pub since: String,
    #[serde(default)]
    pub until: String,
    /// The id of the last event seen (the next page starts below it).
    #[serde(default)]
    pub before: String,
}

/// One page of events, and the cursor of the next if there is one.
pub struct Page {
    pub events: Vec<AuditRow>,
    pub next: Option<i64>,
}

/// Events per page.
pub const PAGE: i64 = 100;
/// At most this many events go into one export.
pub const EXPORT_LIMIT: i64 = 10_000;

fn parse(viewer: &Actor, q: &Query) -> Result<audit::Filter, ServiceError> {
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let time = |name: &str, s: &str| -> Result<Option<UnixTime>, ServiceError> {
        match text(s) {
            None => Ok(None),
            Some(t) => crate::clock::parse_utc(&t).map(Some).ok_or_else(|| {
                ServiceError::Invalid(format!(
                    "{name}: use a date like 2026-12-01 or 2026-12-01T09:30 (UTC)"
                ))
            }),
        }
    };
    let user = match (viewer.is_admin, viewer.user) {
        (true, _) => None,
        (false, Some(user)) => Some(user),
        (false, None) => return Err(ServiceError::Forbidden),
    };
    Ok(audit::Filter {
        user,
        server: text(&q.server),
        client: text(&q.client),
        kind: text(&q.kind),
        outcome: match q.outcome.trim() {
            "" => None,
            "ok" => Some(Outcome::Ok),
            "error" => Some(Outcome::Error),
            _ => return Err(ServiceError::Invalid("outcome: use ok or error".into())),
        },
        since: time("since", &q.since)?,
        until: time("until", &q.until)?,
        before: match text(&q.before) {
            None => None,
            Some(b) => Some(
                b.parse()
                    .map_err(|_| ServiceError::Invalid("before: an event number".into()))?,
            ),
        },
    })
}

/// One page of the viewer's events (administrators: everyone's) matching `query`, newest
/// first.
pub async fn page(core: &Core, viewer: &Actor, query: &Query) -> Result<Page, ServiceError> {
    let filter = parse(viewer, query)?;
    let mut events = audit::list(&core.pool, &filter, PAGE + 1).await?;
    let next = (events.len() as i64 > PAGE).then(|| {
        events.truncate(PAGE as usize);
        events.last().map(|e| e.id)
    });
    Ok(Page {
        events,
        next: next.flatten(),
    })
}

/// Every event matching `query` (up to [`EXPORT_LIMIT`]), for CSV and JSON export.
pub async fn export(
    core: &Core,
    viewer: &Actor,
    query: &Query,
) -> Result<Vec<AuditRow>, ServiceError> {
    let filter = parse(viewer, query)?;
    Ok(audit::list(&core.pool, &filter, EXPORT_LIMIT).await?)
}

/// The newest events the viewer may see, unfiltered.
pub async fn list(core: &Core, viewer: &Actor, limit: i64) -> Result<Vec<AuditRow>, ServiceError> {
    let filter = parse(viewer, &Query::default())?;
    Ok(audit::list(&core.pool, &filter, limit.clamp(1, 500)).await?)
}

/// An event kind in plain words, for the Activity page.
pub fn describe(kind: &str) -> &'static str {
    match kind {
        "auth.sign_in" => "Signed in",
        "auth.sign_in_failed" => "Sign-in failed",
        "auth.sign_out" => "Signed out",
        "user.created" => "Account created",
        "user.invited" => "Account invited",
        "user.invite_accepted" => "Invitation accepted",
        "user.password_set" => "Password changed",
        "user.disabled" => "Account disabled",
        "user.enabled" => "Account enabled",
        "server.added" => "Server added",
        "server.deleted" => "Server deleted",
        "server.provider_set" => "Server's provider chosen",
        "server.probed" => "Server's sign-in checked",
        "vault.connected" => "Upstream account connected",
        "vault.disconnected" => "Upstream account disconnected",
        "vault.refreshed" => "Upstream token refreshed",
        "vault.refresh_failed" => "Upstream token refresh failed",
        "vault.step_up" => "Upstream asked for more access",
        "vault.connect_link" => "Connect link created",
        "upstream.registered" => "Registered at an upstream's authorization server",
        "upstream.reregistering" => "Registering again at an upstream",
        "client.registered" => "AI client registered",
        "client.disabled" => "AI client disabled",
        "client.enabled" => "AI client enabled",
        "client.deleted" => "AI client deleted",
        "consent.granted" => "Access approved",
        "consent.denied" => "Access denied",
        "grant.revoked" => "AI client's access revoked",
        "token.issued" => "Tokens issued",
        "token.refreshed" => "Tokens refreshed",
        "token.revoked" => "Token revoked by its client",
        "token.reuse_detected" => "Refresh token reused: family revoked",
        "token.code_replay" => "Authorization code replayed: tokens revoked",
        "key.created" => "API key created",
        "key.revoked" => "API key revoked",
        "key.first_used" => "API key first used",
        "mcp.call" => "MCP call",
        _ => "Event",
    }
}
