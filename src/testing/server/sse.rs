//! The legacy HTTP+SSE transport: an event-stream session (`GET /sse`) with its writer and its
//! end-of-stream watcher, the `POST /messages/` that feeds it, and the dispatch of each message
//! (answers, faults, server requests, the client's answers).

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, select, unbounded};
use serde_json::{Value, json};

use super::{
    ClientAnswer, Fault, InFlight, Shared, Spec, ask, lock, mcp, record_capabilities, session_id, write_response,
};
use crate::jsonrpc::{self, Message, PARSE_ERROR, RequestId};
use crate::testing::Cancellation;
#[cfg(doc)]
use crate::testing::TestServer;
use crate::testing::http::{self, Request};

/// What a session's writer is asked to do.
pub(super) enum Out {
    /// Write an event, dropping the in-flight guard it carries just before.
    Event { name: &'static str, data: Vec<u8>, _guard: Option<InFlight> },
    /// End the stream (a fault, or [`TestServer::close_streams`]).
    Close,
    /// The client closed its end.
    ClientGone,
}

/// One event-stream session.
pub(super) struct Session {
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
    pub(super) fn send(&self, out: Out) {
        // The writer may be gone; then the message (and its guard) is simply dropped.
        let _ = self.tx.send(out);
    }

    pub(super) fn message(&self, data: Vec<u8>) {
        self.send(Out::Event { name: "message", data, _guard: None });
    }

    fn request_client(&self, method: &str) {
        self.request_client_with(method, None);
    }

    fn request_client_with(&self, method: &str, params: Option<&Value>) {
        let n = self.next_request.fetch_add(1, Ordering::SeqCst) + 1;
        let id = RequestId::String(format!("server-{n}"));
        lock(&self.asked).insert(id.clone(), method.to_string());
        self.message(jsonrpc::encode_request::<Value>(&id, method, params));
    }
}

/// Handles one POST; returns whether the response was written.
pub(super) fn handle_post(shared: &Arc<Shared>, stream: &TcpStream, req: &Request, keep_alive: bool) -> bool {
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
                Message::Request { method, params, .. } => {
                    shared.count(|s| *s.requests.entry(method.clone()).or_default() += 1);
                    super::record_params(shared, method, params.as_deref());
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
            for progress in mcp::progress_for(params.as_deref()) {
                session.message(progress);
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

fn after_initialized(spec: &Spec, session: &Session) {
    for fault in &spec.faults {
        match fault {
            Fault::PingClient => session.request_client("ping"),
            Fault::RequestClient(method) => session.request_client(method),
            Fault::RequestClientWith(method, params) => {
                session.request_client_with(method, serde_json::from_str::<Value>(params).ok().as_ref());
            }
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

pub(super) fn serve_sse(shared: &Arc<Shared>, stream: &TcpStream, req: &Request) {
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
