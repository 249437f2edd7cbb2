//! A server's OAuth provider, ready for a flow: a configured one (Google, `[[provider]]`)
//! whose endpoints come from the config, or the upstream's own, from its last probe. The
//! flows (`connect`, `refresh`, `disconnect`) call the provider through here, so a native
//! upstream's `invalid_client` leads to one re-registration wherever it happens.

use std::future::Future;

use super::native::{self, CallError, Found};
use crate::domain::UserId;
use crate::state::Core;
use crate::vault::oauth::ProviderError;
use crate::vault::provider::{endpoints, Endpoints, Kind, Resource};

pub enum Provider {
    Configured(Endpoints),
    Native(Found),
}

impl Provider {
    /// The provider for one of `user`'s servers, signed in through `kind`.
    pub async fn of(
        core: &Core,
        user: UserId,
        server_id: i64,
        kind: &Kind,
    ) -> Result<Self, String> {
        match kind {
            Kind::Native => native::found(core, user, server_id)
                .await
                .map(Provider::Native),
            other => endpoints(&core.config, other)
                .map(Provider::Configured)
                .map_err(|e| e.to_string()),
        }
    }

    /// The endpoints for a flow's first step (the authorization URL).
    pub async fn endpoints(&self, core: &Core) -> Result<Endpoints, String> {
        match self {
            Provider::Configured(e) => Ok(e.clone()),
            Provider::Native(found) => native::registration(core, &found.server)
                .await
                .map(|r| native::endpoints(found, &r)),
        }
    }

    /// Whether flows send the server's own URL as `resource` (so it must be decrypted).
    pub fn sends_server_url(&self) -> bool {
        matches!(self, Provider::Configured(e) if e.resource == Resource::ServerUrl)
    }

    /// The scopes a native upstream asked for (`None`: the configured provider's own).
    pub fn discovered_scopes(&self) -> Option<&[String]> {
        match self {
            Provider::Configured(_) => None,
            Provider::Native(found) => Some(&found.scopes),
        }
    }

    /// Calls the provider; for a native upstream, a rejected client is registered again once.
    pub async fn call<T, F, Fut>(&self, core: &Core, call: F) -> Result<T, CallError>
    where
        F: Fn(Endpoints) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        match self {
            Provider::Configured(e) => call(e.clone()).await.map_err(CallError::Provider),
            Provider::Native(found) => native::with_endpoints(core, found, call).await,
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Setup(why) => f.write_str(why),
            CallError::Provider(err) => err.fmt(f),
        }
    }
}
