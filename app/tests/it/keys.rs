//! Encryption keys at start-up (DESIGN.md §6): generated once into the data directory, and a
//! wrong key stops start-up with one clear line.

use base64::{engine::general_purpose::STANDARD, Engine};

use crate::helpers::*;

#[tokio::test]
async fn first_run_generates_a_private_key_file_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = gatehouse_app::server::build(test_config(dir.path(), &[]))
        .await
        .unwrap();
    assert!(matches!(
        server.key_source,
        gatehouse::service::startup::KeySource::Generated(_)
    ));
    let path = dir.path().join("encryption.key");
    let first = std::fs::read_to_string(&path).unwrap();
    assert!(first.starts_with("k1:"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    drop(server);
    let again = gatehouse_app::server::build(test_config(dir.path(), &[]))
        .await
        .unwrap();
    assert!(matches!(
        again.key_source,
        gatehouse::service::startup::KeySource::File(_)
    ));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        first,
        "never regenerated"
    );
}

#[tokio::test]
async fn restart_with_wrong_key_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let right = format!("k1:{}", STANDARD.encode([1u8; 32]));
    let wrong = format!("k1:{}", STANDARD.encode([2u8; 32]));
    drop(
        gatehouse_app::server::build(test_config(
            dir.path(),
            &[("GATEHOUSE_ENCRYPTION_KEYS", &right)],
        ))
        .await
        .unwrap(),
    );
    let err = match gatehouse_app::server::build(test_config(
        dir.path(),
        &[("GATEHOUSE_ENCRYPTION_KEYS", &wrong)],
    ))
    .await
    {
        Ok(_) => panic!("a wrong key must stop start-up"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("GATEHOUSE_ENCRYPTION_KEYS")
            && err.contains("key 'k1' is not the key")
            && err.contains("Fix:"),
        "{err}"
    );
    assert!(
        !err.contains(&wrong[3..]),
        "the key never appears in messages"
    );
    // Adding a new key in front of the right one is how rotation starts: accepted.
    let rotated = format!("k2:{},{right}", STANDARD.encode([9u8; 32]));
    assert!(gatehouse_app::server::build(test_config(
        dir.path(),
        &[("GATEHOUSE_ENCRYPTION_KEYS", &rotated)]
    ))
    .await
    .is_ok());
}

#[tokio::test]
async fn server_urls_and_credentials_are_stored_encrypted() {
    let (app, admin) = spawn_app_with_admin().await;
    let res = admin
        .submit(
            "/servers",
            "/api/add_server",
            &[
                ("slug", "gmail"),
                ("url", "https://gmail-mcp.example.com/mcp?key=abc"),
                ("name", ""),
                ("credential", "sk-live-SECRET"),
            ],
        )
        .await;
    assert_eq!(
        admin.flash_after(res).await.as_deref(),
        Some("Added server 'gmail'.")
    );
    let (url, credential): (String, String) =
        sqlx::query_as("SELECT url, static_credential FROM mcp_servers")
            .fetch_one(&app.core.pool)
            .await
            .unwrap();
    assert!(
        url.starts_with("gh1.k1.") && !url.contains("example.com"),
        "{url}"
    );
    assert!(credential.starts_with("gh1.k1.") && !credential.contains("SECRET"));
    let page = admin.page("/servers").await;
    assert!(
        page.contains("https://gmail-mcp.example.com/mcp?…"),
        "shown decrypted, query redacted"
    );
    assert!(page.contains("static credential stored") && !page.contains("sk-live-SECRET"));
}

#[tokio::test]
async fn plaintext_urls_from_an_earlier_version_are_encrypted_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let server = gatehouse_app::server::build(test_config(dir.path(), &[]))
        .await
        .unwrap();
    let pool = server.core.pool.clone();
    sqlx::query("INSERT INTO users (username, is_admin, created_at) VALUES ('old', 1, 0)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO mcp_servers (user_id, slug, name, url, created_at) VALUES (1, 'legacy', 'legacy', 'https://legacy.example.com/mcp', 0)").execute(&pool).await.unwrap();
    drop(server);
    let again = gatehouse_app::server::build(test_config(dir.path(), &[]))
        .await
        .unwrap();
    let url: String = sqlx::query_scalar("SELECT url FROM mcp_servers")
        .fetch_one(&again.core.pool)
        .await
        .unwrap();
    assert!(url.starts_with("gh1.k1."), "{url}");
    let entries =
        gatehouse::service::servers::list_all(&again.core, &gatehouse::service::Actor::cli())
            .await
            .unwrap();
    assert_eq!(
        entries[0]
            .1
            .url
            .as_ref()
            .map(|u| u.as_str().to_owned())
            .as_deref(),
        Some("https://legacy.example.com/mcp")
    );
}

#[test]
fn rotate_key_is_resumable_and_old_keys_can_then_go() {
    use crate::cli::gatehouse_with;
    let dir = tempfile::tempdir().unwrap();
    let (k1, k2) = (
        format!("k1:{}", STANDARD.encode([1u8; 32])),
        format!("k2:{}", STANDARD.encode([2u8; 32])),
    );
    let run = |keys: &str, args: &[&str], stdin: Option<&str>| {
        gatehouse_with(
            dir.path(),
            &[("GATEHOUSE_ENCRYPTION_KEYS", keys)],
            args,
            stdin,
        )
    };
    assert!(run(
        &k1,
        &["user", "add", "root", "--admin", "--password-stdin"],
        Some("root password 1\n")
    )
    .status
    .success());
    assert!(run(
        &k1,
        &[
            "server",
            "add",
            "root",
            "gmail",
            "https://gmail.example.com/mcp",
            "--bearer-stdin"
        ],
        Some("tok\n")
    )
    .status
    .success());

    let both = format!("{k2},{k1}");
    let out = run(&both, &["rotate-key"], None);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && said.contains("Re-encrypted 2 values with key 'k2'"),
        "{said}"
    );
    let again = String::from_utf8_lossy(&run(&both, &["rotate-key"], None).stdout).into_owned();
    assert!(
        again.contains("Re-encrypted 0 values") && again.contains("2 were already current"),
        "resumable: {again}"
    );

    let listing = String::from_utf8_lossy(&run(&k2, &["server", "list"], None).stdout).into_owned();
    assert!(
        listing.contains("https://gmail.example.com/mcp"),
        "the old key is no longer needed: {listing}"
    );
    let out = run(&k1, &["server", "list"], None);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success() && err.contains("encrypted with key 'k2', which is not configured"),
        "{err}"
    );
}
