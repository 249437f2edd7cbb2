//! Dynamic client registration (RFC 7591), validated as DESIGN.md §3 says: every call makes a
//! new client; public clients use `none`, confidential ones a secret; refresh tokens are
//! issued whatever `grant_types` says; client-supplied names and URIs are untrusted.

use serde::Deserialize;

use super::error::{ErrorCode, OAuthError};
use crate::domain::RedirectUri;

#[derive(Debug, Default, Deserialize)]
pub struct RegistrationRequest {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub application_type: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    None,
    ClientSecretBasic,
    ClientSecretPost,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            _ => None,
        }
    }

    pub fn is_confidential(self) -> bool {
        self != Self::None
    }
}

/// A registration that passed every rule, ready to store.
#[derive(Debug)]
pub struct ValidRegistration {
    pub redirect_uris: Vec<RedirectUri>,
    pub auth_method: AuthMethod,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub application_type: String,
}

pub const MAX_REDIRECT_URIS: usize = 10;

fn bad_metadata(text: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, text)
}

pub fn validate(req: RegistrationRequest) -> Result<ValidRegistration, OAuthError> {
    if req.redirect_uris.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidRedirectUri,
            "redirect_uris is required",
        ));
    }
    if req.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::new(
            ErrorCode::InvalidRedirectUri,
            "at most 10 redirect_uris",
        ));
    }
    let mut redirect_uris = Vec::with_capacity(req.redirect_uris.len());
    for raw in &req.redirect_uris {
        let uri = RedirectUri::parse(raw).map_err(|e| {
            OAuthError::new(
                ErrorCode::InvalidRedirectUri,
                format!("{e}: {}", shorten(raw)),
            )
        })?;
        redirect_uris.push(uri);
    }
    // RFC 7591 §2: the default method is client_secret_basic.
    let method = req
        .token_endpoint_auth_method
        .as_deref()
        .unwrap_or("client_secret_basic");
    let auth_method = AuthMethod::parse(method).ok_or_else(|| {
        bad_metadata(format!(
            "token_endpoint_auth_method '{}' is not supported",
            shorten(method)
        ))
    })?;
    let grants = req
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".into()]);
    if let Some(other) = grants
        .iter()
        .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
    {
        return Err(bad_metadata(format!(
            "grant type '{}' is not supported",
            shorten(other)
        )));
    }
    if !grants.iter().any(|g| g == "authorization_code") {
        return Err(bad_metadata("grant_types must include authorization_code"));
    }
    let responses = req.response_types.unwrap_or_else(|| vec!["code".into()]);
    if responses.iter().any(|r| r != "code") {
        return Err(bad_metadata("only the response type 'code' is supported"));
    }
    let application_type = match req.application_type.as_deref() {
        None => "web".to_owned(),
        Some(t @ ("web" | "native")) => t.to_owned(),
        Some(other) => {
            return Err(bad_metadata(format!(
                "application_type '{}' is not web or native",
                shorten(other)
            )))
        }
    };
    Ok(ValidRegistration {
        redirect_uris,
        auth_method,
        client_name: req
            .client_name
            .map(|n| clean_name(&n))
            .filter(|n| !n.is_empty()),
        // Only https URIs are kept; they are shown as text, never fetched or linked blindly.
        client_uri: req
            .client_uri
            .filter(|u| u.starts_with("https://") && u.len() <= 500),
        application_type,
    })
}

/// Client names are shown on the consent page: printable, single line, at most 80 characters.
fn clean_name(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_control())
        .take(80)
        .collect::<String>()
        .trim()
        .to_owned()
}

fn shorten(text: &str) -> String {
    text.chars().take(100).collect()
}

