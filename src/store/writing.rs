//! A write transaction whose first read goes with its `BEGIN` and whose last writes go with
//! its `COMMIT`. The token endpoint's rotation is bounded by how long it holds the database's
//! only write lock, and on SQLite every call inside it is a round trip to the connection's
//! worker thread while other writers sleep in SQLite's busy handler: `BEGIN IMMEDIATE`, the
//! token read, the writes and `COMMIT` were four. Here the lock is taken by the call that
//! reads (`BEGIN IMMEDIATE; SELECT …`, one multi-statement call) and released by the call
//! that writes (`…; COMMIT`): one round trip while it is held. On Postgres, which takes one
//! statement per call, `begin_write`'s steps run one by one as before.
//!
//! sqlx's `Transaction` cannot begin with a query of the caller's, so this keeps the
//! connection itself. A refusal rolls back (`rollback`); a `Writing` dropped before its end
//! (a database error, a cancelled request) closes its connection, which ends the
//! transaction, instead of handing the pool a connection inside one.

use std::ops::{Deref, DerefMut};

use futures_util::TryStreamExt;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor as _};

use super::{lock_writes, Backend, Batch};

pub(crate) struct Writing {
    conn: PoolConnection<Any>,
    /// Until committed or rolled back.
    open: bool,
}

impl Writing {
    /// Takes the write lock (`begin_write`) and runs `select` (one statement, its
    /// placeholders bound to `bind`), the row it finds, if any, with the transaction.
    pub async fn begin_reading<T>(
        pool: &AnyPool,
        select: &str,
        bind: &str,
    ) -> Result<(Self, Option<T>), sqlx::Error>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let mut writing = Writing {
            conn: pool.acquire().await?,
            open: true,
        };
        let row = match writing.backend() {
            Backend::Sqlite => {
                // `fetch`, not `fetch_optional`: the `Any` driver's `fetch_optional` looks at
                // the first statement's result only, which is `BEGIN`'s.
                let sql = format!("BEGIN IMMEDIATE;\n{select}");
                let mut rows = sqlx::query_as(&sql).bind(bind).fetch(&mut *writing);
                rows.try_next().await
            }
            Backend::Postgres => {
                (&mut *writing).execute("BEGIN").await?;
                lock_writes(&mut writing).await?;
                sqlx::query_as(select)
                    .bind(bind)
                    .fetch_optional(&mut *writing)
                    .await
            }
        };
        // On an error the transaction may or may not have begun: dropped, `writing` closes
        // the connection.
        let row = row?;
        Ok((writing, row))
    }

    pub fn backend(&self) -> Backend {
        Backend::of_connection(self)
    }

    /// Runs `batch` and commits: on SQLite in one call.
    pub async fn commit(mut self, batch: Batch<'_>) -> Result<(), sqlx::Error> {
        match self.backend() {
            Backend::Sqlite => batch.execute_then_commit(&mut self).await?,
            Backend::Postgres => {
                batch.execute(&mut self).await?;
                (&mut *self).execute("COMMIT").await?;
            }
        }
        self.open = false;
        Ok(())
    }

    /// Ends the transaction without its writes; the connection goes back to the pool.
    pub async fn rollback(mut self) {
        if let Err(err) = (&mut *self.conn).execute("ROLLBACK").await {
            // Still inside a transaction it cannot end: closed when dropped.
            tracing::warn!(%err, "rollback failed: closing the connection");
            return;
        }
        self.open = false;
    }
}

impl Deref for Writing {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl DerefMut for Writing {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        if self.open {
            self.conn.close_on_drop();
        }
    }
}
