//! The authorization server end to end over HTTP: discovery, DCR, authorize + consent,
//! token grants, rotation, replay, resource binding, CORS. Named after what they defend.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::oauth_helpers::*;

#[tokio::test]
async fn metadata_fields_and_issuer_identity() {
    let app = spawn_app().await;
    let b = app.browser();
    let meta: Value = b
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(meta["issuer"], app.base);
    for (field, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("registration_endpoint", "/register"),
    ] {
        assert_eq!(meta[field], format!("{}{path}", app.base), "{field}");
    }
    assert_eq!(meta["response_types_supported"], json!(["code"]));
    assert_eq!(
        meta["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(meta["scopes_supported"], json!(["mcp"]));
    assert!(meta["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("none")));
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    let oidc: Value = b
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(oidc, meta, "the OpenID path serves the same document");

    let prm: Value = b
        .get("/.well-known/oauth-protected-resource/mcp/gmail")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(prm["resource"], format!("{}/mcp/gmail", app.base));
    assert_eq!(prm["authorization_servers"], json!([app.base]));
    let root: Value = b
        .get("/.well-known/oauth-protected-resource")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(root["resource"], app.base);
    assert_eq!(
        b.get("/.well-known/oauth-protected-resource/mcp/Not_A_Slug")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn mcp_without_token_gets_the_discovery_challenge() {
    let app = spawn_app().await;
    let b = app.browser();
    let res = b
        .client
        .post(format!("{}/mcp/gmail", app.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(challenge, format!("Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp/gmail\", scope=\"mcp\"", app.base));
    let bad = b
        .client
        .post(format!("{}/mcp/gmail", app.base))
        .bearer_auth("gh_at_garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert!(bad.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"invalid_token\""));
    // A token in the query string is not a credential: the client gets the challenge it
    // needs to discover how to authenticate (RFC 6750 §3.1), not a 400.
    let query = b
        .client
        .post(format!("{}/mcp/gmail?access_token=gh_at_x", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        query.status(),
        StatusCode::UNAUTHORIZED,
        "tokens in the query string are refused"
    );
    assert!(query.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer resource_metadata="));
}

#[tokio::test]
async fn full_flow_token_works_at_its_resource_and_the_gateway_names_the_missing_connection() {
    let (app, admin, client) = ready().await;
    let tokens = tokens_for_gmail(&app, &admin, &client).await;
    assert!(tokens["access_token"]
        .as_str()
        .unwrap()
        .starts_with("gh_at_"));
    assert!(tokens["refresh_token"]
        .as_str()
        .unwrap()
        .starts_with("gh_rt_"));
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(
        tokens["scope"], "mcp",
        "unknown requested scopes are dropped"
    );
    let res = app
        .browser()
        .client
        .post(format!("{}/mcp/gmail", app.base))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .json(&json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Accepted: the gateway answers for the upstream, whose account is not connected yet.
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["id"], 7);
    assert_eq!(body["error"]["data"]["server"], "gmail");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("needs you to sign in again"));
    let stored: i64 = app
        .count("SELECT COUNT(*) FROM access_tokens WHERE token_hash LIKE 'gh_%'")
        .await;
    assert_eq!(stored, 0, "tokens are stored only as hashes");
}

#[tokio::test]
async fn token_for_other_resource_is_rejected() {
    let (app, admin, client) = ready().await;
    let tokens = tokens_for_gmail(&app, &admin, &client).await;
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(mcp_status(&app, "gmail", at).await, StatusCode::OK);
    assert_eq!(
        mcp_status(&app, "drive", at).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn deleting_a_server_ends_access_to_it() {
    let (app, admin, client) = ready().await;
    let tokens = tokens_for_gmail(&app, &admin, &client).await;
    admin
        .submit("/servers", "/api/delete_server", &[("slug", "gmail")])
        .await;
    assert_eq!(
        mcp_status(&app, "gmail", tokens["access_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn pkce_missing_is_rejected() {
    let (app, admin, client) = ready().await;
    let res = admin.get(&authorize_url(&app, &client.id, None, &[])).await;
    // Signed in: the error goes back to the client (after its host is shown).
    let q = query_of(&error_destination(res).await);
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], "st4te");
    assert_eq!(q["iss"], app.base);
}

#[tokio::test]
async fn pkce_plain_is_rejected() {
    let (app, admin, client) = ready().await;
    let p = pkce();
    let url = authorize_url(
        &app,
        &client.id,
        None,
        &[
            ("code_challenge", &p.verifier),
            ("code_challenge_method", "plain"),
        ],
    );
    let q = query_of(&error_destination(admin.get(&url).await).await);
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].contains("S256"));
}

#[tokio::test]
async fn errors_before_sign_in_never_redirect() {
    let (app, _admin, client) = ready().await;
    let anon = app.browser();
    for url in [
        authorize_url(&app, &client.id, None, &[]),
        authorize_url(
            &app,
            &client.id,
            Some(&pkce()),
            &[("response_type", "token")],
        ),
    ] {
        let res = anon.get(&url).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{url}");
        assert!(res.headers().get("location").is_none());
        assert!(res.text().await.unwrap().contains("not valid"));
    }
}

#[tokio::test]
async fn unregistered_redirect_never_redirects() {
    let (app, admin, client) = ready().await;
    for redirect in [
        "https://evil.example/cb",
        "http://127.0.0.1:45678/other",
        "javascript:alert(1)",
    ] {
        let url = authorize_url(&app, &client.id, Some(&pkce()), &[]).replace(
            &url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
            &url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>(),
        );
        let res = admin.get(&url).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{redirect}");
        assert!(res.headers().get("location").is_none(), "{redirect}");
    }
    let unknown_client = admin
        .get(&authorize_url(&app, "no-such-client", Some(&pkce()), &[]))
        .await;
    assert_eq!(unknown_client.status(), StatusCode::BAD_REQUEST);
    assert!(unknown_client.headers().get("location").is_none());
}

#[tokio::test]
async fn loopback_redirect_may_change_port() {
    let (app, admin, client) = ready().await;
    let url = authorize_url(&app, &client.id, Some(&pkce()), &[]).replace("45678", "50001");
    let res = admin.get(&url).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "RFC 8252 §7.3: any port on loopback"
    );
}

#[tokio::test]
async fn wrong_verifier_is_rejected() {
    let (app, admin, client) = ready().await;
    let p = pkce();
    let code = approve(&app, &admin, &client, &p, Some("gmail"), &["gmail"]).await;
    let (status, body) = exchange(&app, &client, &code, &pkce().verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    let (status, _) = exchange(&app, &client, &code, &p.verifier).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a failed attempt does not burn the code"
    );
}

#[tokio::test]
async fn valid_code_replay_revokes_its_tokens() {
    let (app, admin, client) = ready().await;
    let p = pkce();
    let code = approve(&app, &admin, &client, &p, Some("gmail"), &["gmail"]).await;
    let (_, tokens) = exchange(&app, &client, &code, &p.verifier).await;
    let (status, body) = exchange(&app, &client, &code, &p.verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        mcp_status(&app, "gmail", tokens["access_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn invalid_code_replay_revokes_nothing() {
    let (app, admin, client) = ready().await;
    let p = pkce();
    let code = approve(&app, &admin, &client, &p, Some("gmail"), &["gmail"]).await;
    let (_, tokens) = exchange(&app, &client, &code, &p.verifier).await;
    let (status, _) = exchange(&app, &client, &code, &pkce().verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let other = public_client(&app).await;
    let (status, _) = exchange(&app, &other, &code, &p.verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        mcp_status(&app, "gmail", tokens["access_token"].as_str().unwrap()).await,
        StatusCode::OK,
        "still valid"
    );
}

#[tokio::test]
async fn refresh_rotates_and_the_new_pair_works() {
    let (app, admin, client) = ready().await;
    let first = tokens_for_gmail(&app, &admin, &client).await;
    // Written with the pair, in one batch: the grant's last use and the event.
    let count = |sql: &'static str| app.count(sql);
    assert_eq!(
        count("SELECT COUNT(*) FROM grants WHERE last_used_at IS NOT NULL").await,
        1
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_events WHERE kind = 'token.issued'").await,
        1
    );
    let (status, second) = refresh(&app, &client, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(
        count("SELECT COUNT(*) FROM refresh_tokens WHERE used_at IS NOT NULL").await,
        1
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_events WHERE kind = 'token.refreshed'").await,
        1
    );
    assert_eq!(
        mcp_status(&app, "gmail", second["access_token"].as_str().unwrap()).await,
        StatusCode::OK
    );
    let foreign = public_client(&app).await;
    let (status, body) = refresh(&app, &foreign, second["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn refresh_retry_within_grace_gets_fresh_pair() {
    let (app, admin, client) = ready().await;
    let first = tokens_for_gmail(&app, &admin, &client).await;
    let rt = first["refresh_token"].as_str().unwrap();
    let (s1, a) = refresh(&app, &client, rt).await;
    let (s2, b) = refresh(&app, &client, rt).await;
    assert_eq!(
        (s1, s2),
        (StatusCode::OK, StatusCode::OK),
        "a lost response can be retried"
    );
    assert_ne!(a["access_token"], b["access_token"]);
    assert_eq!(
        mcp_status(&app, "gmail", b["access_token"].as_str().unwrap()).await,
        StatusCode::OK,
        "the family lives on"
    );
    // The retry superseded the pair whose answer was lost: one chain lives.
    assert_eq!(
        mcp_status(&app, "gmail", a["access_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED,
    );
}

#[tokio::test]
async fn refresh_reuse_after_successor_use_revokes_family() {
    let (app, admin, client) = ready().await;
    let first = tokens_for_gmail(&app, &admin, &client).await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let (_, second) = refresh(&app, &client, rt1).await;
    let (_, third) = refresh(&app, &client, second["refresh_token"].as_str().unwrap()).await;
    let (status, body) = refresh(&app, &client, rt1).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        mcp_status(&app, "gmail", third["access_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED,
        "whole family revoked"
    );
    let (status, _) = refresh(&app, &client, third["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'token.reuse_detected'")
            .await,
        1
    );
}

#[tokio::test]
async fn refresh_reuse_after_grace_revokes_family() {
    let (app, admin, client) = ready_with(&[("GATEHOUSE_REFRESH_GRACE", "0")]).await;
    let first = tokens_for_gmail(&app, &admin, &client).await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let (_, second) = refresh(&app, &client, rt1).await;
    let (status, _) = refresh(&app, &client, rt1).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "outside the (zero) grace window"
    );
    assert_eq!(
        mcp_status(&app, "gmail", second["access_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn consent_post_without_csrf_is_rejected() {
    let (app, admin, client) = ready().await;
    let res = admin
        .get(&authorize_url(&app, &client.id, Some(&pkce()), &[]))
        .await;
    let consent = location(&res);
    let res = admin
        .post(&consent, &[("decision", "approve"), ("server", "gmail")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM authorization_codes").await,
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM grants").await, 0);
}

#[tokio::test]
async fn deny_sends_access_denied_with_state_and_iss() {
    let (app, admin, client) = ready().await;
    let consent = location(
        &admin
            .get(&authorize_url(&app, &client.id, Some(&pkce()), &[]))
            .await,
    );
    let res = admin
        .submit(&consent, &consent, &[("decision", "deny")])
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let q = query_of(&location(&res));
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str(), q["iss"].as_str()),
        ("access_denied", "st4te", app.base.as_str())
    );
    let again = admin
        .post(
            &consent,
            &[
                ("_csrf", &admin.csrf("/servers").await),
                ("decision", "approve"),
                ("server", "gmail"),
            ],
        )
        .await;
    assert_eq!(location(&again), consent, "a request is answered once");
}

#[tokio::test]
async fn consent_without_resource_asks_which_servers() {
    let (app, admin, client) = ready().await;
    let consent = location(
        &admin
            .get(&authorize_url(&app, &client.id, Some(&pkce()), &[]))
            .await,
    );
    let page = admin.page(&consent).await;
    assert!(
        page.contains("value=\"gmail\"") && page.contains("value=\"drive\""),
        "both servers offered"
    );
    assert!(
        page.contains("unverified"),
        "DCR clients are marked unverified"
    );
    assert!(page.contains("127.0.0.1"), "the redirect host is shown");
    assert!(
        page.contains("runs on your own computer"),
        "loopback warning"
    );
    let p = pkce();
    let code = approve(&app, &admin, &client, &p, None, &["drive"]).await;
    let (_, tokens) = exchange(&app, &client, &code, &p.verifier).await;
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(mcp_status(&app, "drive", at).await, StatusCode::OK);
    assert_eq!(
        mcp_status(&app, "gmail", at).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn unknown_resource_is_invalid_target() {
    let (app, admin, client) = ready().await;
    let resource = format!("{}/mcp/calendar", app.base);
    let consent = location(
        &admin
            .get(&authorize_url(
                &app,
                &client.id,
                Some(&pkce()),
                &[("resource", &resource)],
            ))
            .await,
    );
    let page = admin.page(&consent).await;
    assert!(page.contains("a server you do not have: calendar"));
    assert!(!page.contains("value=\"approve\""), "nothing to approve");
    let res = admin
        .submit(&consent, &consent, &[("decision", "deny")])
        .await;
    assert_eq!(query_of(&location(&res))["error"], "invalid_target");
    let foreign = admin
        .get(&authorize_url(
            &app,
            &client.id,
            Some(&pkce()),
            &[("resource", "https://elsewhere.example/mcp/gmail")],
        ))
        .await;
    assert_eq!(
        query_of(&error_destination(foreign).await)["error"],
        "invalid_target"
    );
}

#[tokio::test]
async fn sign_in_from_consent_returns_to_consent() {
    let (app, _admin, client) = ready().await;
    let visitor = app.browser();
    let consent = location(
        &visitor
            .get(&authorize_url(&app, &client.id, Some(&pkce()), &[]))
            .await,
    );
    let page = visitor.page(&consent).await;
    assert!(page.contains("Sign in to continue"));
    let handle = consent.trim_start_matches("/consent/");
    let res = visitor
        .post(
            "/login",
            &[
                ("_csrf", &csrf_in(&page)),
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
                ("authz", handle),
            ],
        )
        .await;
    assert_eq!(location(&res), consent);
    assert!(visitor.page(&consent).await.contains("Allow access?"));
    let bogus = visitor
        .post(
            "/login",
            &[
                ("_csrf", &visitor.csrf("/servers").await),
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
                ("authz", "https://evil.example"),
            ],
        )
        .await;
    assert_eq!(
        location(&bogus),
        "/servers",
        "an unknown handle is ignored, never followed"
    );
}

#[tokio::test]
async fn dcr_rejects_javascript_and_remote_http_redirects() {
    let app = spawn_app().await;
    for uri in [
        "javascript:alert(1)",
        "http://evil.example/cb",
        "data:text/html,hi",
        "file:///etc/passwd",
    ] {
        let res = register(
            &app,
            json!({ "redirect_uris": [uri], "token_endpoint_auth_method": "none" }),
        )
        .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{uri}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_redirect_uri", "{uri}");
    }
    let res = register(&app, json!({ "redirect_uris": ["https://ok.example/cb"], "grant_types": ["client_credentials"] })).await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client_metadata"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM oauth_clients").await, 0);
}

#[tokio::test]
async fn dcr_creates_a_new_client_per_call_and_confidential_clients_authenticate() {
    let (app, admin, _) = ready().await;
    let body = json!({ "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic", "client_name": "Server App", "application_type": "native" });
    let a: Value = register(&app, body.clone()).await.json().await.unwrap();
    let b: Value = register(&app, body).await.json().await.unwrap();
    assert_ne!(a["client_id"], b["client_id"]);
    assert!(a["client_secret"].as_str().unwrap().starts_with("gh_cs_"));
    assert_eq!(a["client_secret_expires_at"], 0);
    assert_eq!(
        a["grant_types"],
        json!(["authorization_code", "refresh_token"]),
        "refresh tokens are issued anyway"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM oauth_clients WHERE application_type = 'native'")
            .await,
        2
    );

    let client = Client {
        id: a["client_id"].as_str().unwrap().into(),
        secret: a["client_secret"].as_str().map(str::to_owned),
    };
    let p = pkce();
    let code = approve(&app, &admin, &client, &p, Some("gmail"), &["gmail"]).await;
    let http = app.browser().client;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", p.verifier.as_str()),
    ];
    let wrong = http
        .post(format!("{}/token", app.base))
        .basic_auth(&client.id, Some("wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let none = http
        .post(format!("{}/token", app.base))
        .form(&[form.as_slice(), &[("client_id", client.id.as_str())]].concat())
        .send()
        .await
        .unwrap();
    assert_eq!(
        none.status(),
        StatusCode::UNAUTHORIZED,
        "a confidential client must authenticate"
    );
    let ok = http
        .post(format!("{}/token", app.base))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn token_endpoint_errors_are_rfc_shaped() {
    let app = spawn_app().await;
    let (status, body) = token(
        &app,
        &[
            ("grant_type", "password"),
            ("username", "a"),
            ("password", "b"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let (status, body) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (status, body) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "gh_rt_nope"),
            ("client_id", "nobody"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let res = app
        .browser()
        .client
        .post(format!("{}/token", app.base))
        .json(&json!({"grant_type": "refresh_token"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "JSON bodies are not accepted"
    );
}

#[tokio::test]
async fn oversized_bodies_are_rejected() {
    let app = spawn_app().await;
    let big = "x".repeat(20 * 1024);
    let http = app.browser().client;
    let reg = http
        .post(format!("{}/register", app.base))
        .header("content-type", "application/json")
        .body(format!("{{\"client_name\":\"{big}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(reg.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let tok = http
        .post(format!("{}/token", app.base))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", big.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(tok.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let garbage = http
        .post(format!("{}/register", app.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count("SELECT COUNT(*) FROM oauth_clients").await, 0);
}

#[tokio::test]
async fn cors_on_token_not_on_authorize() {
    let (app, _admin, client) = ready().await;
    let http = app.browser().client;
    let origin = "http://localhost:6274";
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{}/token", app.base))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let mcp = http
        .post(format!("{}/mcp/gmail", app.base))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(mcp.headers()["access-control-allow-origin"], "*");
    let exposed = mcp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("www-authenticate") && exposed.contains("mcp-session-id"),
        "{exposed}"
    );
    let meta = http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            app.base
        ))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(meta.headers()["access-control-allow-origin"], "*");
    let authz = http
        .get(format!(
            "{}{}",
            app.base,
            authorize_url(&app, &client.id, Some(&pkce()), &[])
        ))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert!(authz.headers().get("access-control-allow-origin").is_none());
    let login = http
        .get(format!("{}/login", app.base))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert!(login.headers().get("access-control-allow-origin").is_none());
}

/// A refresh may narrow the grant's resources, never widen them (RFC 8707 §2.2), and a
/// server deleted since the grant drops out of the next pair (the grant's servers are read
/// with the refresh token).
#[tokio::test]
async fn refresh_narrows_to_granted_servers_and_drops_deleted_ones() {
    let (app, admin, client) = ready().await;
    let p = pkce();
    let code = approve(&app, &admin, &client, &p, None, &["gmail", "drive"]).await;
    let (_, tokens) = exchange(&app, &client, &code, &p.verifier).await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let resource = |slug: &str| format!("{}/mcp/{slug}", app.base);
    let refresh_for = |rt: String, wanted: Option<String>| {
        let app = &app;
        let client = &client;
        async move {
            let mut form = vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", rt),
                ("client_id", client.id.clone()),
            ];
            if let Some(r) = wanted {
                form.push(("resource", r));
            }
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            token(app, &form).await
        }
    };

    let (status, narrowed) = refresh_for(rt.to_owned(), Some(resource("drive"))).await;
    assert_eq!(status, StatusCode::OK, "{narrowed}");
    let at = narrowed["access_token"].as_str().unwrap();
    assert_eq!(mcp_status(&app, "drive", at).await, StatusCode::OK);
    assert_eq!(
        mcp_status(&app, "gmail", at).await,
        StatusCode::UNAUTHORIZED
    );

    let rt = narrowed["refresh_token"].as_str().unwrap().to_owned();
    let (status, body) = refresh_for(rt.clone(), Some(resource("calendar"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_target"))
    );

    admin
        .submit("/servers", "/api/delete_server", &[("slug", "drive")])
        .await;
    let (status, body) = refresh_for(rt.clone(), Some(resource("drive"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_target")),
        "a deleted server is no longer granted"
    );
    let (status, rest) = refresh_for(rt, None).await;
    assert_eq!(status, StatusCode::OK, "{rest}");
    let at = rest["access_token"].as_str().unwrap();
    assert_eq!(mcp_status(&app, "gmail", at).await, StatusCode::OK);
}

/// A refused refresh ends the write transaction it began: one left open would hold the
/// database's write lock, and every later write would fail ("database is locked", or
/// "cannot start a transaction within a transaction" on the same connection).
#[tokio::test]
async fn a_refused_refresh_leaves_no_transaction_open() {
    let (app, admin, client) = ready().await;
    let first = tokens_for_gmail(&app, &admin, &client).await;
    let rt = first["refresh_token"].as_str().unwrap();
    let (status, body) = refresh(&app, &client, "not-a-refresh-token").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    let drive = format!("{}/mcp/drive", app.base);
    let widened = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt),
        ("client_id", client.id.as_str()),
        ("resource", drive.as_str()),
    ];
    let (status, body) = token(&app, &widened).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_target", "{body}");
    let (status, body) = refresh(&app, &client, rt).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["refresh_token"].is_string(), "{body}");
}

/// Approving a consent holds one connection, not two: it read the user's servers through
/// the pool while its write transaction held a connection, so with every connection in
/// such a transaction (one here) it waited for itself until the pool gave up (a 500).
#[tokio::test]
async fn a_consent_is_approved_on_a_single_database_connection() {
    let (app, admin, client) = ready_with(&[("GATEHOUSE_DATABASE_POOL_SIZE", "1")]).await;
    let tokens = tokens_for_gmail(&app, &admin, &client).await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (status, body) = refresh(&app, &client, rt).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
