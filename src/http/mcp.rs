//! `/mcp/{slug}` and `/mcp`: the gateway's front door, in this order: the `Host` (DNS
//! rebinding, DESIGN.md §5), the slug's shape, authentication (RFC 6750, RFC 9728 §5.1) from
//! the headers alone, then the body, read within a time limit. `gateway::forward` does the
//! rest for one server; the aggregated `/mcp` goes on to `gateway::aggregate` on rmcp.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use futures_util::StreamExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

use super::wellknown::resource_metadata_url;
use crate::domain::scope::MCP_SCOPE;
use crate::domain::{Principal, ResourceUri, ServerSlug, UserId};
use crate::gateway::aggregate::passthrough::{self, Envelope};
use crate::gateway::aggregate::renumbered::{Renumbered, Resume};
use crate::gateway::aggregate::upstream::{Keeps, Opened};
use crate::gateway::aggregate::{names, read_whole, Aggregator, MAX_MESSAGE};
use crate::gateway::auth::{authenticate, AuthFailure};
use crate::gateway::errors;
use crate::gateway::forward::{forward, Caller, Inbound, SessionOf};
use crate::gateway::headers::{session_id, SESSION_ID};
use crate::gateway::SharedGateway;
use crate::oauth::metadata::bearer_challenge;
use crate::state::Core;

pub fn routes(gw: &SharedGateway) -> Router<SharedGateway> {
    // Shared, not cloned per request: a clone copies its config, and most requests pass
    // through without it.
    let aggregated = Arc::new(aggregate_service(gw));
    Router::new().route("/mcp/{slug}", any(mcp)).route(
        "/mcp",
        any(move |State(gw): State<SharedGateway>, request: Request| {
            aggregate(gw, aggregated.clone(), request)
        }),
    )
}

/// Largest MCP request body accepted (tool arguments can be documents).
pub const MAX_MCP_BODY: usize = 4 * 1024 * 1024;

fn json_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

fn challenged(status: StatusCode, challenge: &str, body: serde_json::Value) -> Response {
    let mut res = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

fn unauthorized(core: &Core, resource: &ResourceUri, invalid_token: bool) -> Response {
    let url = resource_metadata_url(&core.public_url.issuer(), resource);
    let challenge = bearer_challenge(&url, invalid_token);
    challenged(
        StatusCode::UNAUTHORIZED,
        &challenge,
        serde_json::json!({ "error": if invalid_token { "invalid_token" } else { "unauthorized" }, "error_description": "A Gatehouse access token for this server is required", "resource_metadata": url }),
    )
}

/// The authority the client addressed: `Host` (HTTP/1.1) or the URI's (HTTP/2 `:authority`).
fn addressed_host(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
}

/// The front door of both endpoints: the `Host`, the credential for `resource`, the body.
async fn admit(
    gw: &SharedGateway,
    resource: &ResourceUri,
    request: Request,
) -> Result<(Principal, Parts, Bytes), Response> {
    let (parts, body) = request.into_parts();
    // A token in the query (RFC 6750 §2.3) is not accepted: it ends up in logs. The client
    // gets the challenge as for any request without usable credentials (§3.1).
    let query_token = parts
        .uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("access_token=")));
    if query_token {
        return Err(unauthorized(&gw.core, resource, false));
    }
    let principal = match authenticate(gw, &parts.headers, resource.key()).await {
        Ok(principal) => principal,
        Err(AuthFailure::Missing) => return Err(unauthorized(&gw.core, resource, false)),
        Err(AuthFailure::Invalid) => return Err(unauthorized(&gw.core, resource, true)),
        Err(AuthFailure::Unavailable(err)) => {
            tracing::error!(%err, "bearer validation failed");
            return Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "token validation unavailable",
            )
                .into_response());
        }
    };
    let within = gw.core.config.connection_limits.body_read_timeout;
    let body = read_body(body, &parts.headers, within).await?;
    Ok((principal, parts, body))
}

/// DNS rebinding: a page on another name that resolves to us must not reach the gateway,
/// whatever it sends next (MCP transport spec; DESIGN.md §5).
fn misdirected(gw: &SharedGateway, request: &Request) -> Option<Response> {
    match addressed_host(request).is_some_and(|host| gw.host_allowed(host)) {
        true => None,
        false => Some(json_error(
            StatusCode::MISDIRECTED_REQUEST,
            "misdirected_request",
            "this Gatehouse does not serve that host name",
        )),
    }
}

