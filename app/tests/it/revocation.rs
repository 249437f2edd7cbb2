//! Revocation (RFC 7009), introspection (RFC 7662), the AI clients page and cleanup.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::oauth_helpers::*;

async fn post_form(
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, String) {
    let mut req = app
        .browser()
        .client
        .post(format!("{}{path}", app.base))
        .form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let res = req.send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

#[tokio::test]
async fn revoked_refresh_kills_its_access_tokens() {
    let (app, admin, client) = ready().await;
    let t = tokens_for_gmail(&app, &admin, &client).await;
    let (status, _) = post_form(
        &app,
        "/revoke",
        &[
            ("token", t["refresh_token"].as_str().unwrap()),
            ("client_id", &client.id),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        mcp_status(&app, "gmail", t["access_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = refresh(&app, &client, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn revoking_an_access_token_leaves_the_refresh_token() {
    let (app, admin, client) = ready().await;
    let t = tokens_for_gmail(&app, &admin, &client).await;
    let at = t["access_token"].as_str().unwrap();
    post_form(
        &app,
        "/revoke",
        &[
            ("token", at),
            ("token_type_hint", "access_token"),
            ("client_id", &client.id),
        ],
        None,
    )
    .await;
    assert_eq!(
        mcp_status(&app, "gmail", at).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = refresh(&app, &client, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn revocation_of_unknown_or_foreign_tokens_answers_200_and_changes_nothing() {
    let (app, admin, client) = ready().await;
    let t = tokens_for_gmail(&app, &admin, &client).await;
    let other = public_client(&app).await;
    let (status, _) = post_form(
        &app,
        "/revoke",
        &[("token", "gh_rt_unknown"), ("client_id", &client.id)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post_form(
        &app,
        "/revoke",
        &[
            ("token", t["refresh_token"].as_str().unwrap()),
            ("client_id", &other.id),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        mcp_status(&app, "gmail", t["access_token"].as_str().unwrap()).await,
        StatusCode::OK,
        "another client cannot revoke it"
    );
    let (status, body) = post_form(&app, "/revoke", &[("client_id", &client.id)], None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn introspection_requires_client_auth() {
    let (app, admin, public) = ready().await;
    let t = tokens_for_gmail(&app, &admin, &public).await;
    let at = t["access_token"].as_str().unwrap();
    let (status, _) = post_form(
        &app,
        "/introspect",
        &[("token", at), ("client_id", &public.id)],
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "public clients may not introspect"
    );
    let (status, _) = post_form(&app, "/introspect", &[("token", at)], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let reg: Value = register(
        &app,
        json!({ "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic" }),
    )
    .await
    .json()
    .await
    .unwrap();
    let (id, secret) = (
        reg["client_id"].as_str().unwrap(),
        reg["client_secret"].as_str().unwrap(),
    );
    let (status, _) = post_form(&app, "/introspect", &[("token", at)], Some((id, "wrong"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = post_form(&app, "/introspect", &[("token", at)], Some((id, secret))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({ "active": false }),
        "another client's token reads inactive"
    );

    let confidential = Client {
        id: id.to_owned(),
        secret: Some(secret.to_owned()),
    };
    let p = pkce();
    let code = approve(&app, &admin, &confidential, &p, Some("gmail"), &["gmail"]).await;
    let own: Value = app
        .browser()
        .client
        .post(format!("{}/token", app.base))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", p.verifier.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (_, body) = post_form(
        &app,
        "/introspect",
        &[("token", own["access_token"].as_str().unwrap())],
        Some((id, secret)),
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], id);
    assert_eq!(v["aud"], json!([format!("{}/mcp/gmail", app.base)]));
    assert_eq!(v["iss"], app.base);
    assert_eq!(v["scope"], "mcp");
}

#[tokio::test]
async fn ai_clients_page_revoke_ends_access_at_once() {
    let (app, admin, client) = ready().await;
    let t = tokens_for_gmail(&app, &admin, &client).await;
    let page = admin.page("/clients").await;
    assert!(
        page.contains("Test Client") && page.contains("unverified") && page.contains("127.0.0.1"),
        "lists the grant"
    );
    let grant: i64 = sqlx::query_scalar("SELECT id FROM grants")
        .fetch_one(&app.core.pool)
        .await
        .unwrap();
    let res = admin
        .submit(
            "/clients",
            "/api/revoke_grant",
            &[("grant", &grant.to_string())],
        )
        .await;
    assert!(admin
        .flash_after(res)
        .await
        .unwrap()
        .starts_with("Access revoked"));
    assert_eq!(
        mcp_status(&app, "gmail", t["access_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = refresh(&app, &client, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!admin.page("/clients").await.contains("Test Client"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM oauth_clients").await,
        1,
        "the shared client itself stays"
    );
}

#[tokio::test]
async fn user_a_cannot_revoke_user_b_grant() {
    let (app, admin, client) = ready().await;
    let t = tokens_for_gmail(&app, &admin, &client).await;
    let grant: i64 = sqlx::query_scalar("SELECT id FROM grants")
        .fetch_one(&app.core.pool)
        .await
        .unwrap();
    let mallory = app.user(&admin, "mallory").await;
    assert!(
        !mallory.page("/clients").await.contains("Test Client"),
        "B's grants are not listed to A"
    );
    let res = mallory
        .submit(
            "/clients",
            "/api/revoke_grant",
            &[("grant", &grant.to_string())],
        )
        .await;
    assert_eq!(mallory.flash_after(res).await.as_deref(), Some("Not found"));
    assert_eq!(
        mcp_status(&app, "gmail", t["access_token"].as_str().unwrap()).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn cleanup_removes_only_expired_rows() {
    let (app, admin, client) = ready().await;
    let live = tokens_for_gmail(&app, &admin, &client).await;
    let old = tokens_for_gmail(&app, &admin, &client).await;
    let pool = &app.core.pool;
    let past = gatehouse::clock::now() - 10;
    let old_rt = gatehouse::domain::SecretHash::of(old["refresh_token"].as_str().unwrap());
    let old_at = gatehouse::domain::SecretHash::of(old["access_token"].as_str().unwrap());
    sqlx::query("UPDATE refresh_tokens SET expires_at = $1 WHERE token_hash = $2")
        .bind(past)
        .bind(old_rt.as_str())
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE access_tokens SET expires_at = $1 WHERE token_hash = $2")
        .bind(past)
        .bind(old_at.as_str())
        .execute(pool)
        .await
        .unwrap();
    // A pending request that expired, and one that did not.
    admin
        .get(&authorize_url(&app, &client.id, Some(&pkce()), &[]))
        .await;
    admin
        .get(&authorize_url(&app, &client.id, Some(&pkce()), &[]))
        .await;
    sqlx::query("UPDATE authorization_requests SET expires_at = $1 WHERE handle_hash = (SELECT MIN(handle_hash) FROM authorization_requests)")
        .bind(past)
        .execute(pool)
        .await
        .unwrap();

    let (swept, _) = gatehouse::service::token_admin::cleanup(&app.core)
        .await
        .unwrap();
    assert_eq!(
        (swept.access_tokens, swept.refresh_tokens, swept.requests),
        (1, 1, 1)
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM access_tokens").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM refresh_tokens").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM authorization_requests")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM authorization_codes").await,
        2,
        "recently used codes stay (late replays are recognised)"
    );
    assert_eq!(
        mcp_status(&app, "gmail", live["access_token"].as_str().unwrap()).await,
        StatusCode::OK
    );
    let (status, _) = refresh(&app, &client, live["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn metadata_names_revocation_and_introspection() {
    let app = spawn_app().await;
    let meta: Value = app
        .browser()
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(meta["revocation_endpoint"], format!("{}/revoke", app.base));
    assert_eq!(
        meta["introspection_endpoint"],
        format!("{}/introspect", app.base)
    );
}

#[tokio::test]
async fn cached_validation_never_outlives_a_revocation_in_this_process() {
    let (app, admin, client) = ready().await;
    let t = tokens_for_gmail(&app, &admin, &client).await;
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(
        mcp_status(&app, "gmail", at).await,
        StatusCode::OK,
        "validated and cached"
    );
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
    assert_eq!(
        mcp_status(&app, "gmail", at).await,
        StatusCode::UNAUTHORIZED,
        "the cache was cleared by the revocation"
    );
}

async fn admin_client_action(admin: &Browser, action: &str, client_id: &str) -> Option<String> {
    let res = admin
        .submit(
            "/admin",
            "/api/client_action",
            &[("client_id", client_id), ("action", action)],
        )
        .await;
    admin.flash_after(res).await
}

#[tokio::test]
async fn admin_disable_stops_a_client_and_enable_restores_it() {
    let (app, admin, client) = ready().await;
    let t = tokens_for_gmail(&app, &admin, &client).await;
    let at = t["access_token"].as_str().unwrap();
    assert!(
        admin.page("/admin").await.contains(&client.id),
        "the admin sees every client"
    );

    assert!(admin_client_action(&admin, "disable", &client.id)
        .await
        .unwrap()
        .contains("disabled"));
    assert_eq!(
        mcp_status(&app, "gmail", at).await,
        StatusCode::UNAUTHORIZED,
        "its tokens stop at once"
    );
    let (status, _) = refresh(&app, &client, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "and it cannot authenticate"
    );
    let res = admin
        .get(&authorize_url(&app, &client.id, Some(&pkce()), &[]))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "nor authorize");

    admin_client_action(&admin, "enable", &client.id).await;
    assert_eq!(mcp_status(&app, "gmail", at).await, StatusCode::OK);
}

#[tokio::test]
async fn admin_delete_removes_the_client_with_its_grants() {
    let (app, admin, client) = ready().await;
    let t = tokens_for_gmail(&app, &admin, &client).await;
    assert!(admin_client_action(&admin, "delete", &client.id)
        .await
        .unwrap()
        .contains("deleted"));
    assert_eq!(app.count("SELECT COUNT(*) FROM grants").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM access_tokens").await, 0);
    assert_eq!(
        mcp_status(&app, "gmail", t["access_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn only_admins_manage_clients() {
    let (app, admin, client) = ready().await;
    let user = app.user(&admin, "eve").await;
    let res = user
        .submit(
            "/servers",
            "/api/client_action",
            &[("client_id", &client.id), ("action", "disable")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM oauth_clients WHERE disabled = 1")
            .await,
        0
    );
}
