//! Browser sessions (tower-sessions) in Gatehouse's database: the crate's SQLite or Postgres
//! store, on a small pool of its own opened like the main one.

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{AnyConnection, AnyPool, ConnectOptions};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use super::{Backend, StoreError, SESSIONS_TABLE};
use crate::domain::UnixTime;

/// Connections the session store may hold (one request reads and writes one session).
const POOL_SIZE: u32 = 4;

#[derive(Debug, Clone)]
pub enum SessionStore {
    Sqlite(SqliteStore),
    /// The crate's store and its pool (the crate keeps the pool to itself).
    Postgres(PostgresStore, sqlx::PgPool),
}

impl SessionStore {
    /// The store on the database `pool` reaches (its connections open on first use), its
    /// Postgres statements bounded by `statement_timeout` as the main pool's are.
    pub fn for_pool(
        pool: &AnyPool,
        statement_timeout: Option<std::time::Duration>,
    ) -> Result<Self, StoreError> {
        let url = &pool.connect_options().database_url;
        let bad_table = |e: String| StoreError::Sqlx(sqlx::Error::Configuration(e.into()));
        Ok(match Backend::of(pool) {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_url(url)?;
                Self::Sqlite(
                    SqliteStore::new(
                        SqlitePoolOptions::new()
                            .max_connections(POOL_SIZE)
                            // As the main pool: no ping (a worker-thread hop) before each use.
                            .test_before_acquire(false)
                            .connect_lazy_with(options),
                    )
                    .with_table_name(SESSIONS_TABLE)
                    .map_err(bad_table)?,
                )
            }
            Backend::Postgres => {
                let pool = postgres_pool(url, statement_timeout)?;
                Self::Postgres(
                    PostgresStore::new(pool.clone())
                        .with_table_name(SESSIONS_TABLE)
                        .map_err(bad_table)?,
                    pool,
                )
            }
        })
    }

    /// The Postgres store's pool (its connection settings are checked by tests).
    pub fn postgres_pool(&self) -> Option<&sqlx::PgPool> {
        match self {
            Self::Sqlite(_) => None,
            Self::Postgres(_, pool) => Some(pool),
        }
    }

    /// Creates the store's table (the crate's own schema).
    pub async fn migrate(&self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(store) => store.migrate().await,
            Self::Postgres(store, _) => store.migrate().await,
        }
    }
}

#[async_trait]
impl session_store::SessionStore for SessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.create(record).await,
            Self::Postgres(store, _) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.save(record).await,
            Self::Postgres(store, _) => store.save(record).await,
        }
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Self::Sqlite(store) => store.load(session_id).await,
            Self::Postgres(store, _) => store.load(session_id).await,
        }
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.delete(session_id).await,
            Self::Postgres(store, _) => store.delete(session_id).await,
        }
    }
}

/// Creates the session table of the database `pool` reaches (unbounded, as migrations are).
pub async fn migrate(pool: &AnyPool) -> Result<(), StoreError> {
    Ok(SessionStore::for_pool(pool, None)?.migrate().await?)
}

/// The Postgres session pool (lazy), its statements bounded as the main pool's.
fn postgres_pool(
    url: &url::Url,
    statement_timeout: Option<std::time::Duration>,
) -> Result<sqlx::PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_url(url)?;
    let timeout = statement_timeout.map(|t| t.as_millis());
    Ok(PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if let Some(ms) = timeout {
                    let set = super::set_statement_timeout(ms);
                    sqlx::Executor::execute(&mut *conn, set.as_str()).await?;
                }
                Ok(())
            })
        })
        .connect_lazy_with(options))
}

/// Deletes sessions expired at `now`; returns how many.
pub async fn sweep(conn: &mut AnyConnection, now: UnixTime) -> Result<u64, sqlx::Error> {
    // Each store writes expiry its own way: SQLite as date-time text, Postgres as timestamptz
    // in the store's schema.
    let sql = if Backend::of_connection(conn) == Backend::Postgres {
        format!("DELETE FROM tower_sessions.{SESSIONS_TABLE} WHERE expiry_date < to_timestamp($1)")
    } else {
        format!(
            "DELETE FROM {SESSIONS_TABLE} WHERE datetime(expiry_date) < datetime($1, 'unixepoch')"
        )
    };
    Ok(sqlx::query(&sql)
        .bind(now)
        .execute(conn)
        .await?
        .rows_affected())
}
