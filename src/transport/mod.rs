//! Transports: the only code that opens sockets or processes.
//!
//! A transport moves JSON-RPC messages; everything it receives goes through one [`Router`],
//! which every transport shares: it completes pending requests by id, answers the server's own
//! requests, logs server log messages and hands notifications to the subscriber.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use serde_json::value::RawValue;

use crate::error::Result;
use crate::jsonrpc::{self, Message, RequestId, RpcError};
use crate::op::OpId;

pub(crate) mod child;
pub(crate) mod http;
pub(crate) mod sse;
pub(crate) mod stdio;
pub(crate) mod streamable_http;

/// The stack of the threads the library starts per server (readers, senders): they parse
/// events, route JSON-RPC messages and run notification callbacks and handlers, not deep
/// recursion. A quarter of Rust's default 2 MiB: less address space per server, and glibc
/// keeps fewer, smaller stacks cached (see BENCHMARKS.md).
pub(crate) const SMALL_STACK: usize = 512 * 1024;

/// How long closing a session may wait for its reader thread after interrupting it.
pub(crate) const CLOSE_BOUND: Duration = Duration::from_secs(2);

/// `now + d`, saturating (see [`Deadline`](crate::deadline::Deadline), which the transports use).
pub(crate) fn deadline_in(d: Duration) -> Instant {
    crate::deadline::Deadline::after(d).instant()
}

/// The deadline of our answer to a server request (a `ping`): the reader thread sends it, and
/// routes nothing else meanwhile, so it must be short whatever the request timeout is.
pub(crate) const ANSWER_BOUND: Duration = Duration::from_secs(2);

/// A transport's reader thread: its handle, and a channel that disconnects when it ends.
pub(crate) struct Reader {
    pub handle: std::thread::JoinHandle<()>,
    pub done: Receiver<()>,
}

impl Reader {
    /// Joins the thread once it has ended, waiting at most `bound` (its blocking read must have
    /// been interrupted first). A thread still busy then — in a user's notification callback —
    /// is left to exit when that call returns.
    pub(crate) fn join_within(self, bound: Duration, server: &str) {
        match self.done.recv_timeout(bound) {
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                let _ = self.handle.join();
            }
            _ => log::warn!(
                "server={server}: reader thread still busy {bound:?} after close; it exits when its call returns"
            ),
        }
    }
}

/// A server's authorization as the HTTP transports see it: a header before each request, and
/// the 401 / 403 answers handed back. `auth::Authorizer` implements it; the transports know
/// nothing of the flows behind it (the layer rule: `transport/` does not import `auth/`).
pub(crate) trait Credentials: Send + Sync + std::fmt::Debug {
    /// The `Authorization` header value to send (`Bearer …`), if any.
    fn authorization_by(&self, deadline: crate::deadline::Deadline, op: &OpId)
    -> Result<Option<crate::config::Secret>>;

    /// Handles a 401, or a 403 with `insufficient_scope`, to `method`; `sent` is the header the
    /// rejected request carried. `Ok` means: send the request again with a fresh header.
    #[allow(clippy::too_many_arguments)] // reason: the challenge, what was sent, and the op's context
    fn challenged_by(
        &self,
        status: u16,
        www_authenticate: Option<&str>,
        sent: Option<&crate::config::Secret>,
        method: &str,
        deadline: crate::deadline::Deadline,
        op: &OpId,
    ) -> Result<()>;
}

/// One session's way of moving messages to a server. Incoming messages go to the [`Router`]
/// the transport was built with.
pub(crate) trait Transport: Send + Sync {
    /// Sends one JSON-RPC message; `method` and `op` name it in errors and logs. Returns when the
    /// server accepted it, or with an error no later than `deadline`.
    fn send(&self, message: Vec<u8>, method: &str, op: &OpId, deadline: Instant) -> Result<()>;

