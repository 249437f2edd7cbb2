//! Upstream credentials as stored and as injected: sealing and opening a connection's tokens,
//! the ≤ 2 s cache of opened ones, and the single-flight registry that lets concurrent
//! callers in one process share one refresh (DESIGN.md §4).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use secrecy::{ExposeSecret, SecretString};

use super::cipher::{Binding, Cipher};
use crate::cache::TtlCache;
use crate::domain::{UnixTime, UserId};

/// An upstream access token ready to inject.
#[derive(Clone)]
pub struct Credential {
    pub token: SecretString,
    pub expires_at: Option<UnixTime>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credential(<redacted>, expires_at: {:?})",
            self.expires_at
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("the server is not connected")]
    NotConnected,
    #[error("the connection needs re-authentication")]
    NeedsReauth,
    /// The provider failed in a way that may pass (unreachable, 5xx, odd answer).
    #[error("refreshing failed: {0}")]
    Provider(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for CredentialError {
    fn from(err: sqlx::Error) -> Self {
        CredentialError::Internal(format!("database: {err}"))
    }
}

/// The cipher binding of a `connections` token column (row id = the server's id).
pub fn binding(column: &'static str, id: i64, user: UserId) -> Binding<'static> {
    Binding {
        table: "connections",
        column,
        row_id: id,
        user,
    }
}

pub fn open(
    cipher: &Cipher,
    sealed: &str,
    b: Binding<'_>,
) -> Result<SecretString, CredentialError> {
    cipher
        .decrypt_text(sealed, b)
        .map(SecretString::from)
        .map_err(|_| CredentialError::Internal("a stored token cannot be decrypted".into()))
}

pub fn seal(
    cipher: &Cipher,
    secret: &SecretString,
    b: Binding<'_>,
) -> Result<String, CredentialError> {
    cipher
        .encrypt(secret.expose_secret().as_bytes(), b)
        .map_err(|e| CredentialError::Internal(e.to_string()))
}

/// (user, connection) → credential, read less than 2 s ago; cleared whenever this process
/// stores, refreshes or deletes a connection.
pub type CredentialCache = TtlCache<(UserId, i64), Credential>;

type Flight = Shared<BoxFuture<'static, Result<(), CredentialError>>>;

/// Refreshes under way in this process, by connection id: the first caller starts one, the
/// others await the same future.
#[derive(Default)]
pub struct Flights {
    running: Arc<Mutex<HashMap<i64, Flight>>>,
    /// Refreshes this process has started (what single-flight keeps low).
    started: AtomicUsize,
}

impl Flights {
    pub fn started(&self) -> usize {
        self.started.load(Ordering::Relaxed)
    }

    /// Joins the flight for `connection`, or starts `refresh` as the new one.
    pub async fn join_or_start(
        &self,
        connection: i64,
        refresh: impl FnOnce() -> BoxFuture<'static, Result<(), CredentialError>>,
    ) -> Result<(), CredentialError> {
        let flight = {
            let mut running = self
                .running
                .lock()
                .map_err(|_| CredentialError::Internal("refresh registry poisoned".into()))?;
            match running.get(&connection) {
                Some(flight) => flight.clone(),
                None => {
                    self.started.fetch_add(1, Ordering::Relaxed);
                    let registry = Arc::clone(&self.running);
                    let work = refresh();
                    let flight = async move {
                        let outcome = work.await;
                        if let Ok(mut running) = registry.lock() {
                            running.remove(&connection);
                        }
                        outcome
                    }
                    .boxed()
                    .shared();
                    running.insert(connection, flight.clone());
                    flight
                }
            }
        };
        flight.await
    }
}
