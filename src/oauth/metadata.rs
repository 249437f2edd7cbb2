//! Discovery documents: RFC 8414 authorization-server metadata and RFC 9728
//! protected-resource metadata. The issuer string is the same bytes everywhere.

use serde::Serialize;

use crate::domain::scope::MCP_SCOPE;

#[derive(Debug, Serialize)]
pub struct AuthorizationServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub registration_endpoint: String,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    pub response_types_supported: [&'static str; 1],
    pub response_modes_supported: [&'static str; 1],
    pub grant_types_supported: [&'static str; 2],
    pub scopes_supported: [&'static str; 1],
    pub token_endpoint_auth_methods_supported: [&'static str; 3],
    pub revocation_endpoint_auth_methods_supported: [&'static str; 3],
    pub introspection_endpoint_auth_methods_supported: [&'static str; 2],
    pub code_challenge_methods_supported: [&'static str; 1],
    pub authorization_response_iss_parameter_supported: bool,
    pub client_id_metadata_document_supported: bool,
}

impl AuthorizationServerMetadata {
    pub fn for_issuer(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            authorization_endpoint: format!("{issuer}/authorize"),
            token_endpoint: format!("{issuer}/token"),
            registration_endpoint: format!("{issuer}/register"),
            revocation_endpoint: format!("{issuer}/revoke"),
            introspection_endpoint: format!("{issuer}/introspect"),
            response_types_supported: ["code"],
            response_modes_supported: ["query"],
            grant_types_supported: ["authorization_code", "refresh_token"],
            scopes_supported: [MCP_SCOPE],
            token_endpoint_auth_methods_supported: [
                "none",
                "client_secret_basic",
                "client_secret_post",
            ],
            revocation_endpoint_auth_methods_supported: [
                "none",
                "client_secret_basic",
                "client_secret_post",
            ],
            introspection_endpoint_auth_methods_supported: [
                "client_secret_basic",
                "client_secret_post",
            ],
            code_challenge_methods_supported: ["S256"],
            authorization_response_iss_parameter_supported: true,
            client_id_metadata_document_supported: true,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ProtectedResourceMetadata {
    pub resource: String,
    pub authorization_servers: [String; 1],
    pub scopes_supported: [&'static str; 1],
    pub bearer_methods_supported: [&'static str; 1],
    pub resource_name: String,
}

impl ProtectedResourceMetadata {
    /// `resource` is the canonical URL of the protected resource (`<issuer>/mcp/<slug>`, or
    /// the gateway origin for the root document).
    pub fn new(issuer: &str, resource: String, name: String) -> Self {
        Self {
            resource,
            authorization_servers: [issuer.to_owned()],
            scopes_supported: [MCP_SCOPE],
            bearer_methods_supported: ["header"],
            resource_name: name,
        }
    }
}

/// The `WWW-Authenticate` challenge of a 401 from `/mcp/…` (RFC 6750 §3, RFC 9728 §5.1).
pub fn bearer_challenge(resource_metadata_url: &str, invalid_token: bool) -> String {
    let mut value =
        format!("Bearer resource_metadata=\"{resource_metadata_url}\", scope=\"{MCP_SCOPE}\"");
    if invalid_token {
        value.push_str(", error=\"invalid_token\", error_description=\"The access token is invalid, expired, revoked or not for this resource\"");
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_fields_derive_from_the_issuer() {
        let m = serde_json::to_value(AuthorizationServerMetadata::for_issuer(
            "https://gh.example.com",
        ))
        .unwrap();
        assert_eq!(m["issuer"], "https://gh.example.com");
        assert_eq!(m["token_endpoint"], "https://gh.example.com/token");
        assert_eq!(
            m["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    }

    #[test]
    fn challenge_names_metadata_and_scope() {
        let c = bearer_challenge(
            "https://gh.example.com/.well-known/oauth-protected-resource/mcp/x",
            true,
        );
        assert!(c.starts_with("Bearer resource_metadata=\"https://gh.example.com/.well-known/oauth-protected-resource/mcp/x\""));
        assert!(c.contains("scope=\"mcp\"") && c.contains("error=\"invalid_token\""));
        assert!(!bearer_challenge("u", false).contains("error="));
    }
}
