//! Two Gatehouse instances on one database, as behind a load balancer: the SQLite file, or
//! one Postgres database when the suite runs on Postgres (`scripts/with-postgres.sh`). They
//! share the public URL (tokens name it as their audience), as instances behind one name do.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;
use crate::oauth_helpers::*;

/// Settings of an instance answering for `public` (its own port is another one).
fn behind(public: &str) -> [(&'static str, String); 2] {
    [
        ("GATEHOUSE_PUBLIC_URL", public.to_owned()),
        // The tests reach each instance at its own port; a balancer would send the public name.
        ("GATEHOUSE_ALLOWED_HOSTS", "127.0.0.1".to_owned()),
    ]
}

/// The admin's app with `gmail` and a client (A), and a second instance on its database (B).
async fn two_instances(extra: &[(&str, &str)]) -> (TestApp, TestApp, Browser, Client) {
    let (a, admin, client) = ready_with(extra).await;
    let mut settings: Vec<(&str, &str)> = extra.to_vec();
    let shared = behind(&a.base);
    settings.extend(shared.iter().map(|(k, v)| (*k, v.as_str())));
    let b = spawn_app_in(&a.data_dir, &settings).await;
    (a, b, admin, client)
}

fn str_of<'a>(body: &'a Value, key: &str) -> &'a str {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {body}"))
}

