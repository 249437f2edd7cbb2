//! Upstreams with their own OAuth (DESIGN.md §2 journey 3, §4): probe and discovery through
//! each path, refusals of hostile documents, DCR and CIMD registration, Authenticate with
//! PKCE and `resource`, refresh with rotation, re-registration on `invalid_client`, step-up
//! on `insufficient_scope`, revocation, per-user isolation and the CLI commands.

use std::time::Duration;

use gatehouse::domain::UserId;
use gatehouse::service::upstream::{connect, refresh};
use gatehouse::service::{api_keys, Actor};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    browser_client, flash_in, location, spawn_app_with_admin_and, Browser, TestApp,
};
use crate::native_peer::{MetadataAt, Options, Peer, PrmAt, Serve};
use crate::vault::server_id;

const ALLOW_LOOPBACK: (&str, &str) = ("GATEHOUSE_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8");

struct Setup {
    app: TestApp,
    admin: Browser,
    peer: Peer,
}

async fn setup(options: Options) -> Setup {
    let peer = Peer::start(options).await;
    let (app, admin) = spawn_app_with_admin_and(&[ALLOW_LOOPBACK]).await;
    Setup { app, admin, peer }
}

/// Adds the peer as `slug`; returns the flash message (the probe's outcome).
async fn add(s: &Setup, browser: &Browser, slug: &str) -> String {
    let res = browser.add_server(slug, &s.peer.mcp_url()).await;
    browser.flash_after(res).await.unwrap_or_default()
}

/// Clicks Authenticate, lets the peer approve, follows the callback; returns the flash and
/// the authorization request the peer received.
async fn authenticate(s: &Setup, browser: &Browser, slug: &str) -> String {
    let res = browser
        .submit("/servers", "/api/authenticate", &[("slug", slug)])
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "Authenticate redirects"
    );
    let at_peer = location(&res);
    assert!(at_peer.starts_with(&s.peer.base), "{at_peer}");
    let res = browser_client().get(&at_peer).send().await.unwrap();
    assert!(
        res.status().is_redirection(),
        "the peer approves: {}",
        res.status()
    );
    let back = location(&res);
    let res = browser.client.get(&back).send().await.unwrap();
    assert_eq!(location(&res), "/servers");
    flash_in(&browser.page("/servers").await).unwrap_or_default()
}

async fn key_for(app: &TestApp, user: UserId) -> String {
    api_keys::create(&app.core, &Actor::cli(), user, "test", None, &[])
        .await
        .unwrap()
        .key
        .expose()
        .to_owned()
}

