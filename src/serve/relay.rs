//! What passes through `serve` during a routed `tools/call`: the upstream server's requests
//! (elicitation, sampling, roots) asked of the downstream client, the upstream's progress
//! notifications sent downstream with the downstream's own token, and the downstream's
//! `notifications/cancelled` cancelling the upstream call.
//!
//! Every routed call is registered here for its duration, with the downstream connection it
//! came on ([`Link`]). An upstream request is relayed to the call it belongs to: the call whose
//! thread receives it (over Streamable HTTP upstream, the caller's thread reads the reply
//! stream), else the one call in flight on that upstream server (over stdio and the legacy
//! event stream, a reader thread receives it). When calls from different downstream
//! connections are in flight on that server, no guess is made: the upstream gets an error.
//! The request goes downstream with an id of ours (`mcp-orchestrator-<n>`), and its answer
//! goes back upstream under the upstream's own id (the session's router keeps that), so
//! concurrent calls are never mis-routed.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, bounded};
use serde_json::{Value, json};

use super::Server;
use crate::client::CallControl;
use crate::handlers::{Relay, RequestContext};
use crate::jsonrpc::{self, RequestId, RpcError};

/// JSON-RPC "internal error".
const INTERNAL_ERROR: i64 = -32603;
/// The prefix of the ids of our requests to downstream clients.
const ID_PREFIX: &str = "mcp-orchestrator-";

/// One downstream connection's way to its client: sends an encoded message (it must not
/// block: a channel send), and what the client declared.
pub(crate) struct Link {
    send: Box<dyn Fn(Vec<u8>) -> bool + Send + Sync>,
    /// The connection (cancellations name request ids of one connection): `stdio-<n>`, or the
    /// HTTP session id.
    key: String,
    /// The client's capabilities (its `initialize`'s).
    capabilities: Mutex<Value>,
}

impl Link {
    pub(crate) fn new(
        key: String,
        capabilities: Value,
        send: impl Fn(Vec<u8>) -> bool + Send + Sync + 'static,
    ) -> Link {
        Link { send: Box::new(send), key, capabilities: Mutex::new(capabilities) }
    }

    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    pub(crate) fn set_capabilities(&self, capabilities: Value) {
        *lock(&self.capabilities) = capabilities;
    }

    fn send(&self, bytes: Vec<u8>) -> bool {
        (self.send)(bytes)
    }

