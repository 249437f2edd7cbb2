//! The deployment files in `deploy/` and `gatehouse doctor`: nginx's config passes `nginx -t`
//! and, run for real on loopback with a test CA, carries the whole OAuth surface with the
//! issuer and every redirect on the public URL (the doctor's checks all pass through it); a
//! proxy that rewrites Host is caught; Caddy's and systemd's files validate where the tools
//! are installed (`make test` installs nginx and caddy).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use gatehouse::service::doctor::{self, Check, Verdict};

use crate::helpers::{free_port, spawn_app_with, TestApp};

fn repo_file(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::read_to_string(root.join(path)).unwrap()
}

fn tool(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/sbin", "/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.exists())
}

fn nginx() -> PathBuf {
    tool("nginx")
        .expect("nginx is not installed: run `make setup-e2e` (apt-get install nginx-light)")
}

/// A leaf certificate for localhost signed by a fresh CA: (ca.pem, cert.pem, key.pem).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, leaf.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    (paths.0, paths.1, paths.2)
}

/// deploy/nginx.conf with the test's names, ports and files, inside a minimal main config.
fn nginx_config(dir: &Path, site: &str, https_port: u16, gatehouse_port: u16) -> PathBuf {
    let (_, cert, key) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    let site = site
        .replace("gatehouse.example.com", "localhost")
        .replace(
            "/etc/letsencrypt/live/localhost/fullchain.pem",
            &cert.display().to_string(),
        )
        .replace(
            "/etc/letsencrypt/live/localhost/privkey.pem",
            &key.display().to_string(),
        )
        .replace("127.0.0.1:3000", &format!("127.0.0.1:{gatehouse_port}"))
        .replace(
            "listen 443 ssl",
            &format!("listen 127.0.0.1:{https_port} ssl"),
        )
        .replace("listen 80;", &format!("listen 127.0.0.1:{};", free_port()))
        .lines()
        .filter(|l| !l.contains("listen [::]"))
        .collect::<Vec<_>>()
        .join("\n");
    let d = dir.display();
    let main = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{}}\nhttp {{\naccess_log off;\nclient_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n{site}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, main).unwrap();
    path
}

fn nginx_args(dir: &Path, config: &Path) -> Vec<String> {
    vec![
        "-p".into(),
        dir.display().to_string(),
        "-e".into(),
        dir.join("error.log").display().to_string(),
        "-c".into(),
        config.display().to_string(),
    ]
}

struct Proxy {
    child: Child,
}

impl Drop for Proxy {
    /// SIGTERM, not SIGKILL: nginx's master then stops its worker, which a killed master
    /// would leave running (holding the port and its parent's pipes).
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Gatehouse behind nginx on `https://localhost:<port>`, from `site` (deploy/nginx.conf or a
/// variant); returns the app, the proxy and the public URL.
async fn behind_nginx(site: &str, dir: &Path) -> (TestApp, Proxy, String) {
    let (ca, _, _) = certificates(dir);
    let https_port = free_port();
    let public = format!("https://localhost:{https_port}");
    let ca_file = ca.display().to_string();
    let app = spawn_app_with(&[
        ("GATEHOUSE_PUBLIC_URL", public.as_str()),
        ("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32"),
        ("GATEHOUSE_EXTRA_CA_FILE", ca_file.as_str()),
    ])
    .await;
    let gatehouse_port: u16 = app.base.rsplit(':').next().unwrap().parse().unwrap();
    let config = nginx_config(dir, site, https_port, gatehouse_port);
    let checked = Command::new(nginx())
        .args(nginx_args(dir, &config))
        .arg("-t")
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let child = Command::new(nginx())
        .args(nginx_args(dir, &config))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let proxy = Proxy { child };
    // Ready when it accepts connections (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", https_port))
        .await
        .is_err()
    {
        assert!(std::time::Instant::now() < deadline, "nginx did not start");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    (app, proxy, public)
}

fn verdict<'a>(checks: &'a [Check], name: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check named {name}: {checks:?}"))
}

#[tokio::test]
async fn nginx_config_carries_the_oauth_surface_and_the_doctor_passes_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _proxy, public) = behind_nginx(&repo_file("deploy/nginx.conf"), dir.path()).await;
    let checks = doctor::run(&app.core).await;
    for name in [
        "public URL",
        "clock",
        "issuer",
        "protected resource",
        "401 challenge",
        "CORS",
        "registration",
        "sign-in page",
        "encryption key",
    ] {
        assert_eq!(verdict(&checks, name).verdict, Verdict::Pass, "{checks:#?}");
    }
    assert!(verdict(&checks, "public URL").detail.contains(&public));
    // No Google client here: a warning with the redirect URI to register, not a failure.
    let google = verdict(&checks, "Google");
    assert_eq!(google.verdict, Verdict::Warn);
    assert!(google.detail.contains(&format!("{public}/vault/callback")));
    // The doctor's throwaway client is gone again.
    assert_eq!(app.count("SELECT COUNT(*) FROM oauth_clients").await, 0);
}

