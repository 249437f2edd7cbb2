//! Generic OAuth 2 providers for the vault (DESIGN.md §4), from `[[provider]]` tables of the
//! TOML file. Each names its endpoints, client, scopes and the upstream hosts it serves.

use secrecy::SecretString;
use url::Url;

use super::ConfigError;

#[derive(Debug)]
pub struct GenericProvider {
    /// Lowercase letters, digits and `-`; used in stored choices, so it must stay stable.
    pub id: String,
    pub label: String,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub auth_url: Url,
    pub token_url: Url,
    pub revoke_url: Option<Url>,
    pub userinfo_url: Option<Url>,
    pub scopes: Vec<String>,
    /// Upstream hosts that need this provider's account (detection, before the built-in rules).
    pub hosts: Vec<String>,
    /// Whether to send RFC 8707 `resource` (the upstream URL) with authorization and token
    /// requests.
    pub resource: bool,
    /// The provider's issuer identifier, if it sends `iss` in authorization responses
    /// (RFC 9207): then every callback must carry exactly this.
    pub issuer: Option<String>,
}

/// A client Gatehouse was registered as, by hand, at an upstream authorization server
/// (`[[upstream_client]]`): used for that issuer before CIMD or dynamic registration.
#[derive(Debug)]
pub struct UpstreamClient {
    /// Compared with discovered issuers as a URL.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    /// `client_secret_post` sends the secret in the form; anything else uses HTTP Basic.
    pub secret_in_body: bool,
}

/// The array tables of the config file.
#[derive(Debug, Default)]
pub struct Tables {
    pub providers: Vec<GenericProvider>,
    pub upstream_clients: Vec<UpstreamClient>,
}

/// Parses the `upstream_client` array of tables.
pub fn parse_upstream_clients(
    value: Option<&toml::Value>,
) -> Result<Vec<UpstreamClient>, ConfigError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let bad = |i: usize, problem: String, fix: &str| ConfigError {
        setting: format!("GATEHOUSE_CONFIG [[upstream_client]] #{}", i + 1),
        problem,
        fix: fix.into(),
    };
    let Some(tables) = value.as_array() else {
        return Err(bad(
            0,
            "'upstream_client' must be an array of tables".into(),
            "write each as [[upstream_client]]",
        ));
    };
    let mut out: Vec<UpstreamClient> = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        let Some(table) = table.as_table() else {
            return Err(bad(
                i,
                "is not a table".into(),
                "write it as [[upstream_client]]",
            ));
        };
        const KNOWN: &[&str] = &["issuer", "client_id", "client_secret", "auth_method"];
        if let Some(unknown) = table.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(bad(
                i,
                format!("unknown key '{unknown}'"),
                "use issuer, client_id, client_secret and auth_method",
            ));
        }
        let text = |key: &str| {
            table
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let issuer = text("issuer").ok_or_else(|| {
            bad(
                i,
                "'issuer' is missing".into(),
                "add the authorization server's issuer URL",
            )
        })?;
        if !Url::parse(issuer).is_ok_and(|u| matches!(u.scheme(), "https" | "http")) {
            return Err(bad(
                i,
                format!("issuer '{issuer}' is not an http(s) URL"),
                "use the issuer exactly as its metadata gives it",
            ));
        }
        let client_id =
            text("client_id").ok_or_else(|| bad(i, "'client_id' is missing".into(), "add it"))?;
        let secret_in_body = match text("auth_method") {
            None | Some("client_secret_basic") => false,
            Some("client_secret_post") => true,
            Some(other) => {
                return Err(bad(
                    i,
                    format!("auth_method '{other}' is not supported"),
                    "use client_secret_basic or client_secret_post",
                ))
            }
        };
        if out.iter().any(|c| c.issuer == issuer) {
            return Err(bad(
                i,
                format!("issuer '{issuer}' is listed twice"),
                "keep one client per issuer",
            ));
        }
        out.push(UpstreamClient {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: text("client_secret").map(|s| SecretString::from(s.to_owned())),
            secret_in_body,
        });
    }
    Ok(out)
}

