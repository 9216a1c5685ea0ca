//! The Streamable HTTP transport (protocol 2025-03-26 through 2025-11-25): one endpoint, one POST
//! per client message; the reply to a request is JSON or an event stream that may carry server
//! requests and notifications before the response.
//!
//! Threads: the POST that carries a request is made and read on the caller's thread, bounded by
//! the request's deadline (`timeout_global` covers the body read), so [`Transport::send`] returns
//! once the response has been routed. An optional reader thread (`mcp-http:<server>`) owns the
//! GET stream for server-initiated messages and its own ureq `Agent`, so that `close()` can
//! interrupt its blocking read with `Agent::shutdown`.
//!
//! Sessions: the `Mcp-Session-Id` the server gives in its reply to `initialize` is sent on every
//! later request, the negotiated `MCP-Protocol-Version` on every request after `initialize`. A
//! 404 to a request carrying a session id means the session expired: the transport initializes
//! a new one once, transparently, and retries the request once. Servers without session ids
//! (stateless) and servers that answer with plain JSON work the same way.
//!
//! Streams: priming events (an id and empty data) only move the last event id; when a server
//! closes a reply stream before the response, the transport resumes it with a GET carrying
//! `Last-Event-ID`, after the `retry` delay, a bounded number of times, within the deadline.

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, bounded};
use serde::Deserialize;
use ureq::Agent;
use ureq::http::Response;

use super::{ANSWER_BOUND, CLOSE_BOUND, HttpUrl, Reader, Router, Transport, deadline_in, excerpt, redacted};
use crate::config::Headers;
use crate::error::{Error, Result};
use crate::jsonrpc::{self, Message, RequestId};
use crate::op::{OP_ID_HEADER, OpId};
use crate::protocol::InitializeResult;
use crate::sse::EventParser;
use crate::transport::Reply;

/// The most bytes of an error response body we read (the rest is discarded).
const ERROR_BODY_LIMIT: u64 = 64 * 1024;
const SESSION_HEADER: &str = "Mcp-Session-Id";
const VERSION_HEADER: &str = "MCP-Protocol-Version";
/// The reconnection delay when the server sent no `retry` field.
const DEFAULT_RETRY: Duration = Duration::from_secs(1);
/// The longest reconnection delay we honour, whatever `retry` says.
const MAX_RETRY: Duration = Duration::from_secs(30);
/// How many times in a row a stream is reopened without receiving anything before we give up.
const MAX_RECONNECTS: u32 = 5;
/// The bound on telling the server about a request that timed out.
const CANCEL_BOUND: Duration = Duration::from_secs(2);
/// The bound on the `DELETE` of the session at close.
const DELETE_BOUND: Duration = Duration::from_secs(2);

/// Settings of one Streamable HTTP session.
#[derive(Clone, Debug)]
pub(crate) struct HttpOptions {
    /// Deadline of the reader's answers to server requests, and of connecting its GET stream.
    pub request_timeout: Duration,
    /// The largest event, or JSON reply body, accepted.
    pub max_event_bytes: usize,
}

/// The id and method of a message we send: enough to tell a request from a notification.
#[derive(Deserialize, Default)]
struct Head {
    #[serde(default)]
    id: Option<RequestId>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    params: Option<serde_json::Value>,
}

/// What a POST came to.
enum Posted {
    /// 2xx: accepted, and whatever the body carried has been handed to the sink.
    Done,
    /// 404 to a request that carried a session id (this one): the session is gone.
    Expired(String),
}

/// How a stream ended.
struct StreamEnd {
    last_event_id: Option<String>,
    retry: Option<u64>,
    /// Events dispatched (priming events included).
    events: usize,
    error: Option<Error>,
}

/// Receives each incoming JSON-RPC text; `wanted` says whether the caller still waits for more.
struct Sink<'a> {
    deliver: &'a dyn Fn(&str),
    wanted: &'a dyn Fn() -> bool,
}

