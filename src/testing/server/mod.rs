//! The running server: the state its threads share, the accept loop, connection threads and
//! the routing of each request, the handle's queries, and shutdown. The legacy HTTP+SSE sessions
//! are in `sse`, Streamable HTTP in `streamable`, `subscriptions/listen` in `listen`.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, unbounded};
use serde_json::Value;

mod listen;
mod sse;
mod streamable;

pub(crate) use listen::{on_subscription, wants};
pub(crate) use sse::oversized_data;

use super::http::{self, ReadOutcome, RequestReader};
use super::{ClientAnswer, Fault, Gauge, InFlight, Spec, Stats, TestServer, ask, mcp};
use crate::jsonrpc::{self, RequestId};
use listen::Listen;
use sse::{Out, Session, handle_post, serve_sse};

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
        stats.task_polls = self.shared.spec.tasks.polls();
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

/// Records a request's params in [`Stats::last_params`] (HTTP transports).
fn record_params(shared: &Shared, method: &str, params: Option<&serde_json::value::RawValue>) {
    let value = params.and_then(|p| serde_json::from_str::<Value>(p.get()).ok()).unwrap_or(Value::Null);
    shared.count(|s| {
        s.last_params.insert(method.to_string(), value);
    });
}

/// Records the `capabilities` of an `initialize` in [`Stats::client_capabilities`].
fn record_capabilities(shared: &Shared, params: Option<&serde_json::value::RawValue>) {
    let caps =
        params.and_then(|p| serde_json::from_str::<Value>(p.get()).ok()).and_then(|p| p.get("capabilities").cloned());
    shared.count(|s| s.client_capabilities = caps);
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
