//! A `tools/call` at `/mcp` that needs nothing of rmcp's: the message is the same on both
//! sides but for the tool's name (and, on Gatehouse's session, the id). It goes through
//! `/mcp/{slug}`'s forwarder (credential, refresh on a 401, streaming, activity, metrics)
//! with `params.name` and `Mcp-Name` renamed, so routing through the one connector costs
//! about what the server's own endpoint costs (issue 16's benchmark: rmcp's server and
//! client in between took 0.2 ms per call). Three cases:
//! - a stateless (2026-07-28) call to a server that speaks that revision (`plan`);
//! - a call in a client session of the `initialize` era to a server that keeps no session,
//!   sent as it came (`InSession`, `Keeps::Nothing`);
//! - the same to a server that keeps one: sent on Gatehouse's session with it under an id of
//!   Gatehouse's, the answer mapped back (`InSession`, `Keeps::Session`, `renumbered`).
//!
//! Everything else — lists, other methods, names needing Base64 headers, a server whose
//! session is not known yet — goes through the `Aggregator`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use rmcp::model::{CancelledNotificationParam, ProtocolVersion, RequestId};
use rmcp::service::{ClientInitializeError, ClientLifecycleMode, ClientServiceExt, Peer};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::RoleClient;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use super::names;
use super::upstream::UpstreamHttp;
use crate::domain::{ServerSlug, UserId};
use crate::gateway::Gateway;

/// What the front door reads of a request body, once: the method, the called name (where it
/// is in the body) and the protocol revision the request names.
#[derive(Deserialize)]
pub struct Envelope<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(borrow)]
    params: Option<Params<'a>>,
    /// The called name, decoded once (the front door's step-up, the plan and the rename
    /// all ask for it).
    #[serde(skip)]
    name: std::sync::OnceLock<Option<String>>,
}

#[derive(Deserialize)]
struct Params<'a> {
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(rename = "_meta", borrow)]
    meta: Option<Meta<'a>>,
    /// What a `notifications/cancelled` cancels.
    #[serde(rename = "requestId", borrow)]
    request_id: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Meta<'a> {
    #[serde(rename = "io.modelcontextprotocol/protocolVersion", borrow)]
    protocol_version: Option<Cow<'a, str>>,
}

impl<'a> Envelope<'a> {
    /// A single JSON-RPC request (not a batch, no duplicate keys among these fields).
    pub fn parse(body: &'a [u8]) -> Option<Self> {
        serde_json::from_slice(body).ok()
    }

    /// The name a `tools/call` or `prompts/get` asks for.
    pub fn called(&self) -> Option<(&str, &str)> {
        let method = self.method.as_ref();
        if method != "tools/call" && method != "prompts/get" {
            return None;
        }
        let name = self.name.get_or_init(|| {
            let raw = self.params.as_ref()?.name?;
            serde_json::from_str(raw.get()).ok()
        });
        Some((method, name.as_deref()?))
    }

    /// The request's id, as JSON text.
    pub fn id(&self) -> Option<&str> {
        self.id.map(RawValue::get)
    }

    /// The id a `notifications/cancelled` names, as JSON text.
    pub fn cancelled(&self) -> Option<&str> {
        if self.method != "notifications/cancelled" {
            return None;
        }
        self.params.as_ref()?.request_id.map(RawValue::get)
    }

    fn protocol_version(&self) -> Option<&str> {
        self.params
            .as_ref()?
            .meta
            .as_ref()?
            .protocol_version
            .as_deref()
    }
}

/// A call to send through the forwarder instead.
pub struct Direct {
    pub slug: ServerSlug,
    pub body: Bytes,
    pub headers: HeaderMap,
}

/// Whether this request can pass through to one server, and how it is rewritten: a
/// stateless-era `tools/call` (its `_meta` names a revision without `initialize`, the
/// `MCP-Protocol-Version` header, if any, agrees) of a prefixed name whose tool part keeps
/// to the spec's characters (so `Mcp-Name` stays plain text).
/// Also the revision, which the server must speak.
pub fn plan<'e>(
    envelope: &'e Envelope,
    body: &Bytes,
    headers: &HeaderMap,
) -> Option<(Direct, &'e str)> {
    let version = envelope.protocol_version()?;
    if version < ProtocolVersion::NO_INITIALIZE.as_str() {
        return None;
    }
    let header = headers.get_all("mcp-protocol-version");
    if header.iter().any(|v| v.as_bytes() != version.as_bytes()) {
        return None;
    }
    let (slug, tool, body) = renamed(envelope, body, None)?;
    let mut headers = headers.clone();
    if headers.contains_key("mcp-name") {
        headers.insert("mcp-name", HeaderValue::from_str(&tool).ok()?);
    }
    Some((
        Direct {
            slug,
            body,
            headers,
        },
        version,
    ))
}

