//! Data for the Admin page (administrators only).

use leptos::prelude::*;

use crate::dto::AdminData;
use crate::error::AppError;

#[server(endpoint = "admin_page")]
pub async fn admin_page() -> Result<AdminData, AppError> {
    use crate::dto::AccountRow;
    let core = crate::ssr::core()?;
    let (ctx, account, actor) = crate::ssr::signed_in_context().await?;
    if !account.is_admin {
        return Err(AppError::Forbidden);
    }
    let users = gatehouse::service::accounts::list(&core, &actor)
        .await?
        .into_iter()
        .map(|u| AccountRow {
            active: u.password_hash.is_some(),
            username: u.username,
            is_admin: u.is_admin,
            created: gatehouse::clock::format_utc(u.created_at),
        })
        .collect();
    let server_count = gatehouse::store::servers::list_all(&core.pool)
        .await
        .map_err(|e| AppError::from(gatehouse::service::ServiceError::from(e)))?
        .len();
    Ok(AdminData {
        ctx,
        users,
        server_count,
    })
}