async fn mcp(
    State(gw): State<SharedGateway>,
    Path(slug): Path<String>,
    request: Request,
) -> Response {
    if let Some(refusal) = misdirected(&gw, &request) {
        return refusal;
    }
    // The slug goes into the challenge's quoted `resource_metadata`: only a valid one.
    let Ok(slug) = ServerSlug::parse(&slug) else {
        return json_error(StatusCode::NOT_FOUND, "not_found", "no such server");
    };
    let resource = ResourceUri::for_slug(slug);
    let (principal, parts, body) = match admit(&gw, &resource, request).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal,
    };
    let caller = Caller {
        user: principal.user,
        client: &principal.client_id,
    };
    let inbound = Inbound {
        method: parts.method,
        headers: parts.headers,
        body,
        session_of: SessionOf::Client,
    };
    forward(&gw, caller, resource.key(), inbound).await
}

type AggregateService = StreamableHttpService<Aggregator, LocalSessionManager>;

/// The aggregated server on rmcp's Streamable HTTP transport (both protocol eras; sessions
/// for the `initialize` era, so list changes reach clients on their standing stream). The
/// `Host` is checked before it, by us.
fn aggregate_service(gw: &SharedGateway) -> AggregateService {
    // A stateless request whose first message is its answer gets plain JSON, not an SSE
    // stream (rmcp falls back to SSE when a notification, e.g. progress, comes first).
    let mut config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_json_response(true);
    config.cancellation_token = gw.closing.clone();
    // rmcp keeps each finished request's events for a late resume (`Last-Event-ID`), 60 s
    // by default, evicted only when the session next does something: a busy session held a
    // minute of answers after the load. A client that lost a stream reconnects within
    // seconds (the priming event's retry is 3 s).
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.completed_cache_ttl = RESUMABLE_FOR;
    let gw = Arc::downgrade(gw);
    StreamableHttpService::new(
        move || {
            gw.upgrade()
                .map(Aggregator::new)
                .ok_or_else(|| std::io::Error::other("shutting down"))
        },
        Arc::new(sessions),
        config,
    )
}

/// How long a finished answer in a `/mcp` session can be resumed.
const RESUMABLE_FOR: Duration = Duration::from_secs(10);

/// `/mcp`: the same front door, then the session's owner, the step-up check; a
/// `tools/call` that needs nothing of rmcp passes through the forwarder
/// (`aggregate::passthrough`); anything else takes a stream slot and goes to rmcp with the
/// principal in the request's extensions (the `Aggregator` reads it there).
async fn aggregate(
    gw: SharedGateway,
    service: Arc<AggregateService>,
    request: Request,
) -> Response {
    if let Some(refusal) = misdirected(&gw, &request) {
        return refusal;
    }
    let (principal, mut parts, body) = match admit(&gw, &ResourceUri::Aggregate, request).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal,
    };
    let user = principal.user;
    let session = match session_id(&parts.headers) {
        Ok(session) => session.map(str::to_owned),
        Err(_) => return errors::bad_session_header(),
    };
    if let Some(id) = &session {
        if !gw.aggregate_sessions.owned_by(id, user) {
            return errors::unknown_session();
        }
    }
    let envelope = Envelope::parse(&body);
    if let Some(refusal) = step_up(&gw, &principal, envelope.as_ref()).await {
        return refusal;
    }
    if let Some(envelope) = &envelope {
        let through = pass_through(&gw, &principal, session.as_deref(), envelope, &body, &parts);
        if let Some(answer) = through.await {
            return answer;
        }
        if let (Some(id), Some(cancelled)) = (&session, envelope.cancelled()) {
            gw.in_flight.cancel(id, cancelled);
        }
    }
    let Some(slot) = gw.stream_slot(user) else {
        return json_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "too many open requests through Gatehouse for your account; close some and retry",
        );
    };
    let deleting = parts.method == axum::http::Method::DELETE;
    parts.extensions.insert(principal);
    let request = Request::from_parts(parts, Body::from(body));
    let response = service.handle(request).await;
    match (&session, response.headers().get("mcp-session-id")) {
        (Some(id), _) if deleting && response.status().is_success() => {
            gw.aggregate_sessions.closed(id)
        }
        (None, Some(opened)) => {
            if let Ok(opened) = opened.to_str() {
                gw.aggregate_sessions.opened(opened, user);
            }
        }
        _ => {}
    }
    // The slot is held until the response (an SSE stream, perhaps) ends.
    holding(response.map(Body::new), slot, std::future::pending())
}

/// `response` with `guard` kept until its body ends, which it does early when `cut` does.
fn holding<G: Send + 'static>(
    response: Response,
    guard: G,
    cut: impl std::future::Future<Output = ()> + Send + 'static,
) -> Response {
    // A cut body is shorter than the upstream said: sent chunked, it ends cleanly instead
    // of aborting the connection.
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = Body::from_stream(body.into_data_stream().take_until(cut).map(move |chunk| {
        let _held = &guard;
        chunk
    }));
    Response::from_parts(parts, body)
}

