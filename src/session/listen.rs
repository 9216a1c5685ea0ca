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
//! Over HTTP each subscription has a transport of its own ([`Transport::fork`]: its own agents
//! and router, sharing the session's notification handler), so that ending one subscription
//! (closing its stream, the spec's cancellation) ends nothing else.
//!
//! Resources: once a gather has read a server's resources, [`Filter::set_resources`] asks
//! for `notifications/resources/updated` of those URIs (`resourceSubscriptions`, when the
//! server advertises `resources.subscribe`): the current subscription is ended (HTTP: its
//! stream closed; stdio: `notifications/cancelled`) and a new one with the new filter opened at
//! once, without counting a failure. Tasks: while a task of the server is waited for,
//! [`Filter::set_tasks`] asks for its `notifications/tasks` (`taskIds`) the same way.
//!
//! Close: [`Listener::stop`] sets the stop flag, disconnects the wake channel (ending a
//! back-off or a stdio wait at once) and closes the current subscription's own transport (HTTP:
//! its agents shut down, interrupting the read); the session's transport close fails a stdio
//! request; [`Listener::join`] joins the thread, waiting at most [`CLOSE_BOUND`] (a thread inside
//! a user's notification callback is left to exit when that returns, like every reader thread).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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
/// The most resource URIs one subscription asks about (more: none are asked about).
pub(crate) const MAX_RESOURCE_SUBSCRIPTIONS: usize = 10_000;

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
    control: Arc<Control>,
}

/// What the thread and its owner share.
struct Control {
    stop: AtomicBool,
    /// Dropped by [`Listener::stop`]: disconnects the thread's waits.
    wake: Mutex<Option<Sender<()>>>,
    /// The filter the next subscription asks for.
    filter: Mutex<Value>,
    /// A new filter is waiting: the current subscription is to be ended and opened again.
    restart: AtomicBool,
    /// Wakes a stdio subscription's wait for a restart (capacity 1).
    restart_tx: Sender<()>,
    /// The current subscription's own transport (HTTP), closed to end it.
    current: Mutex<Option<Arc<dyn Transport>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain values: a panic cannot leave them inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Control {
    /// Closes the current subscription's own transport, if any (never under the lock).
    fn end_current(&self) {
        let current = lock(&self.current).take();
        if let Some(t) = current {
            t.close();
        }
    }
}

/// What the thread needs of its session.
pub(crate) struct Parts {
    pub(crate) server: Arc<str>,
    pub(crate) router: Arc<Router>,
    pub(crate) transport: Arc<dyn Transport>,
    /// The modern protocol version the session speaks.
    pub(crate) version: String,
    /// The `notifications` filter ([`filter`]) of the first subscription.
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
        let (wake, woken) = bounded::<()>(0);
        let (restart_tx, restart_rx) = bounded::<()>(1);
        let control = Arc::new(Control {
            stop: AtomicBool::new(false),
            wake: Mutex::new(Some(wake)),
            filter: Mutex::new(parts.filter.clone()),
            restart: AtomicBool::new(false),
            restart_tx,
            current: Mutex::new(None),
        });
        let (done_tx, done) = bounded::<()>(1);
        let (server, op) = (parts.server.clone(), parts.op.clone());
        let shared = control.clone();
        let spawned = std::thread::Builder::new().name(format!("mcp-listen:{server}")).spawn(move || {
            let _done = done_tx; // dropped when the thread ends: join() waits on it
            run(&parts, &shared, &woken, &restart_rx);
        });
        match spawned {
            Ok(handle) => Some(Listener { reader: Reader { handle, done }, control }),
            Err(e) => {
                log::warn!(
                    "op={op} server={server}: cannot start the subscriptions/listen thread ({e}); no change notifications"
                );
                None
            }
        }
    }

    /// Tells the thread to end, wakes its waits and ends its subscription's own transport (the
    /// session's transport close interrupts the rest).
    pub(crate) fn stop(&self) {
        self.control.stop.store(true, Ordering::SeqCst);
        drop(lock(&self.control.wake).take());
        self.control.end_current();
    }

