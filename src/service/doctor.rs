//! `gatehouse doctor` and the admin page's deployment checks: Gatehouse as a connecting client
//! sees it, through its public URL (so a proxy that rewrites the Host or the scheme, strips
//! CORS headers or buffers wrongly is caught), plus the local facts a deployment depends on.
//! Each check is one line: what passed, or what failed with the setting and the fix.

use std::time::Duration;

use reqwest::header::{self, HeaderMap};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use super::client_admin::{self, Action};
use super::servers::{self, ServerEntry};
use super::Actor;
use crate::clock;
use crate::state::Core;
use crate::vault::discovery::{self, Probed};
use crate::vault::provider::Kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Works, but something users may need is missing.
    Warn,
    Fail,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub verdict: Verdict,
    pub detail: String,
}

impl Check {
    fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, Verdict::Pass, detail)
    }
    fn warn(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, Verdict::Warn, detail)
    }
    fn fail(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, Verdict::Fail, detail)
    }
    fn new(name: impl Into<String>, verdict: Verdict, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            verdict,
            detail: detail.into(),
        }
    }

    /// `PASS public URL: …` — the CLI's line.
    pub fn line(&self) -> String {
        format!("{} {}: {}", self.verdict.label(), self.name, self.detail)
    }
}

/// The clock may be this far from the public URL's `Date` before tokens misbehave.
const CLOCK_TOLERANCE: i64 = 60;
/// A slug no server needs to have: its metadata and challenge exist for every slug.
const PROBE_SLUG: &str = "doctor";

/// Runs every check, in order. Never fails as a whole: a failing step is a failing line.
pub async fn run(core: &Core) -> Vec<Check> {
    let mut out = Vec::new();
    let public = core.public_url.issuer();
    match client(core) {
        Ok(http) => through_public_url(core, &http, &public, &mut out).await,
        Err(why) => out.push(Check::fail("public URL", why)),
    }
    out.push(key_file(core));
    out.push(google(core, &public));
    out.extend(upstreams(core).await);
    out
}

fn client(core: &Core) -> Result<Client, String> {
    let mut builder = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .user_agent("gatehouse-doctor");
    if let Some(path) = &core.config.extra_ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            format!(
                "cannot read GATEHOUSE_EXTRA_CA_FILE {}: {e}",
                path.display()
            )
        })?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| format!("GATEHOUSE_EXTRA_CA_FILE is not a PEM certificate: {e}"))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| e.to_string())
}

async fn through_public_url(core: &Core, http: &Client, public: &str, out: &mut Vec<Check>) {
    // 1. It answers, on https unless it is this machine.
    let health = http.get(format!("{public}/healthz")).send().await;
    let health = match health {
        Ok(r) if r.status() == StatusCode::OK => r,
        Ok(r) => {
            out.push(Check::fail("public URL", format!("{public}/healthz answered HTTP {} instead of Gatehouse's 'ok'. Fix: point the proxy at Gatehouse, or set GATEHOUSE_PUBLIC_URL to the URL clients use", r.status().as_u16())));
            return;
        }
        Err(e) => {
            out.push(Check::fail("public URL", format!("{public} does not answer ({}). Fix: check DNS, the reverse proxy and that Gatehouse runs; GATEHOUSE_PUBLIC_URL must be the URL clients use", crate::net::cause(&e))));
            return;
        }
    };
    if core.public_url.is_https() {
        out.push(Check::pass(
            "public URL",
            format!("{public} answers over https"),
        ));
    } else if core.public_url.is_loopback() {
        out.push(Check::warn("public URL", format!("{public} answers, but only this machine can use it; cloud clients (ChatGPT, claude.ai) need a public https URL. Fix: put Gatehouse behind a TLS proxy and set GATEHOUSE_PUBLIC_URL=https://…")));
    } else {
        out.push(Check::fail("public URL", format!("{public} is plain http off this machine: clients refuse it and tokens would cross the network in clear. Fix: terminate TLS in a reverse proxy and set GATEHOUSE_PUBLIC_URL=https://…")));
    }
    out.push(clock_skew(health.headers()));

    // 2. One issuer everywhere a client looks.
    out.push(metadata(http, public).await);
    out.push(resource_metadata(http, public).await);
    out.push(challenge(http, public).await);
    out.push(cors(http, public).await);

    // 3. A client can register and reach the sign-in page.
    match register(http, public).await {
        Ok(client_id) => {
            out.push(Check::pass(
                "registration",
                "dynamic client registration works (the throwaway client is deleted)",
            ));
            out.push(authorize(http, public, &client_id).await);
            let doctor = Actor {
                name: "doctor".into(),
                ..Actor::cli()
            };
            if let Err(err) = client_admin::apply(core, &doctor, &client_id, Action::Delete).await {
                tracing::warn!(%err, "doctor: deleting its throwaway client failed");
            }
        }
        Err(why) => out.push(Check::fail("registration", why)),
    }
}

