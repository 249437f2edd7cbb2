//! Header rules of the gateway (DESIGN.md §5): what crosses toward the upstream (an
//! allow-list; the credential is injected by `credentialed`) and what comes back (no cookies,
//! no challenges of the upstream's own auth, plus hardening headers).

use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Request headers forwarded to the upstream; everything else (the client's
/// `Authorization`, Gatehouse cookies, `Host`, proxies' headers) stays here. The session id
/// is forwarded apart, once checked (see [`session_id`]).
pub const FORWARDED_REQUEST_HEADERS: &[&str] = &[
    "content-type",
    "accept",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "last-event-id",
];

/// Tool arguments a 2026-07-28 client copies into headers (`Mcp-Param-<Name>`, SEP-2243);
/// the server refuses a call whose annotated arguments lack them.
const PARAM_HEADER_PREFIX: &str = "mcp-param-";

pub const SESSION_ID: &str = "mcp-session-id";

/// A repeated `Mcp-Session-Id`, or one with bytes a session id never has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadSessionId;

/// The request's `Mcp-Session-Id`: none, or exactly one value of visible ASCII (MCP
/// transport spec). Anything else is refused rather than check one value and forward another.
pub fn session_id(incoming: &HeaderMap) -> Result<Option<&str>, BadSessionId> {
    let mut values = incoming.get_all(SESSION_ID).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(BadSessionId);
    }
    let bytes = first.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(BadSessionId);
    }
    first.to_str().map(Some).map_err(|_| BadSessionId)
}

/// Response headers never passed back: the upstream's cookies and auth challenges (its
/// auth is Gatehouse's business, not the client's), and hop-by-hop headers.
const DROPPED_RESPONSE_HEADERS: &[&str] = &[
    "set-cookie",
    "set-cookie2",
    "www-authenticate",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authenticate",
];

/// What crosses toward the upstream: the allow-list, the `Mcp-Param-*` headers and the checked
/// session id. The credential is added by `credentialed`, per attempt.
pub fn upstream_request_headers(incoming: &HeaderMap, session: Option<&str>) -> HeaderMap {
    // Sized for what is usually there (the credential and reqwest's own): growing rehashes.
    let mut out = HeaderMap::with_capacity(FORWARDED_REQUEST_HEADERS.len() + 4);
    for name in FORWARDED_REQUEST_HEADERS {
        for value in incoming.get_all(*name) {
            out.append(HeaderName::from_static(name), value.clone());
        }
    }
    for (name, value) in incoming {
        if name.as_str().starts_with(PARAM_HEADER_PREFIX) {
            out.append(name.clone(), value.clone());
        }
    }
    if let Some(Ok(value)) = session.map(HeaderValue::from_str) {
        out.insert(HeaderName::from_static(SESSION_ID), value);
    }
    out
}

/// The media type of a `Content-Type`, lowercased, without its parameters.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next()?.trim().to_ascii_lowercase())
}

pub fn client_response_headers(upstream: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(upstream.len() + 2);
    for (name, value) in upstream {
        if !DROPPED_RESPONSE_HEADERS.contains(&name.as_str()) {
            out.append(name.clone(), value.clone());
        }
    }
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_request_headers_cross() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer gh_at_client"),
        );
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("gatehouse_session=abc"),
        );
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert("mcp-session-id", HeaderValue::from_static("s1"));
        h.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        h.insert("mcp-param-region", HeaderValue::from_static("eu"));
        h.insert(header::HOST, HeaderValue::from_static("gatehouse.example"));
        let out = upstream_request_headers(&h, Some("s1"));
        assert!(
            out.get(header::AUTHORIZATION).is_none(),
            "the client's token never crosses"
        );
        assert_eq!(out.get("mcp-session-id").unwrap(), "s1");
        assert_eq!(out.get(header::CONTENT_TYPE).unwrap(), "application/json");
        assert!(out.get(header::COOKIE).is_none() && out.get(header::HOST).is_none());
        assert!(out.get("x-forwarded-for").is_none());
        assert_eq!(out.get("mcp-param-region").unwrap(), "eu");
    }

    #[test]
    fn a_session_id_is_one_value_of_visible_ascii() {
        let mut h = HeaderMap::new();
        assert_eq!(session_id(&h), Ok(None));
        h.insert(SESSION_ID, HeaderValue::from_static("abc-123_~"));
        assert_eq!(session_id(&h), Ok(Some("abc-123_~")));
        h.append(SESSION_ID, HeaderValue::from_static("other"));
        assert_eq!(session_id(&h), Err(BadSessionId), "repeated");
        for bad in [&b"a b"[..], b"caf\xc3\xa9", b"", b"tab\there"] {
            let mut h = HeaderMap::new();
            h.insert(SESSION_ID, HeaderValue::from_bytes(bad).unwrap());
            assert_eq!(session_id(&h), Err(BadSessionId), "{bad:?}");
        }
    }

    #[test]
    fn cookies_and_challenges_are_dropped_from_responses() {
        let mut h = HeaderMap::new();
        h.insert(header::SET_COOKIE, HeaderValue::from_static("upstream=1"));
        h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        h.insert("mcp-session-id", HeaderValue::from_static("s1"));
        let out = client_response_headers(&h);
        assert!(
            out.get(header::SET_COOKIE).is_none() && out.get(header::WWW_AUTHENTICATE).is_none()
        );
        assert_eq!(out.get("mcp-session-id").unwrap(), "s1");
        assert_eq!(out.get(header::CONTENT_SECURITY_POLICY).unwrap(), "sandbox");
        assert_eq!(out.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
    }
}