/// What callers and the reader thread share.
struct Inner {
    server: Arc<str>,
    url: String,
    headers: Headers,
    router: Arc<Router>,
    /// POSTs, DELETE and stream resumption from the caller's thread.
    agent: Agent,
    options: HttpOptions,
    session_id: Mutex<Option<String>>,
    protocol_version: Mutex<Option<String>>,
    /// The params of our `initialize`, kept to initialize again when the session expires.
    init_params: Mutex<Option<serde_json::Value>>,
    closing: AtomicBool,
    reinit_seq: AtomicU64,
    /// Whether a request is re-initializing an expired session now (the others wait for it).
    renewing: Mutex<bool>,
    renewed: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The values behind these locks are plain strings: a panic cannot leave them inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn timeout_phase(t: ureq::Timeout, default: &'static str) -> &'static str {
    match t {
        ureq::Timeout::Connect | ureq::Timeout::Resolve => "connecting",
        ureq::Timeout::RecvResponse => "waiting for the response headers",
        ureq::Timeout::SendBody | ureq::Timeout::SendRequest => "sending the request",
        _ => default,
    }
}

fn content_type(response: &Response<ureq::Body>) -> String {
    response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase()
}

impl Inner {
    fn timeout(&self, method: &str, op: &OpId, phase: &'static str, after: Duration) -> Error {
        Error::Timeout { server: self.server.to_string(), method: method.into(), op: op.clone(), phase, after }
    }

    fn closed(&self, method: &str, op: &OpId, detail: String) -> Error {
        Error::ConnectionClosed { server: self.server.to_string(), method: method.into(), op: op.clone(), detail }
    }

    fn protocol(&self, method: &str, op: &OpId, detail: String) -> Error {
        Error::Protocol { server: self.server.to_string(), method: method.into(), op: op.clone(), detail }
    }

    /// Routes one incoming text; server requests are answered by POST.
    fn route(&self, text: &str, op: &OpId) {
        log::trace!("op={op} server={}: <- {text}", self.server);
        self.router.handle(text, &|body, method| self.answer(body, method, op));
    }

    /// POSTs our answer to a server request.
    fn answer(&self, body: Vec<u8>, method: &str, op: &OpId) {
        let deadline = deadline_in(self.options.request_timeout.min(ANSWER_BOUND));
        let sink = Sink { deliver: &|t| self.route(t, op), wanted: &|| false };
        if let Err(e) = self.post(&body, method, op, deadline, &sink) {
            log::warn!("op={op} server={}: could not answer the server's `{method}`: {e}", self.server);
        }
    }

    /// POSTs one message and hands every message of the reply to the sink. A reply stream that
    /// ends while the sink still wants more is resumed with GET + `Last-Event-ID`.
    fn post(&self, body: &[u8], method: &str, op: &OpId, deadline: Instant, sink: &Sink<'_>) -> Result<Posted> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(self.timeout(method, op, "deadline passed before sending", remaining));
        }
        let initialize = method == "initialize";
        let session = if initialize { None } else { lock(&self.session_id).clone() };
        let version = if initialize { None } else { lock(&self.protocol_version).clone() };
        log::trace!("op={op} server={}: POST {method} {}", self.server, String::from_utf8_lossy(body));
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header(OP_ID_HEADER, op.as_str());
        if let Some(s) = &session {
            request = request.header(SESSION_HEADER, s);
        }
        if let Some(v) = &version {
            request = request.header(VERSION_HEADER, v);
        }
        for (name, value) in self.headers.iter() {
            request = request.header(name, value);
        }
        let mut response = match request.config().timeout_global(Some(remaining)).build().send(body) {
            Ok(r) => r,
            Err(ureq::Error::Timeout(t)) => {
                return Err(self.timeout(method, op, timeout_phase(t, "sending the request"), remaining));
            }
            Err(e) if initialize && !self.closing.load(Ordering::SeqCst) => {
                return Err(Error::Connect {
                    server: self.server.to_string(),
                    op: op.clone(),
                    detail: format!("POST {}: {e}", redacted(&self.url)),
                });
            }
            Err(e) => return Err(self.closed(method, op, format!("POST failed: {e}"))),
        };
        let status = response.status().as_u16();
        if status == 404
            && let Some(expired) = session
        {
            let _ = response.body_mut().with_config().limit(ERROR_BODY_LIMIT).read_to_string();
            return Ok(Posted::Expired(expired));
        }
        if !(200..300).contains(&status) {
            let text = response.body_mut().with_config().limit(ERROR_BODY_LIMIT).read_to_string().unwrap_or_default();
            return Err(Error::Http {
                server: self.server.to_string(),
                method: method.into(),
                op: op.clone(),
                status,
                body: excerpt(text.trim(), 200),
            });
        }
        if initialize {
            // The new session's id, or none (a stateless server).
            let id = response.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
            log::debug!("op={op} server={}: session id {id:?}", self.server);
            *lock(&self.session_id) = id;
        }
        let kind = content_type(&response);
        if kind.starts_with("text/event-stream") {
            let reader = response.into_body().into_reader();
            let mut end = self.read_stream(reader, method, op, remaining, sink);
            if let Some(e) = end.error.take() {
                if !(sink.wanted)() {
                    // The response arrived before the stream broke: nothing is lost.
                    log::debug!("op={op} server={}: reply stream of `{method}` ended: {e}", self.server);
                    return Ok(Posted::Done);
                }
                if !self.resumable(&e, &end) {
                    return Err(e);
                }
                log::debug!("op={op} server={}: reply stream of `{method}` broke: {e}", self.server);
            }
            if (sink.wanted)() {
                self.resume(end, method, op, deadline, sink)?;
            }
            return Ok(Posted::Done);
        }
        let limit = self.options.max_event_bytes;
        let text = match response.body_mut().with_config().limit(limit as u64).read_to_string() {
            Ok(t) => t,
            Err(ureq::Error::BodyExceedsLimit(_)) => {
                return Err(Error::Limit {
                    server: self.server.to_string(),
                    method: method.into(),
                    op: op.clone(),
                    what: "reply size",
                    limit,
                });
            }
            Err(ureq::Error::Timeout(t)) => {
                return Err(self.timeout(method, op, timeout_phase(t, "reading the reply"), remaining));
            }
            Err(e) => return Err(self.closed(method, op, format!("reading the reply failed: {e}"))),
        };
        if text.trim().is_empty() {
            if (sink.wanted)() && status != 202 {
                return Err(self.protocol(method, op, format!("status {status} with an empty body")));
            }
            return Ok(Posted::Done);
        }
        if !kind.starts_with("application/json") {
            return Err(self.protocol(
                method,
                op,
                format!("the reply has content-type {kind:?}, not application/json or text/event-stream"),
            ));
        }
        (sink.deliver)(&text);
        Ok(Posted::Done)
    }

    /// Reads an event stream, handing each message to the sink, until it ends or the sink wants
    /// no more.
    fn read_stream(&self, mut body: impl Read, method: &str, op: &OpId, after: Duration, sink: &Sink<'_>) -> StreamEnd {
        let mut parser = EventParser::new(self.options.max_event_bytes);
        let mut events = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        let mut count = 0;
        let error = 'read: loop {
            match body.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => {
                    let fed = parser.feed(&buf[..n], &mut events);
                    for event in events.drain(..) {
                        count += 1;
                        if event.event != "message" {
                            log::debug!("op={op} server={}: ignoring event type {:?}", self.server, event.event);
                        } else if event.data.trim().is_empty() {
                            log::trace!("op={op} server={}: priming event {:?}", self.server, event.id);
                        } else {
                            (sink.deliver)(&event.data);
                            if !(sink.wanted)() {
                                break 'read None;
                            }
                        }
                    }
                    if let Err(e) = fed {
                        break Some(Error::Limit {
                            server: self.server.to_string(),
                            method: method.into(),
                            op: op.clone(),
                            what: "event size",
                            limit: e.limit,
                        });
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    break Some(match ureq::Error::from(e) {
                        ureq::Error::Timeout(t) => {
                            self.timeout(method, op, timeout_phase(t, "reading the reply"), after)
                        }
                        e if self.closing.load(Ordering::SeqCst) => {
                            self.closed(method, op, format!("the client closed the session ({e})"))
                        }
                        e => self.closed(method, op, format!("event stream read failed: {e}")),
                    });
                }
            }
        };
        StreamEnd {
            last_event_id: parser.last_event_id().filter(|id| !id.is_empty()).map(str::to_string),
            retry: parser.retry(),
            events: count,
            error,
        }
    }