/// A `tools/call` in a session of the `initialize` era that may pass through: the request
/// names a revision of that era in its header and none in its `_meta`, and a prefixed tool.
pub struct InSession<'e, 'b> {
    envelope: &'e Envelope<'b>,
    pub slug: ServerSlug,
}

impl<'e, 'b> InSession<'e, 'b> {
    pub fn of(envelope: &'e Envelope<'b>, headers: &HeaderMap) -> Option<Self> {
        let version = headers.get("mcp-protocol-version")?.to_str().ok()?;
        if version >= ProtocolVersion::NO_INITIALIZE.as_str()
            || envelope.protocol_version().is_some()
        {
            return None;
        }
        let (slug, _) = names::split(envelope.called()?.1)?;
        Some(Self { envelope, slug })
    }

    /// The call as it is sent: on its own to an upstream that keeps no session, or on
    /// Gatehouse's session with one that does, under the id `renumbered` (JSON text). The
    /// client's session id stays here; `sent_as` then names the revision Gatehouse's
    /// session with that upstream negotiated.
    pub fn plan(
        &self,
        body: &Bytes,
        headers: &HeaderMap,
        renumbered: Option<&str>,
    ) -> Option<Direct> {
        let id = match renumbered {
            Some(ours) => Some((self.envelope.id?, ours)),
            None => None,
        };
        let (slug, _, body) = renamed(self.envelope, body, id)?;
        let mut headers = headers.clone();
        headers.remove(crate::gateway::headers::SESSION_ID);
        // A resumption would name the client's stream, not the upstream's.
        headers.remove("last-event-id");
        Some(Direct {
            slug,
            body,
            headers,
        })
    }
}

impl Direct {
    /// Sent under this revision (`MCP-Protocol-Version`).
    pub fn sent_as(mut self, version: &str) -> Option<Self> {
        let value = HeaderValue::from_str(version).ok()?;
        self.headers.insert("mcp-protocol-version", value);
        Some(self)
    }

    /// Sent on the upstream session `id` (Gatehouse's own, `Keeps::Session`).
    pub fn on_session(mut self, id: &str) -> Option<Self> {
        let value = HeaderValue::from_str(id).ok()?;
        self.headers
            .insert(crate::gateway::headers::SESSION_ID, value);
        Some(self)
    }
}

/// A `tools/call` of a prefixed name whose tool part keeps to the spec's characters: its
/// server, the tool, and the body calling the tool by its own name (and, given
/// `(id, replacement)`, under another id).
fn renamed(
    envelope: &Envelope,
    body: &Bytes,
    id: Option<(&RawValue, &str)>,
) -> Option<(ServerSlug, String, Bytes)> {
    if envelope.method != "tools/call" {
        return None;
    }
    let raw = envelope.params.as_ref()?.name?;
    let (slug, tool) = names::split(envelope.called()?.1)?;
    let plain = tool.len() <= 128
        && tool
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !plain {
        return None;
    }
    // The name's JSON string (and the id) replaced in place: the rest (arguments can be
    // documents) is not parsed again nor re-encoded.
    let quoted = format!("\"{tool}\"");
    let mut edits = vec![(raw, quoted.as_str())];
    edits.extend(id);
    Some((
        slug,
        tool.to_owned(),
        Bytes::from(spliced(body, &mut edits)),
    ))
}

/// `text` with each of the raw values (borrowed from it, so their offsets are exact)
/// replaced.
pub(super) fn spliced(text: &[u8], edits: &mut [(&RawValue, &str)]) -> Vec<u8> {
    let at = |raw: &RawValue| raw.get().as_ptr() as usize - text.as_ptr() as usize;
    edits.sort_by_key(|(raw, _)| at(raw));
    let mut out = Vec::with_capacity(text.len() + 32);
    let mut from = 0;
    for (raw, with) in edits.iter() {
        let start = at(raw);
        out.extend_from_slice(&text[from..start]);
        out.extend_from_slice(with.as_bytes());
        from = start + raw.get().len();
    }
    out.extend_from_slice(&text[from..]);
    out
}

/// A JSON answer read whole (it is one message, which the client needs all of), so a
/// cancellation cannot cut it and it keeps a length; other answers as they come. `None`:
/// the JSON broke off or was larger than `MAX_MESSAGE`.
pub async fn whole_if_json(response: Response) -> Option<Response> {
    if crate::gateway::headers::media_type(response.headers()).as_deref()
        != Some("application/json")
    {
        return Some(response);
    }
    let (parts, body) = response.into_parts();
    let whole = super::read_whole(body).await?;
    Some(Response::from_parts(parts, Body::from(whole)))
}

