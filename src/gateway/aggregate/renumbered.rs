//! The answer to a call passed through Gatehouse's own session with an upstream
//! (`passthrough`, `Keeps::Session`). The call went under Gatehouse's id
//! (`Running::renumbered`), so the answer's id is put back to the client's, in a JSON body or
//! in the SSE stream. What on that stream is not for the client is left out: requests from
//! the upstream (Gatehouse's client declares no capabilities, so at most a `ping`, which the
//! client could not answer on Gatehouse's session), answers to anything else, and event ids
//! (the client cannot resume the upstream's stream; Gatehouse does, below).
//!
//! A stream that ends without the answer after an event with an id (which a server of
//! 2025-11-25 may do, SEP-1699) is resumed here with `Last-Event-ID`; one that cannot be,
//! or cannot be read, ends with an error answer, so the client does not wait for ever. The
//! stream ends once the answer is sent, and an idle one gets keep-alive comments, as
//! rmcp's own server sends them.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use futures_util::future::BoxFuture;
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;
use sse_stream::{Sse, SseStream};

use super::passthrough::spliced;
use super::MAX_MESSAGE;
use crate::gateway::errors::{unavailable_message, UPSTREAM_UNAVAILABLE};
use crate::gateway::headers::media_type;

/// How long a stream may be silent before the client is sent a comment (proxies end idle
/// connections; rmcp's server sends one every 15 s too).
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How many resumptions in a row may bring nothing new (a server that polls, SEP-1699, gives
/// a new event id each time), and the bounds of the wait the server asks before each.
const RESUMES: u8 = 3;
const SHORTEST_RETRY: Duration = Duration::from_millis(100);
const LONGEST_RETRY: Duration = Duration::from_secs(30);

/// Asks the upstream again for the call's stream after this event id (a GET on Gatehouse's
/// session); `None`: it would not.
pub type Resume = Box<dyn Fn(String) -> BoxFuture<'static, Option<Response>> + Send + Sync>;

/// The id a call went upstream under and the client's, both as JSON text, and the server.
pub struct Renumbered {
    ours: String,
    theirs: String,
    server: String,
    resume: Option<Resume>,
    keep_alive: Duration,
}

/// What becomes of one message of the answer.
#[derive(Debug, PartialEq)]
enum Mapped {
    /// A notification (progress, say): as it came.
    Pass,
    /// Not for the client: a request from the upstream, an answer to something else.
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

type Events = Pin<Box<dyn Stream<Item = Result<Sse, sse_stream::Error>> + Send>>;

impl Renumbered {
    pub fn new(ours: String, theirs: &str, server: &str) -> Self {
        Self {
            ours,
            theirs: theirs.to_owned(),
            server: server.to_owned(),
            resume: None,
            keep_alive: KEEP_ALIVE,
        }
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    /// A stream that ends early is asked for again with `resume`.
    pub fn resumable(mut self, resume: Resume) -> Self {
        self.resume = Some(resume);
        self
    }

    fn map(&self, message: &[u8]) -> Mapped {
        // A message that is not one JSON-RPC object (a batch, repeated members) is not
        // ours to read: it goes as it came, and without an answer the stream's end says so.
        let Ok(shape) = serde_json::from_slice::<Shape>(message) else {
            return Mapped::Pass;
        };
        match (shape.method, shape.id) {
            (None, Some(id)) if id.get() == self.ours => {
                Mapped::Answer(spliced(message, &mut [(id, self.theirs.as_str())]))
            }
            (Some(_), None) => Mapped::Pass,
            (_, Some(_)) => Mapped::Leave,
            (None, None) => Mapped::Pass,
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
        let body = match media_type(&parts.headers).as_deref() {
            Some("application/json") => {
                let json = match super::read_whole(body).await {
                    Some(json) => match self.map(&json) {
                        Mapped::Answer(answer) => answer.into(),
                        // An error status the client reads as one; a success must answer.
                        _ if !parts.status.is_success() => json,
                        _ => self.broken("it answered something else").into(),
                    },
                    None => self.broken("its answer broke off or was too large").into(),
                };
                Body::from(json)
            }
            Some("text/event-stream") => Body::from_stream(self.events(body)),
            _ => return Response::from_parts(parts, body),
        };
        parts.headers.remove(header::CONTENT_LENGTH);
        Response::from_parts(parts, body)
    }

    /// The SSE stream, mapped (see the module's doc).
    fn events(self, body: Body) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
        let idle = Box::pin(tokio::time::sleep(self.keep_alive));
        let state = Reading {
            this: self,
            source: Source::Reading(bounded(body)),
            last_id: None,
            retry: Duration::ZERO,
            fruitless: 0,
            idle,
        };
        stream::unfold(state, |mut state| async move {
            let out = state.next().await?;
            Some((Ok(out), state))
        })
    }

    /// Whether a JSON body is the answer to the call (a `400` may be one, or the server's
    /// refusal of an ended session).
    pub fn is_answer(&self, body: &[u8]) -> bool {
        matches!(self.map(body), Mapped::Answer(_))
    }
}

/// Where the answer's events come from.
enum Source {
    Reading(Events),
    /// Asking again after the last event id (waiting the server's `retry` first).
    Resuming(BoxFuture<'static, Option<Events>>),
    /// The answer, or an error in its place, was sent.
    Done,
}

/// What happened next, while the client waits.
enum Step {
    Idle,
    Event(Option<Result<Sse, sse_stream::Error>>),
    Resumed(Option<Events>),
}

/// An SSE answer being read for the client.
struct Reading {
    this: Renumbered,
    source: Source,
    /// The last event id the server gave (an empty `id:` clears it, as SSE says).
    last_id: Option<String>,
    retry: Duration,
    /// Resumptions in a row that brought no new event id.
    fruitless: u8,
    /// Fires when the client has been sent nothing for `keep_alive`.
    idle: Pin<Box<tokio::time::Sleep>>,
}

impl Reading {
    /// The next bytes for the client; `None` once the answer (or an error in its place)
    /// was sent.
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            let step = match &mut self.source {
                Source::Done => return None,
                Source::Reading(events) => tokio::select! {
                    () = &mut self.idle => Step::Idle,
                    event = events.next() => Step::Event(event),
                },
                Source::Resuming(resuming) => tokio::select! {
                    () = &mut self.idle => Step::Idle,
                    resumed = resuming => Step::Resumed(resumed),
                },
            };
            match step {
                Step::Idle => return Some(self.sent(Bytes::from_static(b": keep-alive\n\n"))),
                Step::Event(Some(Ok(event))) => {
                    if let Some(id) = event.id {
                        if !id.is_empty() && self.last_id.as_deref() != Some(id.as_str()) {
                            self.fruitless = 0;
                        }
                        self.last_id = Some(id).filter(|id| !id.is_empty());
                    }
                    if let Some(retry) = event.retry {
                        self.retry = Duration::from_millis(retry);
                    }
                    // Events without data (the priming event for resumption) are left out.
                    let Some(data) = event.data.filter(|d| !d.is_empty()) else {
                        continue;
                    };
                    match self.this.map(data.as_bytes()) {
                        Mapped::Pass => {
                            let out = encoded(event.event.as_deref(), data.as_bytes());
                            return Some(self.sent(out));
                        }
                        Mapped::Leave => continue,
                        Mapped::Answer(answer) => {
                            self.source = Source::Done;
                            return Some(encoded(event.event.as_deref(), &answer));
                        }
                    }
                }
                Step::Event(Some(Err(err))) => {
                    tracing::warn!(server = %self.this.server, %err, "an upstream's answer broke off");
                    if !self.resume() {
                        return Some(self.end("its answer broke off or could not be read"));
                    }
                }
                Step::Event(None) => {
                    if !self.resume() {
                        return Some(self.end("its answer ended before the result"));
                    }
                }
                Step::Resumed(Some(events)) => self.source = Source::Reading(events),
                Step::Resumed(None) => {
                    return Some(self.end("it refused to resume its answer"));
                }
            }
        }
    }

    /// `bytes` go to the client: the silence it is owed a keep-alive after starts again.
    fn sent(&mut self, bytes: Bytes) -> Bytes {
        let next = tokio::time::Instant::now() + self.this.keep_alive;
        self.idle.as_mut().reset(next);
        bytes
    }

    /// The error answer in place of the answer; the stream ends after it.
    fn end(&mut self, reason: &str) -> Bytes {
        self.source = Source::Done;
        encoded(None, &self.this.broken(reason))
    }

    /// Asks for the stream again after the last event id, if there is one and the last
    /// `RESUMES` attempts brought something new; whether it does.
    fn resume(&mut self) -> bool {
        let (Some(resume), Some(last_id)) = (&self.this.resume, &self.last_id) else {
            return false;
        };
        if self.fruitless >= RESUMES {
            return false;
        }
        self.fruitless += 1;
        // The ended stream (its connection, its stream slot) is let go before waiting.
        let asked = resume(last_id.clone());
        let wait = self.retry.clamp(SHORTEST_RETRY, LONGEST_RETRY);
        self.source = Source::Resuming(Box::pin(async move {
            tokio::time::sleep(wait).await;
            let response = asked.await?;
            let sse = media_type(response.headers()).as_deref() == Some("text/event-stream");
            sse.then(|| bounded(response.into_body()))
        }));
        true
    }
}

/// The events of an SSE body, failing once `MAX_MESSAGE` bytes arrive without one.
fn bounded(body: Body) -> Events {
    let since_event = Arc::new(AtomicUsize::new(0));
    let counted = {
        let since_event = since_event.clone();
        body.into_data_stream().map(move |chunk| {
            let chunk = chunk.map_err(std::io::Error::other)?;
            if since_event.fetch_add(chunk.len(), Ordering::Relaxed) + chunk.len() > MAX_MESSAGE {
                return Err(std::io::Error::other("an event larger than the limit"));
            }
            Ok(chunk)
        })
    };
    Box::pin(SseStream::from_bytes_stream(counted).inspect(move |_| {
        since_event.store(0, Ordering::Relaxed);
    }))
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
            Mapped::Leave
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
    async fn a_json_success_that_is_not_the_answer_becomes_an_error_answer() {
        let body = r#"{"jsonrpc":"2.0","id":"gatehouse-8","result":{}}"#;
        let out: Value = serde_json::from_str(
            &text(client("5").answer(response("application/json", body)).await).await,
        )
        .unwrap();
        assert_eq!(out["id"], 5);
        assert_eq!(out["error"]["code"], UPSTREAM_UNAVAILABLE);
        // An error status is the client's to read as one.
        let refused = Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"error":"down"}"#))
            .unwrap();
        assert_eq!(
            text(client("5").answer(refused).await).await,
            r#"{"error":"down"}"#
        );
    }

    /// A body that sends these chunks and then nothing, for ever.
    fn then_silent(chunks: Vec<&'static str>) -> Body {
        let chunks = stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, Infallible>(Bytes::from(c))),
        );
        Body::from_stream(chunks.chain(stream::pending()))
    }

    #[tokio::test]
    async fn the_stream_ends_once_the_answer_is_sent() {
        let upstream = then_silent(vec![
            "data: {\"jsonrpc\":\"2.0\",\"id\":\"gatehouse-7\",\"result\":{}}\n\n",
        ]);
        let out = client("5")
            .answer(response("text/event-stream", upstream))
            .await;
        let read = tokio::time::timeout(Duration::from_secs(10), text(out)).await;
        let (messages, _) = messages(&read.expect("the stream ended after the answer"));
        assert_eq!(messages, [json!({"jsonrpc": "2.0", "id": 5, "result": {}})]);
    }

    /// The first bytes the client gets of `upstream`, with keep-alives due after `after`.
    async fn first_bytes(upstream: Body, after: Duration) -> Bytes {
        let mut quick = client("5");
        quick.keep_alive = after;
        let out = quick.answer(response("text/event-stream", upstream)).await;
        let mut body = out.into_body().into_data_stream();
        let first = tokio::time::timeout(Duration::from_secs(10), body.next()).await;
        first.expect("something within 10 s").unwrap().unwrap()
    }

    #[tokio::test]
    async fn a_silent_stream_gets_keep_alives() {
        let first = first_bytes(then_silent(vec![]), Duration::from_millis(50)).await;
        assert_eq!(&first[..], b": keep-alive\n\n");
    }

    #[tokio::test]
    async fn a_stream_ended_after_an_event_id_is_resumed_after_it() {
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let resume: Resume = {
            let asked = asked.clone();
            Box::new(move |last: String| {
                asked.lock().unwrap().push(last);
                let body = "id: e2\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"gatehouse-7\",\"result\":{\"ok\":1}}\n\n";
                Box::pin(std::future::ready(Some(response(
                    "text/event-stream",
                    body,
                ))))
            })
        };
        let upstream = "id: e1\nretry: 1\ndata:\n\n";
        let out = client("5")
            .resumable(resume)
            .answer(response("text/event-stream", upstream))
            .await;
        let (messages, ids) = messages(&text(out).await);
        assert_eq!(
            messages,
            [json!({"jsonrpc": "2.0", "id": 5, "result": {"ok": 1}})]
        );
        assert!(!ids);
        assert_eq!(*asked.lock().unwrap(), ["e1"]);
    }

    /// A resume that answers this SSE body, counting the times it is asked.
    fn resuming(
        body: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> (Resume, Arc<AtomicUsize>) {
        let asked = Arc::new(AtomicUsize::new(0));
        let counted = asked.clone();
        let resume: Resume = Box::new(move |last: String| {
            counted.fetch_add(1, Ordering::SeqCst);
            let sse = response("text/event-stream", body(&last));
            Box::pin(std::future::ready(Some(sse)))
        });
        (resume, asked)
    }

    async fn within_10s(out: Response) -> Vec<Value> {
        let read = tokio::time::timeout(Duration::from_secs(10), text(out)).await;
        messages(&read.expect("the answer ended in time")).0
    }

    const ANSWER: &str = "data: {\"jsonrpc\":\"2.0\",\"id\":\"gatehouse-7\",\"result\":{}}\n\n";

    #[tokio::test]
    async fn resumptions_that_bring_nothing_new_end_with_an_error_answer() {
        // The same id again each time: no progress.
        let (resume, asked) = resuming(|last| format!("id: {last}\ndata:\n\n"));
        let upstream = response("text/event-stream", "id: e1\ndata:\n\n");
        let out = client("5").resumable(resume).answer(upstream).await;
        let messages = within_10s(out).await;
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["error"]["code"], UPSTREAM_UNAVAILABLE);
        assert_eq!(asked.load(Ordering::SeqCst), usize::from(RESUMES));
    }

    #[tokio::test]
    async fn a_server_that_polls_is_resumed_while_it_brings_new_ids() {
        // Each resumption gives a new id and no answer, RESUMES + 2 times; then the answer.
        let (resume, asked) = resuming(|last| {
            let n: u8 = last.trim_start_matches('e').parse().unwrap();
            if n < RESUMES + 2 {
                format!("id: e{}\nretry: 0\ndata:\n\n", n + 1)
            } else {
                ANSWER.into()
            }
        });
        let upstream = response("text/event-stream", "id: e1\ndata:\n\n");
        let out = client("5").resumable(resume).answer(upstream).await;
        let messages = within_10s(out).await;
        assert_eq!(messages, [json!({"jsonrpc": "2.0", "id": 5, "result": {}})]);
        assert_eq!(asked.load(Ordering::SeqCst), usize::from(RESUMES) + 2);
    }

    #[tokio::test]
    async fn a_stream_without_an_event_id_is_not_resumed() {
        let (resume, asked) = resuming(|_| ANSWER.into());
        let resume = Arc::new(resume);
        // No id at all; an id, then an empty `id:`, which clears it (SSE).
        for upstream in ["data: {}\n\n", "id: e1\ndata:\n\nid:\ndata:\n\n"] {
            let resume = resume.clone();
            let out = client("5")
                .resumable(Box::new(move |last| resume(last)))
                .answer(response("text/event-stream", upstream))
                .await;
            let messages = within_10s(out).await;
            let last = messages.last().unwrap();
            assert_eq!(last["error"]["code"], UPSTREAM_UNAVAILABLE, "{messages:?}");
        }
        assert_eq!(asked.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn keep_alives_go_out_while_the_server_sends_only_what_the_client_does_not_get() {
        // A ping every 20 ms (left out): the client still hears something every 100 ms.
        let pings = stream::unfold(0u64, |n| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let ping = format!("data: {{\"jsonrpc\":\"2.0\",\"id\":{n},\"method\":\"ping\"}}\n\n");
            Some((Ok::<_, Infallible>(Bytes::from(ping)), n + 1))
        });
        let first = first_bytes(Body::from_stream(pings), Duration::from_millis(100)).await;
        assert_eq!(&first[..], b": keep-alive\n\n");
    }

    #[tokio::test]
    async fn an_endless_event_ends_the_stream_with_an_error_answer() {
        let line = Bytes::from(vec![b'a'; 1024 * 1024]);
        let chunks = stream::iter(std::iter::once(Ok::<_, Infallible>(Bytes::from_static(
            b"data: ",
        ))))
        .chain(stream::repeat(line).map(Ok))
        .take(MAX_MESSAGE / (1024 * 1024) + 2);
        let upstream = Body::from_stream(chunks.chain(stream::pending()));
        let out = client("5")
            .answer(response("text/event-stream", upstream))
            .await;
        let read = tokio::time::timeout(Duration::from_secs(20), text(out)).await;
        let (messages, _) = messages(&read.expect("the stream ended at the limit"));
        assert_eq!(messages.len(), 1);
        let message = messages[0]["error"]["message"].as_str().unwrap();
        assert!(message.contains("could not be read"), "{message}");
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