    /// Whether a broken reply stream can be resumed: the connection dropped (not a deadline or
    /// a limit, not our close) and the server gave event ids.
    fn resumable(&self, error: &Error, end: &StreamEnd) -> bool {
        matches!(error, Error::ConnectionClosed { .. })
            && end.last_event_id.is_some()
            && !self.closing.load(Ordering::SeqCst)
    }

    /// A reply stream ended before the response: reopen it with `Last-Event-ID` (after the
    /// server's `retry` delay), a bounded number of times, within the deadline.
    fn resume(&self, mut end: StreamEnd, method: &str, op: &OpId, deadline: Instant, sink: &Sink<'_>) -> Result<()> {
        let mut quiet = 0;
        loop {
            let Some(last_id) = end.last_event_id.clone() else {
                return Err(self.closed(method, op, "the server ended the reply stream before the response".into()));
            };
            if end.events == 0 {
                quiet += 1;
            } else {
                quiet = 0;
            }
            if quiet >= MAX_RECONNECTS {
                return Err(self.closed(
                    method,
                    op,
                    format!("the reply stream was resumed {MAX_RECONNECTS} times without events"),
                ));
            }
            let delay = end.retry.map_or(DEFAULT_RETRY, Duration::from_millis).min(MAX_RETRY);
            if Instant::now() + delay >= deadline {
                return Err(self.timeout(method, op, "waiting to resume the reply stream", delay));
            }
            std::thread::sleep(delay);
            if self.closing.load(Ordering::SeqCst) {
                return Err(self.closed(method, op, "the client closed the session".into()));
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            log::debug!(
                "op={op} server={}: resuming the reply stream of `{method}` after event {last_id}",
                self.server
            );
            let response = self.open_get(&self.agent, Some(&last_id), op, Some(remaining))?;
            let Some(response) = response else {
                return Err(self.closed(method, op, "the server ended the reply stream and cannot resume it".into()));
            };
            let previous = (end.last_event_id, end.retry);
            end = self.read_stream(response.into_body().into_reader(), method, op, remaining, sink);
            end.last_event_id = end.last_event_id.or(previous.0);
            end.retry = end.retry.or(previous.1);
            if !(sink.wanted)() {
                return Ok(());
            }
            if let Some(e) = end.error.take() {
                if !self.resumable(&e, &end) {
                    return Err(e);
                }
                log::debug!("op={op} server={}: resumed stream of `{method}` broke: {e}", self.server);
            }
        }
    }

    /// Opens a GET event stream. `None`: the server offers none (405, or any non-stream answer).
    fn open_get(
        &self,
        agent: &Agent,
        last_event_id: Option<&str>,
        op: &OpId,
        timeout: Option<Duration>,
    ) -> Result<Option<Response<ureq::Body>>> {
        let mut request = agent
            .get(&self.url)
            .header("Accept", "text/event-stream")
            .header("Cache-Control", "no-cache")
            .header(OP_ID_HEADER, op.as_str());
        if let Some(s) = lock(&self.session_id).clone() {
            request = request.header(SESSION_HEADER, s);
        }
        if let Some(v) = lock(&self.protocol_version).clone() {
            request = request.header(VERSION_HEADER, v);
        }
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        for (name, value) in self.headers.iter() {
            request = request.header(name, value);
        }
        let result = match timeout {
            Some(t) => request.config().timeout_global(Some(t)).build().call(),
            None => request.call(),
        };
        let mut response = match result {
            Ok(r) => r,
            Err(ureq::Error::Timeout(t)) => {
                return Err(self.timeout(
                    "GET stream",
                    op,
                    timeout_phase(t, "opening the stream"),
                    timeout.unwrap_or_default(),
                ));
            }
            Err(e) => return Err(self.closed("GET stream", op, format!("GET failed: {e}"))),
        };
        let status = response.status().as_u16();
        if status == 200 && content_type(&response).starts_with("text/event-stream") {
            return Ok(Some(response));
        }
        let _ = response.body_mut().with_config().limit(ERROR_BODY_LIMIT).read_to_string();
        if status == 405 {
            log::debug!("op={op} server={}: the server offers no GET stream (405)", self.server);
        } else {
            log::debug!("op={op} server={}: GET stream answered status {status}", self.server);
        }
        Ok(None)
    }

    /// Session `expired` is gone: initialize a new one, unless another request already has.
    /// One request renews at a time: the others wait for it (never past their deadline), then
    /// retry with the new session, or renew themselves if it failed.
    fn renew(&self, expired: &str, op: &OpId, deadline: Instant) -> Result<()> {
        let mut renewing = lock(&self.renewing);
        loop {
            let current = lock(&self.session_id).clone();
            if current.is_some_and(|c| c != expired) {
                log::debug!("op={op} server={}: the session was already renewed; retrying", self.server);
                return Ok(());
            }
            if !*renewing {
                *renewing = true;
                break;
            }
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return Err(self.timeout("initialize", op, "waiting for the session to be renewed", wait));
            }
            renewing = self.renewed.wait_timeout(renewing, wait).unwrap_or_else(|e| e.into_inner()).0;
        }
        drop(renewing);
        let result = self.reinitialize(op, deadline);
        *lock(&self.renewing) = false;
        self.renewed.notify_all();
        result
    }

