//! The route of a user's slug, cached for ≤ 2 s: a busy client then costs no database read
//! and no decryption per call. A change to any server (this process's) clears it at once.

use std::sync::Arc;
use std::time::Instant;

use super::Gateway;
use crate::domain::UserId;
use crate::service::upstream::route::{self, Route, RouteError};

pub async fn route(gw: &Gateway, user: UserId, slug: &str) -> Result<Arc<Route>, RouteError> {
    let changed = &gw.core.servers_changed;
    let key = (user, slug.to_owned());
    let now = Instant::now();
    if let Some(hit) = gw.routes.get(changed, &key, now) {
        return Ok(hit);
    }
    let read_at = changed.current();
    let found = Arc::new(route::route(&gw.core, user, slug).await?);
    gw.routes.put(changed, read_at, key, found.clone(), now);
    Ok(found)
}
