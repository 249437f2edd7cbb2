//! The answer to a call passed through Gatehouse's own session with an upstream
//! (`passthrough`, `Keeps::Session`). The call went under Gatehouse's id
//! (`Running::renumbered`), so the answer's id is put back to the client's, in a JSON body or
//! in the SSE stream. What on that stream is not for the client is left out: requests from
//! the upstream (Gatehouse's client declares no capabilities, so at most a `ping`, which the
//! client could not answer on Gatehouse's session) and event ids (a resumption would name
//! the upstream's stream, which the client cannot reach). A stream that ends without the
//! answer ends with an error answer, so the client does not wait for ever.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;
use sse_stream::SseStream;

use super::passthrough::spliced;
use crate::gateway::errors::{unavailable_message, UPSTREAM_UNAVAILABLE};

/// The largest JSON answer rewritten (tool results can be documents).
const MAX_JSON: usize = 16 * 1024 * 1024;

/// The id a call went upstream under and the client's, both as JSON text.
pub struct Renumbered {
    ours: String,
    theirs: String,
    server: String,
}

/// What becomes of one message of the answer.
#[derive(Debug, PartialEq)]
enum Mapped {
    /// Not the answer (a notification, say): as it came.
    Pass,
    /// A request from the upstream: not for the client.
    Leave,
    /// The answer, under the client's id.
    Answer(Vec<u8>),
}

/// The members that tell a request, a notification and an answer apart.
#[derive(Deserialize)]
struct Shape<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    method: Option<&'a RawValue>,
}

impl Renumbered {
    pub fn new(ours: String, theirs: &str, server: &str) -> Self {
        Self {
            ours,
            theirs: theirs.to_owned(),
            server: server.to_owned(),
        }
    }

    fn map(&self, message: &[u8]) -> Mapped {
        // A message that is not one JSON-RPC object (a batch, repeated members) is not
        // ours to read: it goes as it came, and without an answer the stream's end says so.
        let Ok(shape) = serde_json::from_slice::<Shape>(message) else {
            return Mapped::Pass;
        };
        match (shape.method, shape.id) {
            (Some(_), Some(_)) => Mapped::Leave,
            (None, Some(id)) if id.get() == self.ours => {
                Mapped::Answer(spliced(message, &mut [(id, self.theirs.as_str())]))
            }
            _ => Mapped::Pass,
        }
    }

    /// The client's answer: an error under the client's id, naming the server.
    fn broken(&self, reason: &str) -> Vec<u8> {
        let error = serde_json::json!({
            "code": UPSTREAM_UNAVAILABLE,
            "message": unavailable_message(&self.server, reason),
            "data": { "server": self.server },
        });
        format!(
            r#"{{"jsonrpc":"2.0","id":{},"error":{error}}}"#,
            self.theirs
        )
        .into_bytes()
    }

    /// The upstream's answer (as `forward` passed it on) with the client's id: a JSON body
    /// rewritten whole, an SSE stream event by event; anything else as it came.
    pub async fn answer(self, response: Response) -> Response {
        let (mut parts, body) = response.into_parts();
        let media_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        let body = match media_type.as_deref() {
            Some("application/json") => {
                let json = match axum::body::to_bytes(body, MAX_JSON).await {
                    Ok(json) => match self.map(&json) {
                        Mapped::Answer(answer) => answer.into(),
                        Mapped::Pass | Mapped::Leave => json,
                    },
                    Err(_) => self.broken("its answer broke off or was too large").into(),
                };
                Body::from(json)
            }
            Some("text/event-stream") => Body::from_stream(self.events(body)),
            _ => return Response::from_parts(parts, body),
        };
        parts.headers.remove(header::CONTENT_LENGTH);
        Response::from_parts(parts, body)
    }

    /// The SSE stream with the answer's id mapped, requests and event ids left out, and an
    /// error answer at the end if the answer never came.
    fn events(self, body: Body) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
        let this = Arc::new(self);
        let answered = Arc::new(AtomicBool::new(false));
        let mapped = {
            let (this, answered) = (this.clone(), answered.clone());
            SseStream::new(body)
                .take_while(|event| std::future::ready(event.is_ok()))
                .filter_map(move |event| {
                    // Events without data (the upstream's priming event for resumption) are left out.
                    let event = event
                        .ok()
                        .and_then(|e| Some((e.event, e.data.filter(|d| !d.is_empty())?)));
                    let out = event.and_then(|(kind, data)| match this.map(data.as_bytes()) {
                        Mapped::Pass => Some(encoded(kind.as_deref(), data.as_bytes())),
                        Mapped::Leave => None,
                        Mapped::Answer(answer) => {
                            answered.store(true, Ordering::Relaxed);
                            Some(encoded(kind.as_deref(), &answer))
                        }
                    });
                    std::future::ready(out.map(Ok))
                })
        };
        // Polled only once the upstream's stream has ended.
        let missing = stream::once(async move {
            (!answered.load(Ordering::Relaxed)).then(|| {
                let error = this.broken("its answer ended before the result");
                Ok(encoded(None, &error))
            })
        })
        .filter_map(std::future::ready);
        mapped.chain(missing)
    }
}

