//! The activity log of gateway calls: user, server, client, method, tool, status, duration —
//! never payloads or secrets. Written in batches by one background task, so a busy gateway
//! costs one SQLite transaction per batch instead of one per call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, Notify};

use crate::domain::UserId;
use crate::service::activity::{self, CallEvent};
use crate::state::SharedCore;

/// Calls waiting to be written; beyond this, records are dropped (and counted in the log)
/// rather than slowing the gateway.
const QUEUE: usize = 10_000;
const BATCH: usize = 512;
/// How long the writer gathers calls before writing them.
const WINDOW: Duration = Duration::from_millis(50);

#[derive(Debug, Clone)]
pub struct CallRecord {
    pub user: UserId,
    pub client: String,
    pub server: String,
    pub method: Option<String>,
    pub tool: Option<String>,
    pub status: u16,
    pub duration_ms: u128,
    /// Why Gatehouse answered itself (e.g. "needs re-authentication").
    pub note: Option<&'static str>,
}

impl CallRecord {
    fn event(&self) -> CallEvent {
        CallEvent {
            user: self.user,
            client: self.client.clone(),
            server: self.server.clone(),
            detail: self.detail(),
            failed: self.note.is_some() || self.status >= 400,
            duration_ms: i64::try_from(self.duration_ms).unwrap_or(i64::MAX),
        }
    }

    fn detail(&self) -> String {
        let what = match (&self.method, &self.tool) {
            (Some(m), Some(t)) => format!("{m} {t}"),
            (Some(m), None) => m.clone(),
            (None, _) => "(no method)".to_owned(),
        };
        format!(
            "{}: {what} → {} in {} ms{}",
            self.server,
            self.status,
            self.duration_ms,
            self.note.map(|n| format!(" ({n})")).unwrap_or_default()
        )
    }
}

enum Message {
    Call(CallRecord),
    Flush(oneshot::Sender<()>),
}

#[derive(Default)]
pub struct AuditSink {
    queue: OnceLock<mpsc::Sender<Message>>,
    /// Wakes the writer before its window ends (a flush is waiting).
    hurry: Arc<Notify>,
    /// Records dropped since the last warning: one line a second at most, not one per call
    /// (a line per dropped call would slow an overloaded gateway further).
    dropped: AtomicU64,
    warned: Mutex<Option<Instant>>,
}

impl AuditSink {
    fn sender(&self, core: &SharedCore) -> &mpsc::Sender<Message> {
        self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            let core = core.clone();
            let write = move |calls: Vec<CallRecord>| {
                let core = core.clone();
                async move {
                    let events: Vec<CallEvent> = calls.iter().map(CallRecord::event).collect();
                    if let Err(err) = activity::record_calls(&core, &events).await {
                        tracing::error!(%err, count = calls.len(), "writing gateway activity failed");
                    }
                }
            };
            tokio::spawn(write_batches(rx, self.hurry.clone(), WINDOW, write));
            tx
        })
    }

    pub fn record(&self, core: &SharedCore, call: CallRecord) {
        if self.sender(core).try_send(Message::Call(call)).is_err() {
            metrics::counter!("gatehouse_activity_dropped_total").increment(1);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            self.warn_if_due(Instant::now());
        }
    }

    fn warn_if_due(&self, now: Instant) {
        let Ok(mut warned) = self.warned.lock() else {
            return;
        };
        if warned.is_some_and(|at| now.duration_since(at) < Duration::from_secs(1)) {
            return;
        }
        *warned = Some(now);
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        tracing::warn!(
            dropped,
            "gateway activity queue full: call records dropped since the last warning"
        );
    }

    /// Waits until every call recorded before now is written (tests, shutdown).
    pub async fn flush(&self, core: &SharedCore) {
        let (done, written) = oneshot::channel();
        if self.sender(core).send(Message::Flush(done)).await.is_ok() {
            self.hurry.notify_one();
            let _ = written.await;
        }
    }
}

