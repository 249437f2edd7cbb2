//! `Principal`: who a request to `/mcp/{slug}` speaks for, once its credential is checked.

use super::UserId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: UserId,
    /// The OAuth client the token was issued to (shown in the activity log).
    pub client_id: String,
    pub grant_id: i64,
}
