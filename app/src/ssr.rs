//! Server-side helpers for server functions: the shared core, the session, the page context,
//! and how a dashboard action begins (CSRF, who acts) and ends (flash + redirect without
//! JavaScript, the message in place with it).

use axum::http::{header, StatusCode};
use gatehouse::http::session::{self, FlashKind};
use gatehouse::service::{accounts::Account, Actor};
use gatehouse::state::SharedCore;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
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

/// The page context for any page; pops the flash message. A CSRF token — and with it a
/// stored session — is made only for someone signed in, or when the page shows `form` to
/// an anonymous visitor: anonymous page views store nothing.
pub async fn page_context(form: bool) -> Result<(PageContext, Option<Account>), AppError> {
    let core = core()?;
    let session = session().await?;
    let account = session::current_account(&core, &session).await?;
    let csrf = match form || account.is_some() {
        true => session::csrf_token(&session).await?,
        false => String::new(),
    };
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

/// Gives a page context the CSRF token of a form shown to an anonymous visitor.
pub async fn with_form(mut ctx: PageContext) -> Result<PageContext, AppError> {
    if ctx.csrf.is_empty() {
        ctx.csrf = session::csrf_token(&session().await?).await?;
    }
    Ok(ctx)
}

/// Like [`page_context`], but a visitor who is not signed in is sent to the sign-in page.
pub async fn signed_in_context() -> Result<(PageContext, Account, Actor), AppError> {
    let (ctx, account) = page_context(false).await?;
    let Some(account) = account else {
        leptos_axum::redirect("/login");
        return Err(AppError::SignInRequired);
    };
    let actor = account.actor(client_ip().await);
    Ok((ctx, account, actor))
}

/// True for a plain HTML form post (no JavaScript): the browser then needs a redirect back
/// to a page, not data.
pub fn is_plain_form_post() -> bool {
    use_context::<axum::http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    })
}

/// An anonymous action (setup, sign-up, invite): the session, after the CSRF check.
pub async fn anonymous_action(csrf: &str) -> Result<(SharedCore, Session), AppError> {
    let core = core()?;
    let session = session().await?;
    if !session::csrf_matches(&session, csrf).await {
        return Err(AppError::Csrf);
    }
    Ok((core, session))
}

/// A signed-in user's action: CSRF checked, then who acts.
pub async fn signed_in_action(
    csrf: &str,
) -> Result<(SharedCore, Session, Account, Actor), AppError> {
    let (core, session) = anonymous_action(csrf).await?;
    let Some(account) = session::current_account(&core, &session).await? else {
        return Err(AppError::SignInRequired);
    };
    let actor = account.actor(client_ip().await);
    Ok((core, session, account, actor))
}

/// Gives an error its HTTP status (and `Retry-After`): a plain form post then gets it as an
/// error page (see `responses::form_errors`).
pub fn fail(err: AppError) -> AppError {
    let Some(res) = use_context::<ResponseOptions>() else {
        return err;
    };
    if let Ok(status) = StatusCode::from_u16(err.status()) {
        res.set_status(status);
    }
    let retry = match &err {
        AppError::RateLimited(secs) => Some(*secs),
        AppError::Busy => Some(1),
        _ => None,
    };
    if let Some(Ok(v)) = retry.map(|secs| header::HeaderValue::from_str(&secs.to_string())) {
        res.insert_header(header::RETRY_AFTER, v);
    }
    err
}

/// Sends the browser to `location`: a 303 after a plain form post, the server-function
/// redirect (client-side navigation, or the whole window for another origin) otherwise.
pub fn redirect(location: &str) {
    leptos_axum::redirect(location);
    if is_plain_form_post() {
        if let Some(res) = use_context::<ResponseOptions>() {
            res.set_status(StatusCode::SEE_OTHER);
        }
    }
}

/// Ends an action whose form lives on `page`. Without JavaScript the outcome becomes the
/// flash message and the browser goes back to `page` (errors it cannot act on get a page of
/// their own); with JavaScript the message or error is returned and shown in place.
pub async fn finish(page: &str, outcome: Result<String, AppError>) -> Result<String, AppError> {
    if !is_plain_form_post() {
        return outcome.map_err(fail);
    }
    let (kind, text) = match outcome {
        Ok(message) => (FlashKind::Success, message),
        Err(err @ (AppError::Invalid(_) | AppError::NotFound)) => {
            (FlashKind::Error, err.to_string())
        }
        Err(AppError::SignInRequired) => {
            redirect("/login");
            return Ok(String::new());
        }
        Err(err) => return Err(fail(err)),
    };
    session::set_flash(&session().await?, kind, text.clone()).await?;
    redirect(page);
    Ok(text)
}

/// Ends an action that moves on to `location` (a new page, or another site) after success,
/// with `message` flashed there; a failure ends as [`finish`] does on `page`.
pub async fn go_on(
    page: &str,
    outcome: Result<(String, Option<String>), AppError>,
) -> Result<String, AppError> {
    match outcome {
        Ok((location, message)) => {
            if let Some(text) = &message {
                session::set_flash(&session().await?, FlashKind::Success, text.clone()).await?;
            }
            redirect(&location);
            Ok(message.unwrap_or_default())
        }
        Err(err) => finish(page, Err(err)).await,
    }
}

/// A rate limit's answer as an error.
pub fn rate_limited(wait: gatehouse::http::RetryAfter) -> AppError {
    AppError::RateLimited(wait.0.as_secs().max(1))
}
