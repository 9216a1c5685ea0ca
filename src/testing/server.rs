//! The running server: the accept loop, connection threads, event-stream sessions, dispatch,
//! and shutdown.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, select, unbounded};
use serde_json::{Value, json};

#[path = "streamable.rs"]
mod streamable;

use super::http::{self, ReadOutcome, Request, RequestReader};
use super::{Cancellation, ClientAnswer, Fault, Gauge, InFlight, Spec, Stats, TestServer, ask, mcp};
use crate::jsonrpc::{self, Message, PARSE_ERROR, RequestId};

/// How often a blocked read wakes to look at the stop flag (a backstop: shutdown also shuts the
/// sockets down, which wakes reads at once).
const POLL: Duration = Duration::from_millis(100);
/// A keep-alive connection idle this long is closed.
const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// A write to a client that does not read fails after this long.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// State shared by every thread of one server.
struct Shared {
    spec: Spec,
    addr: SocketAddr,
    stop: AtomicBool,
    /// Dropped on shutdown: every `select!`/`recv_timeout` on `stop_rx` then returns at once.
    stop_tx: Mutex<Option<Sender<()>>>,
    stop_rx: Receiver<()>,
    /// The counters (the gauges' values are added on each snapshot).
    stats: Mutex<Stats>,
    /// Requests in flight on this server, then the shared gauges.
    gauges: Vec<Arc<Gauge>>,
    connections: Arc<Gauge>,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    /// Streamable HTTP sessions (ids given in answer to `initialize`, not yet deleted).
    mcp_sessions: Mutex<HashSet<String>>,
    /// A clone of every live socket, to shut them down on stop.
    sockets: Mutex<HashMap<u64, TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    next_id: AtomicU64,
    /// Streamable HTTP: the reply streams waiting for the client's answers
    /// ([`Fault::AskClient`]), by the id of the server's request.
    mcp_asking: Mutex<HashMap<RequestId, (AnswerTx, &'static str)>>,
    /// How many replies [`Fault::BreakReply`] / [`Fault::TruncateReply`] have broken, per method.
    broken: Mutex<HashMap<String, u32>>,
    /// Open `subscriptions/listen` streams (the modern wire over HTTP), by a serial number.
    listens: Mutex<HashMap<u64, Listen>>,
}

/// One open `subscriptions/listen` stream: what it asked for, and where its messages go.
#[derive(Clone)]
struct Listen {
    /// The listen request's `notifications` filter.
    filter: Value,
    /// Notifications to send (`Some`), or the end of the subscription: `None` ends it
    /// gracefully (the response), a dropped sender abruptly.
    tx: Sender<Option<Vec<u8>>>,
    /// The listen request's id: every message carries it as `subscriptionId`.
    id: RequestId,
}

/// Whether a subscription with `filter` asked for notification `method` (with `params`), as
/// `subscriptions/listen` defines it.
pub(crate) fn wants(filter: &Value, method: &str, params: Option<&Value>) -> bool {
    let flag = |k: &str| filter.get(k).and_then(Value::as_bool) == Some(true);
    match method {
        "notifications/tools/list_changed" => flag("toolsListChanged"),
        "notifications/prompts/list_changed" => flag("promptsListChanged"),
        "notifications/resources/list_changed" => flag("resourcesListChanged"),
        "notifications/resources/updated" => {
            let uri = params.and_then(|p| p.get("uri")).and_then(Value::as_str);
            let subscribed = filter.get("resourceSubscriptions").and_then(Value::as_array);
            uri.is_some_and(|u| subscribed.is_some_and(|s| s.iter().any(|x| x.as_str() == Some(u))))
        }
        _ => false,
    }
}

/// A notification on subscription `id`: `params._meta` carries its `subscriptionId`.
pub(crate) fn on_subscription(id: &RequestId, method: &str, params: Option<&Value>) -> Vec<u8> {
    let mut params = match params {
        Some(Value::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    };
    let meta = params.entry("_meta").or_insert_with(|| json!({}));
    if let Value::Object(meta) = meta {
        meta.insert("io.modelcontextprotocol/subscriptionId".into(), json!(id));
    }
    jsonrpc::encode_notification(method, Some(&Value::Object(params)))
}

/// A client's answer to a server request: its result, or its error's code and message.
type ClientResult = Result<Value, (i64, String)>;

/// Where a reply stream waiting for the client's answers receives them.
type AnswerTx = Sender<(RequestId, ClientResult)>;

impl Shared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn count(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut lock(&self.stats));
    }

