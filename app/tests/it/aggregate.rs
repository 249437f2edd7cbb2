//! The aggregated `/mcp` (issue 16): one connector, one consent, the tools of several
//! upstreams (rmcp servers, one Google-backed through the vault, one with a static
//! credential) merged under prefixed names and routed to the right one.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::oauth_helpers::{authorize_url, pkce, public_client, query_of, Client, REDIRECT};
use crate::upstream::Upstream;
use crate::vault::{authenticate, setup, Setup};

const NOTES_SECRET: &str = "notes-static-secret";

struct Agg {
    s: Setup,
    gmail: Upstream,
    notes: Upstream,
    client: Client,
}

/// Admin with `gmail` (rmcp, sessions, signed in through the Google stand-in), `notes`
/// (rmcp, stateless, a static credential) and `down` (nothing listens there).
async fn agg() -> Agg {
    let gmail = Upstream::start_at("/gmail/mcp", true).await;
    let notes = Upstream::start_at("/notes/mcp", false).await;
    let s = setup().await;
    assert_eq!(
        s.admin.add_server("gmail", &gmail.url).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        authenticate(&s, &s.admin, "gmail").await,
        "Connected 'gmail' as user@example.com."
    );
    let res = s
        .admin
        .submit(
            "/servers",
            "/api/add_server",
            &[
                ("slug", "notes"),
                ("url", &notes.url),
                ("name", ""),
                ("credential", NOTES_SECRET),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let down = format!("http://127.0.0.1:{}/down/mcp", free_port());
    assert_eq!(
        s.admin.add_server("down", &down).await.status(),
        StatusCode::SEE_OTHER
    );
    let client = public_client(&s.app).await;
    Agg {
        s,
        gmail,
        notes,
        client,
    }
}

/// One consent at `resource` ticking `servers`; the access token, asked for `resource`.
async fn token_for(a: &Agg, resource: &str, servers: &[&str]) -> String {
    let p = pkce();
    let user = &a.s.admin;
    let res = user
        .get(&authorize_url(
            &a.s.app,
            &a.client.id,
            Some(&p),
            &[("resource", resource)],
        ))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let consent = location(&res);
    let page = user.page(&consent).await;
    let aggregate = resource.ends_with("/mcp");
    assert_eq!(page.contains("id=\"aggregate-note\""), aggregate);
    let csrf = csrf_in(&page);
    let mut form = vec![("_csrf", csrf.as_str()), ("decision", "approve")];
    form.extend(servers.iter().map(|s| ("server", *s)));
    let res = user.post(&consent, &form).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let to = location(&res);
    assert!(to.starts_with(REDIRECT), "{to}");
    let code = query_of(&to)["code"].clone();
    let (status, body) = crate::oauth_helpers::token(
        &a.s.app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &p.verifier),
            ("client_id", &a.client.id),
            ("resource", resource),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// `agg()` with a token for `/mcp` covering gmail alone, and a session opened with it.
async fn signed_in_to_gmail() -> (Agg, String, String) {
    let a = agg().await;
    let token = token_for(&a, &aggregate_url(&a), &["gmail"]).await;
    let session = open(&a, &token).await;
    (a, token, session)
}

/// The activity log's gateway calls begin with these lines, in order.
async fn assert_logged(a: &Agg, expected: &[&str]) {
    let details = a.s.app.call_details().await;
    assert!(details.len() >= expected.len(), "{details:?}");
    for (line, prefix) in details.iter().zip(expected) {
        assert!(line.starts_with(prefix), "{details:?}");
    }
}

fn aggregate_url(a: &Agg) -> String {
    format!("{}/mcp", a.s.app.base)
}

/// A request to `/mcp` with the token, in the client session `session` (2025-11-25).
fn in_session(req: reqwest::RequestBuilder, token: &str, session: &str) -> reqwest::RequestBuilder {
    req.bearer_auth(token)
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25")
}

async fn post(a: &Agg, token: &str, session: Option<&str>, body: &Value) -> Response {
    let mut req = browser_client()
        .post(aggregate_url(a))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(body);
    if let Some(session) = session {
        req = req
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", "2025-11-25");
    }
    req.send().await.unwrap()
}

/// The answer to request `id` in a JSON or SSE response.
async fn answer(res: Response, id: i64) -> Value {
    let text = res.text().await.unwrap();
    let mut messages: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect();
    messages.extend(serde_json::from_str::<Value>(&text).ok());
    messages
        .into_iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("no answer to {id} in {text}"))
}

/// `initialize` + `notifications/initialized` at `/mcp`; the session id.
async fn open(a: &Agg, token: &str) -> String {
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "aggregate-test", "version": "1"}}});
    let res = post(a, token, None, &init).await;
    assert_eq!(res.status(), StatusCode::OK);
    let session = res.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let info = answer(res, 1).await;
    assert_eq!(info["result"]["serverInfo"]["name"], "gatehouse", "{info}");
    assert!(info["result"]["capabilities"]["tools"]["listChanged"] == true);
    let res = post(
        a,
        token,
        Some(&session),
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    session
}

async fn call(a: &Agg, token: &str, session: &str, id: i64, tool: &str, text: &str) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": tool, "arguments": {"text": text}}});
    let res = post(a, token, Some(session), &body).await;
    assert_eq!(res.status(), StatusCode::OK, "{tool}");
    answer(res, id).await
}

