//! `Principal`: who a request to `/mcp/{slug}` or `/mcp` speaks for, once its credential is
//! checked.

use super::UserId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: UserId,
    /// Who is calling, for the activity log: the OAuth client's id, or `API key 'name'`.
    pub client_id: String,
    pub via: Via,
    /// The slugs of the user's servers this credential covers (the grant's servers, or the
    /// key's limit): what the aggregated `/mcp` presents.
    pub servers: std::sync::Arc<[String]>,
}

impl Principal {
    pub fn covers(&self, slug: &str) -> bool {
        self.servers.iter().any(|s| s == slug)
    }
}

/// The credential a principal presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// An access token issued under this grant.
    Grant(i64),
    /// This API key.
    Key(i64),
}
