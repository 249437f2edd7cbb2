//! Bearer validation at `/mcp/{slug}` (DESIGN.md §5): a hash lookup plus a 2 s cache, never
//! argon2.

use super::ServiceError;
use crate::clock;
use crate::domain::{Principal, SecretHash, Via};
use crate::state::Core;
use crate::store::{self, tokens};

/// A hash lookup, then the checks: not expired or revoked, bound to this resource, and the
/// grant still covers the user's server with this slug.
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
    let Some(row) = tokens::get_access(&core.pool, &hash, slug).await? else {
        return Ok(None);
    };
    if row.revoked
        || !row.slug_granted
        || clock::now() >= row.expires_at
        || !store::parse_list(&row.resources).iter().any(|r| r == slug)
    {
        return Ok(None);
    }
    let principal = Principal {
        user: row.user_id,
        client_id: row.client_id,
        via: Via::Grant(row.grant_id),
    };
    core.bearer_cache.put(key, principal.clone(), started);
    Ok(Some(principal))
}
