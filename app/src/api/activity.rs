//! Data for the Activity page: filters, keyset paging; the export links are plain routes
//! (`app/src/export.rs`).

use leptos::prelude::*;

use crate::dto::{ActivityData, ActivityFilter};
use crate::error::AppError;

#[server(endpoint = "activity_page")]
pub async fn activity_page(filter: ActivityFilter) -> Result<ActivityData, AppError> {
    use crate::dto::EventView;
    use gatehouse::service::activity::{self, Query};
    use gatehouse::service::ServiceError;

    let core = crate::ssr::core()?;
    let (ctx, account, actor) = crate::ssr::signed_in_context().await?;
    let query = Query {
        server: filter.server.clone(),
        client: filter.client.clone(),
        kind: filter.kind.clone(),
        outcome: filter.outcome.clone(),
        since: filter.since.clone(),
        until: filter.until.clone(),
        before: filter.before.clone(),
    };
    let (page, problem) = match activity::page(&core, &actor, &query).await {
        Ok(page) => (page, None),
        Err(ServiceError::Invalid(why)) => (
            activity::Page {
                events: Vec::new(),
                next: None,
            },
            Some(why),
        ),
        Err(err) => return Err(err.into()),
    };
    let encode = |q: &Query| serde_urlencoded_lite(q);
    let older = page.next.map(|id| {
        encode(&Query {
            before: id.to_string(),
            ..query.clone()
        })
    });
    let events = page
        .events
        .into_iter()
        .map(|row| EventView {
            id: row.id,
            at: gatehouse::clock::format_utc(row.at),
            user: row.username,
            actor: row.actor,
            what: activity::describe(&row.kind).to_owned(),
            kind: row.kind,
            server: row.server,
            client: row.client,
            outcome: row.outcome,
            detail: row.detail,
            ip: row.ip,
        })
        .collect();
    Ok(ActivityData {
        ctx,
        all_users: account.is_admin,
        events,
        query: encode(&Query {
            before: String::new(),
            ..query.clone()
        }),
        older,
        problem,
        filter,
        kinds: KINDS
            .iter()
            .map(|k| ((*k).to_owned(), activity::describe(k).to_owned()))
            .collect(),
    })
}

/// The filled-in filters as a query string (empty fields left out).
#[cfg(feature = "ssr")]
fn serde_urlencoded_lite(q: &gatehouse::service::activity::Query) -> String {
    let fields = [
        ("server", &q.server),
        ("client", &q.client),
        ("kind", &q.kind),
        ("outcome", &q.outcome),
        ("since", &q.since),
        ("until", &q.until),
        ("before", &q.before),
    ];
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        if !value.trim().is_empty() {
            out.append_pair(name, value.trim());
        }
    }
    out.finish()
}

/// Event kinds offered in the filter.
#[cfg(feature = "ssr")]
const KINDS: &[&str] = &[
    "mcp.call",
    "auth.sign_in",
    "auth.sign_in_failed",
    "consent.granted",
    "consent.denied",
    "token.issued",
    "token.refreshed",
    "token.reuse_detected",
    "grant.revoked",
    "server.added",
    "server.deleted",
    "server.probed",
    "vault.connected",
    "vault.disconnected",
    "vault.refresh_failed",
    "vault.step_up",
    "key.created",
    "key.revoked",
    "client.registered",
    "user.created",
    "user.invited",
];
