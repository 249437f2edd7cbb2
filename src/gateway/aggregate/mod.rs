//! The aggregated `/mcp` (issue 16): one MCP server presenting the tools, prompts and
//! resources of every server the caller's grant (or API key) covers, names prefixed with the
//! server's slug (`names`). Built on rmcp for both roles: `Aggregator` is the server the
//! client talks to (one per client session, or per request in the stateless era), and
//! `upstream` holds one rmcp client session per (user, server). A server that is down or
//! needs a new sign-in drops out of the lists and answers its own calls with an error that
//! names it and the fix; the others keep working.

pub mod names;
mod owners;
pub mod passthrough;
mod relay;
pub mod renumbered;
mod resources;
pub mod upstream;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use rmcp::model::*;
use rmcp::service::{NotificationContext, PeerRequestOptions, RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::json;

use self::names::Cursor;
pub use self::owners::SessionOwners;
pub use self::relay::Relay;
pub use self::resources::ResourceIndex;
use self::upstream::{Session, UpstreamError};
use super::audit::CallRecord;
use super::errors::{self, UPSTREAM_AUTH_REQUIRED, UPSTREAM_UNAVAILABLE};
use super::SharedGateway;
use crate::domain::{Principal, UserId};

/// Runs `work` in a task of its own, so nothing of the client's request reaches the upstream
/// session: rmcp marks every request sent from inside a handler with the handler's request
/// (task-locals meant for a server's own requests to its client), which made our upstream
/// requests wait for a stream that never comes. Dropping the returned future aborts the task
/// (a cancelled call is cancelled upstream).
async fn detached<T: Send + 'static>(
    work: impl Future<Output = Result<T, rmcp::ServiceError>> + Send + 'static,
) -> Result<T, rmcp::ServiceError> {
    struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);
    impl<T> Drop for AbortOnDrop<T> {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let mut task = AbortOnDrop(tokio::spawn(work));
    (&mut task.0).await.unwrap_or_else(|err| {
        tracing::error!(%err, "an upstream call failed");
        Err(rmcp::ServiceError::Cancelled {
            reason: Some("internal error".into()),
        })
    })
}

/// Whether a request may be sent again on a new session after its session failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Again {
    /// Lists: asking twice changes nothing.
    Idempotent,
    /// Calls: the upstream may have acted on the first one.
    Never,
}

/// The largest JSON answer taken from an upstream, and the most bytes one SSE event of an
/// upstream's may take (tool results can be documents; an SSE parser would buffer an
/// endless line for ever).
pub(crate) const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// An upstream's answer body read whole, at most `MAX_MESSAGE` bytes; `None`: it broke off
/// or was larger.
pub(crate) async fn read_whole(body: axum::body::Body) -> Option<axum::body::Bytes> {
    axum::body::to_bytes(body, MAX_MESSAGE).await.ok()
}

/// How long one upstream may take to answer a list before it is left out of the merge.
const LIST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// What a merged list is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tools,
    Prompts,
    Resources,
}

/// The aggregated server of one client session (the front door, `http::mcp`, refuses a
/// session id to anyone but the user who opened it: `SessionOwners`).
#[derive(Clone)]
pub struct Aggregator {
    gw: SharedGateway,
}

impl Aggregator {
    pub fn new(gw: SharedGateway) -> Self {
        Self { gw }
    }

