//! `serve` over Streamable HTTP: `POST /mcp` with one JSON-RPC message, answered with
//! `application/json`. Handshake-era clients get an `Mcp-Session-Id` from `initialize` and must
//! send it back; `DELETE /mcp` ends the session. Requests on the 2026-07-28 wire are stateless.
//! A routed call that passes the upstream's requests or progress through is answered with an
//! event stream instead. `GET /mcp` with a handshake-era session id opens that session's
//! stream of pushed `list_changed` notifications; on the 2026-07-28 wire the request's
//! `MCP-Protocol-Version` and routing headers are checked against its body.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde_json::{Value, json};

use super::http::{self, ReadOutcome, Request, RequestReader};
use super::relay::Link;
use super::{Era, Server};
use crate::config::Secret;
use crate::jsonrpc::{INVALID_PARAMS, METHOD_NOT_FOUND};
use crate::protocol::modern::{HEADER_MISMATCH, META_VERSION, UNSUPPORTED_VERSION};

/// How often a blocked read or accept looks at the stop flag.
const POLL: Duration = Duration::from_millis(200);
/// The most connections served at once by default.
pub const DEFAULT_MAX_HTTP_CONNECTIONS: usize = 64;
/// How long a connection may stay idle between requests by default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Options of [`serve_http`].
#[derive(Clone, Debug)]
pub struct HttpOptions {
    token: Option<Secret>,
    max_connections: usize,
    idle_timeout: Duration,
    write_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions {
            token: None,
            max_connections: DEFAULT_MAX_HTTP_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            write_timeout: Duration::from_secs(30),
        }
    }
}

impl HttpOptions {
    /// The defaults: no token, [`DEFAULT_MAX_HTTP_CONNECTIONS`], [`DEFAULT_IDLE_TIMEOUT`].
    pub fn new() -> HttpOptions {
        HttpOptions::default()
    }

    /// Requires `Authorization: Bearer <token>` on every request (compared in constant time,
    /// never logged). Required to listen on a non-loopback address.
    pub fn bearer_token(mut self, token: Secret) -> HttpOptions {
        self.token = Some(token);
        self
    }

    /// The most connections served at once; more are answered 503 and closed.
    pub fn max_connections(mut self, n: usize) -> HttpOptions {
        self.max_connections = n.max(1);
        self
    }

    /// How long a connection may stay idle (or take to send a request) before it is closed.
    pub fn idle_timeout(mut self, timeout: Duration) -> HttpOptions {
        self.idle_timeout = timeout;
        self
    }
}

/// A running Streamable HTTP endpoint. Dropping it shuts it down too.
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint's URL, `http://<addr>/mcp`.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// Stops accepting, ends every connection (each notices within a fraction of a second,
    /// or when its request in flight is answered) and returns when all threads have ended.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// A handshake-era session.
struct SessionInfo {
    /// The client's `initialize` capabilities (what it may be asked).
    capabilities: Value,
}

struct Shared {
    server: Arc<Server>,
    options: HttpOptions,
    stop: Arc<AtomicBool>,
    /// Handshake-era sessions: id → what the client declared.
    sessions: Mutex<HashMap<String, SessionInfo>>,
    loopback: bool,
}

