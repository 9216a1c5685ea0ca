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
    /// A stateless (2026-07-28) client cannot be sent requests: what the upstream asks goes
    /// here instead, to be returned as an `input_required` result ([`Relays::round`]).
    asks: Option<Sender<Ask>>,
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
        Link { send: Box::new(send), asks: None, key, capabilities: Mutex::new(capabilities) }
    }

    /// A link for one stateless call: messages go out on `base` (if any), requests to `asks`.
    pub(crate) fn asking(base: Option<&Arc<Link>>, capabilities: Value, asks: Sender<Ask>) -> Link {
        let base = base.cloned();
        let key = format!("{ID_PREFIX}stateless-{}", token());
        let send = move |bytes: Vec<u8>| base.as_ref().is_some_and(|b| b.send(bytes));
        Link { send: Box::new(send), asks: Some(asks), key, capabilities: Mutex::new(capabilities) }
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
    /// Stateless calls waiting for their client's input, by `requestState`.
    parked: Mutex<HashMap<String, Parked>>,
}

/// What an upstream asks during a stateless call: the request, and where its answer goes.
pub(crate) struct Ask {
    method: String,
    params: Value,
    answer: Sender<Result<Value, RpcError>>,
    /// When the upstream stops waiting for it.
    deadline: Instant,
}

/// A stateless call running upstream (its thread's result comes on `done`), and what it asks.
pub(crate) struct Running {
    pub(crate) done: Receiver<Result<Value, RpcError>>,
    pub(crate) asks: Receiver<Ask>,
    /// How long a round waits for the result or the next request.
    pub(crate) deadline: Instant,
}

/// A stateless call whose client was asked for input: resumed by the request that carries its
/// `requestState`.
struct Parked {
    running: Running,
    ask: Ask,
    key: String,
}

/// The key of the one input request of a round.
const INPUT_KEY: &str = "upstream";

/// An unguessable token (a requestState).
fn token() -> String {
    super::unguessable()
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
        if let Some(asks) = &link.asks {
            // A stateless client: the call's round returns it as an input request.
            let (tx, rx) = bounded(1);
            let ask = Ask { method: method.to_string(), params, answer: tx, deadline: cx.deadline };
            if asks.send(ask).is_err() {
                return Err(error("the client of serve is gone".into()));
            }
            let left = cx.deadline.saturating_duration_since(Instant::now());
            return crossbeam_channel::select! {
                recv(rx) -> r => r.unwrap_or_else(|_| Err(error("the client of serve did not answer".into()))),
                recv(cancelled) -> _ => Err(error("the call was cancelled".into())),
                default(left) => Err(error(format!("the client of serve did not answer {method} in time"))),
            };
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

impl Relays {
    /// Waits for a stateless call's next event: its result (complete), or a request of its
    /// upstream, returned as an `input_required` result whose `requestState` resumes it.
    pub(crate) fn round(&self, running: Running) -> Result<Value, RpcError> {
        let left = running.deadline.saturating_duration_since(Instant::now());
        crossbeam_channel::select! {
            recv(running.done) -> r => r.unwrap_or_else(|_| Err(error("the call ended without a result".into()))),
            recv(running.asks) -> ask => match ask {
                Ok(ask) => Ok(self.park(Parked { running, ask, key: INPUT_KEY.to_string() })),
                Err(_) => running.done.recv_deadline(running.deadline)
                    .unwrap_or_else(|_| Err(error("the call ended without a result".into()))),
            },
            default(left) => Err(error("the upstream call did not end in time".into())),
        }
    }

    /// Parks a call on its input request: the `input_required` result.
    fn park(&self, parked: Parked) -> Value {
        let state = token();
        let result = json!({
            "resultType": "input_required",
            "inputRequests": {parked.key.clone(): {"method": parked.ask.method, "params": parked.ask.params}},
            "requestState": state,
        });
        let now = Instant::now();
        let mut all = lock(&self.parked);
        // Calls nobody came back for: their upstream gave up waiting (dropping the answer's
        // sender ends its wait at once).
        all.retain(|_, p| p.ask.deadline > now);
        all.insert(state, parked);
        result
    }

    /// Resumes the stateless call `state` names with `responses` (the client's
    /// `inputResponses`): the next round. Its answer missing, the same request again.
    pub(crate) fn resume(&self, state: &str, responses: Option<&Value>) -> Result<Value, RpcError> {
        let Some(parked) = lock(&self.parked).remove(state) else {
            return Err(RpcError {
                code: jsonrpc::INVALID_PARAMS,
                message: "unknown or expired requestState".into(),
                data: None,
            });
        };
        let Some(answer) = responses.and_then(|r| r.get(&parked.key)).cloned() else {
            return Ok(self.park(parked));
        };
        let _ = parked.ask.answer.try_send(Ok(answer));
        self.round(parked.running)
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
