//! `subscriptions/listen` (the 2026-07-28 wire): change notifications on a thread of their own.
//!
//! The modern wire has no GET stream and no `resources/subscribe`: a client that wants
//! `notifications/{tools,prompts,resources}/list_changed` asks for them with one long-lived
//! `subscriptions/listen` request. Over HTTP its reply is an event stream that stays open; over
//! stdio the notifications arrive on stdout like any other message. Either way they go through
//! the session's [`Router`] to its notification handler (the orchestrator's hooks: cache
//! invalidation, subscribers), exactly like a handshake-era server's notifications. The
//! server's first message, `notifications/subscriptions/acknowledged`, is taken by the router
//! (counted, not handed on).
//!
//! The thread, `mcp-listen:<server>`, sends the request and waits for the subscription to end:
//! over HTTP inside the POST (the stream is read on this thread), over stdio on the request's
//! reply channel. An end — the stream dropped, or the server's graceful response — is followed
//! by a new request after a back-off ([`BACKOFF_MIN`] doubling to [`BACKOFF_MAX`], jittered), at
//! most [`MAX_FAILURES`] times in a row; a subscription that was acknowledged and lasted
//! [`STABLE`] resets the count. A JSON-RPC error (the server does not offer listen) ends it at
//! once. When it gives up, the cache relies on TTLs alone (a warning says so).
//!
//! Close: [`Listener::stop`] sets the stop flag and disconnects the wake channel (ending a
//! back-off at once); the transport's close then interrupts the stream's read (HTTP: agent
//! shutdown) or fails the pending request (stdio); [`Listener::join`] joins the thread, waiting
//! at most [`CLOSE_BOUND`] (a thread inside a user's notification callback is left to exit when
//! that returns, like every reader thread).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded, select};
use serde_json::{Map, Value, json};

use crate::jsonrpc::{self, RequestId};
use crate::op::OpId;
use crate::protocol::ServerCapabilities;
use crate::protocol::modern;
use crate::transport::{CLOSE_BOUND, Reader, Reply, Router, Transport, deadline_in};

/// The first back-off after a subscription ended.
pub(crate) const BACKOFF_MIN: Duration = Duration::from_millis(250);
/// The longest back-off.
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Subscriptions in a row that end (or fail) before [`STABLE`] before the thread gives up.
pub(crate) const MAX_FAILURES: u32 = 8;
/// An acknowledged subscription that lasted this long was a working one: the count restarts.
pub(crate) const STABLE: Duration = Duration::from_secs(10);
/// The method.
const METHOD: &str = "subscriptions/listen";

/// The `notifications` filter to ask for: what the server's capabilities advertise (the spec:
/// "only request what the server's capabilities advertise"). `None`: nothing to listen for.
pub(crate) fn filter(capabilities: &ServerCapabilities) -> Option<Value> {
    let mut filter = Map::new();
    if capabilities.tools.as_ref().and_then(|t| t.list_changed) == Some(true) {
        filter.insert("toolsListChanged".into(), Value::Bool(true));
    }
    if capabilities.prompts.as_ref().and_then(|p| p.list_changed) == Some(true) {
        filter.insert("promptsListChanged".into(), Value::Bool(true));
    }
    if capabilities.resources.as_ref().and_then(|r| r.list_changed) == Some(true) {
        filter.insert("resourcesListChanged".into(), Value::Bool(true));
    }
    (!filter.is_empty()).then_some(Value::Object(filter))
}

/// The running `mcp-listen:<server>` thread.
pub(crate) struct Listener {
    reader: Reader,
    stop: Arc<AtomicBool>,
    /// Dropped by [`Listener::stop`]: disconnects the thread's back-off wait.
    wake: std::sync::Mutex<Option<Sender<()>>>,
}

