//! The aggregated `/mcp` (issue 16): one MCP server presenting the tools, prompts and
//! resources of every server the caller's grant (or API key) covers, names prefixed with the
//! server's slug (`names`). Built on rmcp for both roles: `Aggregator` is the server the
//! client talks to (one per client session, or per request in the stateless era), and
//! `upstream` holds one rmcp client session per (user, server). A server that is down or
//! needs a new sign-in drops out of the lists and answers its own calls with an error that
//! names it and the fix; the others keep working.

pub mod names;
mod relay;
pub mod upstream;

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use rmcp::model::*;
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::json;

use self::names::Cursor;
pub use self::relay::Relay;
use self::upstream::{Session, UpstreamError};
use super::audit::CallRecord;
use super::errors::{UPSTREAM_AUTH_REQUIRED, UPSTREAM_UNAVAILABLE};
use super::SharedGateway;
use crate::domain::{Principal, UserId};

/// What a merged list is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tools,
    Prompts,
    Resources,
}

/// The aggregated server of one client session.
#[derive(Clone)]
pub struct Aggregator {
    gw: SharedGateway,
    /// The user the session was opened for: a request of anyone else is refused.
    owner: Arc<OnceLock<UserId>>,
}

impl Aggregator {
    pub fn new(gw: SharedGateway) -> Self {
        Self {
            gw,
            owner: Arc::default(),
        }
    }

