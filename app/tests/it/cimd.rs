//! Client ID Metadata Documents over real https (a local CA), through the guarded client.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::oauth_helpers::*;
use crate::tls::{serve_https, HttpsServer};

/// Serves `/client.json` built by `doc(url)` with `cache_control`, counting fetches.
async fn document_server(
    doc: impl Fn(&str) -> Value + Send + Sync + 'static,
    cache_control: &'static str,
) -> (
    HttpsServer,
    Arc<AtomicUsize>,
    Arc<std::sync::OnceLock<String>>,
) {
    let hits = Arc::new(AtomicUsize::new(0));
    let url = Arc::new(std::sync::OnceLock::<String>::new());
    let (h, u) = (hits.clone(), url.clone());
    let doc = Arc::new(doc);
    let router = axum::Router::new().route(
        "/client.json",
        get(move || {
            let (h, u, doc) = (h.clone(), u.clone(), doc.clone());
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                let body = doc(u.get().map(String::as_str).unwrap_or_default());
                (
                    [
                        (header::CACHE_CONTROL, cache_control),
                        (header::CONTENT_TYPE, "application/json"),
                    ],
                    body.to_string(),
                )
                    .into_response()
            }
        }),
    );
    let server = serve_https(router).await;
    let _ = url.set(format!("{}/client.json", server.base));
    (server, hits, url)
}

fn good_doc(url: &str) -> Value {
    json!({ "client_id": url, "client_name": "Doc Client", "redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none" })
}

async fn app_trusting(server: &HttpsServer, allow_private: bool) -> (TestApp, Browser) {
    let ca = server.ca_file.display().to_string();
    let mut settings = vec![("GATEHOUSE_EXTRA_CA_FILE", ca.as_str())];
    if allow_private {
        settings.push(("GATEHOUSE_CIMD_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8"));
    }
    let (app, admin) = spawn_app_with_admin_and(&settings).await;
    admin
        .add_server("gmail", "https://gmail.example.com/mcp")
        .await;
    (app, admin)
}

#[tokio::test]
async fn cimd_happy_path_over_https() {
    let (server, hits, url) = document_server(good_doc, "max-age=600").await;
    let (app, admin) = app_trusting(&server, true).await;
    let meta: Value = admin
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(meta["client_id_metadata_document_supported"], true);

    let client = Client {
        id: url.get().unwrap().clone(),
        secret: None,
    };
    let consent = location(
        &admin
            .get(&authorize_url(&app, &client.id, Some(&pkce()), &[]))
            .await,
    );
    assert!(consent.starts_with("/consent/"), "{consent}");
    let page = admin.page(&consent).await;
    assert!(
        page.contains("verified: ") && page.contains(">localhost<"),
        "the document's host is the identity"
    );
    assert!(!page.contains(">unverified<"));

    let p = pkce();
    let code = approve(&app, &admin, &client, &p, Some("gmail"), &["gmail"]).await;
    let (status, tokens) = exchange(&app, &client, &code, &p.verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(
        mcp_status(&app, "gmail", tokens["access_token"].as_str().unwrap()).await,
        StatusCode::OK
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "cached for max-age across three authorizations"
    );
}

#[tokio::test]
async fn cimd_without_cache_headers_is_fetched_each_time() {
    let (server, hits, url) = document_server(good_doc, "no-store").await;
    let (app, admin) = app_trusting(&server, true).await;
    for _ in 0..2 {
        assert_eq!(
            admin
                .get(&authorize_url(&app, url.get().unwrap(), Some(&pkce()), &[]))
                .await
                .status(),
            StatusCode::SEE_OTHER
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

async fn refused(
    doc: impl Fn(&str) -> Value + Send + Sync + 'static,
    allow_private: bool,
    expect: &str,
) -> usize {
    let (server, hits, url) = document_server(doc, "max-age=600").await;
    let (app, admin) = app_trusting(&server, allow_private).await;
    let res = admin
        .get(&authorize_url(&app, url.get().unwrap(), Some(&pkce()), &[]))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none(), "never a redirect");
    let text = res.text().await.unwrap();
    assert!(text.contains(expect), "{expect} in {text}");
    assert_eq!(app.count("SELECT COUNT(*) FROM oauth_clients").await, 0);
    hits.load(Ordering::SeqCst)
}

#[tokio::test]
async fn cimd_client_id_mismatch_is_rejected() {
    refused(|_| json!({ "client_id": "https://other.example/client.json", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none" }), true, "does not equal its URL").await;
}

#[tokio::test]
async fn cimd_confidential_method_is_rejected() {
    refused(|url| json!({ "client_id": url, "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic" }), true, "must declare token_endpoint_auth_method").await;
}

#[tokio::test]
async fn cimd_oversized_document_is_refused() {
    refused(|url| json!({ "client_id": url, "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "client_name": "x".repeat(6000) }), true, "larger than 5 KB").await;
}

#[tokio::test]
async fn cimd_private_address_is_refused() {
    // Without the test-only allow-list, localhost (127.0.0.1) is off limits: the resolver
    // refuses it, so the document server is never contacted.
    let hits = refused(good_doc, false, "may not connect").await;
    assert_eq!(hits, 0, "no connection was made");
}

#[tokio::test]
async fn cimd_url_rules_are_checked_before_fetching() {
    let (app, admin) = spawn_app_with_admin().await;
    for id in [
        "http://localhost/client.json",
        "https://localhost/",
        "https://localhost/a/../client.json",
    ] {
        let res = admin
            .get(&authorize_url(&app, id, Some(&pkce()), &[]))
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{id}");
    }
}

#[tokio::test]
async fn metadata_document_fetches_are_limited_per_address() {
    let (server, hits, url) = document_server(good_doc, "no-store").await;
    let ca = server.ca_file.display().to_string();
    let (app, admin) = spawn_app_with_admin_and(&[
        ("GATEHOUSE_EXTRA_CA_FILE", ca.as_str()),
        ("GATEHOUSE_CIMD_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8"),
        ("GATEHOUSE_RATE_CIMD_FETCH_PER_IP", "2/1m"),
    ])
    .await;
    let authorize = authorize_url(&app, url.get().unwrap(), Some(&pkce()), &[]);
    for _ in 0..2 {
        assert!(admin.get(&authorize).await.status().is_redirection());
    }
    let limited = admin.get(&authorize).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(hits.load(Ordering::SeqCst), 2, "no third fetch");
}
