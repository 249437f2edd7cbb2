//! Short-lived caches for the request hot path: a validated bearer token, a gateway route,
//! an upstream credential. Entries live at most 2 s, so a change made by another process
//! (the CLI, a second instance) takes effect within that; changes made by this process clear
//! the cache at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const TTL: Duration = Duration::from_secs(2);
const MAX_ENTRIES: usize = 50_000;

pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K, V> Default for TtlCache<K, V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    /// The value stored for `key` less than `TTL` before `now`.
    pub fn get(&self, key: &K, now: Instant) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        let (value, at) = entries.get(key)?;
        (now.duration_since(*at) < TTL).then(|| value.clone())
    }

    pub fn put(&self, key: K, value: V, now: Instant) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, (_, at)| now.duration_since(*at) < TTL);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(key, (value, now));
        }
    }

    /// Forget everything: called after any change in this process that could make an
    /// entry wrong (a revocation, a deleted server, a refreshed token).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

/// Validated bearer tokens: (token hash, slug) → principal.
pub type BearerCache = TtlCache<(String, String), super::tokens::Principal>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_the_ttl_and_clear_empties() {
        let cache: TtlCache<(&str, &str), u32> = TtlCache::default();
        let t0 = Instant::now();
        cache.put(("h", "gmail"), 7, t0);
        assert_eq!(
            cache.get(&("h", "gmail"), t0 + Duration::from_millis(1999)),
            Some(7)
        );
        assert_eq!(cache.get(&("h", "gmail"), t0 + TTL), None);
        assert_eq!(cache.get(&("h", "drive"), t0), None);
        cache.clear();
        assert_eq!(cache.get(&("h", "gmail"), t0), None);
    }
}
