//! Errors the gateway answers itself, shaped so clients can act on them (DESIGN.md §5): a
//! JSON-RPC error when the request had an id (HTTP 200, so MCP clients surface the message),
//! else a JSON body with a 4xx/5xx status.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::inspect::Call;

/// URL-mode elicitation required (MCP 2025-11-25).
pub const URL_ELICITATION_REQUIRED: i64 = -32042;
/// The upstream connection must be re-authenticated by the user (clients without URL-mode
/// elicitation); `data.server` and `data.url` say which and where.
pub const UPSTREAM_AUTH_REQUIRED: i64 = -32010;
/// The upstream could not be reached or failed.
pub const UPSTREAM_UNAVAILABLE: i64 = -32011;
/// Too many open streams for this user.
pub const TOO_MANY_STREAMS: i64 = -32012;

fn reply(call: &Call, status: StatusCode, code: i64, message: String, data: Value) -> Response {
    let mut response = match &call.id {
        Some(id) => (
            StatusCode::OK,
            Json(json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message, "data": data } })),
        )
            .into_response(),
        None => (status, Json(json!({ "error": message, "code": code, "data": data }))).into_response(),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What the user must do when an upstream account needs a new sign-in.
pub fn reauth_message(server: &str, url: &str) -> String {
    format!(
        "The upstream server '{server}' needs you to sign in again: open {url} and click Authenticate (or Reconnect), then retry."
    )
}

pub fn wider_scope_message(server: &str, url: &str, scopes: &str) -> String {
    format!(
        "The upstream server '{server}' needs more access ({scopes}) for this request: open {url} and click Authenticate to grant it, then retry."
    )
}

pub fn unavailable_message(server: &str, reason: &str) -> String {
    format!("The upstream server '{server}' is unavailable: {reason}")
}

/// The user must (re)connect the upstream account at `url` (the Servers page).
pub fn needs_reauth(call: &Call, server: &str, url: &str, elicitation_id: &str) -> Response {
    let message = reauth_message(server, url);
    sign_in_reply(call, server, url, elicitation_id, message)
}

/// The upstream wants wider scopes (403 `insufficient_scope`): the user must authenticate
/// again at `url`, where the next sign-in asks for them.
pub fn needs_wider_scope(
    call: &Call,
    server: &str,
    url: &str,
    elicitation_id: &str,
    scopes: &str,
) -> Response {
    let message = wider_scope_message(server, url, scopes);
    sign_in_reply(call, server, url, elicitation_id, message)
}

/// URL-mode elicitation for clients that declared it, else the Gatehouse error code.
fn sign_in_reply(
    call: &Call,
    server: &str,
    url: &str,
    elicitation_id: &str,
    message: String,
) -> Response {
    if call.url_elicitation && call.id.is_some() {
        return reply(
            call,
            StatusCode::BAD_GATEWAY,
            URL_ELICITATION_REQUIRED,
            message.clone(),
            json!({ "elicitations": [{ "mode": "url", "elicitationId": elicitation_id, "url": url, "message": message }] }),
        );
    }
    reply(
        call,
        StatusCode::BAD_GATEWAY,
        UPSTREAM_AUTH_REQUIRED,
        message,
        json!({ "server": server, "url": url }),
    )
}

/// The upstream refused a credential the user cannot renew by signing in (a static
/// credential, or none at all for a server that turned out to need one).
pub fn credential_refused(call: &Call, server: &str, url: &str, had_credential: bool) -> Response {
    let message = if had_credential {
        format!("The upstream server '{server}' refused its stored credential: replace it on {url} (delete the server and add it again with the new credential, or choose a sign-in provider for it).")
    } else {
        format!("The upstream server '{server}' requires authorization that Gatehouse does not hold for it: choose a sign-in provider or store a credential for it on {url}.")
    };
    reply(
        call,
        StatusCode::BAD_GATEWAY,
        UPSTREAM_AUTH_REQUIRED,
        message,
        json!({ "server": server, "url": url }),
    )
}

pub fn upstream_unavailable(call: &Call, server: &str, reason: &str) -> Response {
    reply(
        call,
        StatusCode::BAD_GATEWAY,
        UPSTREAM_UNAVAILABLE,
        unavailable_message(server, reason),
        json!({ "server": server }),
    )
}

pub fn too_many_streams(call: &Call, limit: usize) -> Response {
    reply(
        call,
        StatusCode::TOO_MANY_REQUESTS,
        TOO_MANY_STREAMS,
        format!("Too many open requests through Gatehouse for your account (limit {limit}); close some and retry."),
        Value::Null,
    )
}

/// An `Mcp-Session-Id` that is not this principal's (or unknown): 404, as the Streamable
/// HTTP transport prescribes for unknown sessions, so clients start a new one.
pub fn unknown_session() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": "session not found", "error_description": "start a new session (initialize)" })),
    )
        .into_response()
}

/// A repeated `Mcp-Session-Id`, or one with bytes a session id never has.
pub fn bad_session_header() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": "invalid_request", "error_description": "send one Mcp-Session-Id of visible ASCII characters" })),
    )
        .into_response()
}