/// Serves `server` on `listener` (`POST /mcp`) on a thread of its own, a thread per
/// connection, at most [`HttpOptions::max_connections`] at once.
///
/// Refuses (an [`io::ErrorKind::InvalidInput`] error) to listen on a non-loopback address
/// without a bearer token.
pub fn serve_http(server: Arc<Server>, listener: TcpListener, options: HttpOptions) -> io::Result<HttpServer> {
    let addr = listener.local_addr()?;
    let loopback = addr.ip().is_loopback();
    if !loopback && options.token.is_none() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "refusing to serve on {addr}: it is not a loopback address, and no bearer token is set \
                 (set one, or listen on 127.0.0.1)"
            ),
        ));
    }
    listener.set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let shared =
        Arc::new(Shared { server, options, stop: Arc::clone(&stop), sessions: Mutex::new(HashMap::new()), loopback });
    let accept =
        thread::Builder::new().name("serve-http-accept".into()).spawn(move || accept_loop(&listener, &shared))?;
    log::info!("serve: listening on http://{addr}/mcp");
    Ok(HttpServer { addr, stop, accept: Some(accept) })
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let active = Arc::new(AtomicUsize::new(0));
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // Non-blocking accept: wait for the next connection or the stop flag.
                thread::park_timeout(POLL / 4);
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log::warn!("serve: accept failed: {e}");
                thread::park_timeout(POLL);
                continue;
            }
        };
        threads.retain(|t| !t.is_finished());
        let mut stream = stream;
        if stream.set_nonblocking(false).is_err()
            || stream.set_read_timeout(Some(POLL)).is_err()
            || stream.set_write_timeout(Some(shared.options.write_timeout)).is_err()
        {
            continue;
        }
        if active.load(Ordering::SeqCst) >= shared.options.max_connections {
            let _ = stream.write_all(&http::response(503, &[("retry-after", "1")], "Too many connections", false));
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (shared2, active2) = (Arc::clone(shared), Arc::clone(&active));
        let spawned = thread::Builder::new().name("serve-http-conn".into()).spawn(move || {
            connection(&shared2, stream);
            active2.fetch_sub(1, Ordering::SeqCst);
        });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => {
                active.fetch_sub(1, Ordering::SeqCst);
                log::warn!("serve: could not start a connection thread: {e}");
            }
        }
    }
    for t in threads {
        let _ = t.join();
    }
}

fn connection(shared: &Shared, mut stream: TcpStream) {
    let mut reader = RequestReader { stop: &shared.stop, idle_limit: shared.options.idle_timeout, buf: Vec::new() };
    loop {
        let request = match reader.next(&mut stream) {
            ReadOutcome::Request(r) => r,
            ReadOutcome::Closed => return,
            ReadOutcome::Bad(e) => {
                let (status, body) = e.response();
                let _ = stream.write_all(&http::response(status, &[], &body, false));
                return;
            }
        };
        let keep_alive = request.keep_alive() && !shared.stop.load(Ordering::SeqCst);
        if request.method == "GET" && request.path() == "/mcp" && authorized(shared, &request).is_none() {
            return listen(shared, &mut stream, &request);
        }
        let mut reply = respond(shared, &request);
        if let Some(call) = reply.call.take() {
            // Its reply may be an event stream, which ends with the connection.
            if !stream_call(shared, &mut stream, call, keep_alive) {
                return;
            }
            continue;
        }
        let bytes = match &reply.json {
            Some(body) => {
                let headers: Vec<(&str, &str)> = reply.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                http::typed_response(reply.status, "application/json", &headers, body, keep_alive)
            }
            None => {
                let headers: Vec<(&str, &str)> = reply.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                http::response(reply.status, &headers, &reply.text, keep_alive)
            }
        };
        if stream.write_all(&bytes).is_err() || !keep_alive {
            return;
        }
    }
}

struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    /// A JSON body, or else `text` as plain text.
    json: Option<String>,
    text: String,
    /// A `tools/call` to answer on the connection's thread, streaming ([`stream_call`]).
    call: Option<Call>,
}

/// A `tools/call`, to be answered in an event stream if anything passes through.
struct Call {
    text: String,
    /// The connection key: the session id (handshake era), else one of its own.
    key: String,
    /// The client's capabilities, when not its session's.
    capabilities: Option<Value>,
    /// On the 2026-07-28 wire (an error's HTTP status follows its code).
    modern: bool,
}

fn plain(status: u16, text: impl Into<String>) -> Reply {
    Reply { status, headers: Vec::new(), json: None, text: text.into(), call: None }
}

fn json_reply(status: u16, body: String) -> Reply {
    Reply { status, headers: Vec::new(), json: Some(body), text: String::new(), call: None }
}

