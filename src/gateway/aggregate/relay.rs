//! Notifications from upstream sessions to the clients of the aggregated `/mcp`: a list
//! change on one of a user's servers reaches every open client session of that user, and a
//! progress notification reaches the client whose call it is about, under the client's own
//! progress token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::model::{NumberOrString, ProgressNotificationParam, ProgressToken};
use rmcp::service::Peer;
use rmcp::RoleServer;

use super::Kind;
use crate::domain::{SecretToken, UserId};

type ProgressRoutes = Mutex<HashMap<String, (Peer<RoleServer>, ProgressToken)>>;

#[derive(Default)]
pub struct Relay {
    /// Open client sessions (legacy era, with a standing stream) per user.
    clients: Mutex<HashMap<UserId, Vec<Peer<RoleServer>>>>,
    /// Our progress token on an upstream call → the client and its token.
    progress: Arc<ProgressRoutes>,
}

/// While alive, progress under `token()` goes to the client; dropped when the call ends.
pub struct ProgressRoute {
    token: String,
    routes: Arc<ProgressRoutes>,
}

impl ProgressRoute {
    pub fn token(&self) -> ProgressToken {
        ProgressToken(NumberOrString::String(self.token.clone().into()))
    }
}

impl Drop for ProgressRoute {
    fn drop(&mut self) {
        lock(&self.routes).remove(&self.token);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Relay {
    pub fn register(&self, user: UserId, peer: Peer<RoleServer>) {
        let mut clients = lock(&self.clients);
        let peers = clients.entry(user).or_default();
        peers.retain(|p| !p.is_transport_closed());
        peers.push(peer);
    }

    /// The user's open client sessions (closed ones are forgotten).
    fn peers(&self, user: UserId) -> Vec<Peer<RoleServer>> {
        let mut clients = lock(&self.clients);
        let Some(peers) = clients.get_mut(&user) else {
            return Vec::new();
        };
        peers.retain(|p| !p.is_transport_closed());
        let open = peers.clone();
        if open.is_empty() {
            clients.remove(&user);
        }
        open
    }

    pub async fn changed(&self, user: UserId, slug: &str, kind: Kind) {
        tracing::debug!(server = slug, ?kind, "upstream list changed");
        for peer in self.peers(user) {
            let sent = match kind {
                Kind::Tools => peer.notify_tool_list_changed().await,
                Kind::Prompts => peer.notify_prompt_list_changed().await,
                Kind::Resources => peer.notify_resource_list_changed().await,
            };
            if let Err(err) = sent {
                tracing::debug!(%err, "a client session went away before a list change");
            }
        }
    }

    pub fn track_progress(&self, peer: Peer<RoleServer>, theirs: ProgressToken) -> ProgressRoute {
        let token = SecretToken::generate("gh_pg_").expose().to_owned();
        lock(&self.progress).insert(token.clone(), (peer, theirs));
        ProgressRoute {
            token,
            routes: self.progress.clone(),
        }
    }

    pub async fn progress(&self, mut params: ProgressNotificationParam) {
        let NumberOrString::String(ours) = &params.progress_token.0 else {
            return;
        };
        let Some((peer, theirs)) = lock(&self.progress).get(ours.as_ref()).cloned() else {
            return;
        };
        params.progress_token = theirs;
        if let Err(err) = peer.notify_progress(params).await {
            tracing::debug!(%err, "progress for a client that went away");
        }
    }
}
