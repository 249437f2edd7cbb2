//! Administrators' view of every OAuth client: disable (its tokens stop working and it can
//! no longer authorize), enable, delete (its grants and tokens go with it).

use super::{activity, Actor, ServiceError};
use crate::clock;
use crate::domain::RedirectUri;
use crate::state::Core;
use crate::store::{self, clients};

pub use clients::ClientSummary;

impl ClientSummary {
    /// The hosts of the client's redirect URIs, as the admin page lists them.
    pub fn redirect_hosts(&self) -> Vec<String> {
        store::parse_list(&self.redirect_uris)
            .iter()
            .filter_map(|r| RedirectUri::parse(r).ok().map(|r| r.display_host()))
            .collect()
    }
}

pub async fn list(core: &Core, actor: &Actor) -> Result<Vec<ClientSummary>, ServiceError> {
    if !actor.is_admin {
        return Err(ServiceError::Forbidden);
    }
    Ok(clients::list_all(&core.pool).await?)
}

pub enum Action {
    Disable,
    Enable,
    Delete,
}

pub async fn apply(
    core: &Core,
    actor: &Actor,
    client_id: &str,
    action: Action,
) -> Result<(), ServiceError> {
    if !actor.is_admin {
        return Err(ServiceError::Forbidden);
    }
    let now = clock::now();
    let mut tx = store::begin_write(&core.pool).await?;
    let (done, kind) = match action {
        Action::Disable => (
            clients::set_disabled(&mut *tx, client_id, true).await?,
            "client.disabled",
        ),
        Action::Enable => (
            clients::set_disabled(&mut *tx, client_id, false).await?,
            "client.enabled",
        ),
        Action::Delete => (
            clients::delete(&mut *tx, client_id).await?,
            "client.deleted",
        ),
    };
    if !done {
        return Err(ServiceError::NotFound);
    }
    let about = activity::About {
        client: Some(client_id),
        ..activity::About::default()
    };
    activity::record_about(&mut tx, actor, None, kind, about, client_id.to_owned(), now).await?;
    tx.commit().await?;
    core.bearer_cache.clear();
    Ok(())
}