    /// The session expired: initialize a new one (same params), then `notifications/initialized`.
    fn reinitialize(&self, op: &OpId, deadline: Instant) -> Result<()> {
        let Some(params) = lock(&self.init_params).clone() else {
            return Err(self.closed("initialize", op, "the session expired before it was initialized".into()));
        };
        log::info!("op={op} server={}: the session expired (404); initializing a new one", self.server);
        let n = self.reinit_seq.fetch_add(1, Ordering::Relaxed);
        let id = RequestId::String(format!("mcp-orchestrator-reinitialize-{n}"));
        let body = jsonrpc::encode_request(&id, "initialize", Some(&params));
        let answer: Mutex<Option<std::result::Result<Box<serde_json::value::RawValue>, jsonrpc::RpcError>>> =
            Mutex::new(None);
        let deliver = |text: &str| {
            let Ok(messages) = jsonrpc::decode(text) else {
                self.route(text, op);
                return;
            };
            for message in messages {
                match message {
                    Ok(Message::Response { id: Some(got), result }) if got == id => *lock(&answer) = Some(result),
                    _ => self.route(text, op),
                }
            }
        };
        let wanted = || lock(&answer).is_none();
        match self.post(&body, "initialize", op, deadline, &Sink { deliver: &deliver, wanted: &wanted })? {
            Posted::Done => {}
            Posted::Expired(_) => return Err(self.closed("initialize", op, "re-initializing answered 404".into())),
        }
        let result = lock(&answer).take();
        let raw = match result {
            Some(Ok(raw)) => raw,
            Some(Err(e)) => {
                return Err(Error::Rpc {
                    server: self.server.to_string(),
                    method: "initialize".into(),
                    op: op.clone(),
                    code: e.code,
                    message: e.message,
                    data: e.data.map(|d| d.to_string()),
                });
            }
            None => return Err(self.protocol("initialize", op, "no answer to the new initialize".into())),
        };
        let init: InitializeResult = serde_json::from_str(raw.get()).map_err(|e| {
            self.protocol("initialize", op, format!("the result does not have the expected shape: {e}"))
        })?;
        let previous = lock(&self.protocol_version).replace(init.protocol_version.clone());
        if previous.as_deref() != Some(init.protocol_version.as_str()) {
            log::warn!(
                "op={op} server={}: the new session speaks protocol {} (was {previous:?})",
                self.server,
                init.protocol_version
            );
        }
        let body = jsonrpc::encode_notification::<()>("notifications/initialized", None);
        let none = Sink { deliver: &|t| self.route(t, op), wanted: &|| false };
        match self.post(&body, "notifications/initialized", op, deadline, &none)? {
            Posted::Done => Ok(()),
            Posted::Expired(_) => {
                Err(self.closed("notifications/initialized", op, "the new session expired at once".into()))
            }
        }
    }

