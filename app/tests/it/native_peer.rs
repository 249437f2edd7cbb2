//! An upstream MCP server with its own authorization server, in process (DESIGN.md §10): the
//! 401 challenge, RFC 9728 and RFC 8414/OpenID documents at the places a test chooses, DCR,
//! CIMD client ids (fetched over https and checked), PKCE S256, refresh rotation, revocation,
//! and an MCP endpoint that answers only its own tokens and counts what it receives.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Where the protected resource metadata is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrmAt {
    /// Named by `resource_metadata` in the 401 (at an unconventional path).
    Header,
    /// `/.well-known/oauth-protected-resource/mcp`, not named in the 401.
    PathInserted,
    /// `/.well-known/oauth-protected-resource`, not named in the 401.
    Root,
}

/// How the protected resource metadata is served (hostile variants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serve {
    Normal,
    /// 100 KB of JSON.
    Huge,
    /// A 302 to the real document.
    Redirect,
    /// Headers at once, the body never.
    Stalled,
}

/// Where the authorization server's metadata is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataAt {
    /// RFC 8414 for an issuer without a path.
    OAuth,
    /// OpenID discovery appended to an issuer with the path `/tenant`.
    OpenIdAppended,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub prm_at: PrmAt,
    pub prm_serve: Serve,
    pub metadata_at: MetadataAt,
    /// A `resource` other than the MCP URL.
    pub resource: Option<String>,
    /// A `resource_metadata` in the 401 other than the peer's own document.
    pub prm_url: Option<String>,
    /// An `issuer` in the metadata other than the one the PRM names.
    pub issuer_in_metadata: Option<String>,
    /// `scope` in the 401 challenge.
    pub challenge_scope: Option<String>,
    pub scopes_supported: Vec<String>,
    pub cimd: bool,
    /// Whether DCR is offered.
    pub dcr: bool,
    pub auth_methods: Vec<String>,
    /// Sends `iss` in redirects and advertises it.
    pub iss: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            prm_at: PrmAt::Header,
            prm_serve: Serve::Normal,
            metadata_at: MetadataAt::OAuth,
            resource: None,
            prm_url: None,
            issuer_in_metadata: None,
            challenge_scope: None,
            scopes_supported: vec!["notes:read".into()],
            cimd: false,
            dcr: true,
            auth_methods: vec!["client_secret_post".into(), "none".into()],
            iss: false,
        }
    }
}

/// A registered client: (secret, auth method, redirect uris).
type Client = (Option<String>, String, Vec<String>);

#[derive(Default)]
pub struct PeerState {
    pub options: Mutex<Option<Options>>,
    pub base: Mutex<String>,
    /// DCR requests received.
    pub registrations: Mutex<Vec<Value>>,
    clients: Mutex<HashMap<String, Client>>,
    /// Authorization requests received.
    pub authorize_requests: Mutex<Vec<HashMap<String, String>>>,
    /// Token requests received (form fields, secrets included: the test is the provider).
    pub token_requests: Mutex<Vec<HashMap<String, String>>>,
    /// code → (client, challenge, scope)
    codes: Mutex<HashMap<String, (String, String, String)>>,
    /// access token → scope
    access: Mutex<HashMap<String, String>>,
    /// refresh token → (client, scope)
    refresh: Mutex<HashMap<String, (String, String)>>,
    pub revoked: Mutex<Vec<String>>,
    /// Authorization headers the MCP endpoint received.
    pub mcp_authorizations: Mutex<Vec<String>>,
    /// A scope every MCP request's token must have (else 403 insufficient_scope).
    pub required_scope: Mutex<Option<String>>,
    /// CIMD documents fetched, by URL, and whether they checked out.
    pub cimd_fetches: Mutex<Vec<(String, bool)>>,
    /// Clients forgotten (as by a restart): their requests answer invalid_client.
    pub forgotten: Mutex<HashSet<String>>,
    /// Extra CA for fetching CIMD documents.
    pub ca_file: Mutex<Option<std::path::PathBuf>>,
    issued: AtomicUsize,
}

