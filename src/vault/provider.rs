//! Which OAuth provider a server's connection uses, and that provider's endpoints.
//! Detection (`detect`) proposes; a per-server choice, stored as a short key, overrides.

use secrecy::SecretString;
use url::Url;

pub use super::detect::GoogleSet;
use super::detect::{self, Provider};
use super::discovery::AuthServer;
pub use super::registration::AuthMethod;
use crate::config::Config;
use crate::domain::UpstreamUrl;

/// A user's override of detection, as stored in `mcp_servers.provider` (NULL = detect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Detect,
    Google(GoogleSet),
    Generic(String),
    /// No OAuth: the server is open or uses its static credential.
    None,
}

impl Choice {
    /// Parses a stored or submitted key; `None` for anything unknown.
    pub fn parse(key: Option<&str>, config: &Config) -> Option<Self> {
        match key.unwrap_or("") {
            "" | "detect" => Some(Choice::Detect),
            "google:gmail" => Some(Choice::Google(GoogleSet::Gmail)),
            "google:drive" => Some(Choice::Google(GoogleSet::Drive)),
            "google:workspace" => Some(Choice::Google(GoogleSet::Workspace)),
            "none" => Some(Choice::None),
            other => other
                .strip_prefix("provider:")
                .filter(|id| config.providers.iter().any(|p| p.id == *id))
                .map(|id| Choice::Generic(id.to_owned())),
        }
    }

    /// The stored key (`None` for detection).
    pub fn key(&self) -> Option<String> {
        match self {
            Choice::Detect => None,
            Choice::Google(GoogleSet::Gmail) => Some("google:gmail".into()),
            Choice::Google(GoogleSet::Drive) => Some("google:drive".into()),
            Choice::Google(GoogleSet::Workspace) => Some("google:workspace".into()),
            Choice::Generic(id) => Some(format!("provider:{id}")),
            Choice::None => Some("none".into()),
        }
    }

    /// Every choice offered to the user: (key, label).
    pub fn options(config: &Config) -> Vec<(String, String)> {
        let mut out = vec![
            ("detect".to_owned(), "Detect from the URL".to_owned()),
            (
                "google:gmail".to_owned(),
                GoogleSet::Gmail.label().to_owned(),
            ),
            (
                "google:drive".to_owned(),
                GoogleSet::Drive.label().to_owned(),
            ),
            (
                "google:workspace".to_owned(),
                GoogleSet::Workspace.label().to_owned(),
            ),
        ];
        out.extend(
            config
                .providers
                .iter()
                .map(|p| (format!("provider:{}", p.id), p.label.clone())),
        );
        out.push((
            "none".to_owned(),
            "None (open, or the static credential)".to_owned(),
        ));
        out
    }
}

/// How a server authenticates, after detection and the user's choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Google,
    Generic(String),
    /// The upstream's own authorization server (MCP-native discovery).
    Native,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub kind: Kind,
    pub label: String,
    pub scopes: Vec<String>,
    pub detected: bool,
}

impl Kind {
    /// The provider id stored with a connection (the inverse of [`kind_of`]).
    pub fn id(&self) -> &str {
        match self {
            Kind::Google => "google",
            Kind::Generic(id) => id,
            Kind::Native => "native",
            Kind::None => "none",
        }
    }
}

fn google(set: GoogleSet, detected: bool) -> Resolved {
    Resolved {
        kind: Kind::Google,
        label: set.label().to_owned(),
        scopes: set.scopes().iter().map(|s| (*s).to_owned()).collect(),
        detected,
    }
}

/// Resolves a server's provider: the choice if any, else configured providers' hosts, else
/// the built-in rule table.
pub fn resolve(config: &Config, url: &UpstreamUrl, choice: &Choice) -> Resolved {
    let generic = |id: &str, detected: bool| {
        config
            .providers
            .iter()
            .find(|p| p.id == id)
            .map(|p| Resolved {
                kind: Kind::Generic(p.id.clone()),
                label: p.label.clone(),
                scopes: p.scopes.clone(),
                detected,
            })
    };
    match choice {
        Choice::Google(set) => return google(*set, false),
        Choice::Generic(id) => {
            if let Some(r) = generic(id, false) {
                return r;
            }
        }
        Choice::None => {
            return Resolved {
                kind: Kind::None,
                label: "None".into(),
                scopes: Vec::new(),
                detected: false,
            }
        }
        Choice::Detect => {}
    }
    let host = Url::parse(url.as_str())
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    if let Some(p) = config.providers.iter().find(|p| p.hosts.contains(&host)) {
        if let Some(r) = generic(&p.id, true) {
            return r;
        }
    }
    let found = detect::detect(url);
    match found.provider {
        Provider::Google => Resolved {
            kind: Kind::Google,
            label: found.label.to_owned(),
            scopes: found.scopes.iter().map(|s| (*s).to_owned()).collect(),
            detected: true,
        },
        Provider::McpNative => Resolved {
            kind: Kind::Native,
            label: found.label.to_owned(),
            scopes: Vec::new(),
            detected: true,
        },
    }
}