    /// What changes the thread's filter, usable without holding the session's lock on the
    /// listener ([`Filter::set_resources`] may close a transport).
    pub(crate) fn filter(&self) -> Filter {
        Filter(self.control.clone())
    }

    /// Joins the thread (after [`Listener::stop`] and the transport's close), bounded.
    pub(crate) fn join(self, server: &str) {
        self.reader.join_within(CLOSE_BOUND, server);
    }
}

/// The resource URIs and task ids a running listener asks about ([`Listener::filter`]).
pub(crate) struct Filter(Arc<Control>);

impl Filter {
    /// Asks for `notifications/resources/updated` of `uris` (at most
    /// [`MAX_RESOURCE_SUBSCRIPTIONS`]); when that changes the filter, the subscription is ended
    /// and opened again with it.
    pub(crate) fn set_resources(&self, mut uris: Vec<String>) {
        uris.sort();
        uris.dedup();
        if uris.len() > MAX_RESOURCE_SUBSCRIPTIONS {
            uris.clear();
        }
        self.set("resourceSubscriptions", uris);
    }

    /// Asks for `notifications/tasks` of the tasks `ids` (the tasks extension), as
    /// [`Filter::set_resources`] asks for URIs.
    pub(crate) fn set_tasks(&self, ids: Vec<String>) {
        self.set("taskIds", ids);
    }

    /// Sets the filter's list `key` (removed when empty); a change restarts the subscription.
    fn set(&self, key: &str, mut values: Vec<String>) {
        let control = &self.0;
        values.sort();
        values.dedup();
        let changed = {
            let mut filter = lock(&control.filter);
            let wanted = (!values.is_empty()).then(|| Value::from(values));
            match filter.as_object_mut() {
                Some(f) if f.get(key) != wanted.as_ref() => {
                    match wanted {
                        Some(w) => f.insert(key.into(), w),
                        None => f.remove(key),
                    };
                    true
                }
                _ => false,
            }
        };
        if changed {
            control.restart.store(true, Ordering::SeqCst);
            let _ = control.restart_tx.try_send(());
            control.end_current();
        }
    }
}

/// How one subscription ended.
enum Ended {
    /// Ended by us for a new filter: open the next one at once.
    Restart,
    /// The server answered the request: a graceful end (a result), or an error.
    Answered(Reply),
    /// The stream or the connection broke: why.
    Broken(String),
    /// The session is closing or gone: the thread ends.
    Stopped,
}

