//! Observability: the activity log (one event per action, per-user visibility, filters,
//! keyset paging, export), the stats page, Prometheus metrics (the private listener parses
//! and moves; the main listener's `/metrics` is for administrators), and logs (request ids;
//! no secret a run creates ever appears in them).

use std::collections::HashMap;
use std::time::Duration;

use reqwest::header::ACCEPT;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::AsyncReadExt;

use crate::helpers::*;
use crate::oauth_helpers::{pkce, public_client, ready, refresh, tokens_for_gmail};

/// A request's JSON answer (the tests' peers always answer JSON here).
trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::RequestBuilder {
    async fn json_value(self) -> Value {
        self.send().await.unwrap().json().await.unwrap()
    }
}

async fn kinds(app: &TestApp) -> HashMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>("SELECT kind, COUNT(*) FROM audit_events GROUP BY kind")
        .fetch_all(&app.core.pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

#[tokio::test]
async fn each_action_is_one_event_of_its_kind_with_server_and_client() {
    let (app, admin, client) = ready().await;
    let before = kinds(&app).await;
    let tokens = tokens_for_gmail(&app, &admin, &client).await;
    let (status, _) = refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let grant: i64 = sqlx::query_scalar("SELECT id FROM grants")
        .fetch_one(&app.core.pool)
        .await
        .unwrap();
    admin
        .submit(
            "/clients",
            "/api/revoke_grant",
            &[("grant", &grant.to_string())],
        )
        .await;
    let after = kinds(&app).await;
    let added = |kind: &str| after.get(kind).unwrap_or(&0) - before.get(kind).unwrap_or(&0);
    for kind in [
        "consent.granted",
        "token.issued",
        "token.refreshed",
        "grant.revoked",
    ] {
        assert_eq!(added(kind), 1, "{kind}: {after:?}");
    }
    assert_eq!(before["server.added"], 2, "two servers, two events");
    // The structured columns the filters use.
    let (server, client_col): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT server, client FROM audit_events WHERE kind = 'consent.granted'")
            .fetch_one(&app.core.pool)
            .await
            .unwrap();
    assert_eq!(server, None);
    assert_eq!(client_col.as_deref(), Some(client.id.as_str()));
    let server: Option<String> = sqlx::query_scalar(
        "SELECT server FROM audit_events WHERE kind = 'server.added' ORDER BY id LIMIT 1",
    )
    .fetch_one(&app.core.pool)
    .await
    .unwrap();
    assert_eq!(server.as_deref(), Some("gmail"));
}

/// Inserts `n` gateway calls for `user` to `server`, every `error_every`-th failed, one a
/// minute going back from `start`.
async fn calls(app: &TestApp, user: i64, server: &str, n: i64, error_every: i64, start: i64) {
    for i in 0..n {
        let outcome = if error_every > 0 && i % error_every == 0 {
            "error"
        } else {
            "ok"
        };
        sqlx::query(
            "INSERT INTO audit_events (at, user_id, actor, kind, detail, server, client, outcome, duration_ms)
             VALUES ($1, $2, 'client-x', 'mcp.call', $3, $4, 'client-x', $5, $6)",
        )
        .bind(start - i * 60)
        .bind(user)
        .bind(format!("{server}: tools/call echo → 200 in {i} ms"))
        .bind(server)
        .bind(outcome)
        .bind(i)
        .execute(&app.core.pool)
        .await
        .unwrap();
    }
}

/// Every row of the Activity page for `query`, following "Older events" to the end.
async fn all_pages(browser: &Browser, query: &str) -> Vec<i64> {
    let row =
        regex_lite::Regex::new(r#"<tr data-kind="[^"]+" data-outcome="[^"]+" data-id="(\d+)""#)
            .unwrap();
    let older = regex_lite::Regex::new(r#"<a href="(/activity\?[^"]+)" rel="next">"#).unwrap();
    let mut ids = Vec::new();
    let mut next = Some(format!("/activity?{query}"));
    while let Some(path) = next {
        let page = browser.page(&path.replace("&amp;", "&")).await;
        ids.extend(
            row.captures_iter(&page)
                .map(|c| c[1].parse::<i64>().unwrap()),
        );
        next = older.captures(&page).map(|c| c[1].to_owned());
    }
    ids
}

#[tokio::test]
async fn filters_and_keyset_paging_return_exactly_the_matching_rows() {
    let (app, admin) = spawn_app_with_admin().await;
    let now = gatehouse::clock::now();
    calls(&app, 1, "alpha", 230, 10, now).await;
    calls(&app, 1, "beta", 40, 0, now).await;

    let alpha = all_pages(&admin, "server=alpha").await;
    assert_eq!(alpha.len(), 230, "three pages of 100, 100, 30");
    let mut sorted = alpha.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(sorted, alpha, "newest first, no row twice");
    assert_eq!(
        all_pages(&admin, "server=alpha&outcome=error").await.len(),
        23
    );
    assert_eq!(
        all_pages(&admin, "server=beta&outcome=error").await.len(),
        0
    );
    assert_eq!(
        all_pages(&admin, "kind=mcp.call&client=client-x")
            .await
            .len(),
        270
    );
    // The last hour (from a UTC datetime-local value): alpha's minutes 0..59 and all 40 of beta's.
    let since = gatehouse::clock::format_utc(now - 3600 + 60);
    let since = format!("{}T{}", &since[..10], &since[11..16]);
    let last_hour = all_pages(&admin, &format!("kind=mcp.call&since={since}")).await;
    assert!(last_hour.len() == 100, "{}", last_hour.len());

    // A bad filter says why, and lists nothing.
    let page = admin.page("/activity?since=yesterday").await;
    assert!(page.contains("since: use a date like 2026-12-01"), "{page}");

    // The export has the same rows.
    let json: Value = admin
        .client
        .get(format!(
            "{}/activity.json?server=alpha&outcome=error",
            app.base
        ))
        .json_value()
        .await;
    assert_eq!(json.as_array().unwrap().len(), 23);
    assert_eq!(json[0]["server"], "alpha");
    let csv = admin
        .client
        .get(format!("{}/activity.csv?server=beta", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert!(
        csv.starts_with("id,at,account,by,kind,server,client,outcome,duration_ms,detail,ip\r\n")
    );
    assert_eq!(csv.lines().count(), 41);
    assert_eq!(
        browser_client()
            .get(format!("{}/activity.csv", app.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_user_never_sees_another_users_events() {
    let (app, admin) = spawn_app_with_admin().await;
    let bob = app.user(&admin, "bob").await;
    let alice = app.user(&admin, "alice").await;
    bob.add_server("bobs-secret-server", "https://gmail.example.com/mcp")
        .await;
    let bob_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'bob'")
        .fetch_one(&app.core.pool)
        .await
        .unwrap();
    calls(
        &app,
        bob_id,
        "bobs-secret-server",
        3,
        0,
        gatehouse::clock::now(),
    )
    .await;

    assert!(!alice.page("/activity").await.contains("bobs-secret-server"));
    for query in ["", "server=bobs-secret-server", "kind=mcp.call"] {
        if !query.is_empty() {
            assert!(all_pages(&alice, query).await.is_empty(), "{query}");
        }
        let rows = alice.page(&format!("/activity?{query}")).await;
        assert!(!rows.contains("<td>bobs-secret-server</td>"), "{query}");
        let json: Value = alice
            .client
            .get(format!("{}/activity.json?{query}", app.base))
            .json_value()
            .await;
        assert!(!json.to_string().contains("bobs-secret-server"), "{query}");
    }
    assert_eq!(all_pages(&bob, "server=bobs-secret-server").await.len(), 4);
    assert_eq!(
        all_pages(&admin, "server=bobs-secret-server").await.len(),
        4
    );
}

#[tokio::test]
async fn the_stats_page_counts_what_happened() {
    let (app, admin, client) = ready().await;
    tokens_for_gmail(&app, &admin, &client).await;
    let now = gatehouse::clock::now();
    calls(&app, 1, "gmail", 20, 4, now).await;
    let page = admin.page("/admin/stats").await;
    let count = |label: &str| -> i64 {
        let re = regex_lite::Regex::new(&format!(
            r#"<td[^>]* data-label="{}"[^>]*>(\d+)</td>"#,
            regex_lite::escape(label)
        ))
        .unwrap();
        re.captures(&page)
            .unwrap_or_else(|| panic!("{label}: {page}"))[1]
            .parse()
            .unwrap()
    };
    assert_eq!(count("Users"), 1);
    assert_eq!(count("AI clients registered (DCR)"), 1);
    assert_eq!(count("Active grants"), 1);
    assert_eq!(count("Live access tokens"), 1);
    assert_eq!(count("Live refresh tokens"), 1);
    assert_eq!(count("Active API keys"), 0);
    // The last hour: minutes 0..19, every 4th failed (5 of 20).
    let row = regex_lite::Regex::new(
        r#"(?s)id="last-hour".*?<tr data-server="gmail"><th scope="row">gmail</th><td[^>]*>(\d+)</td><td>(\d+)</td><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td>"#,
    )
    .unwrap();
    let c = row.captures(&page).expect("gmail's traffic");
    assert_eq!((&c[1], &c[2], &c[3]), ("20", "5", "25.0 %"));
    assert_eq!(
        (&c[4], &c[5]),
        ("9 ms", "18 ms"),
        "nearest-rank p50 and p95 of 0..19 ms"
    );
    assert!(page.contains("<svg"), "the hourly chart");

    let user = app.user(&admin, "dave").await;
    assert!(user
        .get("/admin/stats")
        .await
        .text()
        .await
        .unwrap()
        .contains("may not do this"));
}

/// The value of one series in a scrape (0 when absent).
fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

async fn scrape(url: &str) -> prometheus_parse::Scrape {
    let res = browser_client().get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("Prometheus text format")
}

#[tokio::test]
async fn the_metrics_listener_parses_and_its_counters_move() {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let (app, admin, client) = {
        let (app, admin) =
            spawn_app_with_admin_and(&[("GATEHOUSE_METRICS_BIND", bind.as_str())]).await;
        admin
            .add_server("gmail", "https://gmail.example.com/mcp")
            .await;
        let client = public_client(&app).await;
        (app, admin, client)
    };
    let url = format!("http://{bind}/metrics");
    let first = scrape(&url).await;
    let healthz = [("route", "/healthz"), ("method", "GET"), ("status", "2xx")];
    let base = value(&first, "gatehouse_http_requests_total", &healthz);
    for _ in 0..3 {
        browser_client()
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .unwrap();
    }
    tokens_for_gmail(&app, &admin, &client).await;
    let (status, _) = crate::oauth_helpers::token(&app, &[("grant_type", "password")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let second = scrape(&url).await;
    assert_eq!(
        value(&second, "gatehouse_http_requests_total", &healthz) - base,
        3.0
    );
    assert_eq!(
        value(
            &second,
            "gatehouse_tokens_issued_total",
            &[("grant_type", "authorization_code")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &second,
            "gatehouse_http_requests_total",
            &[("route", "/token"), ("status", "4xx")]
        ),
        1.0
    );
    let token_latency = second
        .samples
        .iter()
        .filter(|s| s.metric == "gatehouse_http_request_duration_seconds")
        .filter(|s| s.labels.get("route") == Some("/token"))
        .map(|s| match &s.value {
            prometheus_parse::Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            _ => 0.0,
        })
        .sum::<f64>();
    assert!(
        token_latency >= 2.0,
        "a latency histogram for /token: {token_latency}"
    );
    // Paths never become labels: the consent page was visited, yet its handle is nowhere.
    let routes: std::collections::BTreeSet<&str> = second
        .samples
        .iter()
        .filter_map(|s| s.labels.get("route"))
        .collect();
    let consent: Vec<_> = routes
        .iter()
        .filter(|r| r.starts_with("/consent/"))
        .collect();
    assert_eq!(consent, [&"/consent/:handle"], "{routes:?}");
    let text = browser_client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains(&client.id));
}

#[tokio::test]
async fn metrics_on_the_main_listener_are_for_administrators_only() {
    let (app, admin) = spawn_app_with_admin().await;
    assert_eq!(
        app.browser().get("/metrics").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let user = app.user(&admin, "dave").await;
    assert_eq!(user.get("/metrics").await.status(), StatusCode::FORBIDDEN);
    let res = admin.get("/metrics").await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(text.contains("gatehouse_http_requests_total"), "{text}");
}

#[tokio::test]
async fn request_ids_are_answered_and_kept_only_from_trusted_proxies() {
    let app = spawn_app_with(&[]).await;
    let res = browser_client()
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "chosen-by-client")
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 32, "a fresh id: {id}");
    let trusting = spawn_app_with(&[("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let res = browser_client()
        .get(format!("{}/healthz", trusting.base))
        .header("x-request-id", "from-the-proxy-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "from-the-proxy-42");
}

/// A whole run of the real binary with debug JSON logs: every secret it made — the setup
/// code, the password, the code, the tokens, the API key — is absent from the logs, and the
/// lines written while handling a request carry its id.
#[tokio::test]
async fn logs_hold_request_ids_and_none_of_the_secrets_made() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("serve")
        .env("GATEHOUSE_DATA_DIR", dir.path())
        .envs(crate::helpers::database_env(dir.path()))
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .env("GATEHOUSE_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let logs = tokio::spawn(async move {
        let mut all = String::new();
        let _ = stderr.read_to_string(&mut all).await;
        all
    });
    // The announcement: URL, setup code, then "Ready.".
    let mut announced = String::new();
    let mut buf = [0u8; 1024];
    while !announced.contains("Ready.") {
        let n = stdout.read(&mut buf).await.unwrap();
        assert!(n > 0, "the server announced itself: {announced}");
        announced.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let base = announced
        .split("public URL ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let code = announced
        .split("setup code: ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let browser = Browser {
        client: browser_client(),
        base: base.clone(),
    };
    let password = "a very secret password 4711";
    assert_eq!(
        location(&browser.setup(&code, "admin", password).await),
        "/servers"
    );
    browser
        .add_server("gmail", "https://gmail.example.com/mcp")
        .await;
    // An OAuth client's code and tokens, through the real endpoints.
    let registered: Value = browser_client()
        .post(format!("{base}/register"))
        .json(&serde_json::json!({"redirect_uris": ["http://127.0.0.1:9/cb"], "token_endpoint_auth_method": "none"}))
        .json_value()
        .await;
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let p = pkce();
    let authorize = format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&code_challenge={}&code_challenge_method=S256&state=s&resource={}",
        p.challenge,
        url::form_urlencoded::byte_serialize(format!("{base}/mcp/gmail").as_bytes()).collect::<String>()
    );
    let consent = location(&browser.get(&authorize).await);
    let csrf = browser.csrf(&consent).await;
    let res = browser
        .post(
            &consent,
            &[
                ("_csrf", &csrf),
                ("decision", "approve"),
                ("server", "gmail"),
            ],
        )
        .await;
    let code_param = crate::oauth_helpers::query_of(&location(&res))["code"].clone();
    let tokens: Value = browser_client()
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code_param.as_str()),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("code_verifier", p.verifier.as_str()),
            ("client_id", client_id.as_str()),
        ])
        .json_value()
        .await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let mcp = browser_client()
        .post(format!("{base}/mcp/gmail"))
        .bearer_auth(&access)
        .header(ACCEPT, "application/json, text/event-stream")
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    let request_id = mcp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let csrf = browser.csrf("/keys").await;
    let key: Value = browser
        .client
        .post(format!("{base}/api/create_key"))
        .header(ACCEPT, "application/json")
        .form(&[
            ("_csrf", csrf.as_str()),
            ("name", "ci"),
            ("expires", "never"),
        ])
        .json_value()
        .await;
    let key = key["key"].as_str().unwrap().to_owned();
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let logs = tokio::time::timeout(Duration::from_secs(10), logs)
        .await
        .unwrap()
        .unwrap();
    assert!(logs.lines().count() > 20, "debug logs were written");
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    for (what, secret) in [
        ("setup code", code.as_str()),
        ("password", password),
        ("authorization code", code_param.as_str()),
        ("access token", access.as_str()),
        ("refresh token", refresh_token.as_str()),
        ("API key", key.as_str()),
        ("PKCE verifier", p.verifier.as_str()),
    ] {
        assert!(!logs.contains(secret), "the {what} is in the logs");
    }
    assert!(
        logs.lines()
            .any(|l| l.contains(&request_id) && l.contains("\"route\":\"/mcp/:slug\"")),
        "the MCP call's lines carry its request id"
    );
}

#[tokio::test]
async fn the_sweep_keeps_activity_within_its_retention_and_row_limit() {
    let (app, _admin) = spawn_app_with_admin_and(&[
        ("GATEHOUSE_ACTIVITY_RETENTION", "1d"),
        ("GATEHOUSE_ACTIVITY_MAX_ROWS", "50"),
    ])
    .await;
    let now = gatehouse::clock::now();
    // The old ones last, so their ids are the highest: only their age can remove them.
    calls(&app, 1, "new", 80, 0, now).await;
    calls(&app, 1, "old", 30, 0, now - 2 * 86400).await;
    let newest: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM audit_events WHERE server IS DISTINCT FROM 'old' ORDER BY id DESC LIMIT 50",
    )
    .fetch_all(&app.core.pool)
    .await
    .unwrap();
    let (_, cleaned) = gatehouse::service::token_admin::cleanup(&app.core)
        .await
        .unwrap();
    let left: Vec<i64> = sqlx::query_scalar("SELECT id FROM audit_events ORDER BY id DESC")
        .fetch_all(&app.core.pool)
        .await
        .unwrap();
    assert_eq!(left, newest, "the 50 newest stay");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE server = 'old'")
            .await,
        0
    );
    assert!(cleaned.events >= 60, "{}", cleaned.events);
}
