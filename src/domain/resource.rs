//! `ResourceUri` (RFC 8707): the canonical URL of one gateway resource, `<issuer>/mcp/<slug>`.
//! A slug names "the signed-in user's server with this slug"; it is resolved per user later.

use url::Url;

use super::ServerSlug;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceUri {
    slug: ServerSlug,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("resource is not an absolute URI without a fragment")]
    Syntax,
    #[error("resource is not served by this Gatehouse")]
    OtherOrigin,
    #[error("resource is not a Gatehouse MCP endpoint (/mcp/<server>)")]
    NotAServer,
}

impl ResourceUri {
    pub fn for_slug(slug: ServerSlug) -> Self {
        Self { slug }
    }

    /// Parses `raw` as a resource of the gateway at `issuer` (an origin, no trailing slash).
    /// Scheme and host compare case-insensitively (URL normalization); a trailing slash is
    /// tolerated; a query or fragment is not.
    pub fn parse(raw: &str, issuer: &str) -> Result<Self, ResourceError> {
        let url = Url::parse(raw).map_err(|_| ResourceError::Syntax)?;
        if url.fragment().is_some() || url.cannot_be_a_base() {
            return Err(ResourceError::Syntax);
        }
        let ours = Url::parse(issuer).map_err(|_| ResourceError::OtherOrigin)?;
        if url.origin() != ours.origin() || !url.username().is_empty() || url.password().is_some() {
            return Err(ResourceError::OtherOrigin);
        }
        if url.query().is_some() {
            return Err(ResourceError::NotAServer);
        }
        let path = url.path();
        let slug = path
            .strip_prefix("/mcp/")
            .map(|rest| rest.strip_suffix('/').unwrap_or(rest))
            .ok_or(ResourceError::NotAServer)?;
        let slug = ServerSlug::parse(slug).map_err(|_| ResourceError::NotAServer)?;
        Ok(Self { slug })
    }

    pub fn slug(&self) -> &ServerSlug {
        &self.slug
    }

    /// The canonical URL, byte-identical to the protected-resource document's `resource`.
    pub fn url(&self, issuer: &str) -> String {
        format!("{issuer}/mcp/{}", self.slug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://gh.example.com";

    #[test]
    fn parses_our_server_urls() {
        for raw in [
            "https://gh.example.com/mcp/gmail",
            "https://GH.example.com/mcp/gmail/",
            "https://gh.example.com:443/mcp/gmail",
        ] {
            let r = ResourceUri::parse(raw, ISSUER).unwrap();
            assert_eq!(r.slug().as_str(), "gmail", "{raw}");
            assert_eq!(r.url(ISSUER), "https://gh.example.com/mcp/gmail");
        }
    }

    #[test]
    fn refuses_others() {
        let cases = [
            (
                "https://evil.example.com/mcp/gmail",
                ResourceError::OtherOrigin,
            ),
            (
                "http://gh.example.com/mcp/gmail",
                ResourceError::OtherOrigin,
            ),
            (
                "https://gh.example.com:8443/mcp/gmail",
                ResourceError::OtherOrigin,
            ),
            ("https://gh.example.com/mcp", ResourceError::NotAServer),
            ("https://gh.example.com/mcp/", ResourceError::NotAServer),
            (
                "https://gh.example.com/mcp/Gmail",
                ResourceError::NotAServer,
            ),
            (
                "https://gh.example.com/mcp/gmail/x",
                ResourceError::NotAServer,
            ),
            (
                "https://gh.example.com/mcp/gmail?x=1",
                ResourceError::NotAServer,
            ),
            (
                "https://gh.example.com/other/gmail",
                ResourceError::NotAServer,
            ),
            ("https://gh.example.com/mcp/gmail#f", ResourceError::Syntax),
            ("mcp/gmail", ResourceError::Syntax),
        ];
        for (raw, err) in cases {
            assert_eq!(ResourceUri::parse(raw, ISSUER), Err(err), "{raw}");
        }
    }
}
