//! MCP-native discovery (MCP authorization spec, DESIGN.md §4): an unauthenticated
//! `initialize` → 401 → the protected resource's metadata (RFC 9728) → its authorization
//! server's metadata (RFC 8414, else OpenID discovery). Every document is fetched through the
//! guarded client, at most 64 KB, 5 s, no redirects, and checked before anything trusts it.

use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use url::{Host, Url};

use crate::net::{cause, read_limited, BodyError, GuardedClient, NetError};

pub const MAX_DOCUMENT: usize = 64 * 1024;
pub const DOCUMENT_TIMEOUT: Duration = Duration::from_secs(5);
const PROTOCOL_VERSION: &str = "2025-11-25";

/// A `Bearer` challenge's parameters (RFC 6750 §3, RFC 9728 §5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    pub resource_metadata: Option<String>,
    pub scope: Option<String>,
    pub error: Option<String>,
}

/// Reads the `Bearer` challenge out of `WWW-Authenticate` values (other schemes ignored).
pub fn bearer_challenge<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
    values.into_iter().find_map(|value| {
        let mut found: Option<Challenge> = None;
        let mut in_bearer = false;
        for item in auth_items(value) {
            match item {
                AuthItem::Scheme(scheme) => {
                    if found.is_some() {
                        break;
                    }
                    in_bearer = scheme.eq_ignore_ascii_case("bearer");
                    if in_bearer {
                        found = Some(Challenge::default());
                    }
                }
                AuthItem::Param(name, value) if in_bearer => {
                    if let Some(c) = found.as_mut() {
                        let slot = match name.to_ascii_lowercase().as_str() {
                            "resource_metadata" => &mut c.resource_metadata,
                            "scope" => &mut c.scope,
                            "error" => &mut c.error,
                            _ => continue,
                        };
                        slot.get_or_insert(value);
                    }
                }
                AuthItem::Param(..) => {}
            }
        }
        found
    })
}

enum AuthItem {
    Scheme(String),
    Param(String, String),
}

/// Splits a challenge list (RFC 9110 §11.6.1) into schemes and `name=value` parameters;
/// values may be tokens or quoted strings. A token68 is skipped.
fn auth_items(text: &str) -> Vec<AuthItem> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let skip = |i: &mut usize, set: &[char]| {
        while *i < chars.len() && set.contains(&chars[*i]) {
            *i += 1;
        }
    };
    while i < chars.len() {
        skip(&mut i, &[' ', '\t', ',']);
        let start = i;
        while i < chars.len() && !matches!(chars[i], ' ' | '\t' | ',' | '=') {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        if word.is_empty() {
            i += 1;
            continue;
        }
        skip(&mut i, &[' ', '\t']);
        if i < chars.len() && chars[i] == '=' && chars.get(i + 1) != Some(&'=') {
            i += 1;
            skip(&mut i, &[' ', '\t']);
            let mut value = String::new();
            if chars.get(i) == Some(&'"') {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    value.push(chars[i]);
                    i += 1;
                }
                i += 1;
            } else {
                while i < chars.len() && !matches!(chars[i], ',' | ' ' | '\t') {
                    value.push(chars[i]);
                    i += 1;
                }
            }
            out.push(AuthItem::Param(word, value));
        } else {
            // A scheme; a token68 after it (e.g. `Basic abc==`) is not a parameter.
            while i < chars.len() && chars[i] == '=' {
                i += 1;
            }
            out.push(AuthItem::Scheme(word));
        }
    }
    out
}

/// Where a server's protected resource metadata may be (RFC 9728 §3.1, MCP spec): the
/// challenge's `resource_metadata`, then the path-inserted well-known URL, then the root one.
pub fn resource_metadata_urls(server: &Url, challenge: Option<&Challenge>) -> Vec<Url> {
    let mut out = Vec::new();
    if let Some(url) = challenge
        .and_then(|c| c.resource_metadata.as_deref())
        .and_then(|u| Url::parse(u).ok())
    {
        out.push(url);
    }
    out.extend(well_known(server, "oauth-protected-resource"));
    out.dedup();
    out
}

