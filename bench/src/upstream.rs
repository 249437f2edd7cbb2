//! The upstream every target forwards to: an MCP server on the official Rust SDK (rmcp) in
//! stateless JSON mode, on its own 2-thread runtime (so the bench's own tasks never compete
//! with it), plus a GET endpoint that opens an SSE stream and keeps it open (for the
//! open-streams memory figure).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use rmcp::model::*;
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::ServerHandler;

#[derive(Clone)]
struct Echo;

impl ServerHandler for Echo {
    #[allow(deprecated)]
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let schema =
            serde_json::json!({"type": "object", "properties": {"text": {"type": "string"}}});
        let schema = Arc::new(schema.as_object().cloned().unwrap_or_default());
        Ok(ListToolsResult::with_all_items(vec![Tool::new(
            "echo",
            "Echoes its text",
            schema,
        )]))
    }

    #[allow(deprecated)]
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let text = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("text"))
            .and_then(|t| t.as_str())
            .unwrap_or("");
        Ok(CallToolResult::success(vec![ContentBlock::text(text.to_owned())]).into())
    }
}

async fn open_stream() -> Response {
    let first = futures_util::stream::once(async {
        Ok::<_, std::convert::Infallible>(axum::body::Bytes::from_static(b": open\n\n"))
    });
    let body = futures_util::StreamExt::chain(first, futures_util::stream::pending());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(body),
    )
        .into_response()
}

pub struct Upstream {
    /// The MCP endpoint (`tools/call echo`).
    pub mcp: String,
    /// The same server in the `initialize` era with sessions (SSE answers).
    pub mcp_sessions: String,
    /// GET: an SSE stream that sends one comment and stays open.
    pub sse: String,
}

/// Starts the upstream on a dedicated thread with a 2-worker runtime; runs until exit.
pub fn start() -> Upstream {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let service = |sessions: bool| {
                let mut config = StreamableHttpServerConfig::default();
                config.legacy_session_mode = sessions;
                config.json_response = !sessions;
                StreamableHttpService::new(
                    || Ok(Echo),
                    Arc::new(LocalSessionManager::default()),
                    config,
                )
            };
            let app = Router::new()
                .nest_service("/mcp", service(false))
                .nest_service("/sessions/mcp", service(true))
                .route("/sse", get(open_stream));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            // SSE answers come in pieces: without TCP_NODELAY each waits for a delayed ACK.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv().expect("the upstream started");
    Upstream {
        mcp: format!("http://{addr}/mcp"),
        mcp_sessions: format!("http://{addr}/sessions/mcp"),
        sse: format!("http://{addr}/sse"),
    }
}
