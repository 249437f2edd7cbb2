//! `RedirectUri`: an OAuth redirect URI a client may register, and the matching rule of
//! DESIGN.md §3 (exact bytes, except the port of a loopback URI — RFC 8252 §7.3).

use std::str::FromStr;

use url::{Host, Url};

/// What kind of redirect target this is; the consent page words its warnings by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    /// `https://…`: a web application.
    Https,
    /// `http://127.0.0.1|[::1]|localhost:<port>/…`: a native app's loopback listener.
    Loopback,
    /// `com.example.app:/cb`, `cursor://…`: a private-use scheme that any local app can claim.
    PrivateUse,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri {
    raw: String,
    kind: RedirectKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("redirect URI is not an absolute URI")]
    Syntax,
    #[error("redirect URI uses a forbidden scheme")]
    ForbiddenScheme,
    #[error("redirect URI uses http off loopback; use https")]
    PlainHttp,
    #[error("redirect URI must not contain a fragment")]
    Fragment,
    #[error("redirect URI must not contain a user name or password")]
    Userinfo,
    #[error("redirect URI is longer than 2000 characters")]
    TooLong,
}

/// Schemes that run code or read local data in the browser: never a redirect target.
const FORBIDDEN: &[&str] = &[
    "javascript",
    "data",
    "vbscript",
    "file",
    "blob",
    "about",
    "ftp",
    "ws",
    "wss",
];

