//! The legacy HTTP+SSE transport (protocol 2024-11-05): a long-lived GET event stream for
//! server messages, one POST per client message to the endpoint the stream announces.
//!
//! Threads: one reader (`mcp-sse:<server>`) per session owns the GET stream and its own ureq
//! `Agent`, so that `close()` can interrupt its blocking read with `Agent::shutdown`. POSTs are
//! made from the caller's thread through a second agent whose idle connections are reused.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, Sender, bounded};
use ureq::Agent;

use super::{
    ANSWER_BOUND, CLOSE_BOUND as CLOSE_GRACE, HttpUrl, Reader, Reply, Router, Transport, deadline_in, excerpt, redacted,
};
use crate::config::Headers;
use crate::error::{Error, Result};
use crate::op::{OP_ID_HEADER, OpId};
use crate::sse::{Event, EventParser};

/// The most bytes of an error response body we read (the rest is discarded).
const ERROR_BODY_LIMIT: u64 = 64 * 1024;

/// Settings of one SSE session.
#[derive(Clone, Debug)]
pub(crate) struct SseOptions {
    /// Deadline of each POST and of the reader's answers to server requests.
    pub request_timeout: Duration,
    /// The largest event accepted on the stream.
    pub max_event_bytes: usize,
}

/// The POST side, shared by callers and the reader thread (which answers server pings).
struct Poster {
    server: Arc<str>,
    agent: Agent,
    url: OnceLock<String>,
    headers: Headers,
}

impl Poster {
    fn post(&self, body: Vec<u8>, method: &str, op: &OpId, deadline: Instant) -> Result<()> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let timeout = |phase| Error::Timeout {
            server: self.server.to_string(),
            method: method.to_string(),
            op: op.clone(),
            phase,
            after: remaining,
        };
        if remaining.is_zero() {
            return Err(timeout("deadline passed before sending"));
        }
        let Some(url) = self.url.get() else {
            return Err(Error::ConnectionClosed {
                server: self.server.to_string(),
                method: method.to_string(),
                op: op.clone(),
                detail: "no endpoint yet".into(),
            });
        };
        log::trace!("op={op} server={}: POST {method} {}", self.server, String::from_utf8_lossy(&body));
        let mut request =
            self.agent.post(url).header("Content-Type", "application/json").header(OP_ID_HEADER, op.as_str());
        for (name, value) in self.headers.iter() {
            request = request.header(name, value);
        }
        let result = request.config().timeout_global(Some(remaining)).build().send(&body[..]);
        match result {
            Ok(mut response) => {
                let status = response.status().as_u16();
                // Read the body to its end so the connection goes back to the pool.
                let text =
                    response.body_mut().with_config().limit(ERROR_BODY_LIMIT).read_to_string().unwrap_or_default();
                if (200..300).contains(&status) {
                    Ok(())
                } else {
                    Err(Error::Http {
                        server: self.server.to_string(),
                        method: method.to_string(),
                        op: op.clone(),
                        status,
                        body: excerpt(text.trim(), 200),
                    })
                }
            }
            Err(ureq::Error::Timeout(t)) => Err(timeout(timeout_phase(t, "sending the request"))),
            Err(e) => Err(Error::ConnectionClosed {
                server: self.server.to_string(),
                method: method.to_string(),
                op: op.clone(),
                detail: format!("POST failed: {e}"),
            }),
        }
    }
}

