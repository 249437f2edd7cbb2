//! The aggregated `/mcp`'s side toward upstreams: one rmcp client session per (user, server),
//! opened on first use, kept, and opened again when the upstream ends it. Its HTTP goes
//! through the gateway's SSRF-guarded client with the user's upstream credential injected on
//! each request (`credentialed`, as for `/mcp/{slug}`: refreshed and retried once on a 401),
//! so a refreshed token is used without reopening the session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use futures_util::stream::{BoxStream, StreamExt};
use rmcp::model::{
    ClientConfig, ClientJsonRpcMessage, ClientNotification, ClientRequest,
    ProgressNotificationParam, ServerJsonRpcMessage,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError,
    StreamableHttpPostResponse,
};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use sse_stream::{Sse, SseStream};

use super::Relay;
use crate::domain::UserId;
use crate::gateway::credentialed::{self, Outgoing, Refusal};
use crate::gateway::Gateway;
use crate::service::upstream::refresh::CredentialError;
use crate::service::upstream::route::RouteError;

/// How long opening an upstream session (its `initialize`) may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);

/// Why an upstream could not be used; the aggregator turns it into an error naming the
/// server and the fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    #[error("the server no longer exists")]
    Gone,
    #[error("its sign-in must be renewed")]
    NeedsReauth,
    /// It answered 403 `insufficient_scope`: the next sign-in asks for these scopes.
    #[error("it needs more access ({0})")]
    NeedsScope(String),
    #[error("{0}")]
    Unavailable(String),
}

impl UpstreamError {
    /// The `UpstreamError` behind an rmcp error, if our HTTP client failed with one.
    pub fn behind(err: &(dyn std::error::Error + 'static)) -> Option<UpstreamError> {
        let mut source = Some(err);
        while let Some(current) = source {
            if let Some(StreamableHttpError::Client(found)) =
                current.downcast_ref::<StreamableHttpError<UpstreamError>>()
            {
                return Some(found.clone());
            }
            source = current.source();
        }
        None
    }
}

type HttpError = StreamableHttpError<UpstreamError>;

fn unavailable(reason: impl Into<String>) -> HttpError {
    StreamableHttpError::Client(UpstreamError::Unavailable(reason.into()))
}

/// rmcp's HTTP client for one user's server.
#[derive(Clone)]
pub struct UpstreamHttp {
    gw: Weak<Gateway>,
    user: UserId,
    slug: Arc<str>,
    keeps: Arc<Kept>,
}

impl UpstreamHttp {
    pub fn new(gw: &Arc<Gateway>, user: UserId, slug: Arc<str>) -> Self {
        Self {
            gw: Arc::downgrade(gw),
            user,
            slug,
            keeps: Default::default(),
        }
    }

