//! Upstream session bindings as the gateway checks them: who owns a presented
//! `Mcp-Session-Id` (cached ≤ 2 s), binding the ids upstreams issue, unbinding on DELETE.

use std::time::Instant;

use axum::http::Method;

use super::Gateway;
use crate::domain::{SecretHash, UserId};
use crate::service::{mcp_sessions, ServiceError};

/// Who a session belongs to; calls within a session skip the database for 2 s. A binding
/// never changes owner, and this process's unbinding clears the cache.
pub async fn owner(gw: &Gateway, hash: &SecretHash) -> Result<Option<(UserId, i64)>, ServiceError> {
    let now = Instant::now();
    let key = hash.as_str().to_owned();
    if let Some(owner) = gw.session_owners.get(&key, now) {
        return Ok(Some(owner));
    }
    let owner = mcp_sessions::owner(&gw.core, hash).await?;
    if let Some(found) = owner {
        gw.session_owners.put(key, found, now);
    }
    Ok(owner)
}

/// Binds a session id the upstream issued to this (user, server); forgets it on DELETE.
pub async fn track(
    gw: &Gateway,
    user: UserId,
    server_id: i64,
    method: &Method,
    presented: Option<&SecretHash>,
    response: &reqwest::Response,
) -> Result<(), ServiceError> {
    if method == Method::DELETE && response.status().is_success() {
        if let Some(hash) = presented {
            mcp_sessions::unbind(&gw.core, hash, user).await?;
            gw.session_owners.clear();
        }
        return Ok(());
    }
    let issued = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(SecretHash::of);
    if let Some(hash) = issued {
        if presented.map(SecretHash::as_str) != Some(hash.as_str()) {
            mcp_sessions::bind(&gw.core, &hash, user, server_id).await?;
        }
    }
    Ok(())
}