/// One SSE event (`data` split into lines as the format requires; no id).
fn encoded(kind: Option<&str>, data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 32);
    if let Some(kind) = kind {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(kind.as_bytes());
        out.push(b'\n');
    }
    for line in data.split(|b| *b == b'\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.push(b'\n');
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use serde_json::{json, Value};

    fn client(id: &str) -> Renumbered {
        Renumbered::new(r#""gatehouse-7""#.into(), id, "notes")
    }

    fn response(content_type: &str, body: impl Into<Body>) -> Response {
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::CONTENT_LENGTH, "999")
            .body(body.into())
            .unwrap()
    }

    async fn text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// The JSON messages of an SSE body, and whether any line names an event id.
    fn messages(sse: &str) -> (Vec<Value>, bool) {
        let data = sse
            .split("\n\n")
            .filter(|e| !e.trim().is_empty())
            .map(|e| {
                let data: Vec<&str> = e.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
                serde_json::from_str(&data.join("\n")).unwrap()
            })
            .collect();
        (data, sse.lines().any(|l| l.starts_with("id:")))
    }

    #[test]
    fn only_the_answer_under_our_id_is_renumbered() {
        let r = client(r#""abc""#);
        let answer =
            br#"{"jsonrpc":"2.0","result":{"content":[{"id":"gatehouse-7"}]},"id":"gatehouse-7"}"#;
        let Mapped::Answer(mapped) = r.map(answer) else {
            panic!()
        };
        let mapped: Value = serde_json::from_slice(&mapped).unwrap();
        assert_eq!(mapped["id"], "abc");
        // The result is not touched, even where it holds the same text.
        assert_eq!(mapped["result"]["content"][0]["id"], "gatehouse-7");
        assert_eq!(
            r.map(br#"{"jsonrpc":"2.0","id":"gatehouse-8","result":{}}"#),
            Mapped::Pass
        );
        assert_eq!(
            r.map(br#"{"jsonrpc":"2.0","id":0,"method":"ping"}"#),
            Mapped::Leave
        );
        assert_eq!(
            r.map(br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#),
            Mapped::Pass
        );
        // Repeated ids are not read (which one would the client take?).
        let repeated = br#"{"jsonrpc":"2.0","id":"gatehouse-7","id":"gatehouse-7","result":{}}"#;
        assert_eq!(r.map(repeated), Mapped::Pass);
    }

    #[tokio::test]
    async fn a_json_answer_gets_the_clients_id_and_its_own_length() {
        let body = r#"{"jsonrpc":"2.0","id":"gatehouse-7","result":{"content":[]}}"#;
        let out = client("42")
            .answer(response("application/json", body))
            .await;
        assert!(out.headers().get(header::CONTENT_LENGTH).is_none());
        let out: Value = serde_json::from_str(&text(out).await).unwrap();
        assert_eq!(
            out,
            json!({"jsonrpc": "2.0", "id": 42, "result": {"content": []}})
        );
    }

    #[tokio::test]
    async fn an_sse_answer_keeps_notifications_and_loses_requests_and_event_ids() {
        let upstream = concat!(
            "id: 0\nretry: 3000\ndata:\n\n",
            "event: message\nid: 1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\n",
            "data: \"params\":{\"progressToken\":\"mine\",\"progress\":1}}\n\n",
            "id: 2\ndata: {\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"ping\"}\n\n",
            ": a comment\n\n",
            "id: 3\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"gatehouse-7\",\"result\":{}}\n\n",
        );
        let out = client(r#""abc""#)
            .answer(response("text/event-stream", upstream))
            .await;
        let (messages, ids) = messages(&text(out).await);
        assert!(!ids, "no event ids");
        assert_eq!(
            messages,
            [
                json!({"jsonrpc": "2.0", "method": "notifications/progress",
                    "params": {"progressToken": "mine", "progress": 1}}),
                json!({"jsonrpc": "2.0", "id": "abc", "result": {}}),
            ]
        );
    }

    #[tokio::test]
    async fn a_stream_that_ends_without_the_answer_ends_with_an_error_answer() {
        let upstream =
            "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{}}\n\n";
        let out = client("5")
            .answer(response("text/event-stream", upstream))
            .await;
        let (messages, _) = messages(&text(out).await);
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[1]["id"], 5);
        assert_eq!(messages[1]["error"]["code"], UPSTREAM_UNAVAILABLE);
        assert_eq!(messages[1]["error"]["data"]["server"], "notes");
        let message = messages[1]["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("'notes'") && message.contains("ended before the result"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn other_answers_pass_as_they_came() {
        let out = client("5")
            .answer(response("text/plain", "Bad Gateway"))
            .await;
        assert_eq!(out.headers()[header::CONTENT_LENGTH], "999");
        assert_eq!(text(out).await, "Bad Gateway");
    }
}