/// Every tool name of the merged list, following cursors; and the number of pages.
async fn all_tools(a: &Agg, token: &str, session: &str) -> (Vec<String>, usize) {
    let (mut names, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let params = match &cursor {
            Some(c) => json!({ "cursor": c }),
            None => json!({}),
        };
        let id = 100 + pages as i64;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/list", "params": params});
        let page = answer(post(a, token, Some(session), &body).await, id).await;
        pages += 1;
        let result = &page["result"];
        for tool in result["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("{page}"))
        {
            names.push(tool["name"].as_str().unwrap().to_owned());
        }
        match result["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (names, pages),
        }
        assert!(pages < 20, "cursors loop");
    }
}

#[tokio::test]
async fn tools_of_several_upstreams_are_merged_prefixed_and_routed() {
    let a = agg().await;
    let token = token_for(&a, &aggregate_url(&a), &["gmail", "notes", "down"]).await;
    let session = open(&a, &token).await;

    // The same tool names on two servers, two prefixed names each, in one page (clients that
    // read only the first page see everything); `down` is left out.
    let (mut names, pages) = all_tools(&a, &token, &session).await;
    assert_eq!(pages, 1);
    names.sort();
    assert_eq!(
        names,
        [
            "gmail__echo",
            "gmail__progress",
            "gmail__wait",
            "notes__echo",
            "notes__progress",
            "notes__wait"
        ]
    );

    // Each call reaches its own server with that server's credential.
    let before = a.notes.headers_seen().len();
    let out = call(&a, &token, &session, 2, "notes__echo", "to notes").await;
    assert_eq!(
        out["result"]["content"][0]["text"], "echo: to notes",
        "{out}"
    );
    let seen = a.notes.headers_seen();
    assert!(seen.len() > before, "the call reached notes");
    let auth = seen.last().unwrap()["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(auth, format!("Bearer {NOTES_SECRET}"));
    let out = call(&a, &token, &session, 3, "gmail__echo", "to gmail").await;
    assert_eq!(
        out["result"]["content"][0]["text"], "echo: to gmail",
        "{out}"
    );
    for h in a.gmail.headers_seen() {
        let auth = h["authorization"].to_str().unwrap();
        assert!(auth.starts_with("Bearer upstream-at-"), "{auth}");
    }
    // The client's Gatehouse token never reaches an upstream.
    for h in a
        .gmail
        .headers_seen()
        .iter()
        .chain(a.notes.headers_seen().iter())
    {
        assert!(!h["authorization"].to_str().unwrap().contains(&token));
    }

    // The down server's tool answers with an error naming it; the others still work.
    let out = call(&a, &token, &session, 4, "down__echo", "x").await;
    assert_eq!(out["error"]["code"], -32011, "{out}");
    assert_eq!(out["error"]["data"]["server"], "down", "{out}");
    assert!(
        out["error"]["message"].as_str().unwrap().contains("'down'"),
        "{out}"
    );
    let out = call(&a, &token, &session, 5, "notes__echo", "still").await;
    assert_eq!(out["result"]["content"][0]["text"], "echo: still", "{out}");

    // The activity log has each call under the real server and tool.
    assert_logged(
        &a,
        &[
            "notes: tools/call echo → 200",
            "gmail: tools/call echo → 200",
            "down: tools/call echo → 502",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_grant_limited_to_one_server_lists_only_it_and_steps_up_for_the_other() {
    let (a, token, session) = signed_in_to_gmail().await;
    let (names, _) = all_tools(&a, &token, &session).await;
    assert_eq!(names, ["gmail__echo", "gmail__wait", "gmail__progress"]);

    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "notes__echo", "arguments": {"text": "x"}}});
    let before = a.notes.headers_seen().len();
    let res = post(&a, &token, Some(&session), &body).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"mcp mcp:notes\""), "{challenge}");
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            a.s.app.base
        )),
        "{challenge}"
    );
    assert_eq!(
        a.notes.headers_seen().len(),
        before,
        "nothing reached notes"
    );
    // A name of no server of the user's is rmcp's ordinary error, not a step-up.
    let body = json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
        "params": {"name": "nosuch__echo", "arguments": {}}});
    let res = post(&a, &token, Some(&session), &body).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(answer(res, 8).await["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nosuch"));
}

#[tokio::test]
async fn tokens_are_bound_to_the_aggregate_or_to_one_server() {
    let a = agg().await;
    // A token for /mcp/gmail is refused at /mcp, with the aggregate's challenge.
    let gmail_only = token_for(&a, &format!("{}/mcp/gmail", a.s.app.base), &["gmail"]).await;
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    let res = post(&a, &gmail_only, None, &init).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("/.well-known/oauth-protected-resource/mcp\""),
        "{challenge}"
    );
    // A token for /mcp is refused at /mcp/gmail.
    let aggregate = token_for(&a, &aggregate_url(&a), &["gmail"]).await;
    assert_eq!(
        crate::oauth_helpers::mcp_status(&a.s.app, "gmail", &aggregate).await,
        StatusCode::UNAUTHORIZED
    );
    // The aggregate's protected-resource document names it.
    let doc: Value = browser_client()
        .get(format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            a.s.app.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["resource"], aggregate_url(&a));
}

