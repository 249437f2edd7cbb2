//! Server-side helpers for server functions: the shared core, the session, the page context.

use gatehouse::http::session::{self, FlashKind};
use gatehouse::service::{accounts::Account, Actor};
use gatehouse::state::SharedCore;
use leptos::prelude::*;
use tower_sessions::Session;

use crate::dto::{FlashView, PageContext, UserView};
use crate::error::AppError;

pub fn core() -> Result<SharedCore, AppError> {
    use_context::<SharedCore>().ok_or(AppError::Internal)
}

pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|e| {
        tracing::error!(err = %e, "no session on this request");
        AppError::Internal
    })
}

pub async fn client_ip() -> Option<std::net::IpAddr> {
    leptos_axum::extract_with_state::<gatehouse::http::client_ip::ClientIp, SharedCore>(
        &core().ok()?,
    )
    .await
    .ok()
    .map(|ip| ip.0)
}

/// The page context for any page; pops the flash message.
pub async fn page_context() -> Result<(PageContext, Option<Account>), AppError> {
    let core = core()?;
    let session = session().await?;
    let account = session::current_account(&core, &session).await?;
    let csrf = session::csrf_token(&session).await?;
    let flash = session::take_flash(&session).await.map(|f| FlashView {
        success: f.kind == FlashKind::Success,
        text: f.text,
    });
    let user = account.as_ref().map(|a| UserView {
        username: a.username.clone(),
        is_admin: a.is_admin,
    });
    Ok((PageContext { user, csrf, flash }, account))
}

/// Like [`page_context`], but a visitor who is not signed in is sent to the sign-in page.
pub async fn signed_in_context() -> Result<(PageContext, Account, Actor), AppError> {
    let (ctx, account) = page_context().await?;
    let Some(account) = account else {
        leptos_axum::redirect("/login");
        return Err(AppError::SignInRequired);
    };
    let actor = account.actor(client_ip().await);
    Ok((ctx, account, actor))
}
