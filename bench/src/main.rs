//! `make bench`: the DESIGN.md §11 measurements, as ratios taken in one run on one machine.
//!
//! Starts a minimal echo MCP upstream (axum, stateless JSON), the release `gatehouse` binary
//! (path as the first argument), and — when installed — nginx as the reverse-proxy baseline;
//! provisions an account, a server with a static credential and an OAuth client over HTTP;
//! then drives each target with N keep-alive workers and prints a Markdown report.

mod load;
mod provision;
mod targets;

use std::time::Duration;

use load::{run, Stats};

const SECONDS: u64 = 10;

fn row(name: &str, s: &Stats) -> String {
    format!(
        "| {name} | {:.0} | {:.3} | {:.3} | {} |",
        s.per_second(),
        s.percentile(50.0).as_secs_f64() * 1000.0,
        s.percentile(99.0).as_secs_f64() * 1000.0,
        s.errors
    )
}

#[tokio::main]
async fn main() {
    let bin = std::env::args()
        .nth(1)
        .expect("usage: gatehouse-bench <path to release gatehouse binary>");
    let upstream = targets::echo_upstream().await;
    let gh = targets::Gatehouse::start(&bin).await;
    let idle_rss = gh.rss_kib();
    let session = provision::setup(&gh.url, gh.setup_code.as_deref().unwrap(), &upstream).await;
    let (token, _) = session.tokens().await;
    let gateway_url = format!("{}/mcp/echo", gh.url);
    let nginx = targets::Nginx::start(&upstream).await;
    let call = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "hi"}}});
    let secs = Duration::from_secs(SECONDS);

    let mut out = vec![
        "| target | requests/s | p50 ms | p99 ms | errors |".to_owned(),
        "|---|---|---|---|---|".to_owned(),
    ];
    let direct32 = run(&upstream, None, &call, 32, secs).await;
    out.push(row("direct to upstream, c=32", &direct32));
    let gateway32 = run(&gateway_url, Some(&token), &call, 32, secs).await;
    out.push(row("Gatehouse gateway, c=32", &gateway32));
    let nginx32 = match &nginx {
        Some(n) => {
            let s = run(&n.url, None, &call, 32, secs).await;
            out.push(row("nginx (proxy_buffering off, keepalive), c=32", &s));
            Some(s)
        }
        None => None,
    };
    let direct1 = run(&upstream, None, &call, 1, secs).await;
    out.push(row("direct to upstream, c=1", &direct1));
    let gateway1 = run(&gateway_url, Some(&token), &call, 1, secs).await;
    out.push(row("Gatehouse gateway, c=1", &gateway1));
    // The same with an API key instead of an access token.
    let key = session.api_key().await;
    let keyed32 = run(&gateway_url, Some(&key), &call, 32, secs).await;
    out.push(row("Gatehouse gateway with an API key, c=32", &keyed32));

    // Token endpoint: refresh grant with rotation, vs a bare axum handler doing one SQLite
    // write transaction.
    let mut chains = Vec::new();
    for _ in 0..8 {
        chains.push((session.client_id().to_owned(), session.tokens().await.1));
    }
    let refresh = load::refresh_loop(&gh.url, chains, secs).await;
    out.push(row("Gatehouse /token refresh (rotation), c=8", &refresh));
    let bare = targets::bare_sqlite_writer().await;
    let bare_stats = run(&bare, None, &call, 8, secs).await;
    out.push(row(
        "bare axum + one SQLite write transaction, c=8",
        &bare_stats,
    ));

    // Memory: idle, then with 1,000 SSE streams open through the gateway.
    let streams = load::open_streams(&gateway_url, &token, 1000).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let streams_rss = gh.rss_kib();
    let open = streams.len();
    drop(streams);

    println!("{}", out.join("\n"));
    println!();
    println!("| ratio | value | target |");
    println!("|---|---|---|");
    if let Some(n) = &nginx32 {
        println!(
            "| gateway / nginx throughput, c=32 | {:.2} | ≥ 0.9 |",
            gateway32.per_second() / n.per_second()
        );
    }
    println!(
        "| gateway / direct throughput, c=32 | {:.2} | (context) |",
        gateway32.per_second() / direct32.per_second()
    );
    println!(
        "| gateway with an API key / with a token, c=32 | {:.2} | ≈ 1 |",
        keyed32.per_second() / gateway32.per_second()
    );
    println!(
        "| added p50 latency, c=1 | {:.3} ms | ≤ 0.3 ms |",
        (gateway1.percentile(50.0).as_secs_f64() - direct1.percentile(50.0).as_secs_f64()) * 1000.0
    );
    println!(
        "| /token refresh / bare write handler | {:.2} | ≥ 0.5 |",
        refresh.per_second() / bare_stats.per_second()
    );
    println!(
        "| idle RSS | {:.1} MB | ≤ 40 MB |",
        idle_rss as f64 / 1024.0
    );
    println!(
        "| RSS with {open} SSE streams open | {:.1} MB | ≤ 150 MB (1,000 streams) |",
        streams_rss as f64 / 1024.0
    );
    if nginx.is_none() {
        println!("\n(nginx not installed: `apt-get install nginx-light` adds the baseline)");
    }
}
