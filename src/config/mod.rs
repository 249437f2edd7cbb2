//! Typed configuration: defaults → optional TOML file (`GATEHOUSE_CONFIG`) → `GATEHOUSE_*`
//! environment. Every value is parsed here once; a bad one is a single line naming the
//! setting and the fix.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::{SecretBox, SecretString};
use sqlx::any::AnyConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use url::Url;

mod limits;
mod parse;
pub mod providers;
pub use limits::{ConnectionLimits, Rate, RateLimits};
pub(crate) use parse::parse_keys;
use parse::{
    flatten_toml, parse_bool, parse_cidrs, parse_duration, parse_hosts, parse_lifetime, parse_url,
};
pub use providers::{GenericProvider, UpstreamClient};

/// Settings known to Gatehouse, by their environment name without the `GATEHOUSE_` prefix.
/// A TOML file uses the same names in lowercase; `GOOGLE_*` live in a `[google]` section.
const SETTINGS: &[&str] = &[
    "BIND",
    "PUBLIC_URL",
    "DATA_DIR",
    "DATABASE_URL",
    "DATABASE_POOL_SIZE",
    "DATABASE_STATEMENT_TIMEOUT",
    "ENCRYPTION_KEYS",
    "ALLOW_PRIVATE_NETWORKS",
    "CIMD_ALLOW_PRIVATE_NETWORKS",
    "EXTRA_CA_FILE",
    "TRUSTED_PROXIES",
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "GOOGLE_AUTH_URL",
    "GOOGLE_TOKEN_URL",
    "GOOGLE_REVOKE_URL",
    "GOOGLE_USERINFO_URL",
    "ACCESS_TOKEN_TTL",
    "REFRESH_TOKEN_TTL",
    "REFRESH_GRACE",
    "OPEN_SIGNUP",
    "UPSTREAM_REFRESH_SKEW",
    "ALLOWED_HOSTS",
    "CODE_TTL",
    "UNUSED_CLIENT_TTL",
    "LOG_FORMAT",
    "METRICS_BIND",
    "ACTIVITY_RETENTION",
    "ACTIVITY_MAX_ROWS",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {problem}. Fix: {fix}")]
pub struct ConfigError {
    pub setting: String,
    pub problem: String,
    pub fix: String,
}

fn bad(setting: &str, problem: impl Into<String>, fix: impl Into<String>) -> ConfigError {
    ConfigError {
        setting: format!("GATEHOUSE_{setting}"),
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// A duration as settings write it (`90`, `90s`, `15m`, `1h`, `30d`), for the CLI's flags.
pub fn parse_duration_text(text: &str) -> Option<Duration> {
    parse_duration("", Some(text.trim()), 0).ok()
}

/// The public origin of this Gatehouse: the OAuth issuer. Scheme + host + port, no path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(Url);

impl PublicUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = Url::parse(raw.trim()).map_err(|e| format!("'{raw}' is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("'{raw}' must start with https:// or http://"));
        }
        if url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
            return Err(format!("'{raw}' needs a host and no user name"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(format!("'{raw}' must not have a path, query or fragment"));
        }
        if url.scheme() == "http" && !host_is_loopback(&url) {
            return Err(format!(
                "'{raw}' uses http off loopback; OAuth needs https there"
            ));
        }
        Ok(Self(url))
    }

    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }

    /// Whether only this machine can reach it (localhost, 127/8, ::1).
    pub fn is_loopback(&self) -> bool {
        host_is_loopback(&self.0)
    }

    /// The origin without a trailing slash, byte-identical wherever the issuer is printed.
    pub fn issuer(&self) -> String {
        self.0.as_str().trim_end_matches('/').to_owned()
    }

    /// The `Host` clients send for this origin: the host, with the port unless it is the
    /// scheme's default.
    pub fn authority(&self) -> String {
        let host = self.0.host_str().unwrap_or_default().to_ascii_lowercase();
        match self.0.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        }
    }

    /// An absolute URL for a path on this origin (`path` starts with `/`).
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.issuer())
    }
}

fn host_is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// One `id:base64` entry of `GATEHOUSE_ENCRYPTION_KEYS`: a 256-bit AES key and its id.
pub struct EncryptionKey {
    pub id: String,
    pub key: SecretBox<[u8; 32]>,
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncryptionKey({}: <redacted>)", self.id)
    }
}

#[derive(Debug)]
pub struct GoogleConfig {
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub auth_url: Url,
    pub token_url: Url,
    pub revoke_url: Url,
    pub userinfo_url: Url,
}

