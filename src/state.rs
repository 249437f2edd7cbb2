//! `Core`: what the use-case layer shares across requests, behind an `Arc` — the database,
//! the configuration, the cipher, the outbound clients, and the caches the service layer
//! keeps current. The gateway's own process state lives in `gateway::Gateway`, beside it.

use std::sync::{Arc, Mutex};

use sqlx::AnyPool;

use crate::cache::{Generation, Throttle, TtlCache};
use crate::config::{Config, PublicUrl};
use crate::domain::{Principal, SecretHash};
use crate::net::{GuardedClient, NetError, SystemLookup};
use crate::rate_limit::Limits;
use crate::vault::cipher::Cipher;
use crate::vault::credential::{CredentialCache, Flights};

pub struct Core {
    pub pool: AnyPool,
    pub config: Config,
    /// The issuer origin, resolved against the bound address.
    pub public_url: PublicUrl,
    pub limits: Limits,
    /// Validated bearer tokens: (token hash, slug) → principal (≤ 2 s).
    pub(crate) bearer_cache: TtlCache<(String, String), Principal>,
    /// Upstream and vault traffic (allow-list: `GATEHOUSE_ALLOW_PRIVATE_NETWORKS`).
    pub(crate) http: GuardedClient,
    /// Client ID Metadata Document fetches (allow-list: `GATEHOUSE_CIMD_ALLOW_PRIVATE_NETWORKS`).
    pub(crate) cimd_http: GuardedClient,
    /// Encrypts upstream secrets (DESIGN.md §6).
    pub(crate) cipher: Cipher,
    /// Recently read upstream credentials (≤ 2 s, never past their refresh time).
    pub(crate) credentials: CredentialCache,
    /// Upstream token refreshes under way in this process (single-flight).
    pub(crate) flights: Flights,
    /// API keys whose last use was recorded less than a minute ago.
    pub(crate) key_uses: Throttle<i64>,
    /// Bumped whenever a server's target or sign-in changes: caches of routes watch it.
    pub servers_changed: Generation,
    /// Hash of the one-time setup code, while no account exists (`service::accounts`).
    pub(crate) setup_code: Mutex<Option<SecretHash>>,
}

pub type SharedCore = Arc<Core>;

impl Core {
    pub fn new(
        pool: AnyPool,
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
        let cimd_http = GuardedClient::new(
            config.cimd_allow_private_networks.clone(),
            ca,
            Arc::new(SystemLookup),
        )?;
        // The process's metrics recorder, before anything is counted.
        crate::telemetry::handle();
        Ok(Self {
            limits: Limits::new(&config.rate_limits),
            pool,
            config,
            public_url,
            bearer_cache: Default::default(),
            http,
            cimd_http,
            cipher,
            credentials: Default::default(),
            flights: Default::default(),
            key_uses: Throttle::new(std::time::Duration::from_secs(60)),
            servers_changed: Default::default(),
            setup_code: Mutex::new(None),
        })
    }

    /// Forgets what this process cached from the database (tests simulating another
    /// process's change, which otherwise applies within 2 s).
    pub fn forget_cached(&self) {
        self.bearer_cache.clear();
        self.credentials.clear();
        self.servers_changed.bump();
    }

    /// Refreshes this process has started (single-flight keeps it low).
    pub fn refreshes_started(&self) -> usize {
        self.flights.started()
    }
}
