//! API keys (issue 12): created on the page or the CLI, shown once, stored hashed, accepted at
//! `/mcp/{slug}` for their owner's servers only, never passed upstream, stopped at once.

use std::time::{Duration, Instant};

use reqwest::header::ACCEPT;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::cli::gatehouse_async;
use crate::helpers::*;
use crate::upstream::Upstream;

struct Keys {
    app: TestApp,
    admin: Browser,
    upstream: Upstream,
}

/// The admin with servers `mail` and `notes` (static credentials) on an rmcp upstream.
async fn setup() -> Keys {
    let upstream = Upstream::start(false).await;
    let (app, admin) =
        spawn_app_with_admin_and(&[("GATEHOUSE_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8")]).await;
    for (slug, credential) in [("mail", "mail-upstream-secret"), ("notes", "notes-secret")] {
        let res = admin
            .submit(
                "/servers",
                "/api/add_server",
                &[
                    ("slug", slug),
                    ("url", &upstream.url),
                    ("credential", credential),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    }
    Keys {
        app,
        admin,
        upstream,
    }
}

/// Creates a key as the page does with JavaScript: the answer carries it (once).
pub(crate) async fn create_key(b: &Browser, name: &str, expires: &str, servers: &[&str]) -> String {
    let csrf = b.csrf("/keys").await;
    let mut form = vec![
        ("_csrf".to_owned(), csrf),
        ("name".to_owned(), name.to_owned()),
        ("expires".to_owned(), expires.to_owned()),
    ];
    for (i, slug) in servers.iter().enumerate() {
        form.push((format!("servers[{i}]"), (*slug).to_owned()));
    }
    let res = b
        .client
        .post(format!("{}/api/create_key", b.base))
        .header(ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    body["key"].as_str().expect("the new key").to_owned()
}

async fn call(app: &TestApp, slug: &str, key: &str) -> reqwest::Response {
    browser_client()
        .post(format!("{}/mcp/{slug}", app.base))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "echo", "arguments": {"text": "hi"}}}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_key_works_on_each_of_its_owners_servers_and_never_reaches_the_upstream() {
    let k = setup().await;
    let key = create_key(&k.admin, "laptop", "30d", &[]).await;
    assert!(key.starts_with("gh_sk_") && key.len() == 49, "{key}");
    for (slug, credential) in [("mail", "mail-upstream-secret"), ("notes", "notes-secret")] {
        let res = call(&k.app, slug, &key).await;
        assert_eq!(res.status(), StatusCode::OK, "{slug}");
        let seen = k.upstream.headers_seen().pop().unwrap();
        assert_eq!(seen["authorization"], format!("Bearer {credential}"));
    }
    for headers in k.upstream.headers_seen() {
        for (_, value) in &headers {
            assert!(
                !value.to_str().unwrap_or("").contains("gh_sk_"),
                "the key stays here"
            );
        }
    }
    // The activity log: created, first used (once), and each call under the key's name.
    k.app.gateway.flush_activity().await;
    let kinds: Vec<(String, String)> =
        sqlx::query_as("SELECT kind, actor FROM audit_events WHERE kind LIKE 'key.%' OR kind = 'mcp.call' ORDER BY id")
            .fetch_all(&k.app.core.pool)
            .await
            .unwrap();
    assert!(kinds.contains(&("key.created".into(), ADMIN.into())));
    assert!(kinds
        .iter()
        .any(|(kind, actor)| kind == "mcp.call" && actor == "API key 'laptop'"));
    let first_uses = wait_for_count(
        &k.app,
        "SELECT COUNT(*) FROM audit_events WHERE kind = 'key.first_used'",
        1,
    )
    .await;
    assert_eq!(first_uses, 1);
}

/// The count of `sql`, once it reaches `want` (a key's use is recorded in the background),
/// or after 2 s.
async fn wait_for_count(app: &TestApp, sql: &str, want: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let n = app.count(sql).await;
        if n >= want || Instant::now() > deadline {
            return n;
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_server_limited_key_is_refused_on_the_others() {
    let k = setup().await;
    let key = create_key(&k.admin, "mail only", "never", &["mail"]).await;
    assert_eq!(call(&k.app, "mail", &key).await.status(), StatusCode::OK);
    let res = call(&k.app, "notes", &key).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"invalid_token\""));
}

#[tokio::test]
async fn user_b_key_cannot_reach_user_a_server() {
    let k = setup().await;
    let bob = k.app.user(&k.admin, "bob").await;
    let key = create_key(&bob, "bobs", "never", &[]).await;
    // Bob has no server `mail`; the admin's is not his to reach.
    assert_eq!(
        call(&k.app, "mail", &key).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Nor can he limit a key to the admin's server.
    let csrf = bob.csrf("/keys").await;
    let res = bob
        .client
        .post(format!("{}/api/create_key", bob.base))
        .header(ACCEPT, "application/json")
        .form(&[
            ("_csrf", csrf.as_str()),
            ("name", "sneaky"),
            ("servers[0]", "mail"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn expired_malformed_and_disabled_users_keys_get_the_challenge() {
    let k = setup().await;
    let key = create_key(&k.admin, "short", "1d", &[]).await;
    assert_eq!(call(&k.app, "mail", &key).await.status(), StatusCode::OK);
    // Wrong, truncated, wrong prefix, random: the same challenge as a bad token.
    for bad in [
        format!("{}x", &key[..48]),
        key[..40].to_owned(),
        key.replacen("gh_sk_", "gh_sx_", 1),
        "gh_sk_nonsense".to_owned(),
    ] {
        let res = call(&k.app, "mail", &bad).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{bad}");
        assert!(res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer resource_metadata="));
    }
    sqlx::query("UPDATE api_keys SET expires_at = $1")
        .bind(gatehouse::clock::now() - 1)
        .execute(&k.app.core.pool)
        .await
        .unwrap();
    k.app.core.forget_cached();
    assert_eq!(
        call(&k.app, "mail", &key).await.status(),
        StatusCode::UNAUTHORIZED,
        "expired"
    );

    // A disabled account's keys stop at once.
    let bob = k.app.user(&k.admin, "bob").await;
    bob.add_server("mine", &k.upstream.url).await;
    let bobs = create_key(&bob, "bobs", "never", &[]).await;
    assert_eq!(call(&k.app, "mine", &bobs).await.status(), StatusCode::OK);
    let out = gatehouse_async(&k.app.data_dir, &[], &["user", "disable", "bob"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    k.app.core.forget_cached(); // the CLI is another process: this one's cache lives ≤ 2 s
    assert_eq!(
        call(&k.app, "mine", &bobs).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        bob.get("/servers").await.status(),
        StatusCode::FOUND,
        "signed out"
    );
}

#[tokio::test]
async fn a_key_revoked_by_the_cli_is_refused_within_two_seconds() {
    let k = setup().await;
    let key = create_key(&k.admin, "ci", "never", &[]).await;
    assert_eq!(call(&k.app, "mail", &key).await.status(), StatusCode::OK);
    // Off the runtime's thread: the server in this process must go on (its background
    // write of the key's first use holds the database briefly), or the CLI waits on it.
    let out =
        crate::cli::gatehouse_async(&k.app.data_dir, &[], &["key", "revoke", ADMIN, "ci"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let revoked = Instant::now();
    // Another process revoked it: this one's cache may answer for ≤ 2 s, never longer.
    let refused = loop {
        let status = call(&k.app, "mail", &key).await.status();
        if status == StatusCode::UNAUTHORIZED {
            break revoked.elapsed();
        }
        assert!(
            revoked.elapsed() < Duration::from_millis(2500),
            "still accepted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(refused <= Duration::from_millis(2100), "{refused:?}");
    let list = gatehouse_async(&k.app.data_dir, &[], &["key", "list", ADMIN]).await;
    assert!(!String::from_utf8_lossy(&list.stdout).contains("ci "));
}

#[tokio::test]
async fn the_cli_creates_lists_and_prints_a_key_once() {
    let k = setup().await;
    let out = gatehouse_async(
        &k.app.data_dir,
        &[],
        &[
            "key",
            "create",
            ADMIN,
            "desktop",
            "--expires",
            "30d",
            "--server",
            "notes",
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(key.starts_with("gh_sk_"));
    assert_eq!(call(&k.app, "notes", &key).await.status(), StatusCode::OK);
    assert_eq!(
        call(&k.app, "mail", &key).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let list = gatehouse_async(&k.app.data_dir, &[], &["key", "list"]).await;
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(
        list.contains("desktop") && list.contains(&key[..10]) && list.contains("notes"),
        "{list}"
    );
    assert!(!list.contains(&key), "never printed again");
}

#[tokio::test]
async fn without_javascript_the_key_is_shown_once_and_the_database_holds_no_plaintext() {
    let k = setup().await;
    let res = k
        .admin
        .submit(
            "/keys",
            "/api/create_key",
            &[("name", "no-js"), ("expires", "never")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/keys");
    let page = k.admin.page("/keys").await;
    let re = regex_lite::Regex::new(r#"id="new-key"[^>]*>(gh_sk_[A-Za-z0-9_-]{43})<"#).unwrap();
    let key = re.captures(&page).expect("the key on the page")[1].to_owned();
    assert!(page.contains("mcp-remote"), "with client configuration");
    assert!(
        !k.admin.page("/keys").await.contains(&key),
        "gone after a reload"
    );
    assert_eq!(call(&k.app, "mail", &key).await.status(), StatusCode::OK);
    // Nothing in the database files holds the key in clear (the WAL included).
    for file in ["gatehouse.db", "gatehouse.db-wal"] {
        let bytes = std::fs::read(k.app.data_dir.join(file)).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&key), "{file} holds the key");
        assert!(
            !text.contains(&key[6..]),
            "{file} holds the key's secret part"
        );
    }
}
