//! Where a user's slug goes and how the upstream is authenticated there: what the gateway
//! needs per call (and caches for ≤ 2 s, watching `Core::servers_changed`).

use secrecy::SecretString;
use url::Url;

use crate::domain::UserId;
use crate::service::{servers, ServiceError};
use crate::state::Core;
use crate::vault::provider::Kind;

pub enum Auth {
    /// An open upstream (or one whose own sign-in was not found).
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

#[derive(Debug)]
pub enum RouteError {
    NotFound,
    /// The stored URL or credential cannot be decrypted (a missing key).
    Undecryptable,
    Internal(String),
}

impl From<ServiceError> for RouteError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::NotFound => RouteError::NotFound,
            other => RouteError::Internal(other.to_string()),
        }
    }
}

pub async fn route(core: &Core, user: UserId, slug: &str) -> Result<Route, RouteError> {
    let server = servers::get(core, user, slug).await?;
    let url = server.url.as_ref().ok_or(RouteError::Undecryptable)?;
    let target = Url::parse(url.as_str()).map_err(|e| RouteError::Internal(e.to_string()))?;
    let auth = if server.has_static_credential {
        match servers::static_credential(core, user, slug).await {
            Ok(Some(secret)) => Auth::Static(secret),
            Ok(None) => Auth::None,
            Err(_) => return Err(RouteError::Undecryptable),
        }
    } else {
        match server.provider(&core.config).map(|p| p.kind) {
            Some(Kind::Google | Kind::Generic(_)) => Auth::Vault,
            // The server's own sign-in, once a probe found one; else it is open (or unknown,
            // and its 401 says so to the client).
            Some(Kind::Native) if super::native::needs_sign_in(core, user, server.id).await? => {
                Auth::Vault
            }
            _ => Auth::None,
        }
    };
    Ok(Route {
        server_id: server.id,
        target,
        auth,
    })
}
