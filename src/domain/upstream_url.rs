//! `UpstreamUrl`: the URL of a user's upstream MCP server (http or https, with a host).

use std::str::FromStr;
use url::Url;

#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamUrl(Url);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamUrlError {
    #[error("the URL could not be parsed: {0}")]
    Syntax(String),
    #[error("the URL must start with https:// (or http://)")]
    Scheme,
    #[error("the URL needs a host")]
    Host,
    #[error("the URL must not carry a user name or password; add a credential instead")]
    Userinfo,
    #[error("the URL must not have a #fragment")]
    Fragment,
    #[error("the URL is longer than 2048 characters")]
    TooLong,
}

impl UpstreamUrl {
    pub fn parse(input: &str) -> Result<Self, UpstreamUrlError> {
        let input = input.trim();
        if input.len() > 2048 {
            return Err(UpstreamUrlError::TooLong);
        }
        let url = Url::parse(input).map_err(|e| UpstreamUrlError::Syntax(e.to_string()))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(UpstreamUrlError::Scheme);
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(UpstreamUrlError::Host);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UpstreamUrlError::Userinfo);
        }
        if url.fragment().is_some() {
            return Err(UpstreamUrlError::Fragment);
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL as an RFC 8707 `resource`: without query and fragment (RFC 8707 §2 says a
    /// resource SHOULD have none; the query often holds an API key, and the resource is
    /// sent in browser-visible URLs).
    pub fn as_resource(&self) -> String {
        let mut resource = self.0.clone();
        resource.set_query(None);
        resource.set_fragment(None);
        resource.into()
    }

    /// Scheme, host, port and path, without the query: query strings often hold API keys.
    pub fn redacted(&self) -> String {
        let mut shown = self.0.clone();
        shown.set_query(None);
        match self.0.query() {
            Some(_) => format!("{shown}?…"),
            None => shown.to_string(),
        }
    }
}

impl FromStr for UpstreamUrl {
    type Err = UpstreamUrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl std::fmt::Debug for UpstreamUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UpstreamUrl({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https() {
        assert!(UpstreamUrl::parse("https://mcp.example.com/mcp").is_ok());
        assert!(UpstreamUrl::parse("http://127.0.0.1:8080/mcp").is_ok());
    }

    #[test]
    fn refuses_bad_urls() {
        assert_eq!(
            UpstreamUrl::parse("javascript:alert(1)").err(),
            Some(UpstreamUrlError::Scheme)
        );
        assert_eq!(
            UpstreamUrl::parse("ftp://x.example/").err(),
            Some(UpstreamUrlError::Scheme)
        );
        assert_eq!(
            UpstreamUrl::parse("https://u:p@x.example/").err(),
            Some(UpstreamUrlError::Userinfo)
        );
        assert_eq!(
            UpstreamUrl::parse("https://x.example/#a").err(),
            Some(UpstreamUrlError::Fragment)
        );
        assert!(matches!(
            UpstreamUrl::parse("not a url"),
            Err(UpstreamUrlError::Syntax(_))
        ));
    }

    #[test]
    fn redaction_hides_the_query() {
        let u = UpstreamUrl::parse("https://x.example/mcp?key=sekrit").ok();
        let shown = u.map(|u| u.redacted()).unwrap_or_default();
        assert!(!shown.contains("sekrit"), "{shown}");
        assert_eq!(shown, "https://x.example/mcp?…");
    }

    #[test]
    fn the_resource_form_drops_the_query() {
        let u = UpstreamUrl::parse("https://tools.example.com/mcp?api_key=SECRET").unwrap();
        assert_eq!(u.as_resource(), "https://tools.example.com/mcp");
    }
}