/// `/.well-known/{name}{path}` then `/.well-known/{name}` for a URL (query and fragment
/// dropped; a lone `/` path is no path).
fn well_known(base: &Url, name: &str) -> Vec<Url> {
    let path = base.path().trim_end_matches('/');
    let mut root = base.clone();
    root.set_query(None);
    root.set_fragment(None);
    let mut out = Vec::new();
    if !path.is_empty() {
        let mut inserted = root.clone();
        inserted.set_path(&format!("/.well-known/{name}{path}"));
        out.push(inserted);
    }
    root.set_path(&format!("/.well-known/{name}"));
    out.push(root);
    out
}

/// Where an issuer's metadata may be, in the MCP spec's order: RFC 8414 path-inserted, OpenID
/// path-inserted, OpenID path-appended (for an issuer without a path: RFC 8414, then OpenID).
pub fn authorization_server_metadata_urls(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let oauth = well_known(issuer, "oauth-authorization-server");
    let openid = well_known(issuer, "openid-configuration");
    if path.is_empty() {
        return vec![oauth[0].clone(), openid[0].clone()];
    }
    let mut appended = issuer.clone();
    appended.set_query(None);
    appended.set_fragment(None);
    appended.set_path(&format!("{path}/.well-known/openid-configuration"));
    vec![oauth[0].clone(), openid[0].clone(), appended]
}

/// The protected resource metadata fields Gatehouse uses (RFC 9728 §2).
#[derive(Debug, Clone, Deserialize)]
pub struct ResourceDocument {
    pub resource: String,
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
}

/// An authorization server as Gatehouse keeps it: the checked subset of its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthServer {
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    #[serde(default)]
    pub registration_endpoint: Option<Url>,
    #[serde(default)]
    pub revocation_endpoint: Option<Url>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    /// Absent means `client_secret_basic` (RFC 8414 §2).
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    pub client_id_metadata_document_supported: bool,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
}

impl AuthServer {
    /// The token endpoint authentication methods offered, with RFC 8414's default.
    pub fn auth_methods(&self) -> Vec<String> {
        self.token_endpoint_auth_methods_supported
            .clone()
            .unwrap_or_else(|| vec!["client_secret_basic".to_owned()])
    }
}

/// Why discovery failed: one line a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    #[error("the server could not be reached: {0}")]
    Unreachable(String),
    #[error("the server answered HTTP {0} to an MCP initialize request without authorization; expected 401 with a challenge, or success for an open server. Check the URL")]
    NotMcp(u16),
    #[error("the server asks for authorization but publishes no protected resource metadata (RFC 9728) at {0}. Store a static credential for it, or configure a provider for its host")]
    NoResourceMetadata(String),
    #[error("{url}: {problem}")]
    BadDocument { url: String, problem: String },
    #[error("the protected resource metadata is for '{found}', not this server ({expected}); Gatehouse refuses it (RFC 9728 §3.3)")]
    ResourceMismatch { expected: String, found: String },
    #[error("the protected resource metadata names no authorization server. Store a static credential for it, or configure a provider for its host")]
    NoAuthorizationServer,
    #[error("the authorization server '{0}' publishes no metadata (RFC 8414 or OpenID discovery)")]
    NoServerMetadata(String),
    #[error("the authorization server metadata at {url} names the issuer '{found}', not '{expected}'; Gatehouse refuses it (RFC 8414 §3.3)")]
    IssuerMismatch {
        url: String,
        expected: String,
        found: String,
    },
    #[error("the authorization server '{0}' does not advertise PKCE with S256, which MCP requires; Gatehouse will not sign in there")]
    NoPkce(String),
    #[error("the {what} '{url}' is neither https nor on this machine's loopback; Gatehouse will not use it")]
    Insecure { what: &'static str, url: String },
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probed {
    /// The server answered `initialize` without authorization.
    Open,
    Protected(Box<Discovered>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The validated `resource` (sent as RFC 8707 `resource`).
    pub resource: String,
    pub server: AuthServer,
    /// The scopes to ask for: the challenge's, else the resource's `scopes_supported`.
    pub scopes: Vec<String>,
}

/// Whether a URL Gatehouse or the user's browser will use is safe: https, or http on a
/// loopback host or inside a private range the operator allowed.
pub fn secure_enough(url: &Url, allow: &[IpNet]) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(Host::Ipv4(ip)) => {
                ip.is_loopback() || allow.iter().any(|n| n.contains(&std::net::IpAddr::V4(ip)))
            }
            Some(Host::Ipv6(ip)) => {
                ip.is_loopback() || allow.iter().any(|n| n.contains(&std::net::IpAddr::V6(ip)))
            }
            None => false,
        },
        _ => false,
    }
}