    /// The reader thread: the GET stream for server-initiated messages, reopened with
    /// `Last-Event-ID` when the server closes it, until close or too many quiet attempts.
    fn run_reader(&self, agent: &Agent, stop: &Receiver<()>, op: &OpId) {
        let mut last_id: Option<String> = None;
        let mut retry: Option<u64> = None;
        let mut quiet = 0;
        while !self.closing.load(Ordering::SeqCst) {
            let sink = Sink { deliver: &|t| self.route(t, op), wanted: &|| true };
            match self.open_get(agent, last_id.as_deref(), op, None) {
                Ok(Some(response)) => {
                    let end =
                        self.read_stream(response.into_body().into_reader(), "GET stream", op, Duration::ZERO, &sink);
                    if end.events == 0 {
                        quiet += 1;
                    } else {
                        quiet = 0;
                    }
                    last_id = end.last_event_id.or(last_id);
                    retry = end.retry.or(retry);
                    match end.error {
                        Some(e) if !self.closing.load(Ordering::SeqCst) => {
                            log::debug!("op={op} server={}: GET stream ended: {e}", self.server)
                        }
                        _ => log::debug!("op={op} server={}: the server closed the GET stream", self.server),
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    quiet += 1;
                    log::debug!("op={op} server={}: GET stream: {e}", self.server);
                }
            }
            if quiet >= MAX_RECONNECTS {
                log::debug!("op={op} server={}: giving up on the GET stream after {quiet} quiet attempts", self.server);
                return;
            }
            let delay = retry.map_or(DEFAULT_RETRY, Duration::from_millis).min(MAX_RETRY);
            match stop.recv_timeout(delay) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
        }
    }

    /// `DELETE` of the session, bounded; 405 (the server does not allow it) is fine.
    fn delete_session(&self, op: &OpId) {
        let Some(session) = lock(&self.session_id).clone() else { return };
        let bound = DELETE_BOUND.min(self.options.request_timeout);
        let mut request =
            self.agent.delete(&self.url).header(SESSION_HEADER, &session).header(OP_ID_HEADER, op.as_str());
        if let Some(v) = lock(&self.protocol_version).clone() {
            request = request.header(VERSION_HEADER, v);
        }
        for (name, value) in self.headers.iter() {
            request = request.header(name, value);
        }
        match request.config().timeout_global(Some(bound)).build().call() {
            Ok(mut r) => {
                let _ = r.body_mut().with_config().limit(ERROR_BODY_LIMIT).read_to_string();
                log::debug!("op={op} server={}: DELETE session: status {}", self.server, r.status().as_u16());
            }
            Err(e) => log::debug!("op={op} server={}: DELETE session failed: {e}", self.server),
        }
    }
}

/// One session over Streamable HTTP.
pub(crate) struct StreamableHttpTransport {
    inner: Arc<Inner>,
    /// The GET stream's agent, shut down on close to interrupt the reader's blocking read.
    stream_agent: Agent,
    op: OpId,
    stop: Mutex<Option<Sender<()>>>,
    reader: Mutex<Option<Reader>>,
    reader_started: AtomicBool,
}

impl StreamableHttpTransport {
    /// Checks the URL and prepares the agents; no I/O happens until the first message.
    pub(crate) fn connect(
        url: &str,
        headers: &Headers,
        router: Arc<Router>,
        options: &HttpOptions,
        op: &OpId,
    ) -> Result<StreamableHttpTransport> {
        let server: Arc<str> = router.server().into();
        HttpUrl::parse(url).map_err(|detail| Error::Connect { server: server.to_string(), op: op.clone(), detail })?;
        let agent = super::request_agent();
        let stream_agent = super::stream_agent(options.request_timeout);
        let inner = Arc::new(Inner {
            server,
            url: url.to_string(),
            headers: headers.clone(),
            router,
            agent,
            options: options.clone(),
            session_id: Mutex::new(None),
            protocol_version: Mutex::new(None),
            init_params: Mutex::new(None),
            closing: AtomicBool::new(false),
            reinit_seq: AtomicU64::new(1),
            renewing: Mutex::new(false),
            renewed: Condvar::new(),
        });
        Ok(StreamableHttpTransport {
            inner,
            stream_agent,
            op: op.clone(),
            stop: Mutex::new(None),
            reader: Mutex::new(None),
            reader_started: AtomicBool::new(false),
        })
    }