    /// The request's principal, put there by the HTTP front door after authentication.
    fn principal(&self, ctx_extensions: &Extensions) -> Result<Principal, ErrorData> {
        ctx_extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Principal>())
            .cloned()
            .ok_or_else(|| ErrorData::internal_error("unauthenticated request", None))
    }

    /// Runs `op` on the open session to the user's server. A session that failed is
    /// forgotten (the next call opens a new one); `op` is sent again on a new session only
    /// when it is `Idempotent` — a tool call that may have run is never repeated.
    async fn with_upstream<T, F, Fut>(
        &self,
        user: UserId,
        slug: &str,
        again: Again,
        op: F,
    ) -> Result<T, Failure>
    where
        F: Fn(Arc<Session>) -> Fut,
        Fut: Future<Output = Result<T, rmcp::ServiceError>> + Send + 'static,
        T: Send + 'static,
    {
        let gw = &self.gw;
        let mut reopened = false;
        loop {
            let opened = gw
                .upstreams
                .get(gw, &gw.relay, user, slug)
                .await
                .map_err(Failure::Upstream)?;
            match detached(op(opened.session.clone())).await {
                Ok(value) => return Ok(value),
                Err(rmcp::ServiceError::McpError(err)) => return Err(Failure::Answered(err)),
                Err(err) => {
                    gw.upstreams.drop_session(user, &opened);
                    let cause = UpstreamError::behind(&err);
                    match (cause, again) {
                        (Some(cause), _) => return Err(Failure::Upstream(cause)),
                        (None, Again::Idempotent) if !reopened => reopened = true,
                        (None, _) => {
                            return Err(Failure::Upstream(UpstreamError::Unavailable(
                                err.to_string(),
                            )))
                        }
                    }
                }
            }
        }
    }

    /// One page of a merged list: the servers' first pages merged (fetched concurrently),
    /// up to the first server that paginates; the cursor then names that server and its
    /// own cursor. A server that fails is left out (and logged); the others still list.
    async fn page<T, F, Fut>(
        &self,
        principal: &Principal,
        kind: Kind,
        params: Option<PaginatedRequestParams>,
        fetch: F,
        rename: impl Fn(&str, &mut T),
    ) -> Result<(Vec<T>, Option<String>), ErrorData>
    where
        F: Fn(Arc<Session>, Option<String>) -> Fut,
        Fut: Future<Output = Result<(Vec<T>, Option<String>), rmcp::ServiceError>> + Send + 'static,
        T: Send + 'static,
    {
        let servers = &principal.servers;
        let bad_cursor = || ErrorData::invalid_params("unknown or expired cursor", None);
        let (start, cursor) = match params.and_then(|p| p.cursor) {
            None => (0, None),
            Some(text) => {
                let at = Cursor::decode(&text).ok_or_else(bad_cursor)?;
                let index = servers
                    .iter()
                    .position(|s| *s == at.slug)
                    .ok_or_else(bad_cursor)?;
                (index, at.upstream)
            }
        };
        let pages = servers.iter().enumerate().skip(start).map(|(i, slug)| {
            // Only the first server resumes at the client's cursor; the rest start afresh.
            let cursor = if i == start { cursor.clone() } else { None };
            let fetch = &fetch;
            let listing =
                self.with_upstream(principal.user, slug, Again::Idempotent, move |session| {
                    let offered = offers(&session, kind);
                    let fetching = fetch(session, cursor.clone());
                    async move {
                        match offered {
                            true => fetching.await,
                            false => Ok((Vec::new(), None)),
                        }
                    }
                });
            // A stuck server must not hold up the others' lists.
            async move {
                tokio::time::timeout(LIST_TIMEOUT, listing)
                    .await
                    .unwrap_or_else(|_| {
                        Err(Failure::Upstream(UpstreamError::Unavailable(
                            "it did not list in time".into(),
                        )))
                    })
            }
        });
        let pages = futures_util::future::join_all(pages).await;
        let mut merged = Vec::new();
        for (slug, page) in servers.iter().skip(start).zip(pages) {
            let (mut items, next) = match page {
                Ok(page) => page,
                Err(failure) => {
                    tracing::warn!(server = %slug, reason = %failure.reason(), "left out of the merged list");
                    (Vec::new(), None)
                }
            };
            for item in &mut items {
                rename(slug, item);
            }
            merged.append(&mut items);
            if let Some(next) = next {
                let more = Cursor {
                    slug: slug.clone(),
                    upstream: Some(next),
                };
                return Ok((merged, Some(more.encode())));
            }
        }
        Ok((merged, None))
    }

    /// The server and upstream name of a merged name the principal may use.
    fn route<'n>(
        &self,
        principal: &Principal,
        merged: &'n str,
    ) -> Result<(String, &'n str), ErrorData> {
        match names::split(merged) {
            Some((slug, name)) if principal.covers(slug.as_str()) => {
                Ok((slug.as_str().to_owned(), name))
            }
            Some((slug, _)) => Err(ErrorData::invalid_params(
                format!(
                    "'{merged}' belongs to the server '{slug}', which this connection may not use"
                ),
                None,
            )),
            None => Err(ErrorData::invalid_params(
                format!("unknown name '{merged}'"),
                None,
            )),
        }
    }

    /// The client's answer to a failed call, and how the activity log records it (the
    /// upstream's own errors are its answer; Gatehouse's say why, as at `/mcp/{slug}`).
    fn failure(&self, slug: &str, failure: Failure) -> (ErrorData, Outcome) {
        match failure {
            Failure::Answered(err) => (
                err,
                Outcome {
                    status: 200,
                    note: Some("upstream error"),
                },
            ),
            Failure::Upstream(UpstreamError::NeedsReauth) => {
                let url = self.gw.core.public_url.join("/servers");
                let error = ErrorData::new(
                    ErrorCode(UPSTREAM_AUTH_REQUIRED as i32),
                    errors::reauth_message(slug, &url),
                    Some(json!({ "server": slug, "url": url })),
                );
                (
                    error,
                    Outcome {
                        status: 502,
                        note: Some("needs re-authentication"),
                    },
                )
            }
            Failure::Upstream(UpstreamError::NeedsScope(scopes)) => {
                let url = self.gw.core.public_url.join("/servers");
                let error = ErrorData::new(
                    ErrorCode(UPSTREAM_AUTH_REQUIRED as i32),
                    errors::wider_scope_message(slug, &url, &scopes),
                    Some(json!({ "server": slug, "url": url })),
                );
                (
                    error,
                    Outcome {
                        status: 502,
                        note: Some("insufficient_scope"),
                    },
                )
            }
            Failure::Upstream(UpstreamError::Gone) => (
                ErrorData::invalid_params(format!("there is no server '{slug}'"), None),
                Outcome {
                    status: 404,
                    note: Some("no such server"),
                },
            ),
            Failure::Upstream(UpstreamError::Unavailable(reason)) => (
                ErrorData::new(
                    ErrorCode(UPSTREAM_UNAVAILABLE as i32),
                    errors::unavailable_message(slug, &reason),
                    Some(json!({ "server": slug })),
                ),
                Outcome {
                    status: 502,
                    note: Some("upstream unavailable"),
                },
            ),
        }
    }

    /// Runs a call on the upstream and records it in the activity log under the real server.
    async fn call<T, F, Fut>(
        &self,
        principal: &Principal,
        slug: &str,
        (method, name): (&str, Option<&str>),
        again: Again,
        op: F,
    ) -> Result<T, ErrorData>
    where
        F: Fn(Arc<Session>) -> Fut,
        Fut: Future<Output = Result<T, rmcp::ServiceError>> + Send + 'static,
        T: Send + 'static,
    {
        let started = Instant::now();
        let (answer, outcome) = match self.with_upstream(principal.user, slug, again, op).await {
            Ok(answer) => (
                Ok(answer),
                Outcome {
                    status: 200,
                    note: None,
                },
            ),
            Err(failure) => {
                let (error, outcome) = self.failure(slug, failure);
                (Err(error), outcome)
            }
        };
        self.gw.audit.record(
            &self.gw.core,
            CallRecord {
                user: principal.user,
                client: principal.client_id.clone(),
                server: slug.to_owned(),
                method: Some(method.to_owned()),
                tool: name.map(str::to_owned),
                status: outcome.status,
                duration_ms: started.elapsed().as_millis(),
                note: outcome.note,
            },
        );
        answer
    }
}