/// The thread's loop: subscribe, wait for the end, back off, again — within the limits.
fn run(parts: &Parts, control: &Control, woken: &Receiver<()>, restart: &Receiver<()>) {
    let (server, op) = (&parts.server, &parts.op);
    let stop = &control.stop;
    let mut failures = 0u32;
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let began = Instant::now();
        let (ended, acknowledged) = subscribe(parts, control, n, woken, restart);
        let why = match ended {
            Ended::Stopped => return,
            _ if stop.load(Ordering::SeqCst) => return,
            Ended::Restart => {
                log::debug!("op={op} server={server}: {METHOD}: the filter changed; subscribing again");
                continue;
            }
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

/// One subscription: sends the request and waits until it ends. Returns how it ended and
/// whether the server acknowledged it.
fn subscribe(parts: &Parts, control: &Control, n: u64, woken: &Receiver<()>, restart: &Receiver<()>) -> (Ended, bool) {
    let (server, op, stop) = (&parts.server, &parts.op, &control.stop);
    // This subscription asks for the filter as it is now: an earlier restart request is met.
    control.restart.store(false, Ordering::SeqCst);
    while restart.try_recv().is_ok() {}
    let filter = lock(&control.filter).clone();
    // Over HTTP a transport of its own, whose close ends this subscription alone.
    let child = Arc::new(Router::new(server.clone(), op.clone(), parts.router.notification_handler()));
    let (transport, router, forked) = match parts.transport.fork(child.clone()) {
        Some(t) => (t, child, true),
        None => (parts.transport.clone(), parts.router.clone(), false),
    };
    if forked {
        *lock(&control.current) = Some(transport.clone());
        if stop.load(Ordering::SeqCst) || control.restart.load(Ordering::SeqCst) {
            control.end_current(); // a stop or a new filter came while it was being made
        }
    }
    let acks = router.acknowledged();
    let acknowledged = || router.acknowledged() > acks;
    let id = RequestId::String(format!("mcp-orchestrator-listen-{n}"));
    let rx = match router.register(id.clone(), op) {
        Ok(rx) => rx,
        Err(_) if forked && control.restart.load(Ordering::SeqCst) => return (Ended::Restart, false),
        Err(_) => return (Ended::Stopped, false), // the session is gone (or stopped)
    };
    let envelope = modern::envelope(&parts.version, &router.modern_capabilities());
    let params = modern::with_envelope(Some(json!({ "notifications": filter })), envelope, &Map::new());
    let body = jsonrpc::encode_request(&id, METHOD, Some(&params));
    let headers =
        [("MCP-Protocol-Version".to_string(), parts.version.clone()), ("Mcp-Method".to_string(), METHOD.to_string())];
    log::debug!("op={op} server={server}: -> {METHOD} (id {id})");
    // Over Streamable HTTP (a transport that reads each reply inside its send) this returns
    // when the stream ends: the stream has no deadline of its own, by design, and closing its
    // transport interrupts the read. Over stdio it returns once the line is written, within
    // the timeout.
    let bound = if transport.pipelines() { parts.timeout } else { Duration::MAX };
    let sent = transport.send_with(body, METHOD, op, deadline_in(bound), &headers);
    let ended = match sent {
        Err(e) => Ended::Broken(e.to_string()),
        // Over stdio the subscription lasts until its answer, the session's end (the router
        // fails every pending request), a new filter, or close (the wake channel disconnects).
        Ok(()) => select! {
            recv(rx) -> reply => match reply {
                Ok(reply) => Ended::Answered(reply),
                Err(_) => Ended::Stopped,
            },
            recv(restart) -> _ => Ended::Restart,
            recv(woken) -> _ => Ended::Stopped,
        },
    };
    router.forget(&id);
    if forked {
        control.end_current();
        transport.close(); // (already closed when it was ended from outside)
    }
    let ended = match ended {
        _ if stop.load(Ordering::SeqCst) => Ended::Stopped,
        Ended::Restart => {
            if !forked {
                // stdio: the spec's cancellation of a subscription.
                let note = json!({ "requestId": id, "reason": "the subscription's filter changed" });
                let body = jsonrpc::encode_notification("notifications/cancelled", Some(&note));
                let deadline = deadline_in(parts.timeout);
                if let Err(e) = parts.transport.send(body, "notifications/cancelled", op, deadline) {
                    log::debug!("op={op} server={server}: cancelling {METHOD} {id}: {e}");
                }
            }
            Ended::Restart
        }
        _ if forked && control.restart.load(Ordering::SeqCst) => Ended::Restart,
        Ended::Answered(Reply::Closed(why)) if parts.router.is_dead() => {
            log::debug!("op={op} server={server}: {METHOD}: the session ended ({why})");
            Ended::Stopped
        }
        Ended::Answered(Reply::Closed(why)) => Ended::Broken(why),
        other => other,
    };
    (ended, acknowledged())
}

/// The pause after `failures` (≥ 1) failed subscriptions in a row: `BACKOFF_MIN · 2^(failures-1)`,
/// at most `BACKOFF_MAX`, jittered into its upper half.
pub(crate) fn backoff(failures: u32) -> Duration {
    crate::backoff::backoff(BACKOFF_MIN, BACKOFF_MAX, failures)
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