pub struct Peer {
    pub base: String,
    pub state: Arc<PeerState>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Peer {
    pub async fn start(options: Options) -> Peer {
        let state = Arc::new(PeerState::default());
        *state.options.lock().unwrap() = Some(options);
        let app = Router::new()
            .route("/mcp", post(mcp))
            .route("/authorize", get(authorize))
            .route("/tenant/authorize", get(authorize))
            .route("/token", post(token))
            .route("/register", post(register))
            .route("/revoke", post(revoke))
            .fallback(get(documents))
            .with_state(state.clone());
        let (base, stop) = crate::helpers::serve_local(app).await;
        *state.base.lock().unwrap() = base.clone();
        Peer {
            base,
            state,
            _stop: stop,
        }
    }

    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    pub fn issuer(&self) -> String {
        issuer(&self.state)
    }

    /// Forgets every registered client, as an authorization server that lost its clients.
    pub fn forget_clients(&self) {
        let ids: Vec<String> = self.state.clients.lock().unwrap().keys().cloned().collect();
        self.state.forgotten.lock().unwrap().extend(ids);
    }

    pub fn registrations(&self) -> usize {
        self.state.registrations.lock().unwrap().len()
    }

    /// Access tokens this peer issued.
    pub fn issued_access_tokens(&self) -> Vec<String> {
        self.state.access.lock().unwrap().keys().cloned().collect()
    }
}

fn options(s: &PeerState) -> Options {
    s.options.lock().unwrap().clone().unwrap()
}

fn issuer(s: &PeerState) -> String {
    let base = s.base.lock().unwrap().clone();
    match options(s).metadata_at {
        MetadataAt::OAuth => base,
        MetadataAt::OpenIdAppended => format!("{base}/tenant"),
    }
}

fn prm_path(o: &Options) -> &'static str {
    match o.prm_at {
        PrmAt::Header => "/meta/resource.json",
        PrmAt::PathInserted => "/.well-known/oauth-protected-resource/mcp",
        PrmAt::Root => "/.well-known/oauth-protected-resource",
    }
}

/// The well-known documents, each only where the options put it.
async fn documents(State(s): State<Arc<PeerState>>, uri: axum::http::Uri) -> Response {
    let o = options(&s);
    let base = s.base.lock().unwrap().clone();
    let path = uri.path();
    if path == "/moved/resource.json" || (path == prm_path(&o) && o.prm_serve == Serve::Normal) {
        return Json(json!({
            "resource": o.resource.clone().unwrap_or_else(|| format!("{base}/mcp")),
            "authorization_servers": [issuer(&s)],
            "scopes_supported": o.scopes_supported,
        }))
        .into_response();
    }
    if path == prm_path(&o) {
        return match o.prm_serve {
            Serve::Huge => Json(json!({ "resource": "x".repeat(100 * 1024) })).into_response(),
            Serve::Redirect => Redirect::temporary("/moved/resource.json").into_response(),
            Serve::Stalled => {
                let never =
                    futures_util::stream::pending::<Result<axum::body::Bytes, std::io::Error>>();
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    axum::body::Body::from_stream(never),
                )
                    .into_response()
            }
            Serve::Normal => unreachable!("served above"),
        };
    }
    let metadata_path = match o.metadata_at {
        MetadataAt::OAuth => "/.well-known/oauth-authorization-server",
        MetadataAt::OpenIdAppended => "/tenant/.well-known/openid-configuration",
    };
    if path == metadata_path {
        let prefix = match o.metadata_at {
            MetadataAt::OAuth => base.clone(),
            MetadataAt::OpenIdAppended => format!("{base}/tenant"),
        };
        let mut doc = json!({
            "issuer": o.issuer_in_metadata.clone().unwrap_or_else(|| issuer(&s)),
            "authorization_endpoint": format!("{prefix}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "revocation_endpoint": format!("{base}/revoke"),
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": o.auth_methods,
            "scopes_supported": o.scopes_supported,
            "client_id_metadata_document_supported": o.cimd,
            "authorization_response_iss_parameter_supported": o.iss,
        });
        if o.dcr {
            doc["registration_endpoint"] = json!(format!("{base}/register"));
        }
        return Json(doc).into_response();
    }
    StatusCode::NOT_FOUND.into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}

