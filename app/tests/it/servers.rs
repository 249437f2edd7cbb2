//! The servers registry through the dashboard's forms, and user isolation.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn add_list_and_delete_a_server() {
    let (app, admin) = spawn_app_with_admin().await;
    let res = admin
        .add_server("gmail", "https://gmail-mcp.example.com/mcp")
        .await;
    assert_eq!(
        admin.flash_after(res).await.as_deref(),
        Some("Added server 'gmail'.")
    );
    let page = admin.page("/servers").await;
    assert!(page.contains("https://gmail-mcp.example.com/mcp"));
    assert!(
        page.contains("Google (Gmail)"),
        "the detection table names the account it needs"
    );
    assert!(
        page.contains(&format!("{}/mcp/gmail", app.base)),
        "shows the Gatehouse URL to give clients"
    );

    let res = admin
        .submit("/servers", "/api/delete_server", &[("slug", "gmail")])
        .await;
    assert_eq!(
        admin.flash_after(res).await.as_deref(),
        Some("Deleted server 'gmail'.")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM mcp_servers").await, 0);
}

#[tokio::test]
async fn bad_server_input_is_refused_and_nothing_is_written() {
    let (app, admin) = spawn_app_with_admin().await;
    let cases = [
        (
            "Gmail",
            "https://x.example.com/mcp",
            "Slug: a slug uses only lowercase",
        ),
        (
            "gmail",
            "javascript:alert(1)",
            "URL: the URL must start with https://",
        ),
        (
            "gmail",
            "https://user:pw@x.example.com/",
            "URL: the URL must not carry a user name",
        ),
        (
            "",
            "https://x.example.com/mcp",
            "Slug: a slug needs 1 to 40",
        ),
    ];
    for (slug, url, message) in cases {
        let res = admin.add_server(slug, url).await;
        let shown = admin.flash_after(res).await.unwrap();
        assert!(shown.starts_with(message), "{slug} {url}: {shown}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM mcp_servers").await, 0);
}

#[tokio::test]
async fn duplicate_slug_is_a_clear_error() {
    let (app, admin) = spawn_app_with_admin().await;
    admin.add_server("drive", "https://a.example.com/mcp").await;
    let res = admin.add_server("drive", "https://b.example.com/mcp").await;
    assert_eq!(
        admin.flash_after(res).await.as_deref(),
        Some("You already have a server with the slug 'drive'")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM mcp_servers").await, 1);
}

#[tokio::test]
async fn user_a_cannot_see_or_delete_user_b_servers() {
    let (app, admin) = spawn_app_with_admin().await;
    let alice = app.user(&admin, "alice").await;
    let bob = app.user(&admin, "bob").await;
    bob.add_server("bobs-mail", "https://bob.example.com/mcp")
        .await;
    alice
        .add_server("alices-mail", "https://alice.example.com/mcp")
        .await;

    let alice_page = alice.page("/servers").await;
    assert!(!alice_page.contains("bobs-mail") && !alice_page.contains("bob.example.com"));
    assert!(alice_page.contains("alices-mail"));

    let res = alice
        .submit("/servers", "/api/delete_server", &[("slug", "bobs-mail")])
        .await;
    assert_eq!(alice.flash_after(res).await.as_deref(), Some("Not found"));
    assert!(
        bob.page("/servers").await.contains("bob.example.com"),
        "bob's server survives"
    );

    // The same slug is free for another user.
    let res = alice
        .add_server("bobs-mail", "https://alice2.example.com/mcp")
        .await;
    // (followed by what the probe found: this host does not resolve here)
    let flash = alice.flash_after(res).await.unwrap();
    assert!(flash.starts_with("Added server 'bobs-mail'. Its sign-in could not be used: the server could not be reached"), "{flash}");
    assert_eq!(app.count("SELECT COUNT(*) FROM mcp_servers").await, 3);
}

#[tokio::test]
async fn pages_need_sign_in() {
    let (app, _) = spawn_app_with_admin().await;
    let anon = app.browser();
    for path in ["/servers", "/activity", "/admin", "/clients", "/keys"] {
        let res = anon.get(path).await;
        assert_eq!(res.status(), StatusCode::FOUND, "{path}");
        assert_eq!(location(&res), "/login", "{path}");
    }
    let post = anon
        .post(
            "/api/add_server",
            &[
                ("_csrf", &anon.csrf("/login").await),
                ("slug", "x"),
                ("url", "https://x.example.com"),
            ],
        )
        .await;
    assert_eq!(location(&post), "/login");
    assert_eq!(app.count("SELECT COUNT(*) FROM mcp_servers").await, 0);
}

#[tokio::test]
async fn unknown_page_is_404() {
    let (_app, admin) = spawn_app_with_admin().await;
    let res = admin.get("/no/such/page").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap().contains("Page not found"));
}

#[tokio::test]
async fn root_signed_out_redirects_to_a_page_with_a_form() {
    // Before any account: the setup page.
    let app = spawn_app().await;
    let anon = app.browser();
    let res = anon.get("/").await;
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(location(&res), "/setup");
    assert!(anon.page("/setup").await.contains("<form"));
    // Pages that redirect while rendering answer a real redirect to any client, not a
    // 200 with a Location header (curl sends `Accept: */*`).
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = plain
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(location(&res), "/setup");
    assert!(res.text().await.unwrap().is_empty());

    // After setup, signed out: the sign-in page; signed in: the Servers page.
    let (app, admin) = spawn_app_with_admin().await;
    let res = app.browser().get("/").await;
    assert!(res.status().is_redirection());
    assert_eq!(location(&res), "/login");
    assert!(app.browser().page("/login").await.contains("<form"));
    assert_eq!(location(&admin.get("/").await), "/servers");
}
