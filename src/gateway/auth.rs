//! Who is calling `/mcp/{slug}`: the bearer credential of the request — a Gatehouse access
//! token or API key — checked for that slug (a hash lookup plus a ≤ 2 s cache, never
//! argon2; DESIGN.md §5). Either way the upstream never sees it.

use axum::http::{header, HeaderMap};

use super::Gateway;
use crate::domain::Principal;
use crate::service::{api_keys, tokens};

/// Why a request is not authenticated; the first two are the 401 challenge (RFC 6750 §3.1).
#[derive(Debug)]
pub enum AuthFailure {
    /// No usable credential was sent.
    Missing,
    /// A credential was sent and is not valid for this resource.
    Invalid,
    /// Validation itself failed (the database); the caller answers 503.
    Unavailable(String),
}

/// The bearer token of `Authorization`, if the header holds one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim())
}

pub async fn authenticate(
    gw: &Gateway,
    headers: &HeaderMap,
    slug: &str,
) -> Result<Principal, AuthFailure> {
    let token = bearer(headers).ok_or(AuthFailure::Missing)?;
    let checked = match token.starts_with(api_keys::PREFIX) {
        true => api_keys::validate(&gw.core, token, slug).await,
        false => tokens::validate_bearer(&gw.core, token, slug).await,
    };
    match checked {
        Ok(Some(principal)) => Ok(principal),
        Ok(None) => Err(AuthFailure::Invalid),
        Err(err) => Err(AuthFailure::Unavailable(err.to_string())),
    }
}
