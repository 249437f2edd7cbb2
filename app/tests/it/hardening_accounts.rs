//! Hardening of accounts and sign-in (issue 17): a password change ends older sessions.

use reqwest::StatusCode;

use crate::cli::gatehouse;
use crate::helpers::*;

#[tokio::test]
async fn a_password_change_ends_the_sessions_that_began_before_it() {
    let (app, admin) = spawn_app_with_admin().await;
    assert_eq!(admin.get("/servers").await.status(), StatusCode::OK);
    let out = gatehouse(
        &app.data_dir,
        &["user", "set-password", ADMIN, "--password-stdin"],
        Some("a brand new password\n"),
    );
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