    /// Whether the client declared the capability a server request of `method` needs.
    fn supports(&self, method: &str) -> bool {
        let key = match method {
            "elicitation/create" => "elicitation",
            "sampling/createMessage" => "sampling",
            "roots/list" => "roots",
            _ => return false,
        };
        lock(&self.capabilities).get(key).is_some_and(|v| !v.is_null())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

thread_local! {
    /// The routed call this thread is making, if any.
    static CURRENT: Cell<Option<u64>> = const { Cell::new(None) };
}

/// A routed call in flight.
struct Routed {
    upstream: String,
    link: Arc<Link>,
    /// The downstream request's id.
    id: Value,
    /// Whether its client may be asked (the handshake era; the 2026-07-28 wire has no server
    /// requests).
    can_ask: bool,
    /// The token sent upstream, and the downstream's own.
    progress: Option<(String, Value)>,
    /// Dropped to cancel: the upstream call and any relayed request of it stop waiting.
    cancel: Option<Sender<()>>,
    cancel_rx: Receiver<()>,
    cancelled: bool,
}

/// The calls in flight and our requests to downstream clients.
#[derive(Default)]
pub(crate) struct Relays {
    next: AtomicU64,
    calls: Mutex<HashMap<u64, Routed>>,
    asked: Mutex<HashMap<String, Sender<Result<Value, RpcError>>>>,
}

/// A registered call: [`Relays::finish`] it.
pub(crate) struct Begun {
    no: u64,
    pub(crate) control: CallControl,
    previous: Option<u64>,
}

impl Relays {
    /// Registers a call routed to `upstream` for the downstream request `id` on `link`; the
    /// returned control carries the progress token and the cancel channel to the upstream call.
    pub(crate) fn begin(
        &self,
        upstream: &str,
        link: &Arc<Link>,
        id: Value,
        progress: Option<Value>,
        can_ask: bool,
    ) -> Begun {
        let no = self.next.fetch_add(1, Ordering::Relaxed);
        let progress = progress.map(|token| (format!("{ID_PREFIX}progress-{no}"), token));
        let (cancel, cancel_rx) = bounded(0);
        let control = CallControl {
            progress_token: progress.as_ref().map(|(ours, _)| json!(ours)),
            cancel: Some(cancel_rx.clone()),
        };
        let routed = Routed {
            upstream: upstream.to_string(),
            link: Arc::clone(link),
            id,
            can_ask,
            progress,
            cancel: Some(cancel),
            cancel_rx,
            cancelled: false,
        };
        lock(&self.calls).insert(no, routed);
        let previous = CURRENT.with(|c| c.replace(Some(no)));
        Begun { no, control, previous }
    }

    /// Ends a call; whether the downstream cancelled it (then it gets no answer).
    pub(crate) fn finish(&self, begun: Begun) -> bool {
        CURRENT.with(|c| c.set(begun.previous));
        lock(&self.calls).remove(&begun.no).is_some_and(|r| r.cancelled)
    }

    /// A downstream `notifications/cancelled` on the connection `key`.
    pub(crate) fn cancel(&self, key: &str, params: &Value) {
        let Some(id) = params.get("requestId") else { return };
        let mut calls = lock(&self.calls);
        if let Some(r) = calls.values_mut().find(|r| r.link.key == key && &r.id == id) {
            log::info!("serve: the client cancelled its request {id} (routed to `{}`)", r.upstream);
            r.cancelled = true;
            r.cancel = None;
        }
    }

    /// An upstream `notifications/progress`: sent to the downstream whose call it is about,
    /// with that client's token. `false` when it is about no call of ours.
    pub(crate) fn progress(&self, upstream: &str, params: Option<&Value>) -> bool {
        let Some(params) = params else { return false };
        let Some(token) = params.get("progressToken").and_then(Value::as_str) else { return false };
        let target = lock(&self.calls).values().find_map(|r| match &r.progress {
            Some((ours, theirs)) if ours == token && r.upstream == upstream => {
                Some((Arc::clone(&r.link), theirs.clone()))
            }
            _ => None,
        });
        let Some((link, theirs)) = target else { return false };
        let mut params = params.clone();
        params["progressToken"] = theirs;
        link.send(jsonrpc::encode_notification("notifications/progress", Some(&params)));
        true
    }

    /// A downstream client's response: to our request that waits for it. `false` when it
    /// answers no request of ours.
    pub(crate) fn deliver(&self, id: &RequestId, result: Result<Value, RpcError>) -> bool {
        let RequestId::String(id) = id else { return false };
        let Some(waiter) = lock(&self.asked).remove(id) else { return false };
        // bounded(1), one send: never blocks.
        let _ = waiter.try_send(result);
        true
    }

    /// The call an upstream request of `upstream` belongs to: its link and cancel channel.
    fn route(&self, upstream: &str) -> Result<(Arc<Link>, Receiver<()>), RpcError> {
        let calls = lock(&self.calls);
        let current = CURRENT.with(Cell::get).and_then(|no| calls.get(&no)).filter(|r| r.upstream == upstream);
        let routed = match current {
            Some(r) => r,
            None => {
                let mut on_it = calls.iter().filter(|(_, r)| r.upstream == upstream);
                let Some((_, first)) = on_it.next() else {
                    return Err(error(format!("no call to `{upstream}` is in flight from a client of serve")));
                };
                if on_it.any(|(_, r)| r.link.key != first.link.key) {
                    return Err(error(format!(
                        "calls from several clients of serve are in flight on `{upstream}`: \
                         cannot tell which one this request is for"
                    )));
                }
                first
            }
        };
        if !routed.can_ask {
            return Err(error("the client of serve speaks the 2026-07-28 wire: it cannot be asked".into()));
        }
        Ok((Arc::clone(&routed.link), routed.cancel_rx.clone()))
    }

    /// Asks the downstream client of the call `upstream`'s request belongs to, by `cx.deadline`.
    fn ask(&self, cx: &RequestContext, method: &str, params: Value) -> Result<Value, RpcError> {
        let (link, cancelled) = self.route(&cx.server)?;
        if !link.supports(method) {
            return Err(RpcError {
                code: jsonrpc::METHOD_NOT_FOUND,
                message: format!("Method not found: {method} (the client of serve does not support it)"),
                data: None,
            });
        }
        let id = format!("{ID_PREFIX}{}", self.next.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = bounded(1);
        lock(&self.asked).insert(id.clone(), tx);
        let request_id = RequestId::String(id.clone());
        log::info!("server={}: relaying `{method}` ({:?}) to the client of serve as {id}", cx.server, cx.id);
        if !link.send(jsonrpc::encode_request(&request_id, method, Some(&params))) {
            lock(&self.asked).remove(&id);
            return Err(error("the client of serve is gone".into()));
        }
        let left = cx.deadline.saturating_duration_since(Instant::now());
        let outcome = crossbeam_channel::select! {
            recv(rx) -> r => r.ok(),
            recv(cancelled) -> _ => None,
            default(left) => None,
        };
        match outcome {
            Some(result) => result,
            None => {
                // Given up (the deadline, or the downstream cancelled the call): tell the client.
                lock(&self.asked).remove(&id);
                let reason = if Instant::now() >= cx.deadline { "timed out" } else { "the call was cancelled" };
                let note = json!({"requestId": id, "reason": reason});
                link.send(jsonrpc::encode_notification("notifications/cancelled", Some(&note)));
                Err(error(format!("the client of serve did not answer {method}: {reason}")))
            }
        }
    }
}

fn error(message: String) -> RpcError {
    RpcError { code: INTERNAL_ERROR, message, data: None }
}

/// The relay `serve` installs in its orchestrator.
pub(crate) struct Forward(pub(crate) Weak<Server>);

impl Relay for Forward {
    fn relay(&self, cx: &RequestContext, method: &str, params: Value) -> Result<Value, RpcError> {
        let Some(server) = self.0.upgrade() else {
            return Err(error("serve has stopped".into()));
        };
        server.relays.ask(cx, method, params)
    }
}
