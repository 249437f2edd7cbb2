//! The load generator: wrk (Debian's package), one thread, driven by a Lua script. A C event
//! loop costs little beside the server it measures; a Rust client in the same 2 cores capped
//! every target and hid most of the differences between them.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// One request shape: a path on the target, its `Authorization` value or its session
/// cookie. wrk sends them round-robin, each MCP call with a JSON-RPC id of its own.
#[derive(Clone, Default)]
pub struct Call {
    pub path: String,
    pub auth: Option<String>,
    pub cookie: Option<String>,
    /// Sent in the stateless 2026-07-28 style calling this tool (else `echo`, 2025-06-18).
    pub stateless_tool: Option<String>,
    /// 2025-06-18 calls of this tool in this MCP session (`Mcp-Session-Id`).
    pub session: Option<(String, String)>,
}

impl Call {
    pub fn to(path: &str) -> Call {
        Call {
            path: path.to_owned(),
            ..Call::default()
        }
    }

    pub fn bearer(path: &str, token: &str) -> Call {
        Call {
            auth: Some(format!("Bearer {token}")),
            ..Call::to(path)
        }
    }

    /// `tools/call tool` in the stateless 2026-07-28 style (no session; what the aggregated
    /// `/mcp` serves without `initialize`).
    pub fn stateless(path: &str, token: &str, tool: &str) -> Call {
        Call {
            stateless_tool: Some(tool.to_owned()),
            ..Call::bearer(path, token)
        }
    }

    /// `tools/call tool` in the `initialize` era, in the MCP session `id`.
    pub fn in_session(path: &str, token: &str, id: &str, tool: &str) -> Call {
        Call {
            session: Some((id.to_owned(), tool.to_owned())),
            ..Call::bearer(path, token)
        }
    }

    pub fn signed_in(path: &str, cookie: &str) -> Call {
        Call {
            cookie: Some(cookie.to_owned()),
            ..Call::to(path)
        }
    }
}

/// What one run measured.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Socket errors and non-2xx/3xx answers.
    pub errors: u64,
}

pub fn available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok_and(|o| !o.stdout.is_empty() || !o.stderr.is_empty())
}

fn lua_string(s: &str) -> String {
    format!("{s:?}")
}

/// Every script's last part: one machine-readable summary line.
const DONE: &str = r#"function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end"#;

