use super::*;
use base64::{engine::general_purpose::STANDARD, Engine};

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn error_of(pairs: &[(&str, &str)]) -> ConfigError {
    match Config::from_sources(None, &env(pairs)) {
        Ok(_) => ConfigError {
            setting: "none".into(),
            problem: "accepted".into(),
            fix: String::new(),
        },
        Err(e) => e,
    }
}

#[test]
fn defaults_work_locally() -> Result<(), ConfigError> {
    let c = Config::from_sources(None, &BTreeMap::new())?;
    assert_eq!(c.bind, "127.0.0.1:3000".parse().unwrap_or(c.bind));
    assert_eq!(c.bind.port(), 3000);
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert_eq!(c.database_url.expose(), "sqlite://./data/gatehouse.db");
    assert_eq!(c.access_token_ttl, Duration::from_secs(3600));
    assert_eq!(c.refresh_token_ttl, Duration::from_secs(30 * 86400));
    assert_eq!(c.refresh_grace, Duration::from_secs(30));
    assert!(!c.open_signup);
    assert!(c.encryption_keys.is_none());
    assert_eq!(
        c.google.token_url.as_str(),
        "https://oauth2.googleapis.com/token"
    );
    let bound = "127.0.0.1:4321".parse().unwrap_or(c.bind);
    assert_eq!(c.public_url_for(bound).issuer(), "http://127.0.0.1:4321");
    Ok(())
}

#[test]
fn each_bad_value_names_its_setting() {
    let cases: &[(&str, &str, &str)] = &[
        ("GATEHOUSE_BIND", "localhost", "is not an address"),
        (
            "GATEHOUSE_PUBLIC_URL",
            "https://gh.example.com/base",
            "must not have a path",
        ),
        (
            "GATEHOUSE_PUBLIC_URL",
            "http://gh.example.com",
            "http off loopback",
        ),
        (
            "GATEHOUSE_PUBLIC_URL",
            "ftp://gh.example.com",
            "must start with",
        ),
        (
            "GATEHOUSE_DATABASE_URL",
            "mysql://u:p@db/gh",
            "neither a sqlite: nor a postgres:// URL",
        ),
        ("GATEHOUSE_DATABASE_POOL_SIZE", "many", "not a number"),
        (
            "GATEHOUSE_DATABASE_STATEMENT_TIMEOUT",
            "soon",
            "not a duration",
        ),
        ("GATEHOUSE_ENCRYPTION_KEYS", "nokey", "no 'id:' part"),
        ("GATEHOUSE_ENCRYPTION_KEYS", "k1:c2hvcnQ=", "not 32 bytes"),
        (
            "GATEHOUSE_ALLOW_PRIVATE_NETWORKS",
            "10.0.0.0/33",
            "not a CIDR range",
        ),
        (
            "GATEHOUSE_CIMD_ALLOW_PRIVATE_NETWORKS",
            "nope",
            "not a CIDR range",
        ),
        ("GATEHOUSE_TRUSTED_PROXIES", "1.2.3", "not a CIDR range"),
        (
            "GATEHOUSE_EXTRA_CA_FILE",
            "/nonexistent/ca.pem",
            "not a readable file",
        ),
        (
            "GATEHOUSE_GOOGLE_TOKEN_URL",
            "not a url",
            "not an http(s) URL",
        ),
        ("GATEHOUSE_ACCESS_TOKEN_TTL", "1 hour", "not a duration"),
        ("GATEHOUSE_REFRESH_TOKEN_TTL", "0", "lifetime of 0"),
        ("GATEHOUSE_CODE_TTL", "0s", "lifetime of 0"),
        (
            "GATEHOUSE_ALLOWED_HOSTS",
            "gh.example.com/path",
            "not a host name",
        ),
        ("GATEHOUSE_REFRESH_GRACE", "5w", "not a duration"),
        ("GATEHOUSE_OPEN_SIGNUP", "maybe", "not a boolean"),
    ];
    for (name, value, problem) in cases {
        let err = error_of(&[(name, value)]);
        assert_eq!(&err.setting, name, "{name}={value}: {err}");
        assert!(err.problem.contains(problem), "{name}={value}: {err}");
        let line = err.to_string();
        assert!(!line.contains('\n') && line.contains("Fix:"), "{line}");
    }
}

#[test]
fn database_url_error_does_not_echo_credentials() {
    for url in [
        "mysql://user:hunter2@db/gh",
        "mysql://db/gh?user=gh&password=hunter2",
    ] {
        let err = error_of(&[("GATEHOUSE_DATABASE_URL", url)]);
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().contains("'mysql:'"), "{err}");
    }
    // Without a scheme, the text before ':' is a user name: not shown either.
    let err = error_of(&[("GATEHOUSE_DATABASE_URL", "admin:hunter2@db/gh")]);
    assert!(!err.to_string().contains("admin"), "{err}");
}

