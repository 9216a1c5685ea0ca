//! [`Cleanup`]: a session's clean-up thread (`mcp-cleanup:<server>`), which sends
//! `notifications/cancelled` for requests their callers gave up on, so that a caller's error
//! arrives within its deadline whatever the server does with the notice.
//!
//! The thread is started at the first cancellation, fed by a bounded channel (a full queue drops
//! the notice: cancellation is best effort), and sends each notice with its own deadline; a notice
//! whose deadline passed while it waited is dropped. `stop` + `join` end it on close, bounded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use serde_json::json;

use crate::jsonrpc::{self, RequestId};
use crate::op::OpId;
use crate::transport::{CLOSE_BOUND, Reader, Transport};

/// The most cancellation notices waiting to be sent.
const QUEUE: usize = 64;

/// One notice to send.
struct Notice {
    id: RequestId,
    method: &'static str,
    op: OpId,
    reason: String,
    until: Instant,
}

struct Worker {
    tx: Sender<Notice>,
    reader: Reader,
}

/// A session's clean-up thread, started on demand.
pub(crate) struct Cleanup {
    server: Arc<str>,
    transport: Arc<dyn Transport>,
    stopped: Arc<AtomicBool>,
    worker: Mutex<Option<Worker>>,
    /// The thread, once `stop` has taken it, until `join`.
    stopping: Mutex<Option<Reader>>,
}

impl Cleanup {
    pub(crate) fn new(server: Arc<str>, transport: Arc<dyn Transport>) -> Cleanup {
        Cleanup {
            server,
            transport,
            stopped: Arc::new(AtomicBool::new(false)),
            worker: Mutex::new(None),
            stopping: Mutex::new(None),
        }
    }

    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        // The guarded values stay consistent whatever panicked while holding them.
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `notifications/cancelled` for request `id`, to be sent before `until`. Returns at
    /// once.
    pub(crate) fn cancel(&self, id: &RequestId, method: &'static str, op: &OpId, reason: String, until: Instant) {
        let tx = {
            let mut worker = Self::lock(&self.worker);
            // Checked under the lock `stop` takes: no thread is started after it.
            if self.stopped.load(Ordering::SeqCst) {
                return;
            }
            if worker.is_none() {
                *worker = self.spawn();
            }
            worker.as_ref().map(|w| w.tx.clone())
        };
        let Some(tx) = tx else {
            log::debug!("op={op} server={}: not cancelling {method} (id {id}): no clean-up thread", self.server);
            return;
        };
        log::debug!("op={op} server={}: cancelling {method} (id {id}): {reason}", self.server);
        let notice = Notice { id: id.clone(), method, op: op.clone(), reason, until };
        if let Err(TrySendError::Full(n) | TrySendError::Disconnected(n)) = tx.try_send(notice) {
            log::debug!(
                "op={} server={}: not cancelling {} (id {}): the queue is full",
                n.op,
                self.server,
                n.method,
                n.id
            );
        }
    }

    fn spawn(&self) -> Option<Worker> {
        let (tx, rx) = bounded(QUEUE);
        let (done_tx, done) = bounded::<()>(0);
        let (server, transport, stopped) = (self.server.clone(), self.transport.clone(), self.stopped.clone());
        let spawned = std::thread::Builder::new().name(format!("mcp-cleanup:{}", self.server)).spawn(move || {
            let _done = done_tx; // dropped when the thread ends: join waits on it
            run(&server, transport.as_ref(), &rx, &stopped);
        });
        match spawned {
            Ok(handle) => Some(Worker { tx, reader: Reader { handle, done } }),
            Err(e) => {
                log::warn!("server={}: cannot start the clean-up thread: {e}", self.server);
                None
            }
        }
    }

    /// No more notices: the thread drops what is queued and ends after the send in progress.
    pub(crate) fn stop(&self) {
        let worker = {
            let mut worker = Self::lock(&self.worker);
            self.stopped.store(true, Ordering::SeqCst);
            worker.take()
        };
        if let Some(Worker { tx, reader }) = worker {
            drop(tx);
            *Self::lock(&self.stopping) = Some(reader);
        }
    }

    /// Joins the thread after [`stop`](Self::stop), waiting at most [`CLOSE_BOUND`] (the
    /// transport's close makes a send in progress fail at once).
    pub(crate) fn join(&self) {
        let reader = Self::lock(&self.stopping).take();
        if let Some(reader) = reader {
            reader.join_within(CLOSE_BOUND, &self.server);
        }
    }
}

