//! The load generator: N workers on keep-alive connections, each sending the next request
//! when the previous answer is read, for a fixed time.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;

pub struct Stats {
    pub latencies: Vec<Duration>,
    pub errors: usize,
    pub elapsed: Duration,
}

impl Stats {
    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
        sorted[i]
    }
}

type Worker = tokio::task::JoinHandle<(Vec<Duration>, usize)>;

/// Waits for the workers and adds up what they measured.
async fn gather(workers: Vec<Worker>, started: Instant) -> Stats {
    let mut stats = Stats {
        latencies: Vec::new(),
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for w in workers {
        let (lat, errors) = w.await.unwrap();
        stats.latencies.extend(lat);
        stats.errors += errors;
    }
    stats.elapsed = started.elapsed();
    stats
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .unwrap()
}

pub async fn run(
    url: &str,
    token: Option<&str>,
    body: &Value,
    workers: usize,
    time: Duration,
) -> Stats {
    let client = client();
    let body = serde_json::to_vec(body).unwrap();
    let started = Instant::now();
    let deadline = started + time;
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.to_owned(), body.clone());
            let token = token.map(str::to_owned);
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let mut req = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("accept", "application/json, text/event-stream")
                        .body(body.clone());
                    if let Some(t) = &token {
                        req = req.bearer_auth(t);
                    }
                    match req.send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            lat.push(t.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    gather(tasks, started).await
}

/// Each worker owns one refresh-token chain and rotates it as fast as it can.
pub async fn refresh_loop(base: &str, chains: Vec<(String, String)>, time: Duration) -> Stats {
    let client = client();
    let started = Instant::now();
    let deadline = started + time;
    let tasks: Vec<_> = chains
        .into_iter()
        .enumerate()
        .map(|(worker, (client_id, mut refresh))| {
            let (client, url) = (client.clone(), format!("{base}/token"));
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0;
                let mut n: u32 = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    // Gatehouse limits /token per client address; through a trusted proxy
                    // each request comes from another one, as from many clients.
                    n += 1;
                    let from = format!("10.{}.{}.{}", worker, (n >> 8) & 255, n & 255);
                    let res = client
                        .post(&url)
                        .header("x-forwarded-for", from)
                        .form(&[
                            ("grant_type", "refresh_token"),
                            ("refresh_token", refresh.as_str()),
                            ("client_id", client_id.as_str()),
                        ])
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status().is_success() => {
                            let v: Value = r.json().await.unwrap();
                            refresh = v["refresh_token"].as_str().unwrap().to_owned();
                            lat.push(t.elapsed());
                        }
                        _ => {
                            errors += 1;
                            break;
                        }
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    gather(tasks, started).await
}

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