/// The access token `upstream` last saw.
fn last_token(upstream: &Upstream) -> String {
    let seen = upstream.headers_seen();
    let auth = seen.last().unwrap()["authorization"].to_str().unwrap();
    auth.trim_start_matches("Bearer ").to_owned()
}

/// A call through `/mcp` whose upstream token is refused is refreshed and retried once, as at
/// `/mcp/{slug}`; a token refused after the refresh asks the user to sign in again.
#[tokio::test]
async fn a_refused_upstream_token_is_refreshed_and_the_call_retried() {
    let (a, token, session) = signed_in_to_gmail().await;
    let out = call(&a, &token, &session, 2, "gmail__echo", "one").await;
    assert_eq!(out["result"]["content"][0]["text"], "echo: one", "{out}");
    let old = last_token(&a.gmail);
    *a.gmail.recorded.reject.lock().unwrap() = Some(old.clone());
    let refreshes = a.s.stub.refreshes();

    let out = call(&a, &token, &session, 3, "gmail__echo", "two").await;
    assert_eq!(out["result"]["content"][0]["text"], "echo: two", "{out}");
    assert_eq!(a.s.stub.refreshes(), refreshes + 1, "one refresh");
    assert_ne!(last_token(&a.gmail), old, "the retry carried the new token");

    a.gmail
        .recorded
        .reject_all
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let out = call(&a, &token, &session, 4, "gmail__echo", "three").await;
    let error = &out["error"];
    assert_eq!(
        error["code"], -32010,
        "upstream authorization required: {out}"
    );
    assert_eq!(error["data"]["server"], "gmail", "{out}");
    assert!(
        error["data"]["url"].as_str().unwrap().ends_with("/servers"),
        "{out}"
    );
    assert_eq!(
        a.s.stub.refreshes(),
        refreshes + 2,
        "one more refresh, no loop"
    );
}

#[tokio::test]
async fn pagination_runs_across_upstreams() {
    let a = agg().await;
    for up in [&a.gmail, &a.notes] {
        up.recorded
            .paginate
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
    let token = token_for(&a, &aggregate_url(&a), &["gmail", "notes"]).await;
    let session = open(&a, &token).await;
    let (names, pages) = all_tools(&a, &token, &session).await;
    assert_eq!(
        names,
        [
            "gmail__echo",
            "gmail__wait",
            "gmail__progress",
            "notes__echo",
            "notes__wait",
            "notes__progress"
        ]
    );
    // A page ends where an upstream paginates (one tool per page here): [gmail echo],
    // [gmail wait], [gmail progress, notes echo], [notes wait], [notes progress].
    assert_eq!(pages, 5);
    // A cursor that is not ours is an error, not a silent first page.
    let body =
        json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": {"cursor": "bm9wZQ"}});
    let out = answer(post(&a, &token, Some(&session), &body).await, 9).await;
    assert_eq!(out["error"]["code"], -32602, "{out}");
}

#[tokio::test]
async fn a_list_change_upstream_reaches_the_client() {
    let a = agg().await;
    let token = token_for(&a, &aggregate_url(&a), &["gmail", "notes"]).await;
    let session = open(&a, &token).await;
    let mut events = Events::of(standing_stream(&a, &token, &session).await);
    // Listing opens the upstream session to gmail; then gmail's tools change.
    all_tools(&a, &token, &session).await;
    a.gmail.tools_changed().await;
    events
        .until(is_method("notifications/tools/list_changed"))
        .await;
}

#[tokio::test]
async fn an_api_key_sees_the_servers_it_is_limited_to() {
    let a = agg().await;
    let key = crate::api_keys::create_key(&a.s.admin, "laptop", "never", &["notes"]).await;
    let session = open(&a, &key).await;
    let (names, _) = all_tools(&a, &key, &session).await;
    assert_eq!(names, ["notes__echo", "notes__wait", "notes__progress"]);
    let out = call(&a, &key, &session, 2, "notes__echo", "by key").await;
    assert_eq!(out["result"]["content"][0]["text"], "echo: by key", "{out}");
}

/// A 2026-07-28 `tools/call` of `tool` with `Mcp-Name`, no session.
async fn stateless_call(a: &Agg, token: &str, id: i64, tool: &str, text: &str) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": tool, "arguments": {"text": text}, "_meta": stateless_meta()}});
    let res = browser_client()
        .post(aggregate_url(a))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("mcp-session-id").is_none());
    answer(res, id).await
}

