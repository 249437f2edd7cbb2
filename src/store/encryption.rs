//! Where ciphertexts live, and the `encryption_keys` table of key-check values: what the
//! start-up key checks and `gatehouse rotate-key` read and write.

use sqlx::AnyPool;

use crate::domain::{UnixTime, UserId};

/// Tables and columns that hold ciphertexts (`gh1.<key id>.…`). Each table has `id` and
/// `user_id` columns: the cipher binds values to both (`user_id` is 0 for rows of no user).
pub const CIPHERTEXT_COLUMNS: &[(&str, &str)] = &[
    ("mcp_servers", "url"),
    ("mcp_servers", "static_credential"),
    ("connections", "access_token"),
    ("connections", "refresh_token"),
    ("upstream_registrations", "client_secret"),
];

/// True when any registered column holds a ciphertext.
pub async fn anything_encrypted(pool: &AnyPool) -> Result<bool, sqlx::Error> {
    for (table, column) in CIPHERTEXT_COLUMNS {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {table} WHERE {column} LIKE 'gh1.%'"
        ))
        .fetch_one(pool)
        .await?;
        if n > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The stored key-check value of a key id.
pub async fn check_value(pool: &AnyPool, key_id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT check_value FROM encryption_keys WHERE key_id = $1")
        .bind(key_id)
        .fetch_optional(pool)
        .await
}

pub async fn insert_check_value(
    pool: &AnyPool,
    key_id: &str,
    check: &str,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        // Two instances starting on a new database both insert: the first one's value stays.
        "INSERT INTO encryption_keys (key_id, check_value, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (key_id) DO NOTHING",
    )
    .bind(key_id)
    .bind(check)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Every key id some stored ciphertext names.
pub async fn key_ids_in_use(pool: &AnyPool) -> Result<Vec<String>, sqlx::Error> {
    let mut all = Vec::new();
    for (table, column) in CIPHERTEXT_COLUMNS {
        // The id is read here, not in SQL: the two dialects split strings differently.
        let values: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT {column} FROM {table} WHERE {column} LIKE 'gh1.%'"
        ))
        .fetch_all(pool)
        .await?;
        let ids = values
            .iter()
            .filter_map(|v| v.get("gh1.".len()..)?.split_once('.'));
        all.extend(ids.map(|(id, _)| id.to_owned()));
    }
    all.sort();
    all.dedup();
    Ok(all)
}

/// How many values of a column are already under `key_id`.
pub async fn count_under_key(
    pool: &AnyPool,
    (table, column): (&str, &str),
    key_id: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM {table} WHERE {column} LIKE $1"
    ))
    .bind(format!("gh1.{key_id}.%"))
    .fetch_one(pool)
    .await
}

/// The (row id, user, ciphertext) of every value of a column under another key than `key_id`.
pub async fn under_other_keys(
    pool: &AnyPool,
    (table, column): (&str, &str),
    key_id: &str,
) -> Result<Vec<(i64, UserId, String)>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT id, user_id, {column} FROM {table} WHERE {column} LIKE 'gh1.%' AND {column} NOT LIKE $1"
    ))
    .bind(format!("gh1.{key_id}.%"))
    .fetch_all(pool)
    .await
}

/// Replaces one value, only if it is still `old` (so a concurrent write wins); in a write
/// transaction of its own. Returns the rows changed (0 or 1).
pub async fn replace_if_unchanged(
    pool: &AnyPool,
    (table, column): (&str, &str),
    id: i64,
    old: &str,
    fresh: &str,
) -> Result<u64, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    let changed = sqlx::query(&format!(
        "UPDATE {table} SET {column} = $1 WHERE id = $2 AND {column} = $3"
    ))
    .bind(fresh)
    .bind(id)
    .bind(old)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(changed)
}