    /// Sends one request to the route's target with the user's credential (`credentialed`:
    /// refreshed and retried once on a 401, step-up on a 403).
    async fn send(
        &self,
        method: reqwest::Method,
        headers: axum::http::HeaderMap,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response, HttpError> {
        let gw = self
            .gw
            .upgrade()
            .ok_or(StreamableHttpError::Client(UpstreamError::Gone))?;
        let route =
            match crate::gateway::route::route(&gw, self.user, &self.slug).await {
                Ok(route) => route,
                Err(RouteError::NotFound) => {
                    return Err(StreamableHttpError::Client(UpstreamError::Gone))
                }
                Err(RouteError::Undecryptable) => return Err(unavailable(
                    "its stored URL or credential cannot be decrypted (check the encryption keys)",
                )),
                Err(RouteError::Internal(err)) => return Err(internal(err)),
            };
        let outgoing = Outgoing {
            method,
            headers,
            body: body.map(Bytes::from),
        };
        let sent = async {
            let token = credentialed::credential(&gw, self.user, &route).await?;
            credentialed::send(&gw, self.user, &self.slug, &route, &outgoing, token).await
        };
        sent.await.map_err(|refusal| match refusal {
                Refusal::Unavailable(reason) => unavailable(reason),
                Refusal::Internal(err) => internal(err),
                Refusal::Reauth => StreamableHttpError::Client(UpstreamError::NeedsReauth),
                Refusal::CredentialRefused { stored: true } => unavailable(
                    "it refused the credential stored for it (replace it on the Servers page)",
                ),
                Refusal::CredentialRefused { stored: false } => unavailable(
                    "it requires authorization Gatehouse does not hold for it (choose a sign-in provider or store a credential on the Servers page)",
                ),
                Refusal::WiderScope(scopes) => {
                    StreamableHttpError::Client(UpstreamError::NeedsScope(scopes))
                }
                Refusal::Credential(err) => credential_error(err),
            })
    }
}

fn credential_error(err: CredentialError) -> HttpError {
    StreamableHttpError::Client(match err {
        CredentialError::NotConnected | CredentialError::NeedsReauth => UpstreamError::NeedsReauth,
        CredentialError::Provider(msg) => {
            UpstreamError::Unavailable(format!("refreshing its sign-in failed ({msg})"))
        }
        CredentialError::Internal(err) => return internal(err),
    })
}

/// Gatehouse's own failure: the cause goes to the log, the client gets a fixed text.
fn internal(err: impl std::fmt::Display) -> HttpError {
    tracing::error!(%err, "aggregate upstream request failed");
    unavailable("Gatehouse failed internally (its log says why)")
}

fn headers(
    accept: &'static str,
    session: Option<&str>,
    extra: HashMap<HeaderName, HeaderValue>,
) -> axum::http::HeaderMap {
    let mut out = axum::http::HeaderMap::new();
    out.insert(header::ACCEPT, HeaderValue::from_static(accept));
    if let Some(Ok(value)) = session.map(HeaderValue::from_str) {
        out.insert(HeaderName::from_static("mcp-session-id"), value);
    }
    // rmcp's own protocol headers (MCP-Protocol-Version, Mcp-Method, …); never a credential.
    for (name, value) in extra {
        if name != header::AUTHORIZATION && name != header::COOKIE {
            out.insert(name, value);
        }
    }
    out
}

fn session_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn is(response: &reqwest::Response, media_type: &str) -> bool {
    crate::gateway::headers::media_type(response.headers()).as_deref() == Some(media_type)
}

async fn bounded_body(response: reqwest::Response) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|err| unavailable(crate::net::cause(&err)))?;
        if body.len() + chunk.len() > super::MAX_MESSAGE {
            return Err(StreamableHttpError::ResponseBodyTooLarge {
                max_size: super::MAX_MESSAGE,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn sse(response: reqwest::Response) -> BoxStream<'static, Result<Sse, SseError>> {
    SseStream::from_bytes_stream(response.bytes_stream()).boxed()
}

impl StreamableHttpClient for UpstreamHttp {
    type Error = UpstreamError;

    async fn post_message(
        &self,
        _uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        let mut headers = headers(
            "application/json, text/event-stream",
            session_id.as_deref(),
            custom_headers,
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let body = serde_json::to_vec(&message)?;
        let response = self
            .send(reqwest::Method::POST, headers, Some(body))
            .await?;
        let status = response.status();
        let initialize = matches!(&message, ClientJsonRpcMessage::Request(r)
            if matches!(r.request, ClientRequest::InitializeRequest(_)));
        if initialize && status.is_success() {
            let keeps = match session_of(&response) {
                Some(id) => Keeps::Session(id.into()),
                None => Keeps::Nothing,
            };
            self.keeps.answered(keeps);
        }
        let initialized = matches!(&message, ClientJsonRpcMessage::Notification(n)
            if matches!(n.notification, ClientNotification::InitializedNotification(_)));
        if initialized && status.is_success() {
            self.keeps.initialized();
        }
        if matches!(status, StatusCode::ACCEPTED | StatusCode::NO_CONTENT) {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if status == StatusCode::NOT_FOUND && session_id.is_some() {
            return Err(StreamableHttpError::SessionExpired);
        }
        let session = session_of(&response);
        if status.is_success() && is(&response, "text/event-stream") {
            return Ok(StreamableHttpPostResponse::Sse(sse(response), session));
        }
        let json = is(&response, "application/json");
        let body = bounded_body(response).await?;
        match serde_json::from_slice::<ServerJsonRpcMessage>(&body) {
            // A JSON-RPC answer, also an error one on a 4xx.
            Ok(message) if json => Ok(StreamableHttpPostResponse::Json(message, session)),
            _ => Err(unavailable(format!("it answered HTTP {}", status.as_u16()))),
        }
    }

    async fn delete_session(
        &self,
        _uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), HttpError> {
        let headers = headers("*/*", Some(&session_id), custom_headers);
        self.send(reqwest::Method::DELETE, headers, None).await?;
        Ok(())
    }

    async fn get_stream(
        &self,
        _uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, HttpError> {
        let mut headers = headers("text/event-stream", session_id.as_deref(), custom_headers);
        if let Some(Ok(value)) = last_event_id.as_deref().map(HeaderValue::from_str) {
            headers.insert(HeaderName::from_static("last-event-id"), value);
        }
        let response = self.send(reqwest::Method::GET, headers, None).await?;
        if response.status() == StatusCode::METHOD_NOT_ALLOWED {
            return Err(StreamableHttpError::ServerDoesNotSupportSse);
        }
        if !response.status().is_success() || !is(&response, "text/event-stream") {
            return Err(unavailable(format!(
                "its event stream answered HTTP {}",
                response.status().as_u16()
            )));
        }
        Ok(sse(response))
    }
}

/// What an upstream session tells Gatehouse: list changes and progress, passed on to the
/// user's clients.
pub struct UpstreamEvents {
    relay: Weak<Relay>,
    user: UserId,
    slug: Arc<str>,
}

impl ClientHandler for UpstreamEvents {
    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::default();
        info.client_info.name = "gatehouse".into();
        info.client_info.version = env!("CARGO_PKG_VERSION").into();
        info
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        if let Some(relay) = self.relay.upgrade() {
            relay
                .changed(self.user, &self.slug, super::Kind::Tools)
                .await;
        }
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        if let Some(relay) = self.relay.upgrade() {
            relay
                .changed(self.user, &self.slug, super::Kind::Prompts)
                .await;
        }
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        if let Some(relay) = self.relay.upgrade() {
            relay
                .changed(self.user, &self.slug, super::Kind::Resources)
                .await;
        }
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        if let Some(relay) = self.relay.upgrade() {
            relay.progress(self.user, &self.slug, params).await;
        }
    }
}

pub type Session = RunningService<RoleClient, UpstreamEvents>;

/// What an upstream keeps between requests, as its answer to `initialize` showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keeps {
    /// No session: each request stands alone and can go to it as the client sent it.
    Nothing,
    /// The session with this id, which every request of Gatehouse's session carries.
    Session(Arc<str>),
}

/// What an rmcp session's upstream keeps, as its latest `initialize` showed (rmcp opens a
/// new session by itself when the upstream ends one: the new id is the one to use), once
/// the session is initialized (a server refuses requests before `notifications/initialized`).
#[derive(Default)]
pub struct Kept {
    /// (answered to `initialize`, usable).
    state: Mutex<(Option<Keeps>, Option<Keeps>)>,
}

impl Kept {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Option<Keeps>, Option<Keeps>)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn answered(&self, keeps: Keeps) {
        *self.lock() = (Some(keeps), None);
    }

    fn initialized(&self) {
        let mut state = self.lock();
        state.1 = state.0.clone();
    }

    /// What calls can rely on now (`None`: nothing, while a session is being opened).
    fn current(&self) -> Option<Keeps> {
        self.lock().1.clone()
    }
}

/// An open session and what its `initialize` showed.
#[derive(Clone)]
struct Live {
    session: Arc<Session>,
    keeps: Arc<Kept>,
}

/// A (user, server)'s open session, if any.
#[derive(Default)]
struct Slot {
    /// Read by every call without waiting: at 32 concurrent calls an async lock here made
    /// them queue and wake one another for a clone.
    live: Mutex<Option<Live>>,
    /// Held while a session is opened, so concurrent first calls share one `initialize`.
    opening: tokio::sync::Mutex<()>,
}

impl Slot {
    /// The open session, unless it ended.
    fn current(&self) -> Option<Live> {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.as_ref().filter(|l| !l.session.is_closed()).cloned()
    }
}

/// An open session and the server it is with.
#[derive(Clone)]
pub struct Opened {
    pub session: Arc<Session>,
    pub server_id: i64,
    /// What the upstream keeps, which decides how a call can be passed through to it
    /// (`passthrough`); `None`: not known, calls go over rmcp.
    pub keeps: Option<Keeps>,
}

/// The open upstream sessions, one per (user, server id: a server deleted and added again
/// under the same slug gets a new one).
#[derive(Default)]
pub struct Sessions {
    slots: Mutex<HashMap<(UserId, i64), Arc<Slot>>>,
}

impl Sessions {
    fn slot(&self, user: UserId, server_id: i64) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry((user, server_id)).or_default().clone()
    }

    /// The open session to the user's server, opening one if there is none (or it ended).
    pub async fn get(
        &self,
        gw: &Arc<Gateway>,
        relay: &Arc<Relay>,
        user: UserId,
        slug: &str,
    ) -> Result<Opened, UpstreamError> {
        let server_id = match crate::gateway::route::route(gw, user, slug).await {
            Ok(route) => route.server_id,
            Err(RouteError::NotFound) => return Err(UpstreamError::Gone),
            Err(other) => return Err(UpstreamError::Unavailable(format!("{other:?}"))),
        };
        let slot = self.slot(user, server_id);
        let opened = |live: Live| Opened {
            keeps: live.keeps.current(),
            session: live.session,
            server_id,
        };
        if let Some(live) = slot.current() {
            return Ok(opened(live));
        }
        let _opening = slot.opening.lock().await;
        if let Some(live) = slot.current() {
            return Ok(opened(live));
        }
        let slug: Arc<str> = slug.into();
        let http = UpstreamHttp::new(gw, user, slug.clone());
        let keeps = http.keeps.clone();
        let config = StreamableHttpClientTransportConfig::with_uri(slug.clone());
        let transport = StreamableHttpClientTransport::with_client(http, config);
        let events = UpstreamEvents {
            relay: Arc::downgrade(relay),
            user,
            slug,
        };
        // In a task of its own, apart from the client's request (see `super::detached`).
        let opening = tokio::spawn(tokio::time::timeout(OPEN_TIMEOUT, events.serve(transport)));
        let session = match opening.await {
            Ok(Ok(Ok(session))) => Arc::new(session),
            Ok(Ok(Err(err))) => return Err(open_error(&err)),
            Ok(Err(_)) => {
                return Err(UpstreamError::Unavailable(
                    "it did not answer in time".into(),
                ))
            }
            Err(err) => return Err(UpstreamError::Unavailable(err.to_string())),
        };
        let live = Live { session, keeps };
        *slot.live.lock().unwrap_or_else(|p| p.into_inner()) = Some(live.clone());
        Ok(opened(live))
    }

    /// Forgets a session that failed (the next call opens a new one), unless another call
    /// already replaced it.
    pub fn drop_session(&self, user: UserId, failed: &Opened) {
        self.drop_if(user, failed, |_| true);
    }

    /// The same for a session the upstream refused under the id `failed` was opened with,
    /// unless rmcp has opened another in its place meanwhile.
    pub fn drop_ended(&self, user: UserId, failed: &Opened) {
        let Some(Keeps::Session(ended)) = &failed.keeps else {
            return;
        };
        self.drop_if(
            user,
            failed,
            |keeps| matches!(keeps.current(), Some(Keeps::Session(id)) if id == *ended),
        );
    }

    fn drop_if(&self, user: UserId, failed: &Opened, still: impl Fn(&Kept) -> bool) {
        let slot = self.slot(user, failed.server_id);
        let mut live = slot.live.lock().unwrap_or_else(|p| p.into_inner());
        if live
            .as_ref()
            .is_some_and(|l| Arc::ptr_eq(&l.session, &failed.session) && still(&l.keeps))
        {
            live.take();
        }
    }
}

fn open_error(err: &rmcp::service::ClientInitializeError) -> UpstreamError {
    UpstreamError::behind(err).unwrap_or_else(|| UpstreamError::Unavailable(err.to_string()))
}
