//! Several writes sent to the database as one call. Inside a write transaction every call is
//! a round trip made while holding the only write lock (on SQLite a hop to the connection's
//! worker thread and back, on Postgres the network), and the lock is what bounds the token
//! endpoint: its rotation writes four rows, and sending them one by one held the lock for
//! four round trips instead of one.
//!
//! SQLite runs the statements one after the other in that call (sqlx prepares a string of
//! several statements and binds numbered placeholders in each). Postgres takes one statement
//! only, so the first writes become data-modifying CTEs of the last one: they run on the same
//! snapshot, foreign keys are checked at the end of the statement, and a batch must therefore
//! not write the same row twice or read what another of its statements writes. A batch
//! answers only success or failure: a write whose effect must be checked (rows changed,
//! `RETURNING`) is sent on its own.

use sqlx::any::AnyArguments;
use sqlx::{Any, AnyConnection};

use super::{add_argument, Backend};

/// Statements written with their own placeholders (`$1` is each one's first argument); the
/// batch renumbers them so they share one argument list.
pub(crate) struct Batch<'q> {
    backend: Backend,
    statements: Vec<String>,
    args: AnyArguments<'q>,
    /// The last statement's placeholders and the arguments bound before it: a statement
    /// bound with too few or too many arguments would shift every later one.
    open: Option<(usize, usize)>,
    error: Option<sqlx::error::BoxDynError>,
}

impl<'q> Batch<'q> {
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            statements: Vec::new(),
            args: AnyArguments::default(),
            open: None,
            error: None,
        }
    }

    /// Adds a statement; the arguments bound next are its `$1`, `$2`, …
    pub fn statement(&mut self, sql: &str) -> &mut Self {
        use sqlx::Arguments;
        self.close();
        let (renumbered, placeholders) = renumber(sql, self.args.len());
        self.open = Some((placeholders, self.args.len()));
        self.statements.push(renumbered);
        self
    }

    /// Checks that the open statement got one argument per placeholder.
    fn close(&mut self) {
        use sqlx::Arguments;
        if let Some((wanted, before)) = self.open.take() {
            let bound = self.args.len() - before;
            if bound != wanted && self.error.is_none() {
                self.error = Some(
                    format!(
                        "statement {} of a batch has {wanted} placeholders and {bound} arguments",
                        self.statements.len()
                    )
                    .into(),
                );
            }
        }
    }

    pub fn bind<T: 'q + sqlx::Encode<'q, Any> + sqlx::Type<Any>>(&mut self, value: T) -> &mut Self {
        add_argument(&mut self.args, &mut self.error, value);
        self
    }

    /// The whole batch as one statement text, in this backend's form.
    fn sql(&self) -> String {
        match self.backend {
            Backend::Sqlite => self.statements.join(";\n"),
            Backend::Postgres => match self.statements.split_last() {
                None => String::new(),
                Some((last, [])) => last.clone(),
                Some((last, first)) => {
                    let ctes: Vec<String> = first
                        .iter()
                        .enumerate()
                        .map(|(i, s)| format!("w{i} AS ({s})"))
                        .collect();
                    format!("WITH {} {last}", ctes.join(", "))
                }
            },
        }
    }

    /// Runs every statement and then `COMMIT`, in one call (SQLite only: Postgres takes one
    /// statement per call). A failing statement stops the call before `COMMIT`: the
    /// transaction stays open, for the caller to roll back.
    pub async fn execute_then_commit(
        mut self,
        conn: &mut AnyConnection,
    ) -> Result<(), sqlx::Error> {
        debug_assert!(matches!(self.backend, Backend::Sqlite));
        self.close();
        self.statements.push("COMMIT".to_owned());
        self.execute(conn).await
    }

    /// Runs every statement, in one call.
    pub async fn execute(mut self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        self.close();
        if let Some(e) = self.error {
            return Err(sqlx::Error::Encode(e));
        }
        if self.statements.is_empty() {
            return Ok(());
        }
        let sql = self.sql();
        sqlx::query_with(&sql, self.args).execute(conn).await?;
        Ok(())
    }
}

/// `sql` with every placeholder `$n` written `$(n + offset)`, and its highest `n` (statements
/// number theirs from `$1`). Gatehouse's SQL has no `$` anywhere else (no dollar-quoted
/// strings, no `$` in literals): a batch's statements must keep it so.
fn renumber(sql: &str, offset: usize) -> (String, usize) {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut highest = 0;
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => {
                highest = highest.max(n);
                out.push_str(&(n + offset).to_string());
            }
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    (out, highest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_renumbered_after_the_earlier_statements_arguments() {
        assert_eq!(
            renumber("UPDATE t SET a = $1 WHERE b = $2 AND c = $1", 3),
            ("UPDATE t SET a = $4 WHERE b = $5 AND c = $4".into(), 2)
        );
        assert_eq!(
            renumber("VALUES ($9, $10)", 0),
            ("VALUES ($9, $10)".into(), 10)
        );
        assert_eq!(
            renumber("VALUES ($9, $10)", 1),
            ("VALUES ($10, $11)".into(), 10)
        );
        assert_eq!(renumber("x = $", 2), ("x = $".into(), 0));
        assert_eq!(renumber("DELETE FROM t", 2), ("DELETE FROM t".into(), 0));
    }

    #[test]
    fn a_statement_bound_with_the_wrong_number_of_arguments_is_an_error() {
        let mut batch = Batch::new(Backend::Sqlite);
        batch
            .statement("UPDATE t SET a = $1 WHERE b = $2")
            .bind(1_i64);
        batch.statement("INSERT INTO u (c) VALUES ($1)").bind(2_i64);
        assert!(batch.error.as_ref().is_some_and(|e| e
            .to_string()
            .contains("statement 1 of a batch has 2 placeholders and 1 arguments")));
        let mut last = Batch::new(Backend::Sqlite);
        last.statement("INSERT INTO u (c) VALUES ($1)")
            .bind(2_i64)
            .bind(3_i64);
        last.close();
        assert!(last.error.is_some());
        let mut right = Batch::new(Backend::Postgres);
        right
            .statement("UPDATE t SET a = $1 WHERE b = $2")
            .bind(1_i64)
            .bind("x");
        right.close();
        assert!(right.error.is_none());
    }

    fn two_writes(backend: Backend) -> String {
        let mut batch = Batch::new(backend);
        batch
            .statement("UPDATE t SET a = $1 WHERE b = $2")
            .bind(1_i64)
            .bind("x");
        batch.statement("INSERT INTO u (c) VALUES ($1)").bind(2_i64);
        batch.sql()
    }

    #[test]
    fn sqlite_runs_the_statements_in_order_postgres_as_ctes_of_the_last() {
        assert_eq!(
            two_writes(Backend::Sqlite),
            "UPDATE t SET a = $1 WHERE b = $2;\nINSERT INTO u (c) VALUES ($3)"
        );
        assert_eq!(
            two_writes(Backend::Postgres),
            "WITH w0 AS (UPDATE t SET a = $1 WHERE b = $2) INSERT INTO u (c) VALUES ($3)"
        );
    }
}