async fn json_at(http: &Client, url: &str) -> Result<Value, String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url} does not answer ({})", crate::net::cause(&e)))?;
    if !response.status().is_success() {
        return Err(format!(
            "{url} answered HTTP {}",
            response.status().as_u16()
        ));
    }
    response
        .json()
        .await
        .map_err(|_| format!("{url} is not JSON"))
}

const ISSUER_FIX: &str = "Fix: set GATEHOUSE_PUBLIC_URL to exactly the URL clients use, and make the proxy pass the original Host (nginx: proxy_set_header Host $http_host)";

async fn metadata(http: &Client, public: &str) -> Check {
    let name = "issuer";
    let url = format!("{public}/.well-known/oauth-authorization-server");
    match json_at(http, &url).await {
        Err(why) => Check::fail(name, format!("{why}. {ISSUER_FIX}")),
        Ok(doc) if doc["issuer"] == public && doc["authorization_endpoint"] == format!("{public}/authorize") => {
            Check::pass(name, format!("the authorization server metadata names {public}"))
        }
        Ok(doc) => Check::fail(
            name,
            format!("the metadata at {url} names the issuer {} but clients reach {public}. {ISSUER_FIX}", doc["issuer"]),
        ),
    }
}

async fn resource_metadata(http: &Client, public: &str) -> Check {
    let name = "protected resource";
    let url = format!("{public}/.well-known/oauth-protected-resource/mcp/{PROBE_SLUG}");
    let resource = format!("{public}/mcp/{PROBE_SLUG}");
    match json_at(http, &url).await {
        Err(why) => Check::fail(name, format!("{why}. {ISSUER_FIX}")),
        Ok(doc) if doc["resource"] == resource && doc["authorization_servers"] == json!([public]) => {
            Check::pass(name, "RFC 9728 documents name the public URL and its issuer")
        }
        Ok(doc) => Check::fail(
            name,
            format!("{url} names resource {} and authorization servers {}, expected {resource} and [{public}]. {ISSUER_FIX}", doc["resource"], doc["authorization_servers"]),
        ),
    }
}

async fn challenge(http: &Client, public: &str) -> Check {
    let name = "401 challenge";
    let response = http
        .post(format!("{public}/mcp/{PROBE_SLUG}"))
        .header(header::ACCEPT, "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}))
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            return Check::fail(
                name,
                format!("{public}/mcp/… does not answer ({})", crate::net::cause(&e)),
            )
        }
    };
    let expected = format!(
        "resource_metadata=\"{public}/.well-known/oauth-protected-resource/mcp/{PROBE_SLUG}\""
    );
    let header = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    match response.status() {
        StatusCode::UNAUTHORIZED if header.contains(&expected) => {
            Check::pass(name, "/mcp answers 401 pointing clients at the public URL's metadata")
        }
        StatusCode::MISDIRECTED_REQUEST => Check::fail(
            name,
            "/mcp refused the Host header the proxy sent (421): the proxy rewrites Host. Fix: pass the original Host (nginx: proxy_set_header Host $http_host), or list the proxy's name in GATEHOUSE_ALLOWED_HOSTS",
        ),
        status => Check::fail(
            name,
            format!("/mcp answered HTTP {} with WWW-Authenticate '{header}', expected 401 with {expected}. {ISSUER_FIX}", status.as_u16()),
        ),
    }
}