impl RedirectUri {
    pub fn parse(raw: &str) -> Result<Self, RedirectUriError> {
        if raw.len() > 2000 {
            return Err(RedirectUriError::TooLong);
        }
        if raw.contains('#') {
            return Err(RedirectUriError::Fragment);
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(RedirectUriError::Syntax);
        }
        let url = Url::parse(raw).map_err(|_| RedirectUriError::Syntax)?;
        let scheme = url.scheme();
        if FORBIDDEN.contains(&scheme) {
            return Err(RedirectUriError::ForbiddenScheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(RedirectUriError::Userinfo);
        }
        let kind = match scheme {
            "https" if url.host().is_some() => RedirectKind::Https,
            "https" => return Err(RedirectUriError::Syntax),
            "http" if is_loopback(&url) => RedirectKind::Loopback,
            "http" => return Err(RedirectUriError::PlainHttp),
            _ => RedirectKind::PrivateUse,
        };
        Ok(Self {
            raw: raw.to_owned(),
            kind,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn kind(&self) -> RedirectKind {
        self.kind
    }

    /// The host shown on the consent page (the scheme for private-use URIs).
    pub fn display_host(&self) -> String {
        match Url::parse(&self.raw) {
            Ok(url) if self.kind == RedirectKind::PrivateUse => format!("{}:", url.scheme()),
            Ok(url) => url.host_str().unwrap_or_default().to_owned(),
            Err(_) => String::new(),
        }
    }

    /// Does a requested `redirect_uri` match this registered one? Byte-exact, except that a
    /// loopback URI may use any port (RFC 8252 §7.3: native apps get an ephemeral port).
    pub fn matches(&self, requested: &str) -> bool {
        if self.raw == requested {
            return true;
        }
        if self.kind != RedirectKind::Loopback {
            return false;
        }
        match (without_port(&self.raw), RedirectUri::parse(requested)) {
            (Some(registered), Ok(req)) if req.kind == RedirectKind::Loopback => {
                without_port(&req.raw).is_some_and(|r| r == registered)
            }
            _ => false,
        }
    }
}

/// The URI with its port removed, as a WHATWG URL parser (a browser) reads it — and only for
/// URIs already in that parser's normal form: text other parsers read differently (`\`,
/// odd case, escapes) never gets the loopback port exception.
fn without_port(raw: &str) -> Option<String> {
    let mut url = Url::parse(raw).ok()?;
    if url.as_str() != raw {
        return None;
    }
    url.set_port(None).ok()?;
    Some(url.into())
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

impl FromStr for RedirectUri {
    type Err = RedirectUriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RedirectKind::*;

    #[test]
    fn kinds_and_refusals() {
        let cases: &[(&str, Result<RedirectKind, RedirectUriError>)] = &[
            ("https://claude.ai/api/mcp/auth_callback", Ok(Https)),
            (
                "https://chatgpt.com/connector_platform_oauth_redirect",
                Ok(Https),
            ),
            ("http://127.0.0.1:33418/callback", Ok(Loopback)),
            ("http://localhost:6274/oauth/callback", Ok(Loopback)),
            ("http://[::1]:8080/cb", Ok(Loopback)),
            (
                "cursor://anysphere.cursor-retrieval/oauth/user-x/callback",
                Ok(PrivateUse),
            ),
            ("com.example.app:/oauth2redirect", Ok(PrivateUse)),
            (
                "javascript:alert(1)",
                Err(RedirectUriError::ForbiddenScheme),
            ),
            (
                "JavaScript:alert(1)",
                Err(RedirectUriError::ForbiddenScheme),
            ),
            (
                "data:text/html,<script>",
                Err(RedirectUriError::ForbiddenScheme),
            ),
            (
                "data:text/html;base64,PHNjcmlwdD4=",
                Err(RedirectUriError::ForbiddenScheme),
            ),
            ("vbscript:msgbox", Err(RedirectUriError::ForbiddenScheme)),
            ("file:///etc/passwd", Err(RedirectUriError::ForbiddenScheme)),
            (
                "blob:https://x.example/uuid",
                Err(RedirectUriError::ForbiddenScheme),
            ),
            ("about:blank", Err(RedirectUriError::ForbiddenScheme)),
            ("http://evil.example/cb", Err(RedirectUriError::PlainHttp)),
            (
                "http://127.0.0.1.evil.example/cb",
                Err(RedirectUriError::PlainHttp),
            ),
            (
                "http://localhost.evil.example/cb",
                Err(RedirectUriError::PlainHttp),
            ),
            ("https://x.example/cb#frag", Err(RedirectUriError::Fragment)),
            (
                "https://user:pw@x.example/cb",
                Err(RedirectUriError::Userinfo),
            ),
            ("/relative/path", Err(RedirectUriError::Syntax)),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                RedirectUri::parse(raw).map(|r| r.kind()),
                *expected,
                "{raw}"
            );
        }
    }

    fn reg(raw: &str) -> RedirectUri {
        RedirectUri::parse(raw).unwrap()
    }

    #[test]
    fn exact_match_for_https_and_private_use() {
        let r = reg("https://claude.ai/api/mcp/auth_callback");
        assert!(r.matches("https://claude.ai/api/mcp/auth_callback"));
        for other in [
            "https://claude.ai/api/mcp/auth_callback/",
            "https://claude.ai/api/mcp/auth_callback?x=1",
            "https://CLAUDE.ai/api/mcp/auth_callback",
            "https://claude.ai:443/api/mcp/auth_callback",
            "https://claude.ai/api/mcp/auth_callbacK",
        ] {
            assert!(!r.matches(other), "{other}");
        }
        let p = reg("cursor://anysphere.cursor-retrieval/oauth/callback");
        assert!(!p.matches("cursor://anysphere.cursor-retrieval/oauth/callback2"));
    }

    #[test]
    fn loopback_port_may_differ_but_nothing_else() {
        let r = reg("http://127.0.0.1:33418/callback");
        assert!(r.matches("http://127.0.0.1:51000/callback"));
        assert!(r.matches("http://127.0.0.1/callback"));
        assert!(!r.matches("http://127.0.0.1:51000/other"));
        assert!(
            !r.matches("http://localhost:51000/callback"),
            "host literal must match"
        );
        assert!(!r.matches("https://127.0.0.1:51000/callback"));
        // A browser reads `\` as `/`: this is 127.0.0.1:5 with path /@x/callback, and other
        // parsers read the host as `x`. Neither is the registered URI.
        assert!(!r.matches("http://127.0.0.1:5\\@x/callback"));
        assert!(!r.matches("http://127.0.0.1:5\\@x/cb"));
        assert!(!r.matches("http://127.0.0.1:51000/callback/../callback"));
        let v6 = reg("http://[::1]/cb");
        assert!(v6.matches("http://[::1]:4000/cb"));
        assert!(!v6.matches("http://127.0.0.1:4000/cb"));
        let https = reg("https://x.example:8443/cb");
        assert!(
            !https.matches("https://x.example:9443/cb"),
            "the exception is for loopback only"
        );
    }

    #[test]
    fn display_host() {
        assert_eq!(
            reg("https://chatgpt.com/connector/oauth/abc").display_host(),
            "chatgpt.com"
        );
        assert_eq!(
            reg("cursor://anysphere.cursor-retrieval/cb").display_host(),
            "cursor:"
        );
        assert_eq!(reg("http://127.0.0.1:9/cb").display_host(), "127.0.0.1");
    }
}