/// The script: MCP `tools/call echo` POSTs (or plain GETs with `get`), the headers a
/// Streamable HTTP client sends, and a machine-readable summary line.
fn script(calls: &[Call], get: bool) -> String {
    let optional = |v: &Option<String>| v.as_deref().map(lua_string).unwrap_or("nil".into());
    let entries: Vec<String> = calls
        .iter()
        .map(|c| {
            format!(
                "{{{}, {}, {}, {}, {}, {}}}",
                lua_string(&c.path),
                optional(&c.auth),
                optional(&c.cookie),
                optional(&c.stateless_tool),
                optional(&c.session.as_ref().map(|s| s.0.clone())),
                optional(&c.session.as_ref().map(|s| s.1.clone()))
            )
        })
        .collect();
    format!(
        r#"local calls = {{ {entries} }}
local n = 0
local get = {get}
function request()
  n = n + 1
  local call = calls[(n % #calls) + 1]
  local headers = {{}}
  if call[2] then headers["Authorization"] = call[2] end
  if call[3] then headers["Cookie"] = call[3] end
  if get then
    headers["Accept"] = "text/html"
    return wrk.format("GET", call[1], headers)
  end
  headers["Content-Type"] = "application/json"
  headers["Accept"] = "application/json, text/event-stream"
  if call[4] then
    headers["MCP-Protocol-Version"] = "2026-07-28"
    headers["Mcp-Method"] = "tools/call"
    headers["Mcp-Name"] = call[4]
    local meta = '"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{{}},"io.modelcontextprotocol/clientInfo":{{"name":"bench","version":"1"}}}}'
    local body = '{{"jsonrpc":"2.0","id":' .. n .. ',"method":"tools/call","params":{{"name":"' .. call[4] .. '","arguments":{{"text":"hi"}},' .. meta .. '}}}}'
    return wrk.format("POST", call[1], headers, body)
  end
  headers["MCP-Protocol-Version"] = "2025-06-18"
  local tool = "echo"
  if call[5] then
    headers["Mcp-Session-Id"] = call[5]
    tool = call[6]
  end
  local body = '{{"jsonrpc":"2.0","id":' .. n .. ',"method":"tools/call","params":{{"name":"' .. tool .. '","arguments":{{"text":"hi"}}}}}}'
  return wrk.format("POST", call[1], headers, body)
end
{DONE}"#,
        entries = entries.join(", "),
        get = get,
    )
}

/// Drives `base` (scheme and authority) for `time` with `connections` keep-alive
/// connections, each sending the next request when the previous answer is complete.
pub fn run(base: &str, calls: &[Call], connections: u32, time: Duration) -> Run {
    run_script(base, &script(calls, false), connections, time)
}

/// GETs of pages as a browser (`Accept: text/html`).
pub fn pages(base: &str, calls: &[Call], connections: u32, time: Duration) -> Run {
    run_script(base, &script(calls, true), connections, time)
}

/// `POST /token` refresh grants with rotation: each answer's new refresh token is queued for
/// the next request, so every chain keeps rotating. Give more chains than connections: wrk
/// sends an extra request now and then (e.g. when it opens its connections), and each takes
/// one from the queue.
pub fn refresh(
    base: &str,
    client_id: &str,
    refresh_tokens: &[String],
    connections: u32,
    time: Duration,
) -> Run {
    let queue: Vec<String> = refresh_tokens.iter().map(|t| lua_string(t)).collect();
    let script = format!(
        r#"local queue = {{ {queue} }}
local client = {client}
function request()
  local token = table.remove(queue, 1) or "exhausted"
  local body = "grant_type=refresh_token&client_id=" .. client .. "&refresh_token=" .. token
  return wrk.format("POST", "/token", {{["Content-Type"] = "application/x-www-form-urlencoded"}}, body)
end
function response(status, headers, body)
  local token = body:match('"refresh_token":"([^"]+)"')
  if token then table.insert(queue, token) end
  if status ~= 200 and not first_error then first_error = status .. " " .. body end
end
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
{DONE}
local summarize = done
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    local e = t:get("first_error")
    if e then io.write("FIRST_ERROR ", e, "\n") end
  end
  summarize(summary, latency, requests)
end"#,
        queue = queue.join(", "),
        client = lua_string(client_id),
    );
    run_script(base, &script, connections, time)
}

/// A plain POST with a small JSON body (the bare write handler).
pub fn post(base: &str, connections: u32, time: Duration) -> Run {
    let script = format!(
        r#"function request()
  return wrk.format("POST", nil, {{["Content-Type"] = "application/json"}}, "{{}}")
end
{DONE}"#
    );
    run_script(base, &script, connections, time)
}

fn run_script(base: &str, script: &str, connections: u32, time: Duration) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.lua");
    std::fs::write(&path, script).unwrap();
    let out = Command::new("wrk")
        .args(["-t", "1", "-c", &connections.to_string()])
        .args(["-d", &format!("{}s", time.as_secs().max(1))])
        .args(["--timeout", "10s", "-s"])
        .arg(Path::new(&path))
        .arg(base)
        .output()
        .expect("run wrk");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if let Some(first) = stdout.lines().find_map(|l| l.strip_prefix("FIRST_ERROR ")) {
        eprintln!("first error answer: {first}");
    }
    for line in stdout
        .lines()
        .filter(|l| l.contains("Socket errors") || l.contains("Non-2xx"))
    {
        eprintln!("wrk: {}", line.trim());
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("BENCH "))
        .unwrap_or_else(|| {
            panic!(
                "wrk printed no summary: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let f: Vec<f64> = line
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    // Error answers are requests (counted in `requests`); socket errors are not.
    let (requests, duration_us, refused, broken, p50_us, p99_us) =
        (f[0], f[1], f[2], f[3], f[4], f[5]);
    Run {
        per_second: (requests - refused) / (duration_us / 1e6),
        p50_ms: p50_us / 1000.0,
        p99_ms: p99_us / 1000.0,
        errors: (refused + broken) as u64,
    }
}

/// Several runs of one target: the median and the spread.
#[derive(Default)]
pub struct Series(pub Vec<Run>);

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

impl Series {
    /// `rounds` runs of `run`.
    pub fn of(rounds: u64, mut run: impl FnMut() -> Run) -> Series {
        Series((0..rounds).map(|_| run()).collect())
    }

    pub fn per_second(&self) -> f64 {
        median(self.0.iter().map(|r| r.per_second).collect())
    }
    pub fn p50_ms(&self) -> f64 {
        median(self.0.iter().map(|r| r.p50_ms).collect())
    }
    pub fn p99_ms(&self) -> f64 {
        median(self.0.iter().map(|r| r.p99_ms).collect())
    }
    pub fn errors(&self) -> u64 {
        self.0.iter().map(|r| r.errors).sum()
    }
    /// `min–max` of the throughput, as `12,345–13,456`.
    pub fn spread(&self) -> String {
        let min = self.0.iter().map(|r| r.per_second).fold(f64::MAX, f64::min);
        let max = self.0.iter().map(|r| r.per_second).fold(0.0, f64::max);
        format!("{}–{}", thousands(min), thousands(max))
    }
}

pub fn thousands(v: f64) -> String {
    let s = format!("{:.0}", v);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
    }

    #[test]
    fn script_quotes_values() {
        let s = script(&[Call::bearer("/mcp/a\"b", "x")], false);
        assert!(
            s.contains(r#"{"/mcp/a\"b", "Bearer x", nil, nil, nil, nil}"#),
            "{s}"
        );
        let s = script(&[Call::in_session("/mcp", "k", "s\"1", "a__b")], false);
        assert!(
            s.contains(r#"{"/mcp", "Bearer k", nil, nil, "s\"1", "a__b"}"#),
            "{s}"
        );
    }
}
