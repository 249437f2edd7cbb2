//! What the gateway reads from a JSON-RPC request body: the id (for error replies), the method
//! and tool name (for the activity log) and whether the client takes URL-mode elicitations.
//! Never more: payloads are forwarded untouched and never logged.

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
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

// The parts read, borrowed from the body: no tree of the whole message (tool arguments can be
// documents) is built for every call. Each level is kept raw and read on its own, so a member
// of an unexpected type loses only itself, not the id or the method.

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    method: Option<&'a RawValue>,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Params<'a> {
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(borrow)]
    capabilities: Option<&'a RawValue>,
    #[serde(borrow, rename = "_meta")]
    meta: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Meta<'a> {
    #[serde(borrow, rename = "io.modelcontextprotocol/clientCapabilities")]
    capabilities: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Capabilities<'a> {
    #[serde(borrow)]
    elicitation: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Elicitation {
    /// Present, whatever its value.
    #[serde(default, deserialize_with = "present")]
    url: bool,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// A raw member read as `T`; `None` when it is of another shape.
fn read<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Option<T> {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
}

fn name(raw: Option<&RawValue>) -> Option<String> {
    read::<String>(raw).map(|s| {
        s.chars()
            .filter(|c| !c.is_control())
            .take(MAX_NAME)
            .collect()
    })
}

pub fn inspect(body: &[u8]) -> Call {
    // Only an object: serde would also read a struct from an array, by position.
    let object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let message = match serde_json::from_slice::<Message>(body) {
        Ok(message) if object => message,
        _ => return Call::default(),
    };
    let method = name(message.method);
    let params = read::<Params>(message.params);
    let tool = match (&method, &params) {
        (Some(m), Some(p)) if m == "tools/call" => name(p.name),
        _ => None,
    };
    let capabilities = params.as_ref().and_then(|p| {
        p.capabilities
            .or_else(|| read::<Meta>(p.meta).and_then(|m| m.capabilities))
    });
    let url_elicitation = read::<Capabilities>(capabilities)
        .and_then(|c| read::<Elicitation>(c.elicitation))
        .is_some_and(|e| e.url);
    // Only a string or a number is an id to answer to (JSON-RPC 2.0 §4).
    let id = method
        .as_ref()
        .and(message.id)
        .filter(|id| {
            id.get()
                .starts_with(|c: char| c == '"' || c == '-' || c.is_ascii_digit())
        })
        .and_then(|id| serde_json::from_str(id.get()).ok());
    Call {
        id,
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
        // A struct can be read from an array by position: not here.
        assert_eq!(inspect(br#"[7, "tools/call"]"#), Call::default());
    }

    #[test]
    fn a_member_of_another_shape_loses_only_itself() {
        let c = of(json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":5}}));
        assert_eq!(
            (c.id, c.method.as_deref(), c.tool),
            (Some(json!(3)), Some("tools/call"), None)
        );
        let c = of(json!({"jsonrpc":"2.0","id":"x","method":"tools/call","params":[1]}));
        assert_eq!(
            (c.id, c.method.as_deref()),
            (Some(json!("x")), Some("tools/call"))
        );
        let c = of(json!({"jsonrpc":"2.0","id":{"a":1},"method":"ping"}));
        assert_eq!((c.id, c.method.as_deref()), (None, Some("ping")));
        let c = of(
            json!({"jsonrpc":"2.0","id":-1.5,"method":"initialize","params":{"capabilities":{"elicitation":{"url":null}}}}),
        );
        assert_eq!(c.id, Some(json!(-1.5)));
        assert!(c.url_elicitation, "present, whatever its value");
    }

    #[test]
    fn escaped_names_are_read_as_their_text() {
        let c = inspect(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"send\u005femail"}}"#,
        );
        assert_eq!(c.method.as_deref(), Some("tools/call"));
        assert_eq!(c.tool.as_deref(), Some("send_email"));
    }
}
