//! The authorization endpoint's rules (RFC 6749 §4.1.1, RFC 7636, RFC 8707, DESIGN.md §3):
//! client and redirect first — their errors are shown, never redirected (no open redirector);
//! every later error may go back to the validated redirect URI.

use super::error::{ErrorCode, OAuthError};
use crate::domain::{CodeChallenge, RedirectUri, ResourceUri, ScopeSet};

/// The query parameters as received (each at most once; the HTTP layer checks that).
#[derive(Debug, Clone, Default)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub resources: Vec<String>,
}

/// The registered client, as loaded by the caller.
#[derive(Debug, Clone)]
pub struct ClientView {
    pub client_id: String,
    pub redirect_uris: Vec<RedirectUri>,
}

/// A request that passed every rule.
#[derive(Debug, Clone)]
pub struct ValidAuthorization {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub challenge: CodeChallenge,
    pub scope: ScopeSet,
    /// Empty: the consent page asks which servers to grant.
    pub resources: Vec<ResourceUri>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Unknown client, missing or unregistered redirect: an error page, never a redirect.
    Page(OAuthError),
    /// The client and redirect are valid: the error may be sent to `redirect_uri`.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthError,
    },
}

const MAX_STATE: usize = 1024;

/// Validates an authorization request against the client the caller loaded (`None` when
/// `client_id` is unknown) for the gateway at `issuer`.
pub fn validate(
    params: &AuthorizeParams,
    client: Option<&ClientView>,
    issuer: &str,
) -> Result<ValidAuthorization, AuthorizeError> {
    let page = |code, text: &str| AuthorizeError::Page(OAuthError::new(code, text));
    if params.client_id.as_deref().is_none_or(str::is_empty) {
        return Err(page(ErrorCode::InvalidRequest, "client_id is missing"));
    }
    let Some(client) = client else {
        return Err(page(
            ErrorCode::InvalidClient,
            "this client is not registered with Gatehouse",
        ));
    };
    let redirect_uri = match params.redirect_uri.as_deref() {
        Some(uri) if client.redirect_uris.iter().any(|r| r.matches(uri)) => uri.to_owned(),
        Some(_) => {
            return Err(page(
                ErrorCode::InvalidRequest,
                "redirect_uri is not registered for this client",
            ))
        }
        // OAuth 2.1: redirect_uri is required (there may be several registered).
        None => return Err(page(ErrorCode::InvalidRequest, "redirect_uri is missing")),
    };
    let state = params.state.clone();
    let back = |code, text: String| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error: OAuthError::new(code, text),
    };
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
        return Err(back(ErrorCode::InvalidRequest, "state is too long".into()));
    }
    match params.response_type.as_deref() {
        Some("code") => {}
        None => {
            return Err(back(
                ErrorCode::InvalidRequest,
                "response_type is missing".into(),
            ))
        }
        Some(_) => {
            return Err(back(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported".into(),
            ))
        }
    }
    let challenge = CodeChallenge::parse(
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    )
    .map_err(|e| back(ErrorCode::InvalidRequest, e.to_string()))?;
    let mut resources = Vec::new();
    for raw in &params.resources {
        let resource = ResourceUri::parse(raw, issuer)
            .map_err(|e| back(ErrorCode::InvalidTarget, e.to_string()))?;
        if !resources.contains(&resource) {
            resources.push(resource);
        }
    }
    Ok(ValidAuthorization {
        client_id: client.client_id.clone(),
        redirect_uri,
        state,
        challenge,
        scope: ScopeSet::granted_for(params.scope.as_deref()),
        resources,
    })
}