#[tokio::test]
async fn a_token_revoked_on_one_instance_is_refused_on_the_other_within_two_seconds() {
    let (a, b, admin, client) = two_instances(&[]).await;
    let t = tokens_for_gmail(&a, &admin, &client).await;
    let access = str_of(&t, "access_token");
    // B has seen the token (and may keep it in its ≤ 2 s cache).
    assert_ne!(
        mcp_status(&b, "gmail", access).await,
        StatusCode::UNAUTHORIZED
    );

    let res = a
        .browser()
        .client
        .post(format!("{}/revoke", a.base))
        .form(&[
            ("token", str_of(&t, "refresh_token")),
            ("client_id", client.id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let revoked = Instant::now();
    // Polled: the bound is what is measured.
    while mcp_status(&b, "gmail", access).await != StatusCode::UNAUTHORIZED {
        assert!(
            revoked.elapsed() < Duration::from_millis(2500),
            "B still accepts a token revoked on A"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_code_redeemed_on_both_instances_at_once_succeeds_once() {
    let (a, b, admin, client) = two_instances(&[]).await;
    for _ in 0..5 {
        let p = pkce();
        let code = approve(&a, &admin, &client, &p, Some("gmail"), &["gmail"]).await;
        let (on_a, on_b) = tokio::join!(
            exchange(&a, &client, &code, &p.verifier),
            exchange(&b, &client, &code, &p.verifier),
        );
        let statuses = [on_a.0, on_b.0];
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "{on_a:?} {on_b:?}"
        );
        let refused = if on_a.0 == StatusCode::OK { on_b } else { on_a };
        assert_eq!(refused.0, StatusCode::BAD_REQUEST);
        assert_eq!(refused.1["error"], "invalid_grant");
    }
}

#[tokio::test]
async fn a_refresh_token_rotated_on_one_instance_and_replayed_on_the_other_ends_the_family() {
    // No grace window: a second use of a refresh token is a replay at once.
    let (a, b, admin, client) = two_instances(&[("GATEHOUSE_REFRESH_GRACE", "0")]).await;
    let t = tokens_for_gmail(&a, &admin, &client).await;
    let first = str_of(&t, "refresh_token");
    let (status, rotated) = refresh(&a, &client, first).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");

    let (status, replay) = refresh(&b, &client, first).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(replay["error"], "invalid_grant");
    // Reuse detection revoked the family: the rotated token is dead on both instances.
    for app in [&a, &b] {
        let (status, body) = refresh(app, &client, str_of(&rotated, "refresh_token")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    assert_eq!(
        b.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'token.reuse_detected'")
            .await,
        1
    );
}

/// One refresh chain on the killed instance: the last pair it acknowledged.
#[derive(Debug, Clone)]
struct Acknowledged {
    refresh: String,
    access: String,
    rotations: usize,
    /// Why the chain stopped: A's answer other than 200, or the error of a dropped request.
    stopped: String,
}

#[tokio::test]
async fn kill_9_of_one_instance_under_load_loses_no_acknowledged_token() {
    // B: in this process. A: a real `gatehouse serve` on the same database and key.
    let (b, admin, client) = ready().await;
    let mut settings = behind(&b.base).to_vec();
    // One test client from one address: the abuse limits would stop the load.
    settings.push(("GATEHOUSE_RATE_TOKEN_PER_IP", "1000000/1m".into()));
    settings.push(("GATEHOUSE_RATE_TOKEN_PER_CLIENT", "1000000/1m".into()));
    let (mut child, a_base) = serve_child(&b.data_dir, &settings).await;

    // Eight refresh chains, issued by B, rotated on A until A dies.
    let mut chains = Vec::new();
    for _ in 0..8 {
        let t = tokens_for_gmail(&b, &admin, &client).await;
        chains.push(Arc::new(Mutex::new(Acknowledged {
            refresh: str_of(&t, "refresh_token").to_owned(),
            access: str_of(&t, "access_token").to_owned(),
            rotations: 0,
            stopped: String::new(),
        })));
    }
    let rotated = Arc::new(tokio::sync::Notify::new());
    let total = Arc::new(Mutex::new(0usize));
    let workers: Vec<_> = chains
        .iter()
        .map(|chain| {
            let (chain, rotated, total) = (chain.clone(), rotated.clone(), total.clone());
            let (http, url, client_id) = (
                browser_client(),
                format!("{a_base}/token"),
                client.id.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let current = chain.lock().unwrap().refresh.clone();
                    let sent = http
                        .post(&url)
                        .form(&[
                            ("grant_type", "refresh_token"),
                            ("refresh_token", current.as_str()),
                            ("client_id", client_id.as_str()),
                        ])
                        .send()
                        .await;
                    let stop = |why: String| chain.lock().unwrap().stopped = why;
                    let res = match sent {
                        Ok(res) if res.status() == StatusCode::OK => res,
                        Ok(res) => return stop(res.status().to_string()),
                        Err(e) => return stop(e.to_string()),
                    };
                    let Ok(body) = res.json::<Value>().await else {
                        return stop("a cut answer".into());
                    };
                    let mut acked = chain.lock().unwrap();
                    acked.refresh = str_of(&body, "refresh_token").to_owned();
                    acked.access = str_of(&body, "access_token").to_owned();
                    acked.rotations += 1;
                    let mut total = total.lock().unwrap();
                    *total += 1;
                    if *total == 80 {
                        rotated.notify_one();
                    }
                }
            })
        })
        .collect();
    rotated.notified().await;
    child.start_kill().unwrap(); // SIGKILL: mid-request, no graceful shutdown
    child.wait().await.unwrap();
    for w in workers {
        w.await.unwrap();
    }

    let rotated: usize = chains.iter().map(|c| c.lock().unwrap().rotations).sum();
    assert!(
        rotated >= 80,
        "A rotated {rotated} tokens before it was killed"
    );
    // B kept serving, and honours every pair A acknowledged.
    for chain in &chains {
        let acked = chain.lock().unwrap().clone();
        assert_ne!(
            mcp_status(&b, "gmail", &acked.access).await,
            StatusCode::UNAUTHORIZED,
            "acknowledged access token lost: {acked:?}"
        );
        let (status, body) = refresh(&b, &client, &acked.refresh).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "acknowledged refresh token lost: {body}"
        );
    }
}

#[tokio::test]
async fn postgres_connections_take_tls_as_the_url_asks() {
    // The SQLite run has no network connection to check.
    let (Some(_), Ok(ca)) = (postgres(), std::env::var("GATEHOUSE_TEST_POSTGRES_CA")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = test_config(dir.path(), &[])
        .database_url
        .expose()
        .to_owned();
    let with = |query: &str| {
        let url = format!("{url}?{query}");
        test_config(dir.path(), &[("GATEHOUSE_DATABASE_URL", url.as_str())])
    };
    for query in [
        "sslmode=require",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ] {
        let server = gatehouse_app::server::build(with(query)).await.unwrap();
        let ssl: bool =
            sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .fetch_one(&server.core.pool)
                .await
                .unwrap();
        assert!(ssl, "{query}: the connection is encrypted");
    }
    // A certificate no trusted CA signed is refused when the URL asks for verification.
    assert!(gatehouse_app::server::build(with("sslmode=verify-full"))
        .await
        .is_err());
}

#[tokio::test]
async fn postgres_statements_stop_at_the_statement_timeout() {
    if postgres().is_none() {
        return; // SQLite has no statement timeout
    }
    let app = spawn_app_with(&[("GATEHOUSE_DATABASE_STATEMENT_TIMEOUT", "1s")]).await;
    let started = Instant::now();
    let err = sqlx::query("SELECT pg_sleep(5)")
        .execute(&app.core.pool)
        .await
        .unwrap_err();
    // 57014: query_canceled, after the configured second rather than the five asked for.
    let code = err
        .as_database_error()
        .and_then(|e| e.code())
        .unwrap_or_default();
    assert_eq!(code, "57014", "{err}");
    assert!(started.elapsed() < Duration::from_secs(4));
    // The session store's own pool too, as the server builds it.
    let sessions = gatehouse::service::accounts::session_store(&app.core).unwrap();
    let shown: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(sessions.postgres_pool().unwrap())
        .await
        .unwrap();
    assert_eq!(shown, "1s");
}

#[tokio::test]
async fn two_instances_starting_together_on_a_new_database_both_start() {
    // Several instances share their keys through the setting (README), not a key file.
    let keys = [(
        "GATEHOUSE_ENCRYPTION_KEYS",
        "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    )];
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        // Each stores the key's check value if none is there yet: one of them wins.
        let (a, b) = tokio::join!(
            spawn_app_in(dir.path(), &keys),
            spawn_app_in(dir.path(), &keys)
        );
        assert_eq!(
            a.count("SELECT COUNT(*) FROM encryption_keys").await,
            1,
            "{}",
            b.base
        );
    }
}
