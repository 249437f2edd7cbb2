//! `ScopeSet`: Gatehouse has one scope, `mcp` (use the granted resources). Unknown requested
//! scopes (`claudeai`, `openid`, `offline_access`, …) are dropped, not rejected (DESIGN.md §3).

/// The one scope Gatehouse grants.
pub const MCP_SCOPE: &str = "mcp";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeSet {
    mcp: bool,
}

impl ScopeSet {
    /// The scopes granted for a request's `scope` parameter. No scope, or only unknown ones,
    /// means the default: `mcp` (RFC 6749 §3.3 lets the server apply a default).
    pub fn granted_for(_requested: Option<&str>) -> Self {
        Self { mcp: true }
    }

    /// Parses a stored or presented scope string, keeping only known scopes.
    pub fn parse_known(text: &str) -> Self {
        Self {
            mcp: text.split(' ').any(|s| s == MCP_SCOPE),
        }
    }

    pub fn allows(&self, scope: &str) -> bool {
        scope == MCP_SCOPE && self.mcp
    }

    /// The space-separated form for token responses and storage.
    pub fn to_scope_string(&self) -> String {
        if self.mcp {
            MCP_SCOPE.to_owned()
        } else {
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_scopes_are_dropped_and_mcp_is_granted() {
        for requested in [
            None,
            Some(""),
            Some("mcp"),
            Some("claudeai"),
            Some("openid offline_access mcp"),
            Some("read:everything"),
        ] {
            let s = ScopeSet::granted_for(requested);
            assert_eq!(s.to_scope_string(), "mcp", "{requested:?}");
            assert!(s.allows("mcp"));
            assert!(!s.allows("openid"));
        }
    }

    #[test]
    fn stored_scopes_parse() {
        assert!(ScopeSet::parse_known("mcp").allows("mcp"));
        assert!(!ScopeSet::parse_known("openid").allows("mcp"));
        assert_eq!(ScopeSet::parse_known("x mcp y").to_scope_string(), "mcp");
    }
}