/// The headers of the `tools/call` requests an upstream received after the `before`th request.
fn calls_seen(upstream: &Upstream, before: usize) -> Vec<reqwest::header::HeaderMap> {
    upstream.headers_seen()[before..]
        .iter()
        .filter(|h| h.get("mcp-method").is_some_and(|m| m == "tools/call"))
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_stateless_era_is_served_without_a_session() {
    let a = agg().await;
    let token = token_for(&a, &aggregate_url(&a), &["gmail", "notes"]).await;
    let (notes_before, gmail_before) = (a.notes.headers_seen().len(), a.gmail.headers_seen().len());
    let out = stateless_call(&a, &token, 5, "notes__echo", "stateless").await;
    assert_eq!(
        out["result"]["content"][0]["text"], "echo: stateless",
        "{out}"
    );
    let out = stateless_call(&a, &token, 6, "gmail__echo", "vault").await;
    assert_eq!(out["result"]["content"][0]["text"], "echo: vault", "{out}");
    // Both servers speak 2026-07-28: each call went through as the client sent it, renamed
    // in the body (the upstream answered `echo`) and in `Mcp-Name` (rmcp checks they agree),
    // with the server's own credential.
    for (upstream, before, credential) in [
        (&a.notes, notes_before, format!("Bearer {NOTES_SECRET}")),
        (&a.gmail, gmail_before, "Bearer upstream-at-".to_owned()),
    ] {
        let calls = calls_seen(upstream, before);
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(calls[0]["mcp-protocol-version"], "2026-07-28");
        assert_eq!(calls[0]["mcp-name"], "echo");
        assert!(calls[0]["authorization"]
            .to_str()
            .unwrap()
            .starts_with(&credential));
    }
    assert_logged(
        &a,
        &[
            "notes: tools/call echo → 200",
            "gmail: tools/call echo → 200",
        ],
    )
    .await;
    // Lists too: every server's tools, without a session.
    let list = json!({"jsonrpc": "2.0", "id": 6, "method": "tools/list", "params": {"_meta": stateless_meta()}});
    let out = answer(stateless(&a, &token, &list).await, 6).await;
    assert_eq!(
        out["result"]["tools"].as_array().map(Vec::len),
        Some(6),
        "{out}"
    );
}

#[tokio::test]
async fn a_server_of_the_initialize_era_gets_stateless_calls_through_a_session() {
    let a = agg().await;
    a.notes
        .recorded
        .initialize_era_only
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let token = token_for(&a, &aggregate_url(&a), &["gmail", "notes"]).await;
    for id in [5, 6] {
        let out = stateless_call(&a, &token, id, "notes__echo", "old").await;
        assert_eq!(out["result"]["content"][0]["text"], "echo: old", "{out}");
    }
    // No call was sent in the revision the server refuses; both went over the session.
    for h in a.notes.headers_seen() {
        let version = h.get("mcp-protocol-version").map(|v| v.to_str().unwrap());
        let discover = h.get("mcp-method").is_some_and(|m| m == "server/discover");
        assert!(discover || version != Some("2026-07-28"), "{h:?}");
    }
}

#[tokio::test]
async fn the_ai_clients_page_changes_what_a_grant_covers_at_once() {
    let (a, token, session) = signed_in_to_gmail().await;
    let page = a.s.admin.page("/clients").await;
    let grant = regex_lite::Regex::new(r#"data-grant="(\d+)""#)
        .unwrap()
        .captures(&page)
        .expect("the grant's row")[1]
        .to_owned();
    let change = |servers: &'static [&'static str]| {
        let grant = grant.clone();
        let admin = &a.s.admin;
        async move {
            let mut form = vec![("grant", grant.as_str())];
            form.extend(servers.iter().map(|s| ("servers[]", *s)));
            admin
                .submit("/clients", "/api/set_grant_servers", &form)
                .await
        }
    };
    let res = change(&["gmail", "notes"]).await;
    assert_eq!(
        a.s.admin.flash_after(res).await.as_deref(),
        Some("Saved: the app's access covers gmail, notes.")
    );
    let (names, _) = all_tools(&a, &token, &session).await;
    assert_eq!(
        names,
        [
            "gmail__echo",
            "gmail__wait",
            "gmail__progress",
            "notes__echo",
            "notes__wait",
            "notes__progress"
        ]
    );

    change(&["notes"]).await;
    let (names, _) = all_tools(&a, &token, &session).await;
    assert_eq!(names, ["notes__echo", "notes__wait", "notes__progress"]);
    // Nothing ticked, or a server that is not the user's, changes nothing.
    for bad in [&[][..], &["gmail", "someone-elses"][..]] {
        let res = change(bad).await;
        assert_eq!(
            a.s.admin.flash_after(res).await.as_deref(),
            Some("Choose at least one of your servers")
        );
    }
    let (names, _) = all_tools(&a, &token, &session).await;
    assert_eq!(names, ["notes__echo", "notes__wait", "notes__progress"]);
}

#[tokio::test]
async fn stopping_the_server_ends_open_aggregate_streams() {
    let (a, token, session) = signed_in_to_gmail().await;
    let stream = standing_stream(&a, &token, &session).await;
    // A graceful stop waits for open connections: the standing stream must end, not the
    // client hang up.
    assert!(a.s.app.stops_within(Duration::from_secs(10)).await);
    drop(stream);
}

/// The JSON-RPC messages of an SSE response, read as they arrive.
struct Events {
    body: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>,
    >,
    text: String,
}

impl Events {
    fn of(res: Response) -> Events {
        Events {
            body: Box::pin(res.bytes_stream()),
            text: String::new(),
        }
    }

    /// The messages up to and including the first for which `done` holds (≤ 10 s).
    async fn until(&mut self, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        let finished = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                while let Some(end) = self.text.find("\n\n") {
                    let event: String = self.text.drain(..end + 2).collect();
                    for data in event.lines().filter_map(|l| l.strip_prefix("data:")) {
                        if let Ok(message) = serde_json::from_str::<Value>(data.trim()) {
                            let last = done(&message);
                            seen.push(message);
                            if last {
                                return;
                            }
                        }
                    }
                }
                match self.body.next().await {
                    Some(chunk) => self
                        .text
                        .push_str(&String::from_utf8_lossy(&chunk.unwrap())),
                    None => panic!("the stream ended"),
                }
            }
        })
        .await;
        assert!(finished.is_ok(), "timed out; so far: {seen:?}");
        seen
    }
}

