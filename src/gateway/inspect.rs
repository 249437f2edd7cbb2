//! What the gateway reads from a JSON-RPC request body: the id (for error replies), the method
//! and tool name (for the activity log) and whether the client takes URL-mode elicitations.
//! Never more: payloads are forwarded untouched and never logged.

use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Call {
    /// The request id; `None` for notifications, responses, batches and non-JSON bodies.
    pub id: Option<Value>,
    pub method: Option<String>,
    /// `params.name` of a `tools/call`.
    pub tool: Option<String>,
    /// The client declared URL-mode elicitation (in `initialize`, or per request in `_meta`
    /// as the 2026-07-28 revision does).
    pub url_elicitation: bool,
}

/// Names longer than this are cut (they end up in the log).
const MAX_NAME: usize = 128;

fn name(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(|s| {
        s.chars()
            .filter(|c| !c.is_control())
            .take(MAX_NAME)
            .collect()
    })
}

pub fn inspect(body: &[u8]) -> Call {
    let Ok(Value::Object(message)) = serde_json::from_slice::<Value>(body) else {
        return Call::default();
    };
    let method = name(message.get("method"));
    let params = message.get("params");
    let tool = if method.as_deref() == Some("tools/call") {
        name(params.and_then(|p| p.get("name")))
    } else {
        None
    };
    let capabilities = params.and_then(|p| {
        p.get("capabilities").or_else(|| {
            p.get("_meta")
                .and_then(|m| m.get("io.modelcontextprotocol/clientCapabilities"))
        })
    });
    let url_elicitation = capabilities
        .and_then(|c| c.get("elicitation"))
        .and_then(|e| e.get("url"))
        .is_some();
    Call {
        id: method
            .as_ref()
            .and(message.get("id"))
            .filter(|id| id.is_string() || id.is_number())
            .cloned(),
        method,
        tool,
        url_elicitation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(v: Value) -> Call {
        inspect(v.to_string().as_bytes())
    }

    #[test]
    fn reads_method_tool_and_id() {
        let c = of(
            json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"send_email","arguments":{"to":"x"}}}),
        );
        assert_eq!(c.id, Some(json!(7)));
        assert_eq!(c.method.as_deref(), Some("tools/call"));
        assert_eq!(c.tool.as_deref(), Some("send_email"));
        assert!(!c.url_elicitation);
        let list = of(json!({"jsonrpc":"2.0","id":"a","method":"tools/list"}));
        assert_eq!((list.id, list.tool), (Some(json!("a")), None));
    }

    #[test]
    fn url_elicitation_is_read_from_initialize_and_from_request_meta() {
        let init = of(
            json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{"elicitation":{"url":{}}}}}),
        );
        assert!(init.url_elicitation);
        let form_only = of(
            json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{"elicitation":{"form":{}}}}}),
        );
        assert!(!form_only.url_elicitation);
        let stateless = of(
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"io.modelcontextprotocol/clientCapabilities":{"elicitation":{"url":{}}}}}}),
        );
        assert!(stateless.url_elicitation);
    }

    #[test]
    fn anything_else_reads_as_nothing() {
        for body in [
            &b"not json"[..],
            b"[1,2]",
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}",
            b"",
        ] {
            assert_eq!(inspect(body), Call::default());
        }
        let notification = of(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
        assert_eq!(notification.id, None);
        let long = of(
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x".repeat(1000)}}),
        );
        assert_eq!(long.tool.unwrap().len(), MAX_NAME);
    }
}
