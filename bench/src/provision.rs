//! Sets Gatehouse up over HTTP as a user would: the first-run admin, a server with a static
//! credential, a public OAuth client, and access tokens through authorize + consent + token.

use std::sync::Arc;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use reqwest::cookie::{CookieStore, Jar};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const REDIRECT: &str = "http://127.0.0.1:9/cb";

/// Like a browser without JavaScript: cookies kept, redirects not followed, pages wanted.
fn browser(jar: Arc<Jar>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ACCEPT, "text/html".parse().unwrap());
    reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

async fn csrf(client: &reqwest::Client, url: &str) -> String {
    let html = client.get(url).send().await.unwrap().text().await.unwrap();
    let re = regex_lite::Regex::new(r#"name="_csrf" value="([^"]+)""#).unwrap();
    re.captures(&html).expect("a CSRF field")[1].to_owned()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

pub struct Session {
    base: String,
    browser: reqwest::Client,
    jar: Arc<Jar>,
    client_id: String,
}

/// The admin (signed in), server `echo` → `upstream` with a static credential, a client.
pub async fn setup(base: &str, setup_code: &str, upstream: &str) -> Session {
    let jar = Arc::new(Jar::default());
    let browser = browser(jar.clone());
    let token = csrf(&browser, &format!("{base}/setup")).await;
    let res = browser
        .post(format!("{base}/api/setup"))
        .form(&[
            ("_csrf", token.as_str()),
            ("code", setup_code),
            ("username", "bench"),
            ("password", "bench password 123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "setup");
    let reg: Value = browser
        .post(format!("{base}/register"))
        .json(&json!({"client_name": "bench", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = Session {
        base: base.to_owned(),
        browser,
        jar,
        client_id: reg["client_id"].as_str().unwrap().to_owned(),
    };
    session.add_server("echo", upstream).await;
    session
}

impl Session {
    /// A form post to the server function `function` with the CSRF token of `page`, as the
    /// page's form sends it.
    async fn form_post(
        &self,
        page: &str,
        function: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let base = &self.base;
        let token = csrf(&self.browser, &format!("{base}{page}")).await;
        let mut form = vec![("_csrf", token.as_str())];
        form.extend_from_slice(fields);
        self.browser
            .post(format!("{base}/api/{function}"))
            .form(&form)
    }

    /// Adds server `slug` → `url` with a static credential, through the Servers page's form.
    pub async fn add_server(&self, slug: &str, url: &str) {
        let fields = [
            ("slug", slug),
            ("url", url),
            ("name", ""),
            ("credential", "static-credential"),
        ];
        let res = self
            .form_post("/servers", "add_server", &fields)
            .await
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "add server {slug}");
    }

    /// The `Cookie` header value the signed-in browser sends.
    pub fn cookie(&self) -> String {
        let url = self.base.parse().unwrap();
        let value = self.jar.cookies(&url).expect("signed in");
        value.to_str().unwrap().to_owned()
    }

    /// An authorization request up to its consent page, left pending: the page's path.
    pub async fn consent_page(&self) -> String {
        let (url, _) = self.authorize_url();
        let res = self.browser.get(url).send().await.unwrap();
        location(&res)
    }

    /// The `/authorize` URL of a fresh request for `/mcp/echo`, and its PKCE verifier.
    fn authorize_url(&self) -> (reqwest::Url, String) {
        let base = &self.base;
        let verifier =
            URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{:?}", std::time::Instant::now())));
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let resource = format!("{base}/mcp/echo");
        let mut url = reqwest::Url::parse(&format!("{base}/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", "bench")
            .append_pair("resource", &resource);
        (url, verifier)
    }

    /// An API key for all the bench user's servers (the page's server function, as with
    /// JavaScript: the answer carries the key).
    pub async fn api_key(&self) -> String {
        let fields = [("name", "bench"), ("expires", "never")];
        let created: Value = self
            .form_post("/keys", "create_key", &fields)
            .await
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        created["key"].as_str().expect("a new key").to_owned()
    }

    /// An MCP session (`initialize`, 2025-06-18) at `path` opened with `key`: its id.
    pub async fn mcp_session(&self, path: &str, key: &str) -> String {
        let url = format!("{}{path}", self.base);
        let post = |body: Value, session: Option<&str>| {
            let mut req = reqwest::Client::new()
                .post(&url)
                .bearer_auth(key)
                .header(
                    reqwest::header::ACCEPT,
                    "application/json, text/event-stream",
                )
                .json(&body);
            if let Some(id) = session {
                req = req
                    .header("mcp-session-id", id)
                    .header("mcp-protocol-version", "2025-06-18");
            }
            req.send()
        };
        let init = serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"}}});
        let res = post(init, None).await.unwrap();
        assert_eq!(res.status(), 200, "initialize at {path}");
        let id = res.headers()["mcp-session-id"].to_str().unwrap().to_owned();
        res.bytes().await.unwrap();
        let initialized =
            serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let res = post(initialized, Some(&id)).await.unwrap();
        assert_eq!(res.status(), 202, "initialized at {path}");
        id
    }

    /// A fresh (access token, refresh token) pair for `/mcp/echo`.
    pub async fn tokens(&self) -> (String, String) {
        let base = &self.base;
        let resource = format!("{base}/mcp/echo");
        let (url, verifier) = self.authorize_url();
        let res = self.browser.get(url).send().await.unwrap();
        let consent = format!("{base}{}", location(&res));
        let token = csrf(&self.browser, &consent).await;
        let res = self
            .browser
            .post(&consent)
            .form(&[
                ("_csrf", token.as_str()),
                ("decision", "approve"),
                ("server", "echo"),
            ])
            .send()
            .await
            .unwrap();
        let to = reqwest::Url::parse(&location(&res)).unwrap();
        let code = to
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        let tokens: Value = self
            .browser
            .post(format!("{base}/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("client_id", self.client_id.as_str()),
                ("code_verifier", verifier.as_str()),
                ("resource", resource.as_str()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            tokens["access_token"]
                .as_str()
                .expect("an access token")
                .to_owned(),
            tokens["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}