async fn call(app: &TestApp, key: &str, slug: &str) -> (StatusCode, Value) {
    let res = browser_client()
        .post(format!("{}/mcp/{slug}", app.base))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn connection_status(app: &TestApp, id: i64) -> Option<String> {
    sqlx::query_scalar("SELECT status FROM connections WHERE id = $1")
        .bind(id)
        .fetch_optional(&app.core.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn discovery_works_through_each_path_and_registers_by_dcr() {
    let cases = [
        (PrmAt::Header, MetadataAt::OAuth),
        (PrmAt::PathInserted, MetadataAt::OAuth),
        (PrmAt::Root, MetadataAt::OAuth),
        (PrmAt::Header, MetadataAt::OpenIdAppended),
    ];
    for (prm_at, metadata_at) in cases {
        let s = setup(Options {
            prm_at,
            metadata_at,
            ..Options::default()
        })
        .await;
        let flash = add(&s, &s.admin, "notes").await;
        let issuer = s.peer.issuer();
        assert_eq!(
            flash,
            format!("Added server 'notes'. Found its sign-in at {issuer}: click Authenticate to connect."),
            "{prm_at:?} {metadata_at:?}"
        );
        let page = s.admin.page("/servers").await;
        assert!(
            page.contains(&format!(r#"<code class="issuer">{issuer}</code>"#)),
            "{prm_at:?}"
        );
        assert!(page.contains("dynamic client registration"));
        assert!(page.contains(r#"<dd class="offered">notes:read</dd>"#));
        assert!(
            page.contains("Authenticate notes"),
            "Authenticate is offered"
        );
        // DCR asked for the callback and a confidential client the server takes.
        let registered = s.peer.state.registrations.lock().unwrap().clone();
        assert_eq!(registered.len(), 1);
        assert_eq!(
            registered[0]["redirect_uris"],
            json!([format!("{}/vault/callback", s.app.base)])
        );
        assert_eq!(
            registered[0]["token_endpoint_auth_method"],
            "client_secret_post"
        );
        // The secret is stored encrypted.
        let stored: Option<String> =
            sqlx::query_scalar("SELECT client_secret FROM upstream_registrations")
                .fetch_one(&s.app.core.pool)
                .await
                .unwrap();
        assert!(stored.unwrap().starts_with("gh1."));
    }
}

#[tokio::test]
async fn hostile_documents_are_refused_with_one_clear_line_and_nothing_registered() {
    let cases: [(Options, &str); 7] = [
        (
            Options {
                prm_serve: Serve::Huge,
                ..Options::default()
            },
            "the document is larger than 64 KB",
        ),
        (
            Options {
                prm_serve: Serve::Redirect,
                ..Options::default()
            },
            "redirected (HTTP 307); discovery documents must be served in place",
        ),
        (
            Options {
                prm_serve: Serve::Stalled,
                ..Options::default()
            },
            "no complete answer within 5 s",
        ),
        (
            Options {
                issuer_in_metadata: Some("https://evil.example".into()),
                ..Options::default()
            },
            "names the issuer 'https://evil.example'",
        ),
        (
            Options {
                resource: Some("http://127.0.0.1:1/other".into()),
                ..Options::default()
            },
            "is for 'http://127.0.0.1:1/other', not this server",
        ),
        (
            Options {
                prm_at: PrmAt::Header,
                prm_url: Some("https://169.254.169.254/latest/meta-data".into()),
                ..Options::default()
            },
            "169.254.169.254 resolves to a private or reserved address",
        ),
        (
            Options {
                dcr: false,
                ..Options::default()
            },
            "offers no dynamic client registration",
        ),
    ];
    for (options, expected) in cases {
        let s = setup(options).await;
        let flash = add(&s, &s.admin, "notes").await;
        assert!(
            flash.starts_with("Added server 'notes'. Its sign-in could not be used: ")
                && flash.contains(expected),
            "{flash}"
        );
        assert_eq!(s.peer.registrations(), 0);
        assert_eq!(
            s.app
                .count("SELECT COUNT(*) FROM upstream_registrations")
                .await,
            0
        );
        let page = s.admin.page("/servers").await;
        assert!(
            !page.contains("Authenticate notes"),
            "no Authenticate for a refused server"
        );
        assert!(page.contains(r#"<dd class="outcome">Not usable</dd>"#));
    }
}

#[tokio::test]
async fn authenticate_refresh_and_revoke_with_the_upstreams_own_server() {
    let s = setup(Options {
        challenge_scope: Some("notes:read notes:list".into()),
        ..Options::default()
    })
    .await;
    add(&s, &s.admin, "notes").await;
    assert_eq!(
        authenticate(&s, &s.admin, "notes").await,
        "Connected 'notes'."
    );
    let asked = s.peer.state.authorize_requests.lock().unwrap()[0].clone();
    let resource = s.peer.mcp_url();
    assert_eq!(asked.get("resource"), Some(&resource));
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(
        asked["scope"], "notes:read notes:list",
        "the challenge's scope wins"
    );
    let exchange = s.peer.state.token_requests.lock().unwrap()[0].clone();
    assert_eq!(exchange["grant_type"], "authorization_code");
    assert_eq!(exchange.get("resource"), Some(&resource));
    assert!(exchange.contains_key("code_verifier"));
    assert!(
        exchange["client_secret"].starts_with("secret-"),
        "client_secret_post"
    );

    // The gateway injects the upstream's own token, never Gatehouse's credential.
    let (user, id) = server_id(&s.app, "notes").await;
    let key = key_for(&s.app, user).await;
    let (status, body) = call(&s.app, &key, "notes").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["result"]["content"][0]["text"],
        "authorized by notes-peer"
    );
    let seen = s.peer.state.mcp_authorizations.lock().unwrap().clone();
    let first_token = format!("Bearer {}", s.peer.issued_access_tokens()[0]);
    assert_eq!(seen.last(), Some(&first_token));
    assert!(seen.iter().all(|h| !h.contains(&key)));

    // Refresh rotates; the old refresh token is gone at the peer.
    refresh::refresh_now(&s.app.core, user, id).await.unwrap();
    let refreshed = s.peer.state.token_requests.lock().unwrap()[1].clone();
    assert_eq!(refreshed["grant_type"], "refresh_token");
    assert_eq!(refreshed.get("resource"), Some(&resource));
    let (status, _) = call(&s.app, &key, "notes").await;
    assert_eq!(status, StatusCode::OK);
    let last = s
        .peer
        .state
        .mcp_authorizations
        .lock()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_ne!(last, first_token, "the refreshed token is injected");

    // Revoke: the peer's revocation endpoint, then the tokens are gone.
    let res = s
        .admin
        .submit("/servers", "/api/disconnect", &[("slug", "notes")])
        .await;
    let flash = s.admin.flash_after(res).await.unwrap();
    assert!(
        flash.starts_with("Disconnected 'notes': the provider revoked"),
        "{flash}"
    );
    assert_eq!(s.peer.state.revoked.lock().unwrap().len(), 1);
    assert_eq!(connection_status(&s.app, id).await, None);
}

#[tokio::test]
async fn invalid_client_leads_to_one_re_registration_then_success() {
    let s = setup(Options::default()).await;
    add(&s, &s.admin, "notes").await;
    authenticate(&s, &s.admin, "notes").await;
    let (user, id) = server_id(&s.app, "notes").await;
    s.peer.forget_clients();

    refresh::refresh_now(&s.app.core, user, id).await.unwrap();
    assert_eq!(s.peer.registrations(), 2, "registered again, once");
    let requests = s.peer.state.token_requests.lock().unwrap().clone();
    let refreshes: Vec<_> = requests
        .iter()
        .filter(|r| r["grant_type"] == "refresh_token")
        .collect();
    assert_eq!(refreshes.len(), 2, "the refused refresh and its retry");
    assert_ne!(refreshes[0]["client_id"], refreshes[1]["client_id"]);
    assert_eq!(
        connection_status(&s.app, id).await.as_deref(),
        Some("connected")
    );
    assert_eq!(
        s.app
            .count("SELECT COUNT(*) FROM audit_events WHERE kind = 'upstream.reregistering'")
            .await,
        1
    );
    // The new registration is the one kept for the issuer.
    let client: String = sqlx::query_scalar("SELECT client_id FROM upstream_registrations")
        .fetch_one(&s.app.core.pool)
        .await
        .unwrap();
    assert_eq!(client, refreshes[1]["client_id"]);
}

#[tokio::test]
async fn insufficient_scope_asks_for_re_authentication_with_the_wider_scope() {
    let s = setup(Options::default()).await;
    add(&s, &s.admin, "notes").await;
    authenticate(&s, &s.admin, "notes").await;
    let (user, id) = server_id(&s.app, "notes").await;
    let key = key_for(&s.app, user).await;
    *s.peer.state.required_scope.lock().unwrap() = Some("notes:write".into());

    let (status, body) = call(&s.app, &key, "notes").await;
    assert_eq!(status, StatusCode::OK, "a JSON-RPC error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("'notes' needs more access (notes:read notes:write)")
            && message.contains("/servers"),
        "{message}"
    );
    assert_eq!(
        connection_status(&s.app, id).await.as_deref(),
        Some("needs_reauth")
    );
    let page = s.admin.page("/servers").await;
    assert!(page.contains(r#"data-state="Needs re-authentication""#));

    // The next Authenticate asks for both scopes, and the call then succeeds.
    authenticate(&s, &s.admin, "notes").await;
    let asked = s
        .peer
        .state
        .authorize_requests
        .lock()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(asked["scope"], "notes:read notes:write");
    let (status, body) = call(&s.app, &key, "notes").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("result").is_some(), "{body}");
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let peer = Peer::start(Options::default()).await;
    let (app, admin) = spawn_app_with_admin_and(&[]).await;
    let res = admin.add_server("notes", &peer.mcp_url()).await;
    let flash = admin.flash_after(res).await.unwrap();
    assert!(
        flash.starts_with("Added server 'notes'. Its sign-in could not be used: the server could not be reached: only https"),
        "{flash}"
    );
    assert!(
        peer.state.mcp_authorizations.lock().unwrap().is_empty(),
        "never contacted"
    );
    drop(app);

    let (_app, admin) = spawn_app_with_admin_and(&[ALLOW_LOOPBACK]).await;
    let res = admin.add_server("notes", &peer.mcp_url()).await;
    let flash = admin.flash_after(res).await.unwrap();
    assert!(flash.contains("Found its sign-in"), "{flash}");
}

#[tokio::test]
async fn another_user_never_sees_or_uses_the_connection_and_shares_the_registration() {
    let s = setup(Options::default()).await;
    add(&s, &s.admin, "notes").await;
    authenticate(&s, &s.admin, "notes").await;
    let bob = s.app.user(&s.admin, "bob").await;
    let flash = add(&s, &bob, "notes").await;
    assert!(flash.contains("Found its sign-in"), "{flash}");
    assert_eq!(
        s.peer.registrations(),
        1,
        "one registration per issuer, shared"
    );
    let page = bob.page("/servers").await;
    assert!(
        page.contains(r#"data-state="Not connected""#),
        "bob is not connected"
    );

    let bob_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'bob'")
        .fetch_one(&s.app.core.pool)
        .await
        .unwrap();
    let key = key_for(&s.app, UserId::new(bob_id)).await;
    let before = s.peer.state.mcp_authorizations.lock().unwrap().len();
    let (status, body) = call(&s.app, &key, "notes").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("needs you to sign in"),
        "{body}"
    );
    assert_eq!(
        s.peer.state.mcp_authorizations.lock().unwrap().len(),
        before,
        "nothing was sent upstream with another user's token"
    );
}

#[tokio::test]
async fn cimd_registration_over_https_is_fetched_and_checked_by_the_upstream() {
    use std::sync::{Arc, OnceLock};
    // Gatehouse's public URL is https (a TLS front made with the test CA), so it may use its
    // own Client ID Metadata Document where the upstream supports it.
    let inner: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
    let target = inner.clone();
    let front = axum::Router::new().route(
        "/oauth/client-metadata.json",
        axum::routing::get(move || {
            let target = target.clone();
            async move {
                let url = format!("{}/oauth/client-metadata.json", target.get().unwrap());
                reqwest::get(url).await.unwrap().text().await.unwrap()
            }
        }),
    );
    let https = crate::tls::serve_https(front).await;
    let peer = Peer::start(Options {
        cimd: true,
        ..Options::default()
    })
    .await;
    *peer.state.ca_file.lock().unwrap() = Some(https.ca_file.clone());
    let public = https.base.clone();
    let (app, _admin) =
        spawn_app_with_admin_and(&[ALLOW_LOOPBACK, ("GATEHOUSE_PUBLIC_URL", public.as_str())])
            .await;
    inner.set(app.base.clone()).unwrap();
    let user = UserId::new(1);
    let new = gatehouse::service::servers::NewServer::parse("notes", "", &peer.mcp_url()).unwrap();
    let server = gatehouse::service::servers::add(&app.core, &Actor::cli(), user, new, None)
        .await
        .unwrap();
    let found =
        gatehouse::service::upstream::native::probe_server(&app.core, &Actor::cli(), &server)
            .await
            .unwrap();
    assert_eq!(
        found.registration,
        Some("Client ID Metadata Document"),
        "{found:?}"
    );
    assert_eq!(peer.registrations(), 0, "no DCR");

    // Authenticate: the peer fetches the document over https and checks it.
    let actor = Actor {
        user: Some(user),
        name: "admin".into(),
        is_admin: true,
        ip: None,
    };
    let at_peer = connect::start(&app.core, &actor, "binding", "notes")
        .await
        .unwrap();
    let client_id = format!("{public}/oauth/client-metadata.json");
    assert!(at_peer
        .as_str()
        .contains(&url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect::<String>()));
    let res = browser_client().get(at_peer.as_str()).send().await.unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(
        peer.state.cimd_fetches.lock().unwrap().clone(),
        [(client_id.clone(), true)]
    );
    let back = url::Url::parse(&location(&res)).unwrap();
    assert!(back
        .as_str()
        .starts_with(&format!("{public}/vault/callback?")));
    let q: std::collections::HashMap<String, String> = back.query_pairs().into_owned().collect();
    let params = connect::CallbackParams {
        state: q.get("state").cloned(),
        code: q.get("code").cloned(),
        iss: q.get("iss").cloned(),
        ..Default::default()
    };
    let done = connect::finish(&app.core, &actor, Some("binding"), params)
        .await
        .unwrap();
    assert_eq!(done.message(), "Connected 'notes'.");
    let exchange = peer.state.token_requests.lock().unwrap()[0].clone();
    assert_eq!(exchange["client_id"], client_id);
    assert!(!exchange.contains_key("client_secret"));
}

#[tokio::test]
async fn cli_probe_connect_disconnect_and_delete() {
    use crate::cli::gatehouse_async;
    let s = setup(Options::default()).await;
    // Added without a probe (as before this version), so `server probe` is what finds it.
    let new =
        gatehouse::service::servers::NewServer::parse("notes", "", &s.peer.mcp_url()).unwrap();
    gatehouse::service::servers::add(&s.app.core, &Actor::cli(), UserId::new(1), new, None)
        .await
        .unwrap();
    let data = s.app.data_dir.clone();
    let env = [
        ALLOW_LOOPBACK,
        ("GATEHOUSE_PUBLIC_URL", s.app.base.as_str()),
    ];

    let out = gatehouse_async(&data, &env, &["server", "probe", "admin", "notes"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "notes: own sign-in: authorization server {}",
            s.peer.issuer()
        )),
        "{stdout}"
    );

    // `connect` prints a link, waits; the signed-in admin opens it and consents.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["connect", "admin", "notes"])
        .envs(env.iter().copied())
        .env("GATEHOUSE_DATA_DIR", &data)
        .envs(crate::helpers::database_env(&data))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let link = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the link is printed");
        if line.starts_with("http") {
            break line;
        }
    };
    assert!(
        link.starts_with(&format!("{}/vault/connect/", s.app.base)),
        "{link}"
    );
    // Signed out, the link goes on to sign-in and comes back to itself after it.
    let path = &link[s.app.base.len()..];
    let browser = s.app.browser();
    let res = browser.get(path).await;
    assert_eq!(location(&res), "/login");
    let res = browser
        .sign_in(crate::helpers::ADMIN, crate::helpers::ADMIN_PASSWORD)
        .await;
    assert_eq!(location(&res), path);
    let res = browser.get(path).await;
    let at_peer = location(&res);
    assert!(at_peer.starts_with(&s.peer.base), "{at_peer}");
    let res = browser_client().get(&at_peer).send().await.unwrap();
    let back = location(&res);
    browser.client.get(&back).send().await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("connect returns")
        .unwrap();
    let mut rest = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push_str(&line);
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(rest.contains("Connected 'notes'."), "{rest}");
    // The link was single use.
    let res = s.admin.get(&link[s.app.base.len()..]).await;
    assert_eq!(location(&res), "/servers");

    let out = gatehouse_async(&data, &env, &["disconnect", "admin", "notes"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout.starts_with("Disconnected 'notes': the provider revoked"),
        "{stdout}"
    );
    assert_eq!(s.peer.state.revoked.lock().unwrap().len(), 1);
    let out = gatehouse_async(&data, &env, &["server", "delete", "admin", "notes"]).await;
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Deleted server 'notes'."));
    assert_eq!(s.app.count("SELECT COUNT(*) FROM mcp_servers").await, 0);
}

#[tokio::test]
async fn rotate_key_re_encrypts_the_registrations_client_secret() {
    let s = setup(Options::default()).await;
    add(&s, &s.admin, "notes").await;
    authenticate(&s, &s.admin, "notes").await;
    let (user, id) = server_id(&s.app, "notes").await;
    let k2_only = crate::vault::rotate_to_a_new_key(&s.app.data_dir).await;
    let secret: String = sqlx::query_scalar("SELECT client_secret FROM upstream_registrations")
        .fetch_one(&s.app.core.pool)
        .await
        .unwrap();
    assert!(secret.starts_with("gh1.k2."), "{secret}");
    // A process with only the new key still authenticates as the registered client.
    let second = crate::helpers::spawn_app_in(
        &s.app.data_dir,
        &[ALLOW_LOOPBACK, ("GATEHOUSE_ENCRYPTION_KEYS", &k2_only)],
    )
    .await;
    refresh::refresh_now(&second.core, user, id).await.unwrap();
    let last = s
        .peer
        .state
        .token_requests
        .lock()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(last["grant_type"], "refresh_token");
    assert!(last["client_secret"].starts_with("secret-"));
}

#[tokio::test]
async fn a_connect_link_works_only_for_its_own_user() {
    let s = setup(Options::default()).await;
    add(&s, &s.admin, "notes").await;
    let made = gatehouse::service::upstream::link::create(
        &s.app.core,
        &Actor::cli(),
        UserId::new(1),
        "notes",
    )
    .await
    .unwrap();
    let path = &made.url[made.url.find("/vault/connect/").unwrap()..];
    let bob = s.app.user(&s.admin, "bob").await;
    let res = bob.get(path).await;
    assert_eq!(
        location(&res),
        "/servers",
        "refused, not sent to the provider"
    );
    let flash = flash_in(&bob.page("/servers").await).unwrap_or_default();
    assert!(flash.contains("link is not for your account"), "{flash}");
    assert!(s.peer.state.authorize_requests.lock().unwrap().is_empty());
    // Still unused: its own user can open it.
    let res = s.admin.get(path).await;
    assert!(
        location(&res).starts_with(&s.peer.base),
        "{}",
        location(&res)
    );
}