    /// Starts the GET stream reader after the handshake; after a new session, starts it again if
    /// it has ended (the old session's stream went with the old session).
    fn start_reader(&self) {
        if self.reader_started.swap(true, Ordering::SeqCst) {
            let old = {
                let mut slot = lock(&self.reader);
                let ended = slot.as_ref().is_some_and(|r| r.done.try_recv() == Err(TryRecvError::Disconnected));
                if !ended || self.inner.closing.load(Ordering::SeqCst) {
                    return;
                }
                slot.take()
            };
            if let Some(old) = old {
                let _ = old.handle.join(); // it has ended: this does not block
            }
        }
        let (stop_tx, stop_rx) = bounded::<()>(1);
        let (done_tx, done_rx) = bounded::<()>(1);
        let inner = self.inner.clone();
        let agent = self.stream_agent.clone();
        let op = self.op.clone();
        let spawned = std::thread::Builder::new().name(format!("mcp-http:{}", self.inner.server)).spawn(move || {
            let _done = done_tx; // dropped when the thread ends: close() waits on it
            inner.run_reader(&agent, &stop_rx, &op);
        });
        match spawned {
            Ok(handle) => {
                *lock(&self.stop) = Some(stop_tx);
                *lock(&self.reader) = Some(Reader { handle, done: done_rx });
            }
            Err(e) => {
                log::warn!("op={} server={}: cannot start the GET stream reader: {e}", self.op, self.inner.server)
            }
        }
    }
}

impl Transport for StreamableHttpTransport {
    fn pipelines(&self) -> bool {
        false // each reply is read inside its POST
    }

