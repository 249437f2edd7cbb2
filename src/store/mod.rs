//! Storage: sqlx on SQLite only. Functions take a pool or a transaction the caller owns;
//! every user-owned query takes a `UserId`.

pub mod api_keys;
pub mod audit;
pub mod clients;
pub mod connections;
pub mod encryption;
pub mod gateway_sessions;
pub mod grants;
pub mod invites;
pub mod servers;
pub mod sessions;
pub mod stats;
pub mod tokens;
pub mod upstream;
pub mod users;

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::config::{Config, ConfigError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
}

/// The migrations in `migrations/`, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Name of the tower-sessions table (DESIGN.md §7 calls it `sessions`).
pub const SESSIONS_TABLE: &str = "sessions";

/// Opens the database (creating the data directory and file if needed) without migrating.
pub async fn connect(config: &Config) -> Result<SqlitePool, StoreError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StoreError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let options = config.sqlite_connect_options()?;
    Ok(sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?)
}

/// Applies the embedded migrations and the session store's table.
pub async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    MIGRATOR.run(pool).await?;
    tower_sessions_sqlx_store::SqliteStore::new(pool.clone())
        .with_table_name(SESSIONS_TABLE)
        .map_err(|e| StoreError::Sqlx(sqlx::Error::Protocol(e)))?
        .migrate()
        .await?;
    Ok(())
}

/// One writer at a time in this process. SQLite has a single write lock; writers that find
/// it taken sleep in its busy handler (1, 2, 5 … 100 ms steps), so concurrent writers made
/// throughput drop and p99 reach hundreds of milliseconds. Queued here, the next writer
/// starts the moment the last commits. Other processes (the CLI, a second instance) still
/// meet at SQLite's lock, with its busy timeout.
#[derive(Clone, Default)]
pub struct WriteGate(Arc<Mutex<()>>);

/// How long a writer waits for its turn: as long as SQLite's busy timeout would.
const WRITE_TURN_TIMEOUT: Duration = Duration::from_secs(5);

/// A write transaction holding the process's write turn until it commits or is dropped
/// (rolled back). Derefs to the connection, as a `Transaction` does.
pub struct WriteTx {
    tx: Transaction<'static, Sqlite>,
    _turn: OwnedMutexGuard<()>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

/// A write transaction that takes SQLite's write lock up front (DESIGN.md §7), so two
/// writers never deadlock upgrading a read lock, after its turn at `gate`.
pub async fn begin_write(pool: &SqlitePool, gate: &WriteGate) -> Result<WriteTx, sqlx::Error> {
    let turn = tokio::time::timeout(WRITE_TURN_TIMEOUT, gate.0.clone().lock_owned())
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?;
    let tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    Ok(WriteTx { tx, _turn: turn })
}

/// Lists of slugs or URIs are stored as JSON arrays of strings.
pub(crate) fn json_list(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

/// Reads a JSON array column; a malformed value reads as empty (grants nothing).
pub fn parse_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// True when the error is a UNIQUE constraint violation (e.g. a duplicate slug).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}
