//! Recently validated bearer tokens, so a busy client costs one hash and a map lookup per
//! request. Entries live at most 2 s: a revocation made by another process (the CLI) takes
//! effect within that; revocations made by this process clear the cache at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::tokens::Principal;

pub const TTL: Duration = Duration::from_secs(2);
const MAX_ENTRIES: usize = 50_000;

#[derive(Default)]
pub struct BearerCache {
    entries: Mutex<HashMap<(String, String), (Principal, Instant)>>,
}

impl BearerCache {
    /// A cached principal for (token hash, slug) validated less than `TTL` before `now`.
    pub fn get(&self, token_hash: &str, slug: &str, now: Instant) -> Option<Principal> {
        let entries = self.entries.lock().ok()?;
        let (principal, at) = entries.get(&(token_hash.to_owned(), slug.to_owned()))?;
        (now.duration_since(*at) < TTL).then(|| principal.clone())
    }

    pub fn put(&self, token_hash: &str, slug: &str, principal: Principal, now: Instant) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, (_, at)| now.duration_since(*at) < TTL);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert((token_hash.to_owned(), slug.to_owned()), (principal, now));
        }
    }

    /// Forget everything: called after any revocation in this process.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    fn p() -> Principal {
        Principal {
            user: UserId::new(1),
            client_id: "c".into(),
            grant_id: 1,
        }
    }

    #[test]
    fn entries_expire_after_the_ttl_and_clear_empties() {
        let cache = BearerCache::default();
        let t0 = Instant::now();
        cache.put("h", "gmail", p(), t0);
        assert_eq!(
            cache.get("h", "gmail", t0 + Duration::from_millis(1999)),
            Some(p())
        );
        assert_eq!(cache.get("h", "gmail", t0 + TTL), None);
        assert_eq!(cache.get("h", "drive", t0), None, "bound to the slug");
        cache.clear();
        assert_eq!(cache.get("h", "gmail", t0), None);
    }
}
