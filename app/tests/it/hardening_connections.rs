//! Connections that never finish their request (issue 17 item 14): a client holding many
//! of them gets no more than its share, the service goes on for everyone else, and the
//! stalled ones are closed by the read timeouts.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::*;

/// A connection from `from` (any 127.x address is this machine) to the app.
async fn connect_from(from: &str, app: &TestApp) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let to = app.base.strip_prefix("http://").unwrap().parse().unwrap();
    socket.connect(to).await.unwrap()
}

/// Reads until the server closes the connection (or `within` passes): what it said.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&seen).into_owned())
}

#[tokio::test]
async fn stalled_connections_are_capped_and_closed_and_service_goes_on() {
    let app = spawn_app_with(&[
        ("GATEHOUSE_MAX_CONNECTIONS_PER_IP", "10"),
        ("GATEHOUSE_HEADER_READ_TIMEOUT", "1s"),
        ("GATEHOUSE_BODY_READ_TIMEOUT", "1s"),
    ])
    .await;
    let started = Instant::now();
    // 30 connections from one client, each with headers that never end.
    let mut stalled = Vec::new();
    for _ in 0..30 {
        let mut s = connect_from("127.0.0.2", &app).await;
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
        stalled.push(s);
    }
    // Everyone else is served meanwhile.
    let res = app.browser().get("/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);
    // The client's first 10 are held until the header timeout; the other 20 are refused
    // at once with 503.
    let mut refused = 0;
    for s in stalled.iter_mut() {
        if let Some(answer) = closed_within(s, Duration::from_secs(5)).await {
            if answer.starts_with("HTTP/1.1 503") {
                refused += 1;
            }
        } else {
            panic!("a stalled connection stayed open past the header timeout");
        }
    }
    assert_eq!(refused, 20);
    assert!(started.elapsed() < Duration::from_secs(6));
    // A body that stops arriving is cut off too.
    let mut s = connect_from("127.0.0.3", &app).await;
    let _ = s
        .write_all(b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=")
        .await;
    assert!(
        closed_within(&mut s, Duration::from_secs(5))
            .await
            .is_some(),
        "a stalled body is not waited for forever"
    );
    // And the capped client is served again once its connections are gone.
    drop(stalled);
    let mut s = connect_from("127.0.0.2", &app).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = closed_within(&mut s, Duration::from_secs(5)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
