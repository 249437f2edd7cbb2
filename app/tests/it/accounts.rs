//! First-run setup, sign-in, sign-up, invites, sign-out and what the activity log records.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn first_admin_requires_the_setup_code() {
    let app = spawn_app().await;
    let code = app
        .setup_code
        .clone()
        .expect("a fresh install prints a setup code");
    let visitor = app.browser();

    let wrong = visitor
        .setup("AAAAA-BBBBB-CCCCC-DDDDD", ADMIN, ADMIN_PASSWORD)
        .await;
    assert_eq!(location(&wrong), "/setup");
    let shown = visitor.flash_after(wrong).await.unwrap();
    assert!(shown.contains("setup code is not right"), "{shown}");
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);

    let ok = visitor
        .setup(
            &code.to_lowercase().replace('-', " "),
            ADMIN,
            ADMIN_PASSWORD,
        )
        .await;
    assert_eq!(
        location(&ok),
        "/servers",
        "typed case-insensitively, spaces allowed"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE is_admin = 1")
            .await,
        1
    );
    let page = visitor.page("/servers").await;
    assert!(page.contains("You are the administrator"));
}

#[tokio::test]
async fn setup_code_is_single_use_and_signup_is_closed_after_the_admin() {
    let app = spawn_app().await;
    let code = app.setup_code.clone().unwrap();
    let first = app.browser();
    assert_eq!(
        location(&first.setup(&code, ADMIN, ADMIN_PASSWORD).await),
        "/servers"
    );

    let second = app.browser();
    let again = second
        .post(
            "/api/setup",
            &[
                ("_csrf", &second.csrf("/login").await),
                ("code", &code),
                ("username", "mallory"),
                ("password", "mallory password"),
            ],
        )
        .await;
    assert_eq!(location(&again), "/setup");
    let signup = second
        .post(
            "/api/sign_up",
            &[
                ("_csrf", &second.csrf("/login").await),
                ("username", "mallory"),
                ("password", "mallory password"),
            ],
        )
        .await;
    assert_eq!(location(&signup), "/login");
    assert!(second
        .flash_after(signup)
        .await
        .unwrap()
        .contains("Sign-up is closed"));
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    assert!(second.page("/signup").await.contains("Sign-up is closed"));
}

#[tokio::test]
async fn open_signup_creates_ordinary_users() {
    let (app, _admin) = spawn_app_with_admin_and(&[("GATEHOUSE_OPEN_SIGNUP", "true")]).await;
    let visitor = app.browser();
    let res = visitor
        .submit(
            "/signup",
            "/api/sign_up",
            &[("username", "Bob"), ("password", "bob password 1")],
        )
        .await;
    assert_eq!(location(&res), "/servers");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE username = 'bob' AND is_admin = 0")
            .await,
        1
    );
}

#[tokio::test]
async fn wrong_password_is_refused_with_a_message() {
    let (app, _) = spawn_app_with_admin().await;
    let visitor = app.browser();
    let res = visitor.sign_in(ADMIN, "not the password").await;
    assert_eq!(location(&res), "/login");
    assert_eq!(
        visitor.flash_after(res).await.as_deref(),
        Some("Wrong username or password")
    );
    assert_eq!(
        location(&visitor.get("/servers").await),
        "/login",
        "still signed out"
    );
}

async fn timed_failure(
    app: &TestApp,
    user: &str,
) -> (Duration, StatusCode, String, Option<String>) {
    let b = app.browser();
    let csrf = b.csrf("/login").await;
    let started = Instant::now();
    let res = b
        .post(
            "/login",
            &[
                ("_csrf", &csrf),
                ("username", user),
                ("password", "wrong password!"),
            ],
        )
        .await;
    let took = started.elapsed();
    let (status, to) = (res.status(), location(&res));
    (took, status, to, b.flash_after(res).await)
}

#[tokio::test]
async fn unknown_user_gets_the_same_response_in_similar_time() {
    let (app, _) = spawn_app_with_admin().await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..3 {
        let k = timed_failure(&app, ADMIN).await;
        let u = timed_failure(&app, &format!("nobody{i}")).await;
        assert_eq!(
            (k.1, &k.2, &k.3),
            (u.1, &u.2, &u.3),
            "identical status, redirect and message"
        );
        known.push(k.0);
        unknown.push(u.0);
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[1].as_secs_f64(), unknown[1].as_secs_f64());
    // Both run one argon2 verification; without the dummy hash the unknown case is ~100x faster.
    assert!(
        u > k * 0.4 && u < k * 2.5,
        "median known {k:.4}s vs unknown {u:.4}s"
    );
}

