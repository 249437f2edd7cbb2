//! Client ID Metadata Documents: the rules a fetched document must meet (DESIGN.md §3), and
//! how long it may be cached. Pure: the caller fetches.

use serde::Deserialize;

use super::client_registration::{self, AuthMethod, RegistrationRequest, ValidRegistration};
use super::error::{ErrorCode, OAuthError};

/// Documents larger than this are refused.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// However long the headers allow, a document is refetched after a day.
pub const MAX_CACHE_SECS: i64 = 86_400;

#[derive(Debug, Deserialize)]
struct Document {
    client_id: Option<String>,
    #[serde(flatten)]
    metadata: RegistrationRequest,
}

fn invalid(text: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, text)
}

/// Validates the document fetched from `url` (the raw client_id).
pub fn validate(url: &str, body: &[u8]) -> Result<ValidRegistration, OAuthError> {
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(invalid("the client metadata document is larger than 5 KB"));
    }
    let doc: Document = serde_json::from_slice(body).map_err(|e| {
        invalid(format!(
            "the client metadata document is not valid JSON metadata: {e}"
        ))
    })?;
    if doc.client_id.as_deref() != Some(url) {
        return Err(invalid(
            "the client metadata document's client_id does not equal its URL",
        ));
    }
    if doc.metadata.token_endpoint_auth_method.as_deref() != Some("none") {
        return Err(invalid(
            "a client metadata document must declare token_endpoint_auth_method \"none\"",
        ));
    }
    let valid = client_registration::validate(doc.metadata).map_err(|e| {
        invalid(format!(
            "the client metadata document is not acceptable: {}",
            e.description
        ))
    })?;
    debug_assert_eq!(valid.auth_method, AuthMethod::None);
    Ok(valid)
}

/// Seconds the document may be reused, from its `Cache-Control` (RFC 9111): `max-age`
/// capped at a day; `no-store`, `no-cache` or no directive mean "fetch again next time".
pub fn cache_lifetime(cache_control: Option<&str>) -> i64 {
    let Some(value) = cache_control else { return 0 };
    let directives: Vec<String> = value
        .split(',')
        .map(|d| d.trim().to_ascii_lowercase())
        .collect();
    if directives
        .iter()
        .any(|d| d == "no-store" || d == "no-cache")
    {
        return 0;
    }
    directives
        .iter()
        .find_map(|d| {
            d.strip_prefix("max-age=")
                .and_then(|v| v.trim_matches('"').parse::<i64>().ok())
        })
        .map(|secs| secs.clamp(0, MAX_CACHE_SECS))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const URL: &str = "https://claude.ai/oauth/claude-code-client-metadata";

    fn doc(v: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn published_shapes_are_accepted() {
        // The shape Claude Code publishes: loopback redirects, public client.
        let claude_code = json!({
            "client_id": URL, "client_name": "Claude Code", "client_uri": "https://claude.ai",
            "redirect_uris": ["http://localhost/callback", "http://127.0.0.1/callback"],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "token_endpoint_auth_method": "none"
        });
        assert!(validate(URL, &doc(claude_code)).is_ok());
        let vscode_url = "https://vscode.dev/oauth/client-metadata.json";
        let vscode = json!({
            "client_id": vscode_url, "client_name": "Visual Studio Code", "application_type": "native",
            "redirect_uris": ["http://127.0.0.1:33418/", "https://vscode.dev/redirect"],
            "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"
        });
        assert!(validate(vscode_url, &doc(vscode)).is_ok());
        // The claude.ai web connector: an https callback on its own site.
        let web_url = "https://claude.ai/oauth/mcp-oauth-client-metadata";
        let claude_web = json!({
            "client_id": web_url, "client_name": "Claude", "client_uri": "https://claude.ai",
            "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "token_endpoint_auth_method": "none"
        });
        let valid = validate(web_url, &doc(claude_web)).unwrap();
        assert_eq!(valid.client_name.as_deref(), Some("Claude"));
    }

    #[test]
    fn mismatch_method_size_and_redirects_are_refused() {
        let base = |id: &str, method: &str| json!({ "client_id": id, "redirect_uris": ["https://claude.ai/cb"], "token_endpoint_auth_method": method });
        assert!(
            validate(URL, &doc(base("https://evil.example/doc", "none")))
                .unwrap_err()
                .description
                .contains("does not equal")
        );
        assert!(
            validate(URL, &doc(base(&format!("{URL}/"), "none"))).is_err(),
            "byte-exact equality"
        );
        assert!(validate(URL, &doc(base(URL, "client_secret_basic")))
            .unwrap_err()
            .description
            .contains("\"none\""));
        assert!(
            validate(
                URL,
                &doc(json!({ "client_id": URL, "redirect_uris": ["https://claude.ai/cb"] }))
            )
            .is_err(),
            "method must be declared"
        );
        assert!(validate(URL, &doc(json!({ "client_id": URL, "redirect_uris": ["javascript:alert(1)"], "token_endpoint_auth_method": "none" }))).is_err());
        let mut big = base(URL, "none");
        big["client_name"] = json!("x".repeat(6000));
        assert!(validate(URL, &doc(big))
            .unwrap_err()
            .description
            .contains("5 KB"));
        assert!(validate(URL, b"not json").is_err());
    }

    #[test]
    fn cache_lifetime_follows_headers_with_a_day_cap() {
        assert_eq!(cache_lifetime(None), 0);
        assert_eq!(cache_lifetime(Some("max-age=600")), 600);
        assert_eq!(cache_lifetime(Some("public, max-age=604800")), 86_400);
        assert_eq!(cache_lifetime(Some("max-age=600, no-store")), 0);
        assert_eq!(cache_lifetime(Some("no-cache")), 0);
        assert_eq!(cache_lifetime(Some("max-age=-5")), 0);
    }
}
