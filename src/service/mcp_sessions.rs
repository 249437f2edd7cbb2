//! Upstream `Mcp-Session-Id`s bound to the (user, server) that opened them (DESIGN.md §5).
//! Ids are stored hashed.

use super::ServiceError;
use crate::clock;
use crate::domain::{SecretHash, UserId};
use crate::state::Core;
use crate::store::gateway_sessions;

/// Who a session belongs to: `(user, server)`, or `None` if Gatehouse never bound it.
pub async fn owner(
    core: &Core,
    session: &SecretHash,
) -> Result<Option<(UserId, i64)>, ServiceError> {
    Ok(gateway_sessions::owner(&core.pool, session.as_str()).await?)
}

/// Binds a session id the upstream issued; an existing binding keeps its first opener.
pub async fn bind(
    core: &Core,
    session: &SecretHash,
    user: UserId,
    server_id: i64,
) -> Result<(), ServiceError> {
    gateway_sessions::bind(&core.pool, session.as_str(), user, server_id, clock::now()).await?;
    Ok(())
}

/// Forgets a session its owner ended.
pub async fn unbind(core: &Core, session: &SecretHash, user: UserId) -> Result<(), ServiceError> {
    gateway_sessions::unbind(&core.pool, session.as_str(), user).await?;
    Ok(())
}