async fn cors(http: &Client, public: &str) -> Check {
    let name = "CORS";
    let response = http
        .request(reqwest::Method::OPTIONS, format!("{public}/token"))
        .header(header::ORIGIN, "https://inspector.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
        .send()
        .await;
    match response {
        Ok(r) if r.headers().contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) => {
            Check::pass(name, "browser-based clients (the MCP Inspector) may call the token endpoint")
        }
        Ok(r) => Check::fail(
            name,
            format!("a CORS preflight to /token got HTTP {} without Access-Control-Allow-Origin. Fix: let the proxy pass OPTIONS requests and Gatehouse's Access-Control-* headers through", r.status().as_u16()),
        ),
        Err(e) => Check::fail(name, format!("a CORS preflight failed ({})", crate::net::cause(&e))),
    }
}

const DOCTOR_REDIRECT: &str = "http://127.0.0.1:9/gatehouse-doctor";

async fn register(http: &Client, public: &str) -> Result<String, String> {
    let response = http
        .post(format!("{public}/register"))
        .json(&json!({
            "client_name": "gatehouse doctor (throwaway)",
            "redirect_uris": [DOCTOR_REDIRECT],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        }))
        .send()
        .await
        .map_err(|e| {
            format!(
                "{public}/register does not answer ({})",
                crate::net::cause(&e)
            )
        })?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    match body["client_id"].as_str() {
        Some(id) if status == StatusCode::CREATED => Ok(id.to_owned()),
        _ => Err(format!(
            "{public}/register answered HTTP {} ({}). Fix: make the proxy pass POST /register with its JSON body unchanged",
            status.as_u16(),
            body.get("error").cloned().unwrap_or(Value::Null)
        )),
    }
}

async fn authorize(http: &Client, public: &str, client_id: &str) -> Check {
    let name = "sign-in page";
    let mut url = match url::Url::parse(&format!("{public}/authorize")) {
        Ok(u) => u,
        Err(e) => return Check::fail(name, e.to_string()),
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", DOCTOR_REDIRECT)
        .append_pair(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "doctor")
        .append_pair("resource", &format!("{public}/mcp/{PROBE_SLUG}"));
    let mut next = url.to_string();
    // Follow Gatehouse's own redirects (never to another origin) to the page a user sees.
    for _ in 0..3 {
        let response = match http.get(&next).send().await {
            Ok(r) => r,
            Err(e) => {
                return Check::fail(
                    name,
                    format!("/authorize does not answer ({})", crate::net::cause(&e)),
                )
            }
        };
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            next = match url::Url::parse(&next).and_then(|base| base.join(location)) {
                Ok(u) if u.as_str().starts_with(public) => u.to_string(),
                _ => {
                    return Check::fail(
                        name,
                        format!(
                        "/authorize redirected to '{location}', off the public URL. {ISSUER_FIX}"
                    ),
                    )
                }
            };
            continue;
        }
        let page = response.text().await.unwrap_or_default();
        return if status == StatusCode::OK && page.contains("name=\"password\"") {
            Check::pass(name, "/authorize leads to the sign-in page")
        } else {
            Check::fail(name, format!("/authorize ended at HTTP {} without a sign-in form. Fix: make the proxy pass /authorize, /login and /consent/* to Gatehouse", status.as_u16()))
        };
    }
    Check::fail(
        name,
        "/authorize redirected more than 3 times. Fix: check the proxy's redirects",
    )
}

fn clock_skew(headers: &HeaderMap) -> Check {
    let name = "clock";
    let Some(date) = headers
        .get(header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok())
    else {
        return Check::warn(
            name,
            "the public URL's answer has no Date header to compare with",
        );
    };
    let theirs = date
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let skew = (clock::now() - theirs).abs();
    if skew <= CLOCK_TOLERANCE {
        Check::pass(name, format!("within {skew} s of the public URL's clock"))
    } else {
        Check::fail(
            name,
            format!("{skew} s apart from the public URL's clock: token lifetimes and expiry go wrong. Fix: synchronise both with NTP (timedatectl set-ntp true)"),
        )
    }
}

