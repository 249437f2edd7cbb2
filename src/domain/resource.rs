//! `ResourceUri` (RFC 8707): the canonical URL of one gateway resource: `<issuer>/mcp/<slug>`
//! (one of the user's servers, resolved per user later) or `<issuer>/mcp`, the aggregated
//! endpoint presenting all of the servers a grant covers as one MCP server.

use url::Url;

use super::ServerSlug;

/// How the aggregated endpoint is written in stored resource lists, beside server slugs (a
/// slug never contains `*`).
pub const AGGREGATE: &str = "*";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResourceUri {
    Server(ServerSlug),
    /// `/mcp`: every server the grant covers.
    Aggregate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("resource is not an absolute URI without a fragment")]
    Syntax,
    #[error("resource is not served by this Gatehouse")]
    OtherOrigin,
    #[error("resource is not a Gatehouse MCP endpoint (/mcp or /mcp/<server>)")]
    NotAServer,
}

impl ResourceUri {
    pub fn for_slug(slug: ServerSlug) -> Self {
        Self::Server(slug)
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
        if path == "/mcp" || path == "/mcp/" {
            return Ok(Self::Aggregate);
        }
        let slug = path
            .strip_prefix("/mcp/")
            .map(|rest| rest.strip_suffix('/').unwrap_or(rest))
            .ok_or(ResourceError::NotAServer)?;
        let slug = ServerSlug::parse(slug).map_err(|_| ResourceError::NotAServer)?;
        Ok(Self::Server(slug))
    }

    /// The server's slug, or `AGGREGATE`: how the resource is stored in grants and tokens.
    pub fn key(&self) -> &str {
        match self {
            Self::Server(slug) => slug.as_str(),
            Self::Aggregate => AGGREGATE,
        }
    }

    /// The canonical URL, byte-identical to the protected-resource document's `resource`.
    pub fn url(&self, issuer: &str) -> String {
        match self {
            Self::Server(slug) => format!("{issuer}/mcp/{slug}"),
            Self::Aggregate => format!("{issuer}/mcp"),
        }
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
            assert_eq!(r.key(), "gmail", "{raw}");
            assert_eq!(r.url(ISSUER), "https://gh.example.com/mcp/gmail");
        }
    }

    #[test]
    fn parses_the_aggregated_endpoint() {
        for raw in ["https://gh.example.com/mcp", "https://gh.example.com/mcp/"] {
            let r = ResourceUri::parse(raw, ISSUER).unwrap();
            assert_eq!(r, ResourceUri::Aggregate, "{raw}");
            assert_eq!(r.key(), AGGREGATE);
            assert_eq!(r.url(ISSUER), "https://gh.example.com/mcp");
        }
        assert_eq!(
            ResourceUri::parse("https://gh.example.com/mcp?x=1", ISSUER),
            Err(ResourceError::NotAServer)
        );
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
