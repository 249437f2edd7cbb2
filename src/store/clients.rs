//! The `oauth_clients` table.

use super::Executor;
use sqlx::FromRow;

use crate::clock::UnixTime;
use crate::domain::SecretHash;

#[derive(Debug, Clone, FromRow)]
pub struct ClientRow {
    pub client_id: String,
    pub secret_hash: Option<String>,
    pub auth_method: String,
    pub client_name: Option<String>,
    pub redirect_uris: String,
    pub kind: String,
    pub cache_expires_at: Option<UnixTime>,
}

impl ClientRow {
    pub fn redirect_uri_list(&self) -> Vec<String> {
        super::parse_list(&self.redirect_uris)
    }
}

pub struct NewClient<'a> {
    pub client_id: &'a str,
    pub secret_hash: Option<&'a SecretHash>,
    pub auth_method: &'a str,
    pub client_name: Option<&'a str>,
    pub client_uri: Option<&'a str>,
    pub redirect_uris: &'a [String],
    pub application_type: &'a str,
}

pub async fn insert(
    db: impl Executor<'_>,
    c: &NewClient<'_>,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oauth_clients (client_id, secret_hash, auth_method, client_name, client_uri, redirect_uris, application_type, kind, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'dcr', $8)",
    )
    .bind(c.client_id)
    .bind(c.secret_hash.map(SecretHash::as_str))
    .bind(c.auth_method)
    .bind(c.client_name)
    .bind(c.client_uri)
    .bind(super::json_list(c.redirect_uris))
    .bind(c.application_type)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// An enabled client by id.
pub async fn get(db: impl Executor<'_>, client_id: &str) -> Result<Option<ClientRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM oauth_clients WHERE client_id = $1 AND disabled = 0")
        .bind(client_id)
        .fetch_optional(db)
        .await
}

/// Stores (or refreshes) the client described by a metadata document at `client_id` (its URL).
pub async fn upsert_document(
    db: impl Executor<'_>,
    c: &NewClient<'_>,
    now: UnixTime,
    cache_expires_at: UnixTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oauth_clients (client_id, secret_hash, auth_method, client_name, client_uri, redirect_uris, application_type, kind, created_at, cache_expires_at)
         VALUES ($1, NULL, 'none', $2, $3, $4, $5, 'cimd', $6, $7)
         ON CONFLICT (client_id) DO UPDATE SET client_name = $2, client_uri = $3, redirect_uris = $4, application_type = $5, cache_expires_at = $7
         WHERE oauth_clients.kind = 'cimd'",
    )
    .bind(c.client_id)
    .bind(c.client_name)
    .bind(c.client_uri)
    .bind(super::json_list(c.redirect_uris))
    .bind(c.application_type)
    .bind(now)
    .bind(cache_expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Every client with its number of active grants (administrators).
#[derive(Debug, Clone, FromRow)]
pub struct ClientSummary {
    pub client_id: String,
    pub client_name: Option<String>,
    pub kind: String,
    pub redirect_uris: String,
    pub created_at: UnixTime,
    #[sqlx(try_from = "super::Flag")]
    pub disabled: bool,
    pub active_grants: i64,
}

pub async fn list_all(db: impl Executor<'_>) -> Result<Vec<ClientSummary>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.client_id, c.client_name, c.kind, c.redirect_uris, c.created_at, c.disabled,
                (SELECT COUNT(*) FROM grants g WHERE g.client_id = c.client_id AND g.revoked_at IS NULL) AS active_grants
         FROM oauth_clients c ORDER BY c.created_at DESC",
    )
    .fetch_all(db)
    .await
}

pub async fn set_disabled(
    db: impl Executor<'_>,
    client_id: &str,
    disabled: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE oauth_clients SET disabled = $1 WHERE client_id = $2")
        .bind(i64::from(disabled))
        .bind(client_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a client; its grants and every token issued under them go with it (cascade).
pub async fn delete(db: impl Executor<'_>, client_id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM oauth_clients WHERE client_id = $1")
        .bind(client_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
