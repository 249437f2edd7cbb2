//! `make bench`: the DESIGN.md §11 measurements, as ratios taken in one run on one machine.
//!
//! Starts an MCP upstream on the official Rust SDK (rmcp, stateless JSON, its own 2-thread
//! runtime), the release `gatehouse` binary (path as the first argument) on a temp data dir,
//! and nginx (1 worker, `proxy_buffering off`, upstream keep-alive) as the reverse-proxy
//! baseline; provisions an account, servers and an OAuth client over HTTP as a user would;
//! drives every target with wrk in interleaved rounds and prints a Markdown report with the
//! median and the spread of each figure.
//!
//! A/B modes (`BENCH_ONLY`): `proxy` (direct, nginx, the gateway), `gateway` (every gateway
//! target and the memory runs), `aggregate` (`/mcp` vs `/mcp/{slug}`; `BENCH_TARGET=<era>`
//! keeps the pair of the era whose name ends with it), `token` (`/token` vs the bare write), `store` (the
//! gateway and `/token` on this run's database).

mod load;
mod provision;
mod sessions;
mod targets;
mod upstream;
mod wrk;

use std::time::Duration;

use wrk::{thousands, Call, Run, Series};

/// Seconds per run (`BENCH_SECONDS`, default 10) and interleaved rounds (`BENCH_ROUNDS`, 3).
fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 / 1024.0)
}

fn row(name: &str, c: u32, s: &Series) -> String {
    format!(
        "| {name} | {c} | {} | {} | {:.3} | {:.3} | {} |",
        thousands(s.per_second()),
        s.spread(),
        s.p50_ms(),
        s.p99_ms(),
        s.errors()
    )
}

/// The protocol eras the aggregated `/mcp` is measured in (target names end with them).
const AGGREGATE_ERAS: [&str; 3] = ["2026-07-28", "2025-06-18", "2025-06-18, upstream sessions"];

/// The ratio row of the aggregated `/mcp` against `/mcp/echo` in `era` at `c` connections.
fn aggregate_ratio<'a>(
    find: &impl Fn(&str, u32) -> Option<&'a Target>,
    era: &str,
    c: u32,
) -> Option<String> {
    let one = find(&format!("`/mcp/echo`, {era}"), c)?;
    let all = find(&format!("`/mcp` (aggregated), {era}"), c)?;
    Some(format!(
        "| aggregated `/mcp` / `/mcp/echo`, {era}, c={c} | {:.2} (p50 {:.2} vs {:.2} ms; Gatehouse CPU {:.1} vs {:.1} µs per call) | ≥ 0.9 |",
        all.runs.per_second() / one.runs.per_second(),
        all.runs.p50_ms(),
        one.runs.p50_ms(),
        wrk::median(all.cpu_us.clone()),
        wrk::median(one.cpu_us.clone()),
    ))
}

/// The runs of `targets` as a Markdown table.
fn runs_table(targets: &[Target]) -> Vec<String> {
    let rows = targets.iter().map(|t| row(&t.name, t.connections, &t.runs));
    std::iter::once(RUNS_HEADER.to_owned())
        .chain(rows)
        .collect()
}

/// The gateway against nginx, at 32 and 1 connections (rows of the ratio table).
fn nginx_ratios<'a>(find: &impl Fn(&str, u32) -> Option<&'a Target>) -> Vec<String> {
    [32, 1]
        .into_iter()
        .filter_map(|c| {
            let (n, g) = (find("nginx", c)?, find("Gatehouse, access token", c)?);
            Some(format!(
                "| gateway / nginx, c={c} | {:.2} | ≥ 0.9 (goal ≥ 1.0) |",
                g.runs.per_second() / n.runs.per_second()
            ))
        })
        .collect()
}

/// A server base (`http://host:port`) and the path of a URL.
fn split(url: &str) -> (String, String) {
    let parsed = reqwest::Url::parse(url).unwrap();
    (
        parsed[..url::Position::BeforePath].to_owned(),
        parsed.path().to_owned(),
    )
}

/// The header of a table of `row`s.
const RUNS_HEADER: &str =
    "| target | connections | req/s (median) | req/s (min–max) | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|---:|---:|";

struct Target {
    name: String,
    base: String,
    calls: Vec<Call>,
    connections: u32,
    runs: Series,
    /// Gatehouse's CPU time per call in each run, in µs.
    cpu_us: Vec<f64>,
}

