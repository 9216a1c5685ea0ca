//! The legacy HTTP+SSE transport (protocol 2024-11-05): a long-lived GET event stream for
//! server messages, one POST per client message to the endpoint the stream announces.
//!
//! Threads: one reader (`mcp-sse:<server>`) per session owns the GET stream and its own ureq
//! `Agent`, so that `close()` can interrupt its blocking read with `Agent::shutdown`. POSTs are
//! made from the caller's thread through a second agent whose idle connections are reused;
//! [`Transport::send_waits`] says each waits for its `202`, so the client sends a batch (the
//! first pages of the listings, many reads) from a few threads at once, each over its own
//! kept-alive connection.
//!
//! With OAuth (`auth`), the GET and every POST carry the bearer token; a 401 (or 403 with
//! `insufficient_scope`) to either hands the challenge to the authorizer (`Credentials`), which renews the
//! token (refresh, step-up, or the full flow), and the request is sent again, a few times at
//! most.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, Sender, bounded};
use ureq::Agent;

use super::http::{self, Ctx, PumpEnd};
use super::{ANSWER_BOUND, CLOSE_BOUND as CLOSE_GRACE, Reader, Reply, Router, Transport};
use crate::config::Headers;
use crate::config::Secret;
use crate::deadline::{Deadline, Phase};
use crate::error::Result;
use crate::op::OpId;
use crate::sse::{Event, EventParser};
use crate::transport::Credentials;
use crate::url::Url;

/// How many times a request is sent again after the authorizer handled a 401/403.
const MAX_AUTH_ROUNDS: usize = 3;

/// Settings of one SSE session.
#[derive(Clone, Debug)]
pub(crate) struct SseOptions {
    /// Deadline of each POST and of the reader's answers to server requests.
    pub request_timeout: Duration,
    /// The largest event accepted on the stream.
    pub max_event_bytes: usize,
    /// The server's authorization (`auth`): a bearer token on the GET and the POSTs.
    pub auth: Option<Arc<dyn Credentials>>,
}

/// The POST side, shared by callers and the reader thread (which answers server pings).
struct Poster {
    server: Arc<str>,
    agent: Agent,
    url: OnceLock<Url>,
    headers: Headers,
    auth: Option<Arc<dyn Credentials>>,
}

/// A 401 or 403 for the authorizer: status, `WWW-Authenticate`, body.
type Challenge = (u16, Option<String>, String);

impl Poster {
    /// POSTs one message; with OAuth, a 401/403 is authorized and the message sent again.
    fn post(&self, body: Vec<u8>, method: &str, op: &OpId, deadline: Deadline) -> Result<()> {
        let Some(auth) = &self.auth else {
            return match self.post_once(&body, method, op, deadline, None)? {
                None => Ok(()),
                Some((status, _, text)) => Err(Ctx { server: &self.server, method, op }.http(status, &text)),
            };
        };
        let mut rounds = 0;
        loop {
            let header = auth.authorization_by(deadline, op)?;
            match self.post_once(&body, method, op, deadline, header.as_ref())? {
                None => return Ok(()),
                Some((status, _, text)) if rounds == MAX_AUTH_ROUNDS => {
                    return Err(Ctx { server: &self.server, method, op }.http(status, &text));
                }
                Some((status, www, _)) => {
                    rounds += 1;
                    auth.challenged_by(status, www.as_deref(), header.as_ref(), method, deadline, op)?;
                }
            }
        }
    }

    /// One POST: `Ok(None)` when accepted, `Ok(Some(challenge))` for a 401/403 (when it is ours
    /// to handle).
    fn post_once(
        &self,
        body: &[u8],
        method: &str,
        op: &OpId,
        deadline: Deadline,
        authorization: Option<&Secret>,
    ) -> Result<Option<Challenge>> {
        let ctx = Ctx { server: &self.server, method, op };
        let remaining = deadline.remaining();
        if remaining.is_zero() {
            return Err(ctx.timeout(Phase::BeforeSending, remaining));
        }
        let Some(url) = self.url.get() else {
            return Err(ctx.closed("no endpoint yet".into()));
        };
        log::trace!("op={op} server={}: POST {method} {}", self.server, String::from_utf8_lossy(body));
        let mut request = self.agent.post(url.request_target()).header("Content-Type", "application/json");
        if let Some(a) = authorization {
            request = request.header("Authorization", a.expose());
        }
        let request = http::bounded(http::with_headers(request, url, &self.headers, op), deadline);
        let mut response = match request.send(body) {
            Ok(r) => r,
            Err(e) => return Err(ctx.ureq(e, remaining, Phase::SendingRequest)),
        };
        if let Some(e) = http::redirect_error(&response, url, ctx) {
            return Err(e);
        }
        let status = response.status().as_u16();
        let www = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_string);
        // Read the body to its end so the connection goes back to the pool.
        let text = http::error_body(&mut response, deadline, None, &self.server);
        match status {
            200..300 => Ok(None),
            401 | 403 if self.auth.is_some() => Ok(Some((status, www, text))),
            _ => Err(ctx.http(status, &text)),
        }
    }
}