/// Answers a routed `tools/call` on a thread of its own (`serve-http-call`) while this one
/// writes what passes through (relayed requests, progress) as events; the first makes the
/// reply an event stream (its end delimited by closing the connection), whose last event is
/// the response. With nothing passing through, the reply is plain JSON. Whether the
/// connection may serve another request.
fn stream_call(shared: &Shared, stream: &mut TcpStream, call: Call, keep_alive: bool) -> bool {
    let capabilities = call.capabilities.unwrap_or_else(|| {
        let sessions = shared.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.get(&call.key).map(|s| s.capabilities.clone()).unwrap_or_default()
    });
    let (tx, rx) = crossbeam_channel::unbounded::<Vec<u8>>();
    let link = Arc::new(Link::new(call.key, capabilities, move |bytes| tx.send(bytes).is_ok()));
    let server = Arc::clone(&shared.server);
    let (text, modern) = (call.text, call.modern);
    let worker = match thread::Builder::new()
        .name("serve-http-call".into())
        .spawn(move || server.handle_text(&text, Some(&link)).reply)
    {
        Ok(w) => w,
        Err(e) => {
            log::warn!("serve: could not start a call thread: {e}");
            let _ = stream.write_all(&http::response(503, &[("retry-after", "1")], "Service Unavailable", false));
            return false;
        }
    };
    let mut started = false;
    let write_event = |started: &mut bool, stream: &mut TcpStream, bytes: &[u8]| {
        if !*started {
            *started = true;
            let _ = stream.write_all(&http::sse_head(false));
        }
        let mut event = b"event: message\ndata: ".to_vec();
        event.extend_from_slice(bytes);
        event.extend_from_slice(b"\n\n");
        // A client that went away: the call still ends (its deadline), its events are dropped.
        let _ = stream.write_all(&event);
    };
    loop {
        match rx.recv_timeout(POLL) {
            Ok(bytes) => write_event(&mut started, stream, &bytes),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) if !worker.is_finished() => {}
            Err(_) => break,
        }
    }
    for bytes in rx.try_iter() {
        write_event(&mut started, stream, &bytes);
    }
    let reply = worker.join().unwrap_or_else(|_| {
        log::error!("serve: a call thread panicked");
        None
    });
    let written = match reply {
        Some(bytes) if started => {
            write_event(&mut started, stream, &bytes);
            return false;
        }
        Some(bytes) => {
            let code = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| v.pointer("/error/code")?.as_i64());
            let status = if modern { modern_status(code) } else { 200 };
            let body = String::from_utf8_lossy(&bytes);
            stream.write_all(&http::typed_response(status, "application/json", &[], &body, keep_alive))
        }
        // Cancelled: no answer.
        None if started => return false,
        None => stream.write_all(&http::response(202, &[], "Accepted", keep_alive)),
    };
    written.is_ok() && keep_alive
}

/// Compares in time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether an `Origin` is allowed: any, with a token; else only a loopback one (DNS
/// rebinding protection).
fn origin_allowed(token: bool, loopback: bool, origin: &str) -> bool {
    if token || !loopback {
        return true;
    }
    let rest = origin.split_once("://").map_or(origin, |(_, r)| r);
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        rest.split([':', '/']).next().unwrap_or("")
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1") || origin == "null"
}

fn new_session_id() -> String {
    super::unguessable()
}

/// The refusal of a request that is not authorized (token, origin), if it is not.
fn authorized(shared: &Shared, request: &Request) -> Option<Reply> {
    if let Some(token) = &shared.options.token {
        let given = request.header("authorization").and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
        if !constant_time_eq(given.trim().as_bytes(), token.expose().as_bytes()) {
            let mut r = plain(401, "Unauthorized");
            r.headers.push(("www-authenticate", "Bearer".into()));
            return Some(r);
        }
    }
    if let Some(origin) = request.header("origin")
        && !origin_allowed(shared.options.token.is_some(), shared.loopback, origin)
    {
        return Some(plain(403, "Forbidden: origin not allowed"));
    }
    None
}

