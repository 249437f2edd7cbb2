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

use sqlx::{Sqlite, SqlitePool, Transaction};

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

/// A write transaction that takes SQLite's write lock up front (DESIGN.md §7), so two
/// writers never deadlock upgrading a read lock.
pub async fn begin_write(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
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