fn timeout_phase(t: ureq::Timeout, default: &'static str) -> &'static str {
    match t {
        ureq::Timeout::Connect | ureq::Timeout::Resolve => "connecting",
        ureq::Timeout::RecvResponse => "waiting for the response headers",
        ureq::Timeout::SendBody | ureq::Timeout::SendRequest => "sending the request",
        _ => default,
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
        let server: Arc<str> = router.server().into();
        let connect_err = |detail: String| Error::Connect { server: server.to_string(), op: op.clone(), detail };
        let sse_url = HttpUrl::parse(url).map_err(connect_err)?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let stream_agent = super::stream_agent(remaining);
        let post_agent = super::request_agent();

        log::debug!("op={op} server={server}: GET {}", redacted(url));
        let mut request = stream_agent
            .get(url)
            .header("Accept", "text/event-stream")
            .header("Cache-Control", "no-cache")
            .header(OP_ID_HEADER, op.as_str());
        for (name, value) in headers.iter() {
            request = request.header(name, value);
        }
        let mut response = match request.call() {
            Ok(r) => r,
            Err(ureq::Error::Timeout(t)) => {
                return Err(Error::Timeout {
                    server: server.to_string(),
                    method: "connect".into(),
                    op: op.clone(),
                    phase: timeout_phase(t, "opening the event stream"),
                    after: remaining,
                });
            }
            Err(e) => return Err(connect_err(format!("GET {}: {e}", redacted(url)))),
        };
        let status = response.status().as_u16();
        if status != 200 {
            let text = response.body_mut().with_config().limit(ERROR_BODY_LIMIT).read_to_string().unwrap_or_default();
            return Err(Error::Http {
                server: server.to_string(),
                method: "connect".into(),
                op: op.clone(),
                status,
                body: excerpt(text.trim(), 200),
            });
        }
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        if !content_type.to_ascii_lowercase().starts_with("text/event-stream") {
            return Err(Error::Protocol {
                server: server.to_string(),
                method: "connect".into(),
                op: op.clone(),
                detail: format!("GET {} answered content-type {content_type:?}, not text/event-stream", redacted(url)),
            });
        }

        let poster = Arc::new(Poster {
            server: server.clone(),
            agent: post_agent,
            url: OnceLock::new(),
            headers: headers.clone(),
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
            .spawn(move || {
                let _done = done_tx; // dropped when the thread ends: close() waits on it
                reader_state.run(body, max_event_bytes);
            })
            .map_err(|e| connect_err(format!("cannot start the reader thread: {e}")))?;

        let transport = SseTransport {
            router,
            poster,
            stream_agent,
            closing,
            reader: Mutex::new(Some(Reader { handle, done: done_rx })),
        };

        let endpoint = match endpoint_rx.recv_deadline(deadline) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout) => {
                transport.close();
                return Err(Error::Timeout {
                    server: server.to_string(),
                    method: "connect".into(),
                    op: op.clone(),
                    phase: "no endpoint event",
                    after: remaining,
                });
            }
            Err(RecvTimeoutError::Disconnected) => {
                transport.close();
                return Err(connect_err("the event stream ended before the endpoint event".into()));
            }
        };
        let resolved = match sse_url.join(&endpoint) {
            Ok(u) if u.same_origin(&sse_url) => u,
            Ok(u) => {
                transport.close();
                return Err(connect_err(format!(
                    "refusing endpoint {:?}: origin {} is not the event stream's origin {}",
                    excerpt(&endpoint, 200),
                    u.origin(),
                    sse_url.origin()
                )));
            }
            Err(e) => {
                transport.close();
                return Err(connect_err(format!("bad endpoint event: {e}")));
            }
        };
        log::debug!("op={op} server={server}: endpoint {}", resolved.path);
        let _ = transport.poster.url.set(resolved.as_string());
        Ok(transport)
    }
}

impl Transport for SseTransport {
    fn send(&self, message: Vec<u8>, method: &str, op: &OpId, deadline: Instant) -> Result<()> {
        self.poster.post(message, method, op, deadline)
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
    fn run(mut self, mut body: impl Read, max_event_bytes: usize) {
        let server = self.router.server().to_string();
        let mut parser = EventParser::new(max_event_bytes);
        let mut events = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        let why = loop {
            match body.read(&mut buf) {
                Ok(0) => break Reply::Closed("the server closed the event stream".into()),
                Ok(n) => {
                    if let Err(e) = parser.feed(&buf[..n], &mut events) {
                        log::warn!(
                            "op={} server={server}: event larger than {} bytes; dropping the session",
                            self.op,
                            e.limit
                        );
                        break Reply::Limit { what: "event size", limit: e.limit };
                    }
                    for event in events.drain(..) {
                        self.event(event);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Reply::Closed(format!("event stream read failed: {e}")),
            }
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
                    if let Err(e) = poster.post(body, method, op, deadline_in(timeout.min(ANSWER_BOUND))) {
                        log::warn!("op={op} server={}: could not answer the server's `{method}`: {e}", poster.server);
                    }
                });
            }
            other => log::debug!("op={} server={}: ignoring event type {other:?}", self.op, self.router.server()),
        }
    }
}
