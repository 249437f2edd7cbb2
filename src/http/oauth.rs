//! The authorization server's endpoints: `/register` (RFC 7591), `/authorize` (RFC 6749
//! §4.1.1), the consent decision, `/token` (§4.1.3, §6).

use axum::extract::{FromRef, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::{engine::general_purpose::STANDARD, Engine};
use tower_sessions::Session;

use super::client_ip::ClientIp;
use super::error::{message_page, WebError};
use super::oauth_error::{no_store, JsonError};
use super::session;
use crate::oauth::client_registration::RegistrationRequest;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::token::TokenRequest;
use crate::rate_limit::RetryAfter;
use crate::service::authorization::{self, Answer, StartError};
use crate::service::clients::{self, RegisterError};
use crate::service::token_admin;
use crate::service::tokens::{self, PresentedClient, TokenError};
use crate::service::ServiceError;
use crate::state::SharedCore;

/// Endpoints called by clients (cross-origin allowed).
pub fn client_routes<S>() -> Router<S>
where
    SharedCore: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/register", post(register))
        .route("/token", post(token))
        .route("/revoke", post(revoke))
}

/// Endpoints for resource servers (no CORS: a browser has no business here).
pub fn server_routes<S>() -> Router<S>
where
    SharedCore: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/introspect", post(introspect))
}

/// Endpoints the user's browser visits (never CORS).
pub fn browser_routes<S>() -> Router<S>
where
    SharedCore: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/authorize", get(authorize))
        .route("/consent/{handle}", post(consent))
}

async fn register(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    body: axum::body::Bytes,
) -> Response {
    if let Err(wait) = core.limits.register(ip) {
        return too_many(wait, "too many registrations");
    }
    let request: RegistrationRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return JsonError::from(OAuthError::new(
                ErrorCode::InvalidClientMetadata,
                format!("the body is not valid client metadata JSON: {e}"),
            ))
            .into_response()
        }
    };
    match clients::register(&core, Some(ip), request).await {
        Ok(registered) => no_store((StatusCode::CREATED, Json(registered)).into_response()),
        Err(RegisterError::Invalid(e)) => JsonError::from(e).into_response(),
        Err(RegisterError::Service(e)) => JsonError::from(e).into_response(),
    }
}

/// 429 with `Retry-After` and an OAuth-shaped body (RFC 6585 §4).
fn too_many(wait: RetryAfter, what: &str) -> Response {
    let secs = wait.seconds();
    let mut res = JsonError::from(OAuthError::new(
        ErrorCode::InvalidRequest,
        format!("{what}; retry in {secs}s"),
    ))
    .into_response();
    *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    if let Ok(v) = header::HeaderValue::from_str(&secs.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1: form-urlencoded parts).
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decode = || -> Option<(String, String)> {
        let text = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
        let (id, secret) = text.split_once(':')?;
        let unescape = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        Some((unescape(id)?, unescape(secret)?))
    };
    Some(decode().ok_or(()))
}

async fn token(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Err(wait) = core.limits.token(ip) {
        return too_many(wait, "too many requests");
    }
    let Ok(Form(pairs)) = form else {
        return JsonError::from(OAuthError::new(
            ErrorCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        ))
        .into_response();
    };
    let presented = match presented_client(&headers, None) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let via_basic = presented.via_basic;
    let request = match TokenRequest::from_pairs(pairs) {
        Ok(r) => r,
        Err(e) => return JsonError::from(e).into_response(),
    };
    match tokens::exchange(&core, request, presented, Some(ip)).await {
        Ok(issued) => no_store(Json(issued).into_response()),
        Err(e) => token_error(e, via_basic),
    }
}

/// The client's credentials: HTTP Basic if present, else `client_id`/`client_secret` from
/// the body pairs (when given; the token endpoint reads them through `TokenRequest`).
fn presented_client(
    headers: &HeaderMap,
    pairs: Option<&[(String, String)]>,
) -> Result<PresentedClient, JsonError> {
    match basic_credentials(headers) {
        Some(Ok((id, secret))) => Ok(PresentedClient {
            client_id: Some(id),
            secret: Some(secret),
            via_basic: true,
        }),
        Some(Err(())) => Err(JsonError {
            error: OAuthError::new(ErrorCode::InvalidClient, "malformed Basic credentials"),
            basic_challenge: true,
        }),
        None => {
            let field = |name: &str| {
                pairs?
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .filter(|v| !v.is_empty())
            };
            Ok(PresentedClient {
                client_id: field("client_id"),
                secret: field("client_secret"),
                via_basic: false,
            })
        }
    }
}

type FormPairs = Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>;

/// The `token` parameter of /revoke and /introspect, with the client's credentials.
fn token_form(
    headers: &HeaderMap,
    form: FormPairs,
) -> Result<(String, PresentedClient), JsonError> {
    let Ok(Form(pairs)) = form else {
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        )
        .into());
    };
    let presented = presented_client(headers, Some(&pairs))?;
    let token = pairs
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.clone())
        .filter(|t| !t.is_empty());
    let token = token.ok_or_else(|| {
        JsonError::from(OAuthError::new(
            ErrorCode::InvalidRequest,
            "token is required",
        ))
    })?;
    Ok((token, presented))
}

