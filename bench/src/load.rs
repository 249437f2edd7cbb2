//! Long-lived connections: SSE streams held open through the gateway (the memory figure).
//! Throughput and latency are wrk's (`wrk.rs`).

use futures_util::StreamExt;

/// Opens `n` SSE streams (GET) through the gateway and keeps them open; each has received
/// its first event when this returns.
pub type Stream =
    futures_util::stream::BoxStream<'static, Result<axum::body::Bytes, reqwest::Error>>;

pub async fn open_streams(url: &str, token: &str, n: usize) -> Vec<Stream> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let res = client
            .get(url)
            .bearer_auth(token)
            .header("accept", "text/event-stream")
            .send()
            .await;
        let Ok(res) = res else { break };
        if !res.status().is_success() {
            break;
        }
        let mut stream: Stream = Box::pin(res.bytes_stream());
        if stream.next().await.is_none() {
            break;
        }
        // Kept open: the connection closes only when the vector is dropped.
        out.push(stream);
    }
    out
}