#[tokio::test]
async fn a_proxy_that_rewrites_host_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let good = repo_file("deploy/nginx.conf");
    assert!(good.contains("proxy_set_header Host $http_host;"));
    let broken = good.replace("proxy_set_header Host $http_host;", "");
    let (app, _proxy, _) = behind_nginx(&broken, dir.path()).await;
    let checks = doctor::run(&app.core).await;
    let challenge = verdict(&checks, "401 challenge");
    assert_eq!(challenge.verdict, Verdict::Fail, "{checks:#?}");
    assert!(
        challenge
            .detail
            .contains("proxy_set_header Host $http_host"),
        "{}",
        challenge.detail
    );
}

#[tokio::test]
async fn the_doctor_names_a_readable_key_file_and_an_unreachable_public_url() {
    let app = spawn_app_with(&[("GATEHOUSE_PUBLIC_URL", "https://gatehouse.invalid")]).await;
    use std::os::unix::fs::PermissionsExt;
    let key = app.data_dir.join("encryption.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let checks = doctor::run(&app.core).await;
    let file = verdict(&checks, "encryption key");
    assert_eq!(file.verdict, Verdict::Fail);
    assert!(file.detail.contains("chmod 600"), "{}", file.detail);
    let public = verdict(&checks, "public URL");
    assert_eq!(public.verdict, Verdict::Fail);
    assert!(
        public.detail.contains("does not answer"),
        "{}",
        public.detail
    );
}

#[tokio::test]
async fn the_cli_prints_one_line_per_check_and_fails_on_a_failure() {
    let app = spawn_app_with(&[]).await;
    let base = app.base.clone();
    let out = crate::cli::gatehouse_async(
        &app.data_dir,
        &[("GATEHOUSE_PUBLIC_URL", base.as_str())],
        &["doctor"],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with(&format!(
            "WARN public URL: {base} answers, but only this machine"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("PASS registration: "), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");

    let out = crate::cli::gatehouse_async(
        &app.data_dir,
        &[("GATEHOUSE_PUBLIC_URL", "http://127.0.0.1:9")],
        &["doctor"],
    )
    .await;
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("FAIL public URL: http://127.0.0.1:9 does not answer"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("check(s) failed"));
}

#[test]
fn caddyfile_validates() {
    let Some(caddy) = tool("caddy") else {
        panic!("caddy is not installed: run `make setup-e2e` (apt-get install caddy)");
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new(caddy)
        .args(["validate", "--adapter", "caddyfile", "--config"])
        .arg(root.join("deploy/Caddyfile"))
        .env("HOME", tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn systemd_unit_verifies_where_systemd_is_present() {
    let Some(analyze) = tool("systemd-analyze") else {
        return; // not a systemd machine: nothing to check the unit against
    };
    let dir = tempfile::tempdir().unwrap();
    // The unit names the installed binary; verify it against the one just built.
    let unit = repo_file("deploy/gatehouse.service")
        .replace("/usr/local/bin/gatehouse", env!("CARGO_BIN_EXE_gatehouse"));
    let path = dir.path().join("gatehouse.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("Unknown") && !stderr.contains("Failed to parse"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_admin_page_runs_the_checks_for_administrators_only() {
    let (app, admin) = crate::helpers::spawn_app_with_admin().await;
    let page = admin.page("/admin/checks").await;
    assert!(page.contains("Deployment checks"));
    assert!(
        page.contains(r#"<tr data-verdict="PASS"><td><span class="state ok">PASS</span></td><th scope="row">registration</th>"#),
        "{page}"
    );
    assert!(
        page.contains(r#"<tr data-verdict="WARN">"#),
        "the loopback public URL and Google warn"
    );
    assert!(admin
        .page("/admin")
        .await
        .contains(r#"href="/admin/checks""#));
    let user = app.user(&admin, "dave").await;
    let page = user.get("/admin/checks").await.text().await.unwrap();
    assert!(page.contains("may not do this"));
    assert!(!page.contains("data-verdict"));
}