async fn mcp(State(s): State<Arc<PeerState>>, headers: HeaderMap, body: String) -> Response {
    let o = options(&s);
    let base = s.base.lock().unwrap().clone();
    s.mcp_authorizations.lock().unwrap().push(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
    );
    let scope = bearer(&headers).and_then(|t| s.access.lock().unwrap().get(&t).cloned());
    let Some(scope) = scope else {
        let mut challenge = "Bearer error=\"invalid_token\"".to_owned();
        if o.prm_at == PrmAt::Header {
            let url = o
                .prm_url
                .clone()
                .unwrap_or_else(|| format!("{base}{}", prm_path(&o)));
            challenge.push_str(&format!(", resource_metadata=\"{url}\""));
        }
        if let Some(scope) = &o.challenge_scope {
            challenge.push_str(&format!(", scope=\"{scope}\""));
        }
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
        )
            .into_response();
    };
    if let Some(needed) = s.required_scope.lock().unwrap().clone() {
        if !scope.split_whitespace().any(|have| have == needed) {
            let challenge = format!(
                "Bearer error=\"insufficient_scope\", scope=\"{scope} {needed}\", resource_metadata=\"{base}{}\"",
                prm_path(&o)
            );
            return (
                StatusCode::FORBIDDEN,
                [(header::WWW_AUTHENTICATE, challenge)],
            )
                .into_response();
        }
    }
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let result = match request["method"].as_str() {
        Some("initialize") => json!({
            "protocolVersion": "2025-11-25", "capabilities": { "tools": {} },
            "serverInfo": { "name": "notes-peer", "version": "1" }
        }),
        _ => json!({ "content": [{ "type": "text", "text": "authorized by notes-peer" }] }),
    };
    Json(json!({ "jsonrpc": "2.0", "id": request["id"], "result": result })).into_response()
}

async fn register(State(s): State<Arc<PeerState>>, Json(body): Json<Value>) -> Response {
    s.registrations.lock().unwrap().push(body.clone());
    let n = s.issued.fetch_add(1, Ordering::SeqCst);
    let id = format!("client-{n}");
    let method = body["token_endpoint_auth_method"]
        .as_str()
        .unwrap_or("client_secret_basic")
        .to_owned();
    let secret = (method != "none").then(|| format!("secret-{n}"));
    let redirects: Vec<String> = body["redirect_uris"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    s.clients.lock().unwrap().insert(
        id.clone(),
        (secret.clone(), method.clone(), redirects.clone()),
    );
    let mut answer = json!({
        "client_id": id, "redirect_uris": redirects, "token_endpoint_auth_method": method,
    });
    if let Some(secret) = secret {
        answer["client_secret"] = json!(secret);
    }
    (StatusCode::CREATED, Json(answer)).into_response()
}

/// A CIMD client id: fetches the document over https (trusting the test CA) and checks it.
async fn cimd_redirects(s: &PeerState, client_id: &str) -> Option<Vec<String>> {
    let mut builder = reqwest::Client::builder();
    if let Some(ca) = s.ca_file.lock().unwrap().clone() {
        let pem = std::fs::read(ca).ok()?;
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).ok()?);
    }
    let doc: Option<Value> = match builder.build().ok()?.get(client_id).send().await {
        Ok(r) if r.status().is_success() => r.json().await.ok(),
        _ => None,
    };
    let ok = doc
        .as_ref()
        .is_some_and(|d| d["client_id"] == client_id && d["token_endpoint_auth_method"] == "none");
    s.cimd_fetches
        .lock()
        .unwrap()
        .push((client_id.to_owned(), ok));
    let doc = doc.filter(|_| ok)?;
    Some(
        doc["redirect_uris"]
            .as_array()?
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
    )
}