#[derive(Debug)]
pub struct Config {
    pub bind: SocketAddr,
    /// `None` means "derive from the bound address" (see [`Config::public_url_for`]).
    pub public_url: Option<PublicUrl>,
    pub data_dir: PathBuf,
    /// `sqlite:…` (the default, in the data directory) or `postgres://…`.
    pub database_url: DatabaseUrl,
    /// Connections per process (`GATEHOUSE_DATABASE_POOL_SIZE`, default 8).
    pub database_pool_size: u32,
    /// Longest a Postgres statement may run (`GATEHOUSE_DATABASE_STATEMENT_TIMEOUT`, 30 s).
    pub database_statement_timeout: Duration,
    /// `None` means "use (or generate) the key file in the data directory".
    pub encryption_keys: Option<Vec<EncryptionKey>>,
    pub allow_private_networks: Vec<IpNet>,
    pub cimd_allow_private_networks: Vec<IpNet>,
    pub extra_ca_file: Option<PathBuf>,
    pub trusted_proxies: Vec<IpNet>,
    pub google: GoogleConfig,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub refresh_grace: Duration,
    pub open_signup: bool,
    /// Upstream tokens are refreshed this long before they expire.
    pub upstream_refresh_skew: Duration,
    /// Generic OAuth 2 providers (`[[provider]]` in the TOML file).
    pub providers: Vec<GenericProvider>,
    /// Clients registered by hand at upstream authorization servers (`[[upstream_client]]`),
    /// used before CIMD or DCR for that issuer.
    pub upstream_clients: Vec<UpstreamClient>,
    /// Extra `Host` values `/mcp` accepts besides the public URL's (lowercase; `host` or
    /// `host:port`).
    pub allowed_hosts: Vec<String>,
    /// Authorization codes live this long.
    pub code_ttl: Duration,
    pub rate_limits: RateLimits,
    pub connection_limits: ConnectionLimits,
    /// Clients that never got a grant are swept this long after they were created.
    pub unused_client_ttl: Duration,
    pub log_format: LogFormat,
    /// Activity events older than this are swept…
    pub activity_retention: Duration,
    /// …and beyond this many rows the oldest go too (every gateway call is a row).
    pub activity_max_rows: u64,
    /// A listener for Prometheus metrics (no authentication: keep it on a private network).
    pub metrics_bind: Option<SocketAddr>,
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    /// One JSON object per line, with the request span's fields.
    Json,
}

