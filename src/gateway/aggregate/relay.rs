//! Notifications from upstream sessions to the clients of the aggregated `/mcp`: a list
//! change on one of a user's servers reaches every listening client of that user — a session
//! of the `initialize` era (its standing stream) or a 2026-07-28 `subscriptions/listen` —,
//! and a progress notification reaches the client whose call it is about, under the client's
//! own progress token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use std::sync::atomic::{AtomicU64, Ordering};

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::{Peer, SubscriptionSink};
use rmcp::RoleServer;

use super::Kind;
use crate::domain::UserId;

/// (user, server slug, the upstream session's progress token) → the client and its token.
type ProgressRoutes =
    Mutex<HashMap<(UserId, String, ProgressToken), (Peer<RoleServer>, ProgressToken)>>;

/// Where a user's list changes go.
#[derive(Clone)]
enum Listener {
    /// A client session of the `initialize` era (closed ones are dropped on the next use).
    Session(Peer<RoleServer>),
    /// A `subscriptions/listen` request (removed when it ends), by id.
    Subscription(u64, SubscriptionSink),
}

impl Listener {
    fn open(&self) -> bool {
        match self {
            Listener::Session(peer) => !peer.is_transport_closed(),
            Listener::Subscription(..) => true,
        }
    }
}

type Listeners = Mutex<HashMap<UserId, Vec<Listener>>>;

#[derive(Default)]
pub struct Relay {
    clients: Arc<Listeners>,
    next_subscription: AtomicU64,
    /// Progress of upstream calls → the client that made the call.
    progress: Arc<ProgressRoutes>,
}

/// While alive, the upstream call's progress goes to the client; dropped when the call ends.
pub struct ProgressRoute {
    key: (UserId, String, ProgressToken),
    routes: Arc<ProgressRoutes>,
}

impl Drop for ProgressRoute {
    fn drop(&mut self) {
        lock(&self.routes).remove(&self.key);
    }
}

/// While alive, list changes reach a `subscriptions/listen` stream.
pub struct Subscribed {
    user: UserId,
    id: u64,
    clients: Arc<Listeners>,
}

impl Drop for Subscribed {
    fn drop(&mut self) {
        let mut clients = lock(&self.clients);
        if let Some(listeners) = clients.get_mut(&self.user) {
            listeners.retain(|l| !matches!(l, Listener::Subscription(id, _) if *id == self.id));
            if listeners.is_empty() {
                clients.remove(&self.user);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Relay {
    fn add(&self, user: UserId, listener: Listener) {
        let mut clients = lock(&self.clients);
        let listeners = clients.entry(user).or_default();
        listeners.retain(Listener::open);
        listeners.push(listener);
    }

    /// A client session of the `initialize` era, listening on its standing stream.
    pub fn register(&self, user: UserId, peer: Peer<RoleServer>) {
        self.add(user, Listener::Session(peer));
    }

    /// A `subscriptions/listen` stream, listening until the returned guard is dropped.
    pub fn subscribe(&self, user: UserId, sink: SubscriptionSink) -> Subscribed {
        let id = self.next_subscription.fetch_add(1, Ordering::Relaxed);
        self.add(user, Listener::Subscription(id, sink));
        Subscribed {
            user,
            id,
            clients: self.clients.clone(),
        }
    }

    /// The user's listeners (closed sessions are forgotten).
    fn listeners(&self, user: UserId) -> Vec<Listener> {
        let mut clients = lock(&self.clients);
        let Some(listeners) = clients.get_mut(&user) else {
            return Vec::new();
        };
        listeners.retain(Listener::open);
        let open = listeners.clone();
        if open.is_empty() {
            clients.remove(&user);
        }
        open
    }

    pub async fn changed(&self, user: UserId, slug: &str, kind: Kind) {
        tracing::debug!(server = slug, ?kind, "upstream list changed");
        for listener in self.listeners(user) {
            let sent = match (&listener, kind) {
                (Listener::Session(peer), Kind::Tools) => peer.notify_tool_list_changed().await,
                (Listener::Session(peer), Kind::Prompts) => peer.notify_prompt_list_changed().await,
                (Listener::Session(peer), Kind::Resources) => {
                    peer.notify_resource_list_changed().await
                }
                // The sink sends only what the client subscribed to.
                (Listener::Subscription(_, sink), kind) => {
                    let sent = match kind {
                        Kind::Tools => sink.notify_tool_list_changed().await,
                        Kind::Prompts => sink.notify_prompt_list_changed().await,
                        Kind::Resources => sink.notify_resource_list_changed().await,
                    };
                    if let Err(err) = sent {
                        tracing::debug!(%err, "a subscription did not take a list change");
                    }
                    Ok(())
                }
            };
            if let Err(err) = sent {
                tracing::debug!(%err, "a client went away before a list change");
            }
        }
    }

    /// Routes the progress of an upstream call (rmcp gives each request of a session a
    /// token of its own) to the client under the client's token.
    pub fn track_progress(
        &self,
        (user, slug, upstream): (UserId, &str, ProgressToken),
        peer: Peer<RoleServer>,
        theirs: ProgressToken,
    ) -> ProgressRoute {
        let key = (user, slug.to_owned(), upstream);
        lock(&self.progress).insert(key.clone(), (peer, theirs));
        ProgressRoute {
            key,
            routes: self.progress.clone(),
        }
    }

    pub async fn progress(&self, user: UserId, slug: &str, mut params: ProgressNotificationParam) {
        let key = (user, slug.to_owned(), params.progress_token.clone());
        let Some((peer, theirs)) = lock(&self.progress).get(&key).cloned() else {
            return;
        };
        params.progress_token = theirs;
        if let Err(err) = peer.notify_progress(params).await {
            tracing::debug!(%err, "progress for a client that went away");
        }
    }
}
