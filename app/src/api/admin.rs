//! The Admin page (administrators only): accounts and invites, every OAuth client, and the
//! deployment checks.

use leptos::prelude::*;

use crate::dto::{AdminData, ChecksData};
use crate::error::AppError;

#[server(endpoint = "admin_page")]
pub async fn admin_page() -> Result<AdminData, AppError> {
    use crate::dto::{AccountRow, ClientAdminRow};
    use gatehouse::clock::format_utc;
    use gatehouse::service::{accounts, client_admin, servers};

    let core = crate::ssr::core()?;
    let (ctx, account, actor) = crate::ssr::signed_in_context().await?;
    if !account.is_admin {
        return Err(AppError::Forbidden);
    }
    let users = accounts::list(&core, &actor)
        .await?
        .into_iter()
        .map(|u| AccountRow {
            active: u.password_hash.is_some(),
            username: u.username,
            is_admin: u.is_admin,
            created: format_utc(u.created_at),
        })
        .collect();
    let clients = client_admin::list(&core, &actor)
        .await?
        .into_iter()
        .map(|c| ClientAdminRow {
            redirect_hosts: c.redirect_hosts().join(", "),
            name: c.client_name.unwrap_or_else(|| "(unnamed)".into()),
            kind: if c.kind == "cimd" {
                "metadata document".into()
            } else {
                "registered".into()
            },
            created: format_utc(c.created_at),
            disabled: c.disabled,
            active_grants: c.active_grants,
            client_id: c.client_id,
        })
        .collect();
    Ok(AdminData {
        ctx,
        users,
        server_count: servers::count_all(&core, &actor).await?,
        clients,
    })
}

/// The deployment checks of `gatehouse doctor`, run now (administrators only). They register
/// a throwaway client through the public URL and delete it again.
#[server(endpoint = "deployment_checks")]
pub async fn deployment_checks() -> Result<ChecksData, AppError> {
    use crate::dto::CheckView;
    use gatehouse::service::doctor;

    let core = crate::ssr::core()?;
    let (ctx, account, _) = crate::ssr::signed_in_context().await?;
    if !account.is_admin {
        return Err(AppError::Forbidden);
    }
    let checks = doctor::run(&core)
        .await
        .into_iter()
        .map(|c| CheckView {
            verdict: c.verdict.label().to_owned(),
            name: c.name,
            detail: c.detail,
        })
        .collect();
    Ok(ChecksData { ctx, checks })
}

/// Creates an invited account; the one-time link is in the message, shown only now.
#[server(endpoint = "invite_user")]
pub async fn invite_user(
    #[server(rename = "_csrf")]
    #[server(default)]
    csrf: String,
    username: String,
    #[server(default)] is_admin: Option<String>,
) -> Result<String, AppError> {
    let outcome = async {
        let (core, _, _, actor) = crate::ssr::signed_in_action(&csrf).await?;
        let (user, token) =
            gatehouse::service::accounts::invite(&core, &actor, &username, is_admin.is_some())
                .await?;
        let link = core.public_url.join(&format!("/invite/{}", token.expose()));
        Ok(format!("Created {}. Send them this one-time link to choose a password (valid 7 days, shown only now): {link}", user.username))
    };
    crate::ssr::finish("/admin", outcome.await).await
}

/// Disables, enables or deletes a client for everyone.
#[server(endpoint = "client_action")]
pub async fn client_action(
    #[server(rename = "_csrf")]
    #[server(default)]
    csrf: String,
    client_id: String,
    action: String,
) -> Result<String, AppError> {
    use gatehouse::service::client_admin::{self, Action};
    let outcome = async {
        let (core, _, _, actor) = crate::ssr::signed_in_action(&csrf).await?;
        let (action, done) = match action.as_str() {
            "disable" => (Action::Disable, "disabled: its tokens stopped working"),
            "enable" => (Action::Enable, "enabled"),
            "delete" => (Action::Delete, "deleted with its grants and tokens"),
            _ => return Err(AppError::Invalid("Unknown action.".into())),
        };
        client_admin::apply(&core, &actor, &client_id, action).await?;
        Ok(format!("Client {client_id} {done}."))
    };
    crate::ssr::finish("/admin", outcome.await).await
}