impl Config {
    /// Reads `GATEHOUSE_CONFIG` (if set) and the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let file = match env.get("GATEHOUSE_CONFIG") {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| ConfigError {
                setting: "GATEHOUSE_CONFIG".into(),
                problem: format!("cannot read '{path}' ({e})"),
                fix: "point it at a readable TOML file or unset it".into(),
            })?),
            None => None,
        };
        Self::from_sources(file.as_deref(), &env)
    }

    /// Builds the configuration from a TOML text and an environment map (env wins).
    pub fn from_sources(
        toml_text: Option<&str>,
        env: &BTreeMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let (mut raw, providers) = match toml_text {
            Some(text) => flatten_toml(text)?,
            None => (BTreeMap::new(), providers::Tables::default()),
        };
        for name in SETTINGS.iter().chain(limits::SETTINGS) {
            if let Some(value) = env.get(&format!("GATEHOUSE_{name}")) {
                raw.insert((*name).to_owned(), value.clone());
            }
        }
        Self::parse(&raw, providers)
    }

    fn parse(
        raw: &BTreeMap<String, String>,
        tables: providers::Tables,
    ) -> Result<Self, ConfigError> {
        let get = |name: &str| raw.get(name).map(|s| s.trim()).filter(|s| !s.is_empty());

        let bind = match get("BIND") {
            Some(v) => SocketAddr::from_str(v).map_err(|_| {
                bad(
                    "BIND",
                    format!("'{v}' is not an address"),
                    "use IP:PORT, e.g. 127.0.0.1:3000",
                )
            })?,
            None => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 3000),
        };
        let public_url = get("PUBLIC_URL")
            .map(PublicUrl::parse)
            .transpose()
            .map_err(|p| {
                bad(
                    "PUBLIC_URL",
                    p,
                    "use an origin like https://gatehouse.example.com",
                )
            })?;
        if public_url.is_none() && !bind_defaults_public_url(bind) {
            return Err(bad(
                "PUBLIC_URL",
                format!("is required when binding to {bind}"),
                "set it to the https origin clients use to reach this server",
            ));
        }
        let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or("./data"));
        let database_url = match get("DATABASE_URL") {
            Some(v) => DatabaseUrl::parse(v).map_err(|problem| {
                bad(
                    "DATABASE_URL",
                    problem,
                    "use sqlite://path/to/gatehouse.db or postgres://user:password@host/db",
                )
            })?,
            None => DatabaseUrl(format!(
                "sqlite://{}",
                data_dir.join("gatehouse.db").display()
            )),
        };
        let database_pool_size = match get("DATABASE_POOL_SIZE") {
            None => 8,
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    bad(
                        "DATABASE_POOL_SIZE",
                        format!("'{v}' is not a number from 1 to 1000"),
                        "e.g. 16",
                    )
                })?,
        };
        let database_statement_timeout = parse_duration(
            "DATABASE_STATEMENT_TIMEOUT",
            get("DATABASE_STATEMENT_TIMEOUT"),
            30,
        )?;
        let encryption_keys = get("ENCRYPTION_KEYS").map(parse_keys).transpose()?;
        let extra_ca_file = get("EXTRA_CA_FILE").map(PathBuf::from);
        if let Some(path) = &extra_ca_file {
            if !path.is_file() {
                return Err(bad(
                    "EXTRA_CA_FILE",
                    format!("'{}' is not a readable file", path.display()),
                    "point it at a PEM certificate file or unset it",
                ));
            }
        }
        Ok(Self {
            bind,
            public_url,
            data_dir,
            database_url,
            database_pool_size,
            database_statement_timeout,
            encryption_keys,
            allow_private_networks: parse_cidrs(
                "ALLOW_PRIVATE_NETWORKS",
                get("ALLOW_PRIVATE_NETWORKS"),
            )?,
            cimd_allow_private_networks: parse_cidrs(
                "CIMD_ALLOW_PRIVATE_NETWORKS",
                get("CIMD_ALLOW_PRIVATE_NETWORKS"),
            )?,
            extra_ca_file,
            trusted_proxies: parse_cidrs("TRUSTED_PROXIES", get("TRUSTED_PROXIES"))?,
            google: GoogleConfig {
                client_id: get("GOOGLE_CLIENT_ID").map(str::to_owned),
                client_secret: get("GOOGLE_CLIENT_SECRET")
                    .map(|s| SecretString::from(s.to_owned())),
                auth_url: parse_url(
                    "GOOGLE_AUTH_URL",
                    get("GOOGLE_AUTH_URL"),
                    "https://accounts.google.com/o/oauth2/v2/auth",
                )?,
                token_url: parse_url(
                    "GOOGLE_TOKEN_URL",
                    get("GOOGLE_TOKEN_URL"),
                    "https://oauth2.googleapis.com/token",
                )?,
                revoke_url: parse_url(
                    "GOOGLE_REVOKE_URL",
                    get("GOOGLE_REVOKE_URL"),
                    "https://oauth2.googleapis.com/revoke",
                )?,
                userinfo_url: parse_url(
                    "GOOGLE_USERINFO_URL",
                    get("GOOGLE_USERINFO_URL"),
                    "https://openidconnect.googleapis.com/v1/userinfo",
                )?,
            },
            access_token_ttl: parse_lifetime("ACCESS_TOKEN_TTL", get("ACCESS_TOKEN_TTL"), 3600)?,
            refresh_token_ttl: parse_lifetime(
                "REFRESH_TOKEN_TTL",
                get("REFRESH_TOKEN_TTL"),
                30 * 86400,
            )?,
            // 0 turns the retry window off: any reuse of a refresh token revokes its family.
            refresh_grace: parse_duration("REFRESH_GRACE", get("REFRESH_GRACE"), 30)?,
            open_signup: parse_bool("OPEN_SIGNUP", get("OPEN_SIGNUP"))?,
            upstream_refresh_skew: parse_duration(
                "UPSTREAM_REFRESH_SKEW",
                get("UPSTREAM_REFRESH_SKEW"),
                120,
            )?,
            providers: tables.providers,
            upstream_clients: tables.upstream_clients,
            allowed_hosts: parse_hosts("ALLOWED_HOSTS", get("ALLOWED_HOSTS"))?,
            code_ttl: parse_lifetime("CODE_TTL", get("CODE_TTL"), 600)?,
            rate_limits: limits::parse_rates(&|name| get(name).map(str::to_owned))?,
            connection_limits: limits::parse_connections(&|name| get(name).map(str::to_owned))?,
            unused_client_ttl: parse_lifetime(
                "UNUSED_CLIENT_TTL",
                get("UNUSED_CLIENT_TTL"),
                7 * 86400,
            )?,
            activity_retention: parse_lifetime(
                "ACTIVITY_RETENTION",
                get("ACTIVITY_RETENTION"),
                90 * 86400,
            )?,
            activity_max_rows: match get("ACTIVITY_MAX_ROWS") {
                None => 1_000_000,
                Some(v) => v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    bad(
                        "ACTIVITY_MAX_ROWS",
                        format!("'{v}' is not a positive number"),
                        "use a number of events, e.g. 1000000",
                    )
                })?,
            },
            log_format: match get("LOG_FORMAT") {
                None | Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                Some(other) => {
                    return Err(bad(
                        "LOG_FORMAT",
                        format!("'{other}' is not a log format"),
                        "use text or json",
                    ))
                }
            },
            metrics_bind: get("METRICS_BIND")
                .map(|raw| {
                    raw.parse::<SocketAddr>().map_err(|_| {
                        bad(
                            "METRICS_BIND",
                            format!("'{raw}' is not an address with a port"),
                            "use e.g. 127.0.0.1:9464",
                        )
                    })
                })
                .transpose()?,
        })
    }

    /// The issuer origin: the configured one, or `http://127.0.0.1:<port>` of the bound socket.
    pub fn public_url_for(&self, bound: SocketAddr) -> PublicUrl {
        match &self.public_url {
            Some(url) => url.clone(),
            None => PublicUrl(
                #[allow(clippy::unwrap_used)] // a literal origin with a port always parses
                Url::parse(&format!("http://127.0.0.1:{}", bound.port())).unwrap(),
            ),
        }
    }

    /// The database for people to read: never the credentials or parameters of a Postgres URL.
    pub fn database_label(&self) -> String {
        self.database_url.label()
    }

    /// The options of the store's pool (either backend; `sslmode` and the like in the URL).
    pub fn database_connect_options(&self) -> Result<AnyConnectOptions, ConfigError> {
        let url = self.database_url.expose();
        AnyConnectOptions::from_str(url).map_err(|e| {
            let problem = e.to_string().replace(url, "the URL");
            bad(
                "DATABASE_URL",
                format!("cannot be used ({problem})"),
                "check the URL's form",
            )
        })
    }

    /// SQLite as DESIGN.md §7 wants it: WAL, synchronous=FULL, foreign keys, a busy timeout.
    pub fn sqlite_connect_options(&self) -> Result<SqliteConnectOptions, ConfigError> {
        let options = SqliteConnectOptions::from_str(self.database_url.expose()).map_err(|e| {
            bad(
                "DATABASE_URL",
                format!("cannot be used ({e})"),
                "use sqlite://path/to/gatehouse.db",
            )
        })?;
        Ok(options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5)))
    }
}

