//! Data for the anonymous pages: sign-in, first-run setup, sign-up, invite.

use leptos::prelude::*;

use crate::dto::{AuthPageData, InviteData};
use crate::error::AppError;

#[server(endpoint = "auth_page")]
pub async fn auth_page() -> Result<AuthPageData, AppError> {
    let core = crate::ssr::core()?;
    let (ctx, _) = crate::ssr::page_context().await?;
    Ok(AuthPageData {
        ctx,
        setup_pending: core.setup_pending().await,
        open_signup: core.config.open_signup,
    })
}

#[server(endpoint = "invite_page")]
pub async fn invite_page(token: String) -> Result<InviteData, AppError> {
    let core = crate::ssr::core()?;
    let (ctx, _) = crate::ssr::page_context().await?;
    let account = gatehouse::service::accounts::invite_account(&core, &token).await?;
    Ok(InviteData {
        ctx,
        username: account.map(|a| a.username),
    })
}