#[tokio::test]
async fn sign_in_cycles_the_session_id_and_sign_out_ends_it() {
    let (app, admin) = spawn_app_with_admin().await;
    let visitor = app.browser();
    let login = visitor.get("/login").await;
    let before = session_cookie(&login).expect("anonymous session for the CSRF token");
    let csrf = csrf_in(&login.text().await.unwrap());
    let res = visitor
        .post(
            "/login",
            &[
                ("_csrf", &csrf),
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(location(&res), "/servers");
    let after = session_cookie(&res).expect("a new cookie at sign-in");
    assert_ne!(before, after, "session id must change at sign-in");
    assert!(visitor.page("/servers").await.contains("Sign out"));

    let out = visitor.submit("/servers", "/api/sign_out", &[]).await;
    assert_eq!(location(&out), "/login");
    assert_eq!(location(&visitor.get("/servers").await), "/login");
    drop(admin);
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("gatehouse_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_account() {
    let (app, _) = spawn_app_with_admin().await;
    let b = app.browser();
    let csrf = b.csrf("/login").await;
    for _ in 0..5 {
        let res = b
            .post(
                "/login",
                &[
                    ("_csrf", &csrf),
                    ("username", ADMIN),
                    ("password", "guess guess"),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    }
    let limited = b
        .post(
            "/login",
            &[
                ("_csrf", &csrf),
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert!(limited
        .text()
        .await
        .unwrap()
        .contains("Too many sign-in attempts"));
    // Another account from the same address is still served.
    let other = b
        .post(
            "/login",
            &[
                ("_csrf", &csrf),
                ("username", "someone"),
                ("password", "guess guess"),
            ],
        )
        .await;
    assert_eq!(other.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_ip_behind_a_trusted_proxy() {
    let app = spawn_app_with(&[("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let b = app.browser();
    let csrf = b.csrf("/setup").await;
    let attempt = |ip: &'static str, n: usize| {
        let csrf = csrf.clone();
        let client = b.client.clone();
        let url = format!("{}/login", b.base);
        async move {
            client
                .post(url)
                .header("x-forwarded-for", ip)
                .form(&[
                    ("_csrf", csrf.as_str()),
                    ("username", &format!("user{n}")),
                    ("password", "guess guess"),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for n in 0..20 {
        assert_eq!(attempt("198.51.100.1", n).await, StatusCode::SEE_OTHER);
    }
    assert_eq!(
        attempt("198.51.100.1", 99).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        attempt("198.51.100.2", 99).await,
        StatusCode::SEE_OTHER,
        "another client behind the proxy"
    );
}

#[tokio::test]
async fn invite_link_sets_the_password_once() {
    let (app, admin) = spawn_app_with_admin().await;
    let link = admin.invite("carol").await;
    let path = link.strip_prefix(&app.base).unwrap().to_owned();
    assert!(path.starts_with("/invite/gh_inv_"));
    let token = path.strip_prefix("/invite/").unwrap();
    let carol = app.browser();
    assert!(carol.page(&path).await.contains("carol"));
    let short = carol
        .submit(
            &path,
            "/api/accept_invite",
            &[("token", token), ("password", "short")],
        )
        .await;
    assert!(carol
        .flash_after(short)
        .await
        .unwrap()
        .contains("at least 8"));
    let ok = carol
        .submit(
            &path,
            "/api/accept_invite",
            &[("token", token), ("password", "carol password 1")],
        )
        .await;
    assert_eq!(location(&ok), "/servers");
    assert!(
        app.browser().page(&path).await.contains("Invite not valid"),
        "single use"
    );
    let again = app.browser();
    assert_eq!(
        location(&again.sign_in("carol", "carol password 1").await),
        "/servers"
    );
}

#[tokio::test]
async fn only_admins_invite() {
    let (app, admin) = spawn_app_with_admin().await;
    let dave = app.user(&admin, "dave").await;
    let res = dave
        .submit("/servers", "/api/invite_user", &[("username", "eve")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE username = 'eve'")
            .await,
        0
    );
    let page = dave.get("/admin").await.text().await.unwrap();
    assert!(page.contains("may not do this"));
    assert!(!page.contains("Invite a user"));
}

#[tokio::test]
async fn activity_records_auth_and_server_events_per_user() {
    let (app, admin) = spawn_app_with_admin().await;
    let frank = app.user(&admin, "frank").await;
    frank
        .add_server("notes", "https://notes.example.com/mcp?key=sekrit")
        .await;
    frank
        .submit("/servers", "/api/delete_server", &[("slug", "notes")])
        .await;
    let failed = app.browser();
    failed.sign_in("frank", "wrong password").await;
    frank.submit("/servers", "/api/sign_out", &[]).await;

    let frank = app.browser();
    frank.sign_in("frank", "user password 123").await;
    let page = frank.page("/activity").await;
    for kind in [
        "auth.sign_in",
        "auth.sign_in_failed",
        "auth.sign_out",
        "server.added",
        "server.deleted",
        "user.invite_accepted",
    ] {
        assert!(
            page.contains(&format!("data-kind=\"{kind}\"")),
            "frank sees {kind}"
        );
    }
    assert!(!page.contains("sekrit"), "URLs in the log are redacted");
    assert!(
        !page.contains("data-kind=\"user.created\""),
        "frank does not see the admin's own setup event"
    );

    let all = admin.page("/activity").await;
    assert!(all.contains("All accounts"));
    assert!(
        all.contains("data-kind=\"user.created\"") && all.contains("data-kind=\"server.added\"")
    );
}
