//! Ready-to-paste client configuration for an API key (DESIGN.md §2 journey 5), one per
//! client as each documents it: Claude Desktop through `mcp-remote`, Claude Code, Cursor,
//! VS Code, and a generic client. Plain functions: the page renders them with or without
//! JavaScript, and tests parse every one.

use serde_json::{json, Map, Value};

/// One of the user's servers the key reaches: its slug and Gatehouse URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub slug: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// The client, as its users know it.
    pub client: &'static str,
    /// Where the text goes (a file, or a terminal).
    pub place: &'static str,
    pub text: String,
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn servers_object(endpoints: &[Endpoint], entry: impl Fn(&Endpoint) -> Value) -> Value {
    let mut servers = Map::new();
    for e in endpoints {
        servers.insert(format!("gatehouse-{}", e.slug), entry(e));
    }
    Value::Object(servers)
}

/// Claude Desktop runs stdio servers: `mcp-remote` bridges to the URL. As mcp-remote
/// documents it, the header is `Authorization:${AUTH_HEADER}` without a space (Claude
/// Desktop on Windows splits arguments at spaces) and the value comes from `env`.
pub fn claude_desktop(key: &str, endpoints: &[Endpoint]) -> String {
    let servers = servers_object(endpoints, |e| {
        json!({
            "command": "npx",
            "args": ["mcp-remote", e.url, "--header", "Authorization:${AUTH_HEADER}"],
            "env": { "AUTH_HEADER": format!("Bearer {key}") }
        })
    });
    pretty(&json!({ "mcpServers": servers }))
}

/// Claude Code: one `claude mcp add` per server.
pub fn claude_code(key: &str, endpoints: &[Endpoint]) -> String {
    endpoints
        .iter()
        .map(|e| {
            format!(
                "claude mcp add --transport http gatehouse-{} {} --header \"Authorization: Bearer {key}\"",
                e.slug, e.url
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Cursor's `.cursor/mcp.json`: a URL and headers per server.
pub fn cursor(key: &str, endpoints: &[Endpoint]) -> String {
    let servers = servers_object(
        endpoints,
        |e| json!({ "url": e.url, "headers": { "Authorization": format!("Bearer {key}") } }),
    );
    pretty(&json!({ "mcpServers": servers }))
}

/// VS Code's `.vscode/mcp.json`: the key is asked for once and kept by VS Code (an input),
/// so the file can be shared without it.
pub fn vscode(endpoints: &[Endpoint]) -> String {
    let servers = servers_object(endpoints, |e| {
        json!({
            "type": "http",
            "url": e.url,
            "headers": { "Authorization": "Bearer ${input:gatehouse-key}" }
        })
    });
    pretty(&json!({
        "inputs": [{
            "type": "promptString",
            "id": "gatehouse-key",
            "description": "Gatehouse API key",
            "password": true
        }],
        "servers": servers
    }))
}

/// Any client that speaks Streamable HTTP: the URL and the header.
pub fn generic(key: &str, endpoints: &[Endpoint]) -> String {
    let mut lines: Vec<String> = endpoints
        .iter()
        .map(|e| format!("URL: {}", e.url))
        .collect();
    lines.push(format!("Header: Authorization: Bearer {key}"));
    lines.join("\n")
}

/// Every snippet for `key` reaching `endpoints`.
pub fn all(key: &str, endpoints: &[Endpoint]) -> Vec<Snippet> {
    vec![
        Snippet {
            client: "Claude Desktop",
            place: "claude_desktop_config.json",
            text: claude_desktop(key, endpoints),
        },
        Snippet {
            client: "Claude Code",
            place: "a terminal",
            text: claude_code(key, endpoints),
        },
        Snippet {
            client: "Cursor",
            place: ".cursor/mcp.json",
            text: cursor(key, endpoints),
        },
        Snippet {
            client: "VS Code",
            place: ".vscode/mcp.json (VS Code asks for the key once)",
            text: vscode(endpoints),
        },
        Snippet {
            client: "Another client",
            place: "its server settings",
            text: generic(key, endpoints),
        },
    ]
}

/// Where each OAuth-capable client takes a connector URL (the Servers page).
pub const CONNECTOR_STEPS: &[(&str, &str)] = &[
    (
        "ChatGPT",
        "Settings → Connectors (developer mode) → Create: paste the URL, choose OAuth",
    ),
    (
        "claude.ai",
        "Settings → Connectors → Add custom connector: paste the URL",
    ),
    (
        "Claude Desktop",
        "Settings → Connectors → Add custom connector: paste the URL",
    ),
    (
        "VS Code",
        "Command palette → MCP: Add Server → HTTP: paste the URL",
    ),
    (
        "Cursor",
        "Settings → MCP → Add new MCP server: type http, paste the URL",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints() -> Vec<Endpoint> {
        vec![
            Endpoint {
                slug: "gmail".into(),
                url: "https://gh.example.com/mcp/gmail".into(),
            },
            Endpoint {
                slug: "notes".into(),
                url: "https://gh.example.com/mcp/notes".into(),
            },
        ]
    }

    const KEY: &str = "gh_sk_example";

    #[test]
    fn json_snippets_parse_and_carry_the_url_and_header() {
        let desktop: Value = serde_json::from_str(&claude_desktop(KEY, &endpoints())).unwrap();
        let gmail = &desktop["mcpServers"]["gatehouse-gmail"];
        assert_eq!(gmail["args"][1], "https://gh.example.com/mcp/gmail");
        assert_eq!(gmail["args"][3], "Authorization:${AUTH_HEADER}");
        assert_eq!(gmail["env"]["AUTH_HEADER"], "Bearer gh_sk_example");
        let cursor: Value = serde_json::from_str(&cursor(KEY, &endpoints())).unwrap();
        assert_eq!(
            cursor["mcpServers"]["gatehouse-notes"]["headers"]["Authorization"],
            "Bearer gh_sk_example"
        );
        let vscode: Value = serde_json::from_str(&vscode(&endpoints())).unwrap();
        assert_eq!(vscode["servers"]["gatehouse-gmail"]["type"], "http");
        assert!(
            !vscode.to_string().contains(KEY),
            "the key is asked for, not written"
        );
    }

    #[test]
    fn claude_code_adds_each_server() {
        let text = claude_code(KEY, &endpoints());
        assert_eq!(text.lines().count(), 2);
        assert!(text.starts_with(
            "claude mcp add --transport http gatehouse-gmail https://gh.example.com/mcp/gmail --header \"Authorization: Bearer gh_sk_example\""
        ));
    }
}