/// What the thread needs of its session.
pub(crate) struct Parts {
    pub(crate) server: Arc<str>,
    pub(crate) router: Arc<Router>,
    pub(crate) transport: Arc<dyn Transport>,
    /// The modern protocol version the session speaks.
    pub(crate) version: String,
    /// The `notifications` filter ([`filter`]).
    pub(crate) filter: Value,
    /// The op of the session's connect: the context of the thread's records.
    pub(crate) op: OpId,
    /// The server's request timeout: bounds sending the request where the transport does not
    /// read the subscription inside the send (stdio).
    pub(crate) timeout: Duration,
}

impl Listener {
    /// Starts the thread; `None` (logged) when no thread can be had.
    pub(crate) fn start(parts: Parts) -> Option<Listener> {
        let stop = Arc::new(AtomicBool::new(false));
        let (wake, woken) = bounded::<()>(0);
        let (done_tx, done) = bounded::<()>(1);
        let (server, op) = (parts.server.clone(), parts.op.clone());
        let flag = stop.clone();
        let spawned = std::thread::Builder::new().name(format!("mcp-listen:{server}")).spawn(move || {
            let _done = done_tx; // dropped when the thread ends: join() waits on it
            run(&parts, &flag, &woken);
        });
        match spawned {
            Ok(handle) => {
                Some(Listener { reader: Reader { handle, done }, stop, wake: std::sync::Mutex::new(Some(wake)) })
            }
            Err(e) => {
                log::warn!(
                    "op={op} server={server}: cannot start the subscriptions/listen thread ({e}); no change notifications"
                );
                None
            }
        }
    }

    /// Tells the thread to end and wakes its back-off; the transport's close interrupts the rest.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        drop(self.wake.lock().unwrap_or_else(|e| e.into_inner()).take());
    }

    /// Joins the thread (after [`Listener::stop`] and the transport's close), bounded.
    pub(crate) fn join(self, server: &str) {
        self.reader.join_within(CLOSE_BOUND, server);
    }
}

/// How one subscription ended.
enum Ended {
    /// The server answered the request: a graceful end (a result), or an error.
    Answered(Reply),
    /// The stream or the connection broke: why.
    Broken(String),
    /// The session is closing or gone: the thread ends.
    Stopped,
}

/// The thread's loop: subscribe, wait for the end, back off, again — within the limits.
fn run(parts: &Parts, stop: &AtomicBool, woken: &Receiver<()>) {
    let (server, op) = (&parts.server, &parts.op);
    let mut failures = 0u32;
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let began = Instant::now();
        let acks = parts.router.acknowledged();
        let ended = subscribe(parts, n, stop, woken);
        let acknowledged = parts.router.acknowledged() > acks;
        let why = match ended {
            Ended::Stopped => return,
            _ if stop.load(Ordering::SeqCst) => return,
            Ended::Answered(Reply::Rpc(e)) => {
                log::info!(
                    "op={op} server={server}: {METHOD} refused ({} {}); no change notifications from this server",
                    e.code,
                    e.message
                );
                return;
            }
            Ended::Answered(Reply::Result(_)) => "the server ended the subscription".to_string(),
            Ended::Answered(other) => format!("{other:?}"),
            Ended::Broken(why) => why,
        };
        if acknowledged && began.elapsed() >= STABLE {
            failures = 0;
        }
        failures += 1;
        if failures >= MAX_FAILURES {
            log::warn!(
                "op={op} server={server}: {METHOD} ended {failures} times in a row ({why}); giving up: \
                 its lists stay cached until their TTL"
            );
            return;
        }
        let pause = backoff(failures);
        log::debug!("op={op} server={server}: {METHOD} ended ({why}); again in {pause:?}");
        if woken.recv_timeout(pause) != Err(RecvTimeoutError::Timeout) {
            return; // stopped
        }
    }
}

