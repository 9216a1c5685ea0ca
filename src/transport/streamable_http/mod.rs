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
//! whose reply carries another request queues it, never recursing, at most `MAX_ANSWERS` (64)
//! in one go and never past the deadline of the call that received them.
//!
//! Files, one concern each: this one holds the transport and its [`Transport`] glue; `request`
//! the POST and its reply (read on the caller's thread, server requests answered in a loop);
//! `session` the `Mcp-Session-Id`, its renewal on 404 and its `DELETE` at close; `resume` a
//! broken reply stream's resumption (`Last-Event-ID`, back-off); `get_stream` the GET stream and
//! its reader thread (`mcp-http:<server>`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use ureq::Agent;

use super::http::{self, Ctx};
use super::{CLOSE_BOUND, Reader, Router, Transport};
use crate::config::Headers;
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::transport::Reply;
use crate::url::Url;

mod get_stream;
mod request;
mod resume;
mod session;

use request::{Answers, Head, Posted, Sink};

const SESSION_HEADER: &str = "Mcp-Session-Id";
const VERSION_HEADER: &str = "MCP-Protocol-Version";

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