    /// [`Transport::send`] with extra HTTP headers (the modern wire's routing headers). A
    /// transport without headers (stdio) ignores them: the default.
    fn send_with(
        &self,
        message: Vec<u8>,
        method: &str,
        op: &OpId,
        deadline: Instant,
        _headers: &[(String, String)],
    ) -> Result<()> {
        self.send(message, method, op, deadline)
    }

    /// Whether a request we gave up on is cancelled with `notifications/cancelled` (the default).
    /// On the 2026-07-28 wire over HTTP, closing the request's response stream is the
    /// cancellation: there is nothing to send.
    fn cancels_with_notice(&self) -> bool {
        true
    }

    /// Speaks the 2026-07-28 wire (no session, no GET stream, JSON-RPC errors in 4xx bodies)
    /// or, with `false`, the handshake era. The default does nothing.
    fn set_modern(&self, _modern: bool) {}

    /// Learns the protocol version agreed in the handshake (Streamable HTTP sends it as a header
    /// on every later request). The default does nothing.
    fn set_protocol_version(&self, _version: &str) {}

    /// Whether `send` returns as soon as the server accepted a request (so many can be in
    /// flight from one thread). A transport that reads each reply inside `send` says no, and
    /// the client overlaps such requests on threads instead.
    fn pipelines(&self) -> bool {
        true
    }

    /// A transport of its own to the same endpoint (same URL, headers, authorization, wire),
    /// routing to `router`: closing it ends only what was sent through it. `subscriptions/listen`
    /// uses one per subscription over HTTP, so that one subscription can be ended alone
    /// (`session/listen.rs`). `None` (the default): the transport has no such thing (stdio).
    fn fork(&self, _router: Arc<Router>) -> Option<Arc<dyn Transport>> {
        None
    }

    /// Whether `send` waits for the server to acknowledge the message (legacy SSE: each
    /// POST's `202`) although the answer comes later, elsewhere. The client then sends the
    /// requests of a batch from a few threads at once instead of one after the other.
    fn send_waits(&self) -> bool {
        false
    }

    /// Ends the session: every pending request fails at once, the reader stops and is joined.
    /// Idempotent; returns in bounded time whatever the server does.
    fn close(&self);
}

/// A notification the server sent.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Notification {
    /// The method, e.g. `notifications/resources/list_changed`.
    pub method: String,
    /// Its params, if any.
    pub params: Option<serde_json::Value>,
}

/// The callback that receives a session's notifications. It runs on the session's reader
/// thread: keep it short and never call back into the same client from it.
pub(crate) type NotificationHandler = Arc<dyn Fn(&str, &Notification) + Send + Sync>;