fn is_method(name: &'static str) -> impl Fn(&Value) -> bool {
    move |m| m["method"] == name
}

/// The standing stream (GET) of a client session.
async fn standing_stream(a: &Agg, token: &str, session: &str) -> Response {
    let res = browser_client()
        .get(aggregate_url(a))
        .bearer_auth(token)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res
}

#[tokio::test]
async fn progress_comes_back_under_the_clients_token() {
    // Passed through to notes (no sessions) and on Gatehouse's session with gmail.
    for slug in ["notes", "gmail"] {
        progress_of_a_call_to(slug).await;
    }
}

async fn progress_of_a_call_to(slug: &str) {
    let a = agg().await;
    let token = token_for(&a, &aggregate_url(&a), &["gmail", "notes"]).await;
    let session = open(&a, &token).await;
    let body = json!({"jsonrpc": "2.0", "id": 11, "method": "tools/call", "params": {
        "name": format!("{slug}__progress"), "arguments": {"text": "x"}, "_meta": {"progressToken": "mine-1"}}});
    let res = post(&a, &token, Some(&session), &body).await;
    assert_eq!(res.status(), StatusCode::OK);
    let seen = Events::of(res).until(|m| m["id"] == 11).await;
    let progress: Vec<&Value> = seen
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 1, "{seen:?}");
    assert_eq!(progress[0]["params"]["progressToken"], "mine-1");
    assert_eq!(progress[0]["params"]["message"], "halfway: x");
    assert_eq!(
        seen.last().unwrap()["result"]["content"][0]["text"],
        "progressed"
    );
    if slug == "gmail" {
        assert_last_call_on_gatehouses_session(&a.gmail);
    }
}

/// The upstream's last `tools/call` came through Gatehouse's session with it, under an id of
/// Gatehouse's (rmcp's client numbers its own requests: this is the passthrough).
fn assert_last_call_on_gatehouses_session(upstream: &Upstream) {
    let ids = upstream.call_ids();
    assert!(
        ids.last()
            .and_then(Value::as_str)
            .is_some_and(|id| id.starts_with("gatehouse-")),
        "{ids:?}"
    );
}

/// When rmcp itself opens the session again (a list found it ended), calls pass through on
/// the new session, not the ended one.
#[tokio::test]
async fn calls_pass_through_on_the_session_rmcp_opened_again() {
    let (a, token, session) = signed_in_to_gmail().await;
    call(&a, &token, &session, 1, "gmail__echo", "one").await;
    a.gmail.expire_sessions(404);
    let (tools, _) = all_tools(&a, &token, &session).await;
    assert!(tools.contains(&"gmail__echo".to_owned()), "{tools:?}");
    assert_eq!(a.gmail.initializes(), 2);
    let out = call(&a, &token, &session, 2, "gmail__echo", "two").await;
    assert_eq!(out["result"]["content"][0]["text"], "echo: two", "{out}");
    assert_eq!(a.gmail.initializes(), 2, "no third session");
    assert_last_call_on_gatehouses_session(&a.gmail);
}

/// A server may end a call's stream after an event with an id and before the answer
/// (2025-11-25, SEP-1699): Gatehouse asks for it again with `Last-Event-ID` on its session
/// and the client gets the answer under its own id.
#[tokio::test]
async fn an_answer_stream_the_server_ends_early_is_resumed() {
    let (a, token, session) = signed_in_to_gmail().await;
    let out = call(&a, &token, &session, 31, "gmail__resumable", "x").await;
    assert_eq!(out["result"]["content"][0]["text"], "resumed", "{out}");
    let seen = a.gmail.requests_seen();
    let resumed: Vec<_> = seen
        .iter()
        .filter(|(m, h)| m == "GET" && h.get("last-event-id").is_some_and(|v| v == "r1"))
        .collect();
    assert_eq!(resumed.len(), 1, "{seen:?}");
    let on = resumed[0]
        .1
        .get("mcp-session-id")
        .expect("on Gatehouse's session");
    assert_ne!(on.to_str().unwrap(), session);
    // One call in the activity log: the resumption is not a call of its own.
    let details = a.s.app.call_details().await;
    assert_eq!(details.len(), 1, "{details:?}");
    assert!(
        details[0].starts_with("gmail: tools/call resumable → 200"),
        "{details:?}"
    );
}

