//! Many idle browser sessions: copies of a signed-in session written through the session
//! store's own code (tower-sessions' SQLite store), as 10,000 sign-ins would leave them
//! without 10,000 argon2 hashes.

use sqlx::sqlite::SqlitePoolOptions;
use tower_sessions::session::{Id, Record};
use tower_sessions::SessionStore;
use tower_sessions_sqlx_store::SqliteStore;

/// Creates `n` sessions like the one behind `cookie` (`name=value`); returns their cookies.
pub async fn clone_session(database: &std::path::Path, cookie: &str, n: usize) -> Vec<String> {
    let (name, value) = cookie.split_once('=').expect("name=value");
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&format!("sqlite://{}", database.display()))
        .await
        .unwrap();
    // Gatehouse's `store::SESSIONS_TABLE` (the bench does not link the library).
    let store = SqliteStore::new(pool).with_table_name("sessions").unwrap();
    let id: Id = value.parse().expect("a session id");
    let template = store
        .load(&id)
        .await
        .unwrap()
        .expect("the signed-in session");
    let mut cookies = Vec::with_capacity(n);
    for _ in 0..n {
        let mut record = Record {
            id: Id::default(),
            data: template.data.clone(),
            expiry_date: template.expiry_date,
        };
        store.create(&mut record).await.unwrap();
        cookies.push(format!("{name}={}", record.id));
    }
    cookies
}
