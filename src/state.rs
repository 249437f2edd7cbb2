//! `Core`: what every request handler and server function shares, behind an `Arc`.

use std::sync::{Arc, Mutex};

use sqlx::SqlitePool;

use crate::config::{Config, PublicUrl};
use crate::domain::{SecretHash, SecretToken};
use crate::net::{GuardedClient, NetError, SystemLookup};
use crate::rate_limit::Limits;
use crate::store;
use crate::vault::cipher::Cipher;

/// The longest silence accepted from an upstream mid-response (tools may think for a while;
/// SSE streams are expected to send keep-alives).
pub const GATEWAY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

pub struct Core {
    pub pool: SqlitePool,
    pub config: Config,
    /// The issuer origin, resolved against the bound address.
    pub public_url: PublicUrl,
    pub limits: Limits,
    pub bearer_cache: crate::service::ttl_cache::BearerCache,
    /// Upstream and vault traffic (allow-list: `GATEHOUSE_ALLOW_PRIVATE_NETWORKS`).
    pub http: GuardedClient,
    /// Gateway traffic to upstreams: same guard, streaming timeouts.
    pub gateway_http: GuardedClient,
    /// Requests in flight through the gateway, per user.
    pub gateway_streams: crate::gateway::streams::StreamCounter,
    /// Recently checked upstream session bindings: session hash → (user, server) (≤ 2 s).
    pub gateway_session_owners:
        crate::service::ttl_cache::TtlCache<String, (crate::domain::UserId, i64)>,
    /// Recently resolved gateway routes (≤ 2 s).
    pub gateway_routes: crate::gateway::route::RouteCache,
    /// Recently read upstream credentials (≤ 2 s, never past their refresh time).
    pub credentials: crate::vault::refresh::CredentialCache,
    /// Batched activity records of gateway calls.
    pub gateway_audit: crate::gateway::audit::AuditSink,
    /// Client ID Metadata Document fetches (allow-list: `GATEHOUSE_CIMD_ALLOW_PRIVATE_NETWORKS`).
    pub cimd_http: GuardedClient,
    /// Encrypts upstream secrets (DESIGN.md §6).
    pub cipher: Cipher,
    /// Upstream token refreshes under way in this process (single-flight).
    pub flights: crate::vault::refresh::Flights,
    /// Hash of the one-time setup code, while no account exists.
    setup_code: Mutex<Option<SecretHash>>,
}

pub type SharedCore = Arc<Core>;

impl Core {
    pub fn new(
        pool: SqlitePool,
        config: Config,
        public_url: PublicUrl,
        cipher: Cipher,
    ) -> Result<Self, NetError> {
        let ca = config.extra_ca_file.as_deref();
        let http = GuardedClient::new(
            config.allow_private_networks.clone(),
            ca,
            Arc::new(SystemLookup),
        )?;
        let gateway_http = GuardedClient::streaming(
            config.allow_private_networks.clone(),
            ca,
            Arc::new(SystemLookup),
            GATEWAY_READ_TIMEOUT,
        )?;
        let cimd_http = GuardedClient::new(
            config.cimd_allow_private_networks.clone(),
            ca,
            Arc::new(SystemLookup),
        )?;
        Ok(Self {
            pool,
            config,
            public_url,
            limits: Limits::default(),
            bearer_cache: Default::default(),
            http,
            gateway_http,
            gateway_streams: Default::default(),
            gateway_audit: Default::default(),
            gateway_routes: Default::default(),
            gateway_session_owners: Default::default(),
            credentials: Default::default(),
            cimd_http,
            cipher,
            flights: Default::default(),
            setup_code: Mutex::new(None),
        })
    }

    /// Generates the one-time setup code when no account exists yet; the caller prints it.
    pub async fn issue_setup_code(&self) -> Result<Option<SecretToken>, sqlx::Error> {
        if store::users::count(&self.pool).await? > 0 {
            return Ok(None);
        }
        let code = crate::service::accounts::generate_setup_code();
        if let Ok(mut slot) = self.setup_code.lock() {
            *slot = Some(code.hash());
        }
        Ok(Some(code))
    }

    /// True iff `candidate` is the current setup code (constant-time).
    pub(crate) fn setup_code_matches(&self, candidate: &str) -> bool {
        let normalized = crate::service::accounts::normalize_setup_code(candidate);
        self.setup_code
            .lock()
            .ok()
            .and_then(|slot| slot.as_ref().map(|hash| hash.matches(&normalized)))
            .unwrap_or(false)
    }

    pub(crate) fn clear_setup_code(&self) {
        if let Ok(mut slot) = self.setup_code.lock() {
            *slot = None;
        }
    }

    /// True while the setup code is live. An account created meanwhile by another process
    /// (`gatehouse user add --admin`) ends setup here too.
    pub async fn setup_pending(&self) -> bool {
        let live = self
            .setup_code
            .lock()
            .map(|slot| slot.is_some())
            .unwrap_or(false);
        if !live {
            return false;
        }
        match store::users::count(&self.pool).await {
            Ok(0) => true,
            Ok(_) => {
                self.clear_setup_code();
                false
            }
            Err(_) => false,
        }
    }
}
