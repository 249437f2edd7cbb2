//! Data for the Servers page.

use leptos::prelude::*;

use crate::dto::ServersData;
use crate::error::AppError;

#[server(endpoint = "servers_page")]
pub async fn servers_page() -> Result<ServersData, AppError> {
    use crate::dto::{ConnectionView, ServerView};
    use gatehouse::clock::{self, format_utc};
    use gatehouse::domain::UpstreamUrl;
    use gatehouse::vault::provider::{Choice, Kind};
    use gatehouse::vault::status::{self, relative, State};

    let core = crate::ssr::core()?;
    let (ctx, _, actor) = crate::ssr::signed_in_context().await?;
    let user = actor.user.ok_or(AppError::SignInRequired)?;
    let now = clock::now();
    let rows = status::list(&core, user, now).await?;
    let servers = rows
        .into_iter()
        .map(|st| {
            let s = st.server;
            let c = st.connection.as_ref();
            let provider = match &st.provider {
                Some(p) if p.kind == Kind::None && s.has_static_credential => {
                    "Static credential".to_owned()
                }
                Some(p) => p.label.clone(),
                None => "Unknown".to_owned(),
            };
            ServerView {
                url: s
                    .url
                    .as_ref()
                    .map(UpstreamUrl::redacted)
                    .unwrap_or_else(|| "(cannot be decrypted: check the encryption keys)".into()),
                static_credential: s.has_static_credential,
                provider,
                provider_detected: st.provider.as_ref().is_some_and(|p| p.detected),
                provider_choice: Choice::parse(s.provider_choice.as_deref(), &core.config)
                    .and_then(|c| c.key())
                    .unwrap_or_else(|| "detect".into()),
                mcp_url: core.public_url.join(&format!("/mcp/{}", s.slug)),
                added: format_utc(s.created_at),
                connection: ConnectionView {
                    state: st.state.label().to_owned(),
                    tone: match st.state {
                        State::Connected => "ok",
                        State::ExpiresSoon | State::Expired => "warn",
                        State::NeedsReauth => "bad",
                        State::NotConnected => "none",
                        State::StaticCredential => "ok",
                    }
                    .to_owned(),
                    connected: c.is_some(),
                    account: c.and_then(|c| c.account.clone()),
                    scopes: c
                        .map(|c| c.scopes.split_whitespace().map(str::to_owned).collect())
                        .unwrap_or_default(),
                    expires: c.and_then(|c| c.expires_at).map(|at| relative(at, now)),
                    last_refresh: c
                        .and_then(|c| c.last_refresh_at)
                        .map(|at| relative(at, now)),
                    last_error: c.and_then(|c| c.last_error.clone()),
                    can_authenticate: st.can_authenticate,
                    blocked: st.cannot_because,
                    shares_grant_with: st.shares_grant_with,
                },
                slug: s.slug,
                name: s.name,
            }
        })
        .collect();
    Ok(ServersData {
        ctx,
        servers,
        provider_options: Choice::options(&core.config),
    })
}