/// One session over the legacy HTTP+SSE transport.
pub(crate) struct SseTransport {
    router: Arc<Router>,
    poster: Arc<Poster>,
    stream_agent: Agent,
    closing: Arc<AtomicBool>,
    reader: Mutex<Option<Reader>>,
}

impl SseTransport {
    /// Opens the event stream, waits for the endpoint event (until `deadline`) and checks that
    /// it is on the stream's origin.
    pub(crate) fn connect(
        url: &str,
        headers: &Headers,
        router: Arc<Router>,
        options: &SseOptions,
        op: &OpId,
        deadline: Instant,
    ) -> Result<SseTransport> {
        let deadline = Deadline::at(deadline);
        let server: Arc<str> = router.server().into();
        let ctx = Ctx { server: &server, method: "connect", op };
        let sse_url =
            Url::parse(url).map_err(|why| ctx.connect(format!("url `{}` {why}", crate::url::redacted(url))))?;
        let remaining = deadline.remaining();
        let stream_agent = http::stream_agent();
        let post_agent = http::request_agent();

        let mut rounds = 0;
        let (mut response, status) = loop {
            let authorization = match &options.auth {
                Some(auth) => auth.authorization_by(deadline, op)?,
                None => None,
            };
            log::debug!("op={op} server={server}: GET {sse_url}");
            let mut request = stream_agent
                .get(sse_url.request_target())
                .header("Accept", "text/event-stream")
                .header("Cache-Control", "no-cache");
            if let Some(a) = &authorization {
                request = request.header("Authorization", a.expose());
            }
            let request = http::stream_request(http::with_headers(request, &sse_url, headers, op), deadline);
            let mut response = match request.call() {
                Ok(r) => r,
                Err(ureq::Error::Timeout(t)) => {
                    return Err(ctx.timeout(Phase::of_ureq(t, Phase::OpeningStream), remaining));
                }
                Err(e) => return Err(ctx.connect(format!("GET {sse_url}: {}", http::describe(&e)))),
            };
            if let Some(e) = http::redirect_error(&response, &sse_url, ctx) {
                return Err(e);
            }
            let status = response.status().as_u16();
            match &options.auth {
                Some(auth) if (status == 401 || status == 403) && rounds < MAX_AUTH_ROUNDS => {
                    let www =
                        response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_string);
                    let _ = http::error_body(&mut response, deadline, Some(&stream_agent), &server);
                    rounds += 1;
                    auth.challenged_by(status, www.as_deref(), authorization.as_ref(), "connect", deadline, op)?;
                }
                _ => break (response, status),
            }
        };
        if status != 200 {
            let text = http::error_body(&mut response, deadline, Some(&stream_agent), &server);
            return Err(ctx.http(status, &text));
        }
        let content_type = http::content_type(&response);
        if !content_type.starts_with("text/event-stream") {
            return Err(
                ctx.protocol(format!("GET {sse_url} answered content-type {content_type:?}, not text/event-stream"))
            );
        }

        let poster = Arc::new(Poster {
            server: server.clone(),
            agent: post_agent,
            url: OnceLock::new(),
            headers: headers.clone(),
            auth: options.auth.clone(),
        });
        let closing = Arc::new(AtomicBool::new(false));
        let (endpoint_tx, endpoint_rx) = bounded::<String>(1);
        let (done_tx, done_rx) = bounded::<()>(1);
        let body = response.into_body().into_reader();
        let reader_state = ReaderState {
            router: router.clone(),
            poster: poster.clone(),
            closing: closing.clone(),
            endpoint_tx: Some(endpoint_tx),
            op: op.clone(),
            request_timeout: options.request_timeout,
        };
        let max_event_bytes = options.max_event_bytes;
        let handle = std::thread::Builder::new()
            .name(format!("mcp-sse:{server}"))
            .stack_size(super::SMALL_STACK)
            .spawn(move || {
                let _done = done_tx; // dropped when the thread ends: close() waits on it
                reader_state.run(body, max_event_bytes);
            })
            .map_err(|e| ctx.connect(format!("cannot start the reader thread: {e}")))?;

