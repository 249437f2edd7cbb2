//! An upstream MCP server built on the official Rust SDK (rmcp), behind a recording layer:
//! it remembers the headers of every request it receives, can reject a given bearer token
//! with 401, and sets a cookie on every response (which the gateway must drop).

use std::sync::{Arc, Mutex};

use futures_util::StreamExt;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use rmcp::model::*;
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::ServerHandler;
use serde_json::json;
use tokio::sync::Notify;

#[derive(Default)]
pub struct Recorded {
    pub requests: Mutex<Vec<HeaderMap>>,
    /// The (method, id) of every JSON-RPC request received.
    pub calls: Mutex<Vec<(String, serde_json::Value)>>,
    /// Requests bearing this token get 401 (an expired upstream token).
    pub reject: Mutex<Option<String>>,
    /// Every request gets 401 (a revoked grant).
    pub reject_all: std::sync::atomic::AtomicBool,
    /// Releases a running `wait` tool.
    pub release: Notify,
    /// Lists tools one per page (cursor = the index of the next).
    pub paginate: std::sync::atomic::AtomicBool,
    /// A `wait` started running.
    pub started: Notify,
    /// A running `wait` was cancelled by its client.
    pub cancelled: Notify,
    /// Refuses the 2026-07-28 revision as a server of the `initialize` era does (400, a
    /// JSON-RPC error without an id): only sessions work.
    pub initialize_era_only: std::sync::atomic::AtomicBool,
    /// The peers of initialized sessions (to send them notifications).
    pub peers: Mutex<Vec<rmcp::service::Peer<RoleServer>>>,
    /// Session ids seen so far, and those answered with this status from now on
    /// (`expire_sessions`).
    pub sessions_seen: Mutex<std::collections::HashSet<String>>,
    pub sessions_ended: Mutex<std::collections::HashSet<String>>,
    pub sessions_ended_with: std::sync::atomic::AtomicU16,
    /// The id of a `tools/call` of `resumable` (not a listed tool), whose answer stream
    /// ends after an event with an id; a GET with that `Last-Event-ID` gets the answer.
    /// (`resumable_gone`: the same, but the session ends with the stream.)
    pub resumable: Mutex<Option<serde_json::Value>>,
}

#[derive(Clone)]
struct Tools(Arc<Recorded>);

fn schema(v: serde_json::Value) -> Arc<JsonObject> {
    Arc::new(v.as_object().cloned().unwrap_or_default())
}

impl ServerHandler for Tools {
    #[allow(deprecated)]
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_logging()
                .build(),
        )
    }

    async fn on_initialized(&self, context: rmcp::service::NotificationContext<RoleServer>) {
        self.0.peers.lock().unwrap().push(context.peer);
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let text = schema(json!({"type": "object", "properties": {"text": {"type": "string"}}}));
        let tools = vec![
            Tool::new("echo", "Echoes its text", text.clone()),
            Tool::new(
                "wait",
                "Logs a line, then waits until the test releases it",
                text.clone(),
            ),
            Tool::new("progress", "Reports progress, then answers", text),
        ];
        if !self.0.paginate.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(ListToolsResult::with_all_items(tools));
        }
        let at: usize = match request.and_then(|r| r.cursor) {
            Some(cursor) => cursor
                .parse()
                .map_err(|_| ErrorData::invalid_params("bad cursor", None))?,
            None => 0,
        };
        let page = tools.into_iter().skip(at).take(1).collect();
        Ok(ListToolsResult {
            next_cursor: (at + 1 < 3).then(|| (at + 1).to_string()),
            ..ListToolsResult::with_all_items(page)
        })
    }

    #[allow(deprecated)]
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let text = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("text"))
            .and_then(|t| t.as_str())
            .unwrap_or("")
            .to_owned();
        match request.name.as_ref() {
            "echo" => Ok(CallToolResult::success(vec![ContentBlock::text(format!(
                "echo: {text}"
            ))])
            .into()),
            "wait" => {
                // A message on the request's stream first, so the client sees an event while
                // the tool still runs (deprecated by SEP-2577, still the simplest such event).
                #[allow(deprecated)]
                let _ = context
                    .peer
                    .notify_logging_message(LoggingMessageNotificationParam::new(
                        LoggingLevel::Info,
                        json!("started"),
                    ))
                    .await;
                self.0.started.notify_one();
                tokio::select! {
                    () = self.0.release.notified() => {}
                    () = context.ct.cancelled() => {
                        self.0.cancelled.notify_one();
                        return Err(ErrorData::internal_error("cancelled", None));
                    }
                }
                Ok(CallToolResult::success(vec![ContentBlock::text("finished")]).into())
            }
            "progress" => {
                // Reports progress under the caller's token, then answers.
                if let Some(token) = context.meta.get_progress_token() {
                    let mut step = ProgressNotificationParam::new(token, 1.0);
                    step.total = Some(2.0);
                    step.message = Some(format!("halfway: {text}"));
                    let _ = context.peer.notify_progress(step).await;
                }
                Ok(CallToolResult::success(vec![ContentBlock::text("progressed")]).into())
            }
            _ => Err(ErrorData::invalid_params("unknown tool", None)),
        }
    }
}