/// A provider's client and endpoints, ready for the `oauth2` crate.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub auth_url: Url,
    pub token_url: Url,
    pub revoke_url: Option<Url>,
    pub userinfo_url: Option<Url>,
    /// Extra authorization parameters (Google: offline access, and consent so a refresh
    /// token is issued again on reconnect).
    pub extra_auth_params: &'static [(&'static str, &'static str)],
    /// The RFC 8707 `resource` to send with authorization, token and refresh requests.
    pub resource: Resource,
    /// The issuer, when known: an `iss` in a callback must be exactly this (RFC 9207).
    pub issuer: Option<String>,
    /// Whether callbacks must carry `iss` (the server advertises it).
    pub iss_required: bool,
    /// How the client authenticates at the token and revocation endpoints.
    pub auth_method: AuthMethod,
}

/// Which `resource` a provider is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    None,
    /// The server's own URL (configured providers with `resource = true`).
    ServerUrl,
    /// The protected resource its metadata names (MCP-native upstreams).
    Exactly(String),
}

impl Endpoints {
    /// The `resource` value for a server at `server_url`.
    pub fn resource_for(&self, server_url: Option<&UpstreamUrl>) -> Option<String> {
        match &self.resource {
            Resource::None => None,
            Resource::ServerUrl => server_url.map(UpstreamUrl::as_resource),
            Resource::Exactly(r) => Some(r.clone()),
        }
    }

    /// An MCP-native upstream's endpoints, from its checked metadata and Gatehouse's client
    /// there.
    pub fn native(
        server: &AuthServer,
        resource: &str,
        client_id: String,
        client_secret: Option<SecretString>,
        auth_method: AuthMethod,
    ) -> Self {
        Endpoints {
            client_id,
            client_secret,
            auth_url: server.authorization_endpoint.clone(),
            token_url: server.token_endpoint.clone(),
            revoke_url: server.revocation_endpoint.clone(),
            userinfo_url: None,
            extra_auth_params: &[],
            resource: Resource::Exactly(resource.to_owned()),
            issuer: Some(server.issuer.clone()),
            iss_required: server.authorization_response_iss_parameter_supported,
            auth_method,
        }
    }
}

