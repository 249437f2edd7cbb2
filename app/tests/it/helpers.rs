//! `spawn_app` and `Browser`: a running Gatehouse and a cookie-keeping client for it.

use std::collections::BTreeMap;

use gatehouse::config::Config;
use gatehouse::gateway::SharedGateway;
use gatehouse::state::SharedCore;
use reqwest::header::{ACCEPT, LOCATION};
use reqwest::{redirect, Response, StatusCode};
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub base: String,
    pub core: SharedCore,
    pub gateway: SharedGateway,
    pub setup_code: Option<String>,
    pub data_dir: std::path::PathBuf,
    _dir: Option<TempDir>,
    _stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestApp {
    /// Stops the server as SIGTERM does; true when it finished within `limit`.
    pub async fn stops_within(self, limit: std::time::Duration) -> bool {
        let TestApp { _stop, server, .. } = self;
        drop(_stop);
        tokio::time::timeout(limit, server).await.is_ok()
    }
}

/// The configuration of a test server in `data_dir` with `extra` settings.
pub fn test_config(data_dir: &std::path::Path, extra: &[(&str, &str)]) -> Config {
    test_config_with_file(data_dir, None, extra)
}

/// Like [`test_config`], with the text of a TOML configuration file (`[[provider]]`…).
pub fn test_config_with_file(
    data_dir: &std::path::Path,
    toml: Option<&str>,
    extra: &[(&str, &str)],
) -> Config {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("GATEHOUSE_BIND".into(), "127.0.0.1:0".into());
    env.insert("GATEHOUSE_DATA_DIR".into(), data_dir.display().to_string());
    if let Some(url) = postgres_database_for(data_dir) {
        env.insert("GATEHOUSE_DATABASE_URL".into(), url);
    }
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    Config::from_sources(toml, &env).expect("config")
}

/// The Postgres server the suite runs on (`scripts/with-postgres.sh`), if any.
pub fn postgres() -> Option<String> {
    std::env::var("GATEHOUSE_TEST_POSTGRES").ok()
}

/// The browser-session table (tower-sessions keeps its own schema on Postgres).
pub fn sessions_table() -> &'static str {
    match postgres() {
        Some(_) => "tower_sessions.sessions",
        None => "sessions",
    }
}

/// What a `gatehouse` child process on `data_dir` needs besides `GATEHOUSE_DATA_DIR`: on
/// Postgres, the data directory's database.
pub fn database_env(data_dir: impl AsRef<std::path::Path>) -> Vec<(&'static str, String)> {
    postgres_database_for(data_dir.as_ref())
        .map(|url| ("GATEHOUSE_DATABASE_URL", url))
        .into_iter()
        .collect()
}

/// On Postgres, the database of the data directory `data_dir`, created on first use: two
/// processes started on one data directory share it, as on SQLite they share the file.
fn postgres_database_for(data_dir: &std::path::Path) -> Option<String> {
    use sqlx::{Connection, Executor};
    use std::hash::{Hash, Hasher};
    let server = postgres()?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut hasher);
    let name = format!("gh_{:016x}", hasher.finish());
    let admin = format!("{server}/postgres");
    let create = format!("CREATE DATABASE {name}");
    // Config building is synchronous: the statement runs on a runtime of its own.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime
            .block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                match conn.execute(create.as_str()).await {
                    // 42P04: duplicate_database (a second process on this data directory).
                    Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => Ok(()),
                    other => other.map(drop),
                }
            })
            .map_err(std::io::Error::other)
    })
    .join()
    .expect("database creation")
    .expect("create the test database");
    Some(format!("{server}/{name}"))
}

/// Starts Gatehouse on 127.0.0.1:0 with a fresh data directory and `extra` settings.
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = spawn_app_in(dir.path(), extra).await;
    app._dir = Some(dir);
    app
}

/// Starts another Gatehouse on an existing data directory (e.g. a second process sharing
/// the first one's database and key).
pub async fn spawn_app_in(data_dir: &std::path::Path, extra: &[(&str, &str)]) -> TestApp {
    start_app(test_config(data_dir, extra), data_dir).await
}

/// Starts Gatehouse with a TOML configuration file's text and `extra` settings.
pub async fn spawn_app_with_file(toml: &str, extra: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = start_app(
        test_config_with_file(dir.path(), Some(toml), extra),
        dir.path(),
    )
    .await;
    app._dir = Some(dir);
    app
}

async fn start_app(config: Config, data_dir: &std::path::Path) -> TestApp {
    let server = gatehouse_app::server::build(config)
        .await
        .expect("server builds");
    let addr = server.local_addr().expect("bound");
    let core = server.core.clone();
    let gateway = server.gateway.clone();
    let setup_code = server.setup_code.as_ref().map(|c| c.expose().to_owned());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        base: format!("http://{addr}"),
        core,
        gateway,
        setup_code,
        data_dir: data_dir.to_owned(),
        _dir: None,
        _stop: stop,
        server,
    }
}