/// A `tools/call` that needs nothing of rmcp (`aggregate::passthrough`), sent through the
/// forwarder: a stateless one to a server of that revision, or one in a session of the
/// `initialize` era, to a server that keeps no sessions as the client sent it, to one that
/// does on Gatehouse's session with it under Gatehouse's id (`renumbered`); both
/// cancellable by the client's `notifications/cancelled` on its session. `None`: rmcp's
/// `Aggregator` serves it (also when the upstream has ended Gatehouse's session: the call
/// did not run, and the `Aggregator` opens a new one).
async fn pass_through(
    gw: &SharedGateway,
    principal: &Principal,
    session: Option<&str>,
    envelope: &Envelope<'_>,
    body: &Bytes,
    parts: &Parts,
) -> Option<Response> {
    // A call is a POST: a GET or DELETE with a body would resume or end the upstream
    // session (Gatehouse's, shared by the user's clients) in the call's name.
    if parts.method != axum::http::Method::POST {
        return None;
    }
    let user = principal.user;
    let mut on_session = None;
    let (direct, running) = match session {
        None => {
            let (direct, version) = passthrough::plan(envelope, body, &parts.headers)?;
            let slug = direct.slug.as_str();
            if !principal.covers(slug) || !gw.revisions.speaks(gw, user, slug, version).await {
                return None;
            }
            (direct, None)
        }
        Some(session) => {
            let id = envelope.id()?;
            let call = passthrough::InSession::of(envelope, &parts.headers)?;
            let slug = call.slug.as_str();
            if !principal.covers(slug) {
                return None;
            }
            let opened = gw.upstreams.get(gw, &gw.relay, user, slug).await.ok()?;
            let version = opened.session.peer_info()?.protocol_version.to_string();
            let (direct, running) = match opened.keeps.clone()? {
                Keeps::Nothing => {
                    let direct = call.plan(body, &parts.headers, None)?;
                    (direct, gw.in_flight.start(session, id, None))
                }
                Keeps::Session(upstream) => {
                    let peer = opened.session.peer().clone();
                    let running = gw.in_flight.start(session, id, Some(peer));
                    let ours = running.renumbered();
                    let direct = call.plan(body, &parts.headers, Some(&ours));
                    let direct = direct?.on_session(&upstream)?;
                    let resume = resume(gw, principal, slug, &opened, &version);
                    let renumbered = Renumbered::new(ours, id, slug).resumable(resume);
                    on_session = Some(OnSession { renumbered, opened });
                    (direct, running)
                }
            };
            (direct.sent_as(&version)?, Some(running))
        }
    };
    let caller = Caller {
        user,
        client: &principal.client_id,
    };
    let inbound = Inbound {
        method: parts.method.clone(),
        headers: direct.headers,
        body: direct.body,
        session_of: match &on_session {
            Some(call) => SessionOf::Gatehouse {
                server_id: call.opened.server_id,
            },
            None => SessionOf::Client,
        },
    };
    let cancellable = running.is_some();
    // The client's session (if any) is Gatehouse's: an upstream's session id, which a
    // client would adopt, never comes back from here.
    let forwarding = async {
        let mut response = forward(gw, caller, direct.slug.as_str(), inbound).await;
        response.headers_mut().remove(SESSION_ID);
        match on_session {
            None if cancellable => Some(passthrough::whole_if_json(response).await.unwrap_or_else(
                || {
                    json_error(
                        StatusCode::BAD_GATEWAY,
                        "upstream_unavailable",
                        &format!(
                            "the server's answer broke off or was larger than {} MiB",
                            MAX_MESSAGE >> 20
                        ),
                    )
                },
            )),
            None => Some(response),
            Some(call) => call.answer(gw, user, response).await,
        }
    };
    let Some(running) = running else {
        return forwarding.await;
    };
    // Cancelled before the upstream answered or while it streams: the upstream request is
    // cancelled (`InFlight::cancel`), and the client, which no longer waits for an answer,
    // gets none.
    let cancelled = running.cancelled.clone();
    let response = tokio::select! {
        response = forwarding => response?,
        () = cancelled.cancelled() => {
            return Some(([(header::CONTENT_TYPE, "text/event-stream")], Body::empty()).into_response());
        }
    };
    // An answer read whole (JSON) has nothing left to cut: it goes out with its length, in
    // one write, instead of chunked.
    if axum::body::HttpBody::size_hint(response.body())
        .exact()
        .is_some()
    {
        return Some(response);
    }
    Some(holding(response, running, cancelled.cancelled_owned()))
}

/// A call sent on Gatehouse's session with its server (`opened`, `Keeps::Session`).
struct OnSession {
    renumbered: Renumbered,
    opened: Opened,
}

