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
    let clients = gatehouse::service::client_admin::list(&core, &actor)
        .await?
        .into_iter()
        .map(|c| {
            let hosts: Vec<String> = gatehouse::store::parse_list(&c.redirect_uris)
                .iter()
                .filter_map(|r| {
                    gatehouse::domain::RedirectUri::parse(r)
                        .ok()
                        .map(|r| r.display_host())
                })
                .collect();
            crate::dto::ClientAdminRow {
                name: c.client_name.unwrap_or_else(|| "(unnamed)".into()),
                kind: if c.kind == "cimd" {
                    "metadata document".into()
                } else {
                    "registered".into()
                },
                redirect_hosts: hosts.join(", "),
                created: gatehouse::clock::format_utc(c.created_at),
                disabled: c.disabled,
                active_grants: c.active_grants,
                client_id: c.client_id,
            }
        })
        .collect();
    Ok(AdminData {
        ctx,
        users,
        server_count,
        clients,
    })
}
