//! Bearer validation at `/mcp/{slug}` (DESIGN.md §5): a hash lookup plus a 2 s cache, never
//! argon2.

use super::ServiceError;
use crate::clock;
use std::sync::Arc;

use crate::domain::{Principal, SecretHash, Via, AGGREGATE};
use crate::state::Core;
use crate::store::{self, tokens};

/// A hash lookup, then the checks: not expired or revoked, bound to this resource (`slug`, or
/// `AGGREGATE` for `/mcp`), and the grant still covers the user's server with this slug.
pub async fn validate_bearer(
    core: &Core,
    token: &str,
    slug: &str,
) -> Result<Option<Principal>, ServiceError> {
    if !token.starts_with("gh_at_") {
        return Ok(None);
    }
    let hash = SecretHash::of(token);
    let started = std::time::Instant::now();
    let key = (hash.as_str().to_owned(), slug.to_owned());
    if let Some(hit) = core.bearer_cache.get(&key, started) {
        return Ok(Some(hit));
    }
    let Some(row) = tokens::get_access(&core.pool, &hash).await? else {
        return Ok(None);
    };
    let servers: Arc<[String]> = store::parse_list(&row.granted).into();
    // Bound to this resource (`/mcp` is its own resource), and for a server, still granted.
    let bound = store::parse_list(&row.resources).iter().any(|r| r == slug);
    let granted = slug == AGGREGATE || servers.iter().any(|s| s == slug);
    if row.revoked || !bound || !granted || clock::now() >= row.expires_at {
        return Ok(None);
    }
    let principal = Principal {
        user: row.user_id,
        client_id: row.client_id,
        via: Via::Grant(row.grant_id),
        servers,
    };
    core.bearer_cache.put(key, principal.clone(), started);
    Ok(Some(principal))
}
