//! Hardening of accounts and sign-in (issue 17): a password change ends older sessions.

use reqwest::StatusCode;

use crate::cli::gatehouse_async_with_input;
use crate::helpers::*;

#[tokio::test]
async fn a_password_change_ends_the_sessions_that_began_before_it() {
    let (app, admin) = spawn_app_with_admin().await;
    assert_eq!(admin.get("/servers").await.status(), StatusCode::OK);
    let out = gatehouse_async_with_input(
        &app.data_dir,
        &[],
        &["user", "set-password", ADMIN, "--password-stdin"],
        Some("a brand new password\n"),
    )
    .await;
    assert!(out.status.success());
    // The session signed in with the old password is over at once.
    let res = admin.get("/servers").await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(location(&res), "/login");
    // Signing in again with the new password gives a working session.
    let again = app.browser();
    assert_eq!(
        location(&again.sign_in(ADMIN, "a brand new password").await),
        "/servers"
    );
    assert_eq!(again.get("/servers").await.status(), StatusCode::OK);
}

mod authorize_errors {
    use reqwest::StatusCode;
    use serde_json::json;

    use crate::helpers::*;
    use crate::oauth_helpers::*;

    #[tokio::test]
    async fn a_self_registered_clients_error_names_its_host_before_any_redirect() {
        let (app, admin, client) = ready().await;
        // No PKCE: an error the client's redirect URI may receive.
        let res = admin.get(&authorize_url(&app, &client.id, None, &[])).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res.headers().get("location").is_none(), "no open redirect");
        let page = res.text().await.unwrap();
        assert!(
            page.contains("127.0.0.1:45678"),
            "the host is named: {page}"
        );
        assert!(page.contains("Continue to"));
        // Anonymous visitors get the error page and no link at all.
        let anon = app
            .browser()
            .get(&authorize_url(&app, &client.id, None, &[]))
            .await;
        assert_eq!(anon.status(), StatusCode::BAD_REQUEST);
        assert!(!anon.text().await.unwrap().contains("Continue to"));
    }

    #[tokio::test]
    async fn a_known_clients_error_goes_back_at_once() {
        let (app, admin, _) = ready().await;
        let claude = "https://claude.ai/api/mcp/auth_callback";
        let res = register(
            &app,
            json!({ "redirect_uris": [claude], "token_endpoint_auth_method": "none" }),
        )
        .await;
        let id: serde_json::Value = res.json().await.unwrap();
        let url = authorize_url(&app, id["client_id"].as_str().unwrap(), None, &[])
            .replace(&urlencode(REDIRECT), &urlencode(claude));
        let res = admin.get(&url).await;
        assert_eq!(res.status(), StatusCode::FOUND);
        assert!(location(&res).starts_with(claude));
    }

    fn urlencode(text: &str) -> String {
        url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
    }
}
