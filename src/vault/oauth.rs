//! The vault's OAuth client: the `oauth2` crate's flows, sent through the guarded HTTP client
//! (so provider endpoints get the same SSRF rules as every other outbound request).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicRequestTokenError};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RevocationUrl, Scope, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::provider::{AuthMethod, Endpoints};
use crate::net::{cause, read_limited, GuardedClient};

/// Largest provider response read (token, userinfo, error bodies are small).
const MAX_RESPONSE: usize = 256 * 1024;

type Client =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointSet>;

/// Tokens from a code exchange or a refresh.
pub struct TokenSet {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_in: Option<Duration>,
    /// The granted scopes, when the provider says (RFC 6749 §5.1).
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The grant (code or refresh token) is no longer valid: the user must sign in again.
    #[error("the provider no longer accepts the grant (invalid_grant)")]
    InvalidGrant,
    /// The provider does not know (or no longer accepts) Gatehouse's client.
    #[error("the provider does not accept Gatehouse's client (invalid_client)")]
    InvalidClient,
    #[error("the provider refused: {0}")]
    Refused(String),
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the provider's answer was not understood: {0}")]
    Malformed(String),
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

type HttpFuture<'a> =
    Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'a>>;

/// The guarded client as the `oauth2` crate's `AsyncHttpClient`.
struct Transport<'a>(&'a GuardedClient);

impl<'c> oauth2::AsyncHttpClient<'c> for Transport<'_> {
    type Error = HttpError;
    type Future = HttpFuture<'c>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        let http = self.0;
        Box::pin(async move {
            let url =
                Url::parse(&request.uri().to_string()).map_err(|e| HttpError(e.to_string()))?;
            let (parts, body) = request.into_parts();
            let response = http
                .request(parts.method, url)
                .await
                .map_err(|e| HttpError(e.to_string()))?
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| HttpError(cause(&e)))?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = read_limited(response, MAX_RESPONSE)
                .await
                .map_err(|e| HttpError(e.to_string()))?;
            let mut out = oauth2::http::Response::builder().status(status);
            if let Some(h) = out.headers_mut() {
                *h = headers;
            }
            out.body(body).map_err(|e| HttpError(e.to_string()))
        })
    }
}

fn client(e: &Endpoints, redirect: &Url) -> Client {
    let mut client = BasicClient::new(ClientId::new(e.client_id.clone()))
        .set_auth_uri(AuthUrl::from_url(e.auth_url.clone()))
        .set_token_uri(TokenUrl::from_url(e.token_url.clone()))
        .set_revocation_url_option(e.revoke_url.clone().map(RevocationUrl::from_url))
        .set_redirect_uri(RedirectUrl::from_url(redirect.clone()));
    if let Some(secret) = &e.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
    }
    if e.auth_method == AuthMethod::Post {
        client = client.set_auth_type(AuthType::RequestBody);
    }
    client
}

/// A fresh PKCE pair (S256): the challenge goes in the URL, the verifier is kept.
pub fn pkce_pair() -> (PkceCodeChallenge, String) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    (challenge, verifier.secret().to_owned())
}

/// The provider's authorization URL for this flow.
pub fn authorization_url(
    e: &Endpoints,
    redirect: &Url,
    state: &str,
    challenge: PkceCodeChallenge,
    scopes: &[String],
    resource: Option<&str>,
) -> Url {
    let state = state.to_owned();
    let client = client(e, redirect);
    let mut request = client
        .authorize_url(move || CsrfToken::new(state))
        .add_scopes(scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge);
    for (name, value) in e.extra_auth_params {
        request = request.add_extra_param(*name, *value);
    }
    if let Some(resource) = resource {
        request = request.add_extra_param("resource", resource.to_owned());
    }
    request.url().0
}

fn token_error(err: BasicRequestTokenError<HttpError>) -> ProviderError {
    match err {
        oauth2::RequestTokenError::ServerResponse(response) => match response.error() {
            BasicErrorResponseType::InvalidGrant => ProviderError::InvalidGrant,
            BasicErrorResponseType::InvalidClient => ProviderError::InvalidClient,
            other => ProviderError::Refused(match response.error_description() {
                Some(d) => format!("{} ({})", other.as_ref(), printable(d)),
                None => other.as_ref().to_owned(),
            }),
        },
        oauth2::RequestTokenError::Request(e) => ProviderError::Unreachable(e.0),
        oauth2::RequestTokenError::Parse(e, _) => ProviderError::Malformed(e.to_string()),
        oauth2::RequestTokenError::Other(e) => ProviderError::Malformed(e),
    }
}

