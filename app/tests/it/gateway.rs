//! The MCP gateway end to end: an OAuth-authenticated client calls tools on an rmcp upstream
//! that Gatehouse authenticated to through the vault (provider stub as Google).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::oauth_helpers::{approve, exchange, pkce, public_client, tokens_for_gmail};
use crate::provider_stub::RefreshMode;
use crate::upstream::Upstream;
use crate::vault::{authenticate, expire, server_id, setup, Setup};

pub(crate) struct Gw {
    pub s: Setup,
    pub upstream: Upstream,
    pub token: String,
}

/// Admin with server `gmail` → the rmcp upstream, connected through the vault, and a
/// Gatehouse access token for it.
pub(crate) async fn gateway(sessions: bool) -> Gw {
    let upstream = Upstream::start(sessions).await;
    let s = setup().await;
    let res = s.admin.add_server("gmail", &upstream.url).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        authenticate(&s, &s.admin, "gmail").await,
        "Connected 'gmail' as user@example.com."
    );
    let client = public_client(&s.app).await;
    let tokens = tokens_for_gmail(&s.app, &s.admin, &client).await;
    Gw {
        token: tokens["access_token"].as_str().unwrap().to_owned(),
        s,
        upstream,
    }
}

pub(crate) async fn post(
    gw: &Gw,
    slug: &str,
    token: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> Response {
    let mut req = browser_client()
        .post(format!("{}/mcp/{slug}", gw.s.app.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// The JSON-RPC messages of a response, whether JSON or SSE.
async fn messages(res: Response) -> Vec<Value> {
    let sse = res
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().starts_with("text/event-stream"));
    let text = res.text().await.unwrap();
    if !sse {
        return serde_json::from_str::<Value>(&text).into_iter().collect();
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect()
}

/// The response to request `id` among the messages.
async fn answer(res: Response, id: i64) -> Value {
    messages(res)
        .await
        .into_iter()
        .find(|m| m["id"] == id)
        .expect("a response with that id")
}

pub(crate) fn initialize(id: i64, capabilities: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": capabilities,
        "clientInfo": {"name": "gateway-test", "version": "1"}}})
}

/// Opens a session (initialize + initialized); returns its id.
pub(crate) async fn open_session(gw: &Gw, token: &str) -> String {
    let res = post(gw, "gmail", token, &initialize(1, json!({})), &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let session = res
        .headers()
        .get("mcp-session-id")
        .expect("the upstream opened a session")
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(answer(res, 1).await["result"]["serverInfo"]["name"], "rmcp");
    let res = post(
        gw,
        "gmail",
        token,
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        &[
            ("mcp-session-id", &session),
            ("mcp-protocol-version", "2025-11-25"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    session
}

/// The headers of a request in an open session.
fn in_session(session: &str) -> [(&'static str, &str); 2] {
    [
        ("mcp-session-id", session),
        ("mcp-protocol-version", "2025-11-25"),
    ]
}

fn list_tools(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"})
}

fn call(id: i64, tool: &str, text: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": {"text": text}}})
}

#[tokio::test]
async fn tools_list_and_call_with_initialize_and_session() {
    let gw = gateway(true).await;
    let session = open_session(&gw, &gw.token).await;
    let headers = in_session(&session);

    let res = post(&gw, "gmail", &gw.token, &list_tools(2), &headers).await;
    let list = answer(res, 2).await;
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["echo", "wait", "progress"]);

    let res = post(&gw, "gmail", &gw.token, &call(3, "echo", "hello"), &headers).await;
    assert_eq!(
        answer(res, 3).await["result"]["content"][0]["text"],
        "echo: hello"
    );

    // The upstream got the vault's token for this user, on every request.
    for h in gw.upstream.headers_seen() {
        let auth = h.get("authorization").unwrap().to_str().unwrap();
        assert!(auth.starts_with("Bearer upstream-at-"), "{auth}");
    }
    // Each call is in the activity log with method and tool, never the arguments.
    let details = gw.s.app.call_details().await;
    assert_eq!(details.len(), 4, "{details:?}");
    assert!(
        details[0].starts_with("gmail: initialize → 200 in "),
        "{details:?}"
    );
    assert!(
        details[3].starts_with("gmail: tools/call echo → 200 in "),
        "{details:?}"
    );
    assert!(!details.iter().any(|d| d.contains("hello")));

    // DELETE ends the session, and its binding with it.
    let res = browser_client()
        .delete(format!("{}/mcp/gmail", gw.s.app.base))
        .bearer_auth(&gw.token)
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        gw.s.app
            .count("SELECT COUNT(*) FROM gateway_sessions")
            .await,
        0
    );
}

#[tokio::test]
async fn stateless_2026_07_28_requests_pass_through() {
    let gw = gateway(false).await;
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "gateway-test", "version": "1"}
    });
    let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "no session"}, "_meta": meta}});
    let res = post(
        &gw,
        "gmail",
        &gw.token,
        &body,
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "echo"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("mcp-session-id").is_none());
    // A JSON answer keeps the upstream's length (sent as is, not re-framed as chunks).
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert!(
        res.headers().contains_key("content-length"),
        "{:?}",
        res.headers()
    );
    let reply = answer(res, 5).await;
    assert_eq!(
        reply["result"]["content"][0]["text"], "echo: no session",
        "{reply}"
    );
    let seen = gw.upstream.headers_seen();
    let last = seen.last().unwrap();
    assert_eq!(last.get("mcp-method").unwrap(), "tools/call");
    assert_eq!(last.get("mcp-name").unwrap(), "echo");
    assert_eq!(
        gw.s.app
            .count("SELECT COUNT(*) FROM gateway_sessions")
            .await,
        0
    );
}