/// Calls passed through from sessions of the `initialize` era, by (session, request id as
/// JSON text): the client cancels one with `notifications/cancelled` on its session, which
/// ends the answer here and cancels the upstream request: a server without sessions takes
/// the closed request as cancelled; one with a session is sent `notifications/cancelled`
/// for the call's id on Gatehouse's session (`Running::renumbered`).
#[derive(Default)]
pub struct InFlight {
    calls: Mutex<HashMap<(String, String), Entry>>,
    started: std::sync::atomic::AtomicU64,
}

struct Entry {
    serial: u64,
    cancelled: CancellationToken,
    /// Gatehouse's session the call went on, if the upstream keeps one.
    on: Option<Peer<RoleClient>>,
}

/// A call's place in `InFlight`, given up when its answer ends.
pub struct Running {
    registry: Arc<InFlight>,
    key: (String, String),
    serial: u64,
    pub cancelled: CancellationToken,
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut calls = self
            .registry
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Not a later call that reused the id.
        if calls
            .get(&self.key)
            .is_some_and(|e| e.serial == self.serial)
        {
            calls.remove(&self.key);
        }
    }
}

/// The id a call passed through Gatehouse's session with an upstream is sent under: a
/// string, which rmcp's client (counting in numbers) never gives its own requests on that
/// session, and unique among the calls of this process.
fn gatehouse_id(serial: u64) -> String {
    format!("gatehouse-{serial}")
}

impl Running {
    /// The id the call is sent upstream under on Gatehouse's session, as JSON text.
    pub fn renumbered(&self) -> String {
        format!("\"{}\"", gatehouse_id(self.serial))
    }
}

impl InFlight {
    /// `on`: the upstream session the call goes on (the peer to tell of a cancellation).
    pub fn start(
        self: &Arc<Self>,
        session: &str,
        id: &str,
        on: Option<Peer<RoleClient>>,
    ) -> Running {
        let key = (session.to_owned(), id.to_owned());
        let serial = self
            .started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cancelled = CancellationToken::new();
        let entry = Entry {
            serial,
            cancelled: cancelled.clone(),
            on,
        };
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        calls.insert(key.clone(), entry);
        Running {
            registry: self.clone(),
            key,
            serial,
            cancelled,
        }
    }

    pub fn cancel(&self, session: &str, id: &str) {
        let calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let Some(entry) = calls.get(&(session.to_owned(), id.to_owned())) else {
            return;
        };
        entry.cancelled.cancel();
        if let Some(peer) = entry.on.clone() {
            let id = RequestId::String(gatehouse_id(entry.serial).into());
            let note =
                CancelledNotificationParam::new(Some(id), Some("cancelled by the client".into()));
            // Best effort, as a cancellation is: a session that ended has nothing to stop.
            tokio::spawn(async move {
                let _ = peer.notify_cancelled(note).await;
            });
        }
    }
}

/// How long what a server answered to `server/discover` is trusted.
const KNOWN_FOR: Duration = Duration::from_secs(600);
/// How long a probe that got no answer (down, timed out, refused) keeps calls on rmcp.
const UNKNOWN_FOR: Duration = Duration::from_secs(60);
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
struct Fact {
    version: String,
    speaks: bool,
    until: Instant,
}

/// A (user, server id).
type Key = (UserId, i64);

/// Which revision each (user, server) speaks, learned with rmcp's own `server/discover`
/// through the same guarded, credential-injecting client as the upstream sessions.
#[derive(Default)]
pub struct Revisions {
    facts: Mutex<HashMap<Key, Fact>>,
    /// One probe at a time per (user, server): concurrent first calls share it.
    probing: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
}

impl Revisions {
    fn fresh(&self, key: Key, version: &str) -> Option<bool> {
        let facts = self.facts.lock().unwrap_or_else(|p| p.into_inner());
        facts
            .get(&key)
            .filter(|f| f.version == version && f.until > Instant::now())
            .map(|f| f.speaks)
    }

