//! `gatehouse rotate-key`: re-encrypt every stored ciphertext under the first configured key.
//! Each value is rewritten in its own small transaction and only if it is unchanged, so the
//! command can be interrupted and run again, even while the server runs.

use sqlx::AnyPool;

use super::cipher::{Binding, Cipher, CipherError};
use crate::store::encryption::{self as keys, CIPHERTEXT_COLUMNS};

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

pub async fn rotate(pool: &AnyPool, cipher: &Cipher) -> Result<Rotated, RotateError> {
    let mut done = Rotated::default();
    let current = cipher.current_key_id();
    for &(table, column) in CIPHERTEXT_COLUMNS {
        done.already_current += keys::count_under_key(pool, (table, column), current).await? as u64;
        for (id, user, value) in keys::under_other_keys(pool, (table, column), current).await? {
            let binding = Binding {
                table,
                column,
                row_id: id,
                user,
            };
            let fresh =
                cipher
                    .reencrypt(&value, binding)
                    .map_err(|source| RotateError::Cipher {
                        table,
                        column,
                        id,
                        source,
                    })?;
            if let Some(fresh) = fresh {
                done.rewritten +=
                    keys::replace_if_unchanged(pool, (table, column), id, &value, &fresh).await?;
            }
        }
    }
    Ok(done)
}
