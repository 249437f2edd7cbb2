//! The token vault end to end over HTTP: Authenticate against a provider stub, refresh
//! single-flight (in one process and across two), invalid_grant, disconnect, isolation.

use std::sync::atomic::Ordering;
use std::time::Duration;

use gatehouse::domain::UserId;
use gatehouse::service::upstream::refresh::{self, CredentialError};
use reqwest::StatusCode;
use secrecy::ExposeSecret;

use crate::helpers::*;
use crate::provider_stub::{RefreshMode, Stub};

pub(crate) struct Setup {
    pub app: TestApp,
    pub admin: Browser,
    pub stub: Stub,
}

pub(crate) async fn setup() -> Setup {
    let stub = Stub::start().await;
    let settings = stub.google_settings();
    let extra: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (app, admin) = spawn_app_with_admin_and(&extra).await;
    Setup { app, admin, stub }
}

/// Adds `slug` (a Gmail server, so Google is detected) and completes Authenticate; returns
/// the flash message shown after the callback.
async fn connect(s: &Setup, browser: &Browser, slug: &str) -> String {
    let res = browser
        .add_server(slug, &format!("https://{slug}-gmail.example.com/mcp"))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    authenticate(s, browser, slug).await
}

/// A set-up app whose admin has connected server `mail`: (setup, admin's id, server id).
async fn connected_mail() -> (Setup, UserId, i64) {
    let s = setup().await;
    connect(&s, &s.admin, "mail").await;
    let (user, id) = server_id(&s.app, "mail").await;
    (s, user, id)
}

/// Clicks Authenticate, lets the provider approve, and follows the callback.
pub(crate) async fn authenticate(_s: &Setup, browser: &Browser, slug: &str) -> String {
    let provider_url = start(browser, slug).await;
    let callback = provider_redirect(&provider_url).await;
    let res = browser.client.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/servers");
    flash_in(&browser.page("/servers").await).unwrap_or_default()
}

