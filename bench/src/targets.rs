//! What the benchmark talks to besides the upstream: the Gatehouse process, nginx, and the
//! bare SQLite-writing handler.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

pub struct Gatehouse {
    pub url: String,
    pub setup_code: Option<String>,
    bin: String,
    child: Child,
    dir: tempfile::TempDir,
}

/// `BENCH_DATABASE_URL` (a Postgres database) as Gatehouse's database; else SQLite.
pub fn database_url() -> Option<(&'static str, String)> {
    std::env::var("BENCH_DATABASE_URL")
        .ok()
        .map(|url| ("GATEHOUSE_DATABASE_URL", url))
}

impl Gatehouse {
    pub async fn start(bin: &str) -> Gatehouse {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(bin)
            .arg("serve")
            .env("GATEHOUSE_BIND", "127.0.0.1:0")
            .env("GATEHOUSE_DATA_DIR", dir.path())
            .envs(database_url())
            .env("GATEHOUSE_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8")
            .env("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32")
            // One load generator is one address and one client: lift the abuse limits so the
            // endpoint itself is measured (the defaults would answer 429 after a few seconds).
            .env("GATEHOUSE_RATE_TOKEN_PER_IP", "10000000/1m")
            .env("GATEHOUSE_RATE_TOKEN_PER_CLIENT", "10000000/1m")
            .env(
                "RUST_LOG",
                std::env::var("BENCH_GATEHOUSE_LOG").unwrap_or("warn".into()),
            )
            .stdout(Stdio::piped())
            .spawn()
            .expect("start gatehouse");
        let stdout = child.stdout.take().unwrap();
        let (mut url, mut code) = (None, None);
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(i) = line.find("public URL ") {
                url = line[i + 11..].split_whitespace().next().map(str::to_owned);
            }
            if let Some(i) = line.find("setup code: ") {
                code = line[i + 12..].split_whitespace().next().map(str::to_owned);
            }
            if line == "Ready." {
                break;
            }
        }
        Gatehouse {
            url: url.expect("gatehouse printed its URL"),
            setup_code: code,
            bin: bin.to_owned(),
            child,
            dir,
        }
    }

    /// Runs a `gatehouse` CLI command on this instance's data (the operator's way to create
    /// many users quickly), `stdin` as its input; returns its standard output.
    pub fn cli(&self, args: &[&str], stdin: &str) -> String {
        use std::io::Write;
        let mut child = Command::new(&self.bin)
            .args(args)
            .env("GATEHOUSE_DATA_DIR", self.dir.path())
            .envs(database_url())
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the gatehouse CLI");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "gatehouse {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The instance's SQLite database file.
    pub fn database(&self) -> std::path::PathBuf {
        self.dir.path().join("gatehouse.db")
    }

    /// Resident memory of the Gatehouse process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// The anonymous part of it (heap, stacks): without the binary's file pages, which are
    /// shared and reclaimable.
    pub fn anon_kib(&self) -> u64 {
        self.status_kib("RssAnon:")
    }

    /// CPU time the Gatehouse process has used (user + system), in seconds: divided by the
    /// calls of a run, what each call cost it, a figure steadier than throughput on a
    /// machine whose cores the load generator and the upstream share.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the command name, which is in parentheses and may hold spaces;
        // utime and stime are the 14th and 15th fields, in USER_HZ ticks (100 on Linux).
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let ticks: u64 = after
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|v| v.parse::<u64>().ok())
            .sum();
        ticks as f64 / 100.0
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Gatehouse {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

pub struct Nginx {
    pub url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// nginx in front of the upstream, configured as a streaming MCP proxy would be.
    pub async fn start(upstream: &str) -> Option<Nginx> {
        let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())?;
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
            l.local_addr().ok()?.port()
        };
        let target = upstream.trim_start_matches("http://");
        let (host, path) = target.split_once('/').unwrap_or((target, ""));
        let dir = tempfile::tempdir().ok()?;
        let conf = format!(
            "worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log; daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};
  upstream up {{ server {host}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://up/{path};
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Host {host};
      proxy_set_header Authorization \"Bearer static-credential\";
      proxy_buffering off;
    }}
  }}
}}",
            d = dir.path().display()
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).ok()?;
        let child = Command::new(bin)
            .args(["-c", conf_path.to_str()?, "-p", dir.path().to_str()?])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let url = format!("http://127.0.0.1:{port}/");
        for _ in 0..100 {
            if reqwest::get(&url).await.is_ok() {
                return Some(Nginx {
                    url,
                    child,
                    _dir: dir,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

impl Drop for Nginx {
    /// SIGTERM, not SIGKILL: the master then stops its worker, which would otherwise outlive
    /// the bench holding its stdout open.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// A bare axum handler doing one SQLite write transaction per request (WAL, synchronous
/// FULL, BEGIN IMMEDIATE, no ping before a connection's use — Gatehouse's settings): the
/// baseline of the token endpoint.
pub async fn bare_sqlite_writer() -> String {
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };
    let dir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("bare.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5));
    // Gatehouse's pool settings too: no ping before each use.
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let app = Router::new().route(
        "/",
        post(move || {
            let pool = pool.clone();
            async move {
                // As Gatehouse writes: sqlx's transaction (rolled back if dropped), BEGIN
                // IMMEDIATE; a failure is a 500, counted by wrk.
                let written = async {
                    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                    sqlx::query("INSERT INTO t (v) VALUES ('x')")
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await
                };
                match written.await {
                    Ok(()) => Json(json!({"ok": true})).into_response(),
                    Err(err) => (
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        err.to_string(),
                    )
                        .into_response(),
                }
            }
        }),
    );
    serve(app).await + "/"
}
