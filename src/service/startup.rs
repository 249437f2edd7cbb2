//! Opening Gatehouse's state, for the server and every CLI command alike: the database
//! (created and migrated), the encryption keys (checked against the database), the core.

use super::{servers, ServiceError};
use crate::config::{Config, PublicUrl};
use crate::state::Core;
use crate::store::{self, StoreError};
use crate::vault::keys::{self, KeyError};

pub use crate::vault::keys::KeySource;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("GATEHOUSE_EXTRA_CA_FILE: {0}. Fix: point it at a PEM certificate")]
    ExtraCa(String),
    #[error("{0}")]
    Service(#[from] ServiceError),
}

pub struct Opened {
    pub core: Core,
    /// Where the encryption keys came from (a generated key must be backed up).
    pub key_source: KeySource,
    /// How many migrations the database has applied.
    pub migrations: usize,
}

pub async fn open(config: Config, public_url: PublicUrl) -> Result<Opened, OpenError> {
    let pool = store::connect(&config).await?;
    store::migrate(&pool).await?;
    let (cipher, key_source) = keys::open(&pool, &config).await?;
    let core = Core::new(pool, config, public_url, cipher)
        .map_err(|e| OpenError::ExtraCa(e.to_string()))?;
    // URLs stored in plain text before the vault existed are encrypted now.
    let upgraded = servers::encrypt_plaintext_urls(&core).await?;
    if upgraded > 0 {
        tracing::info!(
            upgraded,
            "encrypted upstream URLs stored in plain text by an earlier version"
        );
    }
    let migrations = store::Backend::of(&core.pool).migrator().iter().count();
    Ok(Opened {
        core,
        key_source,
        migrations,
    })
}
