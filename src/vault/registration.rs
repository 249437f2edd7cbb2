//! Gatehouse as an OAuth client of upstream authorization servers: its own Client ID Metadata
//! Document, and dynamic client registration (RFC 7591).

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use super::discovery::{AuthServer, DOCUMENT_TIMEOUT, MAX_DOCUMENT};
use super::oauth::printable;
use crate::net::{cause, read_limited, GuardedClient};

pub const CLIENT_NAME: &str = "Gatehouse";
/// Where Gatehouse publishes its Client ID Metadata Document; the URL is the client id.
pub const CLIENT_METADATA_PATH: &str = "/oauth/client-metadata.json";

/// How the client authenticates at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    None,
    Basic,
    Post,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::Basic => "client_secret_basic",
            AuthMethod::Post => "client_secret_post",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(AuthMethod::None),
            "client_secret_basic" => Some(AuthMethod::Basic),
            "client_secret_post" => Some(AuthMethod::Post),
            _ => None,
        }
    }
}

/// Gatehouse's Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document):
/// a public client (PKCE, no secret) whose only redirect URI is the vault's callback.
pub fn client_metadata_document(client_id: &str, callback: &Url) -> serde_json::Value {
    serde_json::json!({
        "client_id": client_id,
        "client_name": CLIENT_NAME,
        "client_uri": Url::parse(client_id).ok().map(|u| u.origin().ascii_serialization()),
        "redirect_uris": [callback.as_str()],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
}

/// A registration made by DCR.
pub struct Registered {
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub auth_method: AuthMethod,
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("auth_method", &self.auth_method)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    #[error("the authorization server offers no dynamic client registration, and Gatehouse cannot use a Client ID Metadata Document here (it needs an https public URL and the server's support). Configure a client for this issuer ([[upstream_client]] in the config file)")]
    Unsupported,
    #[error("registering Gatehouse at the authorization server failed: {0}")]
    Failed(String),
}

/// The method Gatehouse asks for: a confidential client when the server takes secrets
/// (the secret never leaves the server), else a public one.
pub fn preferred_method(server: &AuthServer) -> AuthMethod {
    let offered = server.auth_methods();
    if offered.iter().any(|m| m == "client_secret_basic") {
        AuthMethod::Basic
    } else if offered.iter().any(|m| m == "client_secret_post") {
        AuthMethod::Post
    } else {
        AuthMethod::None
    }
}

#[derive(Deserialize)]
struct RegistrationResponse {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
}

/// Registers Gatehouse at `server`'s registration endpoint (RFC 7591 §3).
pub async fn register(
    http: &GuardedClient,
    server: &AuthServer,
    callback: &Url,
    client_uri: &str,
) -> Result<Registered, RegistrationError> {
    let endpoint = server
        .registration_endpoint
        .clone()
        .ok_or(RegistrationError::Unsupported)?;
    let wanted = preferred_method(server);
    let request = serde_json::json!({
        "client_name": CLIENT_NAME,
        "client_uri": client_uri,
        "redirect_uris": [callback.as_str()],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": wanted.as_str(),
    });
    let failed = RegistrationError::Failed;
    let response = http
        .request(reqwest::Method::POST, endpoint)
        .await
        .map_err(|e| failed(e.to_string()))?
        .header(reqwest::header::ACCEPT, "application/json")
        .json(&request)
        .timeout(DOCUMENT_TIMEOUT)
        .send()
        .await
        .map_err(|e| failed(cause(&e)))?;
    let status = response.status();
    let body = read_limited(response, MAX_DOCUMENT)
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !status.is_success() {
        let error = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                let code = v.get("error")?.as_str()?.to_owned();
                Some(match v.get("error_description").and_then(|d| d.as_str()) {
                    Some(d) => format!("{code}: {d}"),
                    None => code,
                })
            })
            .map(|e| printable(&e))
            .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        return Err(failed(error));
    }
    let answer: RegistrationResponse = serde_json::from_slice(&body)
        .map_err(|e| failed(format!("the answer is not a registration ({e})")))?;
    if answer.client_id.is_empty() {
        return Err(failed("the answer has an empty client_id".into()));
    }
    // The server may grant another method than asked (RFC 7591 §3.2.1); a secret-based one
    // without a secret cannot work.
    let method = answer
        .token_endpoint_auth_method
        .as_deref()
        .map(|m| {
            AuthMethod::parse(m).ok_or_else(|| {
                failed(format!(
                    "unsupported token_endpoint_auth_method '{}'",
                    printable(m)
                ))
            })
        })
        .transpose()?
        .unwrap_or(if answer.client_secret.is_some() {
            wanted
        } else {
            AuthMethod::None
        });
    let secret = answer.client_secret.filter(|s| !s.is_empty());
    if method != AuthMethod::None && secret.is_none() {
        return Err(failed(format!(
            "the server chose {} but issued no client secret",
            method.as_str()
        )));
    }
    Ok(Registered {
        client_id: answer.client_id,
        client_secret: match method {
            AuthMethod::None => None,
            _ => secret.map(SecretString::from),
        },
        auth_method: method,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(methods: Option<&[&str]>) -> AuthServer {
        AuthServer {
            issuer: "https://auth.example.com".into(),
            authorization_endpoint: Url::parse("https://auth.example.com/a").unwrap(),
            token_endpoint: Url::parse("https://auth.example.com/t").unwrap(),
            registration_endpoint: None,
            revocation_endpoint: None,
            code_challenge_methods_supported: vec!["S256".into()],
            token_endpoint_auth_methods_supported: methods
                .map(|m| m.iter().map(|s| (*s).to_owned()).collect()),
            authorization_response_iss_parameter_supported: false,
            client_id_metadata_document_supported: false,
            scopes_supported: vec![],
        }
    }

    #[test]
    fn a_confidential_client_is_preferred_when_offered() {
        assert_eq!(preferred_method(&server(None)), AuthMethod::Basic);
        assert_eq!(
            preferred_method(&server(Some(&["client_secret_post", "none"]))),
            AuthMethod::Post
        );
        assert_eq!(preferred_method(&server(Some(&["none"]))), AuthMethod::None);
        for m in [AuthMethod::None, AuthMethod::Basic, AuthMethod::Post] {
            assert_eq!(AuthMethod::parse(m.as_str()), Some(m));
        }
    }

    #[test]
    fn the_metadata_document_names_only_the_callback() {
        let callback = Url::parse("https://gh.example.com/vault/callback").unwrap();
        let doc = client_metadata_document(
            "https://gh.example.com/oauth/client-metadata.json",
            &callback,
        );
        assert_eq!(
            doc["client_id"],
            "https://gh.example.com/oauth/client-metadata.json"
        );
        assert_eq!(
            doc["redirect_uris"],
            serde_json::json!(["https://gh.example.com/vault/callback"])
        );
        assert_eq!(doc["token_endpoint_auth_method"], "none");
        assert_eq!(doc["client_uri"], "https://gh.example.com");
    }
}