fn key_file(core: &Core) -> Check {
    let name = "encryption key";
    if core.config.encryption_keys.is_some() {
        return Check::pass(
            name,
            "keys come from GATEHOUSE_ENCRYPTION_KEYS (back them up apart from the database)",
        );
    }
    let path = core.config.data_dir.join("encryption.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(&path) {
            Ok(m) if m.permissions().mode() & 0o077 == 0 => Check::pass(
                name,
                format!("{} is readable by its owner only (back it up apart from the database)", path.display()),
            ),
            Ok(m) => Check::fail(
                name,
                format!("{} has mode {:o}: others may read the key to every stored token. Fix: chmod 600 {}", path.display(), m.permissions().mode() & 0o777, path.display()),
            ),
            Err(e) => Check::fail(name, format!("{}: {e}", path.display())),
        }
    }
    #[cfg(not(unix))]
    Check::warn(
        name,
        format!(
            "check that only Gatehouse's account can read {}",
            path.display()
        ),
    )
}

fn google(core: &Core, public: &str) -> Check {
    let name = "Google";
    let callback = format!("{public}/vault/callback");
    match (&core.config.google.client_id, &core.config.google.client_secret) {
        (Some(id), Some(_)) => Check::pass(
            name,
            format!("client {id} is configured; its authorized redirect URI must be exactly {callback}"),
        ),
        (Some(_), None) => Check::fail(
            name,
            "GATEHOUSE_GOOGLE_CLIENT_ID is set without GATEHOUSE_GOOGLE_CLIENT_SECRET. Fix: set both (a Web application client)",
        ),
        (None, _) => Check::warn(
            name,
            format!("not configured: Google-backed servers cannot Authenticate. Fix: create a Web application client with the redirect URI {callback}, then set GATEHOUSE_GOOGLE_CLIENT_ID and GATEHOUSE_GOOGLE_CLIENT_SECRET"),
        ),
    }
}

/// Each registered upstream: reachable, and how it signs in.
async fn upstreams(core: &Core) -> Vec<Check> {
    let all = match servers::list_all(core, &Actor::cli()).await {
        Ok(all) => all,
        Err(err) => return vec![Check::fail("upstreams", err.to_string())],
    };
    let mut out = Vec::with_capacity(all.len());
    for (owner, server) in all {
        out.push(upstream(core, &owner, &server).await);
    }
    out
}

async fn upstream(core: &Core, owner: &str, server: &ServerEntry) -> Check {
    let name = format!("upstream {owner}/{}", server.slug);
    let (Some(url), Some(provider)) = (server.url.as_ref(), server.provider(&core.config)) else {
        return Check::fail(
            name,
            "its URL cannot be decrypted. Fix: restore the encryption key it was stored with",
        );
    };
    let Ok(target) = url::Url::parse(url.as_str()) else {
        return Check::fail(name, "its stored URL does not parse");
    };
    let allow = &core.config.allow_private_networks;
    let shown = url.redacted();
    if provider.kind == Kind::Native && !server.has_static_credential {
        return match discovery::probe(&core.http, &target, allow).await {
            Ok(Probed::Open) => Check::pass(
                name,
                format!("{shown} answers without authorization (open)"),
            ),
            Ok(Probed::Protected(found)) => Check::pass(
                name,
                format!(
                    "{shown} signs in at its own authorization server {}",
                    found.server.issuer
                ),
            ),
            Err(err) => Check::fail(name, format!("{shown}: {err}")),
        };
    }
    let sign_in = if server.has_static_credential {
        "its static credential".to_owned()
    } else {
        provider.label.clone()
    };
    match discovery::initialize(&core.http, &target).await {
        Ok(r) => Check::pass(
            name,
            format!(
                "{shown} is reachable (HTTP {} without credentials); signs in with {sign_in}",
                r.status().as_u16()
            ),
        ),
        Err(err) => Check::fail(name, format!("{shown}: {err}")),
    }
}
