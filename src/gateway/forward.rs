//! Forwarding one MCP request: resolve the user's server, check the session binding, get a
//! fresh upstream credential, send with the header rules, refresh-and-retry once on an
//! upstream 401, and stream the answer back without buffering.

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use secrecy::{ExposeSecret, SecretString};

use super::audit::CallRecord;
use super::headers::{client_response_headers, session_id, upstream_request_headers};
use super::inspect::{inspect, Call};
use super::route::route;
use super::streams::PER_USER_LIMIT;
use super::{errors, sessions, Gateway};
use crate::domain::{SecretHash, SecretToken, UserId};
use crate::net::NetError;
use crate::service::upstream::refresh::{self, CredentialError, Need};
use crate::service::upstream::route::{Auth, Route, RouteError};
use crate::service::upstream::step_up;

/// The request as received, after Gatehouse's own authentication.
pub struct Inbound {
    pub method: Method,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Who is calling: the token's user and client.
pub struct Caller<'a> {
    pub user: UserId,
    pub client: &'a str,
}

/// How the upstream is authenticated for this call.
enum Credential {
    None,
    Static(SecretString),
    /// From the vault: refreshed and retried once if the upstream answers 401.
    Vault(SecretString),
}

impl Credential {
    fn token(&self) -> Option<&str> {
        match self {
            Credential::None => None,
            Credential::Static(t) | Credential::Vault(t) => Some(t.expose_secret()),
        }
    }
}

/// A response and, when Gatehouse answered itself, why (for the activity log).
struct Outcome {
    response: Response,
    note: Option<&'static str>,
}

impl From<Response> for Outcome {
    fn from(response: Response) -> Self {
        Outcome {
            response,
            note: None,
        }
    }
}

fn noted(response: Response, note: &'static str) -> Outcome {
    Outcome {
        response,
        note: Some(note),
    }
}

pub async fn forward(gw: &Gateway, caller: Caller<'_>, slug: &str, inbound: Inbound) -> Response {
    let started = Instant::now();
    let call = inspect(&inbound.body);
    let outcome = forward_call(gw, caller.user, slug, &call, inbound).await;
    let status = outcome.response.status().as_u16();
    crate::telemetry::gateway_call(
        slug,
        match (outcome.note, status) {
            (Some(_), _) => "refused",
            (None, 400..) => "upstream_error",
            (None, _) => "ok",
        },
        started.elapsed(),
    );
    gw.audit.record(
        &gw.core,
        CallRecord {
            user: caller.user,
            client: caller.client.to_owned(),
            server: slug.to_owned(),
            method: call.method,
            tool: call.tool,
            status: outcome.response.status().as_u16(),
            duration_ms: started.elapsed().as_millis(),
            note: outcome.note,
        },
    );
    outcome.response
}

