//! CSRF, cookies, security headers, body limits and health endpoints.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn form_post_without_or_with_wrong_csrf_is_rejected() {
    let (app, admin) = spawn_app_with_admin().await;
    let missing = admin
        .post(
            "/api/add_server",
            &[("slug", "x"), ("url", "https://x.example.com/")],
        )
        .await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert!(missing.text().await.unwrap().contains("security token"));
    let wrong = admin
        .post(
            "/api/add_server",
            &[
                ("_csrf", "forged"),
                ("slug", "x"),
                ("url", "https://x.example.com/"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) FROM mcp_servers").await, 0);

    // Another session's valid token does not work here either.
    let other = app.browser();
    let foreign = other.csrf("/login").await;
    let res = admin
        .post(
            "/api/add_server",
            &[
                ("_csrf", &foreign),
                ("slug", "x"),
                ("url", "https://x.example.com/"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let login = app
        .browser()
        .post(
            "/login",
            &[("username", ADMIN), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(
        login.status(),
        StatusCode::FORBIDDEN,
        "sign-in needs the token too (login CSRF)"
    );
    let logout = admin.post("/api/sign_out", &[]).await;
    assert_eq!(logout.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        admin.get("/servers").await.status(),
        StatusCode::OK,
        "still signed in"
    );
}

fn set_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn session_cookie_flags_over_http() {
    let app = spawn_app().await;
    let cookie = set_cookie(&app.browser().get("/login").await);
    assert!(cookie.starts_with("gatehouse_session="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "no Secure flag on a plain-http loopback install"
    );
}

#[tokio::test]
async fn session_cookie_is_host_prefixed_and_secure_behind_https() {
    let app = spawn_app_with(&[("GATEHOUSE_PUBLIC_URL", "https://gatehouse.example.test")]).await;
    let cookie = set_cookie(&app.browser().get("/login").await);
    assert!(cookie.starts_with("__Host-gatehouse_session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"),
        "{cookie}"
    );
}

#[tokio::test]
async fn pages_carry_a_fresh_nonce_csp_and_frame_protection() {
    let app = spawn_app().await;
    let b = app.browser();
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let res = b.get("/setup").await;
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(res.headers()["x-frame-options"], "DENY");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert_eq!(res.headers()["referrer-policy"], "no-referrer");
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'"),
            "{csp}"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("form-action"),
            "{csp}"
        );
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap()
            .to_owned();
        let html = res.text().await.unwrap();
        assert!(
            html.contains(&format!("<script type=\"module\" nonce=\"{nonce}\">")),
            "hydration script carries the nonce"
        );
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a new nonce per response");
}

#[tokio::test]
async fn non_page_responses_get_a_deny_all_csp() {
    let app = spawn_app().await;
    let b = app.browser();
    let res = b.post("/api/add_server", &[("slug", "x")]).await;
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(res.headers()["x-frame-options"], "DENY");
}

#[tokio::test]
async fn oversized_form_is_rejected() {
    let (app, admin) = spawn_app_with_admin().await;
    let csrf = admin.csrf("/servers").await;
    let huge = "x".repeat(64 * 1024);
    let res = admin
        .post(
            "/api/add_server",
            &[("_csrf", &csrf), ("slug", "big"), ("url", &huge)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.count("SELECT COUNT(*) FROM mcp_servers").await, 0);
}

#[tokio::test]
async fn health_endpoints_answer() {
    let app = spawn_app().await;
    let b = app.browser();
    assert_eq!(b.get("/healthz").await.text().await.unwrap(), "ok");
    let ready = b.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    app.core.pool.close().await;
    assert_eq!(
        b.get("/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "a closed database is not ready"
    );
    assert_eq!(
        b.get("/healthz").await.status(),
        StatusCode::OK,
        "but the process is alive"
    );
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id() {
    let (app, _) = spawn_app_with_admin().await;
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users")
        .fetch_one(&app.core.pool)
        .await
        .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(ADMIN_PASSWORD));
}

#[tokio::test]
async fn crafted_path_segments_never_reach_a_location_header() {
    let (_app, admin) = spawn_app_with_admin().await;
    let csrf = admin.csrf("/servers").await;
    // A consent handle in the path; invite tokens in the form (they become a page URL).
    for (path, token) in [
        ("/api/accept_invite", "abc\r\nSet-Cookie:x=y"),
        ("/consent/abc%0D%0ALocation:%20evil.example", ""),
        ("/api/accept_invite", "//evil.example"),
    ] {
        let res = admin
            .post(
                path,
                &[
                    ("_csrf", csrf.as_str()),
                    ("token", token),
                    ("password", "long enough password"),
                    ("decision", "deny"),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path} {token:?}");
        assert!(
            res.headers().get("location").is_none() && res.headers().get("set-cookie").is_none(),
            "{path} {token:?}"
        );
    }
    assert_eq!(
        admin.get("/healthz").await.status(),
        StatusCode::OK,
        "the server is fine"
    );
}

#[tokio::test]
async fn https_deployments_send_strict_transport_security() {
    let https = spawn_app_with(&[("GATEHOUSE_PUBLIC_URL", "https://gatehouse.example.com")]).await;
    let res = https.browser().get("/healthz").await;
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    let http = spawn_app().await;
    let res = http.browser().get("/healthz").await;
    assert!(
        res.headers().get("strict-transport-security").is_none(),
        "never on plain http (a local run)"
    );
}

#[tokio::test]
async fn every_page_carries_the_csp_with_its_scripts_nonce() {
    let (_app, admin) = spawn_app_with_admin().await;
    for path in [
        "/servers",
        "/keys",
        "/clients",
        "/activity",
        "/admin",
        "/login",
    ] {
        let res = admin.get(path).await;
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let html = res.text().await.unwrap();
        let nonce = regex_lite::Regex::new(r#"<script type="module" nonce="([^"]+)""#)
            .unwrap()
            .captures(&html)
            .map(|c| c[1].to_owned())
            .unwrap_or_default();
        assert!(!nonce.is_empty(), "{path} has scripts");
        assert!(csp.contains(&format!("'nonce-{nonce}'")), "{path}: {csp}");
    }
}
