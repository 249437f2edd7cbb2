//! (ssr) The accept loop: hyper with read timeouts and a cap on open connections per client
//! address, so connections that never finish a request cannot exhaust file descriptors and
//! stop the service (`axum::serve` has neither).

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::extract::ConnectInfo;
use axum::Router;
use gatehouse::config::ConnectionLimits;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use ipnet::IpNet;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// Open connections per client address; a slot is released when its connection ends.
#[derive(Default, Clone)]
struct Slots(Arc<Mutex<HashMap<IpAddr, usize>>>);

struct Slot {
    slots: Slots,
    key: IpAddr,
}

impl Slots {
    fn take(&self, key: IpAddr, max: usize) -> Option<Slot> {
        let mut open = self.0.lock().ok()?;
        let n = open.entry(key).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            slots: self.clone(),
            key,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.slots.0.lock() {
            if let Some(n) = open.get_mut(&self.key) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&self.key);
                }
            }
        }
    }
}

/// Serves `router` on `listener` until `stop` resolves, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    trusted_proxies: Vec<IpNet>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let slots = Slots::default();
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // Out of descriptors and the like: say so, wait, and keep serving.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Answers are often written in pieces (SSE: headers, then each event): without
        // TCP_NODELAY, Nagle holds the next piece until the client's delayed ACK, 40 ms.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, %peer, "TCP_NODELAY not set");
        }
        // A reverse proxy carries many clients on its connections: only direct peers count.
        let slot = if trusted_proxies.iter().any(|net| net.contains(&peer.ip())) {
            None
        } else {
            let key = gatehouse::http::address_key(peer.ip());
            match slots.take(key, limits.max_per_ip) {
                Some(slot) => Some(slot),
                None => {
                    tokio::spawn(refuse(stream));
                    continue;
                }
            }
        };
        let service = hyper::service::service_fn({
            let router = router.clone();
            move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(request.map(axum::body::Body::new))
            }
        });
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            let _held = slot;
            if let Err(err) = connection.await {
                tracing::debug!(%err, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A client over its connection cap: one plain answer, then the connection is closed.
async fn refuse(mut stream: TcpStream) {
    let answer = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 37\r\nRetry-After: 5\r\nConnection: close\r\n\r\ntoo many connections from one client\n";
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
