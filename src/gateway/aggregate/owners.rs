//! Who opened each session of the aggregated `/mcp`: rmcp's session manager knows sessions,
//! not users, so the front door checks every request that names one (DESIGN.md §5: another
//! principal presenting it gets 404, as for an unknown session). Kept in memory by the
//! session id's hash; an entry unused for longer than rmcp keeps an idle session is dropped.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::{SecretHash, UserId};

/// Longer than rmcp's idle session lifetime (5 minutes): an entry past it names a dead session.
const IDLE: Duration = Duration::from_secs(10 * 60);

#[derive(Default)]
pub struct SessionOwners(Mutex<HashMap<String, (UserId, Instant)>>);

impl SessionOwners {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (UserId, Instant)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `user` opened the session `id` (and it is still in use).
    pub fn owned_by(&self, id: &str, user: UserId) -> bool {
        let now = Instant::now();
        match self.lock().get_mut(SecretHash::of(id).as_str()) {
            Some((owner, seen)) if *owner == user && now - *seen < IDLE => {
                *seen = now;
                true
            }
            _ => false,
        }
    }

    pub fn opened(&self, id: &str, user: UserId) {
        let now = Instant::now();
        let mut owners = self.lock();
        owners.retain(|_, (_, seen)| now - *seen < IDLE);
        owners.insert(SecretHash::of(id).as_str().to_owned(), (user, now));
    }

    pub fn closed(&self, id: &str) {
        self.lock().remove(SecretHash::of(id).as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_belongs_to_the_user_who_opened_it() {
        let owners = SessionOwners::default();
        let (alice, bob) = (UserId::new(1), UserId::new(2));
        owners.opened("s-1", alice);
        assert!(owners.owned_by("s-1", alice));
        assert!(!owners.owned_by("s-1", bob));
        assert!(!owners.owned_by("s-2", alice), "unknown");
        owners.closed("s-1");
        assert!(!owners.owned_by("s-1", alice));
    }
}
