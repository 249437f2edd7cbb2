//! `Principal`: who a request to `/mcp/{slug}` speaks for, once its credential is checked.

use super::UserId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: UserId,
    /// Who is calling, for the activity log: the OAuth client's id, or `API key 'name'`.
    pub client_id: String,
    pub via: Via,
}

/// The credential a principal presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// An access token issued under this grant.
    Grant(i64),
    /// This API key.
    Key(i64),
}