#[test]
fn database_url_takes_postgres() {
    for url in [
        "postgres://gh@db/gh?sslmode=require",
        "postgresql://gh@db/gh",
    ] {
        let c = Config::from_sources(None, &env(&[("GATEHOUSE_DATABASE_URL", url)])).unwrap();
        assert_eq!(c.database_url.expose(), url);
    }
    let c = Config::from_sources(
        None,
        &env(&[(
            "GATEHOUSE_DATABASE_URL",
            "postgres://gh:hunter2@db.internal/gh?sslmode=require",
        )]),
    )
    .unwrap();
    assert_eq!(c.database_label(), "Postgres at db.internal:5432/gh");
    // Nor does Config's Debug show the password.
    let shown = format!("{c:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains("DatabaseUrl(Postgres at db.internal:5432/gh)"),
        "{shown}"
    );
    let err = error_of(&[("GATEHOUSE_DATABASE_POOL_SIZE", "0")]);
    assert_eq!(err.setting, "GATEHOUSE_DATABASE_POOL_SIZE");
}

#[test]
fn public_url_required_for_a_routable_bind() {
    let err = error_of(&[("GATEHOUSE_BIND", "192.0.2.10:3000")]);
    assert_eq!(err.setting, "GATEHOUSE_PUBLIC_URL");
    assert!(Config::from_sources(None, &env(&[("GATEHOUSE_BIND", "0.0.0.0:3000")])).is_ok());
    assert!(Config::from_sources(None, &env(&[("GATEHOUSE_BIND", "192.0.2.10:0")])).is_ok());
}

#[test]
fn public_url_issuer_has_no_trailing_slash() -> Result<(), ConfigError> {
    let c = Config::from_sources(
        None,
        &env(&[("GATEHOUSE_PUBLIC_URL", "https://gh.example.com/")]),
    )?;
    let url = c.public_url_for(c.bind);
    assert_eq!(url.issuer(), "https://gh.example.com");
    assert_eq!(url.join("/mcp/gmail"), "https://gh.example.com/mcp/gmail");
    assert!(url.is_https());
    Ok(())
}

#[test]
fn values_parse_into_types() -> Result<(), ConfigError> {
    let key = STANDARD.encode([7u8; 32]);
    let c = Config::from_sources(
        None,
        &env(&[
            (
                "GATEHOUSE_ENCRYPTION_KEYS",
                &format!("new:{key}, old:{key}"),
            ),
            ("GATEHOUSE_TRUSTED_PROXIES", "10.0.0.0/8, ::1"),
            ("GATEHOUSE_ACCESS_TOKEN_TTL", "15m"),
            ("GATEHOUSE_REFRESH_GRACE", "45"),
            ("GATEHOUSE_OPEN_SIGNUP", "true"),
        ]),
    )?;
    let ids: Vec<_> = c
        .encryption_keys
        .iter()
        .flatten()
        .map(|k| k.id.as_str())
        .collect();
    assert_eq!(ids, ["new", "old"]);
    assert_eq!(c.trusted_proxies.len(), 2);
    assert_eq!(c.access_token_ttl, Duration::from_secs(900));
    assert_eq!(c.refresh_grace, Duration::from_secs(45));
    assert!(c.open_signup);
    assert!(
        !format!("{c:?}").contains(&key),
        "keys must not appear in Debug output"
    );
    Ok(())
}

#[test]
fn toml_file_with_env_override() -> Result<(), ConfigError> {
    let text = r#"
        bind = "127.0.0.1:4000"
        open_signup = true
        trusted_proxies = ["10.0.0.0/8"]
        [google]
        client_id = "from-file"
    "#;
    let c = Config::from_sources(Some(text), &env(&[("GATEHOUSE_BIND", "127.0.0.1:5000")]))?;
    assert_eq!(c.bind.port(), 5000);
    assert!(c.open_signup);
    assert_eq!(c.trusted_proxies.len(), 1);
    assert_eq!(c.google.client_id.as_deref(), Some("from-file"));
    Ok(())
}

#[test]
fn toml_unknown_key_and_bad_syntax_are_named() {
    let unknown = Config::from_sources(Some("bnid = \"x\""), &BTreeMap::new()).err();
    assert!(unknown.is_some_and(|e| e.setting == "GATEHOUSE_CONFIG" && e.problem.contains("bnid")));
    let syntax = Config::from_sources(Some("bind = "), &BTreeMap::new()).err();
    assert!(syntax.is_some_and(|e| e.problem.contains("not valid TOML")));
}

#[test]
fn every_duration_takes_zero_with_or_without_a_unit() {
    for zero in ["0", "0s", "0m"] {
        let c = Config::from_sources(None, &env(&[("GATEHOUSE_REFRESH_GRACE", zero)]))
            .unwrap_or_else(|e| panic!("{zero}: {e}"));
        assert_eq!(c.refresh_grace, Duration::ZERO, "{zero}");
    }
}

#[test]
fn code_lifetime_and_allowed_hosts_are_settings() {
    let c = Config::from_sources(
        None,
        &env(&[
            ("GATEHOUSE_CODE_TTL", "2m"),
            ("GATEHOUSE_ALLOWED_HOSTS", "GH.internal, 10.0.0.5:3000"),
        ]),
    )
    .unwrap();
    assert_eq!(c.code_ttl, Duration::from_secs(120));
    assert_eq!(c.allowed_hosts, ["gh.internal", "10.0.0.5:3000"]);
    let d = Config::from_sources(None, &BTreeMap::new()).unwrap();
    assert_eq!(d.code_ttl, Duration::from_secs(600));
}