/// Posts Authenticate; returns the provider URL Gatehouse redirected to.
pub(crate) async fn start(browser: &Browser, slug: &str) -> String {
    let res = browser
        .submit("/servers", "/api/authenticate", &[("slug", slug)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    location(&res)
}

/// The provider's answer: where it sends the browser back to.
pub(crate) async fn provider_redirect(provider_url: &str) -> String {
    let res = browser_client().get(provider_url).send().await.unwrap();
    assert!(res.status().is_redirection(), "provider redirects back");
    location(&res)
}

/// Puts a new key `k2` before the data directory's key and runs `gatehouse rotate-key`;
/// returns the `GATEHOUSE_ENCRYPTION_KEYS` value with `k2` alone.
pub(crate) async fn rotate_to_a_new_key(data_dir: &std::path::Path) -> String {
    use base64::{engine::general_purpose::STANDARD, Engine};
    let k1 = std::fs::read_to_string(data_dir.join("encryption.key")).unwrap();
    let k2 = format!("k2:{}", STANDARD.encode([5u8; 32]));
    let both = format!("{k2},{}", k1.trim());
    let out = crate::cli::gatehouse_async(
        data_dir,
        &[("GATEHOUSE_ENCRYPTION_KEYS", &both)],
        &["rotate-key"],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    k2
}

pub(crate) async fn server_id(app: &TestApp, slug: &str) -> (UserId, i64) {
    let (user, id): (i64, i64) =
        sqlx::query_as("SELECT user_id, id FROM mcp_servers WHERE slug = $1")
            .bind(slug)
            .fetch_one(&app.core.pool)
            .await
            .unwrap();
    (UserId::new(user), id)
}

/// Makes the stored access token expired (as if an hour had passed: the in-process
/// credential cache, whose entries live 2 s, is emptied too).
pub(crate) async fn expire(app: &TestApp, id: i64) {
    sqlx::query("UPDATE connections SET expires_at = $1 WHERE id = $2")
        .bind(gatehouse::clock::now() - 1)
        .bind(id)
        .execute(&app.core.pool)
        .await
        .unwrap();
    app.core.forget_cached();
}

#[tokio::test]
async fn authenticate_connects_with_pkce_offline_access_and_the_account_name() {
    let s = setup().await;
    let flash = connect(&s, &s.admin, "mail").await;
    assert_eq!(flash, "Connected 'mail' as user@example.com.");

    let auth = s.stub.state.authorize_requests.lock().unwrap()[0].clone();
    assert_eq!(auth["client_id"], "gatehouse-test");
    assert_eq!(
        auth["redirect_uri"],
        format!("{}/vault/callback", s.app.base)
    );
    assert_eq!(auth["code_challenge_method"], "S256");
    assert_eq!(auth["access_type"], "offline");
    assert_eq!(auth["prompt"], "consent");
    assert!(auth["scope"].contains("https://www.googleapis.com/auth/gmail.modify"));
    assert_eq!(s.stub.state.code_exchanges.load(Ordering::SeqCst), 1);

    // Tokens are stored only as ciphertexts.
    let (access, refresh): (String, String) =
        sqlx::query_as("SELECT access_token, refresh_token FROM connections")
            .fetch_one(&s.app.core.pool)
            .await
            .unwrap();
    assert!(access.starts_with("gh1.") && !access.contains("upstream-at"));
    assert!(refresh.starts_with("gh1.") && !refresh.contains("upstream-rt"));

    let page = s.admin.page("/servers").await;
    assert!(page.contains(r#"data-state="Connected""#), "{page}");
    assert!(page.contains("user@example.com"));
    assert!(
        page.contains("Access token expires in 59 min")
            || page.contains("Access token expires in 60 min"),
        "{page}"
    );
    assert!(page.contains("Reconnect mail") && page.contains("Revoke mail"));
    assert_eq!(
        s.app
            .count("SELECT COUNT(*) FROM audit_events WHERE kind = 'vault.connected' AND detail LIKE 'mail: google as user@example.com%'")
            .await,
        1
    );

    let (user, id) = server_id(&s.app, "mail").await;
    let credential = refresh::credential(&s.app.core, user, id).await.unwrap();
    assert!(credential.token.expose_secret().starts_with("upstream-at-"));
    assert_eq!(s.stub.refreshes(), 0, "a fresh token is used as is");
}

#[tokio::test]
async fn callback_state_is_single_use_and_bound_to_the_session() {
    let s = setup().await;
    s.admin
        .add_server("mail", "https://gmail.example.com/mcp")
        .await;
    let callback = provider_redirect(&start(&s.admin, "mail").await).await;

    // Another signed-in session (same account) cannot finish this flow.
    let other = s.app.browser();
    other.sign_in(ADMIN, ADMIN_PASSWORD).await;
    let res = other.client.get(&callback).send().await.unwrap();
    assert_eq!(location(&res), "/servers");
    let flash = flash_in(&other.page("/servers").await).unwrap();
    assert!(
        flash.contains("does not match a request of yours"),
        "{flash}"
    );
    assert_eq!(s.stub.state.code_exchanges.load(Ordering::SeqCst), 0);

    // The state was consumed by that attempt: replaying it in the right session fails too.
    let res = s.admin.client.get(&callback).send().await.unwrap();
    assert_eq!(location(&res), "/servers");
    let flash = flash_in(&s.admin.page("/servers").await).unwrap();
    assert!(
        flash.contains("does not match a request of yours"),
        "{flash}"
    );
    assert_eq!(s.app.count("SELECT COUNT(*) FROM connections").await, 0);

    // A fresh flow works, and its callback cannot be replayed.
    let callback = provider_redirect(&start(&s.admin, "mail").await).await;
    s.admin.client.get(&callback).send().await.unwrap();
    assert_eq!(
        flash_in(&s.admin.page("/servers").await).unwrap(),
        "Connected 'mail' as user@example.com."
    );
    s.admin.client.get(&callback).send().await.unwrap();
    assert!(flash_in(&s.admin.page("/servers").await)
        .unwrap()
        .contains("does not match"));
    assert_eq!(s.stub.state.code_exchanges.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn provider_refusal_and_a_foreign_issuer_are_explained_with_a_retry() {
    let s = setup().await;
    s.admin
        .add_server("mail", "https://gmail.example.com/mcp")
        .await;
    s.stub.state.deny_next.store(true, Ordering::SeqCst);
    let flash = authenticate(&s, &s.admin, "mail").await;
    assert!(flash.starts_with("The provider did not grant access to 'mail' (access_denied: The user said no). Try again with Authenticate"), "{flash}");
    assert!(s.admin.page("/servers").await.contains("Authenticate mail"));

    let callback = provider_redirect(&start(&s.admin, "mail").await).await;
    let forged = callback.replace(
        &format!("iss={}", s.stub.base),
        "iss=https%3A%2F%2Fevil.example",
    );
    assert_ne!(forged, callback);
    s.admin.client.get(&forged).send().await.unwrap();
    let flash = flash_in(&s.admin.page("/servers").await).unwrap();
    assert!(flash.contains("unexpected issuer"), "{flash}");
    assert_eq!(s.stub.state.code_exchanges.load(Ordering::SeqCst), 0);
    assert_eq!(s.app.count("SELECT COUNT(*) FROM connections").await, 0);
}

#[tokio::test]
async fn fifty_concurrent_calls_refresh_once() {
    let (s, user, id) = connected_mail().await;
    expire(&s.app, id).await;
    *s.stub.state.refresh_latency.lock().unwrap() = Duration::from_millis(200);

    let calls = (0..50).map(|_| {
        let core = s.app.core.clone();
        tokio::spawn(async move { refresh::credential(&core, user, id).await })
    });
    let results = futures_join(calls).await;
    assert_eq!(s.stub.refreshes(), 1, "exactly one refresh for 50 callers");
    // In one process they shared one future: the lease (which alone would also give one
    // refresh) was never contended.
    assert_eq!(s.app.core.refreshes_started(), 1);
    let tokens: std::collections::BTreeSet<String> = results
        .into_iter()
        .map(|r| r.unwrap().token.expose_secret().to_owned())
        .collect();
    assert_eq!(tokens.len(), 1, "every caller got the same, new token");
    assert!(!tokens.contains("upstream-at-1"), "not the expired one");
    let refreshed: Option<i64> =
        sqlx::query_scalar("SELECT last_refresh_at FROM connections WHERE id = $1")
            .bind(id)
            .fetch_one(&s.app.core.pool)
            .await
            .unwrap();
    assert!(refreshed.is_some());
}

async fn futures_join<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn two_processes_refresh_once() {
    let (s, user, id) = connected_mail().await;
    let settings = s.stub.google_settings();
    let extra: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // A second Gatehouse on the same database and key: its own in-process flights.
    let second = spawn_app_in(&s.app.data_dir, &extra).await;
    expire(&s.app, id).await;
    *s.stub.state.refresh_latency.lock().unwrap() = Duration::from_millis(300);

    let calls = (0..40).map(|i| {
        let core = if i % 2 == 0 {
            s.app.core.clone()
        } else {
            second.core.clone()
        };
        tokio::spawn(async move { refresh::credential(&core, user, id).await })
    });
    let results = futures_join(calls).await;
    assert_eq!(s.stub.refreshes(), 1, "one refresh across both processes");
    let tokens: std::collections::BTreeSet<String> = results
        .into_iter()
        .map(|r| r.unwrap().token.expose_secret().to_owned())
        .collect();
    assert_eq!(tokens.len(), 1);
}

#[tokio::test]
async fn invalid_grant_marks_needs_reauth() {
    let (s, user, id) = connected_mail().await;
    s.stub.set_refresh_mode(RefreshMode::InvalidGrant);
    expire(&s.app, id).await;

    let err = refresh::credential(&s.app.core, user, id)
        .await
        .unwrap_err();
    assert_eq!(err, CredentialError::NeedsReauth);
    assert_eq!(s.stub.refreshes(), 1);
    // Later calls do not hammer the provider with a dead grant.
    let err = refresh::credential(&s.app.core, user, id)
        .await
        .unwrap_err();
    assert_eq!(err, CredentialError::NeedsReauth);
    assert_eq!(s.stub.refreshes(), 1);

    let page = s.admin.page("/servers").await;
    assert!(
        page.contains(r#"data-state="Needs re-authentication""#),
        "{page}"
    );
    assert!(page.contains("invalid_grant"));
    assert!(page.contains("Reconnect mail"));
    assert_eq!(
        s.app
            .count("SELECT COUNT(*) FROM audit_events WHERE kind = 'vault.refresh_failed'")
            .await,
        1
    );

    // Reconnecting clears the state.
    s.stub.set_refresh_mode(RefreshMode::Rotate);
    assert_eq!(
        authenticate(&s, &s.admin, "mail").await,
        "Connected 'mail' as user@example.com."
    );
    assert!(refresh::credential(&s.app.core, user, id).await.is_ok());
}

#[tokio::test]
async fn missing_refresh_token_keeps_old_one() {
    let (s, user, id) = connected_mail().await;
    s.stub.set_refresh_mode(RefreshMode::OmitRefreshToken);

    expire(&s.app, id).await;
    let first = refresh::credential(&s.app.core, user, id).await.unwrap();
    expire(&s.app, id).await;
    let second = refresh::credential(&s.app.core, user, id).await.unwrap();
    assert_ne!(first.token.expose_secret(), second.token.expose_secret());
    let seen = s.stub.state.refresh_tokens_seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0], seen[1],
        "the original refresh token was kept and used again"
    );
    assert!(seen[0].starts_with("upstream-rt-"));
}

#[tokio::test]
async fn rotated_refresh_tokens_replace_the_old_one() {
    let (s, user, id) = connected_mail().await;
    expire(&s.app, id).await;
    refresh::credential(&s.app.core, user, id).await.unwrap();
    expire(&s.app, id).await;
    refresh::credential(&s.app.core, user, id).await.unwrap();
    let seen = s.stub.state.refresh_tokens_seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1], format!("{}-r1", seen[0]));
}

#[tokio::test]
async fn disconnect_calls_provider_revoke() {
    let s = setup().await;
    connect(&s, &s.admin, "mail").await;
    connect(&s, &s.admin, "drive").await;
    let page = s.admin.page("/servers").await;
    assert!(
        page.contains("Revoking ends Google access for drive too."),
        "shared grant warning"
    );

    let res = s
        .admin
        .submit("/servers", "/api/disconnect", &[("slug", "mail")])
        .await;
    let flash = s.admin.flash_after(res).await.unwrap();
    assert!(
        flash.starts_with("Disconnected 'mail': the provider revoked the access"),
        "{flash}"
    );
    assert!(
        flash.contains("drive must be authenticated again"),
        "{flash}"
    );
    let revoked = s.stub.state.revoked.lock().unwrap().clone();
    assert_eq!(revoked.len(), 1);
    assert!(
        revoked[0].starts_with("upstream-rt-"),
        "the refresh token is revoked"
    );
    let (user, id) = server_id(&s.app, "mail").await;
    assert_eq!(
        refresh::credential(&s.app.core, user, id)
            .await
            .unwrap_err(),
        CredentialError::NotConnected
    );
    let page = s.admin.page("/servers").await;
    assert!(
        page.contains(r#"data-slug="mail" data-state="Not connected""#),
        "{page}"
    );
    assert!(page.contains(r#"data-slug="drive" data-state="Needs re-authentication""#));
    assert_eq!(
        s.app
            .count("SELECT COUNT(*) FROM audit_events WHERE kind = 'vault.disconnected'")
            .await,
        1
    );
}

#[tokio::test]
async fn disconnect_says_so_when_the_provider_is_unreachable() {
    let s = setup().await;
    connect(&s, &s.admin, "mail").await;
    let base = s.stub.base.clone();
    drop(s.stub);
    // The stub's listener closes with it; make sure nothing answers before going on.
    while reqwest::get(format!("{base}/userinfo")).await.is_ok() {
        tokio::task::yield_now().await;
    }
    let res = s
        .admin
        .submit("/servers", "/api/disconnect", &[("slug", "mail")])
        .await;
    let flash = s.admin.flash_after(res).await.unwrap();
    assert!(
        flash.contains("the stored tokens are deleted, but the provider could not revoke"),
        "{flash}"
    );
    assert_eq!(s.app.count("SELECT COUNT(*) FROM connections").await, 0);
}

#[tokio::test]
async fn user_a_cannot_touch_user_b_connection() {
    let (s, owner, id) = connected_mail().await;
    let pending = start(&s.admin, "mail").await;
    let callback = provider_redirect(&pending).await;
    let bob = s.app.user(&s.admin, "bob").await;

    for action in ["authenticate", "disconnect", "set_provider"] {
        let res = bob
            .submit(
                "/servers",
                &format!("/api/{action}"),
                &[("slug", "mail"), ("provider", "none")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{action}");
        assert_eq!(location(&res), "/servers", "{action} stays on Gatehouse");
        let flash = bob.flash_after(res).await.unwrap_or_default();
        assert!(
            flash.contains("Not found") || flash.contains("not found"),
            "{action}: {flash}"
        );
    }
    // Bob's session cannot complete the admin's pending flow.
    bob.client.get(&callback).send().await.unwrap();
    assert!(flash_in(&bob.page("/servers").await)
        .unwrap()
        .contains("does not match"));
    // Bob's Servers page (and its server function) shows none of it.
    let page = bob.page("/servers").await;
    assert!(!page.contains("user@example.com") && !page.contains(r#"data-slug="mail""#));
    let bob_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'bob'")
        .fetch_one(&s.app.core.pool)
        .await
        .unwrap();
    assert_eq!(
        refresh::credential(&s.app.core, UserId::new(bob_id), id)
            .await
            .unwrap_err(),
        CredentialError::NotConnected
    );
    // The admin's connection is untouched.
    assert_eq!(s.stub.state.revoked.lock().unwrap().len(), 0);
    assert!(refresh::credential(&s.app.core, owner, id).await.is_ok());
    let choice: Option<String> =
        sqlx::query_scalar("SELECT provider FROM mcp_servers WHERE id = $1")
            .bind(id)
            .fetch_one(&s.app.core.pool)
            .await
            .unwrap();
    assert_eq!(choice, None);
}

#[tokio::test]
async fn provider_choice_overrides_detection() {
    let s = setup().await;
    s.admin
        .add_server("tools", "https://tools.example.com/mcp")
        .await;
    let page = s.admin.page("/servers").await;
    assert!(
        page.contains("Fix it and use Check, store a static credential, or choose a provider"),
        "a server whose own sign-in was not found says why there is no Authenticate"
    );
    assert!(!page.contains("Authenticate tools"));
    assert!(page.contains("(detected from the URL)"));
    let res = s
        .admin
        .submit(
            "/servers",
            "/api/set_provider",
            &[("slug", "tools"), ("provider", "google:drive")],
        )
        .await;
    assert_eq!(
        s.admin.flash_after(res).await.unwrap(),
        "Saved the provider of 'tools'."
    );
    let page = s.admin.page("/servers").await;
    assert!(page.contains("Google (Drive)") && page.contains("Authenticate tools"));
    assert!(
        !page.contains("(detected from the URL)"),
        "chosen, not detected"
    );
    let url = start(&s.admin, "tools").await;
    assert!(url.contains("auth%2Fdrive"), "{url}");
    let res = s
        .admin
        .submit(
            "/servers",
            "/api/set_provider",
            &[("slug", "tools"), ("provider", "google:nope")],
        )
        .await;
    assert_eq!(s.admin.flash_after(res).await.unwrap(), "Unknown provider");
}

#[tokio::test]
async fn google_without_a_client_id_explains_what_the_operator_must_set() {
    let (app, admin) = spawn_app_with_admin().await;
    admin
        .add_server("mail", "https://gmail.example.com/mcp")
        .await;
    let page = admin.page("/servers").await;
    assert!(page.contains("GATEHOUSE_GOOGLE_CLIENT_ID"));
    let res = admin
        .submit("/servers", "/api/authenticate", &[("slug", "mail")])
        .await;
    let flash = admin.flash_after(res).await.unwrap();
    assert!(flash.contains("GATEHOUSE_GOOGLE_CLIENT_ID"), "{flash}");
    assert_eq!(app.count("SELECT COUNT(*) FROM oauth_states").await, 0);
}

/// Runs the CLI off the runtime thread, so the in-process stub keeps answering.
async fn cli(s: &Setup, args: &'static [&'static str]) -> (bool, String, String) {
    let settings = s.stub.google_settings();
    let env: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = crate::cli::gatehouse_async(&s.app.data_dir, &env, args).await;
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn cli_status_and_refresh() {
    let s = setup().await;
    connect(&s, &s.admin, "mail").await;
    s.admin
        .add_server("other", "https://tools.example.com/mcp")
        .await;

    let (ok, out, err) = cli(&s, &["refresh", "admin", "mail"]).await;
    assert!(ok, "{err}");
    assert!(
        out.starts_with("Refreshed 'mail' for 'admin': expires in "),
        "{out}"
    );
    assert_eq!(
        s.stub.refreshes(),
        1,
        "refresh is forced even though the token is fresh"
    );

    let (ok, out, _) = cli(&s, &["status", "admin"]).await;
    assert!(ok);
    let mail = out.lines().find(|l| l.contains(" mail ")).unwrap();
    assert!(
        mail.contains("Connected")
            && mail.contains("Google (Gmail)")
            && mail.contains("user@example.com"),
        "{mail}"
    );
    let other = out.lines().find(|l| l.contains(" other ")).unwrap();
    assert!(other.contains("Not connected"), "{other}");

    s.stub.set_refresh_mode(RefreshMode::InvalidGrant);
    let (ok, _, err) = cli(&s, &["refresh", "admin", "mail"]).await;
    assert!(!ok);
    assert!(
        err.contains("'mail' needs re-authentication: the user must click Authenticate"),
        "{err}"
    );
    let (_, out, _) = cli(&s, &["status"]).await;
    let mail = out.lines().find(|l| l.contains(" mail ")).unwrap();
    assert!(
        mail.contains("Needs re-authentication") && mail.contains("invalid_grant"),
        "{mail}"
    );

    let (ok, _, err) = cli(&s, &["refresh", "admin", "nope"]).await;
    assert!(!ok && err.contains("no such account or server"), "{err}");
}

#[tokio::test]
async fn deleting_a_connected_server_revokes_its_grant_first() {
    let s = setup().await;
    connect(&s, &s.admin, "mail").await;
    let res = s
        .admin
        .submit("/servers", "/api/delete_server", &[("slug", "mail")])
        .await;
    let flash = s.admin.flash_after(res).await.unwrap();
    assert!(
        flash.starts_with("Deleted server 'mail'. Disconnected 'mail': the provider revoked"),
        "{flash}"
    );
    assert_eq!(s.stub.state.revoked.lock().unwrap().len(), 1);
    assert_eq!(s.app.count("SELECT COUNT(*) FROM connections").await, 0);
}

#[tokio::test]
async fn credentials_are_served_from_the_cache_until_cleared() {
    let (s, user, id) = connected_mail().await;
    let first = refresh::credential(&s.app.core, user, id).await.unwrap();
    // Gone from the database (as if another process disconnected it)...
    sqlx::query("DELETE FROM connections WHERE id = $1")
        .bind(id)
        .execute(&s.app.core.pool)
        .await
        .unwrap();
    // ...still served from memory for up to 2 s: no query, no decryption.
    let cached = refresh::credential(&s.app.core, user, id).await.unwrap();
    assert_eq!(cached.token.expose_secret(), first.token.expose_secret());
    // A change made by this process empties the cache at once.
    s.app.core.forget_cached();
    assert_eq!(
        refresh::credential(&s.app.core, user, id)
            .await
            .unwrap_err(),
        CredentialError::NotConnected
    );
}

#[tokio::test]
async fn a_static_credential_server_needs_no_sign_in() {
    let s = setup().await;
    let res = s
        .admin
        .submit(
            "/servers",
            "/api/add_server",
            &[
                ("slug", "tools"),
                ("url", "https://tools.example.com/mcp"),
                ("name", ""),
                ("credential", "static-secret"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = s.admin.page("/servers").await;
    assert!(
        page.contains(r#"data-slug="tools" data-state="Static credential""#),
        "{page}"
    );
    assert!(!page.contains("not supported yet"), "nothing to explain");
    assert!(
        !page.contains("Authenticate tools"),
        "its own sign-in is not available"
    );
    assert!(!page.contains("static-secret"));
}

#[tokio::test]
async fn vault_forms_need_the_sessions_csrf_token() {
    let s = setup().await;
    connect(&s, &s.admin, "mail").await;
    let states = s.app.count("SELECT COUNT(*) FROM oauth_states").await;
    for action in [
        "authenticate",
        "disconnect",
        "set_provider",
        "delete_server",
    ] {
        for csrf in [None, Some("forged")] {
            let mut form = vec![("slug", "mail"), ("provider", "none")];
            if let Some(token) = csrf {
                form.push(("_csrf", token));
            }
            let res = s.admin.post(&format!("/api/{action}"), &form).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{action} {csrf:?}");
        }
    }
    assert_eq!(
        s.app.count("SELECT COUNT(*) FROM oauth_states").await,
        states
    );
    assert_eq!(s.app.count("SELECT COUNT(*) FROM connections").await, 1);
    assert_eq!(
        s.app
            .count("SELECT COUNT(*) FROM mcp_servers WHERE provider IS NULL")
            .await,
        1
    );
    assert!(s.stub.state.revoked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn rotate_key_re_encrypts_stored_upstream_tokens() {
    let (s, user, id) = connected_mail().await;
    let before = refresh::credential(&s.app.core, user, id).await.unwrap();
    let k2_only = rotate_to_a_new_key(&s.app.data_dir).await;
    let (access, refresh_token): (String, String) =
        sqlx::query_as("SELECT access_token, refresh_token FROM connections WHERE id = $1")
            .bind(id)
            .fetch_one(&s.app.core.pool)
            .await
            .unwrap();
    assert!(access.starts_with("gh1.k2.") && refresh_token.starts_with("gh1.k2."));
    // A process with only the new key reads the same token.
    let settings = s.stub.google_settings();
    let mut extra: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    extra.push(("GATEHOUSE_ENCRYPTION_KEYS", &k2_only));
    let second = spawn_app_in(&s.app.data_dir, &extra).await;
    let after = refresh::credential(&second.core, user, id).await.unwrap();
    assert_eq!(after.token.expose_secret(), before.token.expose_secret());
}