/// Sends `notifications/cancelled` for an upstream request dropped before its answer.
struct CancelOnDrop(Option<(rmcp::service::Peer<rmcp::RoleClient>, RequestId)>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some((peer, id)) = self.0.take() {
            let cancel =
                CancelledNotificationParam::new(Some(id), Some("cancelled by the client".into()));
            tokio::spawn(async move {
                let _ = peer.notify_cancelled(cancel).await;
            });
        }
    }
}

/// How a call ended, for the activity log.
struct Outcome {
    status: u16,
    note: Option<&'static str>,
}

/// Why a call to an upstream failed: it answered with an error of its own (passed through),
/// or it could not be used.
enum Failure {
    Answered(ErrorData),
    Upstream(UpstreamError),
}

impl Failure {
    fn reason(&self) -> String {
        match self {
            Failure::Answered(err) => err.message.to_string(),
            Failure::Upstream(err) => err.to_string(),
        }
    }
}

/// Whether the upstream declared the capability (no request is sent for one it lacks).
fn offers(session: &Session, kind: Kind) -> bool {
    let Some(info) = session.peer().peer_info() else {
        return true;
    };
    let caps = &info.capabilities;
    match kind {
        Kind::Tools => caps.tools.is_some(),
        Kind::Prompts => caps.prompts.is_some(),
        Kind::Resources => caps.resources.is_some(),
    }
}