/// RFC 9728 §3.3: the `resource` must be the server's URL. Like the MCP SDKs, a resource that
/// is the server URL's origin or a parent path of it is accepted too (one resource may cover
/// several endpoints); anything else is refused.
pub fn resource_matches(server: &Url, resource: &str) -> bool {
    let Ok(resource) = Url::parse(resource) else {
        return false;
    };
    if resource.origin() != server.origin() || resource.fragment().is_some() {
        return false;
    }
    let want = resource.path().trim_end_matches('/');
    let have = server.path().trim_end_matches('/');
    have == want || have.starts_with(&format!("{want}/"))
}

/// Two issuer identifiers are the same URL (RFC 8414 §3.3, RFC 9207), compared after parsing
/// so that `https://a.example` and `https://a.example/` agree.
pub fn same_issuer(a: &str, b: &str) -> bool {
    match (Url::parse(a), Url::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Checks an authorization server's metadata document fetched from `url` for `issuer`.
pub fn check_server_metadata(
    url: &Url,
    issuer: &str,
    document: serde_json::Value,
    allow: &[IpNet],
) -> Result<AuthServer, DiscoveryError> {
    let bad = |problem: String| DiscoveryError::BadDocument {
        url: url.to_string(),
        problem,
    };
    let found = document
        .get("issuer")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad("the metadata has no issuer".into()))?
        .to_owned();
    if !same_issuer(&found, issuer) {
        return Err(DiscoveryError::IssuerMismatch {
            url: url.to_string(),
            expected: issuer.to_owned(),
            found,
        });
    }
    let server: AuthServer = serde_json::from_value(document)
        .map_err(|e| bad(format!("the metadata is not usable ({e})")))?;
    if !server
        .code_challenge_methods_supported
        .iter()
        .any(|m| m == "S256")
    {
        return Err(DiscoveryError::NoPkce(issuer.to_owned()));
    }
    let endpoints = [
        (
            "authorization endpoint",
            Some(&server.authorization_endpoint),
        ),
        ("token endpoint", Some(&server.token_endpoint)),
        (
            "registration endpoint",
            server.registration_endpoint.as_ref(),
        ),
        ("revocation endpoint", server.revocation_endpoint.as_ref()),
    ];
    for (what, endpoint) in endpoints {
        if let Some(endpoint) = endpoint.filter(|u| !secure_enough(u, allow)) {
            return Err(DiscoveryError::Insecure {
                what,
                url: endpoint.to_string(),
            });
        }
    }
    Ok(server)
}

/// A discovery document: `Ok(None)` when the URL has none (any 4xx), so the next candidate
/// is tried. The whole exchange, body included, must end within 5 s.
async fn fetch_document(
    http: &GuardedClient,
    url: &Url,
) -> Result<Option<serde_json::Value>, DiscoveryError> {
    let bad = |problem: String| DiscoveryError::BadDocument {
        url: url.to_string(),
        problem,
    };
    let exchange = async {
        let response = http
            .request(reqwest::Method::GET, url.clone())
            .await
            .map_err(|e| bad(net_reason(&e)))?
            .header(reqwest::header::ACCEPT, "application/json")
            .header("MCP-Protocol-Version", PROTOCOL_VERSION)
            .send()
            .await
            .map_err(|e| bad(request_reason(&e)))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(bad(format!(
                "redirected (HTTP {}); discovery documents must be served in place",
                status.as_u16()
            )));
        }
        if status.is_client_error() {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(bad(format!("HTTP {}", status.as_u16())));
        }
        read_limited(response, MAX_DOCUMENT)
            .await
            .map(Some)
            .map_err(|e| match e {
                BodyError::TooLarge(_) => bad("the document is larger than 64 KB".into()),
                other => bad(other.to_string()),
            })
    };
    let Some(body) = tokio::time::timeout(DOCUMENT_TIMEOUT, exchange)
        .await
        .map_err(|_| bad("no complete answer within 5 s".into()))??
    else {
        return Ok(None);
    };
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| bad(format!("not JSON ({e})")))?;
    if !value.is_object() {
        return Err(bad("not a JSON object".into()));
    }
    Ok(Some(value))
}

