//! Data for the consent page of a pending authorization request.

use leptos::prelude::*;

use crate::dto::ConsentData;
use crate::error::AppError;

#[server(endpoint = "consent_page")]
pub async fn consent_page(handle: String) -> Result<ConsentData, AppError> {
    use crate::dto::{ConsentServerView, ConsentState, ConsentView};
    use gatehouse::domain::RedirectKind;
    use gatehouse::service::authorization;

    let core = crate::ssr::core()?;
    let (ctx, account) = crate::ssr::page_context(false).await?;
    let state = match account {
        None if authorization::request_exists(&core, &handle).await? => ConsentState::SignIn,
        None => ConsentState::Expired,
        Some(account) => match authorization::consent_view(&core, &handle, &account).await? {
            None => ConsentState::Expired,
            Some(v) => ConsentState::Ask(ConsentView {
                client_name: v.client_name,
                client_id: v.client_id,
                verified: v.verified,
                identity_host: v.identity_host,
                label: v.label.map(str::to_owned),
                redirect_host: v.redirect_host,
                loopback: v.redirect_kind == RedirectKind::Loopback,
                private_use: v.redirect_kind == RedirectKind::PrivateUse,
                servers: v
                    .servers
                    .into_iter()
                    .map(|s| ConsentServerView {
                        slug: s.slug,
                        name: s.name,
                        selected: s.selected,
                    })
                    .collect(),
                aggregate: v.aggregate,
                unknown_resources: v.unknown_resources,
            }),
        },
    };
    // A form (sign-in, or approve/deny) unless the request is gone.
    let ctx = match state {
        ConsentState::Expired => ctx,
        _ => crate::ssr::with_form(ctx).await?,
    };
    Ok(ConsentData { ctx, state })
}