/// `GET /mcp`: a handshake-era session's stream of server messages (the upstreams'
/// `list_changed` notifications), until the client closes it, the session is deleted, or the
/// server shuts down. The connection serves nothing else.
fn listen(shared: &Shared, stream: &mut TcpStream, request: &Request) {
    let refuse = |stream: &mut TcpStream, status: u16, text: &str| {
        let _ = stream.write_all(&http::response(status, &[], text, false));
    };
    if !request.header("accept").is_some_and(|a| a.contains("text/event-stream")) {
        return refuse(stream, 406, "Not Acceptable: GET /mcp is an event stream (accept text/event-stream)");
    }
    let Some(session) = request.header("mcp-session-id").map(str::to_string) else {
        return refuse(stream, 400, "Bad Request: no Mcp-Session-Id (send initialize first)");
    };
    let live = || shared.sessions.lock().unwrap_or_else(|e| e.into_inner()).contains_key(&session);
    if !live() {
        return refuse(stream, 404, "Not Found: no such session");
    }
    let (tx, rx) = crossbeam_channel::unbounded::<Vec<u8>>();
    let sink: Arc<super::Sink> = Arc::new(move |bytes: &[u8]| {
        let _ = tx.send(bytes.to_vec());
    });
    shared.server.add_sink(&sink);
    if stream.write_all(&http::sse_head(false)).is_err() {
        return;
    }
    log::debug!("serve: session {}…: GET stream open", session.get(..8).unwrap_or(""));
    while !shared.stop.load(Ordering::SeqCst) && live() {
        match rx.recv_timeout(POLL) {
            Ok(bytes) => {
                let mut event = b"event: message\ndata: ".to_vec();
                event.extend_from_slice(&bytes);
                event.extend_from_slice(b"\n\n");
                if stream.write_all(&event).is_err() {
                    break;
                }
            }
            Err(_) => {
                // A comment now and then: a client that went away is noticed.
                if stream.write_all(b": keep-alive\n\n").is_err() {
                    break;
                }
            }
        }
    }
    drop(sink);
}

fn respond(shared: &Shared, request: &Request) -> Reply {
    if let Some(refused) = authorized(shared, request) {
        return refused;
    }
    if request.path() != "/mcp" {
        return plain(404, "Not Found: the endpoint is /mcp");
    }
    let session = request.header("mcp-session-id").map(str::to_string);
    match request.method.as_str() {
        "POST" => post(shared, request, session),
        "DELETE" => match session {
            Some(id) if shared.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(&id).is_some() => {
                plain(200, "OK")
            }
            Some(_) => plain(404, "Not Found: no such session"),
            None => plain(400, "Bad Request: no Mcp-Session-Id"),
        },
        _ => {
            let mut r = plain(405, "Method Not Allowed");
            r.headers.push(("allow", "GET, POST, DELETE".into()));
            r
        }
    }
}

/// The HTTP status of a 2026-07-28 answer with this error code (200 for a result).
fn modern_status(code: Option<i64>) -> u16 {
    match code {
        Some(METHOD_NOT_FOUND) => 404,
        Some(INVALID_PARAMS | UNSUPPORTED_VERSION) => 400,
        _ => 200,
    }
}

/// On the stateless wire, the routing headers a request carries must agree with its body: the
/// first that does not, by name.
fn header_mismatch(request: &Request, message: &Value, method: &str) -> Option<&'static str> {
    let version = message.pointer("/params/_meta").and_then(|m| m.get(META_VERSION)).and_then(Value::as_str);
    if let Some(v) = request.header("mcp-protocol-version")
        && version.is_some_and(|version| v != version)
    {
        return Some("MCP-Protocol-Version");
    }
    // Required once the request says its version in a header; else only checked when sent.
    let required = request.header("mcp-protocol-version").is_some();
    match request.header("mcp-method") {
        Some(m) if m != method => return Some("Mcp-Method"),
        None if required => return Some("Mcp-Method"),
        _ => {}
    }
    let key = match method {
        "tools/call" | "prompts/get" => "/params/name",
        "resources/read" => "/params/uri",
        _ => return None,
    };
    if let Some(target) = message.pointer(key).and_then(Value::as_str) {
        match request.header("mcp-name").map(decode_header_value) {
            Some(name) if name != target => return Some("Mcp-Name"),
            None if required => return Some("Mcp-Name"),
            _ => {}
        }
    }
    None
}

