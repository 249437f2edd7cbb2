//! Client ID Metadata Documents: fetch the document at the client_id URL through the guarded
//! client (≤ 5 KB, ≤ 5 s), validate it, and keep it as a client row while HTTP caching allows.

use std::net::IpAddr;
use std::time::Duration;

use url::Url;

use super::ServiceError;
use crate::clock;
use crate::net::{cause, read_limited, BodyError};
use crate::oauth::cimd::{self, MAX_DOCUMENT_BYTES};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::rate_limit::RetryAfter;
use crate::state::Core;
use crate::store::{self, clients};

pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

pub enum CimdError {
    /// The document could not be used; the description is safe to show.
    Invalid(OAuthError),
    /// The visitor caused too many fetches of documents (each is an outbound request and a
    /// stored client).
    RateLimited(RetryAfter),
    Service(ServiceError),
}

impl From<sqlx::Error> for CimdError {
    fn from(e: sqlx::Error) -> Self {
        CimdError::Service(e.into())
    }
}

fn invalid(text: impl Into<String>) -> CimdError {
    CimdError::Invalid(OAuthError::new(ErrorCode::InvalidClient, text))
}

/// The client for the metadata document at `url`, fetched unless a fresh copy is cached.
/// A fetch counts against the limit of the visitor at `ip`.
pub async fn resolve(
    core: &Core,
    url: &str,
    ip: Option<IpAddr>,
) -> Result<clients::ClientRow, CimdError> {
    let now = clock::now();
    if let Some(row) = clients::get(&core.pool, url).await? {
        if row.kind != "cimd" {
            return Err(invalid("this client_id is not a metadata document"));
        }
        if row.cache_expires_at.is_some_and(|until| until > now) {
            return Ok(row);
        }
    }
    if let Some(ip) = ip {
        core.limits.cimd_fetch(ip).map_err(CimdError::RateLimited)?;
    }
    let (body, lifetime) = fetch(core, url).await?;
    let valid = cimd::validate(url, &body).map_err(CimdError::Invalid)?;
    let redirect_uris: Vec<String> = valid
        .redirect_uris
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    let mut tx = store::begin_write(&core.pool).await?;
    let new = clients::NewClient {
        client_id: url,
        secret_hash: None,
        auth_method: "none",
        client_name: valid.client_name.as_deref(),
        client_uri: valid.client_uri.as_deref(),
        redirect_uris: &redirect_uris,
        application_type: &valid.application_type,
    };
    clients::upsert_document(&mut *tx, &new, now, now + lifetime).await?;
    let row = clients::get(&mut *tx, url)
        .await?
        .ok_or_else(|| invalid("this client is disabled"))?;
    tx.commit().await?;
    Ok(row)
}

/// GET the document: guarded client, 5 s, at most 5 KB read (the rest is never downloaded).
async fn fetch(core: &Core, url: &str) -> Result<(Vec<u8>, i64), CimdError> {
    let parsed = Url::parse(url).map_err(|_| invalid("the client_id is not a URL"))?;
    let request = core
        .cimd_http
        .request(reqwest::Method::GET, parsed)
        .await
        .map_err(|e| {
            invalid(format!(
                "the client metadata document cannot be fetched: {e}"
            ))
        })?;
    let unreachable = |e: reqwest::Error| {
        invalid(format!(
            "the client metadata document cannot be fetched: {}",
            cause(&e)
        ))
    };
    let res = request
        .header(reqwest::header::ACCEPT, "application/json")
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(unreachable)?;
    if res.status() != reqwest::StatusCode::OK {
        return Err(invalid(format!(
            "fetching the client metadata document answered HTTP {}",
            res.status().as_u16()
        )));
    }
    let lifetime = cimd::cache_lifetime(
        res.headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
    );
    let body = read_limited(res, MAX_DOCUMENT_BYTES)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge(_) => invalid("the client metadata document is larger than 5 KB"),
            BodyError::Read(why) => invalid(format!(
                "the client metadata document cannot be fetched: {why}"
            )),
        })?;
    Ok((body, lifetime))
}
