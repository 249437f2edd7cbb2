//! The AI clients page: the signed-in user's grants, and *Revoke*.

use leptos::prelude::*;

use crate::dto::ClientsData;
use crate::error::AppError;

#[server(endpoint = "clients_page")]
pub async fn clients_page() -> Result<ClientsData, AppError> {
    use crate::dto::GrantView;
    use gatehouse::clock::format_utc;
    use gatehouse::domain::RedirectUri;
    use gatehouse::service::clients::preset_label;

    let core = crate::ssr::core()?;
    let (ctx, account, actor) = crate::ssr::signed_in_context().await?;
    let rows = gatehouse::service::token_admin::list_grants(&core, &actor).await?;
    let grants = rows
        .into_iter()
        .map(|g| {
            let label = preset_label(&g.redirect_uri).map(str::to_owned);
            GrantView {
                id: g.id,
                client: label
                    .or(g.client_name)
                    .unwrap_or_else(|| g.client_id.clone()),
                verified: g.client_kind == "cimd",
                redirect_host: RedirectUri::parse(&g.redirect_uri)
                    .map(|r| r.display_host())
                    .unwrap_or_default(),
                slugs: g
                    .servers
                    .as_deref()
                    .map(|list| list.split(", ").map(str::to_owned).collect())
                    .unwrap_or_default(),
                servers: g.servers.unwrap_or_else(|| "(none left)".into()),
                granted: format_utc(g.created_at),
                last_used: g
                    .last_used_at
                    .map(format_utc)
                    .unwrap_or_else(|| "never".into()),
            }
        })
        .collect();
    let keys = gatehouse::service::api_keys::list(&core, &actor, account.id)
        .await?
        .into_iter()
        .map(crate::api::keys::key_view)
        .collect();
    let servers = gatehouse::service::servers::list(&core, &actor)
        .await?
        .into_iter()
        .map(|s| (s.slug, s.name))
        .collect();
    Ok(ClientsData {
        ctx,
        grants,
        servers,
        keys,
    })
}

/// Changes which servers one of the user's grants covers, at once.
#[server(endpoint = "set_grant_servers")]
pub async fn set_grant_servers(
    #[server(rename = "_csrf")]
    #[server(default)]
    csrf: String,
    grant: i64,
    #[server(default)] servers: Vec<String>,
) -> Result<String, AppError> {
    let outcome = async {
        let (core, _, _, actor) = crate::ssr::signed_in_action(&csrf).await?;
        gatehouse::service::token_admin::set_grant_servers(&core, &actor, grant, &servers).await?;
        Ok(format!(
            "Saved: the app's access covers {}.",
            servers.join(", ")
        ))
    };
    crate::ssr::finish("/clients", outcome.await).await
}

/// Ends one of the user's grants: every token issued under it stops working at once.
#[server(endpoint = "revoke_grant")]
pub async fn revoke_grant(
    #[server(rename = "_csrf")]
    #[server(default)]
    csrf: String,
    grant: i64,
) -> Result<String, AppError> {
    let outcome = async {
        let (core, _, _, actor) = crate::ssr::signed_in_action(&csrf).await?;
        gatehouse::service::token_admin::revoke_grant(&core, &actor, grant).await?;
        Ok(
            "Access revoked. The app's tokens stopped working; it must ask again to reconnect."
                .to_owned(),
        )
    };
    crate::ssr::finish("/clients", outcome.await).await
}
