//! One POST and its reply: the request goes out and its reply (JSON or an event stream) is read
//! on the caller's thread, bounded by the deadline; authorization rounds after a 401/403; server
//! requests that come with a reply are answered by POST, in a loop.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::Read;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Deserialize;

use super::{Inner, SESSION_HEADER, VERSION_HEADER, lock};
use crate::deadline::{Deadline, Phase};
use crate::error::{Error, Result};
use crate::jsonrpc::{self, Message, RequestId};
use crate::op::OpId;
use crate::sse::EventParser;
use crate::transport::ANSWER_BOUND;
use crate::transport::http::{self, PumpEnd};

/// The most server requests answered in one go (a server answering each answer with another
/// request would otherwise keep us busy until the deadline).
const MAX_ANSWERS: usize = 64;

/// How many times a request is sent again after the authorizer handled a 401/403.
const MAX_AUTH_ROUNDS: usize = 3;

/// One POST: its outcome, or a 401/403 for the authorizer (status, `WWW-Authenticate`, body).
enum Attempt {
    Posted(Posted),
    Challenged(u16, Option<String>, String),
}

/// The id and method of a message we send: enough to tell a request from a notification.
#[derive(Deserialize, Default)]
pub(super) struct Head {
    #[serde(default)]
    pub(super) id: Option<RequestId>,
    #[serde(default)]
    pub(super) method: Option<String>,
}

/// What a POST came to.
pub(super) enum Posted {
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
pub(super) struct StreamEnd {
    pub(super) last_event_id: Option<String>,
    pub(super) retry: Option<u64>,
    /// Messages delivered (priming events and other event types do not count).
    pub(super) messages: usize,
    pub(super) error: Option<Error>,
}

/// Receives each incoming JSON-RPC text; `wanted` says whether the caller still waits for more.
pub(super) struct Sink<'a> {
    pub(super) deliver: &'a dyn Fn(&str),
    pub(super) wanted: &'a dyn Fn() -> bool,
}

/// Server requests waiting for our answers. They are answered in a loop, never recursively
/// (an answer's reply may carry another request: it joins the queue), at most [`MAX_ANSWERS`]
/// in one go and never past the deadline of the call that received them.
pub(super) struct Answers {
    queue: RefCell<VecDeque<(Vec<u8>, String)>>,
    draining: Cell<bool>,
    deadline: Deadline,
}

impl Answers {
    pub(super) fn new(deadline: Deadline) -> Answers {
        Answers { queue: RefCell::new(VecDeque::new()), draining: Cell::new(false), deadline }
    }
}

impl Inner {
    /// Routes one incoming text; server requests join `answers` and are answered by POST.
    pub(super) fn route(&self, text: &str, op: &OpId, answers: &Answers) {
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
    pub(super) fn post(
        &self,
        body: &[u8],
        method: &str,
        op: &OpId,
        deadline: Deadline,
        sink: &Sink<'_>,
    ) -> Result<Posted> {
        self.post_with(body, method, op, deadline, sink, &[])
    }

    /// [`Inner::post`] with extra headers (the modern wire's routing headers); with OAuth, a
    /// request answered 401/403 is authorized and sent again (a bounded number of times).
    pub(super) fn post_with(
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
    pub(super) fn bearer(&self, deadline: Deadline, op: &OpId) -> Option<crate::config::Secret> {
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
    pub(super) fn read_stream(
        &self,
        body: impl Read,
        method: &str,
        op: &OpId,
        after: Duration,
        sink: &Sink<'_>,
    ) -> StreamEnd {
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
