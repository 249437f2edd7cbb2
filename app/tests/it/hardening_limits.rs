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

#[tokio::test]
async fn clients_that_never_got_a_grant_are_swept_after_their_idle_time() {
    let (app, admin, client) = ready_with(&[("GATEHOUSE_UNUSED_CLIENT_TTL", "1h")]).await;
    tokens_for_gmail(&app, &admin, &client).await; // this one got a grant
    let body = json!({ "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none" });
    let stale: serde_json::Value = register(&app, body.clone()).await.json().await.unwrap();
    let fresh: serde_json::Value = register(&app, body).await.json().await.unwrap();
    // The first unused client was registered two hours ago (and the used one too).
    for id in [stale["client_id"].as_str().unwrap(), client.id.as_str()] {
        sqlx::query("UPDATE oauth_clients SET created_at = $1 WHERE client_id = $2")
            .bind(gatehouse::clock::now() - 7200)
            .bind(id)
            .execute(&app.core.pool)
            .await
            .unwrap();
    }
    let (swept, _) = gatehouse::service::token_admin::cleanup(&app.core)
        .await
        .unwrap();
    assert_eq!(swept.unused_clients, 1);
    let left: Vec<String> =
        sqlx::query_scalar("SELECT client_id FROM oauth_clients ORDER BY client_id")
            .fetch_all(&app.core.pool)
            .await
            .unwrap();
    let mut expected = vec![
        client.id.clone(),
        fresh["client_id"].as_str().unwrap().to_owned(),
    ];
    expected.sort();
    assert_eq!(left, expected, "the used one and the recent one stay");
}

#[tokio::test]
async fn anonymous_page_views_store_no_session() {
    let app = spawn_app().await;
    // Views without a form: nothing is stored (a flood of them must not fill the table).
    for path in [
        "/servers",
        "/activity",
        "/clients",
        "/no/such/page",
        "/consent/unknown",
        "/",
    ] {
        let res = app.browser().get(path).await;
        assert!(res.status().as_u16() < 500, "{path}");
    }
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM {}", sessions_table()))
            .await,
        0
    );
    // A page with a form needs its CSRF token, so a session.
    app.browser().page("/setup").await;
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM {}", sessions_table()))
            .await,
        1
    );
}