async fn record(State(rec): State<Arc<Recorded>>, request: Request, next: Next) -> Response {
    // The method is kept with the headers, under one lock (so the two cannot misalign).
    let mut seen = request.headers().clone();
    seen.insert("x-test-method", request.method().as_str().parse().unwrap());
    rec.requests.lock().unwrap().push(seen);
    let presented = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let rejected = rec.reject.lock().unwrap().clone();
    let reject_all = rec.reject_all.load(std::sync::atomic::Ordering::SeqCst);
    if reject_all || (rejected.is_some() && presented == rejected.map(|t| format!("Bearer {t}"))) {
        return (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Bearer error=\"invalid_token\"")],
        )
            .into_response();
    }
    if let Some(session) = request
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
    {
        if rec.sessions_ended.lock().unwrap().contains(session) {
            let status = rec
                .sessions_ended_with
                .load(std::sync::atomic::Ordering::SeqCst);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND);
            return (status, "session not found").into_response();
        }
        rec.sessions_seen.lock().unwrap().insert(session.to_owned());
    }
    let stateless = request
        .headers()
        .get("mcp-protocol-version")
        .is_some_and(|v| v.as_bytes() >= b"2026-07-28".as_slice());
    if stateless
        && rec
            .initialize_era_only
            .load(std::sync::atomic::Ordering::SeqCst)
    {
        let refusal = serde_json::json!({"jsonrpc": "2.0", "id": null,
            "error": {"code": -32000, "message": "Bad Request: Server not initialized"}});
        return (StatusCode::BAD_REQUEST, axum::Json(refusal)).into_response();
    }
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    if let Ok(message) = serde_json::from_slice::<serde_json::Value>(&body) {
        if let (Some(method), Some(id)) = (message["method"].as_str(), message.get("id")) {
            rec.calls
                .lock()
                .unwrap()
                .push((method.to_owned(), id.clone()));
        }
        if let Some(kind @ ("stall" | "stall_json")) = message["params"]["name"].as_str() {
            rec.started.notify_one();
            return stalled_answer(kind == "stall_json");
        }
        if let Some(kind @ ("resumable" | "resumable_gone")) = message["params"]["name"].as_str() {
            // `resumable_gone`: the server restarts mid-answer, its sessions end (404).
            let session = parts
                .headers
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok());
            if let (Some(session), "resumable_gone") = (session, kind) {
                rec.sessions_ended_with
                    .store(404, std::sync::atomic::Ordering::SeqCst);
                rec.sessions_ended
                    .lock()
                    .unwrap()
                    .insert(session.to_owned());
            }
            *rec.resumable.lock().unwrap() = message.get("id").cloned();
            return sse("id: r1\nretry: 0\ndata: \n\n".to_owned());
        }
    }
    let resuming = parts.method == axum::http::Method::GET
        && parts
            .headers
            .get("last-event-id")
            .is_some_and(|v| v == "r1");
    if let (true, Some(id)) = (resuming, rec.resumable.lock().unwrap().take()) {
        let answer = json!({"jsonrpc": "2.0", "id": id,
            "result": {"content": [{"type": "text", "text": "resumed"}]}});
        return sse(format!("id: r2\ndata: {answer}\n\n"));
    }
    let request = Request::from_parts(parts, axum::body::Body::from(body));
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        "set-cookie",
        "upstream_session=secret; Path=/".parse().unwrap(),
    );
    response
}

