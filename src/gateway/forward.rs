//! Forwarding one MCP request: resolve the user's server, check the session binding, send with
//! the header rules and the user's credential (`credentialed`: refresh-and-retry once on an
//! upstream 401, step-up on a 403), and stream the answer back without buffering.

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::audit::CallRecord;
use super::credentialed::{self, Outgoing, Refusal};
use super::headers::{client_response_headers, session_id, upstream_request_headers};
use super::inspect::{inspect, Call};
use super::route::route;
use super::streams::PER_USER_LIMIT;
use super::{errors, sessions, Gateway};
use crate::domain::{SecretHash, SecretToken, UserId};
use crate::service::upstream::refresh::CredentialError;
use crate::service::upstream::route::RouteError;

/// The request as received, after Gatehouse's own authentication.
pub struct Inbound {
    pub method: Method,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub session_of: SessionOf,
}

/// Whose `Mcp-Session-Id` a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOf {
    /// The client's: it must be one the upstream issued to this user and server, and one
    /// the upstream issues is bound to them.
    Client,
    /// Gatehouse's own session with the upstream, which the aggregated `/mcp` passes a call
    /// through (`aggregate::passthrough`): opened by Gatehouse for this user, so neither
    /// checked nor bound. An upstream's 404 there refuses the session without running the
    /// call, which the caller then sends on a new one, and a GET there resumes a call's
    /// answer: neither is recorded here. (A 400 may be an answer: it is recorded.)
    /// `server_id`: the server the session was opened with. A server deleted and added
    /// again under the same name since then is another server: the session is not sent
    /// to it, and the call is refused as on an ended session.
    Gatehouse { server_id: i64 },
}

/// Who is calling: the token's user and client.
pub struct Caller<'a> {
    pub user: UserId,
    pub client: &'a str,
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
    let session_of = inbound.session_of;
    let resumption = inbound.method == Method::GET;
    let outcome = forward_call(gw, caller.user, slug, &call, inbound).await;
    let status = outcome.response.status().as_u16();
    // On Gatehouse's session, a 404 refused the session (the call is sent again on another)
    // and a GET resumes the answer of a call already recorded: neither is a call.
    let not_a_call = status == 404 || resumption;
    let on_gatehouses = matches!(session_of, SessionOf::Gatehouse { .. });
    if on_gatehouses && not_a_call && outcome.note.is_none() {
        return outcome.response;
    }
    let took = started.elapsed();
    crate::telemetry::gateway_call(
        slug,
        match (outcome.note, status) {
            (Some(_), _) => "refused",
            (None, 400..) => "upstream_error",
            (None, _) => "ok",
        },
        took,
    );
    gw.audit.record(
        &gw.core,
        CallRecord {
            user: caller.user,
            client: caller.client.to_owned(),
            server: slug.to_owned(),
            method: call.method,
            tool: call.tool,
            status,
            duration_ms: took.as_millis(),
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
    if let SessionOf::Gatehouse { server_id } = inbound.session_of {
        if server_id != route.server_id {
            return errors::unknown_session().into();
        }
    }
    let client_session = inbound.session_of == SessionOf::Client;
    let session = session_id.filter(|_| client_session).map(SecretHash::of);
    if let Some(hash) = &session {
        match sessions::owner(gw, hash).await {
            Ok(Some((owner, server_id))) if owner == user && server_id == route.server_id => {}
            Ok(_) => return noted(errors::unknown_session(), "foreign or unknown session"),
            Err(err) => return internal(err),
        }
    }
    let token = match credentialed::credential(gw, user, &route).await {
        Ok(token) => token,
        Err(refusal) => return refused(gw, call, slug, refusal),
    };
    let Some(slot) = gw.streams.acquire(user, PER_USER_LIMIT) else {
        return noted(errors::too_many_streams(call, PER_USER_LIMIT), "stream cap");
    };
    let bodiless = inbound.method == Method::GET && inbound.body.is_empty();
    let outgoing = Outgoing {
        method: inbound.method.clone(),
        headers: upstream_request_headers(&inbound.headers, session_id),
        body: (!bodiless).then(|| inbound.body.clone()),
    };
    let response = match credentialed::send(gw, user, slug, &route, &outgoing, token).await {
        Ok(response) => response,
        Err(refusal) => return refused(gw, call, slug, refusal),
    };
    if client_session {
        let tracked = sessions::track(
            gw,
            user,
            route.server_id,
            &inbound.method,
            session.as_ref(),
            &response,
        );
        if let Err(err) = tracked.await {
            return internal(err);
        }
    }
    stream_back(response, slot).into()
}

fn unavailable(call: &Call, slug: &str, reason: &str) -> Outcome {
    noted(
        errors::upstream_unavailable(call, slug, reason),
        "upstream unavailable",
    )
}

/// Where the user acts (the Servers page) and a fresh id for the URL elicitation that says so.
fn servers_page(gw: &Gateway) -> (String, String) {
    let elicitation_id = SecretToken::generate("").expose()[..22].to_owned();
    (gw.core.public_url.join("/servers"), elicitation_id)
}

/// The user must reconnect the upstream account on the Servers page.
fn reauth(gw: &Gateway, call: &Call, slug: &str, note: &'static str) -> Outcome {
    let (url, elicitation_id) = servers_page(gw);
    noted(
        errors::needs_reauth(call, slug, &url, &elicitation_id),
        note,
    )
}

/// Why the upstream gave no usable answer, as the client's answer.
fn refused(gw: &Gateway, call: &Call, slug: &str, refusal: Refusal) -> Outcome {
    match refusal {
        Refusal::Unavailable(reason) => unavailable(call, slug, &reason),
        Refusal::Reauth => reauth(gw, call, slug, "upstream 401 after refresh"),
        Refusal::CredentialRefused { stored } => {
            let url = gw.core.public_url.join("/servers");
            noted(
                errors::credential_refused(call, slug, &url, stored),
                "upstream 401",
            )
        }
        Refusal::WiderScope(scopes) => {
            let (url, elicitation_id) = servers_page(gw);
            noted(
                errors::needs_wider_scope(call, slug, &url, &elicitation_id, &scopes),
                "insufficient_scope",
            )
        }
        Refusal::Credential(CredentialError::NotConnected) => {
            reauth(gw, call, slug, "not connected")
        }
        Refusal::Credential(CredentialError::NeedsReauth) => {
            reauth(gw, call, slug, "needs re-authentication")
        }
        Refusal::Credential(CredentialError::Provider(msg)) => noted(
            errors::upstream_unavailable(
                call,
                slug,
                &format!("refreshing its sign-in failed ({msg})"),
            ),
            "refresh failed",
        ),
        Refusal::Credential(CredentialError::Internal(err)) => internal(err),
        Refusal::Internal(err) => internal(err),
    }
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
