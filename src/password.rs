//! Password hashing: argon2id with OWASP parameters, always off the async runtime, and never
//! more at once than the machine has cores (each hash takes 19 MiB and a core for ~40 ms: an
//! unbounded burst of sign-ins would take gigabytes and every core).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;

use tokio::sync::Semaphore;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::domain::Password;

/// OWASP: m = 19 MiB, t = 2, p = 1.
fn hasher() -> Argon2<'static> {
    #[allow(clippy::unwrap_used)] // constant, valid parameters
    let params = Params::new(19_456, 2, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Verified against for unknown users, so "no such user" costs what "wrong password" costs.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(b"gatehouse-dummy-password", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Failed(String),
    /// Every core is hashing and the short queue is full: answer 503, try again shortly.
    #[error("too many password checks at once")]
    Busy,
}

/// At most one hash per core runs; a few more wait; the rest are turned away at once.
struct Gate {
    running: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
}

static GATE: LazyLock<Gate> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Gate {
        running: Semaphore::new(cores),
        waiting: AtomicUsize::new(0),
        max_waiting: 2 * cores,
    }
});

/// Runs `work` on a blocking thread once the gate lets it.
async fn gated<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, HashError> {
    let gate = &*GATE;
    if gate.waiting.fetch_add(1, Ordering::AcqRel) >= gate.max_waiting {
        gate.waiting.fetch_sub(1, Ordering::AcqRel);
        return Err(HashError::Busy);
    }
    let permit = gate.running.acquire().await;
    gate.waiting.fetch_sub(1, Ordering::AcqRel);
    let _permit = permit.map_err(|e| HashError::Failed(e.to_string()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| HashError::Failed(e.to_string()))
}

pub async fn hash(password: Password) -> Result<String, HashError> {
    gated(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| HashError::Failed(e.to_string()))
    })
    .await?
}

/// True iff `candidate` matches `stored`; with no stored hash it still spends the same work.
pub async fn verify(candidate: String, stored: Option<String>) -> Result<bool, HashError> {
    gated(move || {
        let has_user = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let matches = PasswordHash::new(&phc)
            .map(|parsed| {
                hasher()
                    .verify_password(candidate.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        has_user && matches
    })
    .await
}

/// Computes the dummy hash ahead of the first sign-in so its cost is not on that request.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> Password {
        Password::parse(s.to_owned()).unwrap_or_else(|_| unreachable!())
    }

    #[tokio::test]
    async fn hash_then_verify() -> Result<(), HashError> {
        let stored = hash(pw("correct horse battery")).await?;
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("correct horse battery".into(), Some(stored.clone())).await?);
        assert!(!verify("wrong horse battery".into(), Some(stored)).await?);
        Ok(())
    }

    #[tokio::test]
    async fn unknown_user_never_verifies() {
        assert!(!verify("gatehouse-dummy-password".into(), None)
            .await
            .unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_beyond_the_cores_and_a_short_queue_is_turned_away() {
        // All polled at once, as a flood of sign-ins arrives: the cores' worth run, twice as
        // many wait, the rest are refused at once instead of queueing 19 MiB each.
        let n = 64;
        let results =
            futures_util::future::join_all((0..n).map(|_| verify("guess".into(), None))).await;
        let busy = results
            .iter()
            .filter(|r| matches!(r, Err(HashError::Busy)))
            .count();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(n - busy, 3 * cores, "admitted: the running and the waiting");
        assert!(results
            .iter()
            .all(|r| matches!(r, Ok(false) | Err(HashError::Busy))));
        // Once the burst is over, checks run again.
        assert!(!verify("guess".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn garbage_hash_does_not_verify() {
        assert!(
            !verify("anything at all".into(), Some("not-a-phc-string".into()))
                .await
                .unwrap()
        );
    }
}
