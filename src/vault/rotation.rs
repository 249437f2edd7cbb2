//! `gatehouse rotate-key`: re-encrypt every stored ciphertext under the first configured key.
//! Each value is rewritten in its own small transaction and only if it is unchanged, so the
//! command can be interrupted and run again, even while the server runs.

use sqlx::SqlitePool;

use super::cipher::{Binding, Cipher, CipherError};
use super::keys::CIPHERTEXT_COLUMNS;
use crate::domain::UserId;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub rewritten: u64,
    pub already_current: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("{table}.{column} row {id}: {source}")]
    Cipher {
        table: &'static str,
        column: &'static str,
        id: i64,
        source: CipherError,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

pub async fn rotate(pool: &SqlitePool, cipher: &Cipher) -> Result<Rotated, RotateError> {
    let mut done = Rotated::default();
    let current = format!("gh1.{}.%", cipher.current_key_id());
    for (table, column) in CIPHERTEXT_COLUMNS {
        let total: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {table} WHERE {column} LIKE ?"
        ))
        .bind(&current)
        .fetch_one(pool)
        .await?;
        done.already_current += total as u64;
        let rows: Vec<(i64, UserId, String)> = sqlx::query_as(&format!(
            "SELECT id, user_id, {column} FROM {table} WHERE {column} LIKE 'gh1.%' AND {column} NOT LIKE ?"
        ))
        .bind(&current)
        .fetch_all(pool)
        .await?;
        for (id, user, value) in rows {
            let binding = Binding {
                table,
                column,
                row_id: id,
                user,
            };
            let Some(fresh) =
                cipher
                    .reencrypt(&value, binding)
                    .map_err(|source| RotateError::Cipher {
                        table,
                        column,
                        id,
                        source,
                    })?
            else {
                continue;
            };
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let changed = sqlx::query(&format!(
                "UPDATE {table} SET {column} = ? WHERE id = ? AND {column} = ?"
            ))
            .bind(&fresh)
            .bind(id)
            .bind(&value)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            done.rewritten += changed;
        }
    }
    Ok(done)
}