fn bad(index: usize, problem: impl Into<String>, fix: &str) -> ConfigError {
    ConfigError {
        setting: format!("GATEHOUSE_CONFIG [[provider]] #{}", index + 1),
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// Parses the `provider` array of tables (absent: no generic providers).
pub fn parse(value: Option<&toml::Value>) -> Result<Vec<GenericProvider>, ConfigError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Some(tables) = value.as_array() else {
        return Err(bad(
            0,
            "'provider' must be an array of tables",
            "write each as [[provider]]",
        ));
    };
    let mut out: Vec<GenericProvider> = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        let Some(table) = table.as_table() else {
            return Err(bad(i, "is not a table", "write it as [[provider]]"));
        };
        const KNOWN: &[&str] = &[
            "id",
            "label",
            "client_id",
            "client_secret",
            "auth_url",
            "token_url",
            "revoke_url",
            "userinfo_url",
            "scopes",
            "hosts",
            "resource",
            "issuer",
        ];
        if let Some(unknown) = table.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(bad(
                i,
                format!("unknown key '{unknown}'"),
                "remove it or correct its name",
            ));
        }
        let text = |key: &str| table.get(key).and_then(|v| v.as_str()).map(str::trim);
        let required = |key: &str| {
            text(key)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| bad(i, format!("'{key}' is missing"), "add it"))
        };
        let url = |key: &str| -> Result<Option<Url>, ConfigError> {
            text(key)
                .map(|raw| match Url::parse(raw) {
                    Ok(u) if matches!(u.scheme(), "https" | "http") => Ok(u),
                    _ => Err(bad(
                        i,
                        format!("{key} '{raw}' is not an http(s) URL"),
                        "use a full https:// URL",
                    )),
                })
                .transpose()
        };
        let list = |key: &str| -> Vec<String> {
            table
                .get(key)
                .and_then(|v| v.as_array())
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|v| v.as_str())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let id = required("id")?.to_owned();
        if !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            || id == "google"
        {
            return Err(bad(
                i,
                format!("id '{id}' is not allowed"),
                "use lowercase letters, digits and '-', not 'google'",
            ));
        }
        if out.iter().any(|p| p.id == id) {
            return Err(bad(
                i,
                format!("id '{id}' is used twice"),
                "give each provider its own id",
            ));
        }
        out.push(GenericProvider {
            label: text("label")
                .filter(|l| !l.is_empty())
                .unwrap_or(&id)
                .to_owned(),
            client_id: required("client_id")?.to_owned(),
            client_secret: text("client_secret")
                .filter(|s| !s.is_empty())
                .map(|s| SecretString::from(s.to_owned())),
            auth_url: url("auth_url")?.ok_or_else(|| bad(i, "'auth_url' is missing", "add it"))?,
            token_url: url("token_url")?
                .ok_or_else(|| bad(i, "'token_url' is missing", "add it"))?,
            revoke_url: url("revoke_url")?,
            userinfo_url: url("userinfo_url")?,
            scopes: list("scopes"),
            hosts: list("hosts")
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            resource: table
                .get("resource")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            // Kept as written: RFC 9207 compares the identifier as a string.
            issuer: match url("issuer")? {
                Some(_) => text("issuer").map(str::to_owned),
                None => None,
            },
            id,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Vec<GenericProvider>, ConfigError> {
        let table: toml::Table = text.parse().unwrap();
        parse(table.get("provider"))
    }

    #[test]
    fn a_complete_provider_parses() {
        let p = parse_text(
            r#"
            [[provider]]
            id = "atlassian"
            label = "Atlassian"
            client_id = "abc"
            client_secret = "s3cret"
            auth_url = "https://auth.atlassian.com/authorize"
            token_url = "https://auth.atlassian.com/oauth/token"
            scopes = ["read:jira-work", "offline_access"]
            hosts = ["MCP.atlassian.com"]
            resource = true
            issuer = "https://auth.atlassian.com"
            "#,
        )
        .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].id, "atlassian");
        assert_eq!(p[0].hosts, ["mcp.atlassian.com"]);
        assert!(p[0].resource && p[0].revoke_url.is_none());
        assert_eq!(p[0].issuer.as_deref(), Some("https://auth.atlassian.com"));
        assert!(!format!("{:?}", p[0]).contains("s3cret"));
    }

    #[test]
    fn mistakes_name_the_provider_and_key() {
        let missing =
            parse_text("[[provider]]\nid = \"x\"\nclient_id = \"a\"\ntoken_url = \"https://t\"\n")
                .unwrap_err();
        assert!(missing.to_string().contains("#1") && missing.to_string().contains("auth_url"));
        let unknown = parse_text("[[provider]]\nid = \"x\"\nclinet_id = \"a\"\n").unwrap_err();
        assert!(unknown.to_string().contains("clinet_id"));
        let google = parse_text("[[provider]]\nid = \"google\"\nclient_id = \"a\"\n").unwrap_err();
        assert!(google.to_string().contains("not 'google'"));
    }

    #[test]
    fn upstream_clients_parse_and_mistakes_are_named() {
        let table: toml::Table = r#"
            [[upstream_client]]
            issuer = "https://auth.example.com/"
            client_id = "gatehouse"
            client_secret = "s3cret"
            auth_method = "client_secret_post"
        "#
        .parse()
        .unwrap();
        let clients = parse_upstream_clients(table.get("upstream_client")).unwrap();
        assert_eq!(clients[0].client_id, "gatehouse");
        assert!(clients[0].secret_in_body);
        assert!(!format!("{clients:?}").contains("s3cret"));
        let table: toml::Table = "[[upstream_client]]\nissuer = \"nope\"\nclient_id = \"a\"\n"
            .parse()
            .unwrap();
        let err = parse_upstream_clients(table.get("upstream_client")).unwrap_err();
        assert!(err.to_string().contains("upstream_client") && err.to_string().contains("nope"));
    }
}
