//! The Admin page (administrators only): accounts and invites, every OAuth client, and the
//! deployment checks.

use leptos::prelude::*;

use crate::dto::{AdminData, ChecksData, StatsData};
use crate::error::AppError;

#[server(endpoint = "admin_page")]
pub async fn admin_page() -> Result<AdminData, AppError> {
    use crate::dto::{AccountRow, ClientAdminRow};
    use gatehouse::clock::format_utc;
    use gatehouse::service::{accounts, client_admin, servers};

    let core = crate::ssr::core()?;
    let (ctx, account, actor) = crate::ssr::signed_in_context().await?;
    if !account.is_admin {
        return Err(AppError::Forbidden);
    }
    let users = accounts::list(&core, &actor)
        .await?
        .into_iter()
        .map(|u| AccountRow {
            active: u.password_hash.is_some(),
            username: u.username,
            is_admin: u.is_admin,
            created: format_utc(u.created_at),
        })
        .collect();
    let clients = client_admin::list(&core, &actor)
        .await?
        .into_iter()
        .map(|c| ClientAdminRow {
            redirect_hosts: c.redirect_hosts().join(", "),
            name: c.client_name.unwrap_or_else(|| "(unnamed)".into()),
            kind: if c.kind == "cimd" {
                "metadata document".into()
            } else {
                "registered".into()
            },
            created: format_utc(c.created_at),
            disabled: c.disabled,
            active_grants: c.active_grants,
            client_id: c.client_id,
        })
        .collect();
    Ok(AdminData {
        ctx,
        users,
        server_count: servers::count_all(&core, &actor).await?,
        clients,
    })
}

/// Counts and traffic for administrators.
#[server(endpoint = "stats_page")]
pub async fn stats_page() -> Result<StatsData, AppError> {
    use crate::dto::TrafficRow;
    use gatehouse::service::stats::{self, ServerTraffic};

    let core = crate::ssr::core()?;
    let (ctx, _, actor) = crate::ssr::signed_in_context().await?;
    let now = gatehouse::clock::now();
    let s = stats::stats(&core, &actor, now).await?;
    let t = &s.totals;
    let mut counts: Vec<(String, i64)> = vec![
        ("Users".into(), t.users),
        ("AI clients registered (DCR)".into(), t.clients_dcr),
        (
            "AI clients by metadata document (CIMD)".into(),
            t.clients_cimd,
        ),
    ];
    counts.extend(
        s.known_clients
            .iter()
            .map(|(label, n)| (format!("… of them recognised as {label}"), *n)),
    );
    counts.extend([
        ("Active grants".to_owned(), t.grants),
        ("Live access tokens".to_owned(), t.access_tokens),
        ("Live refresh tokens".to_owned(), t.refresh_tokens),
        ("Active API keys".to_owned(), t.api_keys),
        ("Upstream connections: connected".to_owned(), t.connected),
        (
            "Upstream connections: expiring (< 5 min)".to_owned(),
            t.expiring,
        ),
        (
            "Upstream connections: needs re-authentication".to_owned(),
            t.needs_reauth,
        ),
        (
            "Upstream connections: with an error".to_owned(),
            t.with_error,
        ),
        ("Upstream refreshes (24 h)".to_owned(), s.refreshes_day),
        (
            "Upstream refresh failures (24 h)".to_owned(),
            s.refresh_failures_day,
        ),
        (
            "Rate-limit refusals (since this process started)".to_owned(),
            i64::try_from(s.rate_limited).unwrap_or(i64::MAX),
        ),
    ]);
    let ms = |v: Option<i64>| v.map(|v| format!("{v} ms")).unwrap_or_else(|| "–".into());
    let rows = |list: &[ServerTraffic]| -> Vec<TrafficRow> {
        list.iter()
            .map(|r| TrafficRow {
                server: r.server.clone(),
                calls: r.calls,
                failed: r.failed,
                error_rate: format!("{:.1} %", r.error_rate() * 100.0),
                p50: ms(r.p50_ms),
                p95: ms(r.p95_ms),
            })
            .collect()
    };
    // Every hour of the last day, empty ones included, so the chart's x axis is time.
    let first = (now / 3600) * 3600 - 23 * 3600;
    let hourly = (0..24)
        .map(|i| {
            let hour = first + i * 3600;
            let (calls, failed) = s
                .hourly
                .iter()
                .find(|(h, _, _)| *h == hour)
                .map(|(_, c, f)| (*c, *f))
                .unwrap_or((0, 0));
            let label = gatehouse::clock::format_utc(hour);
            (label[11..16].to_owned(), calls, failed)
        })
        .collect();
    Ok(StatsData {
        ctx,
        counts,
        last_hour: rows(&s.last_hour),
        last_day: rows(&s.last_day),
        hourly,
    })
}

/// The deployment checks of `gatehouse doctor`, run now (administrators only). They register
/// a throwaway client through the public URL and delete it again.
#[server(endpoint = "deployment_checks")]
pub async fn deployment_checks() -> Result<ChecksData, AppError> {
    use crate::dto::CheckView;
    use gatehouse::service::doctor;

    let core = crate::ssr::core()?;
    let (ctx, account, _) = crate::ssr::signed_in_context().await?;
    if !account.is_admin {
        return Err(AppError::Forbidden);
    }
    let checks = doctor::run(&core)
        .await
        .into_iter()
        .map(|c| CheckView {
            verdict: c.verdict.label().to_owned(),
            name: c.name,
            detail: c.detail,
        })
        .collect();
    Ok(ChecksData { ctx, checks })
}

/// Creates an invited account; the one-time link is in the message, shown only now.
#[server(endpoint = "invite_user")]
pub async fn invite_user(
    #[server(rename = "_csrf")]
    #[server(default)]
    csrf: String,
    username: String,
    #[server(default)] is_admin: Option<String>,
) -> Result<String, AppError> {
    let outcome = async {
        let (core, _, _, actor) = crate::ssr::signed_in_action(&csrf).await?;
        let (user, token) =
            gatehouse::service::accounts::invite(&core, &actor, &username, is_admin.is_some())
                .await?;
        let link = core.public_url.join(&format!("/invite/{}", token.expose()));
        Ok(format!("Created {}. Send them this one-time link to choose a password (valid 7 days, shown only now): {link}", user.username))
    };
    crate::ssr::finish("/admin", outcome.await).await
}

/// Disables, enables or deletes a client for everyone.
#[server(endpoint = "client_action")]
pub async fn client_action(
    #[server(rename = "_csrf")]
    #[server(default)]
    csrf: String,
    client_id: String,
    action: String,
) -> Result<String, AppError> {
    use gatehouse::service::client_admin::{self, Action};
    let outcome = async {
        let (core, _, _, actor) = crate::ssr::signed_in_action(&csrf).await?;
        let (action, done) = match action.as_str() {
            "disable" => (Action::Disable, "disabled: its tokens stopped working"),
            "enable" => (Action::Enable, "enabled"),
            "delete" => (Action::Delete, "deleted with its grants and tokens"),
            _ => return Err(AppError::Invalid("Unknown action.".into())),
        };
        client_admin::apply(&core, &actor, &client_id, action).await?;
        Ok(format!("Client {client_id} {done}."))
    };
    crate::ssr::finish("/admin", outcome.await).await
}
