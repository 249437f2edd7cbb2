//! Hardening of the token endpoint (issue 17): a retry inside the grace window supersedes
//! the pair it replaces, so a stolen refresh token used within 30 s never keeps a chain.

use futures_util::future::join_all;
use reqwest::StatusCode;

use crate::oauth_helpers::*;

#[tokio::test]
async fn parallel_retries_inside_the_grace_window_leave_one_live_chain() {
    let (app, admin, client) = ready().await;
    let first = tokens_for_gmail(&app, &admin, &client).await;
    let rt = first["refresh_token"].as_str().unwrap().to_owned();
    let answers = join_all((0..20).map(|_| refresh(&app, &client, &rt))).await;
    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::OK),
        "every retry is answered"
    );
    let mut live = Vec::new();
    for (_, body) in &answers {
        if mcp_status(&app, "gmail", body["access_token"].as_str().unwrap()).await == StatusCode::OK
        {
            live.push(body["refresh_token"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(live.len(), 1, "exactly one chain lives");
    // A superseded refresh token presented later is reuse: the whole family ends.
    let superseded = answers
        .iter()
        .map(|(_, b)| b["refresh_token"].as_str().unwrap())
        .find(|t| *t != live[0])
        .unwrap();
    let (status, body) = refresh(&app, &client, superseded).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, _) = refresh(&app, &client, &live[0]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the family is revoked");
}