/// Gathers calls for `window`, then hands them to `write` in batches of at most `BATCH`.
async fn write_batches<W, F>(
    mut rx: mpsc::Receiver<Message>,
    hurry: Arc<Notify>,
    window: Duration,
    mut write: W,
) where
    W: FnMut(Vec<CallRecord>) -> F,
    F: std::future::Future<Output = ()>,
{
    let mut batch = Vec::with_capacity(BATCH);
    // The last batch was full: more are waiting, write them without gathering.
    let mut behind = false;
    while let Some(first) = rx.recv().await {
        // Gather for a moment, asleep: under load that is one transaction (one fsync) per
        // window instead of one per handful of calls, and no wake-up of this task per call
        // (a receive per message was one task poll per gateway call). A flush ends the wait.
        if !behind && !matches!(first, Message::Flush(_)) {
            tokio::select! {
                () = tokio::time::sleep(window) => {}
                () = hurry.notified() => {}
            }
        }
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        behind = batch.len() == BATCH;
        let mut flushes = Vec::new();
        let calls: Vec<CallRecord> = batch
            .drain(..)
            .filter_map(|m| match m {
                Message::Call(c) => Some(c),
                Message::Flush(done) => {
                    flushes.push(done);
                    None
                }
            })
            .collect();
        if !calls.is_empty() {
            write(calls).await;
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_records_are_reported_at_most_once_a_second_with_their_count() {
        let sink = AuditSink::default();
        let t0 = Instant::now();
        sink.dropped.store(3, Ordering::Relaxed);
        sink.warn_if_due(t0);
        assert_eq!(sink.dropped.load(Ordering::Relaxed), 0, "reported");
        sink.dropped.fetch_add(2, Ordering::Relaxed);
        sink.warn_if_due(t0 + Duration::from_millis(10));
        assert_eq!(
            sink.dropped.load(Ordering::Relaxed),
            2,
            "held for the next line"
        );
        sink.warn_if_due(t0 + Duration::from_secs(1));
        assert_eq!(sink.dropped.load(Ordering::Relaxed), 0);
    }

    fn record(n: usize) -> CallRecord {
        CallRecord {
            user: UserId::new(1),
            client: "c".into(),
            server: format!("s{n}"),
            method: None,
            tool: None,
            status: 200,
            duration_ms: 1,
            note: None,
        }
    }

    /// A writer gathering for an hour, whose batches' sizes are kept in `written`.
    fn writer() -> (mpsc::Sender<Message>, Arc<Notify>, Arc<Mutex<Vec<usize>>>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let hurry = Arc::new(Notify::new());
        let written = Arc::new(Mutex::new(Vec::new()));
        let sizes = written.clone();
        let write = move |calls: Vec<CallRecord>| {
            sizes.lock().unwrap().push(calls.len());
            std::future::ready(())
        };
        tokio::spawn(write_batches(
            rx,
            hurry.clone(),
            Duration::from_secs(3600),
            write,
        ));
        (tx, hurry, written)
    }

    async fn flush(tx: &mpsc::Sender<Message>, hurry: &Notify) {
        let (done, written) = oneshot::channel();
        tx.send(Message::Flush(done)).await.unwrap();
        hurry.notify_one();
        // Bounded: without the early wake-up the writer would sleep out its hour.
        tokio::time::timeout(Duration::from_secs(10), written)
            .await
            .expect("a flush ends the writer's window")
            .unwrap();
    }

    #[tokio::test]
    async fn calls_are_gathered_into_one_write_and_a_flush_ends_the_window() {
        let (tx, hurry, written) = writer();
        for n in 0..3 {
            tx.try_send(Message::Call(record(n))).unwrap();
        }
        flush(&tx, &hurry).await;
        assert_eq!(*written.lock().unwrap(), [3]);
    }

    #[tokio::test]
    async fn after_a_full_batch_the_next_is_written_without_gathering() {
        let (tx, hurry, written) = writer();
        for n in 0..=BATCH {
            tx.try_send(Message::Call(record(n))).unwrap();
        }
        // One wake-up: the first batch ends the window, the rest must not wait for another.
        flush(&tx, &hurry).await;
        assert_eq!(*written.lock().unwrap(), [BATCH, 1]);
    }

    #[test]
    fn detail_names_server_method_tool_status_and_duration() {
        let r = CallRecord {
            user: UserId::new(1),
            client: "c".into(),
            server: "gmail".into(),
            method: Some("tools/call".into()),
            tool: Some("send_email".into()),
            status: 200,
            duration_ms: 12,
            note: None,
        };
        assert_eq!(r.detail(), "gmail: tools/call send_email → 200 in 12 ms");
    }
}