#[tokio::test]
async fn client_token_never_reaches_upstream() {
    let gw = gateway(true).await;
    open_session(&gw, &gw.token).await;
    let seen = gw.upstream.headers_seen();
    assert!(!seen.is_empty());
    for headers in seen {
        for (name, value) in &headers {
            let v = value.to_str().unwrap_or("");
            assert!(
                !v.contains("gh_at_") && !v.contains(&gw.token),
                "{name}: {v}"
            );
        }
    }
}

#[tokio::test]
async fn gatehouse_cookies_never_reach_upstream() {
    let gw = gateway(true).await;
    let res = post(
        &gw,
        "gmail",
        &gw.token,
        &initialize(1, json!({})),
        &[
            ("cookie", "gatehouse_session=abc; other=1"),
            ("x-forwarded-for", "10.1.2.3"),
            ("x-custom", "nope"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let seen = gw.upstream.headers_seen();
    let last = seen.last().unwrap();
    assert!(last.get("cookie").is_none());
    assert!(last.get("x-forwarded-for").is_none() && last.get("x-custom").is_none());
}

#[tokio::test]
async fn upstream_set_cookie_is_dropped() {
    let gw = gateway(true).await;
    let res = post(&gw, "gmail", &gw.token, &initialize(1, json!({})), &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers().get("set-cookie").is_none(),
        "the upstream sets one; the gateway drops it"
    );
    assert_eq!(
        res.headers().get("content-security-policy").unwrap(),
        "sandbox"
    );
    assert_eq!(
        res.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
    assert!(res.headers().get("mcp-session-id").is_some());
}

#[tokio::test]
async fn sse_first_event_arrives_before_upstream_finishes() {
    let gw = gateway(true).await;
    let session = open_session(&gw, &gw.token).await;
    let headers = in_session(&session);
    let mut res = post(&gw, "gmail", &gw.token, &call(9, "wait", ""), &headers).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    // The tool is still waiting for us: whatever arrives now was streamed, not buffered.
    let first = tokio::time::timeout(Duration::from_secs(10), res.chunk())
        .await
        .expect("an event before the tool finished")
        .unwrap()
        .unwrap();
    assert!(!String::from_utf8_lossy(&first).contains("finished"));
    gw.upstream.recorded.release.notify_one();
    let mut rest = String::from_utf8_lossy(&first).into_owned();
    while let Some(chunk) = res.chunk().await.unwrap() {
        rest.push_str(&String::from_utf8_lossy(&chunk));
        if rest.contains("finished") {
            break;
        }
    }
    assert!(rest.contains("finished"));
}

/// The access token the upstream last saw.
fn last_upstream_token(gw: &Gw) -> String {
    let seen = gw.upstream.headers_seen();
    seen.last()
        .unwrap()
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_owned()
}

/// An open server (no stored credential, no sign-in provider) gets no `Authorization` and no
/// cookie at all: the client's Gatehouse token and session never cross.
#[tokio::test]
async fn an_open_server_never_sees_the_clients_credentials() {
    let open = Upstream::start_at("/open/mcp", false).await;
    let s = setup().await;
    let res = s.admin.add_server("open", &open.url).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let client = public_client(&s.app).await;
    let p = pkce();
    let code = approve(&s.app, &s.admin, &client, &p, Some("open"), &["open"]).await;
    let (status, tokens) = exchange(&s.app, &client, &code, &p.verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let res = browser_client()
        .post(format!("{}/mcp/open", s.app.base))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .header("accept", "application/json, text/event-stream")
        .header("cookie", "gatehouse_session=not-for-upstreams")
        .json(&call(1, "echo", "open"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer(res, 1).await["result"]["content"][0]["text"],
        "echo: open"
    );
    let seen = open.headers_seen();
    let last = seen.last().unwrap();
    assert!(last.get("authorization").is_none(), "{last:?}");
    assert!(last.get("cookie").is_none(), "{last:?}");
}

/// A call answered just before a stop is in the activity log after it: the writer's window
/// is flushed when the server stops (it was lost on SIGTERM before).
#[tokio::test]
async fn the_last_calls_before_a_stop_are_logged() {
    let gw = gateway(false).await;
    let res = post(&gw, "gmail", &gw.token, &call(1, "echo", "last"), &[]).await;
    assert_eq!(
        answer(res, 1).await["result"]["content"][0]["text"],
        "echo: last"
    );
    let pool = gw.s.app.core.pool.clone();
    let Gw { s, upstream, .. } = gw;
    assert!(s.app.stops_within(Duration::from_secs(10)).await);
    let logged: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE kind = 'mcp.call' AND detail LIKE 'gmail: tools/call echo%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(logged, 1);
    drop(upstream);
}

#[tokio::test]
async fn upstream_401_refreshes_and_retries_once() {
    let gw = gateway(false).await;
    let res = post(&gw, "gmail", &gw.token, &initialize(1, json!({})), &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let old = last_upstream_token(&gw);
    // The upstream stops accepting the stored token (revoked or expired early).
    *gw.upstream.recorded.reject.lock().unwrap() = Some(old.clone());
    let before = gw.upstream.headers_seen().len();
    let res = post(&gw, "gmail", &gw.token, &initialize(2, json!({})), &[]).await;
    assert_eq!(answer(res, 2).await["result"]["serverInfo"]["name"], "rmcp");
    assert_eq!(gw.s.stub.refreshes(), 1);
    let seen = gw.upstream.headers_seen();
    assert_eq!(seen.len(), before + 2, "the rejected request and one retry");
    assert_ne!(last_upstream_token(&gw), old);

    // An upstream that refuses every token: one refresh, one retry, then the user must act.
    gw.upstream
        .recorded
        .reject_all
        .store(true, Ordering::SeqCst);
    let before = gw.upstream.headers_seen().len();
    let res = post(&gw, "gmail", &gw.token, &call(3, "echo", "x"), &[]).await;
    let reply = answer(res, 3).await;
    assert_eq!(reply["error"]["code"], -32010, "{reply}");
    assert_eq!(gw.upstream.headers_seen().len(), before + 2);
    assert_eq!(gw.s.stub.refreshes(), 2);
}

#[tokio::test]
async fn needs_reauth_error_names_server_and_url() {
    let gw = gateway(false).await;
    gw.s.stub.set_refresh_mode(RefreshMode::InvalidGrant);
    let (_, id) = server_id(&gw.s.app, "gmail").await;
    expire(&gw.s.app, id).await;
    let reconnect = format!("{}/servers", gw.s.app.base);

    let res = post(&gw, "gmail", &gw.token, &call(4, "echo", "x"), &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let reply = answer(res, 4).await;
    assert_eq!(reply["error"]["code"], -32010);
    assert_eq!(reply["error"]["data"]["server"], "gmail");
    assert_eq!(reply["error"]["data"]["url"], reconnect);
    assert!(reply["error"]["message"]
        .as_str()
        .unwrap()
        .contains("'gmail' needs you to sign in again"));

    // A client that takes URL-mode elicitations gets -32042 with the reconnect URL.
    let res = post(
        &gw,
        "gmail",
        &gw.token,
        &initialize(5, json!({"elicitation": {"url": {}}})),
        &[],
    )
    .await;
    let reply = answer(res, 5).await;
    assert_eq!(reply["error"]["code"], -32042, "{reply}");
    let elicitation = &reply["error"]["data"]["elicitations"][0];
    assert_eq!(elicitation["mode"], "url");
    assert_eq!(elicitation["url"], reconnect);
    assert!(elicitation["elicitationId"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));

    // Without a JSON-RPC id (a notification) the answer is a 502 with a JSON body.
    let res = post(
        &gw,
        "gmail",
        &gw.token,
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        &[],
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["server"], "gmail");
    assert_eq!(
        gw.upstream.headers_seen().len(),
        0,
        "nothing was sent upstream"
    );
}

#[tokio::test]
async fn session_id_of_user_a_is_404_for_user_b() {
    let gw = gateway(true).await;
    let session = open_session(&gw, &gw.token).await;
    let bob = gw.s.app.user(&gw.s.admin, "bob").await;
    bob.add_server("gmail", &gw.upstream.url).await;
    authenticate(&gw.s, &bob, "gmail").await;
    let client = public_client(&gw.s.app).await;
    let bob_token = tokens_for_gmail(&gw.s.app, &bob, &client).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let before = gw.upstream.headers_seen().len();
    let headers = in_session(&session);
    let res = post(&gw, "gmail", &bob_token, &list_tools(2), &headers).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // A session id Gatehouse never bound is refused the same way.
    let made_up = in_session("made-up");
    let res = post(&gw, "gmail", &gw.token, &list_tools(3), &made_up).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        gw.upstream.headers_seen().len(),
        before,
        "neither reached the upstream"
    );
    // The owner still uses it.
    let res = post(&gw, "gmail", &gw.token, &list_tools(4), &headers).await;
    assert!(answer(res, 4).await["result"]["tools"].is_array());
}

#[tokio::test]
async fn token_for_other_slug_is_rejected() {
    let gw = gateway(false).await;
    gw.s.admin.add_server("drive", &gw.upstream.url).await;
    let res = post(&gw, "drive", &gw.token, &initialize(1, json!({})), &[]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    assert_eq!(gw.upstream.headers_seen().len(), 0);
}

#[tokio::test]
async fn upstream_down_gives_clear_error_quickly() {
    let gw = gateway(false).await;
    let Gw { s, upstream, token } = gw;
    drop(upstream);
    let gw_base = s.app.base.clone();
    let started = Instant::now();
    let res = browser_client()
        .post(format!("{gw_base}/mcp/gmail"))
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .json(&call(6, "echo", "x"))
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let reply: Value = res.json().await.unwrap();
    assert_eq!(reply["id"], 6);
    assert_eq!(reply["error"]["code"], -32011);
    assert_eq!(
        reply["error"]["message"],
        "The upstream server 'gmail' is unavailable: cannot connect to it"
    );
    assert!(
        !reply.to_string().contains("127.0.0.1"),
        "the upstream URL is not disclosed"
    );
    // A refused connection is reported at once, not after the 5 s connect timeout.
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn get_opens_the_sessions_event_stream_through_the_gateway() {
    let gw = gateway(true).await;
    let session = open_session(&gw, &gw.token).await;
    let mut res = browser_client()
        .get(format!("{}/mcp/gmail", gw.s.app.base))
        .bearer_auth(&gw.token)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    // The stream stays open and delivers what the upstream sends (here its keep-alive).
    let first = tokio::time::timeout(Duration::from_secs(10), res.chunk())
        .await
        .expect("bytes from the open stream")
        .unwrap();
    assert!(first.is_some_and(|c| !c.is_empty()));
    let seen = gw.upstream.headers_seen();
    assert_eq!(
        seen.last().unwrap().get("accept").unwrap(),
        "text/event-stream"
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_reaching_upstream() {
    let gw = gateway(false).await;
    let big = "x".repeat(5 * 1024 * 1024);
    let res = post(&gw, "gmail", &gw.token, &call(1, "echo", &big), &[]).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(gw.upstream.headers_seen().len(), 0);
    // Just under the limit passes.
    let fits = "x".repeat(3 * 1024 * 1024);
    let res = post(&gw, "gmail", &gw.token, &call(2, "echo", &fits), &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_refused_static_credential_says_to_replace_it() {
    let gw = gateway(false).await;
    let res =
        gw.s.admin
            .submit(
                "/servers",
                "/api/add_server",
                &[
                    ("slug", "tools"),
                    ("url", &gw.upstream.url),
                    ("name", ""),
                    ("credential", "old-static-key"),
                ],
            )
            .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    *gw.upstream.recorded.reject.lock().unwrap() = Some("old-static-key".into());
    let client = public_client(&gw.s.app).await;
    let p = crate::oauth_helpers::pkce();
    let code = crate::oauth_helpers::approve(
        &gw.s.app,
        &gw.s.admin,
        &client,
        &p,
        Some("tools"),
        &["tools"],
    )
    .await;
    let (_, tokens) = crate::oauth_helpers::exchange(&gw.s.app, &client, &code, &p.verifier).await;
    let token = tokens["access_token"].as_str().unwrap();
    let res = post(&gw, "tools", token, &call(1, "echo", "x"), &[]).await;
    let reply = answer(res, 1).await;
    assert_eq!(reply["error"]["code"], -32010);
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("refused its stored credential"),
        "{reply}"
    );
    assert_eq!(gw.s.stub.refreshes(), 0, "nothing to refresh");
    let seen = gw.upstream.headers_seen();
    assert_eq!(
        seen.last().unwrap().get("authorization").unwrap(),
        "Bearer old-static-key"
    );
}

#[tokio::test]
async fn private_upstreams_are_refused_without_the_operators_allow_list() {
    // No GATEHOUSE_ALLOW_PRIVATE_NETWORKS: the gateway's client must not reach loopback.
    let upstream = Upstream::start(false).await;
    let (app, admin) = spawn_app_with_admin().await;
    let res = admin
        .submit(
            "/servers",
            "/api/add_server",
            &[
                ("slug", "gmail"),
                ("url", &upstream.url),
                ("name", ""),
                ("credential", "k"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let client = public_client(&app).await;
    let token = tokens_for_gmail(&app, &admin, &client).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply: Value = browser_client()
        .post(format!("{}/mcp/gmail", app.base))
        .bearer_auth(&token)
        .json(&call(1, "echo", "x"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["error"]["code"], -32011, "{reply}");
    assert!(upstream.headers_seen().is_empty(), "no connection was made");
}

#[tokio::test]
async fn calls_on_two_instances_with_an_expired_upstream_token_refresh_it_once() {
    let gw = gateway(false).await;
    // A second instance on the database, behind the same public URL (tokens name it).
    let mut settings = gw.s.stub.google_settings();
    settings.push(("GATEHOUSE_PUBLIC_URL", gw.s.app.base.clone()));
    settings.push(("GATEHOUSE_ALLOWED_HOSTS", "127.0.0.1".into()));
    let extra: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let second = spawn_app_in(&gw.s.app.data_dir, &extra).await;
    let (_, id) = server_id(&gw.s.app, "gmail").await;
    expire(&gw.s.app, id).await;
    *gw.s.stub.state.refresh_latency.lock().unwrap() = Duration::from_millis(300);

    let calls = (0..20).map(|i| {
        let base = [&gw.s.app.base, &second.base][i % 2].clone();
        let token = gw.token.clone();
        tokio::spawn(async move {
            browser_client()
                .post(format!("{base}/mcp/gmail"))
                .bearer_auth(token)
                .header("accept", "application/json, text/event-stream")
                .json(&call(i as i64, "echo", "x"))
                .send()
                .await
                .unwrap()
        })
    });
    let calls: Vec<_> = calls.collect();
    for (i, call) in calls.into_iter().enumerate() {
        let reply = answer(call.await.unwrap(), i as i64).await;
        assert!(reply["result"].is_object(), "{reply}");
    }
    assert_eq!(
        gw.s.stub.refreshes(),
        1,
        "one refresh across both instances"
    );
}
