//! The API keys page's data and actions: create (the key shown once, with client
//! configuration) and revoke.

use leptos::prelude::*;

use crate::dto::{KeysData, NewKeyView};
use crate::error::AppError;

/// A key as the pages list it.
#[cfg(feature = "ssr")]
pub fn key_view(k: gatehouse::service::api_keys::KeyRow) -> crate::dto::KeyView {
    use gatehouse::clock::format_utc;
    let never = || "never".to_owned();
    crate::dto::KeyView {
        id: k.id,
        name: k.name,
        prefix: format!("{}…", k.prefix),
        servers: k.servers.unwrap_or_else(|| "all servers".into()),
        created: format_utc(k.created_at),
        last_used: k.last_used_at.map(format_utc).unwrap_or_else(never),
        expires: k.expires_at.map(format_utc).unwrap_or_else(never),
    }
}

#[server(endpoint = "keys_page")]
pub async fn keys_page() -> Result<KeysData, AppError> {
    use gatehouse::service::{api_keys, servers};

    let core = crate::ssr::core()?;
    let (ctx, account, actor) = crate::ssr::signed_in_context().await?;
    let keys = api_keys::list(&core, &actor, account.id)
        .await?
        .into_iter()
        .map(key_view)
        .collect();
    let mine = servers::list(&core, &actor).await?;
    // A key made by a plain form post comes back once, through the session (sealed).
    let session = crate::ssr::session().await?;
    let created = match gatehouse::http::session::take_reveal(&session).await {
        Some(sealed) => api_keys::open_for_display(&core, account.id, &sealed)
            .and_then(|text| serde_json::from_str::<NewKeyView>(&text).ok()),
        None => None,
    };
    Ok(KeysData {
        ctx,
        keys,
        servers: mine.into_iter().map(|s| (s.slug, s.name)).collect(),
        created,
    })
}

/// Creates a key; `expires` is `never` or a duration (`30d`), `servers` limits it to some of
/// the user's servers (none: all). With JavaScript the key comes back in the answer; after a
/// plain form post it is shown once on the page the browser is sent back to.
#[server(endpoint = "create_key")]
pub async fn create_key(
    #[server(rename = "_csrf")]
    #[server(default)]
    csrf: String,
    name: String,
    #[server(default)] expires: String,
    #[server(default)] servers: Vec<String>,
) -> Result<Option<NewKeyView>, AppError> {
    use gatehouse::service::api_keys;
    let outcome = async {
        let (core, session, account, actor) = crate::ssr::signed_in_action(&csrf).await?;
        let lifetime = match expires.trim() {
            "" | "never" => None,
            text => Some(
                gatehouse::config::parse_duration_text(text)
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| AppError::Invalid(format!("'{text}' is not a duration")))?,
            ),
        };
        let created =
            api_keys::create(&core, &actor, account.id, &name, lifetime, &servers).await?;
        let reached = match &created.servers {
            Some(slugs) => slugs.clone(),
            None => gatehouse::service::servers::list(&core, &actor)
                .await?
                .into_iter()
                .map(|s| s.slug)
                .collect(),
        };
        let view = NewKeyView {
            name: created.name.clone(),
            key: created.key.expose().to_owned(),
            scope: created
                .servers
                .map(|s| s.join(", "))
                .unwrap_or_else(|| "all your servers".into()),
            endpoints: reached
                .into_iter()
                .map(|slug| {
                    let url = core.public_url.join(&format!("/mcp/{slug}"));
                    (slug, url)
                })
                .collect(),
        };
        Ok::<_, AppError>((core, session, account, view))
    };
    match outcome.await {
        Ok((core, session, account, view)) => {
            let message = format!(
                "Created key '{}'. Copy it now: it is shown only once.",
                view.name
            );
            if !crate::ssr::is_plain_form_post() {
                return Ok(Some(view));
            }
            // No JavaScript: the key goes back through the session, sealed.
            let text = serde_json::to_string(&view).map_err(|_| AppError::Internal)?;
            let sealed = gatehouse::service::api_keys::seal_for_display(&core, account.id, &text)?;
            gatehouse::http::session::set_reveal(&session, sealed).await?;
            crate::ssr::finish("/keys", Ok(message)).await.map(|_| None)
        }
        Err(err) => crate::ssr::finish("/keys", Err(err)).await.map(|_| None),
    }
}

/// Revokes one of the user's keys: it stops at once (other instances within 2 s).
#[server(endpoint = "revoke_key")]
pub async fn revoke_key(
    #[server(rename = "_csrf")]
    #[server(default)]
    csrf: String,
    key: i64,
) -> Result<String, AppError> {
    let outcome = async {
        let (core, _, _, actor) = crate::ssr::signed_in_action(&csrf).await?;
        let name = gatehouse::service::api_keys::revoke(&core, &actor, key).await?;
        Ok(format!("Revoked key '{name}': it stopped working."))
    };
    crate::ssr::finish("/keys", outcome.await).await
}