fn token_error(err: TokenError, via_basic: bool) -> Response {
    match err {
        TokenError::OAuth(error) => JsonError {
            error,
            basic_challenge: via_basic,
        }
        .into_response(),
        TokenError::RateLimited(wait) => too_many(wait, "too many token requests for this client"),
        TokenError::Service(e) => JsonError::from(e).into_response(),
    }
}

async fn revoke(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: FormPairs,
) -> Response {
    let (token, presented) = match token_form(&headers, form) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let via_basic = presented.via_basic;
    match token_admin::revoke(&core, presented, &token, Some(ip)).await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => token_error(e, via_basic),
    }
}

async fn introspect(
    State(core): State<SharedCore>,
    headers: HeaderMap,
    form: FormPairs,
) -> Response {
    let (token, presented) = match token_form(&headers, form) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let via_basic = presented.via_basic;
    match token_admin::introspect(&core, presented, &token).await {
        Ok(answer) => no_store(Json(answer).into_response()),
        Err(e) => token_error(e, via_basic),
    }
}

fn error_page(error: &OAuthError) -> Response {
    message_page(StatusCode::BAD_REQUEST, "This sign-in link is not valid", &format!("The app that sent you here made an invalid request ({}: {}). Nothing was shared. Go back to the app and try again.", error.code.as_str(), error.description))
}

async fn authorize(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    session: Session,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    // Each request stores a pending request (and may fetch a metadata document).
    core.limits.authorize(ip).map_err(WebError::RateLimited)?;
    let params = match authorization::params_from_pairs(pairs) {
        Ok(p) => p,
        Err(e) => return Ok(error_page(&e)),
    };
    match authorization::start(&core, params, Some(ip)).await {
        Ok(handle) => Ok(Redirect::to(&format!("/consent/{}", handle.expose())).into_response()),
        Err(StartError::Page(e)) => Ok(error_page(&e)),
        // Only a signed-in user is sent back with the error: before sign-in Gatehouse must
        // not redirect anywhere (DESIGN.md §3).
        Err(StartError::Redirect(back)) => {
            if session::current_account(&core, &session).await?.is_none() {
                Ok(error_page(&back.error))
            } else if back.verified {
                Ok(found(&back.location))
            } else {
                Ok(continue_page(&back))
            }
        }
        Err(StartError::RateLimited(wait)) => Err(WebError::RateLimited(wait)),
        Err(StartError::Service(e)) => Err(e.into()),
    }
}

/// An unverified client's error, for a signed-in user: the host it goes to is named, and
/// the user decides whether to go there (RFC 9700 §4.11.2).
fn continue_page(back: &authorization::ErrorRedirect) -> Response {
    let host = super::error::escape_html(&back.host);
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>The app's request was refused · Gatehouse</title>\
         <link rel=\"stylesheet\" href=\"/pkg/gatehouse.css\"></head><body><main class=\"narrow\">\
         <h1>The app's request was refused</h1><p role=\"alert\">{}</p>\
         <p>The app asked to be answered at <strong>{host}</strong>, an address it registered itself. \
         Continue only if you trust {host}.</p>\
         <p><a class=\"button\" href=\"{}\">Continue to {host}</a> <a href=\"/servers\">Stay on Gatehouse</a></p>\
         </main></body></html>",
        super::error::escape_html(&format!("{}: {}", back.error.code.as_str(), back.error.description)),
        super::error::escape_html(&back.location),
    );
    let mut res = (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}

/// 302 Found: the OAuth redirect back to the client (RFC 6749 §4.1.2).
fn found(location: &str) -> Response {
    let mut res = (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}

async fn consent(
    State(core): State<SharedCore>,
    ClientIp(ip): ClientIp,
    session: Session,
    Path(handle): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    if !crate::domain::secret::is_token_shaped(&handle) {
        return Err(WebError::BadForm(
            "this authorization request is malformed".into(),
        ));
    }
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if !session::csrf_matches(&session, field("_csrf").unwrap_or("")).await {
        return Err(WebError::Csrf);
    }
    let Some(account) = session::current_account(&core, &session).await? else {
        return Err(WebError::SignInRequired);
    };
    let decision = match field("decision") {
        Some("approve") => Answer::Approve(
            pairs
                .iter()
                .filter(|(k, _)| k == "server")
                .map(|(_, v)| v.clone())
                .collect(),
        ),
        Some("deny") => Answer::Deny,
        _ => {
            return Err(WebError::BadForm(
                "the form must say approve or deny".into(),
            ))
        }
    };
    match authorization::decide(&core, &handle, &account, Some(ip), decision).await {
        Ok(location) => Ok(found(&location)),
        // The user can choose again (or the request is gone): said on the consent page.
        Err(err @ ServiceError::Invalid(_)) => {
            session::set_flash(&session, session::FlashKind::Error, err.to_string()).await?;
            Ok(Redirect::to(&format!("/consent/{handle}")).into_response())
        }
        Err(err) => Err(err.into()),
    }
}