fn sse(body: String) -> Response {
    ([("content-type", "text/event-stream")], body).into_response()
}

/// A `tools/call` of `stall` or `stall_json` (not listed tools): an answer (SSE, or JSON)
/// that announces 1,000 bytes, sends the first few and then nothing more.
fn stalled_answer(json: bool) -> Response {
    let (content_type, first) = match json {
        true => ("application/json", &br#"{"jsonrpc":"2.0","#[..]),
        false => ("text/event-stream", &br#"data: {"jsonrpc":"2.0","#[..]),
    };
    let first = axum::body::Bytes::from_static(first);
    let body = futures_util::stream::once(async move { Ok::<_, std::io::Error>(first) })
        .chain(futures_util::stream::pending());
    (
        [("content-type", content_type), ("content-length", "1000")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

pub struct Upstream {
    /// The MCP endpoint, e.g. `http://127.0.0.1:PORT/gmail/mcp` (the path makes Gatehouse
    /// detect Google).
    pub url: String,
    pub recorded: Arc<Recorded>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Upstream {
    /// `sessions`: the `initialize` + `Mcp-Session-Id` style; otherwise stateless JSON.
    pub async fn start(sessions: bool) -> Upstream {
        Self::start_at("/gmail/mcp", sessions).await
    }

    /// Serving MCP at `path` (which decides the provider Gatehouse detects for it).
    pub async fn start_at(path: &str, sessions: bool) -> Upstream {
        let recorded = Arc::new(Recorded::default());
        let tools = Tools(recorded.clone());
        let mut config = StreamableHttpServerConfig::default();
        config.legacy_session_mode = sessions;
        config.json_response = !sessions;
        // Idle streams get a keep-alive soon, so a test sees a GET stream's first bytes.
        config.sse_keep_alive = Some(std::time::Duration::from_millis(200));
        let service = StreamableHttpService::new(
            move || Ok(tools.clone()),
            Arc::new(LocalSessionManager::default()),
            config,
        );
        let app = Router::new()
            .nest_service(path, service)
            .layer(middleware::from_fn_with_state(recorded.clone(), record));
        let (base, stop) = crate::helpers::serve_local(app).await;
        let url = format!("{base}{path}");
        Upstream {
            url,
            recorded,
            _stop: stop,
        }
    }

    /// The ids of the `tools/call` requests received.
    pub fn call_ids(&self) -> Vec<serde_json::Value> {
        let calls = self.recorded.calls.lock().unwrap();
        calls
            .iter()
            .filter(|(method, _)| method == "tools/call")
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Every session seen so far is answered `status` from now on, as after a restart
    /// (404 as the transport prescribes, 400 as many servers do).
    pub fn expire_sessions(&self, status: u16) {
        self.recorded
            .sessions_ended_with
            .store(status, std::sync::atomic::Ordering::SeqCst);
        let seen = self.recorded.sessions_seen.lock().unwrap().clone();
        assert!(!seen.is_empty(), "no session to end");
        self.recorded.sessions_ended.lock().unwrap().extend(seen);
    }

    /// The number of `initialize` requests received.
    pub fn initializes(&self) -> usize {
        let calls = self.recorded.calls.lock().unwrap();
        calls
            .iter()
            .filter(|(method, _)| method == "initialize")
            .count()
    }

    /// The (method, headers) of every request received.
    pub fn requests_seen(&self) -> Vec<(String, HeaderMap)> {
        let requests = self.recorded.requests.lock().unwrap();
        requests
            .iter()
            .map(|h| (h["x-test-method"].to_str().unwrap().to_owned(), h.clone()))
            .collect()
    }

    pub fn headers_seen(&self) -> Vec<HeaderMap> {
        self.recorded.requests.lock().unwrap().clone()
    }

    /// Sends `notifications/tools/list_changed` to every initialized session.
    pub async fn tools_changed(&self) {
        let peers = self.recorded.peers.lock().unwrap().clone();
        assert!(!peers.is_empty(), "no session to notify");
        for peer in peers {
            peer.notify_tool_list_changed().await.unwrap();
        }
    }
}
