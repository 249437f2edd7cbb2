//! The operator CLI, run as the real binary against a temp data directory.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub fn gatehouse(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    gatehouse_with(data, &[], args, stdin)
}

/// Runs the binary with extra environment settings.
pub fn gatehouse_with(
    data: &Path,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .envs(env.iter().copied())
        .env("GATEHOUSE_DATA_DIR", data)
        .envs(crate::helpers::database_env(data))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// [`gatehouse_with`] off the async runtime's thread, so a server running in the same test
/// process goes on serving (and releasing the database) while the command runs.
pub async fn gatehouse_async(data: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    gatehouse_async_with_input(data, env, args, None).await
}

/// [`gatehouse_async`] with standard input.
pub async fn gatehouse_async_with_input(
    data: &Path,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    let data = data.to_owned();
    let stdin = stdin.map(str::to_owned);
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    let args: Vec<String> = args.iter().map(|a| (*a).into()).collect();
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        gatehouse_with(&data, &env, &args, stdin.as_deref())
    })
    .await
    .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn user_and_server_commands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let out = gatehouse(d, &["migrate"], None);
    assert!(out.status.success(), "{:?}", text(&out));

    let out = gatehouse(
        d,
        &["user", "add", "Root", "--admin", "--password-stdin"],
        Some("root password 1\n"),
    );
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(text(&out).0.contains("Created administrator 'root'"));

    let out = gatehouse(
        d,
        &["user", "add", "root", "--password-stdin"],
        Some("another password\n"),
    );
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("the username 'root' is taken"),
        "{:?}",
        text(&out)
    );

    let out = gatehouse(
        d,
        &["user", "add", "weak", "--password-stdin"],
        Some("short\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("at least 8 characters"));

    let out = gatehouse(d, &["user", "add", "nopass"], None);
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("--password-stdin"),
        "no terminal: tells how to pass the password"
    );

    let out = gatehouse(
        d,
        &[
            "server",
            "add",
            "root",
            "gmail",
            "https://gmail.example.com/mcp?token=abc",
        ],
        None,
    );
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(text(&out).0.contains("/mcp/gmail"));

    let out = gatehouse(
        d,
        &["server", "add", "ghost", "gmail", "https://x.example.com/"],
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out).1.contains("no account named 'ghost'"));

    let out = gatehouse(
        d,
        &[
            "server",
            "add",
            "root",
            "static",
            "https://x.example.com/",
            "--bearer-stdin",
        ],
        Some("secret-token\n"),
    );
    assert!(out.status.success(), "{:?}", text(&out));
    let _ = out;

    let out = gatehouse(d, &["server", "list"], None);
    let listing = text(&out).0;
    assert!(
        listing.contains("gmail") && listing.contains("root"),
        "{listing}"
    );
    assert!(
        !listing.contains("token=abc"),
        "query strings are redacted: {listing}"
    );
    assert!(
        listing.contains("static") && listing.contains("[static credential]"),
        "{listing}"
    );
    assert!(
        !listing.contains("secret-token"),
        "credentials are never printed"
    );

    let out = gatehouse(
        d,
        &["user", "set-password", "root", "--password-stdin"],
        Some("new root password\n"),
    );
    assert!(out.status.success(), "{:?}", text(&out));
    let out = gatehouse(
        d,
        &["user", "set-password", "ghost", "--password-stdin"],
        Some("new root password\n"),
    );
    assert!(!out.status.success());

    let out = gatehouse(d, &["cleanup"], None);
    assert!(
        out.status.success() && text(&out).0.starts_with("Deleted 0 authorization requests"),
        "{:?}",
        text(&out)
    );

    let out = gatehouse(d, &["user", "list"], None);
    let listing = text(&out).0;
    assert!(
        listing.contains("root") && listing.contains("administrator") && listing.contains("active"),
        "{listing}"
    );
}

#[test]
fn bad_configuration_stops_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["migrate"])
        .env("GATEHOUSE_DATA_DIR", dir.path())
        .envs(crate::helpers::database_env(dir.path()))
        .env("GATEHOUSE_ACCESS_TOKEN_TTL", "forever")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("GATEHOUSE_ACCESS_TOKEN_TTL") && err.contains("Fix:"),
        "{err}"
    );
}

#[test]
fn help_and_usage_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["serve", "migrate", "user", "server", "cleanup"] {
        assert!(help.contains(cmd), "{help}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["user", "frobnicate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn unreadable_extra_ca_stops_start_up_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ca.pem");
    std::fs::write(
        &pem,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["migrate"])
        .env("GATEHOUSE_DATA_DIR", dir.path())
        .envs(crate::helpers::database_env(dir.path()))
        .env("GATEHOUSE_EXTRA_CA_FILE", &pem)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("GATEHOUSE_EXTRA_CA_FILE") && err.contains("Fix:"),
        "{err}"
    );
}