/// Known clients, recognised by redirect URI: they only choose the consent page's label.
/// A DCR client is still shown as *unverified*: anyone can register these URIs' shapes.
pub fn preset_label(redirect_uri: &str) -> Option<&'static str> {
    const PRESETS: &[(&str, &str)] = &[
        ("https://claude.ai/api/mcp/auth_callback", "Claude"),
        ("https://claude.com/api/mcp/auth_callback", "Claude"),
        (
            "https://chatgpt.com/connector_platform_oauth_redirect",
            "ChatGPT",
        ),
        ("https://chatgpt.com/connector/oauth/", "ChatGPT"),
        ("cursor://anysphere.cursor-retrieval/", "Cursor"),
        ("cursor://anysphere.cursor-mcp/", "Cursor"),
        // Cursor's IDE and CLI (cursor-agent) also register this hosted callback.
        ("https://www.cursor.com/agents/mcp/oauth/callback", "Cursor"),
        ("https://vscode.dev/redirect", "VS Code"),
        ("https://insiders.vscode.dev/redirect", "VS Code"),
    ];
    PRESETS
        .iter()
        .find(|(prefix, _)| redirect_uri.starts_with(prefix))
        .map(|(_, label)| *label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uris: &[&str]) -> RegistrationRequest {
        RegistrationRequest {
            redirect_uris: uris.iter().map(|s| s.to_string()).collect(),
            token_endpoint_auth_method: Some("none".into()),
            ..Default::default()
        }
    }

    #[test]
    fn public_client_with_loopback_redirect() {
        let v = validate(req(&["http://127.0.0.1:33418/callback"])).unwrap();
        assert_eq!(v.auth_method, AuthMethod::None);
        assert_eq!(v.application_type, "web");
    }

    #[test]
    fn hostile_redirects_are_refused() {
        for uri in [
            "javascript:alert(1)",
            "http://evil.example/cb",
            "data:text/html,x",
            "https://x.example/#f",
        ] {
            let err = validate(req(&[uri])).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRedirectUri, "{uri}");
        }
        assert_eq!(
            validate(req(&[])).unwrap_err().code,
            ErrorCode::InvalidRedirectUri
        );
        let many: Vec<String> = (0..11).map(|i| format!("https://x.example/{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            validate(req(&refs)).unwrap_err().code,
            ErrorCode::InvalidRedirectUri
        );
    }

    #[test]
    fn grant_and_method_rules() {
        let mut r = req(&["https://x.example/cb"]);
        r.grant_types = Some(vec!["authorization_code".into(), "implicit".into()]);
        assert_eq!(
            validate(r).unwrap_err().code,
            ErrorCode::InvalidClientMetadata
        );
        let mut r = req(&["https://x.example/cb"]);
        r.token_endpoint_auth_method = Some("private_key_jwt".into());
        assert_eq!(
            validate(r).unwrap_err().code,
            ErrorCode::InvalidClientMetadata
        );
        let mut r = req(&["https://x.example/cb"]);
        r.token_endpoint_auth_method = None;
        assert_eq!(
            validate(r).unwrap().auth_method,
            AuthMethod::ClientSecretBasic,
            "RFC 7591 default"
        );
        let mut r = req(&["https://x.example/cb"]);
        r.response_types = Some(vec!["token".into()]);
        assert_eq!(
            validate(r).unwrap_err().code,
            ErrorCode::InvalidClientMetadata
        );
    }

    #[test]
    fn untrusted_metadata_is_cleaned() {
        let mut r = req(&["https://x.example/cb"]);
        r.client_name = Some(format!("Evil\u{7}\nClient{}", "x".repeat(200)));
        r.client_uri = Some("http://insecure.example".into());
        r.application_type = Some("native".into());
        let v = validate(r).unwrap();
        let name = v.client_name.unwrap();
        assert!(name.starts_with("EvilClient") && name.chars().count() == 80);
        assert_eq!(v.client_uri, None);
        assert_eq!(v.application_type, "native");
    }

    #[test]
    fn presets_label_known_clients() {
        assert_eq!(
            preset_label("https://claude.ai/api/mcp/auth_callback"),
            Some("Claude")
        );
        assert_eq!(
            preset_label("https://chatgpt.com/connector/oauth/abc123"),
            Some("ChatGPT")
        );
        assert_eq!(
            preset_label("https://claude.ai.evil.example/api/mcp/auth_callback"),
            None
        );
        assert_eq!(
            preset_label("https://www.cursor.com/agents/mcp/oauth/callback"),
            Some("Cursor")
        );
        assert_eq!(
            preset_label("https://www.cursor.com.evil.example/agents/mcp/oauth/callback"),
            None
        );
    }
}