/// One subscription: sends the request and waits until it ends.
fn subscribe(parts: &Parts, n: u64, stop: &AtomicBool, woken: &Receiver<()>) -> Ended {
    let (server, op) = (&parts.server, &parts.op);
    let id = RequestId::String(format!("mcp-orchestrator-listen-{n}"));
    let rx = match parts.router.register(id.clone(), op) {
        Ok(rx) => rx,
        Err(_) => return Ended::Stopped, // the session is gone
    };
    let envelope = modern::envelope(&parts.version, &parts.router.capabilities());
    let params = modern::with_envelope(Some(json!({ "notifications": parts.filter })), envelope, &Map::new());
    let body = jsonrpc::encode_request(&id, METHOD, Some(&params));
    let headers =
        [("MCP-Protocol-Version".to_string(), parts.version.clone()), ("Mcp-Method".to_string(), METHOD.to_string())];
    log::debug!("op={op} server={server}: -> {METHOD} (id {id})");
    // Over Streamable HTTP (a transport that reads each reply inside its send) this returns
    // when the stream ends: the stream has no deadline of its own, by design, and close
    // interrupts its reads. Over stdio it returns once the line is written, within the timeout.
    let bound = if parts.transport.pipelines() { parts.timeout } else { Duration::MAX };
    let sent = parts.transport.send_with(body, METHOD, op, deadline_in(bound), &headers);
    if let Err(e) = sent {
        parts.router.forget(&id);
        return if stop.load(Ordering::SeqCst) { Ended::Stopped } else { Ended::Broken(e.to_string()) };
    }
    // Over stdio the subscription lasts until its answer, the session's end (the router fails
    // every pending request) or close (the wake channel disconnects).
    let ended = select! {
        recv(rx) -> reply => match reply {
            Ok(reply) => Ended::Answered(reply),
            Err(_) => Ended::Stopped,
        },
        recv(woken) -> _ => Ended::Stopped,
    };
    parts.router.forget(&id);
    match ended {
        Ended::Answered(Reply::Closed(why)) if parts.router.is_dead() || stop.load(Ordering::SeqCst) => {
            log::debug!("op={op} server={server}: {METHOD}: the session ended ({why})");
            Ended::Stopped
        }
        Ended::Answered(Reply::Closed(why)) => Ended::Broken(why),
        other => other,
    }
}

/// The pause after `failures` (≥ 1) failed subscriptions in a row: `BACKOFF_MIN · 2^(failures-1)`,
/// at most `BACKOFF_MAX`, jittered into its upper half.
pub(crate) fn backoff(failures: u32) -> Duration {
    let o = crate::config::Orchestration {
        backoff_min: BACKOFF_MIN,
        backoff_max: BACKOFF_MAX,
        ..crate::config::Orchestration::default()
    };
    crate::orchestrator::slot::backoff(&o, failures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ListChangedCapability, ResourcesCapability};

    #[test]
    fn the_filter_asks_only_for_what_the_server_advertises() {
        assert_eq!(filter(&ServerCapabilities::default()), None);
        let caps = ServerCapabilities {
            tools: Some(ListChangedCapability { list_changed: Some(true) }),
            prompts: Some(ListChangedCapability { list_changed: Some(false) }),
            resources: Some(ResourcesCapability { subscribe: Some(true), list_changed: Some(true) }),
            ..ServerCapabilities::default()
        };
        assert_eq!(filter(&caps), Some(json!({"toolsListChanged": true, "resourcesListChanged": true})));
        let subscribe_only = ServerCapabilities {
            resources: Some(ResourcesCapability { subscribe: Some(true), list_changed: None }),
            ..ServerCapabilities::default()
        };
        assert_eq!(filter(&subscribe_only), None);
    }

    #[test]
    fn the_backoff_grows_within_its_bounds() {
        for failures in 1..20 {
            let b = backoff(failures);
            assert!(b >= BACKOFF_MIN / 2 && b <= BACKOFF_MAX, "{failures}: {b:?}");
        }
        assert!(backoff(12) >= BACKOFF_MAX / 2);
    }
}