    /// Whether the user's server `slug` serves `version` without a session.
    pub async fn speaks(&self, gw: &Arc<Gateway>, user: UserId, slug: &str, version: &str) -> bool {
        let Ok(route) = crate::gateway::route::route(gw, user, slug).await else {
            return false;
        };
        let key = (user, route.server_id);
        if let Some(known) = self.fresh(key, version) {
            return known;
        }
        let gate = {
            let mut probing = self.probing.lock().unwrap_or_else(|p| p.into_inner());
            probing.entry(key).or_default().clone()
        };
        let _probing = gate.lock().await;
        if let Some(known) = self.fresh(key, version) {
            return known;
        }
        let (speaks, trusted_for) = probe(gw, user, slug, version).await;
        let fact = Fact {
            version: version.to_owned(),
            speaks,
            until: Instant::now() + trusted_for,
        };
        let mut facts = self.facts.lock().unwrap_or_else(|p| p.into_inner());
        facts.insert(key, fact);
        speaks
    }
}

/// `server/discover` naming `version`: a result that lists it means yes; a JSON-RPC refusal
/// (a server of the `initialize` era) no; anything else no, for a shorter while.
async fn probe(gw: &Arc<Gateway>, user: UserId, slug: &str, version: &str) -> (bool, Duration) {
    let Ok(version) = serde_json::from_value::<ProtocolVersion>(version.into()) else {
        return (false, KNOWN_FOR);
    };
    let slug: Arc<str> = slug.into();
    let http = UpstreamHttp::new(gw, user, slug.clone());
    let config = StreamableHttpClientTransportConfig::with_uri(slug);
    let transport = StreamableHttpClientTransport::with_client(http, config);
    let lifecycle = ClientLifecycleMode::Discover {
        preferred_versions: vec![version],
    };
    let discovered =
        tokio::time::timeout(PROBE_TIMEOUT, ().serve_with_lifecycle(transport, lifecycle)).await;
    match discovered {
        Ok(Ok(session)) => {
            // Nothing to end upstream: the revision has no sessions.
            let _ = session.cancel().await;
            (true, KNOWN_FOR)
        }
        Ok(Err(
            ClientInitializeError::JsonRpcError(_)
            | ClientInitializeError::NoCompatibleProtocolVersion { .. }
            | ClientInitializeError::ExpectedInitResult(_),
        )) => (false, KNOWN_FOR),
        _ => (false, UNKNOWN_FOR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stateless(name: &str, version: &str) -> Bytes {
        Bytes::from(
            serde_json::json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
                "name": name, "arguments": {"text": "a \"name\": \"x__y\""},
                "_meta": {"io.modelcontextprotocol/protocolVersion": version}}})
            .to_string(),
        )
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_stateless_call_is_renamed_in_body_and_header_and_nothing_else() {
        let body = stateless("notes__echo", "2026-07-28");
        let env = Envelope::parse(&body).unwrap();
        let h = headers(&[
            ("mcp-name", "notes__echo"),
            ("mcp-protocol-version", "2026-07-28"),
        ]);
        let (direct, version) = plan(&env, &body, &h).unwrap();
        assert_eq!(version, "2026-07-28");
        assert_eq!(direct.slug.as_str(), "notes");
        assert_eq!(direct.headers["mcp-name"], "echo");
        let sent: serde_json::Value = serde_json::from_slice(&direct.body).unwrap();
        let mut expected: serde_json::Value = serde_json::from_slice(&body).unwrap();
        expected["params"]["name"] = "echo".into();
        assert_eq!(sent, expected);
    }

    #[test]
    fn only_stateless_tool_calls_with_plain_names_pass_through() {
        let h = HeaderMap::new();
        let refused = |body: Bytes, h: &HeaderMap| {
            let env = Envelope::parse(&body).unwrap();
            plan(&env, &body, h).is_none()
        };
        assert!(refused(stateless("notes__echo", "2025-11-25"), &h));
        assert!(refused(stateless("echo", "2026-07-28"), &h));
        assert!(refused(stateless("notes__ech o", "2026-07-28"), &h));
        assert!(refused(stateless("Notes__echo", "2026-07-28"), &h));
        let other_version = headers(&[("mcp-protocol-version", "2025-11-25")]);
        assert!(refused(
            stateless("notes__echo", "2026-07-28"),
            &other_version
        ));
        let prompt = Bytes::from(
            r#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"notes__p","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
        );
        assert!(refused(prompt, &h));
        // An escaped name is decoded before it is split (and renamed as plain JSON).
        let escaped = Bytes::from(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes__\u0065cho","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
        );
        let env = Envelope::parse(&escaped).unwrap();
        let (direct, _) = plan(&env, &escaped, &h).unwrap();
        assert!(std::str::from_utf8(&direct.body)
            .unwrap()
            .contains(r#""name":"echo""#));
    }

    #[test]
    fn duplicate_names_and_batches_are_not_read() {
        let dup = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a__x","name":"b__y"}}"#;
        assert!(Envelope::parse(dup).is_none());
        assert!(Envelope::parse(br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call"}]"#).is_none());
    }
}