/// A `postgres://` or `postgresql://` URL (the store's `Backend` asks the same question).
pub(crate) fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The database's URL: `sqlite:…` or `postgres://…`. A Postgres URL may carry a password, so
/// `Debug` shows only [`Config::database_label`]'s part and the text is read by `expose`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// A `sqlite:` or `postgres://` URL; otherwise what is wrong, naming only the scheme: the
    /// rest of a mistyped URL may hold a user and password (and without `://`, the text before
    /// ':' may be the user's name).
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("sqlite:") || is_postgres_url(url) {
            return Ok(Self(url.to_owned()));
        }
        let scheme = url.split_once("://").map(|(scheme, _)| scheme).filter(|s| {
            s.len() <= 16
                && s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
        });
        Err(match scheme {
            Some(scheme) => format!("a '{scheme}:' URL is neither a sqlite: nor a postgres:// URL"),
            None => "is not a sqlite: or postgres:// URL".to_owned(),
        })
    }

    pub fn is_postgres(&self) -> bool {
        is_postgres_url(&self.0)
    }

    /// The URL with its credentials: for the database driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The database for people to read: never the credentials or parameters of a Postgres URL.
    pub fn label(&self) -> String {
        if !self.is_postgres() {
            return format!("SQLite, {}", self.0.trim_start_matches("sqlite://"));
        }
        match Url::parse(&self.0) {
            Ok(url) => format!(
                "Postgres at {}:{}{}",
                url.host_str().unwrap_or("localhost"),
                url.port().unwrap_or(5432),
                url.path()
            ),
            Err(_) => "Postgres".into(),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.label())
    }
}

fn bind_defaults_public_url(bind: SocketAddr) -> bool {
    bind.ip().is_loopback() || bind.ip().is_unspecified() || bind.port() == 0
}

#[cfg(test)]
mod tests;