/// How a pending request ended, short of its deadline.
#[derive(Debug)]
pub(crate) enum Reply {
    /// The server's result, raw.
    Result(Box<RawValue>),
    /// The server's JSON-RPC error.
    Rpc(RpcError),
    /// The connection ended: why.
    Closed(String),
    /// The request went out but its reply was lost (a reply stream that broke and could not
    /// be resumed): why. The server may or may not have processed it.
    Lost(String),
    /// The stream broke a limit.
    Limit { what: &'static str, limit: usize },
    /// No answer came within the deadline (after this long); never sent by a transport.
    TimedOut(Duration),
}

impl Reply {
    fn duplicate(&self) -> Reply {
        match self {
            Reply::Closed(d) | Reply::Lost(d) => Reply::Closed(d.clone()),
            Reply::Limit { what, limit } => Reply::Limit { what, limit: *limit },
            // Only failures are ever duplicated (fail_all); results go to one waiter.
            Reply::Result(_) | Reply::Rpc(_) | Reply::TimedOut(_) => Reply::Closed("connection failed".into()),
        }
    }
}

/// The most answers to server requests one message may lead to, counting the requests that
/// arrive in the replies to our answers (a server that answers each of our answers with
/// another request would otherwise keep the thread busy forever).
pub(crate) const MAX_CHAINED_ANSWERS: usize = 256;

/// Our answers to server requests, waiting to be sent.
type Answers = VecDeque<(Vec<u8>, String)>;

thread_local! {
    /// While this thread sends an answer for a router (identified by its address), answers to
    /// the requests that arrive in the reply are queued here, and the outermost `handle` sends
    /// them in turn: answering server requests never recurses.
    static ANSWERING: RefCell<Option<(usize, Answers)>> = const { RefCell::new(None) };
}

/// Restores the thread's answering state when the outermost `handle` ends, even by a panic.
struct AnsweringGuard(Option<(usize, Answers)>);

impl Drop for AnsweringGuard {
    fn drop(&mut self) {
        let outer = self.0.take();
        ANSWERING.with(|a| *a.borrow_mut() = outer);
    }
}

struct PendingEntry {
    tx: Sender<Reply>,
    op: OpId,
}

#[derive(Default)]
struct RouterState {
    pending: HashMap<RequestId, PendingEntry>,
    /// Set once the connection is gone; new requests fail at once with it.
    dead: Option<Reply>,
}

/// Routes what a server sends: responses to their waiting callers, requests to their answers,
/// notifications to the log and the subscriber.
pub(crate) struct Router {
    server: Arc<str>,
    /// The op of the connect call: the context of records not tied to a request.
    session_op: OpId,
    state: Mutex<RouterState>,
    on_notification: Option<NotificationHandler>,
    /// The program's answers to elicitation, sampling and roots requests (`handlers.rs`).
    handlers: crate::handlers::Handlers,
    /// How long a handler has to answer (the server's request timeout).
    handler_timeout: Duration,
    /// `notifications/subscriptions/acknowledged` received (`session/listen.rs`).
    acks: std::sync::atomic::AtomicU64,
}

impl Router {
    pub(crate) fn new(server: Arc<str>, session_op: OpId, on_notification: Option<NotificationHandler>) -> Router {
        Router {
            server,
            session_op,
            state: Mutex::new(RouterState::default()),
            on_notification,
            handlers: crate::handlers::Handlers::default(),
            handler_timeout: ANSWER_BOUND,
            acks: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The same router answering server requests with `handlers`, each within `timeout`.
    pub(crate) fn with_handlers(mut self, handlers: crate::handlers::Handlers, timeout: Duration) -> Router {
        self.handlers = handlers;
        self.handler_timeout = timeout;
        self
    }

    /// The notification handler, if any (a forked transport's router shares it).
    pub(crate) fn notification_handler(&self) -> Option<NotificationHandler> {
        self.on_notification.clone()
    }

    /// The handlers answering server requests and `input_required` rounds.
    pub(crate) fn handlers(&self) -> &crate::handlers::Handlers {
        &self.handlers
    }

    /// The `capabilities` our `initialize` declares (the handshake era): one per registered
    /// handler, and the experimental `tasks` capability (2025-11-25).
    pub(crate) fn capabilities(&self) -> serde_json::Value {
        let mut caps = self.handlers.capabilities();
        crate::protocol::tasks::declare(&mut caps, false);
        caps
    }

    /// The client capabilities every request of the 2026-07-28 wire declares: one per
    /// registered handler, and the tasks extension (`io.modelcontextprotocol/tasks`).
    pub(crate) fn modern_capabilities(&self) -> serde_json::Value {
        let mut caps = self.handlers.capabilities();
        crate::protocol::tasks::declare(&mut caps, true);
        caps
    }

    pub(crate) fn server(&self) -> &str {
        &self.server
    }

    fn lock(&self) -> MutexGuard<'_, RouterState> {
        // A panic elsewhere while holding this lock leaves a map that is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a request about to be sent. Fails with the reason when the connection is gone.
    pub(crate) fn register(&self, id: RequestId, op: &OpId) -> std::result::Result<Receiver<Reply>, Reply> {
        let (tx, rx) = bounded(1);
        let mut state = self.lock();
        if let Some(dead) = &state.dead {
            return Err(dead.duplicate());
        }
        state.pending.insert(id, PendingEntry { tx, op: op.clone() });
        Ok(rx)
    }

    /// Whether a request still waits for its response.
    pub(crate) fn is_pending(&self, id: &RequestId) -> bool {
        self.lock().pending.contains_key(id)
    }

    /// Forgets a request (it timed out, or its send failed). Returns whether it was pending.
    pub(crate) fn forget(&self, id: &RequestId) -> bool {
        self.lock().pending.remove(id).is_some()
    }

    /// The reply to request `id` was lost (the transport could not get it): its caller gets
    /// [`Reply::Lost`] with `why`. Nothing happens when it no longer waits.
    pub(crate) fn lose(&self, id: &RequestId, why: String) {
        let entry = self.lock().pending.remove(id);
        if let Some(entry) = entry {
            log::debug!("op={} server={}: the reply to request {id} was lost: {why}", entry.op, self.server);
            // bounded(1) and one send per entry: never blocks.
            let _ = entry.tx.try_send(Reply::Lost(why));
        }
    }

    /// The connection is gone: fail every pending request now, and every later one at once.
    pub(crate) fn fail_all(&self, why: Reply) {
        let drained: Vec<PendingEntry> = {
            let mut state = self.lock();
            if state.dead.is_none() {
                state.dead = Some(why.duplicate());
            }
            state.pending.drain().map(|(_, e)| e).collect()
        };
        for entry in drained {
            log::debug!("op={} server={}: request failed: {why:?}", entry.op, self.server);
            // The receiver may be gone (its caller timed out); that is fine.
            let _ = entry.tx.try_send(why.duplicate());
        }
    }

    /// Whether the connection is known to be gone.
    pub(crate) fn is_dead(&self) -> bool {
        self.lock().dead.is_some()
    }

    /// Handles one JSON-RPC text from the server. `reply` sends our answer to a server request.
    pub(crate) fn handle(&self, text: &str, reply: &dyn Fn(Vec<u8>, &str)) {
        self.handle_within(text, None, reply);
    }

    /// [`handle`](Router::handle) for a caller that waits until `caller`: a handler answering a
    /// server request that came with its reply gets that deadline when it is the sooner.
    pub(crate) fn handle_within(&self, text: &str, caller: Option<Instant>, reply: &dyn Fn(Vec<u8>, &str)) {
        let messages = match jsonrpc::decode(text) {
            Ok(m) => m,
            Err(e) => vec![Err(e)],
        };
        let mut answers = Answers::new();
        for message in messages {
            match message {
                Ok(m) => answers.extend(self.handle_one(m, caller)),
                Err(e) => {
                    // The payload itself only at trace: it may hold data.
                    log::warn!(
                        "op={} server={}: ignoring a message that is not JSON-RPC ({} bytes): {e}",
                        self.session_op,
                        self.server,
                        text.len()
                    );
                    log::trace!("op={} server={}: the ignored message: {text}", self.session_op, self.server);
                }
            }
        }
        self.answer(answers, reply);
    }

    /// Sends our answers to server requests, one after the other: answers to requests that
    /// arrive while one is being sent (in its reply) are queued and sent by the outermost call.
    fn answer(&self, mut answers: Answers, reply: &dyn Fn(Vec<u8>, &str)) {
        if answers.is_empty() {
            return;
        }
        let me = self as *const Router as usize;
        let nested = ANSWERING.with(|a| match &mut *a.borrow_mut() {
            Some((owner, queue)) if *owner == me => {
                queue.append(&mut answers);
                true
            }
            _ => false,
        });
        if nested {
            return;
        }
        let _guard = AnsweringGuard(ANSWERING.with(|a| a.borrow_mut().replace((me, Answers::new()))));
        let mut sent = 0;
        while let Some((body, method)) = answers.pop_front() {
            if sent == MAX_CHAINED_ANSWERS {
                log::warn!(
                    "op={} server={}: not answering `{method}` and {} more: {sent} answers in one chain",
                    self.session_op,
                    self.server,
                    answers.len()
                );
                break;
            }
            reply(body, &method);
            sent += 1;
            ANSWERING.with(|a| {
                if let Some((_, queue)) = &mut *a.borrow_mut() {
                    answers.append(queue);
                }
            });
        }
    }

    /// Routes one message; returns our answer when it is a server request.
    fn handle_one(&self, message: Message, caller: Option<Instant>) -> Option<(Vec<u8>, String)> {
        match message {
            Message::Response { id: Some(id), result } => {
                let entry = self.lock().pending.remove(&id);
                match entry {
                    Some(entry) => {
                        let r = match result {
                            Ok(raw) => Reply::Result(raw),
                            Err(e) => Reply::Rpc(e),
                        };
                        // bounded(1) and one send per entry: never blocks.
                        let _ = entry.tx.try_send(r);
                    }
                    None => log::debug!(
                        "op={} server={}: response to unknown or abandoned request {id}",
                        self.session_op,
                        self.server
                    ),
                }
            }
            Message::Response { id: None, result } => log::warn!(
                "op={} server={}: the server could not parse a message of ours: {:?}",
                self.session_op,
                self.server,
                result.err()
            ),
            Message::Request { id, method, params } => {
                log::debug!("op={} server={}: server request `{method}` ({id})", self.session_op, self.server);
                let body = if crate::handlers::Handlers::is_handler_method(&method) {
                    // No lock is held here: the handler is the program's code.
                    let own = deadline_in(self.handler_timeout);
                    let deadline = caller.map_or(own, |c| c.min(own));
                    crate::handlers::answer_request(&self.handlers, &self.server, &id, &method, params, deadline)
                } else if method == "ping" {
                    jsonrpc::encode_response(&id, Ok(&serde_json::json!({})))
                } else {
                    let err = RpcError {
                        code: jsonrpc::METHOD_NOT_FOUND,
                        message: format!("Method not found: {method}"),
                        data: None,
                    };
                    jsonrpc::encode_response(&id, Err(&err))
                };
                return Some((body, method));
            }
            Message::Notification { method, params } => self.notification(method, params),
        }
        None
    }

    /// How many `subscriptions/listen` acknowledgements arrived.
    pub(crate) fn acknowledged(&self) -> u64 {
        self.acks.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn notification(&self, method: String, params: Option<Box<RawValue>>) {
        if method == "notifications/subscriptions/acknowledged" {
            // The listen thread's business (session/listen.rs), not the program's.
            self.acks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            log::debug!(
                "op={} server={}: subscriptions/listen acknowledged: {}",
                self.session_op,
                self.server,
                params.as_ref().map_or("", |p| p.get())
            );
            return;
        }
        let params: Option<serde_json::Value> = params.and_then(|p| serde_json::from_str(p.get()).ok());
        match method.as_str() {
            "notifications/message" => self.log_server_message(params.as_ref()),
            _ => log::debug!("op={} server={}: notification `{method}`", self.session_op, self.server),
        }
        log::trace!("op={} server={}: notification `{method}` params {params:?}", self.session_op, self.server);
        if let Some(handler) = &self.on_notification {
            handler(&self.server, &Notification { method, params });
        }
    }

    fn log_server_message(&self, params: Option<&serde_json::Value>) {
        let Some(p) = params else { return };
        // debug, info, notice at info; warning at warn; error and above at error (an unknown
        // level at info): the levels a program's logger shows by default.
        let level = p
            .get("level")
            .and_then(|l| l.as_str())
            .and_then(crate::protocol::LoggingLevel::parse)
            .map_or(log::Level::Info, crate::protocol::LoggingLevel::log_level);
        let logger = p.get("logger").and_then(|l| l.as_str()).unwrap_or("-");
        let data = match p.get("data") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        log::log!(
            target: "mcp_orchestrator::server_log",
            level,
            "op={} server={} logger={logger}: {}",
            self.session_op,
            self.server,
            excerpt(&data, 2000)
        );
    }
}

/// The first `max` characters of `text`, for messages and logs.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn router_completes_fails_and_answers() {
        let router = Router::new("s".into(), OpId::new(), None);
        let op = OpId::new();
        let rx = router.register(RequestId::Number(1), &op).unwrap();
        router.handle(r#"{"jsonrpc":"2.0","id":1,"result":{"ok":true}}"#, &|_, _| panic!("no reply expected"));
        match rx.try_recv().unwrap() {
            Reply::Result(raw) => assert_eq!(raw.get(), r#"{"ok":true}"#),
            r => panic!("{r:?}"),
        }
        let answers = Mutex::new(Vec::new());
        let reply =
            |body: Vec<u8>, m: &str| answers.lock().unwrap().push((String::from_utf8(body).unwrap(), m.to_string()));
        router.handle(r#"{"jsonrpc":"2.0","id":"p1","method":"ping"}"#, &reply);
        router.handle(r#"{"jsonrpc":"2.0","id":5,"method":"roots/list"}"#, &reply);
        let answers = answers.into_inner().unwrap();
        assert_eq!(answers[0].0, r#"{"jsonrpc":"2.0","id":"p1","result":{}}"#);
        assert!(answers[1].0.contains(r#""code":-32601"#), "{}", answers[1].0);
        let rx2 = router.register(RequestId::Number(2), &op).unwrap();
        router.fail_all(Reply::Closed("end of stream".into()));
        assert!(matches!(rx2.try_recv().unwrap(), Reply::Closed(d) if d == "end of stream"));
        assert!(matches!(router.register(RequestId::Number(3), &op), Err(Reply::Closed(_))));
    }

    #[test]
    fn a_handler_gets_the_sooner_of_its_timeout_and_the_callers_deadline() {
        use crate::handlers::{Handlers, RequestContext, Root};
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let handlers = Handlers::new().roots(move |cx: &RequestContext| {
            s2.lock().unwrap().push(cx.deadline);
            Ok(vec![Root::new("file:///r")])
        });
        let router = Router::new("s".into(), OpId::new(), None).with_handlers(handlers, Duration::from_secs(10));
        let request = r#"{"jsonrpc":"2.0","id":7,"method":"roots/list"}"#;
        let answer = Mutex::new(String::new());
        let reply = |body: Vec<u8>, _: &str| *answer.lock().unwrap() = String::from_utf8(body).unwrap();
        let start = Instant::now();
        router.handle(request, &reply);
        router.handle_within(request, Some(start + Duration::from_secs(1)), &reply);
        assert_eq!(*answer.lock().unwrap(), r#"{"jsonrpc":"2.0","id":7,"result":{"roots":[{"uri":"file:///r"}]}}"#);
        let seen = seen.lock().unwrap();
        assert!(seen[0] >= start + Duration::from_secs(10), "the server's timeout");
        assert_eq!(seen[1], start + Duration::from_secs(1), "the caller's sooner deadline");
    }

    #[test]
    fn notifications_reach_the_subscriber() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let handler: NotificationHandler =
            Arc::new(move |server, n| s2.lock().unwrap().push((server.to_string(), n.clone())));
        let router = Router::new("db".into(), OpId::new(), Some(handler));
        router.handle(r#"{"jsonrpc":"2.0","method":"notifications/resources/list_changed"}"#, &|_, _| {});
        router.handle(
            r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}"#,
            &|_, _| {},
        );
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].0, "db");
        assert_eq!(seen[0].1.method, "notifications/resources/list_changed");
        assert_eq!(seen[1].1.params.as_ref().unwrap()["data"], "x");
    }
}