/// `gatehouse serve` as a child process on `data_dir` (its database too) with `env`, killed
/// on drop, and the base URL of the address it listens on.
pub async fn serve_child(
    data_dir: &std::path::Path,
    env: &[(&str, String)],
) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("serve")
        .env("GATEHOUSE_DATA_DIR", data_dir)
        .envs(database_env(data_dir))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // "Gatehouse listening on 127.0.0.1:PORT, public URL …"
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(rest) = line.split("listening on ").nth(1) {
            let addr = rest.split(',').next().unwrap_or_default();
            return (child, format!("http://{addr}"));
        }
    }
    panic!("gatehouse serve ended without announcing its address");
}

/// Serves `app` on 127.0.0.1:0 until the returned sender is dropped; returns its base URL.
pub async fn serve_local(app: axum::Router) -> (String, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (base, stop)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// An app whose administrator exists and is signed in with the returned browser.
pub async fn spawn_app_with_admin() -> (TestApp, Browser) {
    spawn_app_with_admin_and(&[]).await
}

/// Like [`spawn_app_with_admin`], with extra settings.
pub async fn spawn_app_with_admin_and(extra: &[(&str, &str)]) -> (TestApp, Browser) {
    let app = spawn_app_with(extra).await;
    let admin = app.browser();
    let res = admin
        .setup(app.setup_code.as_deref().unwrap(), ADMIN, ADMIN_PASSWORD)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/servers");
    (app, admin)
}

impl TestApp {
    /// A new browser: its own cookie jar, redirects not followed.
    pub fn browser(&self) -> Browser {
        Browser {
            client: browser_client(),
            base: self.base.clone(),
        }
    }

    /// An account created by the administrator's invite, password set, signed in.
    pub async fn user(&self, admin: &Browser, name: &str) -> Browser {
        let invite = admin.invite(name).await;
        let user = self.browser();
        let path = invite.strip_prefix(&self.base).unwrap().to_owned();
        let token = path.strip_prefix("/invite/").unwrap();
        let res = user
            .submit(
                &path,
                "/api/accept_invite",
                &[("token", token), ("password", "user password 123")],
            )
            .await;
        assert_eq!(location(&res), "/servers", "invite accepted");
        user
    }

    /// The activity log's gateway calls, oldest first, once every recorded call is in.
    pub async fn call_details(&self) -> Vec<String> {
        self.gateway.flush_activity().await;
        sqlx::query_scalar("SELECT detail FROM audit_events WHERE kind = 'mcp.call' ORDER BY id")
            .fetch_all(&self.core.pool)
            .await
            .unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.core.pool)
            .await
            .unwrap()
    }
}

/// A client like a browser without JavaScript: cookies kept, redirects not followed.
pub fn browser_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(redirect::Policy::none())
        .default_headers({
            let mut h = reqwest::header::HeaderMap::new();
            h.insert(ACCEPT, "text/html".parse().unwrap());
            h
        })
        .build()
        .unwrap()
}

pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
}

pub fn location(res: &Response) -> String {
    res.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// The value of the first `name="_csrf"` field in a page.
pub fn csrf_in(html: &str) -> String {
    let re = regex_lite::Regex::new(r#"name="_csrf" value="([^"]+)""#).unwrap();
    re.captures(html)
        .map(|c| c[1].to_owned())
        .unwrap_or_default()
}

/// The text of the page's flash message, if any.
pub fn flash_in(html: &str) -> Option<String> {
    let re = regex_lite::Regex::new(
        r#"<p role="(?:status|alert)" class="flash (?:success|error)">([^<]*)<"#,
    )
    .unwrap();
    re.captures(html).map(|c| {
        c[1].replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&amp;", "&")
    })
}

impl Browser {
    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub async fn page(&self, path: &str) -> String {
        let res = self.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.text().await.unwrap()
    }

    pub async fn csrf(&self, path: &str) -> String {
        let token = csrf_in(&self.page(path).await);
        assert!(!token.is_empty(), "{path} has a CSRF field");
        token
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.client
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Posts a form from `page` with that page's CSRF token.
    pub async fn submit(&self, page: &str, action: &str, form: &[(&str, &str)]) -> Response {
        let csrf = self.csrf(page).await;
        let mut fields = vec![("_csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        self.post(action, &fields).await
    }

    /// Follows a 303 and returns the flash message shown there.
    pub async fn flash_after(&self, res: Response) -> Option<String> {
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "form answers 303");
        flash_in(&self.page(&location(&res)).await)
    }

    pub async fn setup(&self, code: &str, user: &str, password: &str) -> Response {
        self.submit(
            "/setup",
            "/api/setup",
            &[("code", code), ("username", user), ("password", password)],
        )
        .await
    }

    pub async fn sign_in(&self, user: &str, password: &str) -> Response {
        self.submit(
            "/login",
            "/login",
            &[("username", user), ("password", password)],
        )
        .await
    }

    pub async fn add_server(&self, slug: &str, url: &str) -> Response {
        self.submit(
            "/servers",
            "/api/add_server",
            &[("slug", slug), ("url", url), ("name", "")],
        )
        .await
    }

    /// Creates an invited account; returns the one-time link from the flash message.
    pub async fn invite(&self, name: &str) -> String {
        let res = self
            .submit("/admin", "/api/invite_user", &[("username", name)])
            .await;
        let flash = self.flash_after(res).await.unwrap();
        let start = flash.find("http://").expect("invite link in flash");
        flash[start..].split_whitespace().next().unwrap().to_owned()
    }
}

/// A loopback port nothing listens on right now (for servers configured before they start).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