/// Provider-supplied text shown to users is cut short and kept to one line.
pub(crate) fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

fn token_set(response: oauth2::basic::BasicTokenResponse) -> TokenSet {
    TokenSet {
        access_token: SecretString::from(response.access_token().secret().to_owned()),
        refresh_token: response
            .refresh_token()
            .map(|t| SecretString::from(t.secret().to_owned())),
        expires_in: response.expires_in(),
        scopes: response
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect()),
    }
}

pub async fn exchange_code(
    http: &GuardedClient,
    e: &Endpoints,
    redirect: &Url,
    code: &str,
    verifier: &str,
    resource: Option<&str>,
) -> Result<TokenSet, ProviderError> {
    let client = client(e, redirect);
    let mut request = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
    if let Some(resource) = resource {
        request = request.add_extra_param("resource", resource.to_owned());
    }
    request
        .request_async(&Transport(http))
        .await
        .map(token_set)
        .map_err(token_error)
}

pub async fn refresh(
    http: &GuardedClient,
    e: &Endpoints,
    redirect: &Url,
    refresh_token: &SecretString,
    resource: Option<&str>,
) -> Result<TokenSet, ProviderError> {
    let token = RefreshToken::new(refresh_token.expose_secret().to_owned());
    let client = client(e, redirect);
    let mut request = client.exchange_refresh_token(&token);
    if let Some(resource) = resource {
        request = request.add_extra_param("resource", resource.to_owned());
    }
    request
        .request_async(&Transport(http))
        .await
        .map(token_set)
        .map_err(token_error)
}

/// Revokes a token at the provider (RFC 7009; Google's endpoint takes the same form).
/// `Ok(false)` when the provider has no revocation endpoint.
///
/// Sent directly rather than through `oauth2::Client::revoke_token`, which refuses plain-http
/// endpoints even where the operator allowed a private network for them (as for every other
/// provider call); the request is a single form POST with the client's credentials.
pub async fn revoke(
    http: &GuardedClient,
    e: &Endpoints,
    token: &SecretString,
    hint: &str,
) -> Result<bool, ProviderError> {
    let Some(url) = e.revoke_url.clone() else {
        return Ok(false);
    };
    let mut form = vec![("token", token.expose_secret()), ("token_type_hint", hint)];
    let mut request = http
        .request(reqwest::Method::POST, url)
        .await
        .map_err(|err| ProviderError::Unreachable(err.to_string()))?;
    match (&e.client_secret, e.auth_method) {
        (Some(secret), AuthMethod::Basic) => {
            request = request.basic_auth(&e.client_id, Some(secret.expose_secret()))
        }
        (Some(secret), AuthMethod::Post) => {
            form.push(("client_id", e.client_id.as_str()));
            form.push(("client_secret", secret.expose_secret()));
        }
        _ => form.push(("client_id", e.client_id.as_str())),
    }
    let response = request
        .form(&form)
        .send()
        .await
        .map_err(|err| ProviderError::Unreachable(cause(&err)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(true);
    }
    let body = read_limited(response, MAX_RESPONSE)
        .await
        .unwrap_or_default();
    let error = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(printable))
        .unwrap_or_else(|| format!("HTTP {status}"));
    if error == "invalid_client" {
        return Err(ProviderError::InvalidClient);
    }
    Err(ProviderError::Refused(error))
}

/// The account's display name from the provider's userinfo endpoint (OpenID Connect): the
/// email when given, else `preferred_username`, else `sub`.
pub async fn account_name(
    http: &GuardedClient,
    e: &Endpoints,
    access_token: &SecretString,
) -> Result<Option<String>, ProviderError> {
    let Some(url) = e.userinfo_url.clone() else {
        return Ok(None);
    };
    let response = http
        .request(reqwest::Method::GET, url)
        .await
        .map_err(|e| ProviderError::Unreachable(e.to_string()))?
        .bearer_auth(access_token.expose_secret())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| ProviderError::Unreachable(cause(&e)))?;
    if !response.status().is_success() {
        return Err(ProviderError::Refused(format!(
            "userinfo answered {}",
            response.status()
        )));
    }
    let body = read_limited(response, MAX_RESPONSE)
        .await
        .map_err(|e| ProviderError::Unreachable(e.to_string()))?;
    let info: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| ProviderError::Malformed(e.to_string()))?;
    Ok(["email", "preferred_username", "sub"]
        .iter()
        .find_map(|k| info.get(*k).and_then(|v| v.as_str()))
        .map(printable))
}