fn paged(params: Option<String>) -> Option<PaginatedRequestParams> {
    Some(PaginatedRequestParams::default().with_cursor(params))
}

impl ServerHandler for Aggregator {
    fn get_info(&self) -> ServerConfig {
        // The union of what upstreams can offer; a server without prompts simply adds none.
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_resources()
            .enable_resources_list_changed()
            .build();
        let mut implementation = Implementation::from_build_env();
        implementation.name = "gatehouse".into();
        implementation.version = env!("CARGO_PKG_VERSION").into();
        ServerConfig::new(capabilities)
            .with_server_info(implementation)
            .with_instructions(format!(
                "All of your Gatehouse servers in one: each tool and prompt is named after its server, as <server>{}<name> (e.g. gmail{}send_email).",
                names::SEPARATOR, names::SEPARATOR
            ))
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        // The session's standing stream carries list changes of the user's servers.
        if let Ok(principal) = self.principal(&context.extensions) {
            self.gw.relay.register(principal.user, context.peer);
        }
    }

    /// 2026-07-28 clients ask for list changes with `subscriptions/listen`.
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = SubscriptionFilter::new();
        accepted.tools_list_changed = requested.tools_list_changed;
        accepted.prompts_list_changed = requested.prompts_list_changed;
        accepted.resources_list_changed = requested.resources_list_changed;
        Some(accepted)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let principal = self.principal(&context.request_context().extensions)?;
        let _listening = self
            .gw
            .relay
            .subscribe(principal.user, context.sink().clone());
        context.cancelled().await;
        Ok(())
    }

    async fn list_tools(
        &self,
        params: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let principal = self.principal(&ctx.extensions)?;
        let (tools, next) = self
            .page(
                &principal,
                Kind::Tools,
                params,
                |s, c| async move {
                    s.peer()
                        .list_tools(paged(c))
                        .await
                        .map(|r| (r.tools, r.next_cursor))
                },
                |slug, tool: &mut Tool| tool.name = names::prefixed(slug, &tool.name).into(),
            )
            .await?;
        Ok(ListToolsResult {
            next_cursor: next,
            ..ListToolsResult::with_all_items(tools)
        })
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let principal = self.principal(&ctx.extensions)?;
        let (slug, tool) = self.route(&principal, &request.name)?;
        let mut upstream = request.clone();
        upstream.name = tool.to_owned().into();
        upstream.meta = None;
        // Progress passes through: rmcp gives the upstream request a token of its own, the
        // relay maps it back to the client's (several clients of a user share the session).
        let theirs = ctx.meta.get_progress_token();
        let (relay, user, peer) = (self.gw.relay.clone(), principal.user, ctx.peer.clone());
        let calling = self.call(
            &principal,
            &slug,
            ("tools/call", Some(tool)),
            Again::Never,
            |s| {
                let call = upstream.clone();
                let theirs = theirs.clone();
                let (relay, peer, slug) = (relay.clone(), peer.clone(), slug.clone());
                async move {
                    let request = ClientRequest::CallToolRequest(CallToolRequest::new(call));
                    let handle = s
                        .peer()
                        .send_request_with_option(request, PeerRequestOptions::no_options())
                        .await?;
                    let _progress = theirs.map(|theirs| {
                        let key = (user, slug.as_str(), handle.progress_token.clone());
                        relay.track_progress(key, peer, theirs)
                    });
                    // Dropped before the answer (the client cancelled): cancel it upstream too.
                    let mut pending = CancelOnDrop(Some((s.peer().clone(), handle.id.clone())));
                    let answer = handle.await_response().await;
                    pending.0 = None;
                    match answer? {
                        ServerResult::CallToolResult(r) => Ok(CallToolResponse::Complete(r)),
                        ServerResult::InputRequiredResult(r) => {
                            Ok(CallToolResponse::InputRequired(r))
                        }
                        ServerResult::CreateTaskResult(r) => Ok(CallToolResponse::Task(r)),
                        _ => Err(rmcp::ServiceError::UnexpectedResponse),
                    }
                }
            },
        );
        tokio::select! {
            answer = calling => answer,
            // The client cancelled: dropping the upstream call cancels it there too.
            () = ctx.ct.cancelled() => Err(ErrorData::internal_error("cancelled by the client", None)),
        }
    }

    async fn list_prompts(
        &self,
        params: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let principal = self.principal(&ctx.extensions)?;
        let (prompts, next) = self
            .page(
                &principal,
                Kind::Prompts,
                params,
                |s, c| async move {
                    s.peer()
                        .list_prompts(paged(c))
                        .await
                        .map(|r| (r.prompts, r.next_cursor))
                },
                |slug, prompt: &mut Prompt| prompt.name = names::prefixed(slug, &prompt.name),
            )
            .await?;
        Ok(ListPromptsResult {
            next_cursor: next,
            ..ListPromptsResult::with_all_items(prompts)
        })
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let principal = self.principal(&ctx.extensions)?;
        let (slug, name) = self.route(&principal, &request.name)?;
        let mut upstream = request.clone();
        upstream.name = name.to_owned();
        upstream.meta = None;
        self.call(
            &principal,
            &slug,
            ("prompts/get", Some(name)),
            Again::Idempotent,
            |s| {
                let get = upstream.clone();
                async move { s.peer().get_prompt_once(get).await }
            },
        )
        .await
    }

    async fn list_resources(
        &self,
        params: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let principal = self.principal(&ctx.extensions)?;
        let index = &self.gw.resources;
        let (resources, next) = self
            .page(
                &principal,
                Kind::Resources,
                params,
                |s, c| async move {
                    s.peer()
                        .list_resources(paged(c))
                        .await
                        .map(|r| (r.resources, r.next_cursor))
                },
                |slug, r: &mut Resource| {
                    index.listed(principal.user, slug, &r.uri);
                    r.name = names::prefixed(slug, &r.name);
                },
            )
            .await?;
        Ok(ListResourcesResult {
            next_cursor: next,
            ..ListResourcesResult::with_all_items(resources)
        })
    }

    async fn list_resource_templates(
        &self,
        params: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let principal = self.principal(&ctx.extensions)?;
        let index = &self.gw.resources;
        let (templates, next) = self
            .page(
                &principal,
                Kind::Resources,
                params,
                |s, c| async move {
                    s.peer()
                        .list_resource_templates(paged(c))
                        .await
                        .map(|r| (r.resource_templates, r.next_cursor))
                },
                |slug, t: &mut ResourceTemplate| {
                    index.templated(principal.user, slug, &t.uri_template);
                    t.name = names::prefixed(slug, &t.name);
                },
            )
            .await?;
        Ok(ListResourceTemplatesResult {
            next_cursor: next,
            ..ListResourceTemplatesResult::with_all_items(templates)
        })
    }

    /// Resource URIs are the upstreams' own (clients show and compare them): a read goes to
    /// the server that listed the URI (or a template matching it), never to the others.
    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let principal = self.principal(&ctx.extensions)?;
        let slug = self
            .gw
            .resources
            .owner(principal.user, &request.uri)
            .filter(|slug| principal.covers(slug))
            .ok_or_else(|| {
                ErrorData::resource_not_found(
                    format!(
                        "no server of this connection listed {} (list resources first)",
                        request.uri
                    ),
                    Some(json!({ "uri": request.uri })),
                )
            })?;
        let mut upstream = request.clone();
        upstream.meta = None;
        self.call(
            &principal,
            &slug,
            ("resources/read", None),
            Again::Idempotent,
            |s| {
                let read = upstream.clone();
                async move { s.peer().read_resource_once(read).await }
            },
        )
        .await
    }
}