/// A server that restarted mid-answer refuses the resumption with 404: the client gets an
/// error answer at once, and the session is dropped then, so the next call opens a new
/// one instead of being sent on the ended one first.
#[tokio::test]
async fn a_resumption_refused_with_404_ends_gatehouses_session() {
    let (a, token, session) = signed_in_to_gmail().await;
    let out = call(&a, &token, &session, 31, "gmail__resumable_gone", "x").await;
    let error = out["error"]["message"].as_str().unwrap_or_default();
    assert!(error.contains("gmail"), "{out}");
    let ended = a
        .gmail
        .requests_seen()
        .into_iter()
        .rev()
        .find(|(m, h)| m == "GET" && h.get("last-event-id").is_some())
        .and_then(|(_, h)| h.get("mcp-session-id").cloned())
        .expect("a resumption on Gatehouse's session");
    let before = a.gmail.requests_seen().len();
    let out = call(&a, &token, &session, 32, "gmail__echo", "after").await;
    assert_eq!(out["result"]["content"][0]["text"], "echo: after", "{out}");
    let seen = a.gmail.requests_seen();
    let on_ended: Vec<_> = seen[before..]
        .iter()
        .filter(|(_, h)| h.get("mcp-session-id") == Some(&ended))
        .collect();
    assert!(on_ended.is_empty(), "{on_ended:?}");
}

/// Only a POST passes through: a DELETE (or GET) carrying a call's body would end (or
/// resume) Gatehouse's session with the server, which all the user's clients share.
#[tokio::test]
async fn only_a_post_passes_through() {
    let (a, token, session) = signed_in_to_gmail().await;
    let out = call(&a, &token, &session, 1, "gmail__echo", "one").await;
    assert_eq!(out["result"]["content"][0]["text"], "echo: one", "{out}");
    let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "gmail__echo", "arguments": {"text": "two"}}});
    let res = in_session(browser_client().delete(aggregate_url(&a)), &token, &session)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(!res.status().is_server_error(), "{}", res.status());
    let seen = a.gmail.requests_seen();
    assert!(!seen.iter().any(|(m, _)| m == "DELETE"), "{seen:?}");
    assert_eq!(a.gmail.call_ids().len(), 1);
    // A GET carrying a call's body is not sent upstream as one (the upstream records every
    // body's call, whatever the method); it is the client's standing stream, at rmcp.
    let session = open(&a, &token).await;
    let res = in_session(browser_client().get(aggregate_url(&a)), &token, &session)
        .header("accept", "text/event-stream")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(!res.status().is_server_error(), "{}", res.status());
    drop(res);
    assert_eq!(a.gmail.call_ids().len(), 1, "{:?}", a.gmail.call_ids());
}

