//! Where a user's slug goes and how the upstream is authenticated there, cached for ≤ 2 s:
//! a busy client then costs no database read and no decryption per call for it.

use std::sync::Arc;
use std::time::Instant;

use secrecy::SecretString;
use url::Url;

use crate::domain::UserId;
use crate::service::servers;
use crate::service::ttl_cache::TtlCache;
use crate::service::ServiceError;
use crate::state::SharedCore;
use crate::vault::provider::{for_server, Kind};

pub enum Auth {
    /// An open upstream (or one whose own sign-in Gatehouse cannot do yet).
    None,
    Static(SecretString),
    /// The vault's token for the user's connection to this server.
    Vault,
}

pub struct Route {
    pub server_id: i64,
    pub target: Url,
    pub auth: Auth,
}

/// (user, slug) → route. Cleared whenever this process changes a server.
pub type RouteCache = TtlCache<(UserId, String), Arc<Route>>;

#[derive(Debug)]
pub enum RouteError {
    NotFound,
    Undecryptable,
    Internal(String),
}

pub async fn route(core: &SharedCore, user: UserId, slug: &str) -> Result<Arc<Route>, RouteError> {
    let key = (user, slug.to_owned());
    let now = Instant::now();
    if let Some(hit) = core.gateway_routes.get(&key, now) {
        return Ok(hit);
    }
    let server = servers::get(core, user, slug).await.map_err(|e| match e {
        ServiceError::NotFound => RouteError::NotFound,
        other => RouteError::Internal(other.to_string()),
    })?;
    let url = server.url.as_ref().ok_or(RouteError::Undecryptable)?;
    let target = Url::parse(url.as_str()).map_err(|e| RouteError::Internal(e.to_string()))?;
    let auth = if server.has_static_credential {
        match servers::static_credential(core, user, slug).await {
            Ok(Some(secret)) => Auth::Static(secret),
            Ok(None) => Auth::None,
            Err(_) => return Err(RouteError::Undecryptable),
        }
    } else {
        match for_server(&core.config, &server).map(|p| p.kind) {
            Some(Kind::Google | Kind::Generic(_)) => Auth::Vault,
            _ => Auth::None,
        }
    };
    let route = Arc::new(Route {
        server_id: server.id,
        target,
        auth,
    });
    core.gateway_routes.put(key, route.clone(), now);
    Ok(route)
}
