//! Every limit is a setting and answers 429 with `Retry-After` (issue 17 items 4, 13, 15).

use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::helpers::*;
use crate::oauth_helpers::*;

fn retry_after(res: &Response) -> u64 {
    res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_token_endpoint_limit_per_address_is_a_setting() {
    let app = spawn_app_with(&[("GATEHOUSE_RATE_TOKEN_PER_IP", "3/1m")]).await;
    let client = app.browser().client;
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..4 {
        let res = client
            .post(format!("{}/token", app.base))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
            .send()
            .await
            .unwrap();
        statuses.push(res.status());
        last = Some(res);
    }
    assert!(statuses[..3]
        .iter()
        .all(|s| *s != StatusCode::TOO_MANY_REQUESTS));
    let limited = last.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=60).contains(&retry_after(&limited)));
}

#[tokio::test]
async fn the_token_endpoint_is_limited_per_client_too() {
    let (app, admin, client) = ready_with(&[("GATEHOUSE_RATE_TOKEN_PER_CLIENT", "2/1m")]).await;
    let tokens = tokens_for_gmail(&app, &admin, &client).await; // 1: the code exchange
    let (status, body) = refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await; // 2
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = refresh(&app, &client, body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Another client behind the same address is not affected.
    let other = public_client(&app).await;
    let again = tokens_for_gmail(&app, &admin, &other).await;
    assert!(again["access_token"].is_string());
}

#[tokio::test]
async fn registration_and_authorization_requests_are_limited_per_address() {
    let app = spawn_app_with(&[
        ("GATEHOUSE_RATE_REGISTER_PER_IP", "2/1m"),
        ("GATEHOUSE_RATE_AUTHORIZE_PER_IP", "2/1m"),
    ])
    .await;
    let body = json!({ "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none" });
    for _ in 0..2 {
        assert_eq!(
            register(&app, body.clone()).await.status(),
            StatusCode::CREATED
        );
    }
    let limited = register(&app, body.clone()).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&limited) >= 1);

    // Each /authorize stores a pending request: a flood is cut off, and stores nothing more.
    let client: serde_json::Value =
        sqlx::query_scalar::<_, String>("SELECT client_id FROM oauth_clients LIMIT 1")
            .fetch_one(&app.core.pool)
            .await
            .map(serde_json::Value::String)
            .unwrap();
    let url = authorize_url(&app, client.as_str().unwrap(), Some(&pkce()), &[]);
    let visitor = app.browser();
    for _ in 0..2 {
        assert!(visitor.get(&url).await.status().is_redirection());
    }
    let limited = visitor.get(&url).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&limited) >= 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM authorization_requests")
            .await,
        2
    );
}