#[tokio::test]
async fn a_call_in_a_session_passes_through_to_either_kind_of_server() {
    let a = agg().await;
    let token = token_for(&a, &aggregate_url(&a), &["gmail", "notes"]).await;
    let session = open(&a, &token).await;
    let out = call(&a, &token, &session, 4242, "notes__echo", "direct").await;
    assert_eq!(out["result"]["content"][0]["text"], "echo: direct", "{out}");
    let out = call(&a, &token, &session, 4343, "gmail__echo", "session").await;
    assert_eq!(
        out["result"]["content"][0]["text"], "echo: session",
        "{out}"
    );
    // A string id comes back as the client sent it, too. (With a `Last-Event-ID` of the
    // client's, which names no stream of the upstream's.)
    let body = json!({"jsonrpc": "2.0", "id": "call \"x\"", "method": "tools/call",
        "params": {"name": "gmail__echo", "arguments": {"text": "again"}}});
    let res = in_session(browser_client().post(aggregate_url(&a)), &token, &session)
        .header("accept", "application/json, text/event-stream")
        .header("last-event-id", "client-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(
        !text.lines().any(|l| l.starts_with("id:")),
        "no upstream event ids: {text}"
    );
    let answers: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect();
    assert_eq!(answers.len(), 1, "{text}");
    assert_eq!(answers[0]["id"], "call \"x\"", "{text}");
    assert_eq!(answers[0]["result"]["content"][0]["text"], "echo: again");
    // notes keeps no sessions: the client's request itself reached it (its id). gmail does:
    // the calls went on Gatehouse's session with it, under ids of Gatehouse's own (strings,
    // which rmcp's numbered requests on that session never use), and never with the
    // client's session id.
    assert_eq!(a.notes.call_ids(), [json!(4242)]);
    let gmail_ids = a.gmail.call_ids();
    assert_eq!(gmail_ids.len(), 2, "{gmail_ids:?}");
    for id in &gmail_ids {
        assert!(
            id.as_str().is_some_and(|id| id.starts_with("gatehouse-")),
            "{gmail_ids:?}"
        );
    }
    assert_ne!(gmail_ids[0], gmail_ids[1]);
    let upstream_sessions: std::collections::HashSet<String> = a
        .gmail
        .headers_seen()
        .iter()
        .filter_map(|h| h.get("mcp-session-id"))
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(upstream_sessions.len(), 1, "{upstream_sessions:?}");
    assert!(
        !a.gmail
            .headers_seen()
            .iter()
            .any(|h| h.get("last-event-id").is_some_and(|v| v == "client-1")),
        "the client's Last-Event-ID stays here"
    );
    assert!(!upstream_sessions.contains(&session));
    assert_logged(
        &a,
        &[
            "notes: tools/call echo → 200",
            "gmail: tools/call echo → 200",
            "gmail: tools/call echo → 200",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_call_to_a_server_that_ended_gatehouses_session_goes_on_a_new_one() {
    // 404 as the transport prescribes for an unknown session, 400 as many servers answer.
    for status in [404, 400] {
        call_after_the_session_ended(status).await;
    }
}

async fn call_after_the_session_ended(status: u16) {
    let (a, token, session) = signed_in_to_gmail().await;
    let out = call(&a, &token, &session, 5, "gmail__echo", "one").await;
    assert_eq!(out["result"]["content"][0]["text"], "echo: one", "{out}");
    assert_eq!(a.gmail.initializes(), 1);
    // The upstream restarts: it answers Gatehouse's session 404. The call did not run
    // there, so it is sent again on a new session, and the client sees only the answer.
    a.gmail.expire_sessions(status);
    let out = call(&a, &token, &session, 6, "gmail__echo", "two").await;
    assert_eq!(out["result"]["content"][0]["text"], "echo: two", "{out}");
    assert_eq!(a.gmail.initializes(), 2);
    // And the next call passes through on the new session.
    let out = call(&a, &token, &session, 7, "gmail__echo", "three").await;
    assert_eq!(out["result"]["content"][0]["text"], "echo: three", "{out}");
    assert_eq!(a.gmail.initializes(), 2);
    assert_last_call_on_gatehouses_session(&a.gmail);
    // Each call is logged once, as answered; a 404 refused the session, not the call (a
    // 400 might have been the call's answer: it is logged).
    let details = a.s.app.call_details().await;
    let refused = details.iter().filter(|d| d.contains("→ 400")).count();
    assert_eq!(refused, usize::from(status == 400), "{details:?}");
    let details: Vec<_> = details.iter().filter(|d| !d.contains("→ 400")).collect();
    assert_eq!(details.len(), 3, "{details:?}");
    assert!(
        details
            .iter()
            .all(|d| d.starts_with("gmail: tools/call echo → 200")),
        "{details:?}"
    );
}

#[tokio::test]
async fn a_cancelled_call_is_cancelled_upstream() {
    // Over Gatehouse's session with gmail; passed through to notes (no sessions).
    for slug in ["gmail", "notes"] {
        cancel_a_call_to(slug).await;
    }
}

async fn cancel_a_call_to(slug: &str) {
    let a = agg().await;
    let token = token_for(&a, &aggregate_url(&a), &[slug]).await;
    let session = open(&a, &token).await;
    let body = json!({"jsonrpc": "2.0", "id": 12, "method": "tools/call",
        "params": {"name": format!("{slug}__wait"), "arguments": {"text": "x"}}});
    let upstream = if slug == "gmail" { &a.gmail } else { &a.notes };
    let call = tokio::spawn({
        let req = browser_client()
            .post(aggregate_url(&a))
            .bearer_auth(&token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-11-25")
            .json(&body);
        async move { req.send().await.unwrap().text().await }
    });
    // Once gmail runs the tool, the client cancels it (`notify_one` keeps a permit: no
    // wake-up is lost whichever side comes first).
    tokio::time::timeout(
        Duration::from_secs(10),
        upstream.recorded.started.notified(),
    )
    .await
    .expect("the call reached the upstream");
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": 12, "reason": "user pressed stop"}});
    let res = post(&a, &token, Some(&session), &cancel).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert!(
        tokio::time::timeout(
            Duration::from_secs(10),
            upstream.recorded.cancelled.notified()
        )
        .await
        .is_ok(),
        "{slug}'s tool was not cancelled"
    );
    call.abort();
}

/// A passed-through call cancelled while its (SSE) answer streams ends that answer cleanly:
/// the upstream's `Content-Length` is not passed on (the cut body would be shorter than it
/// says, and the connection would be aborted instead of the answer ended).
#[tokio::test]
async fn a_call_cancelled_mid_answer_ends_its_answer_cleanly() {
    let a = agg().await;
    let token = token_for(&a, &aggregate_url(&a), &["notes"]).await;
    let session = open(&a, &token).await;
    let body = json!({"jsonrpc": "2.0", "id": 21, "method": "tools/call",
        "params": {"name": "notes__stall", "arguments": {"text": "x"}}});
    let mut res = post(&a, &token, Some(&session), &body).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers().get("content-length").is_none(),
        "a cancellable answer has no length to break: {:?}",
        res.headers()
    );
    let first = res
        .chunk()
        .await
        .unwrap()
        .expect("the upstream's first bytes");
    assert!(String::from_utf8_lossy(&first).starts_with("data: {\"jsonrpc\""));
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": 21, "reason": "user pressed stop"}});
    assert_eq!(
        post(&a, &token, Some(&session), &cancel).await.status(),
        StatusCode::ACCEPTED
    );
    let rest = tokio::time::timeout(Duration::from_secs(10), async {
        let mut rest = Vec::new();
        while let Some(chunk) = res.chunk().await? {
            rest.extend_from_slice(&chunk);
        }
        Ok::<_, reqwest::Error>(rest)
    })
    .await
    .expect("the answer ends once the call is cancelled");
    assert!(rest.is_ok(), "ended cleanly, not aborted: {rest:?}");
}

/// A JSON answer is read whole before it goes out (so it keeps its length, in one write): a
/// call cancelled while it arrives gets an empty answer at once.
#[tokio::test]
async fn a_call_cancelled_while_its_json_answer_arrives_gets_an_empty_answer() {
    let a = agg().await;
    let token = token_for(&a, &aggregate_url(&a), &["notes"]).await;
    let session = open(&a, &token).await;
    let echo = json!({"jsonrpc": "2.0", "id": 20, "method": "tools/call",
        "params": {"name": "notes__echo", "arguments": {"text": "x"}}});
    let res = post(&a, &token, Some(&session), &echo).await;
    assert!(
        res.headers().get("content-length").is_some(),
        "{:?}",
        res.headers()
    );
    let body = json!({"jsonrpc": "2.0", "id": 21, "method": "tools/call",
        "params": {"name": "notes__stall_json", "arguments": {"text": "x"}}});
    let call = tokio::spawn(post_owned(
        aggregate_url(&a),
        token.clone(),
        session.clone(),
        body,
    ));
    tokio::time::timeout(Duration::from_secs(10), a.notes.recorded.started.notified())
        .await
        .expect("the call reached the upstream");
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": 21, "reason": "user pressed stop"}});
    assert_eq!(
        post(&a, &token, Some(&session), &cancel).await.status(),
        StatusCode::ACCEPTED
    );
    let (status, text) = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("answered once cancelled")
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text, "", "no answer to a cancelled call");
}

/// A call in a session, sent from a task of its own: its status and body.
async fn post_owned(
    url: String,
    token: String,
    session: String,
    body: Value,
) -> (StatusCode, String) {
    let res = in_session(browser_client().post(url), &token, &session)
        .header("accept", "application/json, text/event-stream")
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

fn stateless_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "aggregate-test", "version": "1"}
    })
}