/// A header value in the spec's `=?base64?…?=` form decoded (anything else is plain; a value
/// that does not decode stays as sent, and so does not match).
fn decode_header_value(v: &str) -> String {
    use base64::Engine as _;
    let Some(b64) = v.strip_prefix("=?base64?").and_then(|r| r.strip_suffix("?=")) else { return v.to_string() };
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| v.to_string())
}

fn post(shared: &Shared, request: &Request, session: Option<String>) -> Reply {
    let Ok(text) = std::str::from_utf8(&request.body) else {
        return plain(400, "Bad Request: the body is not UTF-8");
    };
    // Peek at the message: its method and whether it is on the stateless wire.
    let peek: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let method = peek.get("method").and_then(Value::as_str).unwrap_or("");
    let modern =
        method == "server/discover" || peek.pointer("/params/_meta").and_then(|m| m.get(META_VERSION)).is_some();
    // A request that says it is on the 2026-07-28 wire (its header) must carry the envelope.
    let says_modern = request.header("mcp-protocol-version").is_some_and(crate::protocol::modern::is_modern);
    let has_version = peek.pointer("/params/_meta").and_then(|m| m.get(META_VERSION)).is_some();
    if says_modern && !has_version && peek.get("id").is_some() {
        let id = peek.get("id").cloned().unwrap_or(Value::Null);
        let why = format!("a 2026-07-28 request needs _meta[\"{META_VERSION}\"]");
        let body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": INVALID_PARAMS, "message": why}});
        return json_reply(400, body.to_string());
    }
    if !modern && method != "initialize" && peek.is_object() {
        match &session {
            Some(id) if shared.sessions.lock().unwrap_or_else(|e| e.into_inner()).contains_key(id) => {}
            Some(_) => return plain(404, "Not Found: no such session (start a new one with initialize)"),
            None => return plain(400, "Bad Request: no Mcp-Session-Id (send initialize first)"),
        }
    }
    if modern && let Some(mismatch) = header_mismatch(request, &peek, method) {
        let id = peek.get("id").cloned().unwrap_or(Value::Null);
        let error = json!({"code": HEADER_MISMATCH, "message": format!("Header mismatch: {mismatch}")});
        let body = json!({"jsonrpc": "2.0", "id": id, "error": error}).to_string();
        return json_reply(400, body);
    }
    if method == "tools/call" {
        // A handshake-era call under its session (a cancellation names it); a stateless one
        // under a key of its own (it can only be cancelled by closing the connection).
        let (key, capabilities) = match &session {
            Some(id) if !modern => (id.clone(), None),
            _ => (format!("stateless-{}", new_session_id()), Some(Value::Null)),
        };
        return Reply { call: Some(Call { text: text.to_string(), key, capabilities, modern }), ..plain(200, "") };
    }
    // A handshake-era session's messages (a cancellation, an answer to a relayed request)
    // name their session.
    let link = session.filter(|_| !modern).map(|id| Arc::new(Link::new(id, Value::Null, |_| false)));
    let handled = shared.server.handle_text(text, link.as_ref());
    let Some(body) = handled.reply else {
        return plain(202, "Accepted");
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut reply = json_reply(200, body);
    if handled.negotiated.is_some() {
        let id = new_session_id();
        let capabilities = peek.pointer("/params/capabilities").cloned().unwrap_or_default();
        shared.sessions.lock().unwrap_or_else(|e| e.into_inner()).insert(id.clone(), SessionInfo { capabilities });
        reply.headers.push(("mcp-session-id", id));
    }
    if handled.era == Some(Era::Modern) {
        reply.status = modern_status(handled.code);
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_tokens_whole() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3creT"));
        assert!(!constant_time_eq(b"s3cret", b"s3cre"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn loopback_origins_only_without_a_token() {
        for ok in ["http://localhost:3000", "http://127.0.0.1", "https://[::1]:8080", "null"] {
            assert!(origin_allowed(false, true, ok), "{ok}");
        }
        for bad in ["http://evil.example", "http://localhost.evil.example", "http://127.0.0.1.nip.io"] {
            assert!(!origin_allowed(false, true, bad), "{bad}");
        }
        assert!(origin_allowed(true, true, "http://evil.example"));
    }
}