    /// The request's principal, put there by the HTTP front door after authentication.
    fn principal(&self, ctx_extensions: &Extensions) -> Result<Principal, ErrorData> {
        let principal = ctx_extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Principal>())
            .cloned()
            .ok_or_else(|| ErrorData::internal_error("unauthenticated request", None))?;
        match *self.owner.get_or_init(|| principal.user) == principal.user {
            true => Ok(principal),
            false => Err(ErrorData::invalid_request(
                "this session belongs to another user; start a new one",
                None,
            )),
        }
    }

    /// Runs `op` on the open session to the user's server; a session that ended is opened
    /// again once.
    async fn with_upstream<T, F, Fut>(&self, user: UserId, slug: &str, op: F) -> Result<T, Failure>
    where
        F: Fn(Arc<Session>) -> Fut,
        Fut: Future<Output = Result<T, rmcp::ServiceError>>,
    {
        let gw = &self.gw;
        let mut reopened = false;
        loop {
            let session = gw
                .upstreams
                .get(gw, &gw.relay, user, slug)
                .await
                .map_err(Failure::Upstream)?;
            match op(session).await {
                Ok(value) => return Ok(value),
                Err(rmcp::ServiceError::McpError(err)) => return Err(Failure::Answered(err)),
                Err(err) => {
                    let cause = UpstreamError::behind(&err);
                    gw.upstreams.drop_session(user, slug).await;
                    match cause {
                        Some(cause) => return Err(Failure::Upstream(cause)),
                        None if reopened => {
                            return Err(Failure::Upstream(UpstreamError::Unavailable(
                                err.to_string(),
                            )))
                        }
                        None => reopened = true,
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
        rename: fn(&str, &mut T),
    ) -> Result<(Vec<T>, Option<String>), ErrorData>
    where
        F: Fn(Arc<Session>, Option<String>) -> Fut,
        Fut: Future<Output = Result<(Vec<T>, Option<String>), rmcp::ServiceError>>,
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
            async move {
                self.with_upstream(principal.user, slug, |session| {
                    let offered = offers(&session, kind);
                    let fetching = fetch(session, cursor.clone());
                    async move {
                        match offered {
                            true => fetching.await,
                            false => Ok((Vec::new(), None)),
                        }
                    }
                })
                .await
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

    fn failure(&self, slug: &str, failure: Failure) -> ErrorData {
        match failure {
            Failure::Answered(err) => err,
            Failure::Upstream(UpstreamError::NeedsReauth) => {
                let url = self.gw.core.public_url.join("/servers");
                ErrorData::new(
                    ErrorCode(UPSTREAM_AUTH_REQUIRED as i32),
                    format!("The upstream server '{slug}' needs you to sign in again: open {url} and click Authenticate (or Reconnect), then retry."),
                    Some(json!({ "server": slug, "url": url })),
                )
            }
            Failure::Upstream(other) => ErrorData::new(
                ErrorCode(UPSTREAM_UNAVAILABLE as i32),
                format!("The upstream server '{slug}' is unavailable: {other}"),
                Some(json!({ "server": slug })),
            ),
        }
    }

    fn record(
        &self,
        principal: &Principal,
        slug: &str,
        method: &str,
        tool: Option<&str>,
        outcome: Result<(), &ErrorData>,
        started: Instant,
    ) {
        self.gw.audit.record(
            &self.gw.core,
            CallRecord {
                user: principal.user,
                client: principal.client_id.clone(),
                server: slug.to_owned(),
                method: Some(method.to_owned()),
                tool: tool.map(str::to_owned),
                status: if outcome.is_ok() { 200 } else { 502 },
                duration_ms: started.elapsed().as_millis(),
                note: outcome.err().map(|_| "error"),
            },
        );
    }
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
        let started = Instant::now();
        let mut upstream = request.clone();
        upstream.name = tool.to_owned().into();
        // Progress passes through under a token of our own (several clients of one user share
        // the upstream session); the relay maps it back.
        let progress = ctx
            .meta
            .get_progress_token()
            .map(|token| self.gw.relay.track_progress(ctx.peer.clone(), token));
        upstream.meta = progress.as_ref().map(|p| {
            let mut meta = RequestMetaObject::default();
            meta.set_progress_token(p.token());
            meta
        });
        let answer = tokio::select! {
            answer = self.with_upstream(principal.user, &slug, |s| {
                let call = upstream.clone();
                async move { s.peer().call_tool_once(call).await }
            }) => answer.map_err(|f| self.failure(&slug, f)),
            // The client cancelled: dropping the upstream call cancels it there too.
            () = ctx.ct.cancelled() => Err(ErrorData::internal_error("cancelled", None)),
        };
        drop(progress);
        self.record(
            &principal,
            &slug,
            "tools/call",
            Some(tool),
            answer.as_ref().map(|_| ()),
            started,
        );
        answer
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
        let started = Instant::now();
        let mut upstream = request.clone();
        upstream.name = name.to_owned();
        upstream.meta = None;
        let answer = self
            .with_upstream(principal.user, &slug, |s| {
                let get = upstream.clone();
                async move { s.peer().get_prompt_once(get).await }
            })
            .await
            .map_err(|f| self.failure(&slug, f));
        self.record(
            &principal,
            &slug,
            "prompts/get",
            Some(name),
            answer.as_ref().map(|_| ()),
            started,
        );
        answer
    }

    async fn list_resources(
        &self,
        params: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let principal = self.principal(&ctx.extensions)?;
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
                |slug, r: &mut Resource| r.name = names::prefixed(slug, &r.name),
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
                |slug, t: &mut ResourceTemplate| t.name = names::prefixed(slug, &t.name),
            )
            .await?;
        Ok(ListResourceTemplatesResult {
            next_cursor: next,
            ..ListResourceTemplatesResult::with_all_items(templates)
        })
    }

    /// Resource URIs are the upstreams' own (clients show and compare them), so a read goes
    /// to each covered server in turn until one has the resource.
    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let principal = self.principal(&ctx.extensions)?;
        let mut upstream = request.clone();
        upstream.meta = None;
        for slug in principal.servers.iter() {
            let started = Instant::now();
            let answer = self
                .with_upstream(principal.user, slug, |s| {
                    let read = upstream.clone();
                    let offered = offers(&s, Kind::Resources);
                    async move {
                        match offered {
                            true => s.peer().read_resource_once(read).await,
                            false => Err(rmcp::ServiceError::McpError(
                                ErrorData::resource_not_found("", None),
                            )),
                        }
                    }
                })
                .await;
            match answer {
                Ok(found) => {
                    self.record(&principal, slug, "resources/read", None, Ok(()), started);
                    return Ok(found);
                }
                Err(failure) => {
                    tracing::debug!(server = %slug, reason = %failure.reason(), "resource not read here")
                }
            }
        }
        Err(ErrorData::resource_not_found(
            format!(
                "none of this connection's servers has the resource {}",
                request.uri
            ),
            Some(json!({ "uri": request.uri })),
        ))
    }
}
