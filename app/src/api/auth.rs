//! The anonymous pages' data (sign-in, first-run setup, sign-up, invite) and their actions:
//! creating the administrator, signing up, accepting an invite, signing out. Sign-in itself is
//! a protocol POST (`/login`, in the core): it also serves authorization requests.

use leptos::prelude::*;

use crate::dto::{AuthPageData, InviteData};
use crate::error::AppError;

#[server(endpoint = "auth_page")]
pub async fn auth_page() -> Result<AuthPageData, AppError> {
    let core = crate::ssr::core()?;
    let (ctx, _) = crate::ssr::page_context(true).await?;
    Ok(AuthPageData {
        ctx,
        setup_pending: gatehouse::service::setup::pending(&core).await,
        open_signup: core.config.open_signup,
    })
}

#[server(endpoint = "invite_page")]
pub async fn invite_page(token: String) -> Result<InviteData, AppError> {
    let core = crate::ssr::core()?;
    let (ctx, _) = crate::ssr::page_context(false).await?;
    let account = gatehouse::service::accounts::invite_account(&core, &token).await?;
    // Only a valid invite shows its form.
    let ctx = match account {
        Some(_) => crate::ssr::with_form(ctx).await?,
        None => ctx,
    };
    Ok(InviteData {
        ctx,
        username: account.map(|a| a.username),
    })
}

/// First run: the setup code's holder creates the administrator and is signed in.
#[server(endpoint = "setup")]
pub async fn setup(
    #[server(rename = "_csrf")]
    #[server(default)]
    csrf: String,
    code: String,
    username: String,
    password: String,
) -> Result<String, AppError> {
    use crate::ssr::{anonymous_action, client_ip, go_on, rate_limited};
    use gatehouse::service::setup;
    let outcome = async {
        let (core, session) = anonymous_action(&csrf).await?;
        let ip = client_ip().await;
        if let Some(ip) = ip {
            core.limits.sign_in(ip, None).map_err(rate_limited)?;
        }
        let account = setup::complete(&core, ip, &code, &username, password).await?;
        gatehouse::http::session::sign_in(&session, &account).await?;
        let welcome = format!("Welcome, {}. You are the administrator.", account.username);
        Ok::<_, AppError>(("/servers".to_owned(), Some(welcome)))
    };
    match outcome.await {
        // Setup is over (the only refusal it has): the way on is signing in.
        Err(AppError::Forbidden) => {
            let done = AppError::Invalid("Setup is already complete; sign in instead.".into());
            go_on("/login", Err(done)).await
        }
        other => go_on("/setup", other).await,
    }
}

/// Open sign-up (when the operator allows it).
#[server(endpoint = "sign_up")]
pub async fn sign_up(
    #[server(rename = "_csrf")]
    #[server(default)]
    csrf: String,
    username: String,
    password: String,
) -> Result<String, AppError> {
    use crate::ssr::{anonymous_action, client_ip, go_on, rate_limited};
    use gatehouse::service::accounts;
    let outcome = async {
        let (core, session) = anonymous_action(&csrf).await?;
        let ip = client_ip().await;
        if let Some(ip) = ip {
            core.limits.sign_in(ip, None).map_err(rate_limited)?;
        }
        let account = accounts::sign_up(&core, ip, &username, password).await?;
        gatehouse::http::session::sign_in(&session, &account).await?;
        let welcome = format!("Welcome, {}.", account.username);
        Ok::<_, AppError>(("/servers".to_owned(), Some(welcome)))
    };
    match outcome.await {
        // Sign-up is closed: the way on is an invite, then signing in.
        Err(AppError::Forbidden) => {
            let closed =
                AppError::Invalid("Sign-up is closed; ask an administrator for an invite.".into());
            go_on("/login", Err(closed)).await
        }
        other => go_on("/signup", other).await,
    }
}

/// An invited user chooses a password and is signed in.
#[server(endpoint = "accept_invite")]
pub async fn accept_invite(
    #[server(rename = "_csrf")]
    #[server(default)]
    csrf: String,
    token: String,
    password: String,
) -> Result<String, AppError> {
    use crate::ssr::{anonymous_action, client_ip, go_on, rate_limited};
    use gatehouse::http::session;
    // The token goes back into a URL: only Gatehouse's own shape is accepted.
    if !gatehouse::domain::secret::is_token_shaped(&token) {
        let malformed = AppError::Invalid("This invite link is malformed.".into());
        return Err(crate::ssr::fail(malformed));
    }
    let page = format!("/invite/{token}");
    let outcome = async {
        let (core, session) = anonymous_action(&csrf).await?;
        let ip = client_ip().await;
        if let Some(ip) = ip {
            core.limits.sign_in(ip, None).map_err(rate_limited)?;
        }
        let account =
            gatehouse::service::accounts::accept_invite(&core, ip, &token, password).await?;
        session::sign_in(&session, &account).await?;
        Ok((
            "/servers".to_owned(),
            Some(format!("Password set. Welcome, {}.", account.username)),
        ))
    };
    go_on(&page, outcome.await).await
}

#[server(endpoint = "sign_out")]
pub async fn sign_out(
    #[server(rename = "_csrf")]
    #[server(default)]
    csrf: String,
) -> Result<String, AppError> {
    use crate::ssr::{anonymous_action, client_ip, go_on};
    use gatehouse::http::session;
    let outcome = async {
        let (core, session) = anonymous_action(&csrf).await?;
        if let Some(account) = session::current_account(&core, &session).await? {
            let ip = client_ip().await;
            if let Err(err) =
                gatehouse::service::accounts::record_sign_out(&core, &account, ip).await
            {
                tracing::warn!(%err, "could not record sign-out");
            }
        }
        session::sign_out(&session).await?;
        Ok(("/login".to_owned(), None))
    };
    go_on("/servers", outcome.await).await
}