fn internal(err: impl std::fmt::Display) -> Outcome {
    tracing::error!(%err, "gateway failure");
    noted(
        (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
        "internal error",
    )
}

async fn forward_call(
    gw: &Gateway,
    user: UserId,
    slug: &str,
    call: &Call,
    inbound: Inbound,
) -> Outcome {
    let route =
        match route(gw, user, slug).await {
            Ok(route) => route,
            Err(RouteError::NotFound) => {
                return (StatusCode::NOT_FOUND, "no such server")
                    .into_response()
                    .into()
            }
            Err(RouteError::Undecryptable) => return noted(
                errors::upstream_unavailable(
                    call,
                    slug,
                    "its stored URL or credential cannot be decrypted (check the encryption keys)",
                ),
                "undecryptable",
            ),
            Err(RouteError::Internal(err)) => return internal(err),
        };
    // One session id, checked for ownership, is the one forwarded.
    let Ok(session_id) = session_id(&inbound.headers) else {
        return noted(errors::bad_session_header(), "malformed session id");
    };
    let session = session_id.map(SecretHash::of);
    if let Some(hash) = &session {
        match sessions::owner(gw, hash).await {
            Ok(Some((owner, server_id))) if owner == user && server_id == route.server_id => {}
            Ok(_) => return noted(errors::unknown_session(), "foreign or unknown session"),
            Err(err) => return internal(err),
        }
    }
    let credential = match credential_for(gw, user, &route).await {
        Ok(c) => c,
        Err(err) => return refusal(gw, call, slug, err),
    };
    let Some(slot) = gw.streams.acquire(user, PER_USER_LIMIT) else {
        return noted(errors::too_many_streams(call, PER_USER_LIMIT), "stream cap");
    };
    let target = &route.target;
    let mut response = match send(gw, slug, &inbound, session_id, target, &credential).await {
        Ok(r) => r,
        Err(reason) => return unavailable(call, slug, &reason),
    };
    if response.status() == reqwest::StatusCode::UNAUTHORIZED {
        // One refresh (shared with any concurrent caller), one retry; then the user must act.
        let Credential::Vault(rejected) = &credential else {
            let url = gw.core.public_url.join("/servers");
            let had = matches!(credential, Credential::Static(_));
            return noted(
                errors::credential_refused(call, slug, &url, had),
                "upstream 401",
            );
        };
        crate::telemetry::upstream_401_retry();
        let need = Need::IfStill(rejected.clone());
        let fresh = match refresh::credential_with(&gw.core, user, route.server_id, need).await {
            Ok(c) => Credential::Vault(c.token),
            Err(err) => return refusal(gw, call, slug, err),
        };
        response = match send(gw, slug, &inbound, session_id, target, &fresh).await {
            Ok(r) => r,
            Err(reason) => return unavailable(call, slug, &reason),
        };
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            return reauth(gw, call, slug, "upstream 401 after refresh");
        }
    }
    if response.status() == reqwest::StatusCode::FORBIDDEN && matches!(route.auth, Auth::Vault) {
        let wanted = step_up::wanted_scopes(
            response
                .headers()
                .get_all(reqwest::header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        if let Some(scopes) = wanted {
            if let Err(err) = step_up::require(&gw.core, user, route.server_id, slug, &scopes).await
            {
                return internal(err);
            }
            let elicitation_id = SecretToken::generate("").expose()[..22].to_owned();
            let url = gw.core.public_url.join("/servers");
            return noted(
                errors::needs_wider_scope(call, slug, &url, &elicitation_id, &scopes),
                "insufficient_scope",
            );
        }
    }
    if let Err(err) = sessions::track(
        gw,
        user,
        route.server_id,
        &inbound.method,
        session.as_ref(),
        &response,
    )
    .await
    {
        return internal(err);
    }
    stream_back(response, slot).into()
}

fn unavailable(call: &Call, slug: &str, reason: &str) -> Outcome {
    noted(
        errors::upstream_unavailable(call, slug, reason),
        "upstream unavailable",
    )
}

/// The user must reconnect the upstream account on the Servers page.
fn reauth(gw: &Gateway, call: &Call, slug: &str, note: &'static str) -> Outcome {
    let elicitation_id = SecretToken::generate("").expose()[..22].to_owned();
    let url = gw.core.public_url.join("/servers");
    noted(
        errors::needs_reauth(call, slug, &url, &elicitation_id),
        note,
    )
}

/// Why no usable upstream credential could be had, as the client's answer.
fn refusal(gw: &Gateway, call: &Call, slug: &str, err: CredentialError) -> Outcome {
    match err {
        CredentialError::NotConnected => reauth(gw, call, slug, "not connected"),
        CredentialError::NeedsReauth => reauth(gw, call, slug, "needs re-authentication"),
        CredentialError::Provider(msg) => noted(
            errors::upstream_unavailable(
                call,
                slug,
                &format!("refreshing its sign-in failed ({msg})"),
            ),
            "refresh failed",
        ),
        CredentialError::Internal(err) => internal(err),
    }
}

/// The credential to inject: the server's static credential, the vault's token for OAuth
/// providers, or none (open servers).
async fn credential_for(
    gw: &Gateway,
    user: UserId,
    route: &Route,
) -> Result<Credential, CredentialError> {
    match &route.auth {
        Auth::None => Ok(Credential::None),
        Auth::Static(secret) => Ok(Credential::Static(secret.clone())),
        Auth::Vault => refresh::credential(&gw.core, user, route.server_id)
            .await
            .map(|c| Credential::Vault(c.token)),
    }
}

/// Sends the request upstream. The error is a reason safe to show: never the URL (it may
/// hold keys in its query).
async fn send(
    gw: &Gateway,
    slug: &str,
    inbound: &Inbound,
    session: Option<&str>,
    target: &url::Url,
    credential: &Credential,
) -> Result<reqwest::Response, String> {
    let request = gw
        .http
        .request(inbound.method.clone(), target.clone())
        .await
        .map_err(|err| match err {
            NetError::Restricted(host) => {
                format!("{host} resolves to an address Gatehouse may not connect to")
            }
            NetError::Scheme => {
                "only https upstreams may be used (or http to an allowed private network)"
                    .to_owned()
            }
            other => other.to_string(),
        })?
        .headers(upstream_request_headers(
            &inbound.headers,
            session,
            credential.token(),
        ));
    let request = if inbound.method == Method::GET && inbound.body.is_empty() {
        request
    } else {
        request.body(inbound.body.clone())
    };
    let sent = Instant::now();
    let answer = request.send().await;
    crate::telemetry::upstream_response(slug, sent.elapsed());
    answer.map_err(|err| {
        if err.is_timeout() {
            "it did not answer in time".to_owned()
        } else if err.is_connect() {
            "cannot connect to it".to_owned()
        } else {
            crate::net::cause(&err)
        }
    })
}

/// The upstream's answer, streamed chunk by chunk (SSE included); the stream slot is held
/// until the body ends or the client goes away.
fn stream_back(response: reqwest::Response, slot: super::streams::Slot) -> Response {
    let status =
        StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = client_response_headers(response.headers());
    let body = Body::from_stream(response.bytes_stream().map(move |chunk| {
        let _held = &slot;
        chunk
    }));
    let mut out = Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}