/// One wrk run of refresh grants with rotation (8 connections over 16 fresh chains).
async fn refresh_run(gh: &targets::Gatehouse, session: &provision::Session, secs: Duration) -> Run {
    let mut chains = Vec::new();
    for _ in 0..16 {
        chains.push(session.tokens().await.1);
    }
    wrk::refresh(&gh.url, session.client_id(), &chains, 8, secs)
}

/// `/token` refresh grants with rotation against one SQLite write per request, interleaved.
async fn token_vs_bare(
    gh: &targets::Gatehouse,
    session: &provision::Session,
    rounds: u64,
    secs: Duration,
) -> Vec<String> {
    let bare = targets::bare_sqlite_writer().await;
    let (mut refresh, mut bare_runs) = (Series::default(), Series::default());
    for _ in 0..rounds {
        refresh.0.push(refresh_run(gh, session, secs).await);
        bare_runs.0.push(wrk::post(&bare, 8, secs));
    }
    vec![
        String::new(),
        "### `/token`".into(),
        String::new(),
        RUNS_HEADER.into(),
        row("refresh grant with rotation", 8, &refresh),
        row("bare axum + one SQLite write transaction", 8, &bare_runs),
        format!(
            "\n/token / bare write: **{:.2}** (target ≥ 0.5, goal ≥ 0.8)",
            refresh.per_second() / bare_runs.per_second()
        ),
    ]
}

/// `BENCH_ONLY=store`: gateway calls and `/token` refreshes, interleaved, on this database.
async fn store_only(
    gh: &targets::Gatehouse,
    session: &provision::Session,
    token: &str,
    key: &str,
    rounds: u64,
    secs: Duration,
) {
    let database = match targets::database_url() {
        Some(_) => "Postgres",
        None => "SQLite",
    };
    let gateway = [
        ("access token", Call::bearer("/mcp/echo", token), 32),
        ("access token", Call::bearer("/mcp/echo", token), 1),
        ("API key", Call::bearer("/mcp/echo", key), 32),
    ];
    let mut runs: Vec<Series> = gateway.iter().map(|_| Series::default()).collect();
    let mut refresh = Series::default();
    for _ in 0..rounds {
        for ((_, call, c), series) in gateway.iter().zip(&mut runs) {
            series
                .0
                .push(wrk::run(&gh.url, std::slice::from_ref(call), *c, secs));
        }
        refresh.0.push(refresh_run(gh, session, secs).await);
    }
    println!("{RUNS_HEADER}");
    for ((name, _, c), series) in gateway.iter().zip(&runs) {
        println!(
            "{}",
            row(&format!("{database}: gateway, {name}"), *c, series)
        );
    }
    println!(
        "{}",
        row(
            &format!("{database}: `/token` refresh with rotation"),
            8,
            &refresh
        )
    );
}

