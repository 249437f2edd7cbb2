//! One request to a user's upstream with Gatehouse's credential for it (DESIGN.md §5): a vault
//! token is refreshed (shared with concurrent callers) and the request retried once when the
//! upstream answers 401; a 403 naming scopes records them for the next Authenticate. Both
//! `/mcp/{slug}` (`forward`) and the aggregated `/mcp`'s upstream sessions send through here,
//! each turning a [`Refusal`] into its own kind of answer.

use std::time::Instant;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};

use super::Gateway;
use crate::domain::UserId;
use crate::net::NetError;
use crate::service::upstream::refresh::{self, CredentialError, Need};
use crate::service::upstream::route::{Auth, Route};
use crate::service::upstream::step_up;

/// A request as it goes upstream, less the credential (added per attempt).
pub struct Outgoing {
    pub method: Method,
    /// What the caller lets cross; any `Authorization` or `Cookie` in it is dropped here.
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
}

/// Why no usable answer came back.
#[derive(Debug)]
pub enum Refusal {
    /// The upstream could not be reached or used; the reason is safe to show (never the URL,
    /// which may hold keys in its query).
    Unavailable(String),
    /// The refreshed token was refused too: the user must reconnect the account.
    Reauth,
    /// 401 to what Gatehouse holds that cannot be refreshed: a stored credential (`stored`)
    /// or none at all.
    CredentialRefused { stored: bool },
    /// 403 `insufficient_scope`: these scopes (space-separated) are recorded for the next
    /// Authenticate.
    WiderScope(String),
    /// No usable vault credential (not connected, refresh refused or failed).
    Credential(CredentialError),
    /// Recording the wanted scopes failed.
    Internal(String),
}

/// The credential to inject for `route`: its stored one, the vault's current token (refreshed
/// first when it is about to expire), or none (open servers).
pub async fn credential(
    gw: &Gateway,
    user: UserId,
    route: &Route,
) -> Result<Option<SecretString>, Refusal> {
    Ok(match &route.auth {
        Auth::None => None,
        Auth::Static(secret) => Some(secret.clone()),
        Auth::Vault => Some(
            refresh::credential(&gw.core, user, route.server_id)
                .await
                .map_err(Refusal::Credential)?
                .token,
        ),
    })
}

/// Sends `outgoing` to the route's target with `token` (from [`credential`]); on a 401 to a
/// vault token, refreshes it and sends once more. The answer, or why there is none.
pub async fn send(
    gw: &Gateway,
    user: UserId,
    slug: &str,
    route: &Route,
    outgoing: &Outgoing,
    mut token: Option<SecretString>,
) -> Result<reqwest::Response, Refusal> {
    let core = &gw.core;
    let mut retried = false;
    loop {
        let response = attempt(gw, slug, route, outgoing, token.as_ref()).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            match (&route.auth, token, retried) {
                (Auth::Vault, Some(rejected), false) => {
                    crate::telemetry::upstream_401_retry();
                    let need = Need::IfStill(rejected);
                    let fresh = refresh::credential_with(core, user, route.server_id, need)
                        .await
                        .map_err(Refusal::Credential)?;
                    token = Some(fresh.token);
                    retried = true;
                    continue;
                }
                (Auth::Vault, _, _) => return Err(Refusal::Reauth),
                (Auth::Static(_), _, _) => return Err(Refusal::CredentialRefused { stored: true }),
                (Auth::None, _, _) => return Err(Refusal::CredentialRefused { stored: false }),
            }
        }
        if response.status() == StatusCode::FORBIDDEN && matches!(route.auth, Auth::Vault) {
            let challenges = response.headers().get_all(header::WWW_AUTHENTICATE);
            let wanted = step_up::wanted_scopes(challenges.iter().filter_map(|v| v.to_str().ok()));
            if let Some(scopes) = wanted {
                step_up::require(core, user, route.server_id, slug, &scopes)
                    .await
                    .map_err(|err| Refusal::Internal(err.to_string()))?;
                return Err(Refusal::WiderScope(scopes));
            }
        }
        return Ok(response);
    }
}

async fn attempt(
    gw: &Gateway,
    slug: &str,
    route: &Route,
    outgoing: &Outgoing,
    token: Option<&SecretString>,
) -> Result<reqwest::Response, Refusal> {
    let headers = with_credential(&outgoing.headers, token)?;
    let request = gw
        .http
        .request(outgoing.method.clone(), route.target.clone())
        .await
        .map_err(|err| Refusal::Unavailable(refused_by_guard(err)))?
        .headers(headers);
    let request = match &outgoing.body {
        Some(body) => request.body(body.clone()),
        None => request,
    };
    let sent = Instant::now();
    let answer = request.send().await;
    crate::telemetry::upstream_response(slug, sent.elapsed());
    answer.map_err(|err| {
        Refusal::Unavailable(if err.is_timeout() {
            "it did not answer in time".to_owned()
        } else if err.is_connect() {
            "cannot connect to it".to_owned()
        } else {
            crate::net::cause(&err)
        })
    })
}

/// `headers` with Gatehouse's credential for the upstream: whatever the caller let through,
/// the client's own credentials never go upstream.
fn with_credential(
    headers: &HeaderMap,
    token: Option<&SecretString>,
) -> Result<HeaderMap, Refusal> {
    let mut headers = headers.clone();
    headers.remove(header::AUTHORIZATION);
    headers.remove(header::COOKIE);
    if let Some(token) = token {
        headers.insert(header::AUTHORIZATION, bearer(token)?);
    }
    Ok(headers)
}

/// `Bearer <token>`, marked sensitive so no header dump shows it.
fn bearer(token: &SecretString) -> Result<HeaderValue, Refusal> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
        .map_err(|_| Refusal::Unavailable("its credential is not a valid header value".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

fn refused_by_guard(err: NetError) -> String {
    match err {
        NetError::Restricted(host) => {
            format!("{host} resolves to an address Gatehouse may not connect to")
        }
        NetError::Scheme => {
            "only https upstreams may be used (or http to an allowed private network)".to_owned()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clients_credentials_never_cross_whatever_the_caller_passes() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer gh_at_client"),
        );
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("gatehouse_session=abc"),
        );
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let open = with_credential(&h, None).unwrap();
        assert!(open.get(header::AUTHORIZATION).is_none() && open.get(header::COOKIE).is_none());
        assert_eq!(open.get(header::ACCEPT).unwrap(), "application/json");
        let vault = with_credential(&h, Some(&SecretString::from("upstream-token"))).unwrap();
        assert_eq!(vault.get_all(header::AUTHORIZATION).iter().count(), 1);
        assert_eq!(
            vault.get(header::AUTHORIZATION).unwrap(),
            "Bearer upstream-token"
        );
    }

    #[test]
    fn the_credential_header_is_sensitive_and_a_broken_one_is_refused() {
        let value = bearer(&SecretString::from("upstream-token")).unwrap();
        assert_eq!(value, "Bearer upstream-token");
        assert!(value.is_sensitive());
        let Err(Refusal::Unavailable(reason)) = bearer(&SecretString::from("a\nb")) else {
            panic!("a token with a line break must not become a header");
        };
        assert!(!reason.contains("a\nb"), "the reason never shows the token");
    }
}
