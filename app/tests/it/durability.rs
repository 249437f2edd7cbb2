//! A killed process loses nothing it acknowledged, and the database stays consistent.

use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use tokio::sync::Notify;

use crate::cli::gatehouse;
use crate::helpers::*;

#[tokio::test]
async fn kill_9_during_writes_loses_no_committed_row() {
    let dir = tempfile::tempdir().unwrap();
    let out = gatehouse(
        dir.path(),
        &["user", "add", ADMIN, "--admin", "--password-stdin"],
        Some(&format!("{ADMIN_PASSWORD}\n")),
    );
    assert!(out.status.success());

    let (mut child, base) = serve_child(dir.path(), &[]).await;

    let browser = Browser {
        client: browser_client(),
        base,
    };
    assert_eq!(
        location(&browser.sign_in(ADMIN, ADMIN_PASSWORD).await),
        "/servers"
    );
    let csrf = browser.csrf("/servers").await;

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let enough = Arc::new(Notify::new());
    let mut workers = Vec::new();
    for w in 0..8 {
        let (client, url, csrf) = (
            browser.client.clone(),
            format!("{}/api/add_server", browser.base),
            csrf.clone(),
        );
        let (acknowledged, enough) = (acknowledged.clone(), enough.clone());
        workers.push(tokio::spawn(async move {
            for i in 0..200 {
                let slug = format!("s{w}x{i}");
                let sent = client
                    .post(&url)
                    .form(&[
                        ("_csrf", csrf.as_str()),
                        ("slug", &slug),
                        ("url", "https://x.example.com/mcp"),
                    ])
                    .send()
                    .await;
                match sent {
                    Ok(res) if res.status() == StatusCode::SEE_OTHER => {
                        let mut done = acknowledged.lock().unwrap();
                        done.push(slug);
                        if done.len() == 60 {
                            enough.notify_one();
                        }
                    }
                    _ => return,
                }
            }
        }));
    }
    enough.notified().await;
    child.start_kill().unwrap(); // SIGKILL: no graceful shutdown, no WAL checkpoint
    child.wait().await.unwrap();
    for w in workers {
        let _ = w.await;
    }

    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 60);
    // The database as the next start would open it (the file, or the Postgres database).
    let url = test_config(dir.path(), &[])
        .database_url
        .expose()
        .to_owned();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    if url.starts_with("sqlite:") {
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(check, "ok");
    }
    let stored: Vec<String> = sqlx::query_scalar("SELECT slug FROM mcp_servers")
        .fetch_all(&pool)
        .await
        .unwrap();
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|s| !stored.contains(s))
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    let events: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'server.added'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        events as usize,
        stored.len(),
        "each row and its audit event commit together"
    );
}
