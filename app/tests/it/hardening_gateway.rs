//! Hardening of `/mcp` (issue 17): the Host check comes first, the slug is parsed before it
//! reaches a header, authentication needs only the headers, one checked session id.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::gateway::{gateway, initialize, open_session, post};
use crate::helpers::*;

#[tokio::test]
async fn foreign_host_is_refused_even_with_a_valid_token() {
    let gw = gateway(false).await;
    let seen = gw.upstream.headers_seen().len();
    // DNS rebinding: a page on evil.example.com whose name now resolves to Gatehouse. The
    // token is valid, so only the Host check can stop it.
    let res = post(
        &gw,
        "gmail",
        &gw.token,
        &initialize(1, json!({})),
        &[
            ("host", "evil.example.com"),
            ("origin", "http://evil.example.com"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::MISDIRECTED_REQUEST);
    assert_eq!(gw.upstream.headers_seen().len(), seen, "nothing forwarded");
    // The same request on Gatehouse's own name goes through: the token was never the issue.
    let res = post(&gw, "gmail", &gw.token, &initialize(1, json!({})), &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(gw.upstream.headers_seen().len(), seen + 1);
}

#[tokio::test]
async fn allowed_hosts_setting_admits_other_names() {
    let app = spawn_app_with(&[("GATEHOUSE_ALLOWED_HOSTS", "gatehouse.internal")]).await;
    let client = browser_client();
    let status = |host: &'static str| {
        let client = client.clone();
        let url = format!("{}/mcp/gmail", app.base);
        async move {
            client
                .post(url)
                .header("host", host)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // Past the Host check, an anonymous request meets the OAuth challenge.
    assert_eq!(status("gatehouse.internal").await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        status("gatehouse.internal:8443").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status("other.internal").await,
        StatusCode::MISDIRECTED_REQUEST
    );
}

#[tokio::test]
async fn a_crafted_slug_never_reaches_the_challenge_header() {
    let app = spawn_app().await;
    let res = app
        .browser()
        .client
        .post(format!("{}/mcp/ab%22%2C%20x%3D%22y", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers().get("www-authenticate").is_none());
}

#[tokio::test]
async fn authentication_does_not_wait_for_the_body() {
    let app = spawn_app().await;
    let addr = app.base.strip_prefix("http://").unwrap().to_owned();
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    // Headers promising 4 MiB that never come: an anonymous request is answered at once.
    let head = format!(
        "POST /mcp/gmail HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 4000000\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered without the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}

#[tokio::test]
async fn a_repeated_or_malformed_session_id_is_refused_and_not_forwarded() {
    let gw = gateway(true).await;
    let session = open_session(&gw, &gw.token).await;
    let seen = gw.upstream.headers_seen().len();
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    // Two values: the owned one checked, another forwarded — unless both are refused.
    let res = post(
        &gw,
        "gmail",
        &gw.token,
        &list,
        &[
            ("mcp-session-id", &session),
            ("mcp-session-id", "someone-elses-session"),
            ("mcp-protocol-version", "2025-11-25"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = post(
        &gw,
        "gmail",
        &gw.token,
        &list,
        &[("mcp-session-id", "s p a c e s")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(gw.upstream.headers_seen().len(), seen, "nothing forwarded");
    // The one checked value is the one the upstream gets.
    let res = post(
        &gw,
        "gmail",
        &gw.token,
        &list,
        &[
            ("mcp-session-id", &session),
            ("mcp-protocol-version", "2025-11-25"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let last = gw.upstream.headers_seen().pop().unwrap();
    let ids: Vec<_> = last.get_all("mcp-session-id").iter().collect();
    assert_eq!(ids, [session.as_str()]);
}
