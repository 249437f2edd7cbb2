//! Data for the Servers page.

use leptos::prelude::*;

use crate::dto::ServersData;
use crate::error::AppError;

#[server(endpoint = "servers_page")]
pub async fn servers_page() -> Result<ServersData, AppError> {
    use crate::dto::ServerView;
    use gatehouse::clock::format_utc;
    use gatehouse::domain::UpstreamUrl;

    let core = crate::ssr::core()?;
    let (ctx, _, actor) = crate::ssr::signed_in_context().await?;
    let rows = gatehouse::service::servers::list(&core, &actor).await?;
    let servers = rows
        .into_iter()
        .map(|row| ServerView {
            url: row
                .url
                .as_ref()
                .map(UpstreamUrl::redacted)
                .unwrap_or_else(|| "(cannot be decrypted: check the encryption keys)".into()),
            static_credential: row.has_static_credential,
            provider: match (&row.url, row.has_static_credential) {
                (_, true) => "Static credential".to_owned(),
                (Some(url), false) => gatehouse::vault::detect::detect(url).label.to_owned(),
                (None, false) => "Unknown".to_owned(),
            },
            mcp_url: core.public_url.join(&format!("/mcp/{}", row.slug)),
            added: format_utc(row.created_at),
            slug: row.slug,
            name: row.name,
        })
        .collect();
    Ok(ServersData { ctx, servers })
}
