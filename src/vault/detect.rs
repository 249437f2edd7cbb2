//! Provider detection (DESIGN.md §4): a rule table from an upstream URL's host and path to the
//! provider whose account it needs and the scopes to ask for. First match wins; no match means
//! the upstream does its own OAuth (MCP-native discovery). The user can always override.

use crate::domain::UpstreamUrl;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Google account; the scopes say which APIs.
    Google,
    /// The upstream's own authorization server, found through its 401 (RFC 9728).
    McpNative,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detection {
    pub provider: Provider,
    /// What the user sees, e.g. "Google (Gmail)".
    pub label: &'static str,
    pub scopes: &'static [&'static str],
}

pub const GMAIL_SCOPES: &[&str] = &[
    "openid",
    "email",
    "https://www.googleapis.com/auth/gmail.modify",
];
pub const DRIVE_SCOPES: &[&str] = &["openid", "email", "https://www.googleapis.com/auth/drive"];
pub const WORKSPACE_SCOPES: &[&str] = &[
    "openid",
    "email",
    "https://www.googleapis.com/auth/gmail.modify",
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/calendar",
];

/// The Google scope sets Gatehouse asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoogleSet {
    Gmail,
    Drive,
    Workspace,
}

impl GoogleSet {
    pub fn scopes(self) -> &'static [&'static str] {
        match self {
            GoogleSet::Gmail => GMAIL_SCOPES,
            GoogleSet::Drive => DRIVE_SCOPES,
            GoogleSet::Workspace => WORKSPACE_SCOPES,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            GoogleSet::Gmail => "Google (Gmail)",
            GoogleSet::Drive => "Google (Drive)",
            GoogleSet::Workspace => "Google (Workspace: Gmail, Drive, Calendar)",
        }
    }
}

/// (words that must appear in the host or path, the account needed). Checked in order.
const RULES: &[(&[&str], GoogleSet)] = &[
    (&["workspace"], GoogleSet::Workspace),
    (&["gmail"], GoogleSet::Gmail),
    (&["gdrive"], GoogleSet::Drive),
    (&["google", "drive"], GoogleSet::Drive),
];

const NATIVE: Detection = Detection {
    provider: Provider::McpNative,
    label: "The server's own sign-in (discovered)",
    scopes: &[],
};

/// The detection for an upstream URL. Matching is on whole words of the host and path
/// (split at `.`, `/`, `-`, `_`), so `gmail` matches `gmail-mcp.example.com` but not
/// `notgmail.example.com`. The query (often holding keys) is ignored.
pub fn detect(url: &UpstreamUrl) -> Detection {
    let parsed = url::Url::parse(url.as_str()).ok();
    let text = parsed
        .map(|u| format!("{} {}", u.host_str().unwrap_or_default(), u.path()))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let words: Vec<&str> = text
        .split(['.', '/', '-', '_', ' '])
        .filter(|w| !w.is_empty())
        .collect();
    RULES
        .iter()
        .find(|(needed, _)| needed.iter().all(|n| words.contains(n)))
        .map(|(_, set)| Detection {
            provider: Provider::Google,
            label: set.label(),
            scopes: set.scopes(),
        })
        .unwrap_or(NATIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(url: &str) -> Detection {
        detect(&UpstreamUrl::parse(url).unwrap())
    }

    #[test]
    fn rule_table() {
        let cases: &[(&str, &str)] = &[
            ("https://gmail-mcp.example.com/mcp", "Google (Gmail)"),
            ("https://mcp.example.com/gmail/mcp", "Google (Gmail)"),
            ("https://mcp.example.com/gdrive", "Google (Drive)"),
            ("https://google-drive.example.com/mcp", "Google (Drive)"),
            (
                "https://mcp.example.com/google-workspace/mcp",
                "Google (Workspace: Gmail, Drive, Calendar)",
            ),
            (
                "https://mcp.atlassian.com/v1/sse",
                "The server's own sign-in (discovered)",
            ),
            (
                "https://notgmail.example.com/mcp",
                "The server's own sign-in (discovered)",
            ),
            (
                "https://drive.example.com/mcp",
                "The server's own sign-in (discovered)",
            ),
            (
                "https://mcp.example.com/mcp?tool=gmail",
                "The server's own sign-in (discovered)",
            ),
        ];
        for (url, label) in cases {
            assert_eq!(d(url).label, *label, "{url}");
        }
        assert_eq!(
            d("https://gmail-mcp.example.com/mcp").provider,
            Provider::Google
        );
        assert!(d("https://gmail-mcp.example.com/mcp")
            .scopes
            .contains(&"https://www.googleapis.com/auth/gmail.modify"));
        assert_eq!(
            d("https://mcp.atlassian.com/v1/sse").provider,
            Provider::McpNative
        );
    }
}
