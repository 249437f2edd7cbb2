//! The MCP gateway (DESIGN.md §5): `/mcp/{slug}` forwards a signed-in client's MCP traffic to
//! the user's upstream with the user's upstream credential injected. `Gateway` owns the
//! gateway's process state — its streaming client, route and session caches, stream slots
//! and the activity writer — and sits beside `Core` in the router state.

pub mod aggregate;
pub mod audit;
pub mod auth;
mod credentialed;
pub mod errors;
pub mod forward;
pub mod headers;
pub mod inspect;
mod route;
mod sessions;
pub mod streams;

use std::sync::Arc;
use std::time::Duration;

use crate::cache::{TtlCache, WatchedCache};
use crate::domain::UserId;
use crate::net::{GuardedClient, NetError, SystemLookup};
use crate::service::upstream::route::Route;
use crate::state::SharedCore;

/// The longest silence accepted from an upstream mid-response (tools may think for a while;
/// SSE streams are expected to send keep-alives).
pub const READ_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Gateway {
    pub core: SharedCore,
    /// Traffic to upstreams: the SSRF guard of `Core::http`, with streaming timeouts.
    http: GuardedClient,
    /// Recently resolved routes: (user, slug) → route (≤ 2 s, or until a server changes).
    routes: WatchedCache<(UserId, String), Arc<Route>>,
    /// Recently checked upstream session bindings: session hash → (user, server) (≤ 2 s).
    session_owners: TtlCache<String, (UserId, i64)>,
    /// Requests in flight through the gateway, per user.
    streams: streams::StreamCounter,
    /// Batched activity records of gateway calls.
    audit: audit::AuditSink,
    /// `Host` values `/mcp` answers (lowercase): the public URL's and `GATEHOUSE_ALLOWED_HOSTS`.
    hosts: Vec<String>,
    /// The aggregated `/mcp`'s sessions to upstreams, one per (user, server).
    pub(crate) upstreams: aggregate::upstream::Sessions,
    /// Notifications from those sessions to the aggregated endpoint's clients.
    pub(crate) relay: Arc<aggregate::Relay>,
    /// Which upstreams serve stateless calls (those pass through the forwarder).
    pub(crate) revisions: aggregate::passthrough::Revisions,
    /// Calls passed through from sessions of `/mcp`, to cancel on the client's word.
    pub(crate) in_flight: Arc<aggregate::passthrough::InFlight>,
    /// Which server listed a resource URI (reads go there only).
    resources: aggregate::ResourceIndex,
    /// Who opened each session of the aggregated `/mcp`.
    pub(crate) aggregate_sessions: aggregate::SessionOwners,
    /// Cancelled when the server stops: the aggregated endpoint's standing streams end, so
    /// a graceful shutdown does not wait for clients to hang up.
    pub(crate) closing: tokio_util::sync::CancellationToken,
}

pub type SharedGateway = Arc<Gateway>;

impl Gateway {
    pub fn new(core: SharedCore) -> Result<Self, NetError> {
        let http = GuardedClient::streaming(
            core.config.allow_private_networks.clone(),
            core.config.extra_ca_file.as_deref(),
            Arc::new(SystemLookup),
            READ_TIMEOUT,
        )?;
        let mut hosts = vec![core.public_url.authority()];
        hosts.extend(core.config.allowed_hosts.iter().cloned());
        Ok(Self {
            hosts,
            core,
            http,
            routes: Default::default(),
            session_owners: Default::default(),
            streams: Default::default(),
            audit: Default::default(),
            upstreams: Default::default(),
            relay: Default::default(),
            resources: Default::default(),
            revisions: Default::default(),
            in_flight: Default::default(),
            aggregate_sessions: Default::default(),
            closing: Default::default(),
        })
    }

    /// Whether a request addressed to `host` (a `Host` header) is for this Gatehouse. An
    /// allowed name without a port matches it on any port.
    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let name = match host.rsplit_once(':') {
            // `[::1]:3000` and `name:3000`, not the colons inside `[::1]`.
            Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                name
            }
            _ => host.as_str(),
        };
        self.hosts
            .iter()
            .any(|allowed| *allowed == host || (!allowed.contains(':') && allowed == name))
    }

    /// A place among the user's requests in flight, held until the response ends; `None` at
    /// the cap.
    pub(crate) fn stream_slot(&self, user: UserId) -> Option<streams::Slot> {
        self.streams.acquire(user, streams::PER_USER_LIMIT)
    }

    /// The server is stopping: ends the aggregated endpoint's open streams.
    pub fn close(&self) {
        self.closing.cancel();
    }

    /// Whether the user has a server with this slug (the route cache answers).
    pub async fn owns(&self, user: UserId, slug: &str) -> bool {
        route::route(self, user, slug).await.is_ok()
    }

    /// Waits until every call recorded so far is in the activity log (tests, shutdown).
    pub async fn flush_activity(&self) {
        self.audit.flush(&self.core).await;
    }
}