    fn spawn(self: &Arc<Self>, name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<()> {
        let handle = thread::Builder::new().name(name.to_string()).spawn(f)?;
        let mut threads = lock(&self.threads);
        threads.retain(|h| !h.is_finished());
        threads.push(handle);
        Ok(())
    }
}

/// What a session's writer is asked to do.
enum Out {
    /// Write an event, dropping the in-flight guard it carries just before.
    Event { name: &'static str, data: Vec<u8>, _guard: Option<InFlight> },
    /// End the stream (a fault, or [`TestServer::close_streams`]).
    Close,
    /// The client closed its end.
    ClientGone,
}

/// One event-stream session.
struct Session {
    tx: Sender<Out>,
    /// Requests never answered ([`Fault::NeverAnswer`]), held until cancelled or the session ends.
    held: Mutex<HashMap<RequestId, InFlight>>,
    /// Requests the server sent to the client, by id.
    asked: Mutex<HashMap<RequestId, String>>,
    next_request: AtomicU64,
    /// Calls of the asking tool waiting for the client's answers ([`Fault::AskClient`]).
    asking: Mutex<Vec<(ask::Asking, Option<InFlight>)>>,
}

impl Session {
    fn send(&self, out: Out) {
        // The writer may be gone; then the message (and its guard) is simply dropped.
        let _ = self.tx.send(out);
    }

    fn message(&self, data: Vec<u8>) {
        self.send(Out::Event { name: "message", data, _guard: None });
    }

