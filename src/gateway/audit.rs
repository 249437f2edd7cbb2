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
            tokio::spawn(write_batches(core.clone(), rx, self.hurry.clone()));
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

async fn write_batches(core: SharedCore, mut rx: mpsc::Receiver<Message>, hurry: Arc<Notify>) {
    let mut batch = Vec::with_capacity(BATCH);
    // The last batch was full: more are waiting, write them without gathering.
    let mut behind = false;
    while let Some(first) = rx.recv().await {
        // Gather for a moment, asleep: under load that is one transaction (one fsync) per
        // window instead of one per handful of calls, and no wake-up of this task per call
        // (a receive per message was one task poll per gateway call). A flush ends the wait.
        if !behind && !matches!(first, Message::Flush(_)) {
            tokio::select! {
                () = tokio::time::sleep(WINDOW) => {}
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
            let events: Vec<CallEvent> = calls.iter().map(CallRecord::event).collect();
            if let Err(err) = activity::record_calls(&core, &events).await {
                tracing::error!(%err, count = calls.len(), "writing gateway activity failed");
            }
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