#[tokio::main]
async fn main() {
    let bin = std::env::args()
        .nth(1)
        .expect("usage: gatehouse-bench <path to release gatehouse binary>");
    assert!(
        wrk::available(),
        "wrk is missing: `make bench` installs it (apt-get install wrk)"
    );
    let secs = Duration::from_secs(setting("BENCH_SECONDS", 10));
    let rounds = setting("BENCH_ROUNDS", 3);
    let up = upstream::start();
    let gh = targets::Gatehouse::start(&bin).await;
    let session = provision::setup(&gh.url, gh.setup_code.as_deref().unwrap(), &up.mcp).await;
    let (token, _) = session.tokens().await;
    let key = session.api_key().await;
    // `BENCH_ONLY=store`: the gateway and `/token` on this run's database (SQLite, or Postgres
    // with `BENCH_DATABASE_URL`: `make bench-postgres`), for the comparison of the two.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only == "store" {
        return store_only(&gh, &session, &token, &key, rounds, secs).await;
    }
    // `BENCH_ONLY=token`: only `/token` against the bare write handler (A/B runs, profiling).
    if only == "token" {
        println!(
            "{}",
            token_vs_bare(&gh, &session, rounds, secs).await.join("\n")
        );
        return;
    }
    // Idle after a sign-in (the setup signs in: argon2's buffer has come and gone).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (idle_rss, idle_anon) = (gh.rss_kib(), gh.anon_kib());
    let nginx = targets::Nginx::start(&up.mcp).await;

    // Gateway, direct and nginx, interleaved so a slow moment of the machine hits them all.
    let (direct_base, direct_path) = split(&up.mcp);
    let mut targets = Vec::new();
    for c in [32, 1] {
        targets.push(Target {
            name: "direct to upstream".into(),
            base: direct_base.clone(),
            calls: vec![Call::to(&direct_path)],
            connections: c,
            runs: Series::default(),
            cpu_us: Vec::new(),
        });
        if let Some(n) = &nginx {
            targets.push(Target {
                name: "nginx".into(),
                base: n.url.trim_end_matches('/').to_owned(),
                calls: vec![Call::to("/")],
                connections: c,
                runs: Series::default(),
                cpu_us: Vec::new(),
            });
        }
        targets.push(Target {
            name: "Gatehouse, access token".into(),
            base: gh.url.clone(),
            calls: vec![Call::bearer("/mcp/echo", &token)],
            connections: c,
            runs: Series::default(),
            cpu_us: Vec::new(),
        });
    }
    targets.push(Target {
        name: "Gatehouse, API key".into(),
        base: gh.url.clone(),
        calls: vec![Call::bearer("/mcp/echo", &key)],
        connections: 32,
        runs: Series::default(),
        cpu_us: Vec::new(),
    });
    // The aggregated `/mcp` against `/mcp/{slug}` with the key, per protocol era (issue 16:
    // routing through one connector costs ≤ 10 %): stateless 2026-07-28; the `initialize`
    // era in a session at `/mcp` (the stateless upstream behind `/mcp/echo` needs none);
    // and `kept`, the same server with sessions, called in a session of its own.
    session.add_server("kept", &up.mcp_sessions).await;
    let all_session = session.mcp_session("/mcp", &key).await;
    let kept_session = session.mcp_session("/mcp/kept", &key).await;
    let eras = [
        (
            AGGREGATE_ERAS[0],
            Call::stateless("/mcp/echo", &key, "echo"),
            Call::stateless("/mcp", &key, "echo__echo"),
        ),
        (
            AGGREGATE_ERAS[1],
            Call::bearer("/mcp/echo", &key),
            Call::in_session("/mcp", &key, &all_session, "echo__echo"),
        ),
        (
            AGGREGATE_ERAS[2],
            Call::in_session("/mcp/kept", &key, &kept_session, "echo"),
            Call::in_session("/mcp", &key, &all_session, "kept__echo"),
        ),
    ];
    for (era, one, all) in eras {
        for c in [32, 1] {
            for (name, call) in [
                (format!("`/mcp/echo`, {era}"), &one),
                (format!("`/mcp` (aggregated), {era}"), &all),
            ] {
                targets.push(Target {
                    name,
                    base: gh.url.clone(),
                    calls: vec![call.clone()],
                    connections: c,
                    runs: Series::default(),
                    cpu_us: Vec::new(),
                });
            }
        }
    }
    // `BENCH_ONLY=aggregate`: only the `/mcp` vs `/mcp/{slug}` pair (A/B runs, profiling).
    let aggregate_only = only == "aggregate";
    if aggregate_only {
        targets.retain(|t| t.name.starts_with("`/mcp"));
        // `BENCH_TARGET=era`: only the pair whose name ends with it (profiling one era;
        // "2025-06-18" alone is not also "2025-06-18, upstream sessions").
        if let Ok(only) = std::env::var("BENCH_TARGET") {
            targets.retain(|t| t.name.ends_with(&only));
        }
    }
    // `BENCH_ONLY=proxy`: only direct, nginx and the gateway with a token (A/B runs of a
    // gateway change, profiling).
    let proxy_only = only == "proxy";
    if proxy_only {
        targets.retain(|t| !t.name.starts_with("`/mcp") && !t.name.ends_with("API key"));
    }
    for _ in 0..rounds {
        for t in &mut targets {
            let cpu = gh.cpu_seconds();
            let run = wrk::run(&t.base, &t.calls, t.connections, secs);
            let calls = run.per_second * secs.as_secs_f64();
            t.cpu_us
                .push((gh.cpu_seconds() - cpu) * 1e6 / calls.max(1.0));
            // Each round on stderr: the tables keep only the median and the spread, and a
            // bimodal target shows only here.
            eprintln!(
                "{} c={}: {:.0} req/s, Gatehouse {:.1} µs CPU per call",
                t.name,
                t.connections,
                run.per_second,
                t.cpu_us.last().unwrap_or(&0.0)
            );
            t.runs.0.push(run);
        }
    }
    let find = |name: &str, c: u32| {
        targets
            .iter()
            .find(|t| t.name == name && t.connections == c)
    };
    if aggregate_only {
        println!("{}", runs_table(&targets).join("\n"));
        for era in AGGREGATE_ERAS {
            for c in [32, 1] {
                if let Some(ratio) = aggregate_ratio(&find, era, c) {
                    println!("{ratio}");
                }
            }
        }
        println!(
            "\nRSS after the runs: {} ({} anonymous)",
            mb(gh.rss_kib()),
            mb(gh.anon_kib())
        );
        return;
    }
    if proxy_only {
        println!("{}\n", runs_table(&targets).join("\n"));
        println!("{}", nginx_ratios(&find).join("\n"));
        return;
    }
    let gw32 = find("Gatehouse, access token", 32).unwrap();
    let gw1 = find("Gatehouse, access token", 1).unwrap();
    let direct1 = find("direct to upstream", 1).unwrap();
    let key32 = find("Gatehouse, API key", 32).unwrap();

    let mut out = vec![
        format!(
            "### Gateway: `tools/call echo`, wrk, {rounds} interleaved rounds × {}s",
            secs.as_secs()
        ),
        String::new(),
    ];
    out.extend(runs_table(&targets));
    out.push(String::new());
    out.push("| ratio | value | target |".into());
    out.push("|---|---:|---|".into());
    out.extend(nginx_ratios(&find));
    out.push(format!(
        "| gateway / direct, c=32 | {:.2} | (context) |",
        gw32.runs.per_second() / find("direct to upstream", 32).unwrap().runs.per_second()
    ));
    out.push(format!(
        "| added p50 over direct, c=1 | {:.3} ms | ≤ 0.1 ms |",
        gw1.runs.p50_ms() - direct1.runs.p50_ms()
    ));
    out.push(format!(
        "| API key / access token, c=32 | {:.2} | ≈ 1 |",
        key32.runs.per_second() / gw32.runs.per_second()
    ));
    for era in AGGREGATE_ERAS {
        for c in [32, 1] {
            out.extend(aggregate_ratio(&find, era, c));
        }
    }

    // Memory under load: five consecutive runs; RSS after each.
    let mut after = Vec::new();
    for _ in 0..5 {
        wrk::run(&gh.url, &gw32.calls, 32, secs);
        after.push(format!(
            "{} ({} anon.)",
            mb(gh.rss_kib()),
            mb(gh.anon_kib())
        ));
    }
    out.push(String::new());
    out.push("### Memory".into());
    out.push(String::new());
    out.push("| state | RSS |".into());
    out.push("|---|---:|".into());
    out.push(format!(
        "| idle, after a sign-in | {} (anonymous: {}) |",
        mb(idle_rss),
        mb(idle_anon)
    ));
    out.push(format!(
        "| after each of five consecutive {}s runs at c=32 | {} |",
        secs.as_secs(),
        after.join(" → ")
    ));

    // `BENCH_ONLY=gateway`: stop here (quick A/B runs of a gateway change).
    if only == "gateway" {
        println!("{}", out.join("\n"));
        return;
    }

    // Open streams: the SSE endpoint behind its own server.
    session.add_server("stream", &up.sse).await;
    let streams = load::open_streams(&format!("{}/mcp/stream", gh.url), &key, 1000).await;
    let open = streams.len();
    out.push(format!(
        "| {open} SSE streams open through the gateway | {} |",
        mb(gh.rss_kib())
    ));
    drop(streams);

    out.extend(token_vs_bare(&gh, &session, rounds, secs).await);

    // Pages, signed in: the Servers page with 50 servers, a consent page.
    for i in 0..48 {
        session.add_server(&format!("server-{i:02}"), &up.mcp).await;
    }
    let cookie = session.cookie();
    let consent = session.consent_page().await;
    let page = |path: &str| {
        let calls = [Call::signed_in(path, &cookie)];
        Series::of(rounds, || wrk::pages(&gh.url, &calls, 1, secs / 2))
    };
    let servers_page = page("/servers");
    let consent_page = page(&consent);
    let wasm = wasm_gzip_bytes(&bin);
    out.push(String::new());
    out.push("### Pages (signed in, server-rendered, c=1)".into());
    out.push(String::new());
    out.push("| page | req/s | p50 ms | p99 ms | errors |".into());
    out.push("|---|---:|---:|---:|---:|".into());
    for (name, s) in [
        ("`/servers` with 50 servers", &servers_page),
        ("`/consent/…`", &consent_page),
    ] {
        out.push(format!(
            "| {name} | {} | {:.2} | {:.2} | {} |",
            thousands(s.per_second()),
            s.p50_ms(),
            s.p99_ms(),
            s.errors()
        ));
    }
    out.push(format!(
        "\np50 target ≤ 5 ms. wasm bundle: {} gzip (budget ≤ 300 KB)",
        wasm.map(|b| format!("{:.0} KB", b as f64 / 1000.0))
            .unwrap_or("not found".into())
    ));

    // Sessions: 10,000 of them, each used once, then idle.
    let cookies = sessions::clone_session(&gh.database(), &cookie, 10_000).await;
    let calls: Vec<Call> = cookies
        .iter()
        .map(|c| Call::signed_in("/keys", c))
        .collect();
    let window = Duration::from_secs(20);
    let used = wrk::pages(&gh.url, &calls, 8, window);
    out.push(String::new());
    out.push(format!(
        "RSS with 10,000 sessions (each used: {} page views, {} errors): {}",
        thousands(used.per_second * window.as_secs_f64()),
        used.errors,
        mb(gh.rss_kib())
    ));

    // Scale: users × 5 servers each, every call to another (user, server).
    out.push(String::new());
    out.push("### Scale: users × 5 servers, API keys, c=32".into());
    out.push(String::new());
    out.push(
        "| users | req/s (median) | req/s (min–max) | p50 ms | p99 ms | errors | RSS after |"
            .into(),
    );
    out.push("|---:|---:|---:|---:|---:|---:|---:|".into());
    let mut calls = Vec::new();
    let mut users = 0;
    for target in [1, 10, 100] {
        while users < target {
            let name = format!("user{users:03}");
            gh.cli(
                &["user", "add", &name, "--password-stdin"],
                "a bench password 123\n",
            );
            for s in 0..5 {
                let slug = format!("s{s}");
                gh.cli(
                    &["server", "add", &name, &slug, &up.mcp, "--bearer-stdin"],
                    "static-credential\n",
                );
            }
            let printed = gh.cli(&["key", "create", &name, "bench"], "");
            let key = printed
                .split_whitespace()
                .find(|w| w.starts_with("gh_sk_"))
                .expect("the CLI printed the key")
                .to_owned();
            for s in 0..5 {
                calls.push(Call::bearer(&format!("/mcp/s{s}"), &key));
            }
            users += 1;
        }
        let s = Series::of(rounds, || wrk::run(&gh.url, &calls, 32, secs));
        out.push(format!(
            "| {target} | {} | {} | {:.3} | {:.3} | {} | {} |",
            thousands(s.per_second()),
            s.spread(),
            s.p50_ms(),
            s.p99_ms(),
            s.errors(),
            mb(gh.rss_kib())
        ));
    }

    if nginx.is_none() {
        out.push("\n(nginx not installed: `apt-get install nginx-light` adds the baseline)".into());
    }
    println!("{}", out.join("\n"));
}

/// The release wasm bundle's size after gzip -9, from the site beside the binary's profile
/// directory (`<target>/release/gatehouse` → `<target>/site/pkg`).
fn wasm_gzip_bytes(bin: &str) -> Option<u64> {
    let site = std::env::var("LEPTOS_SITE_ROOT")
        .map(std::path::PathBuf::from)
        .ok()
        .or_else(|| Some(std::path::Path::new(bin).parent()?.parent()?.join("site")))?;
    let wasm = std::fs::read_dir(site.join("pkg"))
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "wasm"))?;
    let out = std::process::Command::new("gzip")
        .args(["-9", "-c"])
        .arg(&wasm)
        .output()
        .ok()?;
    Some(out.stdout.len() as u64)
}