    fn request_client(&self, method: &str) {
        let n = self.next_request.fetch_add(1, Ordering::SeqCst) + 1;
        let id = RequestId::String(format!("server-{n}"));
        lock(&self.asked).insert(id.clone(), method.to_string());
        self.message(jsonrpc::encode_request::<Value>(&id, method, None));
    }
}

/// The handle a [`TestServer`] wraps.
pub(crate) struct Running {
    shared: Arc<Shared>,
    url: String,
    mcp_url: String,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

pub(crate) fn start(spec: Spec, extra_gauges: Vec<Arc<Gauge>>) -> io::Result<TestServer> {
    let listener = match spec.bind {
        Some(addr) => TcpListener::bind(addr)?,
        None => TcpListener::bind(("127.0.0.1", 0))?,
    };
    let addr = listener.local_addr()?;
    let refuse = spec.has(&Fault::RefuseConnections);
    let (stop_tx, stop_rx) = unbounded();
    let mut gauges = vec![Gauge::new()];
    gauges.extend(extra_gauges);
    let shared = Arc::new(Shared {
        spec,
        addr,
        stop: AtomicBool::new(refuse),
        stop_tx: Mutex::new((!refuse).then_some(stop_tx)),
        stop_rx,
        stats: Mutex::new(Stats::default()),
        gauges,
        connections: Gauge::new(),
        sessions: Mutex::new(HashMap::new()),
        mcp_sessions: Mutex::new(HashSet::new()),
        sockets: Mutex::new(HashMap::new()),
        threads: Mutex::new(Vec::new()),
        next_id: AtomicU64::new(0),
        mcp_asking: Mutex::new(HashMap::new()),
        listens: Mutex::new(HashMap::new()),
        broken: Mutex::new(HashMap::new()),
    });
    let url = format!("http://{addr}/sse");
    let mcp_url = format!("http://{addr}{}", streamable::PATH);
    let acceptor = if refuse {
        drop(listener);
        log::debug!("test server `{}`: refusing connections on {addr}", shared.spec.name);
        None
    } else {
        let s = Arc::clone(&shared);
        let handle =
            thread::Builder::new().name("test-server-accept".into()).spawn(move || accept_loop(&s, listener))?;
        log::debug!("test server `{}` listening on {url}", shared.spec.name);
        Some(handle)
    };
    Ok(TestServer { inner: Running { shared, url, mcp_url, acceptor: Mutex::new(acceptor) } })
}

impl Running {
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn mcp_url(&self) -> &str {
        &self.mcp_url
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    pub(crate) fn stats(&self) -> Stats {
        let mut stats = lock(&self.shared.stats).clone();
        stats.in_flight_max = self.shared.gauges[0].max();
        stats.open_connections = self.shared.connections.current();
        stats.max_concurrent_connections = self.shared.connections.max();
        stats.open_listens = lock(&self.shared.listens).len();
        stats
    }

    fn sessions(&self) -> Vec<Arc<Session>> {
        lock(&self.shared.sessions).values().cloned().collect()
    }

    pub(crate) fn notify(&self, method: &str, params: Option<Value>) -> usize {
        let data = jsonrpc::encode_notification(method, params.as_ref());
        let sessions = self.sessions();
        for s in &sessions {
            s.message(data.clone());
        }
        let listens: Vec<Listen> = lock(&self.shared.listens).values().cloned().collect();
        let mut sent = 0;
        for l in listens.iter().filter(|l| wants(&l.filter, method, params.as_ref())) {
            sent += usize::from(l.tx.send(Some(on_subscription(&l.id, method, params.as_ref()))).is_ok());
        }
        sessions.len() + sent
    }

    pub(crate) fn close_streams(&self) -> usize {
        let sessions = self.sessions();
        for s in &sessions {
            s.send(Out::Close);
        }
        // Dropping a listen's sender ends its stream without a response (a drop).
        let listens = std::mem::take(&mut *lock(&self.shared.listens));
        sessions.len() + listens.len()
    }

    pub(crate) fn end_listens(&self) -> usize {
        let listens: Vec<Listen> = lock(&self.shared.listens).values().cloned().collect();
        listens.iter().filter(|l| l.tx.send(None).is_ok()).count()
    }

    pub(crate) fn shutdown(&self) {
        let shared = &self.shared;
        shared.stop.store(true, Ordering::SeqCst);
        drop(lock(&shared.stop_tx).take());
        let acceptor = lock(&self.acceptor).take();
        if let Some(acceptor) = acceptor {
            // Wake the blocking accept(); the acceptor sees the flag and returns, closing the port.
            let _ = TcpStream::connect_timeout(&shared.addr, Duration::from_secs(1));
            let _ = acceptor.join();
        }
        let sockets = std::mem::take(&mut *lock(&shared.sockets));
        for socket in sockets.values() {
            let _ = socket.shutdown(Shutdown::Both);
        }
        // Threads may start threads (a delayed answer) while we join: repeat until none is left.
        loop {
            let threads = std::mem::take(&mut *lock(&shared.threads));
            if threads.is_empty() {
                break;
            }
            for t in threads {
                let _ = t.join();
            }
        }
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: TcpListener) {
    loop {
        let accepted = listener.accept();
        if shared.stopping() {
            break;
        }
        match accepted {
            Ok((stream, peer)) => {
                let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
                shared.count(|s| s.http_connections += 1);
                let guard = InFlight::enter(vec![Arc::clone(&shared.connections)]);
                log::trace!("test server `{}`: connection {id} from {peer}", shared.spec.name);
                let s = Arc::clone(shared);
                if let Err(e) = shared.spawn("test-server-conn", move || serve_connection(&s, stream, id, guard)) {
                    log::warn!("test server `{}`: cannot start a connection thread: {e}", shared.spec.name);
                }
            }
            Err(e) => {
                log::warn!("test server `{}`: accept failed: {e}", shared.spec.name);
                // Back off briefly (or stop at once on shutdown).
                if shared.stop_rx.recv_timeout(Duration::from_millis(20)) != Err(RecvTimeoutError::Timeout) {
                    break;
                }
            }
        }
    }
    log::debug!("test server `{}`: no longer accepting on {}", shared.spec.name, shared.addr);
}

fn write_response(mut stream: &TcpStream, status: u16, headers: &[(&str, &str)], body: &str, keep_alive: bool) -> bool {
    stream.write_all(&http::response(status, headers, body, keep_alive)).is_ok()
}

fn serve_connection(shared: &Arc<Shared>, stream: TcpStream, id: u64, _open: InFlight) {
    let configured = stream
        .set_nodelay(true)
        .and_then(|()| stream.set_read_timeout(Some(POLL)))
        .and_then(|()| stream.set_write_timeout(Some(WRITE_TIMEOUT)))
        .and_then(|()| stream.try_clone());
    let Ok(clone) = configured else { return };
    lock(&shared.sockets).insert(id, clone);
    // Registered first, then checked: either shutdown's sweep sees this socket, or we see the flag.
    if !shared.stopping() {
        handle_requests(shared, &stream);
    }
    lock(&shared.sockets).remove(&id);
    let _ = stream.shutdown(Shutdown::Both);
}

fn handle_requests(shared: &Arc<Shared>, stream: &TcpStream) {
    let mut reader = RequestReader { stop: &shared.stop, idle_limit: IDLE_LIMIT, buf: Vec::new() };
    loop {
        let req = match reader.next(&mut &*stream) {
            ReadOutcome::Request(req) => req,
            ReadOutcome::Closed => return,
            ReadOutcome::Bad(e) => {
                let (status, body) = e.response();
                log::debug!("test server `{}`: bad request: {body}", shared.spec.name);
                if write_response(stream, status, &[], &body, false) {
                    linger(stream);
                }
                return;
            }
        };
        let keep_alive = req.keep_alive();
        let path = req.path();
        if req.method == "GET" && req.header("last-event-id").is_some() {
            shared.count(|s| s.resumptions += 1);
        }
        let written = match (req.method.as_str(), path) {
            ("GET", "/sse") if shared.spec.mode == super::ProtocolMode::ModernOnly => {
                write_response(stream, 404, &[], "Not Found", keep_alive)
            }
            ("GET", "/sse") => {
                serve_sse(shared, stream, &req);
                return;
            }
            (_, streamable::PATH) if shared.spec.mode == super::ProtocolMode::LegacySseOnly => {
                write_response(stream, 404, &[], "Not Found", keep_alive)
            }
            (_, "/sse") => write_response(stream, 405, &[("allow", "GET")], "Method Not Allowed", keep_alive),
            ("POST", "/messages/" | "/messages") => handle_post(shared, stream, &req, keep_alive),
            (_, streamable::PATH) => streamable::handle(shared, stream, &req, keep_alive),
            (_, "/messages/" | "/messages") => {
                write_response(stream, 405, &[("allow", "POST")], "Method Not Allowed", keep_alive)
            }
            _ => write_response(stream, 404, &[], "Not Found", keep_alive),
        };
        if !written || !keep_alive {
            return;
        }
    }
}

/// After an error response, reads and discards what the client is still sending, briefly, so
/// closing does not reset the connection before the client has read the response.
fn linger(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut buf = [0u8; 8192];
    let mut discarded = 0usize;
    while Instant::now() < deadline && discarded < 4 * 1024 * 1024 {
        match io::Read::read(&mut &*stream, &mut buf) {
            Ok(0) => return,
            Ok(n) => discarded += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return,
        }
    }
}

/// Handles one POST; returns whether the response was written.
fn handle_post(shared: &Arc<Shared>, stream: &TcpStream, req: &Request, keep_alive: bool) -> bool {
    let spec = &shared.spec;
    shared.count(|s| s.posts += 1);
    if let Some(status) = spec.post_status() {
        return write_response(stream, status, &[], &format!("injected fault: status {status}"), keep_alive);
    }
    if spec.has(&Fault::ForgetSessions) {
        return write_response(stream, 404, &[], "Could not find session", keep_alive);
    }
    let Some(session_id) = req.query("session_id") else {
        return write_response(stream, 400, &[], "session_id is required", keep_alive);
    };
    let session = lock(&shared.sessions).get(session_id).cloned();
    let Some(session) = session else {
        return write_response(stream, 404, &[], "Could not find session", keep_alive);
    };
    let decoded = std::str::from_utf8(&req.body).map_err(|e| e.to_string()).and_then(|text| {
        log::trace!("test server `{}` <- {text}", spec.name);
        // The test server refuses a batch with any bad item whole, as a strict server would.
        jsonrpc::decode(text).and_then(|v| v.into_iter().collect::<Result<Vec<_>, _>>()).map_err(|e| e.0)
    });
    let messages = match decoded {
        Ok(m) => m,
        Err(why) => {
            log::debug!("test server `{}`: could not parse a message: {why}", spec.name);
            let error = json!({"jsonrpc": "2.0", "id": null, "error": {"code": PARSE_ERROR, "message": "Parse error", "data": why}});
            session.message(error.to_string().into_bytes());
            return write_response(stream, 400, &[], "Could not parse message", keep_alive);
        }
    };
    // Count and take the in-flight guards before the 202, so a test that saw the 202 sees them.
    let work: Vec<(Message, Option<InFlight>)> = messages
        .into_iter()
        .map(|m| {
            let guard = match &m {
                Message::Request { method, .. } => {
                    shared.count(|s| *s.requests.entry(method.clone()).or_default() += 1);
                    Some(InFlight::enter(shared.gauges.clone()))
                }
                Message::Notification { method, .. } => {
                    shared.count(|s| *s.requests.entry(method.clone()).or_default() += 1);
                    None
                }
                Message::Response { .. } => None,
            };
            (m, guard)
        })
        .collect();
    let slow = work.iter().find_map(|(m, _)| match m {
        Message::Request { method, .. } | Message::Notification { method, .. } => spec.slow_accept(method),
        Message::Response { .. } => None,
    });
    if let Some(delay) = slow {
        // Disconnected means shutdown: answer at once.
        let _ = shared.stop_rx.recv_timeout(delay);
    }
    let written = write_response(stream, 202, &[], "Accepted", keep_alive);
    for (message, guard) in work {
        dispatch(shared, &session, message, guard);
    }
    written
}

fn dispatch(shared: &Arc<Shared>, session: &Arc<Session>, message: Message, guard: Option<InFlight>) {
    let spec = &shared.spec;
    match message {
        Message::Request { id, method, params } => {
            if spec.closes_on(&method) {
                log::debug!("test server `{}`: closing the stream on `{method}` (fault)", spec.name);
                session.send(Out::Close);
                return;
            }
            if spec.never_answers(&method) {
                if let Some(g) = guard {
                    lock(&session.held).insert(id, g);
                }
                return;
            }
            if method == "initialize" {
                record_capabilities(shared, params.as_deref());
            }
            if spec.asks(&method, params.as_deref()) {
                let (asking, requests) = ask::Asking::new(id, shared.next_id.fetch_add(1, Ordering::SeqCst));
                lock(&session.asking).push((asking, guard));
                for (id, method, data) in requests {
                    lock(&session.asked).insert(id, method.to_string());
                    session.message(data);
                }
                return;
            }
            let result = mcp::answer(spec, &method, params.as_deref());
            let data = jsonrpc::encode_response(&id, result.as_ref());
            log::trace!("test server `{}` -> {}", spec.name, String::from_utf8_lossy(&data));
            if spec.malformed_before(&method) {
                session.message(b"{not json".to_vec());
            }
            let out = Out::Event { name: "message", data, _guard: guard };
            match spec.delay_for(&method) {
                None => session.send(out),
                Some(delay) => {
                    let stop = shared.stop_rx.clone();
                    let tx = session.tx.clone();
                    let spawned = shared.spawn("test-server-delay", move || {
                        // Disconnected means shutdown: drop the answer (and its guard).
                        if stop.recv_timeout(delay) == Err(RecvTimeoutError::Timeout) {
                            let _ = tx.send(out);
                        }
                    });
                    if let Err(e) = spawned {
                        log::warn!("test server `{}`: cannot start a delay thread: {e}", spec.name);
                    }
                }
            }
        }
        Message::Notification { method, params } => match method.as_str() {
            "notifications/initialized" => after_initialized(spec, session),
            "notifications/cancelled" => {
                let params: Value = params.and_then(|p| serde_json::from_str(p.get()).ok()).unwrap_or(Value::Null);
                let request_id =
                    params.get("requestId").and_then(|v| serde_json::from_value::<RequestId>(v.clone()).ok());
                let reason = params.get("reason").and_then(Value::as_str).map(str::to_owned);
                let released = request_id.as_ref().and_then(|id| lock(&session.held).remove(id));
                drop(released);
                shared.count(|s| s.cancelled.push(Cancellation { request_id, reason }));
            }
            _ => {}
        },
        Message::Response { id, result } => {
            let method = id.as_ref().and_then(|id| lock(&session.asked).remove(id));
            let result = match result {
                Ok(raw) => Ok(serde_json::from_str::<Value>(raw.get()).unwrap_or(Value::Null)),
                Err(e) => Err((e.code, e.message)),
            };
            let finished = id.as_ref().and_then(|id| {
                let mut asking = lock(&session.asking);
                let i = asking.iter_mut().position(|(a, _)| a.answered(id, &result))?;
                if asking[i].0.done() { Some(asking.remove(i)) } else { None }
            });
            if let Some((asking, guard)) = finished {
                session.send(Out::Event { name: "message", data: asking.response(), _guard: guard });
            }
            let pinged = method.as_deref() == Some("ping") && result.is_ok();
            shared.count(|s| {
                if pinged {
                    s.client_pings_answered += 1;
                }
                s.client_answers.push(ClientAnswer { id, method, result });
            });
        }
    }
}

/// Records the `capabilities` of an `initialize` in [`Stats::client_capabilities`].
fn record_capabilities(shared: &Shared, params: Option<&serde_json::value::RawValue>) {
    let caps =
        params.and_then(|p| serde_json::from_str::<Value>(p.get()).ok()).and_then(|p| p.get("capabilities").cloned());
    shared.count(|s| s.client_capabilities = caps);
}

fn after_initialized(spec: &Spec, session: &Session) {
    for fault in &spec.faults {
        match fault {
            Fault::PingClient => session.request_client("ping"),
            Fault::RequestClient(method) => session.request_client(method),
            Fault::NotifyAfterInitialized => {
                let log = json!({"level": "info", "logger": "test", "data": "hello"});
                session.message(jsonrpc::encode_notification("notifications/message", Some(&log)));
                let progress = json!({"progressToken": "test", "progress": 1, "total": 1, "message": "initialized"});
                session.message(jsonrpc::encode_notification("notifications/progress", Some(&progress)));
            }
            _ => {}
        }
    }
}

/// 32 hex digits, different for every session.
fn session_id(n: u64) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut out = String::with_capacity(32);
    for half in 0..2u64 {
        // Each RandomState has fresh random keys.
        let mut h = RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_u64(half);
        h.write_u128(nanos);
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// Writes events on one stream.
struct SseWriter<'a> {
    stream: &'a TcpStream,
    chunked: bool,
    newline: &'static str,
    slow: Option<Duration>,
    stop: &'a Receiver<()>,
}

impl SseWriter<'_> {
    fn raw(&self, bytes: &[u8]) -> io::Result<()> {
        let mut stream = self.stream;
        let framed;
        let bytes = if self.chunked {
            framed = http::chunk(bytes);
            &framed[..]
        } else {
            bytes
        };
        match self.slow {
            None => stream.write_all(bytes),
            Some(pause) => {
                for piece in bytes.chunks(7) {
                    stream.write_all(piece)?;
                    if self.stop.recv_timeout(pause) != Err(RecvTimeoutError::Timeout) {
                        return Err(io::Error::other("stopping"));
                    }
                }
                Ok(())
            }
        }
    }

    fn event(&self, name: &str, data: &[u8]) -> io::Result<()> {
        let nl = self.newline.as_bytes();
        let mut out = Vec::with_capacity(data.len() + 32);
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(nl);
        for line in data.split(|b| *b == b'\n') {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(line);
            out.extend_from_slice(nl);
        }
        out.extend_from_slice(nl);
        self.raw(&out)
    }

    fn comment(&self, text: &str) -> io::Result<()> {
        self.raw(format!(": {text}{nl}{nl}", nl = self.newline).as_bytes())
    }
}

/// The data of [`Fault::OversizedEvent`]: exactly `n` bytes, a valid notification when it fits.
pub(crate) fn oversized_data(n: usize) -> Vec<u8> {
    let head =
        br#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"debug","logger":"oversized","data":""#;
    let tail = br#""}}"#;
    if n < head.len() + tail.len() {
        return vec![b'x'; n];
    }
    let mut out = Vec::with_capacity(n);
    out.extend_from_slice(head);
    out.resize(n - tail.len(), b'x');
    out.extend_from_slice(tail);
    out
}

/// Watches the GET connection for the client closing it; the stream's writer learns it over `tx`.
fn watch_eof(stream: TcpStream, tx: Sender<Out>, done: Arc<AtomicBool>) {
    let mut buf = [0u8; 1024];
    loop {
        match io::Read::read(&mut &stream, &mut buf) {
            Ok(0) => break,
            Ok(_) => {} // a client sends nothing after the GET; ignore whatever comes
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                if done.load(Ordering::SeqCst) {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = tx.send(Out::ClientGone);
}

fn serve_sse(shared: &Arc<Shared>, stream: &TcpStream, req: &Request) {
    let spec = &shared.spec;
    let chunked = req.http11;
    let writer = SseWriter {
        stream,
        chunked,
        newline: if spec.has(&Fault::BareLf) { "\n" } else { "\r\n" },
        slow: spec.slow_stream(),
        stop: &shared.stop_rx,
    };
    if (&*stream).write_all(&http::sse_head(chunked)).is_err() {
        return;
    }
    let id = session_id(shared.next_id.fetch_add(1, Ordering::SeqCst));
    let (tx, rx) = unbounded();
    let session = Arc::new(Session {
        tx: tx.clone(),
        held: Mutex::new(HashMap::new()),
        asked: Mutex::new(HashMap::new()),
        next_request: AtomicU64::new(0),
        asking: Mutex::new(Vec::new()),
    });
    let done = Arc::new(AtomicBool::new(false));
    let watcher = stream.try_clone().and_then(|clone| {
        let done = Arc::clone(&done);
        thread::Builder::new().name("test-server-sse-eof".into()).spawn(move || watch_eof(clone, tx, done))
    });
    let Ok(watcher) = watcher else { return };
    shared.count(|s| {
        s.sse_connections += 1;
        s.open_sessions += 1;
    });
    log::debug!("test server `{}`: session {id} opened", spec.name);

    let ended_by = run_session(shared, &writer, &id, &session, &rx);

    lock(&shared.sessions).remove(&id);
    done.store(true, Ordering::SeqCst);
    if chunked && !matches!(ended_by, End::ClientGone | End::WriteFailed) {
        let _ = (&*stream).write_all(http::LAST_CHUNK);
    }
    let _ = stream.shutdown(Shutdown::Both);
    let _ = watcher.join();
    // Whatever is still queued or held will never be answered: release the guards.
    while rx.try_recv().is_ok() {}
    let held = std::mem::take(&mut *lock(&session.held));
    drop(held);
    shared.count(|s| {
        s.open_sessions = s.open_sessions.saturating_sub(1);
        s.closed_sessions += 1;
    });
    log::debug!("test server `{}`: session {id} closed ({ended_by:?})", spec.name);
}

#[derive(Debug)]
enum End {
    Stop,
    Closed,
    ClientGone,
    WriteFailed,
}

fn run_session(
    shared: &Arc<Shared>,
    writer: &SseWriter<'_>,
    id: &str,
    session: &Arc<Session>,
    rx: &Receiver<Out>,
) -> End {
    let spec = &shared.spec;
    if !spec.has(&Fault::NoEndpoint) {
        let endpoint = if spec.has(&Fault::ForeignEndpoint) {
            format!("http://127.0.0.2:{}/messages/?session_id={id}", shared.addr.port())
        } else {
            format!("/messages/?session_id={id}")
        };
        lock(&shared.sessions).insert(id.to_string(), Arc::clone(session));
        if writer.event("endpoint", endpoint.as_bytes()).is_err() {
            return End::WriteFailed;
        }
        if let Some(n) = spec.oversized()
            && writer.event("message", &oversized_data(n)).is_err()
        {
            return End::WriteFailed;
        }
    }
    let keep_alive = spec.keep_alive();
    let mut next_ping = keep_alive.map(|k| Instant::now() + k);
    loop {
        let wait = next_ping.map_or(Duration::from_secs(3600), |t| t.saturating_duration_since(Instant::now()));
        select! {
            recv(rx) -> out => match out {
                Ok(Out::Event { name, data, _guard }) => {
                    // The request stops counting as in flight before its answer goes out: once
                    // the client has read it, it may send its next request at once, and that
                    // one must never be counted beside this one.
                    drop(_guard);
                    if writer.event(name, &data).is_err() {
                        return End::WriteFailed;
                    }
                }
                Ok(Out::Close) => return End::Closed,
                Ok(Out::ClientGone) => return End::ClientGone,
                Err(_) => return End::Closed,
            },
            recv(shared.stop_rx) -> _ => return End::Stop,
            default(wait) => {
                if let (Some(interval), Some(at)) = (keep_alive, next_ping)
                    && Instant::now() >= at
                {
                    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                    if writer.comment(&format!("ping - {now}")).is_err() {
                        return End::WriteFailed;
                    }
                    next_ping = Some(Instant::now() + interval);
                }
            }
        }
    }
}