fn run(server: &str, transport: &dyn Transport, rx: &Receiver<Notice>, stopped: &AtomicBool) {
    for n in rx {
        if stopped.load(Ordering::SeqCst) {
            continue; // the session is closing: the server forgets its requests anyway
        }
        if Instant::now() >= n.until {
            log::debug!("op={} server={server}: not cancelling {} (id {}): no time left", n.op, n.method, n.id);
            continue;
        }
        let params = json!({ "requestId": n.id, "reason": n.reason });
        let body = jsonrpc::encode_notification("notifications/cancelled", Some(&params));
        if let Err(e) = transport.send(body, "notifications/cancelled", &n.op, n.until) {
            log::debug!("op={} server={server}: could not send the cancellation of id {}: {e}", n.op, n.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::error::Result;

    /// Records what it is asked to send; each send takes `delay` (or until close).
    struct Recorder {
        sent: Mutex<Vec<(serde_json::Value, Instant)>>,
        delay: Duration,
        closed: crossbeam_channel::Sender<()>,
        closed_rx: Receiver<()>,
    }

    impl Recorder {
        fn new(delay: Duration) -> Arc<Recorder> {
            let (closed, closed_rx) = bounded(1);
            Arc::new(Recorder { sent: Mutex::new(Vec::new()), delay, closed, closed_rx })
        }

        fn sent(&self) -> Vec<(serde_json::Value, Instant)> {
            self.sent.lock().unwrap().clone()
        }
    }

    impl Transport for Recorder {
        fn send(&self, message: Vec<u8>, _: &str, _: &OpId, deadline: Instant) -> Result<()> {
            self.sent.lock().unwrap().push((serde_json::from_slice(&message).unwrap(), deadline));
            let _ = self.closed_rx.recv_timeout(self.delay.min(deadline.saturating_duration_since(Instant::now())));
            Ok(())
        }

        fn close(&self) {
            let _ = self.closed.try_send(());
        }
    }

    fn wait_for(what: &str, f: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !f() {
            assert!(Instant::now() < deadline, "not within 5 s: {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn notices_are_sent_in_order_each_with_its_own_deadline_and_stale_ones_are_dropped() {
        let transport = Recorder::new(Duration::ZERO);
        let cleanup = Cleanup::new("s".into(), transport.clone());
        let op = OpId::new();
        let until = Instant::now() + Duration::from_secs(2);
        let t0 = Instant::now();
        cleanup.cancel(&RequestId::Number(7), "tools/call", &op, "timeout".into(), until);
        cleanup.cancel(&RequestId::Number(8), "tools/call", &op, "timeout".into(), Instant::now());
        cleanup.cancel(&RequestId::Number(9), "resources/read", &op, "timeout".into(), until);
        assert!(t0.elapsed() < Duration::from_millis(500), "queueing took {:?}", t0.elapsed());
        wait_for("two notices sent", || transport.sent().len() == 2);
        let sent = transport.sent();
        assert_eq!(sent[0].0["method"], "notifications/cancelled");
        assert_eq!(sent[0].0["params"]["requestId"], 7);
        assert_eq!(sent[0].0["params"]["reason"], "timeout");
        assert_eq!(sent[0].1, until);
        // Id 8 had no time left: dropped, not sent late.
        assert_eq!(sent[1].0["params"]["requestId"], 9);
        cleanup.stop();
        cleanup.join();
    }

    #[test]
    fn stop_drops_what_is_queued_and_join_is_bounded() {
        // Each send takes up to 10 s unless the transport closes.
        let transport = Recorder::new(Duration::from_secs(10));
        let cleanup = Cleanup::new("s".into(), transport.clone());
        let op = OpId::new();
        let until = Instant::now() + Duration::from_secs(10);
        for id in 0..5 {
            cleanup.cancel(&RequestId::Number(id), "tools/call", &op, "timeout".into(), until);
        }
        wait_for("the first notice in flight", || transport.sent().len() == 1);
        let t0 = Instant::now();
        cleanup.stop();
        transport.close(); // as Session::close does between stop and join
        cleanup.join();
        assert!(t0.elapsed() < Duration::from_secs(2), "join took {:?}", t0.elapsed());
        assert_eq!(transport.sent().len(), 1, "notices were sent after stop");
        // Later cancellations are ignored, and start no thread.
        cleanup.cancel(&RequestId::Number(99), "tools/call", &op, "timeout".into(), until);
        assert!(Cleanup::lock(&cleanup.worker).is_none());
    }
}