        let transport = SseTransport {
            router,
            poster,
            stream_agent,
            closing,
            reader: Mutex::new(Some(Reader { handle, done: done_rx })),
        };

        let endpoint = match endpoint_rx.recv_deadline(deadline.instant()) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout) => {
                transport.close();
                return Err(ctx.timeout(Phase::NoEndpoint, remaining));
            }
            Err(RecvTimeoutError::Disconnected) => {
                transport.close();
                return Err(ctx.connect("the event stream ended before the endpoint event".into()));
            }
        };
        let resolved = match sse_url.join(&endpoint) {
            Ok(u) if u.same_origin(&sse_url) => u,
            Ok(u) => {
                transport.close();
                return Err(ctx.connect(format!(
                    "refusing endpoint on origin {}: it is not the event stream's origin {}",
                    u.origin(),
                    sse_url.origin()
                )));
            }
            Err(e) => {
                transport.close();
                return Err(ctx.connect(format!("bad endpoint event: {e}")));
            }
        };
        log::debug!("op={op} server={server}: endpoint {}", resolved.path());
        let _ = transport.poster.url.set(resolved);
        Ok(transport)
    }
}

impl Transport for SseTransport {
    fn send_waits(&self) -> bool {
        true // each POST waits for its 202; the answer comes on the event stream
    }

    fn send(&self, message: Vec<u8>, method: &str, op: &OpId, deadline: Instant) -> Result<()> {
        self.poster.post(message, method, op, Deadline::at(deadline))
    }

    fn close(&self) {
        if self.closing.swap(true, Ordering::SeqCst) {
            return;
        }
        self.router.fail_all(Reply::Closed("the client closed the session".into()));
        // Interrupts the reader's blocking read (dropping the agent would not) and any POST.
        self.stream_agent.clone().shutdown();
        self.poster.agent.clone().shutdown();
        let reader = self.reader.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(reader) = reader {
            reader.join_within(CLOSE_GRACE, self.router.server());
        }
    }
}

impl Drop for SseTransport {
    fn drop(&mut self) {
        self.close();
    }
}

/// What the reader thread owns.
struct ReaderState {
    router: Arc<Router>,
    poster: Arc<Poster>,
    closing: Arc<AtomicBool>,
    endpoint_tx: Option<Sender<String>>,
    op: OpId,
    request_timeout: Duration,
}

impl ReaderState {
    fn run(mut self, body: impl Read, max_event_bytes: usize) {
        let server = self.router.server().to_string();
        let mut parser = EventParser::new(max_event_bytes);
        let why = match http::pump(body, &mut parser, |event| {
            self.event(event);
            true
        }) {
            PumpEnd::Eof | PumpEnd::Stopped => Reply::Closed("the server closed the event stream".into()),
            PumpEnd::Limit(limit) => {
                log::warn!("op={} server={server}: event larger than {limit} bytes; dropping the session", self.op);
                Reply::Limit { what: "event size", limit }
            }
            PumpEnd::Read(e) => Reply::Closed(format!("event stream read failed: {e}")),
        };
        let why = if self.closing.load(Ordering::SeqCst) {
            Reply::Closed("the client closed the session".into())
        } else {
            log::debug!("op={} server={server}: event stream ended: {why:?}", self.op);
            why
        };
        self.router.fail_all(why);
    }

    fn event(&mut self, event: Event) {
        match event.event.as_str() {
            "endpoint" => match self.endpoint_tx.take() {
                Some(tx) => {
                    let _ = tx.try_send(event.data);
                }
                None => log::debug!("op={} server={}: ignoring a second endpoint event", self.op, self.router.server()),
            },
            "message" => {
                log::trace!("op={} server={}: event {}", self.op, self.router.server(), event.data);
                let poster = &self.poster;
                let op = &self.op;
                let timeout = self.request_timeout;
                self.router.handle(&event.data, &|body, method| {
                    if let Err(e) = poster.post(body, method, op, Deadline::after(timeout.min(ANSWER_BOUND))) {
                        log::warn!("op={op} server={}: could not answer the server's `{method}`: {e}", poster.server);
                    }
                });
            }
            other => log::debug!("op={} server={}: ignoring event type {other:?}", self.op, self.router.server()),
        }
    }
}
