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
//! `Last-Event-ID`, after the `retry` delay (at least 100 ms; close ends the wait), at most five
//! times in a row without a message, within the deadline.
//!
//! Lost replies: when the reply cannot be had — the connection ended after the request went
//! out, a JSON body was cut off, or a reply stream ended before the response and resuming it was
//! not possible (no event id, the 2026-07-28 wire, which has no resumption, a server that does
//! not offer it, or resuming failed too) — the request fails with `Reply::Lost`, and the session
//! decides whether to send it again (`Session::finish_outcome`).
//!
//! Server requests (a `ping`) that come with a reply are answered by POST, in a loop: an answer
//! whose reply carries another request queues it, never recursing, at most [`MAX_ANSWERS`] in
//! one go and never past the deadline of the call that received them.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, bounded};
use serde::Deserialize;
use ureq::Agent;
use ureq::http::Response;

use super::http::{self, Ctx, PumpEnd};
use super::{ANSWER_BOUND, CLOSE_BOUND, Reader, Router, Transport};
use crate::config::Headers;
use crate::deadline::{Deadline, Phase};
use crate::error::{Error, Result};
use crate::jsonrpc::{self, Message, RequestId};
use crate::op::OpId;
use crate::protocol::{self, InitializeResult};
use crate::sse::EventParser;
use crate::transport::Reply;
use crate::url::Url;

const SESSION_HEADER: &str = "Mcp-Session-Id";
const VERSION_HEADER: &str = "MCP-Protocol-Version";
/// The reconnection delay when the server sent no `retry` field.
const DEFAULT_RETRY: Duration = Duration::from_secs(1);
/// The shortest reconnection delay, whatever `retry` says (`retry: 0` would spin).
const MIN_RETRY: Duration = Duration::from_millis(100);
/// The longest reconnection delay we honour, whatever `retry` says.
const MAX_RETRY: Duration = Duration::from_secs(30);
/// How many times in a row a stream is reopened without a message before we give up.
const MAX_RECONNECTS: u32 = 5;
/// The most server requests answered in one go (a server answering each answer with another
/// request would otherwise keep us busy until the deadline).
const MAX_ANSWERS: usize = 64;
/// The bound on telling the server about a request that timed out.
/// The bound on the `DELETE` of the session at close.
const DELETE_BOUND: Duration = Duration::from_secs(2);

/// Settings of one Streamable HTTP session.
#[derive(Clone, Debug)]
pub(crate) struct HttpOptions {
    /// Deadline of the reader's answers to server requests, and of connecting its GET stream.
    pub request_timeout: Duration,
    /// The largest event, or JSON reply body, accepted.
    pub max_event_bytes: usize,
    /// The server's authorization (issue 12): a header per request, a retry after a 401/403.
    pub auth: Option<Arc<dyn super::Credentials>>,
}

/// How many times a request is sent again after the authorizer handled a 401/403.
const MAX_AUTH_ROUNDS: usize = 3;

/// One POST: its outcome, or a 401/403 for the authorizer (status, `WWW-Authenticate`, body).
enum Attempt {
    Posted(Posted),
    Challenged(u16, Option<String>, String),
}

/// The id and method of a message we send: enough to tell a request from a notification.
#[derive(Deserialize, Default)]
struct Head {
    #[serde(default)]
    id: Option<RequestId>,
    #[serde(default)]
    method: Option<String>,
}

/// What a POST came to.
enum Posted {
    /// 2xx: accepted, and whatever the body carried has been handed to the sink.
    Done,
    /// 404 to a request that carried a session id (this one): the session is gone.
    Expired(String),
    /// The request went out, but its reply was lost before the response: the connection ended
    /// or the reply stream broke, and resuming it was not possible (no event id, the modern
    /// wire, the server cannot resume, or resuming failed too). Why, for the error.
    Lost(String),
}

/// How a stream ended.
struct StreamEnd {
    last_event_id: Option<String>,
    retry: Option<u64>,
    /// Messages delivered (priming events and other event types do not count).
    messages: usize,
    error: Option<Error>,
}

/// Receives each incoming JSON-RPC text; `wanted` says whether the caller still waits for more.
struct Sink<'a> {
    deliver: &'a dyn Fn(&str),
    wanted: &'a dyn Fn() -> bool,
}

