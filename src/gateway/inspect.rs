//! What the gateway reads from a JSON-RPC request body: the id (for error replies), the method
//! and tool name (for the activity log) and whether the client takes URL-mode elicitations.
//! Never more: payloads are forwarded untouched and never logged.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
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

/// A JSON object's members, each kept raw, borrowed from the body: no tree of the whole
/// message (tool arguments can be documents) is built for every call. Read as JSON parsers
/// read objects (a repeated member: the last one counts, as upstreams see it), and only from
/// an object, never from an array.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Members<'a> {
    fn of(raw: Option<&'a RawValue>) -> Option<Self> {
        raw.and_then(|r| serde_json::from_str(r.get()).ok())
    }

    fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
    }
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut members = Vec::new();
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    members.push((key.0, map.next_value()?));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Object)
    }
}

/// A member name: borrowed unless it has escapes (`"\u006dethod"` is `method`).
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Name;
        impl<'de> Visitor<'de> for Name {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(Name)
    }
}

fn name(raw: Option<&RawValue>) -> Option<String> {
    let text: String = serde_json::from_str(raw?.get()).ok()?;
    Some(
        text.chars()
            .filter(|c| !c.is_control())
            .take(MAX_NAME)
            .collect(),
    )
}

pub fn inspect(body: &[u8]) -> Call {
    let Ok(message) = serde_json::from_slice::<Members>(body) else {
        return Call::default();
    };
    let method = name(message.get("method"));
    let params = Members::of(message.get("params"));
    let tool = match (&method, &params) {
        (Some(m), Some(p)) if m == "tools/call" => name(p.get("name")),
        _ => None,
    };
    let capabilities = params.as_ref().and_then(|p| {
        p.get("capabilities").or_else(|| {
            Members::of(p.get("_meta"))?.get("io.modelcontextprotocol/clientCapabilities")
        })
    });
    let url_elicitation = Members::of(capabilities)
        .and_then(|c| Members::of(c.get("elicitation")))
        .is_some_and(|e| e.get("url").is_some());
    // Only a string or a number is an id to answer to (JSON-RPC 2.0 §4).
    let id = method
        .as_ref()
        .and(message.get("id"))
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
        // A struct could be read from an array by position: not here.
        assert_eq!(inspect(br#"[7, "tools/call", null]"#), Call::default());
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
    fn a_repeated_member_reads_as_its_last_as_upstreams_read_it() {
        let c = inspect(
            br#"{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{"name":"a","name":"delete_all"}}"#,
        );
        assert_eq!(c.method.as_deref(), Some("tools/call"));
        assert_eq!(c.tool.as_deref(), Some("delete_all"));
        assert_eq!(c.id, Some(json!(1)));
        let escaped = inspect(br#"{"id":2,"\u006dethod":"tools/call","params":{"name":"x"}}"#);
        assert_eq!(escaped.method.as_deref(), Some("tools/call"));
        // Nested members are never read from arrays either.
        let c = inspect(br#"{"id":3,"method":"tools/call","params":["send_email",null,null]}"#);
        assert_eq!((c.method.as_deref(), c.tool), (Some("tools/call"), None));
        let c = inspect(
            br#"{"id":4,"method":"initialize","params":{"capabilities":{"elicitation":[0]}}}"#,
        );
        assert!(!c.url_elicitation);
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