impl OnSession {
    /// The client's answer; `None` when the server refused the session (404, or a 400 that
    /// does not answer the call, as many servers refuse an unknown session): the call did
    /// not run, the session is dropped, and the `Aggregator` sends the call on a new one.
    async fn answer(
        self,
        gw: &SharedGateway,
        user: UserId,
        response: Response,
    ) -> Option<Response> {
        let status = response.status();
        if status != StatusCode::NOT_FOUND && status != StatusCode::BAD_REQUEST {
            return Some(self.renumbered.answer(response).await);
        }
        if status == StatusCode::BAD_REQUEST {
            let (parts, body) = response.into_parts();
            let body = read_whole(body).await.unwrap_or_default();
            if self.renumbered.is_answer(&body) {
                let response = Response::from_parts(parts, Body::from(body));
                return Some(self.renumbered.answer(response).await);
            }
        }
        tracing::debug!(server = %self.renumbered.server(), %status, "an upstream refused Gatehouse's session; opening another");
        gw.upstreams.drop_ended(user, &self.opened);
        None
    }
}

/// How a call's answer on Gatehouse's session with `slug` (`opened`, `Keeps::Session`) is
/// asked for again after an event id (SEP-1699): a GET on that session, through the
/// forwarder like the call. A 404 there ends the session for the next call too (it opens
/// another instead of finding out). Built for every such call and rarely used: the headers
/// are put together only when it is.
fn resume(
    gw: &SharedGateway,
    principal: &Principal,
    slug: &str,
    opened: &Opened,
    version: &str,
) -> Resume {
    let (gw, user, opened) = (gw.clone(), principal.user, opened.clone());
    let (client, slug, version) = (
        principal.client_id.clone(),
        slug.to_owned(),
        version.to_owned(),
    );
    Box::new(move |last_event_id: String| {
        let Some(Keeps::Session(upstream_session)) = &opened.keeps else {
            return Box::pin(std::future::ready(None));
        };
        let headers = [
            (header::ACCEPT.as_str(), "text/event-stream"),
            (SESSION_ID, &**upstream_session),
            ("mcp-protocol-version", &version),
            ("last-event-id", &last_event_id),
        ];
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            match HeaderValue::from_str(value) {
                Ok(value) => map.insert(name, value),
                Err(_) => return Box::pin(std::future::ready(None)),
            };
        }
        let (gw, client, slug, opened) = (gw.clone(), client.clone(), slug.clone(), opened.clone());
        Box::pin(async move {
            let caller = Caller {
                user,
                client: &client,
            };
            let inbound = Inbound {
                method: axum::http::Method::GET,
                headers: map,
                body: Bytes::new(),
                session_of: SessionOf::Gatehouse {
                    server_id: opened.server_id,
                },
            };
            let response = forward(&gw, caller, &slug, inbound).await;
            if response.status() == StatusCode::NOT_FOUND {
                gw.upstreams.drop_ended(user, &opened);
            }
            response.status().is_success().then_some(response)
        })
    })
}

/// A call to a tool or prompt of one of the user's servers that the grant does not cover:
/// 403 `insufficient_scope` (RFC 6750 §3.1; MCP's step-up), naming the scope that asks for
/// that server. Names of no server of the user's go on and get rmcp's "unknown" answer.
async fn step_up(
    gw: &SharedGateway,
    principal: &Principal,
    envelope: Option<&Envelope<'_>>,
) -> Option<Response> {
    let (_, merged) = envelope?.called()?;
    let (slug, _) = names::split(merged)?;
    if principal.covers(slug.as_str()) || !gw.owns(principal.user, slug.as_str()).await {
        return None;
    }
    let issuer = gw.core.public_url.issuer();
    let url = resource_metadata_url(&issuer, &ResourceUri::Aggregate);
    let scope = format!("{MCP_SCOPE} {MCP_SCOPE}:{slug}");
    let description = format!("this connection may not use the server '{slug}': authorize again and tick it on the consent page");
    let challenge = format!(
        "Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{url}\", error_description=\"{description}\""
    );
    Some(challenged(
        StatusCode::FORBIDDEN,
        &challenge,
        serde_json::json!({ "error": "insufficient_scope", "error_description": description, "scope": scope, "resource_metadata": url }),
    ))
}

/// The body, at most `MAX_MCP_BODY` bytes, all arrived `within` its headers.
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    within: Duration,
) -> Result<axum::body::Bytes, Response> {
    let too_large = || {
        json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "MCP request bodies are limited to 4 MiB",
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_MCP_BODY) {
        return Err(too_large());
    }
    match tokio::time::timeout(within, axum::body::to_bytes(body, MAX_MCP_BODY)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(err)) => match err.into_inner().is::<http_body_util::LengthLimitError>() {
            true => Err(too_large()),
            false => Err(json_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the request body could not be read",
            )),
        },
        Err(_) => Err(json_error(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body did not arrive in time",
        )),
    }
}