/// Server requests waiting for our answers. They are answered in a loop, never recursively
/// (an answer's reply may carry another request: it joins the queue), at most [`MAX_ANSWERS`]
/// in one go and never past the deadline of the call that received them.
struct Answers {
    queue: RefCell<VecDeque<(Vec<u8>, String)>>,
    draining: Cell<bool>,
    deadline: Deadline,
}

impl Answers {
    fn new(deadline: Deadline) -> Answers {
        Answers { queue: RefCell::new(VecDeque::new()), draining: Cell::new(false), deadline }
    }
}

/// What callers and the reader thread share.
struct Inner {
    server: Arc<str>,
    url: Url,
    headers: Headers,
    router: Arc<Router>,
    /// POSTs, DELETE and stream resumption from the caller's thread.
    agent: Agent,
    options: HttpOptions,
    session_id: Mutex<Option<String>>,
    protocol_version: Mutex<Option<String>>,
    /// The 2026-07-28 wire: no session, no GET stream; a 4xx body's JSON-RPC error is the answer.
    modern: AtomicBool,
    closing: AtomicBool,
    /// Disconnects on close: wakes every back-off wait (resumption, the reader) at once.
    woken: Receiver<()>,
    reinit_seq: AtomicU64,
    /// Whether a request is re-initializing an expired session now (the others wait for it).
    renewing: Mutex<bool>,
    renewed: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The values behind these locks are plain strings: a panic cannot leave them inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    fn ctx<'a>(&'a self, method: &'a str, op: &'a OpId) -> Ctx<'a> {
        Ctx { server: &self.server, method, op }
    }

    fn closed(&self, method: &str, op: &OpId, detail: String) -> Error {
        self.ctx(method, op).closed(detail)
    }

    /// Routes one incoming text; server requests join `answers` and are answered by POST.
    fn route(&self, text: &str, op: &OpId, answers: &Answers) {
        log::trace!("op={op} server={}: <- {text}", self.server);
        let caller = Some(answers.deadline.instant()); // handlers get the caller's deadline
        self.router.handle_within(text, caller, &|body, method| {
            answers.queue.borrow_mut().push_back((body, method.to_string()))
        });
        self.answer(answers, op);
    }

    /// POSTs our answers to server requests, one after the other. A nested call (from the reply
    /// to an answer) only queues: the loop of the outermost call sends it.
    fn answer(&self, answers: &Answers, op: &OpId) {
        if answers.draining.replace(true) {
            return;
        }
        let mut sent = 0;
        loop {
            let Some((body, method)) = answers.queue.borrow_mut().pop_front() else { break };
            if sent == MAX_ANSWERS || answers.deadline.is_past() || self.closing.load(Ordering::SeqCst) {
                let dropped = answers.queue.borrow().len() + 1;
                answers.queue.borrow_mut().clear();
                log::warn!(
                    "op={op} server={}: not answering {dropped} more server requests (answered {sent}; {})",
                    self.server,
                    if sent == MAX_ANSWERS { "the most in one go" } else { "the deadline passed" }
                );
                break;
            }
            sent += 1;
            let deadline = answers.deadline.within(self.options.request_timeout.min(ANSWER_BOUND));
            let sink = Sink { deliver: &|t| self.route(t, op, answers), wanted: &|| false };
            match self.post(&body, &method, op, deadline, &sink) {
                Ok(Posted::Done | Posted::Expired(_)) => {}
                Ok(Posted::Lost(why)) => {
                    log::warn!("op={op} server={}: could not answer the server's `{method}`: {why}", self.server)
                }
                Err(e) => log::warn!("op={op} server={}: could not answer the server's `{method}`: {e}", self.server),
            }
        }
        answers.draining.set(false);
    }

    /// POSTs one message and hands every message of the reply to the sink. A reply stream that
    /// ends while the sink still wants more is resumed with GET + `Last-Event-ID`.
    fn post(&self, body: &[u8], method: &str, op: &OpId, deadline: Deadline, sink: &Sink<'_>) -> Result<Posted> {
        self.post_with(body, method, op, deadline, sink, &[])
    }

    /// [`Inner::post`] with extra headers (the modern wire's routing headers); with OAuth, a
    /// request answered 401/403 is authorized and sent again (a bounded number of times).
    fn post_with(
        &self,
        body: &[u8],
        method: &str,
        op: &OpId,
        deadline: Deadline,
        sink: &Sink<'_>,
        extra: &[(String, String)],
    ) -> Result<Posted> {
        let Some(auth) = &self.options.auth else {
            return match self.post_once(body, method, op, deadline, sink, (extra, None))? {
                Attempt::Posted(posted) => Ok(posted),
                Attempt::Challenged(status, _, text) => Err(self.ctx(method, op).http(status, &text)),
            };
        };
        let mut rounds = 0;
        loop {
            let header = auth.authorization_by(deadline, op)?;
            match self.post_once(body, method, op, deadline, sink, (extra, header.as_ref()))? {
                Attempt::Posted(posted) => return Ok(posted),
                Attempt::Challenged(status, _, text) if rounds == MAX_AUTH_ROUNDS => {
                    return Err(self.ctx(method, op).http(status, &text));
                }
                Attempt::Challenged(status, www, _) => {
                    rounds += 1;
                    auth.challenged_by(status, www.as_deref(), header.as_ref(), method, deadline, op)?;
                }
            }
        }
    }

    /// The `Authorization` header for a request that does not retry (GET stream, DELETE).
    fn bearer(&self, deadline: Deadline, op: &OpId) -> Option<crate::config::Secret> {
        self.options.auth.as_ref().and_then(|a| a.authorization_by(deadline, op).ok().flatten())
    }

    fn post_once(
        &self,
        body: &[u8],
        method: &str,
        op: &OpId,
        deadline: Deadline,
        sink: &Sink<'_>,
        (extra, authorization): (&[(String, String)], Option<&crate::config::Secret>),
    ) -> Result<Attempt> {
        let modern = self.modern.load(Ordering::SeqCst);
        let ctx = self.ctx(method, op);
        let remaining = deadline.remaining();
        if remaining.is_zero() {
            return Err(ctx.timeout(Phase::BeforeSending, remaining));
        }
        let initialize = method == "initialize";
        let session = if initialize || modern { None } else { lock(&self.session_id).clone() };
        let version = if initialize || modern { None } else { lock(&self.protocol_version).clone() };
        log::trace!("op={op} server={}: POST {method} {}", self.server, String::from_utf8_lossy(body));
        let mut request = self
            .agent
            .post(self.url.request_target())
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream");
        if let Some(s) = &session {
            request = request.header(SESSION_HEADER, s);
        }
        if let Some(v) = &version {
            request = request.header(VERSION_HEADER, v);
        }
        for (name, value) in extra {
            request = request.header(name, value);
        }
        if let Some(a) = authorization {
            request = request.header("Authorization", a.expose());
        }
        let request = http::bounded(http::with_headers(request, &self.url, &self.headers, op), deadline);
        let mut response = match request.send(body) {
            Ok(r) => r,
            Err(e @ ureq::Error::Timeout(_)) => return Err(ctx.ureq(e, remaining, Phase::SendingRequest)),
            Err(e) if (initialize || method == "server/discover") && !self.closing.load(Ordering::SeqCst) => {
                return Err(ctx.connect(format!("POST {}: {}", self.url, http::describe(&e))));
            }
            Err(e) if lost_in_flight(&e) && !self.closing.load(Ordering::SeqCst) => {
                let why = format!("the connection ended before the reply ({})", http::describe(&e));
                return Ok(Attempt::Posted(Posted::Lost(why)));
            }
            Err(e) => return Err(ctx.ureq(e, remaining, Phase::SendingRequest)),
        };
        if let Some(e) = http::redirect_error(&response, &self.url, ctx) {
            return Err(e);
        }
        let status = response.status().as_u16();
        if status == 404
            && let Some(expired) = session
        {
            let _ = http::error_body(&mut response, deadline, None, &self.server);
            return Ok(Attempt::Posted(Posted::Expired(expired)));
        }
        if (status == 401 || status == 403) && self.options.auth.is_some() {
            let www = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_string);
            let text = http::error_body(&mut response, deadline, None, &self.server);
            return Ok(Attempt::Challenged(status, www, text));
        }
        if !(200..300).contains(&status) {
            let text = http::error_body(&mut response, deadline, None, &self.server);
            if modern && let Some(answer) = rpc_error_answer(body, &text) {
                // The modern wire's errors come as 4xx with a JSON-RPC error body: the answer.
                log::debug!(
                    "op={op} server={}: `{method}` answered status {status} with a JSON-RPC error",
                    self.server
                );
                (sink.deliver)(&answer);
                return Ok(Attempt::Posted(Posted::Done));
            }
            return Err(ctx.http(status, &text));
        }
        if initialize {
            // The new session's id, or none (a stateless server).
            let id = response.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
            log::debug!("op={op} server={}: session id {}", self.server, if id.is_some() { "set" } else { "none" });
            *lock(&self.session_id) = id;
        }
        let kind = http::content_type(&response);
        if kind.starts_with("text/event-stream") {
            let reader = response.into_body().into_reader();
            let mut end = self.read_stream(reader, method, op, remaining, sink);
            if let Some(e) = end.error.take() {
                if !(sink.wanted)() {
                    // The response arrived before the stream broke: nothing is lost.
                    log::debug!("op={op} server={}: reply stream of `{method}` ended: {e}", self.server);
                    return Ok(Attempt::Posted(Posted::Done));
                }
                if !self.resumable(&e, &end) {
                    return self.lost_or(e);
                }
                log::debug!("op={op} server={}: reply stream of `{method}` broke: {e}", self.server);
            }
            if (sink.wanted)() {
                if modern {
                    // The 2026-07-28 wire has no resumption: the request is lost.
                    let why = "the server ended the reply stream before the response".to_string();
                    return Ok(Attempt::Posted(Posted::Lost(why)));
                }
                if let Err(e) = self.resume(end, method, op, deadline, sink) {
                    return self.lost_or(e);
                }
            }
            return Ok(Attempt::Posted(Posted::Done));
        }
        let text = match http::json_body(&mut response, self.options.max_event_bytes, remaining, ctx) {
            Ok(text) => text,
            Err(e) => return self.lost_or(e),
        };
        if text.trim().is_empty() {
            if (sink.wanted)() && status != 202 {
                return Err(ctx.protocol(format!("status {status} with an empty body")));
            }
            return Ok(Attempt::Posted(Posted::Done));
        }
        if !kind.starts_with("application/json") {
            return Err(
                ctx.protocol(format!("the reply has content-type {kind:?}, not application/json or text/event-stream"))
            );
        }
        (sink.deliver)(&text);
        Ok(Attempt::Posted(Posted::Done))
    }

    /// Reads an event stream, handing each message to the sink, until it ends or the sink wants
    /// no more.
    fn read_stream(&self, body: impl Read, method: &str, op: &OpId, after: Duration, sink: &Sink<'_>) -> StreamEnd {
        let ctx = self.ctx(method, op);
        let mut parser = EventParser::new(self.options.max_event_bytes);
        let mut messages = 0;
        let end = http::pump(body, &mut parser, |event| {
            if event.event != "message" {
                log::debug!("op={op} server={}: ignoring event type {:?}", self.server, event.event);
                return true;
            }
            if event.data.trim().is_empty() {
                log::trace!("op={op} server={}: priming event {:?}", self.server, event.id);
                return true;
            }
            messages += 1;
            (sink.deliver)(&event.data);
            (sink.wanted)()
        });
        let error = match end {
            PumpEnd::Eof | PumpEnd::Stopped => None,
            PumpEnd::Limit(limit) => Some(Error::Limit {
                server: self.server.to_string(),
                method: method.into(),
                op: op.clone(),
                what: "event size",
                limit,
            }),
            PumpEnd::Read(e) => Some(match ureq::Error::from(e) {
                ureq::Error::Timeout(t) => ctx.timeout(Phase::of_ureq(t, Phase::ReadingReply), after),
                e if self.closing.load(Ordering::SeqCst) => {
                    ctx.closed(format!("the client closed the session ({})", http::describe(&e)))
                }
                e => ctx.closed(format!("event stream read failed: {}", http::describe(&e))),
            }),
        };
        StreamEnd {
            last_event_id: parser.last_event_id().filter(|id| !id.is_empty()).map(str::to_string),
            retry: parser.retry(),
            messages,
            error,
        }
    }

    /// Whether a broken reply stream can be resumed: the connection dropped (not a deadline or
    /// a limit, not our close), the server gave event ids, and the wire has resumption (the
    /// 2026-07-28 wire has none).
    fn resumable(&self, error: &Error, end: &StreamEnd) -> bool {
        matches!(error, Error::ConnectionClosed { .. })
            && end.last_event_id.is_some()
            && !self.closing.load(Ordering::SeqCst)
            && !self.modern.load(Ordering::SeqCst)
    }

    /// A reply that broke after the request went out: lost (the session decides whether to
    /// send the request again), unless it is our own close, a deadline or a limit.
    fn lost_or(&self, e: Error) -> Result<Attempt> {
        match e {
            Error::ConnectionClosed { detail, .. } if !self.closing.load(Ordering::SeqCst) => {
                Ok(Attempt::Posted(Posted::Lost(detail)))
            }
            e => Err(e),
        }
    }

    /// A reply stream ended before the response: reopen it with `Last-Event-ID` (after the
    /// server's `retry` delay, at least [`MIN_RETRY`]), a bounded number of times, within the
    /// deadline. The wait ends at once when the session is closed.
    fn resume(&self, mut end: StreamEnd, method: &str, op: &OpId, deadline: Deadline, sink: &Sink<'_>) -> Result<()> {
        let ctx = self.ctx(method, op);
        let mut quiet = 0;
        loop {
            let Some(last_id) = end.last_event_id.clone() else {
                return Err(ctx.closed("the server ended the reply stream before the response".into()));
            };
            if end.messages == 0 {
                quiet += 1;
            } else {
                quiet = 0;
            }
            if quiet >= MAX_RECONNECTS {
                return Err(ctx.closed(format!("the reply stream was resumed {MAX_RECONNECTS} times without messages")));
            }
            let delay = retry_delay(end.retry);
            if delay >= deadline.remaining() {
                return Err(ctx.timeout(Phase::Resuming, delay));
            }
            if self.woken.recv_timeout(delay) != Err(RecvTimeoutError::Timeout) {
                return Err(ctx.closed("the client closed the session".into()));
            }
            let remaining = deadline.remaining();
            log::debug!(
                "op={op} server={}: resuming the reply stream of `{method}` after event {last_id}",
                self.server
            );
            let response = self.open_get(&self.agent, Some(&last_id), op, deadline, false)?;
            let Some(response) = response else {
                return Err(ctx.closed("the server ended the reply stream and cannot resume it".into()));
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

    /// Opens a GET event stream within `deadline` (up to the response headers only, when
    /// `long_lived`). `None`: the server offers none (405, or any non-stream answer).
    fn open_get(
        &self,
        agent: &Agent,
        last_event_id: Option<&str>,
        op: &OpId,
        deadline: Deadline,
        long_lived: bool,
    ) -> Result<Option<Response<ureq::Body>>> {
        let ctx = self.ctx("GET stream", op);
        let mut request = agent
            .get(self.url.request_target())
            .header("Accept", "text/event-stream")
            .header("Cache-Control", "no-cache");
        if let Some(s) = lock(&self.session_id).clone() {
            request = request.header(SESSION_HEADER, s);
        }
        if let Some(v) = lock(&self.protocol_version).clone() {
            request = request.header(VERSION_HEADER, v);
        }
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        if let Some(a) = self.bearer(deadline, op) {
            request = request.header("Authorization", a.expose());
        }
        let request = http::with_headers(request, &self.url, &self.headers, op);
        let request =
            if long_lived { http::stream_request(request, deadline) } else { http::bounded(request, deadline) };
        let response = match request.call() {
            Ok(r) => r,
            Err(e) => return Err(ctx.ureq(e, deadline.remaining(), Phase::OpeningStream)),
        };
        if let Some(e) = http::redirect_error(&response, &self.url, ctx) {
            return Err(e);
        }
        let status = response.status().as_u16();
        if status == 200 && http::content_type(&response).starts_with("text/event-stream") {
            return Ok(Some(response));
        }
        // Not read: a body that stalls would hold this thread; dropping it closes the connection.
        drop(response);
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
    fn renew(&self, expired: &str, op: &OpId, deadline: Deadline) -> Result<()> {
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
            let wait = deadline.remaining();
            if wait.is_zero() {
                return Err(self.ctx("initialize", op).timeout(Phase::SessionRenewal, wait));
            }
            renewing = self.renewed.wait_timeout(renewing, wait).unwrap_or_else(|e| e.into_inner()).0;
        }
        drop(renewing);
        let result = self.reinitialize(op, deadline);
        *lock(&self.renewing) = false;
        self.renewed.notify_all();
        result
    }

    /// The session expired: initialize a new one (the same params and version check as the
    /// first handshake), then `notifications/initialized`.
    fn reinitialize(&self, op: &OpId, deadline: Deadline) -> Result<()> {
        let ctx = self.ctx("initialize", op);
        if lock(&self.protocol_version).is_none() {
            return Err(ctx.closed("the session expired before it was initialized".into()));
        }
        log::info!("op={op} server={}: the session expired (404); initializing a new one", self.server);
        let n = self.reinit_seq.fetch_add(1, Ordering::Relaxed);
        let id = RequestId::String(format!("mcp-orchestrator-reinitialize-{n}"));
        let body =
            jsonrpc::encode_request(&id, "initialize", Some(&protocol::initialize_params(self.router.capabilities())));
        let answer: Mutex<Option<std::result::Result<Box<serde_json::value::RawValue>, jsonrpc::RpcError>>> =
            Mutex::new(None);
        let answers = Answers::new(deadline);
        let deliver = |text: &str| {
            let Ok(messages) = jsonrpc::decode(text) else {
                self.route(text, op, &answers);
                return;
            };
            for message in messages {
                match message {
                    Ok(Message::Response { id: Some(got), result }) if got == id => *lock(&answer) = Some(result),
                    _ => self.route(text, op, &answers),
                }
            }
        };
        let wanted = || lock(&answer).is_none();
        match self.post(&body, "initialize", op, deadline, &Sink { deliver: &deliver, wanted: &wanted })? {
            Posted::Done => {}
            Posted::Expired(_) => return Err(ctx.closed("re-initializing answered 404".into())),
            Posted::Lost(why) => return Err(ctx.closed(why)),
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
            None => return Err(ctx.protocol("no answer to the new initialize".into())),
        };
        let init: InitializeResult = serde_json::from_str(raw.get())
            .map_err(|e| ctx.protocol(format!("the result does not have the expected shape: {e}")))?;
        protocol::check_protocol_version(&init.protocol_version).map_err(|detail| ctx.protocol(detail))?;
        let previous = lock(&self.protocol_version).replace(init.protocol_version.clone());
        if previous.as_deref() != Some(init.protocol_version.as_str()) {
            log::warn!(
                "op={op} server={}: the new session speaks protocol {} (was {previous:?})",
                self.server,
                init.protocol_version
            );
        }
        let body = jsonrpc::encode_notification::<()>("notifications/initialized", None);
        let none = Sink { deliver: &|t| self.route(t, op, &answers), wanted: &|| false };
        match self.post(&body, "notifications/initialized", op, deadline, &none)? {
            Posted::Done => Ok(()),
            Posted::Expired(_) => {
                Err(self.closed("notifications/initialized", op, "the new session expired at once".into()))
            }
            Posted::Lost(why) => Err(self.closed("notifications/initialized", op, why)),
        }
    }

    /// The reader thread: the GET stream for server-initiated messages, reopened with
    /// `Last-Event-ID` when the server closes it, until close or too many quiet attempts.
    fn run_reader(&self, agent: &Agent, op: &OpId, opened: Sender<()>) {
        let mut opened = Some(opened);
        let mut last_id: Option<String> = None;
        let mut retry: Option<u64> = None;
        let mut quiet = 0;
        // No caller waits here: each answer is bounded by ANSWER_BOUND alone.
        let answers = Answers::new(Deadline::after(Duration::MAX));
        while !self.closing.load(Ordering::SeqCst) {
            let sink = Sink { deliver: &|t| self.route(t, op, &answers), wanted: &|| true };
            let deadline = Deadline::after(self.options.request_timeout);
            let get = self.open_get(agent, last_id.as_deref(), op, deadline, true);
            drop(opened.take()); // the first GET has its answer: start_reader may return
            match get {
                Ok(Some(response)) => {
                    let end =
                        self.read_stream(response.into_body().into_reader(), "GET stream", op, Duration::ZERO, &sink);
                    if end.messages == 0 {
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
            if self.woken.recv_timeout(retry_delay(retry)) != Err(RecvTimeoutError::Timeout) {
                return;
            }
        }
    }

    /// `DELETE` of the session, bounded; 405 (the server does not allow it) is fine.
    fn delete_session(&self, op: &OpId) {
        let Some(session) = lock(&self.session_id).clone() else { return };
        let deadline = Deadline::after(DELETE_BOUND.min(self.options.request_timeout));
        let mut request = self.agent.delete(self.url.request_target()).header(SESSION_HEADER, &session);
        if let Some(v) = lock(&self.protocol_version).clone() {
            request = request.header(VERSION_HEADER, v);
        }
        if let Some(a) = self.bearer(deadline, op) {
            request = request.header("Authorization", a.expose());
        }
        let request = http::bounded(http::with_headers(request, &self.url, &self.headers, op), deadline);
        match request.call() {
            Ok(mut r) => {
                let _ = http::error_body(&mut r, deadline, None, &self.server);
                log::debug!("op={op} server={}: DELETE session: status {}", self.server, r.status().as_u16());
            }
            Err(e) => log::debug!("op={op} server={}: DELETE session failed: {}", self.server, http::describe(&e)),
        }
    }
}

/// A JSON-RPC error in an error response's body, as the answer to the request in `sent` (a
/// body without an id, `"id": null`, gets the request's). `None` when the body is not one.
fn rpc_error_answer(sent: &[u8], text: &str) -> Option<String> {
    let head: Head = serde_json::from_slice(sent).ok()?;
    let id = head.id?;
    let mut messages = jsonrpc::decode(text.trim()).ok()?;
    if messages.len() != 1 {
        return None;
    }
    match messages.pop()? {
        Ok(Message::Response { id: got, result: Err(e) }) if got.is_none() || got.as_ref() == Some(&id) => {
            Some(String::from_utf8_lossy(&jsonrpc::encode_response(&id, Err(&e))).into_owned())
        }
        _ => None,
    }
}

/// Whether a failed POST may have reached the server: the connection broke after it was made
/// (reset, closed before the reply, a garbled reply), not a refused or failed connect.
fn lost_in_flight(e: &ureq::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    match e {
        ureq::Error::Io(io) => matches!(io.kind(), UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe),
        ureq::Error::Protocol(_) => true,
        _ => false,
    }
}

/// The reconnection delay for a `retry` field (or none): at least [`MIN_RETRY`], at most
/// [`MAX_RETRY`].
fn retry_delay(retry: Option<u64>) -> Duration {
    retry.map_or(DEFAULT_RETRY, Duration::from_millis).clamp(MIN_RETRY, MAX_RETRY)
}

/// One session over Streamable HTTP.
pub(crate) struct StreamableHttpTransport {
    inner: Arc<Inner>,
    /// The GET stream's agent, shut down on close to interrupt the reader's blocking read.
    stream_agent: Agent,
    op: OpId,
    /// Dropped on close: disconnects [`Inner::woken`].
    wake: Mutex<Option<Sender<()>>>,
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
        let url = Url::parse(url).map_err(|why| Error::Connect {
            server: server.to_string(),
            op: op.clone(),
            detail: format!("url `{}` {why}", crate::url::redacted(url)),
        })?;
        Ok(Self::with_url(url, headers, router, options, op))
    }

    /// [`StreamableHttpTransport::connect`] with a parsed URL.
    fn with_url(
        url: Url,
        headers: &Headers,
        router: Arc<Router>,
        options: &HttpOptions,
        op: &OpId,
    ) -> StreamableHttpTransport {
        let server: Arc<str> = router.server().into();
        let (wake, woken) = bounded::<()>(0);
        let inner = Arc::new(Inner {
            server,
            url,
            headers: headers.clone(),
            router,
            agent: http::request_agent(),
            options: options.clone(),
            session_id: Mutex::new(None),
            protocol_version: Mutex::new(None),
            modern: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            woken,
            reinit_seq: AtomicU64::new(1),
            renewing: Mutex::new(false),
            renewed: Condvar::new(),
        });
        StreamableHttpTransport {
            inner,
            stream_agent: http::stream_agent(),
            op: op.clone(),
            wake: Mutex::new(Some(wake)),
            reader: Mutex::new(None),
            reader_started: AtomicBool::new(false),
        }
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
        let (done_tx, done_rx) = bounded::<()>(1);
        let inner = self.inner.clone();
        let agent = self.stream_agent.clone();
        let op = self.op.clone();
        // Disconnects once the first GET has its answer (or failed): see below.
        let (opened_tx, opened_rx) = bounded::<()>(1);
        let thread = std::thread::Builder::new().name(format!("mcp-http:{}", self.inner.server));
        let spawned = thread.stack_size(super::SMALL_STACK).spawn(move || {
            let _done = done_tx; // dropped when the thread ends: close() waits on it
            inner.run_reader(&agent, &op, opened_tx);
        });
        match spawned {
            Ok(handle) => {
                *lock(&self.reader) = Some(Reader { handle, done: done_rx });
                // The GET stream is open before the caller's next request goes out (bounded), so
                // it never races that request: a server may take a late GET for the resumption of
                // a reply stream (the conformance suite's sse-retry mock does).
                let _ = opened_rx.recv_timeout(self.inner.options.request_timeout.min(ANSWER_BOUND));
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
        self.send_with(message, method, op, deadline, &[])
    }

    fn cancels_with_notice(&self) -> bool {
        !self.inner.modern.load(Ordering::SeqCst)
    }

    fn set_modern(&self, modern: bool) {
        self.inner.modern.store(modern, Ordering::SeqCst);
    }

    fn send_with(
        &self,
        message: Vec<u8>,
        method: &str,
        op: &OpId,
        deadline: Instant,
        headers: &[(String, String)],
    ) -> Result<()> {
        let inner = &self.inner;
        let deadline = Deadline::at(deadline);
        if inner.closing.load(Ordering::SeqCst) {
            return Err(inner.closed(method, op, "the client closed the session".into()));
        }
        let head: Head = serde_json::from_slice(&message).unwrap_or_default();
        let expect = if head.method.is_some() { head.id } else { None };
        let answers = Answers::new(deadline);
        let deliver = |t: &str| inner.route(t, op, &answers);
        let wanted = || expect.as_ref().is_some_and(|id| inner.router.is_pending(id));
        let sink = Sink { deliver: &deliver, wanted: &wanted };
        // A lost reply fails the request with `Reply::Lost`: the session may send it again.
        let lost = |why: String| match &expect {
            Some(id) => {
                inner.router.lose(id, why);
                Ok(())
            }
            None => Err(inner.closed(method, op, why)),
        };
        let result = match inner.post_with(&message, method, op, deadline, &sink, headers) {
            Ok(Posted::Done) => Ok(()),
            Ok(Posted::Lost(why)) => lost(why),
            Ok(Posted::Expired(expired)) => inner.renew(&expired, op, deadline).and_then(|()| {
                self.start_reader();
                match inner.post(&message, method, op, deadline, &sink)? {
                    Posted::Done => Ok(()),
                    Posted::Lost(why) => lost(why),
                    Posted::Expired(_) => Err(inner.closed(method, op, "the new session expired at once".into())),
                }
            }),
            Err(e) => Err(e),
        };
        if result.is_ok() && method == "notifications/initialized" {
            self.start_reader();
        }
        result
    }

    fn set_protocol_version(&self, version: &str) {
        *lock(&self.inner.protocol_version) = Some(version.to_string());
    }

    /// The fork has no session id (its close must not end this session): for the modern wire.
    fn fork(&self, router: Arc<Router>) -> Option<Arc<dyn Transport>> {
        let inner = &self.inner;
        let fork = Self::with_url(inner.url.clone(), &inner.headers, router, &inner.options, &self.op);
        fork.inner.modern.store(inner.modern.load(Ordering::SeqCst), Ordering::SeqCst);
        *lock(&fork.inner.protocol_version) = lock(&inner.protocol_version).clone();
        Some(Arc::new(fork))
    }

    fn close(&self) {
        let inner = &self.inner;
        if inner.closing.swap(true, Ordering::SeqCst) {
            return;
        }
        drop(lock(&self.wake).take());
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
