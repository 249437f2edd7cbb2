//! Per-user cap on requests in flight through the gateway (streams included): a slot is held
//! until the response body ends or the client goes away.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::UserId;

/// High enough for many clients with long-lived SSE streams (DESIGN.md §11 wants 1,000 open).
pub const PER_USER_LIMIT: usize = 4096;

#[derive(Default)]
pub struct StreamCounter(Arc<Mutex<HashMap<UserId, usize>>>);

/// Holding one slot; released on drop.
pub struct Slot {
    counts: Arc<Mutex<HashMap<UserId, usize>>>,
    user: UserId,
}

impl StreamCounter {
    pub fn acquire(&self, user: UserId, limit: usize) -> Option<Slot> {
        let mut counts = self.0.lock().ok()?;
        let n = counts.entry(user).or_insert(0);
        if *n >= limit {
            return None;
        }
        *n += 1;
        crate::telemetry::streams_opened();
        Some(Slot {
            counts: self.0.clone(),
            user,
        })
    }

    #[cfg(test)]
    fn open(&self, user: UserId) -> usize {
        self.0
            .lock()
            .ok()
            .and_then(|c| c.get(&user).copied())
            .unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        crate::telemetry::streams_closed();
        if let Ok(mut counts) = self.counts.lock() {
            if let Some(n) = counts.get_mut(&self.user) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(&self.user);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_user_and_released_on_drop() {
        let c = StreamCounter::default();
        let (a, b) = (UserId::new(1), UserId::new(2));
        let first = c.acquire(a, 2).unwrap();
        let _second = c.acquire(a, 2).unwrap();
        assert!(c.acquire(a, 2).is_none());
        assert!(c.acquire(b, 2).is_some(), "another user is not affected");
        drop(first);
        assert_eq!(c.open(a), 1);
        assert!(c.acquire(a, 2).is_some());
    }
}