async fn stateless(a: &Agg, token: &str, body: &Value) -> Response {
    browser_client()
        .post(aggregate_url(a))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", body["method"].as_str().unwrap())
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_list_change_reaches_a_2026_07_28_listener() {
    let a = agg().await;
    let token = token_for(&a, &aggregate_url(&a), &["gmail", "notes"]).await;
    // Opens the upstream session to gmail.
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": stateless_meta()}});
    assert_eq!(stateless(&a, &token, &list).await.status(), StatusCode::OK);
    let listen = json!({"jsonrpc": "2.0", "id": 2, "method": "subscriptions/listen", "params": {
        "notifications": {"toolsListChanged": true}, "_meta": stateless_meta()}});
    let stream = stateless(&a, &token, &listen).await;
    assert_eq!(stream.status(), StatusCode::OK);
    let mut events = Events::of(stream);
    events
        .until(is_method("notifications/subscriptions/acknowledged"))
        .await;
    // Listening: one more round trip, then gmail's tools change.
    assert_eq!(stateless(&a, &token, &list).await.status(), StatusCode::OK);
    a.gmail.tools_changed().await;
    events
        .until(is_method("notifications/tools/list_changed"))
        .await;
}

#[tokio::test]
async fn a_session_belongs_to_the_user_who_opened_it() {
    let a = agg().await;
    let token = token_for(&a, &aggregate_url(&a), &["gmail", "notes"]).await;
    let session = open(&a, &token).await;
    // Bob, with a valid credential of his own for /mcp, presents alice's session: 404, as
    // for a session that does not exist; so does an id nobody was given.
    let bob = a.s.app.user(&a.s.admin, "bob").await;
    let bobs_key = crate::api_keys::create_key(&bob, "bob", "never", &[]).await;
    let list = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"});
    // A call, which would pass through on Gatehouse's session with gmail, is refused
    // before that, as a list is.
    let call = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": "gmail__echo", "arguments": {"text": "x"}}});
    for (who, id) in [(&bobs_key, session.as_str()), (&token, "made-up-session")] {
        for body in [&list, &call] {
            let res = post(&a, who, Some(id), body).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{id} {body}");
        }
    }
    assert!(a.gmail.call_ids().is_empty(), "{:?}", a.gmail.call_ids());
    // Bob cannot end it either; alice still can use it.
    let res = browser_client()
        .delete(aggregate_url(&a))
        .bearer_auth(&bobs_key)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (names, _) = all_tools(&a, &token, &session).await;
    assert_eq!(names.len(), 6);
}

#[tokio::test]
async fn a_code_for_mcp_alone_never_opens_a_single_server() {
    let a = agg().await;
    let p = pkce();
    let resource = aggregate_url(&a);
    let res =
        a.s.admin
            .get(&authorize_url(
                &a.s.app,
                &a.client.id,
                Some(&p),
                &[("resource", &resource)],
            ))
            .await;
    let consent = location(&res);
    let csrf = a.s.admin.csrf(&consent).await;
    let form = [
        ("_csrf", csrf.as_str()),
        ("decision", "approve"),
        ("server", "gmail"),
        ("server", "notes"),
    ];
    let to = location(&a.s.admin.post(&consent, &form).await);
    let code = query_of(&to)["code"].clone();
    // No `resource` at /token: the token gets everything the code names — only /mcp.
    let (status, body) =
        crate::oauth_helpers::exchange(&a.s.app, &a.client, &code, &p.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(
        crate::oauth_helpers::mcp_status(&a.s.app, "gmail", token).await,
        StatusCode::UNAUTHORIZED
    );
    let session = open(&a, token).await;
    assert_eq!(all_tools(&a, token, &session).await.0.len(), 6);
}
