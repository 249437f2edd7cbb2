//! Storage: sqlx's `Any` driver on SQLite or Postgres, one set of statements (`$n`
//! placeholders). Functions take a pool or a transaction the caller owns; every user-owned
//! query takes a `UserId`.

pub mod api_keys;
pub mod audit;
mod batch;
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
mod writing;

use sqlx::any::{AnyArguments, AnyPoolOptions, AnyTypeInfo, AnyTypeInfoKind};
use sqlx::{Any, AnyPool, Transaction};

use crate::config::{Config, ConfigError};
pub(crate) use batch::Batch;
pub(crate) use writing::Writing;

/// What every store function runs on: the pool, a connection or a transaction of either
/// backend (`sqlx::Any`, chosen at start from `GATEHOUSE_DATABASE_URL`).
pub trait Executor<'c>: sqlx::Executor<'c, Database = Any> {}
impl<'c, T: sqlx::Executor<'c, Database = Any>> Executor<'c> for T {}

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

/// The two databases Gatehouse runs on. The SQL is shared; the schema is written once per
/// dialect (`migrations/sqlite`, `migrations/postgres`, kept in step by a test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend of a URL `config::DatabaseUrl` accepted (`sqlite:…` or `postgres://…`).
    fn of_url(url: &str) -> Self {
        match crate::config::is_postgres_url(url) {
            true => Self::Postgres,
            false => Self::Sqlite,
        }
    }

    pub fn of(pool: &AnyPool) -> Self {
        Self::of_url(pool.connect_options().database_url.as_str())
    }

    pub fn of_connection(conn: &sqlx::AnyConnection) -> Self {
        if conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME {
            Self::Postgres
        } else {
            Self::Sqlite
        }
    }

    pub fn migrator(self) -> &'static sqlx::migrate::Migrator {
        match self {
            Self::Sqlite => &SQLITE_MIGRATOR,
            Self::Postgres => &POSTGRES_MIGRATOR,
        }
    }
}

/// The migrations, embedded at compile time.
pub static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
pub static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Name of the tower-sessions table (DESIGN.md §7 calls it `sessions`).
pub const SESSIONS_TABLE: &str = "sessions";

/// Opens the database without migrating (for SQLite, creating the data directory and file).
pub async fn connect(config: &Config) -> Result<AnyPool, StoreError> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of_url(config.database_url.expose());
    if backend == Backend::Sqlite {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StoreError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        // Creates the file and switches it to WAL (a property of the file, kept), with the
        // options sqlx's URL form cannot carry. In turns: SQLite answers "database is locked"
        // at once, without waiting, to a second process switching the journal mode.
        use sqlx::{ConnectOptions, Connection};
        let options = config.sqlite_connect_options()?;
        let _turn = sqlite_turn(options.get_filename()).await?;
        options.connect().await?.close().await?;
    }
    let options = config.database_connect_options()?;
    let statement_timeout = config.database_statement_timeout.as_millis();
    let pool = AnyPoolOptions::new()
        .max_connections(config.database_pool_size)
        // A pinged SQLite connection costs a hop to its worker thread before every query, and
        // a file opened in-process cannot go stale; a Postgres connection can (server restart,
        // network), so it is checked.
        .test_before_acquire(backend == Backend::Postgres)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                let setup = match backend {
                    // Per connection: durability of every commit, and the checks SQLite
                    // leaves off by default.
                    Backend::Sqlite => {
                        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000"
                            .to_owned()
                    }
                    Backend::Postgres => set_statement_timeout(statement_timeout),
                };
                sqlx::Executor::execute(&mut *conn, setup.as_str()).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// Applies the embedded migrations and the session store's table.
pub async fn migrate(pool: &AnyPool) -> Result<(), StoreError> {
    // sqlx locks migrations on Postgres (an advisory lock) but not on SQLite: there, processes
    // starting together on a new file take turns through a lock file beside it.
    let _turn = match Backend::of(pool) {
        Backend::Sqlite => {
            let url = &pool.connect_options().database_url;
            let options =
                <sqlx::sqlite::SqliteConnectOptions as sqlx::ConnectOptions>::from_url(url)?;
            Some(sqlite_turn(options.get_filename()).await?)
        }
        Backend::Postgres => None,
    };
    Backend::of(pool).migrator().run(pool).await?;
    sessions::migrate(pool).await
}

/// An exclusive lock on `<database file>.migrate-lock`, held until dropped: processes that
/// open a new SQLite file at once take turns to set it up.
async fn sqlite_turn(database: &std::path::Path) -> Result<std::fs::File, StoreError> {
    let mut path = database.as_os_str().to_owned();
    path.push(".migrate-lock");
    let locked = tokio::task::spawn_blocking(move || {
        let lock = std::fs::File::create(&path)?;
        lock.lock()?;
        Ok::<_, std::io::Error>(lock)
    })
    .await
    .map_err(|e| StoreError::Sqlx(sqlx::Error::Io(std::io::Error::other(e))))?;
    locked.map_err(|e| StoreError::Sqlx(sqlx::Error::Io(e)))
}