/// The URL the browser is sent to: the redirect URI plus `code`/`error`, `state` and `iss`
/// (RFC 9207), appended to any query the registered URI already has.
pub fn redirect_url(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{sep}{}", query.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://gh.example.com";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client() -> ClientView {
        ClientView {
            client_id: "c1".into(),
            redirect_uris: vec![
                RedirectUri::parse("http://127.0.0.1:9000/cb").unwrap(),
                RedirectUri::parse("https://app.example/cb").unwrap(),
            ],
        }
    }

    fn good() -> AuthorizeParams {
        AuthorizeParams {
            response_type: Some("code".into()),
            client_id: Some("c1".into()),
            redirect_uri: Some("https://app.example/cb".into()),
            scope: Some("mcp openid".into()),
            state: Some("xyz".into()),
            code_challenge: Some(CHALLENGE.into()),
            code_challenge_method: Some("S256".into()),
            resources: vec![format!("{ISSUER}/mcp/gmail")],
        }
    }

    fn is_page(r: Result<ValidAuthorization, AuthorizeError>) -> bool {
        matches!(r, Err(AuthorizeError::Page(_)))
    }

    fn redirect_code(r: Result<ValidAuthorization, AuthorizeError>) -> Option<ErrorCode> {
        match r {
            Err(AuthorizeError::Redirect {
                error,
                redirect_uri,
                state,
            }) => {
                assert_eq!(redirect_uri, "https://app.example/cb");
                assert_eq!(state.as_deref(), Some("xyz"));
                Some(error.code)
            }
            _ => None,
        }
    }

    #[test]
    fn valid_request() {
        let v = validate(&good(), Some(&client()), ISSUER).unwrap();
        assert_eq!(v.scope.to_scope_string(), "mcp");
        assert_eq!(v.resources[0].key(), "gmail");
    }

    #[test]
    fn client_and_redirect_errors_never_redirect() {
        assert!(is_page(validate(&good(), None, ISSUER)));
        let mut p = good();
        p.client_id = None;
        assert!(is_page(validate(&p, Some(&client()), ISSUER)));
        let mut p = good();
        p.redirect_uri = Some("https://evil.example/cb".into());
        assert!(is_page(validate(&p, Some(&client()), ISSUER)));
        let mut p = good();
        p.redirect_uri = None;
        assert!(is_page(validate(&p, Some(&client()), ISSUER)));
        // Even with every other parameter broken, a bad redirect wins.
        let mut p = AuthorizeParams {
            redirect_uri: Some("javascript:alert(1)".into()),
            ..good()
        };
        p.code_challenge = None;
        assert!(is_page(validate(&p, Some(&client()), ISSUER)));
    }

    #[test]
    fn later_errors_go_back_to_the_client() {
        let mut p = good();
        p.code_challenge = None;
        assert_eq!(
            redirect_code(validate(&p, Some(&client()), ISSUER)),
            Some(ErrorCode::InvalidRequest)
        );
        let mut p = good();
        p.code_challenge_method = Some("plain".into());
        assert_eq!(
            redirect_code(validate(&p, Some(&client()), ISSUER)),
            Some(ErrorCode::InvalidRequest)
        );
        let mut p = good();
        p.response_type = Some("token".into());
        assert_eq!(
            redirect_code(validate(&p, Some(&client()), ISSUER)),
            Some(ErrorCode::UnsupportedResponseType)
        );
        let mut p = good();
        p.resources = vec!["https://other.example/mcp/gmail".into()];
        assert_eq!(
            redirect_code(validate(&p, Some(&client()), ISSUER)),
            Some(ErrorCode::InvalidTarget)
        );
    }

    #[test]
    fn loopback_redirect_with_another_port_is_accepted() {
        let p = AuthorizeParams {
            redirect_uri: Some("http://127.0.0.1:51234/cb".into()),
            ..good()
        };
        assert_eq!(
            validate(&p, Some(&client()), ISSUER).unwrap().redirect_uri,
            "http://127.0.0.1:51234/cb"
        );
    }

    #[test]
    fn redirect_url_appends_parameters() {
        assert_eq!(
            redirect_url("https://a.example/cb", &[("code", "x y"), ("iss", ISSUER)]),
            "https://a.example/cb?code=x+y&iss=https%3A%2F%2Fgh.example.com"
        );
        assert_eq!(
            redirect_url("https://a.example/cb?k=1", &[("error", "access_denied")]),
            "https://a.example/cb?k=1&error=access_denied"
        );
    }
}
