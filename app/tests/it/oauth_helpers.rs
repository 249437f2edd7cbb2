//! An OAuth client for tests: DCR, PKCE, /authorize → consent → code → tokens.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::*;

pub const REDIRECT: &str = "http://127.0.0.1:45678/callback";

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier = format!("v{}", URL_SAFE_NO_PAD.encode(rand_bytes()));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

fn rand_bytes() -> [u8; 32] {
    // Distinct per call without a RNG dependency: hash a counter and the time.
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let seed = format!(
        "{}-{:?}",
        N.fetch_add(1, Ordering::Relaxed),
        std::time::Instant::now()
    );
    Sha256::digest(seed.as_bytes()).into()
}

pub struct Client {
    pub id: String,
    pub secret: Option<String>,
}

pub async fn register(app: &TestApp, body: Value) -> Response {
    app.browser()
        .client
        .post(format!("{}/register", app.base))
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub async fn public_client(app: &TestApp) -> Client {
    let res = register(app, json!({ "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "client_name": "Test Client" })).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    Client {
        id: body["client_id"].as_str().unwrap().to_owned(),
        secret: None,
    }
}

pub fn authorize_url(
    _app: &TestApp,
    client: &str,
    pkce: Option<&Pkce>,
    extra: &[(&str, &str)],
) -> String {
    let mut q = url_pairs(&[
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", REDIRECT),
        ("state", "st4te"),
        ("scope", "mcp openid"),
    ]);
    if let Some(p) = pkce {
        q.push(("code_challenge".into(), p.challenge.clone()));
        q.push(("code_challenge_method".into(), "S256".into()));
    }
    q.extend(url_pairs(extra));
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(q)
        .finish();
    format!("/authorize?{query}")
}

fn url_pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Query parameters of a redirect's Location.
pub fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// Runs /authorize and approves on the consent page; returns the code.
pub async fn approve(
    app: &TestApp,
    user: &Browser,
    client: &Client,
    pkce: &Pkce,
    resource_slug: Option<&str>,
    servers: &[&str],
) -> String {
    let resource = resource_slug.map(|s| format!("{}/mcp/{s}", app.base));
    let extra: Vec<(&str, &str)> = resource.iter().map(|r| ("resource", r.as_str())).collect();
    let res = user
        .get(&authorize_url(app, &client.id, Some(pkce), &extra))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let consent = location(&res);
    assert!(consent.starts_with("/consent/"), "{consent}");
    let csrf = user.csrf(&consent).await;
    let mut form = vec![("_csrf", csrf.as_str()), ("decision", "approve")];
    form.extend(servers.iter().map(|s| ("server", *s)));
    let res = user.post(&consent, &form).await;
    assert_eq!(
        res.status(),
        StatusCode::FOUND,
        "approval redirects to the client"
    );
    let to = location(&res);
    assert!(to.starts_with(REDIRECT), "{to}");
    let q = query_of(&to);
    assert_eq!(q["state"], "st4te");
    assert_eq!(q["iss"], app.base, "RFC 9207 iss is the issuer");
    q["code"].clone()
}

pub async fn token(app: &TestApp, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let res = app
        .browser()
        .client
        .post(format!("{}/token", app.base))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status();
    assert_eq!(
        res.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
    (status, res.json().await.unwrap())
}

pub async fn exchange(
    app: &TestApp,
    client: &Client,
    code: &str,
    verifier: &str,
) -> (StatusCode, Value) {
    token(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("client_id", &client.id),
        ],
    )
    .await
}

pub async fn refresh(app: &TestApp, client: &Client, refresh_token: &str) -> (StatusCode, Value) {
    token(
        app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &client.id),
        ],
    )
    .await
}

/// Status of an MCP request with this bearer token.
pub async fn mcp_status(app: &TestApp, slug: &str, access_token: &str) -> StatusCode {
    app.browser()
        .client
        .post(format!("{}/mcp/{slug}", app.base))
        .bearer_auth(access_token)
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }))
        .send()
        .await
        .unwrap()
        .status()
}

/// The admin with servers `gmail` and `drive`, signed in, and a registered public client.
pub async fn ready() -> (TestApp, Browser, Client) {
    ready_with(&[]).await
}

/// Like [`ready`], with extra settings.
pub async fn ready_with(extra: &[(&str, &str)]) -> (TestApp, Browser, Client) {
    let (app, admin) = spawn_app_with_admin_and(extra).await;
    admin
        .add_server("gmail", "https://gmail.example.com/mcp")
        .await;
    admin
        .add_server("drive", "https://drive.example.com/mcp")
        .await;
    let client = public_client(&app).await;
    (app, admin, client)
}

pub async fn tokens_for_gmail(app: &TestApp, admin: &Browser, client: &Client) -> Value {
    let p = pkce();
    let code = approve(app, admin, client, &p, Some("gmail"), &["gmail"]).await;
    let (status, body) = exchange(app, client, &code, &p.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Where an `/authorize` error sends a signed-in user: at once for a verified client (a
/// metadata document or a known client's redirect), else through the *Continue* link of a
/// page that names the host first (a self-registered client, RFC 9700 §4.11.2).
pub async fn error_destination(res: reqwest::Response) -> String {
    if res.status() == StatusCode::FOUND {
        return crate::helpers::location(&res);
    }
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none(), "no redirect");
    let page = res.text().await.unwrap();
    let re = regex_lite::Regex::new(r#"href="([^"]+)">Continue to"#).unwrap();
    re.captures(&page).expect("a Continue link")[1].replace("&amp;", "&")
}