async fn authorize(
    State(s): State<Arc<PeerState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    s.authorize_requests.lock().unwrap().push(q.clone());
    let o = options(&s);
    let client = q.get("client_id").cloned().unwrap_or_default();
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    let redirects = if client.starts_with("https://") {
        cimd_redirects(&s, &client).await
    } else if s.forgotten.lock().unwrap().contains(&client) {
        None
    } else {
        s.clients.lock().unwrap().get(&client).map(|c| c.2.clone())
    };
    if !redirects.is_some_and(|r| r.contains(&redirect)) {
        return (StatusCode::BAD_REQUEST, "unknown client or redirect_uri").into_response();
    }
    let state = q.get("state").cloned().unwrap_or_default();
    let expected_resource = o
        .resource
        .clone()
        .unwrap_or_else(|| format!("{}/mcp", s.base.lock().unwrap()));
    if q.get("code_challenge_method").map(String::as_str) != Some("S256")
        || q.get("resource") != Some(&expected_resource)
    {
        return Redirect::to(&format!("{redirect}?error=invalid_request&state={state}"))
            .into_response();
    }
    let n = s.issued.fetch_add(1, Ordering::SeqCst);
    let code = format!("code-{n}");
    s.codes.lock().unwrap().insert(
        code.clone(),
        (
            client,
            q.get("code_challenge").cloned().unwrap_or_default(),
            q.get("scope").cloned().unwrap_or_default(),
        ),
    );
    let iss = if o.iss {
        format!("&iss={}", urlencoding(&issuer(&s)))
    } else {
        String::new()
    };
    Redirect::to(&format!("{redirect}?code={code}&state={state}{iss}")).into_response()
}

fn urlencoding(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

/// The client a token request authenticates as: Basic, or `client_id` (+ secret) in the form.
#[allow(clippy::result_large_err)] // the refusal is the response itself
fn authenticate(
    s: &PeerState,
    headers: &HeaderMap,
    f: &HashMap<String, String>,
) -> Result<String, Response> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| {
            t.split_once(':')
                .map(|(a, b)| (a.to_owned(), Some(b.to_owned())))
        });
    let (id, secret) = basic.unwrap_or_else(|| {
        (
            f.get("client_id").cloned().unwrap_or_default(),
            f.get("client_secret").cloned(),
        )
    });
    if id.starts_with("https://") {
        return Ok(id);
    }
    let invalid = || oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    if s.forgotten.lock().unwrap().contains(&id) {
        return Err(invalid());
    }
    match s.clients.lock().unwrap().get(&id) {
        Some((expected, _, _)) if *expected == secret => Ok(id),
        _ => Err(invalid()),
    }
}

async fn token(
    State(s): State<Arc<PeerState>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    s.token_requests.lock().unwrap().push(f.clone());
    let client = match authenticate(&s, &headers, &f) {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    let scope = match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = f.get("code").cloned().unwrap_or_default();
            let Some((owner, challenge, scope)) = s.codes.lock().unwrap().remove(&code) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            let verifier = f.get("code_verifier").cloned().unwrap_or_default();
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if owner != client || computed != challenge {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            scope
        }
        Some("refresh_token") => {
            let presented = f.get("refresh_token").cloned().unwrap_or_default();
            // Refresh tokens outlive a forgotten client's registration here, so a
            // re-registered Gatehouse can go on refreshing (the case the test exercises).
            match s.refresh.lock().unwrap().remove(&presented) {
                Some((_, scope)) => scope,
                None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant"),
            }
        }
        _ => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    };
    let n = s.issued.fetch_add(1, Ordering::SeqCst);
    let (access, refresh) = (format!("peer-at-{n}"), format!("peer-rt-{n}"));
    s.access
        .lock()
        .unwrap()
        .insert(access.clone(), scope.clone());
    s.refresh
        .lock()
        .unwrap()
        .insert(refresh.clone(), (client, scope.clone()));
    Json(json!({
        "access_token": access, "token_type": "Bearer", "expires_in": 3600,
        "refresh_token": refresh, "scope": scope,
    }))
    .into_response()
}

async fn revoke(
    State(s): State<Arc<PeerState>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(refused) = authenticate(&s, &headers, &f) {
        return refused;
    }
    let token = f.get("token").cloned().unwrap_or_default();
    s.refresh.lock().unwrap().remove(&token);
    s.access.lock().unwrap().remove(&token);
    s.revoked.lock().unwrap().push(token);
    StatusCode::OK.into_response()
}
