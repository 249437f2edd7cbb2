//! The Servers page's data and actions: add and delete servers, *Authenticate* (on to the
//! provider), *Revoke*, and the per-server provider choice.

use leptos::prelude::*;

use crate::dto::ServersData;
use crate::error::AppError;

#[server(endpoint = "servers_page")]
pub async fn servers_page() -> Result<ServersData, AppError> {
    use crate::dto::{ConnectionView, DiscoveryView, ServerView};
    use gatehouse::clock::{self, format_utc};
    use gatehouse::service::upstream::native::Outcome;
    use gatehouse::service::upstream::status::{self, relative, State};

    let core = crate::ssr::core()?;
    let (ctx, account, _) = crate::ssr::signed_in_context().await?;
    let now = clock::now();
    let rows = status::list(&core, account.id, now).await?;
    let servers =
        rows.into_iter()
            .map(|st| {
                let s = st.server;
                let c = st.connection.as_ref();
                ServerView {
                    url: s.url.as_ref().map(|u| u.redacted()).unwrap_or_else(|| {
                        "(cannot be decrypted: check the encryption keys)".into()
                    }),
                    static_credential: s.has_static_credential,
                    provider: st.provider_label,
                    provider_detected: st.provider.as_ref().is_some_and(|p| p.detected),
                    provider_choice: st.provider_choice,
                    mcp_url: core.public_url.join(&format!("/mcp/{}", s.slug)),
                    added: format_utc(s.created_at),
                    connection: ConnectionView {
                        state: st.state.label().to_owned(),
                        tone: match st.state {
                            State::Connected | State::StaticCredential => "ok",
                            State::ExpiresSoon | State::Expired => "warn",
                            State::NeedsReauth => "bad",
                            State::NotConnected | State::Open => "none",
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
                    own_sign_in: st.own_sign_in,
                    discovery: st.discovery.map(|d| DiscoveryView {
                        outcome: match d.outcome {
                            Outcome::OAuth => "Own sign-in",
                            Outcome::Open => "Open",
                            Outcome::Failed => "Not usable",
                        }
                        .to_owned(),
                        authorization_server: d.issuer,
                        scopes: d.scopes,
                        registration: d.registration.map(str::to_owned),
                        message: d.message,
                        checked: relative(d.probed_at, now),
                    }),
                    slug: s.slug,
                    name: s.name,
                }
            })
            .collect();
    Ok(ServersData {
        ctx,
        servers,
        provider_options: status::provider_options(&core),
    })
}

/// *Add server*, with an optional static credential (stored encrypted).
#[server(endpoint = "add_server")]
pub async fn add_server(
    #[server(rename = "_csrf")]
    #[server(default)]
    csrf: String,
    url: String,
    slug: String,
    #[server(default)] name: String,
    #[server(default)] credential: String,
) -> Result<String, AppError> {
    use gatehouse::service::servers::{self, NewServer};
    use gatehouse::service::upstream::native;
    let outcome = async {
        let (core, _, account, actor) = crate::ssr::signed_in_action(&csrf).await?;
        let new = NewServer::parse(&slug, &name, &url)?;
        let credential = Some(credential.trim().to_owned())
            .filter(|c| !c.is_empty())
            .map(secrecy::SecretString::from);
        let added = servers::add(&core, &actor, account.id, new, credential).await?;
        let found = native::probe_if_native(&core, &actor, &added).await?;
        Ok(match found {
            None => format!("Added server '{}'.", added.slug),
            Some(d) => format!("Added server '{}'. {}", added.slug, d.sentence()),
        })
    };
    crate::ssr::finish("/servers", outcome.await).await
}

/// Deletes a server; a connected one has its upstream grant revoked first.
#[server(endpoint = "delete_server")]
pub async fn delete_server(
    #[server(rename = "_csrf")]
    #[server(default)]
    csrf: String,
    slug: String,
) -> Result<String, AppError> {
    let outcome = async {
        let (core, _, account, actor) = crate::ssr::signed_in_action(&csrf).await?;
        Ok(gatehouse::service::upstream::disconnect::delete_server(
            &core, &actor, account.id, &slug,
        )
        .await?)
    };
    crate::ssr::finish("/servers", outcome.await).await
}

/// *Authenticate* / *Reconnect*: on to the provider's sign-in page (state + PKCE), bound to
/// this browser session.
#[server(endpoint = "authenticate")]
pub async fn authenticate(
    #[server(rename = "_csrf")]
    #[server(default)]
    csrf: String,
    slug: String,
) -> Result<String, AppError> {
    let outcome = async {
        let (core, session, _, actor) = crate::ssr::signed_in_action(&csrf).await?;
        let binding = gatehouse::http::session::vault_binding(&session, true)
            .await?
            .unwrap_or_default();
        let url =
            gatehouse::service::upstream::connect::start(&core, &actor, &binding, &slug).await?;
        Ok((url.to_string(), None))
    };
    crate::ssr::go_on("/servers", outcome.await).await
}

/// *Revoke*: revocation at the provider, then the stored tokens are deleted.
#[server(endpoint = "disconnect")]
pub async fn disconnect(
    #[server(rename = "_csrf")]
    #[server(default)]
    csrf: String,
    slug: String,
) -> Result<String, AppError> {
    let outcome = async {
        let (core, _, account, actor) = crate::ssr::signed_in_action(&csrf).await?;
        let done =
            gatehouse::service::upstream::disconnect::disconnect(&core, &actor, account.id, &slug)
                .await?;
        Ok(done.message())
    };
    crate::ssr::finish("/servers", outcome.await).await
}

/// Which provider a server signs in with (overriding detection).
#[server(endpoint = "set_provider")]
pub async fn set_provider(
    #[server(rename = "_csrf")]
    #[server(default)]
    csrf: String,
    slug: String,
    provider: String,
) -> Result<String, AppError> {
    let outcome = async {
        let (core, _, _, actor) = crate::ssr::signed_in_action(&csrf).await?;
        gatehouse::service::servers::set_provider(&core, &actor, &slug, &provider).await?;
        Ok(format!("Saved the provider of '{slug}'."))
    };
    crate::ssr::finish("/servers", outcome.await).await
}

/// *Check*: look for the server's own sign-in again and register Gatehouse there.
#[server(endpoint = "probe_server")]
pub async fn probe_server(
    #[server(rename = "_csrf")]
    #[server(default)]
    csrf: String,
    slug: String,
) -> Result<String, AppError> {
    use gatehouse::service::upstream::native;
    let outcome = async {
        let (core, _, account, actor) = crate::ssr::signed_in_action(&csrf).await?;
        let found = native::probe(&core, &actor, account.id, &slug).await?;
        Ok(format!("Checked '{slug}'. {}", found.sentence()))
    };
    crate::ssr::finish("/servers", outcome.await).await
}
