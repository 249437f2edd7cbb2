//! Short-lived caches for the request hot path: a validated bearer token, a gateway route,
//! an upstream credential. Entries live at most 2 s, so a change made by another process
//! (the CLI, a second instance) takes effect within that; changes made by this process clear
//! the cache at once, directly or through a [`Generation`] its owner watches.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// Lets something happen at most once per period per key (e.g. recording a key's last use
/// at most once a minute, off the request path).
pub struct Throttle<K> {
    last: Mutex<HashMap<K, Instant>>,
    every: Duration,
}

impl<K: Hash + Eq> Throttle<K> {
    pub fn new(every: Duration) -> Self {
        Self {
            last: Mutex::new(HashMap::new()),
            every,
        }
    }

    /// True (and remembered) when `key` last fired `every` or more before `now`.
    pub fn due(&self, key: K, now: Instant) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return false;
        };
        if last.len() >= MAX_ENTRIES {
            let every = self.every;
            last.retain(|_, at| now.duration_since(*at) < every);
        }
        match last.get(&key) {
            Some(at) if now.duration_since(*at) < self.every => false,
            _ => {
                last.insert(key, now);
                true
            }
        }
    }
}

/// A counter bumped by every change that may make some cache wrong. A cache owned outside
/// the code that makes the change (the gateway's routes) compares it before reading, so the
/// use-case layer needs to know nothing about who caches what.
#[derive(Default)]
pub struct Generation(AtomicU64);

impl Generation {
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }

    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// A [`TtlCache`] that forgets everything when a [`Generation`] has moved since it last looked.
pub struct WatchedCache<K, V> {
    cache: TtlCache<K, V>,
    seen: AtomicU64,
}

impl<K, V> Default for WatchedCache<K, V> {
    fn default() -> Self {
        Self {
            cache: TtlCache::default(),
            seen: AtomicU64::new(0),
        }
    }
}

impl<K: Hash + Eq, V: Clone> WatchedCache<K, V> {
    fn sync(&self, generation: &Generation) {
        let now = generation.current();
        // A plain load on the hot path: the swap (a write every core sees) only on a change.
        if self.seen.load(Ordering::Acquire) != now && self.seen.swap(now, Ordering::AcqRel) != now
        {
            self.cache.clear();
        }
    }

    pub fn get(&self, generation: &Generation, key: &K, now: Instant) -> Option<V> {
        self.sync(generation);
        self.cache.get(key, now)
    }

    /// Stores `value` read at generation `read_at`: a change since then makes it stale at once.
    pub fn put(&self, generation: &Generation, read_at: u64, key: K, value: V, now: Instant) {
        self.sync(generation);
        if generation.current() == read_at {
            self.cache.put(key, value, now);
        }
    }
}

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

    #[test]
    fn a_throttle_fires_once_per_period() {
        let t = Throttle::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(t.due(1, t0));
        assert!(!t.due(1, t0 + Duration::from_secs(59)));
        assert!(t.due(2, t0), "per key");
        assert!(t.due(1, t0 + Duration::from_secs(60)));
    }

    #[test]
    fn a_watched_cache_forgets_when_the_generation_moves() {
        let generation = Generation::default();
        let cache: WatchedCache<&str, u32> = WatchedCache::default();
        let t0 = Instant::now();
        cache.put(&generation, generation.current(), "gmail", 7, t0);
        assert_eq!(cache.get(&generation, &"gmail", t0), Some(7));
        generation.bump();
        assert_eq!(cache.get(&generation, &"gmail", t0), None);
        // A value read before a change is not stored after it.
        let read_at = generation.current();
        generation.bump();
        cache.put(&generation, read_at, "gmail", 8, t0);
        assert_eq!(cache.get(&generation, &"gmail", t0), None);
    }
}