/// A secret, when there is one, is sent with HTTP Basic (RFC 6749 §2.3.1's default).
fn secret_method(secret: &Option<SecretString>) -> AuthMethod {
    if secret.is_some() {
        AuthMethod::Basic
    } else {
        AuthMethod::None
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    #[error("Google sign-in is not configured on this Gatehouse: the operator must set GATEHOUSE_GOOGLE_CLIENT_ID and GATEHOUSE_GOOGLE_CLIENT_SECRET")]
    GoogleNotConfigured,
    #[error("the provider '{0}' is no longer configured")]
    UnknownProvider(String),
    /// Native upstreams' endpoints come from discovery (`service::upstream::native`).
    #[error("this server's own sign-in must be discovered first: use Check on the Servers page")]
    NativeNeedsDiscovery,
    #[error("this server is set to use no OAuth provider")]
    NoProvider,
}

pub fn endpoints(config: &Config, kind: &Kind) -> Result<Endpoints, EndpointError> {
    match kind {
        Kind::Google => {
            let g = &config.google;
            let client_id = g
                .client_id
                .clone()
                .ok_or(EndpointError::GoogleNotConfigured)?;
            Ok(Endpoints {
                client_id,
                client_secret: g.client_secret.clone(),
                auth_url: g.auth_url.clone(),
                token_url: g.token_url.clone(),
                revoke_url: Some(g.revoke_url.clone()),
                userinfo_url: Some(g.userinfo_url.clone()),
                extra_auth_params: &[("access_type", "offline"), ("prompt", "consent")],
                resource: Resource::None,
                issuer: None,
                iss_required: false,
                auth_method: secret_method(&g.client_secret),
            })
        }
        Kind::Generic(id) => {
            let p = config
                .providers
                .iter()
                .find(|p| &p.id == id)
                .ok_or_else(|| EndpointError::UnknownProvider(id.clone()))?;
            Ok(Endpoints {
                client_id: p.client_id.clone(),
                client_secret: p.client_secret.clone(),
                auth_url: p.auth_url.clone(),
                token_url: p.token_url.clone(),
                revoke_url: p.revoke_url.clone(),
                userinfo_url: p.userinfo_url.clone(),
                extra_auth_params: &[],
                resource: if p.resource {
                    Resource::ServerUrl
                } else {
                    Resource::None
                },
                issuer: p.issuer.clone(),
                iss_required: p.issuer.is_some(),
                auth_method: secret_method(&p.client_secret),
            })
        }
        Kind::Native => Err(EndpointError::NativeNeedsDiscovery),
        Kind::None => Err(EndpointError::NoProvider),
    }
}

/// Maps a stored connection's provider id back to its kind.
pub fn kind_of(provider_id: &str) -> Kind {
    match provider_id {
        "google" => Kind::Google,
        "native" => Kind::Native,
        "none" => Kind::None,
        other => Kind::Generic(other.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn config(toml: Option<&str>) -> Config {
        let mut env = BTreeMap::new();
        env.insert("GATEHOUSE_DATA_DIR".to_owned(), "/tmp/x".to_owned());
        Config::from_sources(toml, &env).unwrap()
    }

    const ATLASSIAN: &str = r#"
        [[provider]]
        id = "atlassian"
        client_id = "abc"
        auth_url = "https://auth.atlassian.com/authorize"
        token_url = "https://auth.atlassian.com/oauth/token"
        hosts = ["mcp.atlassian.com"]
        scopes = ["read:jira-work"]
    "#;

    fn url(u: &str) -> UpstreamUrl {
        UpstreamUrl::parse(u).unwrap()
    }

    #[test]
    fn configured_hosts_win_over_the_rule_table_and_choices_win_over_both() {
        let c = config(Some(ATLASSIAN));
        let r = resolve(
            &c,
            &url("https://mcp.atlassian.com/v1/sse"),
            &Choice::Detect,
        );
        assert_eq!(r.kind, Kind::Generic("atlassian".into()));
        assert!(r.detected);
        let r = resolve(&c, &url("https://gmail.example.com/mcp"), &Choice::Detect);
        assert_eq!((r.kind, r.label.as_str()), (Kind::Google, "Google (Gmail)"));
        let chosen = Choice::parse(Some("google:drive"), &c).unwrap();
        let r = resolve(&c, &url("https://mcp.atlassian.com/v1/sse"), &chosen);
        assert_eq!((r.kind, r.detected), (Kind::Google, false));
        assert!(r.scopes.iter().any(|s| s.ends_with("/auth/drive")));
        let none = resolve(&c, &url("https://gmail.example.com/mcp"), &Choice::None);
        assert_eq!(none.kind, Kind::None);
    }

    #[test]
    fn choice_keys_round_trip_and_unknown_ones_are_refused() {
        let c = config(Some(ATLASSIAN));
        for (key, _) in Choice::options(&c) {
            let choice = Choice::parse(Some(&key), &c).unwrap();
            assert_eq!(choice.key().unwrap_or_else(|| "detect".into()), key);
        }
        assert_eq!(Choice::parse(Some("provider:nope"), &c), None);
        assert_eq!(Choice::parse(Some("google:mail"), &c), None);
    }

    #[test]
    fn google_needs_a_client_id() {
        let c = config(None);
        assert_eq!(
            endpoints(&c, &Kind::Google).unwrap_err(),
            EndpointError::GoogleNotConfigured
        );
        let mut env = BTreeMap::new();
        env.insert("GATEHOUSE_DATA_DIR".to_owned(), "/tmp/x".to_owned());
        env.insert("GATEHOUSE_GOOGLE_CLIENT_ID".to_owned(), "id".to_owned());
        let c = Config::from_sources(None, &env).unwrap();
        let e = endpoints(&c, &Kind::Google).unwrap();
        assert!(e.extra_auth_params.contains(&("access_type", "offline")));
        assert!(e.extra_auth_params.contains(&("prompt", "consent")));
    }
}
