//! The administrators' stats page: what other MCP OAuth servers' `/oauth/stats` show, plus the
//! gateway's traffic, read from the database (so every instance sees the same numbers) — and
//! the rate-limit refusals of this process.

use std::collections::BTreeMap;

use super::{Actor, ServiceError};
use crate::clock::UnixTime;
use crate::oauth::client_registration::preset_label;
use crate::state::Core;
use crate::store::stats::{self, Totals};

/// A token expiring within this long counts as *expiring*.
const SOON: i64 = 300;

#[derive(Debug, Clone)]
pub struct ServerTraffic {
    pub server: String,
    pub calls: i64,
    pub failed: i64,
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
}

impl ServerTraffic {
    pub fn error_rate(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.failed as f64 / self.calls as f64
        }
    }
}

#[derive(Debug, Clone)]
pub struct Stats {
    pub totals: Totals,
    /// Registered clients recognised as a known client, by label (Claude, ChatGPT, …).
    pub known_clients: BTreeMap<&'static str, i64>,
    pub last_hour: Vec<ServerTraffic>,
    pub last_day: Vec<ServerTraffic>,
    /// (hour start, calls, failed) for the last 24 hours.
    pub hourly: Vec<(UnixTime, i64, i64)>,
    pub refreshes_day: i64,
    pub refresh_failures_day: i64,
    /// Refused by a rate limit since this process started.
    pub rate_limited: u64,
}

async fn traffic(core: &Core, since: UnixTime) -> Result<Vec<ServerTraffic>, ServiceError> {
    let mut out = Vec::new();
    for (server, calls, failed) in stats::calls_per_server(&core.pool, since).await? {
        // Nearest-rank percentiles over the calls that have a duration.
        let rank = |p: f64| ((calls as f64 * p).ceil() as i64 - 1).max(0);
        let p50_ms = stats::duration_at(&core.pool, &server, since, rank(0.50)).await?;
        let p95_ms = stats::duration_at(&core.pool, &server, since, rank(0.95)).await?;
        out.push(ServerTraffic {
            server,
            calls,
            failed,
            p50_ms,
            p95_ms,
        });
    }
    Ok(out)
}

pub async fn stats(core: &Core, viewer: &Actor, now: UnixTime) -> Result<Stats, ServiceError> {
    if !viewer.is_admin {
        return Err(ServiceError::Forbidden);
    }
    let mut known_clients = BTreeMap::new();
    for uris in stats::client_redirects(&core.pool).await? {
        let uris: Vec<String> = serde_json::from_str(&uris).unwrap_or_default();
        if let Some(label) = uris.iter().find_map(|u| preset_label(u)) {
            *known_clients.entry(label).or_insert(0) += 1;
        }
    }
    Ok(Stats {
        totals: stats::totals(&core.pool, now, SOON).await?,
        known_clients,
        last_hour: traffic(core, now - 3600).await?,
        last_day: traffic(core, now - 86400).await?,
        hourly: stats::calls_per_hour(&core.pool, now, 24).await?,
        refreshes_day: stats::events_since(&core.pool, "vault.refreshed", now - 86400).await?,
        refresh_failures_day: stats::events_since(&core.pool, "vault.refresh_failed", now - 86400)
            .await?,
        rate_limited: crate::telemetry::rate_limited_total(),
    })
}