fn net_reason(err: &NetError) -> String {
    match err {
        NetError::Restricted(host) => format!(
            "{host} resolves to a private or reserved address; allow its range with GATEHOUSE_ALLOW_PRIVATE_NETWORKS if it is yours"
        ),
        other => other.to_string(),
    }
}

fn request_reason(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "no answer within 5 s".to_owned()
    } else {
        cause(err)
    }
}

/// Tries each URL in turn; the first document found wins. When none has one, the first real
/// failure (not a mere absence) is the error.
async fn first_document(
    http: &GuardedClient,
    urls: &[Url],
) -> Result<Option<(Url, serde_json::Value)>, DiscoveryError> {
    let mut failure = None;
    for url in urls {
        match fetch_document(http, url).await {
            Ok(Some(doc)) => return Ok(Some((url.clone(), doc))),
            Ok(None) => {}
            Err(err) => {
                failure.get_or_insert(err);
            }
        }
    }
    failure.map_or(Ok(None), Err)
}

/// An MCP `initialize` without authorization, as a client's first request: the answer says
/// whether the server is reachable and how it wants to be signed in to.
pub async fn initialize(
    http: &GuardedClient,
    server: &Url,
) -> Result<reqwest::Response, DiscoveryError> {
    let initialize = serde_json::json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": { "protocolVersion": PROTOCOL_VERSION, "capabilities": {},
                    "clientInfo": { "name": "gatehouse-probe", "version": env!("CARGO_PKG_VERSION") } }
    });
    http.request(reqwest::Method::POST, server.clone())
        .await
        .map_err(|e| DiscoveryError::Unreachable(net_reason(&e)))?
        .header(
            reqwest::header::ACCEPT,
            "application/json, text/event-stream",
        )
        .header("MCP-Protocol-Version", PROTOCOL_VERSION)
        .json(&initialize)
        .timeout(DOCUMENT_TIMEOUT)
        .send()
        .await
        .map_err(|e| DiscoveryError::Unreachable(request_reason(&e)))
}

