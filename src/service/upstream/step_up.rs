//! Step-up authorization (MCP spec, "scope challenge handling"): an upstream answering 403
//! `insufficient_scope` with the `scope` it needs marks the connection *Needs
//! re-authentication*; the next *Authenticate* asks for those scopes as well.

use crate::clock;
use crate::domain::UserId;
use crate::service::{activity, activity::About, Actor, ServiceError};
use crate::state::Core;
use crate::store::{self, upstream};
use crate::vault::discovery::bearer_challenge;

/// The scopes an upstream's 403 asks for, if it is an `insufficient_scope` challenge.
pub fn wanted_scopes<'a>(challenges: impl IntoIterator<Item = &'a str>) -> Option<String> {
    bearer_challenge(challenges)
        .filter(|c| c.error.as_deref() == Some("insufficient_scope"))
        .and_then(|c| c.scope)
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
}

/// Marks the user's connection to the server for re-authentication with `scopes` added.
pub async fn require(
    core: &Core,
    user: UserId,
    server_id: i64,
    slug: &str,
    scopes: &str,
) -> Result<(), ServiceError> {
    let now = clock::now();
    let shown = crate::vault::oauth::printable(scopes);
    let reason = format!("the server asks for more access ({shown}): Authenticate again");
    let mut tx = store::begin_write(&core.pool).await?;
    if upstream::require_step_up(&mut tx, user, server_id, &shown, &reason, now).await? {
        activity::record_about(
            &mut tx,
            &Actor::system("gateway"),
            Some(user),
            "vault.step_up",
            About {
                server: Some(slug),
                ..About::default()
            },
            format!("{slug}: insufficient_scope, wants {shown}"),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    core.credentials.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_insufficient_scope_with_a_scope_asks_for_more() {
        assert_eq!(
            wanted_scopes([
                r#"Bearer error="insufficient_scope", scope="notes:read  notes:write""#
            ]),
            Some("notes:read notes:write".into())
        );
        assert_eq!(
            wanted_scopes([r#"Bearer error="insufficient_scope""#]),
            None
        );
        assert_eq!(
            wanted_scopes([r#"Bearer error="invalid_token", scope="x""#]),
            None
        );
        assert_eq!(wanted_scopes([]), None);
    }
}
