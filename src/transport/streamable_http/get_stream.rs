//! The GET stream for server-initiated messages: opening a GET event stream (also used to
//! resume a reply stream), and the reader thread (`mcp-http:<server>`) that owns it, reopening
//! it with `Last-Event-ID` until close or too many quiet attempts.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, Sender, TryRecvError, bounded};
use ureq::Agent;
use ureq::http::Response;

use super::request::{Answers, Sink};
use super::resume::{MAX_RECONNECTS, retry_delay};
use super::{Inner, SESSION_HEADER, StreamableHttpTransport, VERSION_HEADER, lock};
use crate::deadline::{Deadline, Phase};
use crate::error::Result;
use crate::op::OpId;
use crate::transport::{ANSWER_BOUND, Reader, SMALL_STACK, http};

impl Inner {
    /// Opens a GET event stream within `deadline` (up to the response headers only, when
    /// `long_lived`). `None`: the server offers none (405, or any non-stream answer).
    pub(super) fn open_get(
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
}

impl StreamableHttpTransport {
    /// Starts the GET stream reader after the handshake; after a new session, starts it again if
    /// it has ended (the old session's stream went with the old session).
    pub(super) fn start_reader(&self) {
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
        let spawned = thread.stack_size(SMALL_STACK).spawn(move || {
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
