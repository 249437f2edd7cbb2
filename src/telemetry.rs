//! Prometheus metrics (DESIGN.md §8): the `metrics` facade, rendered in the text format by
//! `metrics-exporter-prometheus` at `/metrics`. One recorder per process; the recording
//! functions below are the only names used, so every series is listed here.
//!
//! Labels are bounded: route families (never paths), outcomes, grant types, limit names, and
//! server slugs (chosen by users, 40 characters at most, one per server).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Latency buckets (seconds): sub-millisecond gateway overhead up to slow upstreams.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Installs the process's recorder once; `None` if another recorder was installed first.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(BUCKETS).ok()?;
            let handle = builder.install_recorder().ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

/// Folds histogram samples into their buckets. The recorder keeps every sample until then:
/// a serving process calls this every few seconds, or memory grows with every request
/// between two scrapes (forever, with nobody scraping).
pub fn upkeep() {
    if let Some(handle) = HANDLE.get().and_then(Option::as_ref) {
        handle.run_upkeep();
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "gatehouse_http_requests_total",
        "HTTP requests by route family, method and status class"
    );
    describe_histogram!(
        "gatehouse_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request (to the response head)"
    );
    describe_counter!(
        "gatehouse_gateway_calls_total",
        "MCP calls through /mcp by server and outcome"
    );
    describe_counter!(
        "gatehouse_activity_dropped_total",
        "Gateway call records dropped because the activity writer fell behind"
    );
    describe_histogram!(
        "gatehouse_gateway_call_duration_seconds",
        Unit::Seconds,
        "Time of an MCP call through the gateway, to the response head"
    );
    describe_histogram!(
        "gatehouse_upstream_response_seconds",
        Unit::Seconds,
        "Upstream time to response headers"
    );
    describe_counter!(
        "gatehouse_upstream_refreshes_total",
        "Upstream token refreshes by result"
    );
    describe_counter!(
        "gatehouse_upstream_401_retries_total",
        "Upstream 401s answered with a refresh and one retry"
    );
    describe_counter!(
        "gatehouse_tokens_issued_total",
        "Access tokens issued by grant type"
    );
    describe_counter!(
        "gatehouse_rate_limited_total",
        "Requests refused by a rate limit, by limit"
    );
    describe_gauge!(
        "gatehouse_open_streams",
        "Gateway responses being streamed now"
    );
    describe_gauge!(
        "gatehouse_db_connections",
        "Database pool connections by state"
    );
}

/// The text exposition of every series, with the pool's gauges current.
pub fn render(pool: &sqlx::AnyPool) -> Option<String> {
    let handle = handle()?;
    let idle = pool.num_idle() as f64;
    gauge!("gatehouse_db_connections", "state" => "idle").set(idle);
    gauge!("gatehouse_db_connections", "state" => "used").set(f64::from(pool.size()) - idle);
    handle.run_upkeep();
    Some(handle.render())
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

pub fn http_request(route: &'static str, method: &str, status: u16, took: Duration) {
    // Static label values: no allocation per request.
    let method: &'static str = match method {
        "GET" => "GET",
        "POST" => "POST",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        _ => "other",
    };
    let class = status_class(status);
    counter!("gatehouse_http_requests_total", "route" => route, "method" => method, "status" => class).increment(1);
    histogram!("gatehouse_http_request_duration_seconds", "route" => route, "method" => method)
        .record(took.as_secs_f64());
}

/// One MCP call: `outcome` is `ok`, `upstream_error` (the upstream answered ≥ 400) or what
/// Gatehouse answered itself (`refused`).
pub fn gateway_call(server: &str, outcome: &'static str, took: Duration) {
    counter!("gatehouse_gateway_calls_total", "server" => server.to_owned(), "outcome" => outcome)
        .increment(1);
    histogram!("gatehouse_gateway_call_duration_seconds", "server" => server.to_owned())
        .record(took.as_secs_f64());
}

pub fn upstream_response(server: &str, took: Duration) {
    histogram!("gatehouse_upstream_response_seconds", "server" => server.to_owned())
        .record(took.as_secs_f64());
}

/// `result`: `ok`, `failed`, `needs_reauth`.
pub fn upstream_refresh(result: &'static str) {
    counter!("gatehouse_upstream_refreshes_total", "result" => result).increment(1);
}

pub fn upstream_401_retry() {
    counter!("gatehouse_upstream_401_retries_total").increment(1);
}

pub fn token_issued(grant_type: &'static str) {
    counter!("gatehouse_tokens_issued_total", "grant_type" => grant_type).increment(1);
}

static RATE_LIMITED: AtomicU64 = AtomicU64::new(0);

pub fn rate_limited(limit: &'static str) {
    RATE_LIMITED.fetch_add(1, Ordering::Relaxed);
    counter!("gatehouse_rate_limited_total", "limit" => limit).increment(1);
}

/// Refusals by any rate limit since this process started (the stats page).
pub fn rate_limited_total() -> u64 {
    RATE_LIMITED.load(Ordering::Relaxed)
}

pub fn streams_opened() {
    gauge!("gatehouse_open_streams").increment(1.0);
}

pub fn streams_closed() {
    gauge!("gatehouse_open_streams").decrement(1.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        assert_eq!(status_class(200), "2xx");
        assert_eq!(status_class(302), "3xx");
        assert_eq!(status_class(429), "4xx");
        assert_eq!(status_class(503), "5xx");
    }
}