/// A write transaction that holds the database's write lock from its first statement
/// (DESIGN.md §7): SQLite's `BEGIN IMMEDIATE`; on Postgres one cluster-wide transaction
/// advisory lock, so read-then-write sequences keep the same meaning across instances.
pub async fn begin_write(pool: &AnyPool) -> Result<Transaction<'static, Any>, sqlx::Error> {
    match Backend::of(pool) {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => {
            let mut tx = pool.begin().await?;
            lock_writes(&mut tx).await?;
            Ok(tx)
        }
    }
}

/// Postgres: takes `begin_write`'s advisory lock inside the transaction open on `conn`.
async fn lock_writes(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(WRITE_LOCK)
        .execute(conn)
        .await?;
    Ok(())
}

/// The advisory-lock key of `begin_write` ("gatehous" in ASCII).
const WRITE_LOCK: i64 = 0x6761_7465_686f_7573;

/// A boolean column or expression: SQLite hands back 0/1 integers, Postgres booleans.
/// Fields read through it say `#[sqlx(try_from = "Flag")]`.
#[derive(Debug, Clone, Copy)]
pub struct Flag(bool);

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0
    }
}

impl sqlx::Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <bool as sqlx::Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        matches!(
            ty.kind(),
            AnyTypeInfoKind::Bool
                | AnyTypeInfoKind::SmallInt
                | AnyTypeInfoKind::Integer
                | AnyTypeInfoKind::BigInt
        )
    }
}

impl<'r> sqlx::Decode<'r, Any> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        use sqlx::ValueRef;
        if value.type_info().kind() == AnyTypeInfoKind::Bool {
            Ok(Flag(<bool as sqlx::Decode<Any>>::decode(value)?))
        } else {
            Ok(Flag(<i64 as sqlx::Decode<Any>>::decode(value)? != 0))
        }
    }
}

/// The slugs `s.slug` of a subquery as a JSON array text, in both dialects (SQLite has
/// `json_group_array`, Postgres `json_agg`; slugs are `[a-z0-9-]`, so nothing needs escaping).
macro_rules! slug_array {
    () => {
        r#"'[' || COALESCE(string_agg('"' || s.slug || '"', ',' ORDER BY s.slug), '') || ']'"#
    };
}
pub(crate) use slug_array;

/// SQL put together at run time, with each dialect's placeholders: sqlx's `QueryBuilder`
/// writes `?` for `Any`, which Postgres does not take; SQLite gets `?`, since it resolves
/// named ones (`$n`) by a linear search per parameter when it prepares (a 512-row insert
/// took ~40 ms to prepare with `$n`, under 1 ms with `?`).
pub(crate) struct Built<'q> {
    sql: String,
    args: AnyArguments<'q>,
    numbered: bool,
    error: Option<sqlx::error::BoxDynError>,
}

impl<'q> Built<'q> {
    pub fn new(backend: Backend, sql: &str) -> Self {
        Self {
            sql: sql.to_owned(),
            args: AnyArguments::default(),
            numbered: backend == Backend::Postgres,
            error: None,
        }
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends the next placeholder and binds `value` to it.
    pub fn bind<T: 'q + sqlx::Encode<'q, Any> + sqlx::Type<Any>>(&mut self, value: T) -> &mut Self {
        use sqlx::Arguments;
        add_argument(&mut self.args, &mut self.error, value);
        if self.numbered {
            self.sql.push('$');
            self.sql.push_str(&self.args.len().to_string());
        } else {
            self.sql.push('?');
        }
        self
    }

    /// The statement and its arguments, for `sqlx::query_with` and friends.
    pub fn finish(self) -> Result<(String, AnyArguments<'q>), sqlx::Error> {
        match self.error {
            Some(e) => Err(sqlx::Error::Encode(e)),
            None => Ok((self.sql, self.args)),
        }
    }
}

/// Bounds a Postgres connection's statements (milliseconds): by `SET` after connecting,
/// which poolers such as PgBouncer pass on (a startup option they may refuse).
pub(crate) fn set_statement_timeout(ms: u128) -> String {
    format!("SET statement_timeout = {ms}")
}

/// Adds `value` to `args`; the first encoding error is kept for when the SQL is run (the
/// builders chain `bind` calls, so they cannot return it at once).
fn add_argument<'q, T: 'q + sqlx::Encode<'q, Any> + sqlx::Type<Any>>(
    args: &mut AnyArguments<'q>,
    error: &mut Option<sqlx::error::BoxDynError>,
    value: T,
) {
    use sqlx::Arguments;
    if let Err(e) = args.add(value) {
        error.get_or_insert(e);
    }
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

#[cfg(test)]
mod tests;