/// Probes an upstream MCP server as an MCP client would before signing in.
pub async fn probe(
    http: &GuardedClient,
    server: &Url,
    allow: &[IpNet],
) -> Result<Probed, DiscoveryError> {
    let response = initialize(http, server).await?;
    let status = response.status();
    if status.is_success() {
        return Ok(Probed::Open);
    }
    if status != reqwest::StatusCode::UNAUTHORIZED {
        return Err(DiscoveryError::NotMcp(status.as_u16()));
    }
    let challenge = bearer_challenge(
        response
            .headers()
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    drop(response);
    let candidates = resource_metadata_urls(server, challenge.as_ref());
    let (doc_url, document) = first_document(http, &candidates).await?.ok_or_else(|| {
        DiscoveryError::NoResourceMetadata(
            candidates
                .iter()
                .map(Url::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        )
    })?;
    let document: ResourceDocument =
        serde_json::from_value(document).map_err(|e| DiscoveryError::BadDocument {
            url: doc_url.to_string(),
            problem: format!("not protected resource metadata ({e})"),
        })?;
    if !resource_matches(server, &document.resource) {
        let mut expected = server.clone();
        expected.set_query(None);
        return Err(DiscoveryError::ResourceMismatch {
            expected: expected.to_string(),
            found: crate::vault::oauth::printable(&document.resource),
        });
    }
    if document.authorization_servers.is_empty() {
        return Err(DiscoveryError::NoAuthorizationServer);
    }
    // The first authorization server that checks out is used.
    let mut failure = None;
    for issuer in &document.authorization_servers {
        match authorization_server(http, issuer, allow).await {
            Ok(found) => {
                let scopes = match challenge.as_ref().and_then(|c| c.scope.as_deref()) {
                    Some(scope) => scope.split_whitespace().map(str::to_owned).collect(),
                    None => document.scopes_supported.clone(),
                };
                return Ok(Probed::Protected(Box::new(Discovered {
                    resource: document.resource.clone(),
                    server: found,
                    scopes,
                })));
            }
            Err(err) => {
                failure.get_or_insert(err);
            }
        }
    }
    Err(failure.unwrap_or(DiscoveryError::NoAuthorizationServer))
}

/// Fetches and checks one authorization server's metadata.
pub async fn authorization_server(
    http: &GuardedClient,
    issuer: &str,
    allow: &[IpNet],
) -> Result<AuthServer, DiscoveryError> {
    let shown = crate::vault::oauth::printable(issuer);
    let parsed = Url::parse(issuer).map_err(|_| DiscoveryError::BadDocument {
        url: shown.clone(),
        problem: "the issuer is not a URL".into(),
    })?;
    if !secure_enough(&parsed, allow) || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(DiscoveryError::Insecure {
            what: "authorization server",
            url: shown,
        });
    }
    let candidates = authorization_server_metadata_urls(&parsed);
    let (url, document) = first_document(http, &candidates)
        .await?
        .ok_or_else(|| DiscoveryError::NoServerMetadata(shown.clone()))?;
    check_server_metadata(&url, issuer, document, allow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn bearer_challenges_are_read_among_other_schemes() {
        let c = bearer_challenge([
            r#"Basic realm="x", Bearer error="insufficient_scope", scope="files:read files:write", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#,
        ])
        .unwrap();
        assert_eq!(c.error.as_deref(), Some("insufficient_scope"));
        assert_eq!(c.scope.as_deref(), Some("files:read files:write"));
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
        );
        let bare = bearer_challenge(["Bearer"]).unwrap();
        assert_eq!(bare, Challenge::default());
        let token = bearer_challenge(["Bearer realm=mcp, error=invalid_token"]).unwrap();
        assert_eq!(token.error.as_deref(), Some("invalid_token"));
        assert_eq!(bearer_challenge(["Basic abc==, Digest realm=\"x\""]), None);
        assert_eq!(
            bearer_challenge([r#"Bearer scope="a \"b\"""#])
                .unwrap()
                .scope
                .as_deref(),
            Some(r#"a "b""#)
        );
        // The second Bearer parameter of the same name does not override the first.
        let twice = bearer_challenge([r#"Bearer scope="a", scope="b""#]).unwrap();
        assert_eq!(twice.scope.as_deref(), Some("a"));
    }

    #[test]
    fn resource_metadata_is_looked_for_in_the_spec_order() {
        let server = u("https://mcp.example.com/v1/mcp?key=1");
        let header = Challenge {
            resource_metadata: Some("https://mcp.example.com/prm".into()),
            ..Challenge::default()
        };
        let urls: Vec<String> = resource_metadata_urls(&server, Some(&header))
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            urls,
            [
                "https://mcp.example.com/prm",
                "https://mcp.example.com/.well-known/oauth-protected-resource/v1/mcp",
                "https://mcp.example.com/.well-known/oauth-protected-resource",
            ]
        );
        let root = resource_metadata_urls(&u("https://mcp.example.com/"), None);
        assert_eq!(
            root,
            [u(
                "https://mcp.example.com/.well-known/oauth-protected-resource"
            )]
        );
    }

    #[test]
    fn server_metadata_is_looked_for_in_the_spec_order() {
        let with_path: Vec<String> =
            authorization_server_metadata_urls(&u("https://auth.example.com/tenant1"))
                .iter()
                .map(Url::to_string)
                .collect();
        assert_eq!(
            with_path,
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration",
            ]
        );
        let bare: Vec<String> = authorization_server_metadata_urls(&u("https://auth.example.com/"))
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            bare,
            [
                "https://auth.example.com/.well-known/oauth-authorization-server",
                "https://auth.example.com/.well-known/openid-configuration",
            ]
        );
    }

    #[test]
    fn the_resource_must_be_the_server_or_a_parent_of_it() {
        let server = u("https://mcp.example.com/v1/mcp");
        assert!(resource_matches(&server, "https://mcp.example.com/v1/mcp"));
        assert!(resource_matches(&server, "https://mcp.example.com/v1/mcp/"));
        assert!(resource_matches(&server, "https://mcp.example.com/v1"));
        assert!(resource_matches(&server, "https://mcp.example.com"));
        assert!(!resource_matches(&server, "https://mcp.example.com/v1/m"));
        assert!(!resource_matches(&server, "https://mcp.example.com/other"));
        assert!(!resource_matches(&server, "https://evil.example/v1/mcp"));
        assert!(!resource_matches(&server, "http://mcp.example.com/v1/mcp"));
        assert!(!resource_matches(&server, "not a url"));
    }

    fn metadata(issuer: &str) -> serde_json::Value {
        json!({
            "issuer": issuer,
            "authorization_endpoint": "https://auth.example.com/authorize",
            "token_endpoint": "https://auth.example.com/token",
            "registration_endpoint": "https://auth.example.com/register",
            "code_challenge_methods_supported": ["S256"],
            "response_types_supported": ["code"],
        })
    }

    #[test]
    fn server_metadata_checks() {
        let at = u("https://auth.example.com/.well-known/oauth-authorization-server");
        let ok = check_server_metadata(
            &at,
            "https://auth.example.com",
            metadata("https://auth.example.com/"),
            &[],
        )
        .unwrap();
        assert_eq!(ok.auth_methods(), ["client_secret_basic"]);
        assert!(!ok.authorization_response_iss_parameter_supported);
        assert!(matches!(
            check_server_metadata(
                &at,
                "https://auth.example.com",
                metadata("https://evil.example"),
                &[]
            ),
            Err(DiscoveryError::IssuerMismatch { .. })
        ));
        let mut no_pkce = metadata("https://auth.example.com");
        no_pkce["code_challenge_methods_supported"] = json!(["plain"]);
        assert_eq!(
            check_server_metadata(&at, "https://auth.example.com", no_pkce, &[]),
            Err(DiscoveryError::NoPkce("https://auth.example.com".into()))
        );
        let mut missing = metadata("https://auth.example.com");
        missing.as_object_mut().unwrap().remove("token_endpoint");
        assert!(matches!(
            check_server_metadata(&at, "https://auth.example.com", missing, &[]),
            Err(DiscoveryError::BadDocument { .. })
        ));
        let mut plain = metadata("https://auth.example.com");
        plain["authorization_endpoint"] = json!("http://auth.example.com/authorize");
        assert!(matches!(
            check_server_metadata(&at, "https://auth.example.com", plain, &[]),
            Err(DiscoveryError::Insecure {
                what: "authorization endpoint",
                ..
            })
        ));
        let mut loopback = metadata("https://auth.example.com");
        loopback["token_endpoint"] = json!("http://127.0.0.1:9/token");
        assert!(check_server_metadata(&at, "https://auth.example.com", loopback, &[]).is_ok());
    }

    #[test]
    fn http_is_secure_enough_only_on_loopback_or_allowed_ranges() {
        let allow: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert!(secure_enough(&u("https://a.example/x"), &[]));
        assert!(secure_enough(&u("http://127.0.0.1:8/x"), &[]));
        assert!(secure_enough(&u("http://[::1]:8/x"), &[]));
        assert!(secure_enough(&u("http://localhost:8/x"), &[]));
        assert!(!secure_enough(&u("http://a.example/x"), &allow));
        assert!(secure_enough(&u("http://10.1.2.3/x"), &allow));
        assert!(!secure_enough(&u("http://10.1.2.3/x"), &[]));
        assert!(!secure_enough(&u("ftp://a.example/x"), &[]));
    }
}
