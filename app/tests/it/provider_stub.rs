//! An in-process OAuth provider standing in for Google in integration tests: it checks PKCE,
//! rotates refresh tokens, and counts every request it receives.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::json;
use sha2::{Digest, Sha256};

/// How the stub answers refresh requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefreshMode {
    /// New access token, rotated refresh token.
    #[default]
    Rotate,
    /// New access token, no refresh token in the response.
    OmitRefreshToken,
    /// `invalid_grant`.
    InvalidGrant,
}

#[derive(Default)]
pub struct StubState {
    pub authorize_requests: Mutex<Vec<HashMap<String, String>>>,
    pub code_exchanges: AtomicUsize,
    pub refreshes: AtomicUsize,
    /// Refresh tokens presented, in order.
    pub refresh_tokens_seen: Mutex<Vec<String>>,
    pub revoked: Mutex<Vec<String>>,
    pub refresh_mode: Mutex<RefreshMode>,
    /// Simulated provider latency for refreshes, so concurrent callers overlap.
    pub refresh_latency: Mutex<Duration>,
    /// Pending codes: code → PKCE challenge.
    codes: Mutex<HashMap<String, String>>,
    issued: AtomicUsize,
    /// Access tokens currently valid (for userinfo).
    pub valid_access: Mutex<Vec<String>>,
    pub issuer: Mutex<String>,
    pub deny_next: std::sync::atomic::AtomicBool,
}

pub struct Stub {
    pub base: String,
    pub state: Arc<StubState>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Stub {
    pub async fn start() -> Stub {
        let state = Arc::new(StubState::default());
        let app = Router::new()
            .route("/auth", get(authorize))
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .route("/userinfo", get(userinfo))
            .with_state(state.clone());
        let (base, stop) = crate::helpers::serve_local(app).await;
        *state.issuer.lock().unwrap() = base.clone();
        Stub {
            base,
            state,
            _stop: stop,
        }
    }

    /// Gatehouse settings that make this stub its Google.
    pub fn google_settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GATEHOUSE_GOOGLE_CLIENT_ID", "gatehouse-test".into()),
            ("GATEHOUSE_GOOGLE_CLIENT_SECRET", "stub-secret".into()),
            ("GATEHOUSE_GOOGLE_AUTH_URL", format!("{}/auth", self.base)),
            ("GATEHOUSE_GOOGLE_TOKEN_URL", format!("{}/token", self.base)),
            (
                "GATEHOUSE_GOOGLE_REVOKE_URL",
                format!("{}/revoke", self.base),
            ),
            (
                "GATEHOUSE_GOOGLE_USERINFO_URL",
                format!("{}/userinfo", self.base),
            ),
            ("GATEHOUSE_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8".into()),
        ]
    }

    pub fn refreshes(&self) -> usize {
        self.state.refreshes.load(Ordering::SeqCst)
    }

    pub fn set_refresh_mode(&self, mode: RefreshMode) {
        *self.state.refresh_mode.lock().unwrap() = mode;
    }
}

/// Approves at once (the user "consents"), or refuses once after `deny_next` was set.
async fn authorize(
    State(s): State<Arc<StubState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    s.authorize_requests.lock().unwrap().push(q.clone());
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    let state = q.get("state").cloned().unwrap_or_default();
    let iss = s.issuer.lock().unwrap().clone();
    if s.deny_next.swap(false, Ordering::SeqCst) {
        return Redirect::to(&format!(
            "{redirect}?error=access_denied&error_description=The+user+said+no&state={state}&iss={iss}"
        ))
        .into_response();
    }
    let n = s.issued.fetch_add(1, Ordering::SeqCst);
    let code = format!("code-{n}");
    s.codes.lock().unwrap().insert(
        code.clone(),
        q.get("code_challenge").cloned().unwrap_or_default(),
    );
    Redirect::to(&format!("{redirect}?code={code}&state={state}&iss={iss}")).into_response()
}

fn error(code: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": code }))).into_response()
}

fn tokens(s: &StubState, refresh: Option<String>) -> Response {
    let n = s.issued.fetch_add(1, Ordering::SeqCst);
    let access = format!("upstream-at-{n}");
    s.valid_access.lock().unwrap().push(access.clone());
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "openid email https://www.googleapis.com/auth/gmail.modify",
    });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    Json(body).into_response()
}

async fn token(
    State(s): State<Arc<StubState>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    // client_secret_basic, as the oauth2 crate sends it.
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !basic.starts_with("Basic ") {
        return error("invalid_client");
    }
    match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            s.code_exchanges.fetch_add(1, Ordering::SeqCst);
            let code = f.get("code").cloned().unwrap_or_default();
            let Some(challenge) = s.codes.lock().unwrap().remove(&code) else {
                return error("invalid_grant");
            };
            let verifier = f.get("code_verifier").cloned().unwrap_or_default();
            if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != challenge {
                return error("invalid_grant");
            }
            tokens(&s, Some(format!("upstream-rt-{code}")))
        }
        Some("refresh_token") => {
            s.refreshes.fetch_add(1, Ordering::SeqCst);
            let presented = f.get("refresh_token").cloned().unwrap_or_default();
            s.refresh_tokens_seen
                .lock()
                .unwrap()
                .push(presented.clone());
            let latency = *s.refresh_latency.lock().unwrap();
            tokio::time::sleep(latency).await;
            let mode = *s.refresh_mode.lock().unwrap();
            match mode {
                RefreshMode::InvalidGrant => error("invalid_grant"),
                RefreshMode::OmitRefreshToken => tokens(&s, None),
                RefreshMode::Rotate => {
                    let n = s.refreshes.load(Ordering::SeqCst);
                    tokens(&s, Some(format!("{presented}-r{n}")))
                }
            }
        }
        _ => error("unsupported_grant_type"),
    }
}

async fn revoke(
    State(s): State<Arc<StubState>>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    s.revoked
        .lock()
        .unwrap()
        .push(f.get("token").cloned().unwrap_or_default());
    StatusCode::OK.into_response()
}

async fn userinfo(State(s): State<Arc<StubState>>, headers: HeaderMap) -> Response {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !s.valid_access.lock().unwrap().iter().any(|t| t == token) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(json!({ "sub": "1234", "email": "user@example.com" })).into_response()
}