    fn send(&self, message: Vec<u8>, method: &str, op: &OpId, deadline: Instant) -> Result<()> {
        let inner = &self.inner;
        if inner.closing.load(Ordering::SeqCst) {
            return Err(inner.closed(method, op, "the client closed the session".into()));
        }
        let head: Head = serde_json::from_slice(&message).unwrap_or_default();
        let expect = if head.method.is_some() { head.id } else { None };
        if method == "initialize" {
            *lock(&inner.init_params) = head.params;
        }
        let deliver = |t: &str| inner.route(t, op);
        let wanted = || expect.as_ref().is_some_and(|id| inner.router.is_pending(id));
        let sink = Sink { deliver: &deliver, wanted: &wanted };
        let started = Instant::now();
        let result = match inner.post(&message, method, op, deadline, &sink) {
            Ok(Posted::Done) => Ok(()),
            Ok(Posted::Expired(expired)) => inner.renew(&expired, op, deadline).and_then(|()| {
                self.start_reader();
                match inner.post(&message, method, op, deadline, &sink)? {
                    Posted::Done => Ok(()),
                    Posted::Expired(_) => Err(inner.closed(method, op, "the new session expired at once".into())),
                }
            }),
            Err(e) => Err(e),
        };
        match (&result, &expect) {
            (Ok(()), _) if method == "notifications/initialized" => self.start_reader(),
            (Err(Error::Timeout { .. }), Some(id)) if !inner.closing.load(Ordering::SeqCst) => {
                // The request may have reached the server: tell it we gave up (best effort).
                let reason = format!("timeout after {:?}", started.elapsed());
                let params = serde_json::json!({ "requestId": id, "reason": reason });
                let body = jsonrpc::encode_notification("notifications/cancelled", Some(&params));
                let none = Sink { deliver: &deliver, wanted: &|| false };
                let bound = Instant::now() + CANCEL_BOUND.min(inner.options.request_timeout);
                if let Err(e) = inner.post(&body, "notifications/cancelled", op, bound, &none) {
                    log::debug!("op={op} server={}: could not send the cancellation: {e}", inner.server);
                }
            }
            _ => {}
        }
        result
    }

    fn set_protocol_version(&self, version: &str) {
        *lock(&self.inner.protocol_version) = Some(version.to_string());
    }

    fn close(&self) {
        let inner = &self.inner;
        if inner.closing.swap(true, Ordering::SeqCst) {
            return;
        }
        drop(lock(&self.stop).take());
        inner.router.fail_all(Reply::Closed("the client closed the session".into()));
        inner.delete_session(&self.op);
        // Interrupts the reader's blocking read (dropping the agent would not) and any POST.
        self.stream_agent.clone().shutdown();
        inner.agent.clone().shutdown();
        let reader = lock(&self.reader).take();
        if let Some(reader) = reader {
            reader.join_within(CLOSE_BOUND, &inner.server);
        }
    }
}

impl Drop for StreamableHttpTransport {
    fn drop(&mut self) {
        self.close();
    }
}
