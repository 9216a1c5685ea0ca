//! Scripted faults: the [`Fault`] list a server is given, and the [`Spec`]'s questions about it
//! (does this method never answer, how long is its delay, …).

use std::time::Duration;

use super::{Spec, ask};
#[cfg(doc)]
use super::{Stats, TestServer, TestServerBuilder};

/// A scripted misbehaviour. A server may be given several ([`TestServerBuilder::fault`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Nothing listens on the port: the server binds an ephemeral port, then closes it at once.
    /// [`TestServer::url`] still names it, and connecting is refused.
    RefuseConnections,
    /// The `GET` is answered with `200` and the event-stream headers, but the `endpoint` event
    /// never comes (keep-alive comments still do, if configured).
    NoEndpoint,
    /// The `endpoint` event names another origin:
    /// `http://127.0.0.2:<port>/messages/?session_id=…` (same port, another host).
    ForeignEndpoint,
    /// Requests with this method are never answered (the `POST` still gets its `202`). The
    /// request stays in flight until the client cancels it or its session ends.
    NeverAnswer(String),
    /// Requests with this method are answered after this delay, on a timer thread, without
    /// holding up any other request.
    Delay(String, Duration),
    /// A `POST` carrying a message with this method (e.g. `notifications/cancelled`) gets its
    /// `202` only after this delay; the message is then processed as usual (and recorded even
    /// when the client stopped waiting).
    SlowAccept(String, Duration),
    /// `resources/list` never ends: every page holds one resource whose description is this many
    /// bytes of `x`, and a new `nextCursor`.
    EndlessPages(usize),
    /// Before answering a request with this method, send an event whose data is not JSON
    /// (`{not json`).
    MalformedEvent(String),
    /// When a request with this method arrives, end the event stream (last chunk, then close the
    /// socket) instead of answering.
    CloseStreamOn(String),
    /// Every `POST` is answered with this status and a short text body, and not processed.
    PostStatus(u16),
    /// Every `POST` is answered `404 Could not find session`, as a server that restarted would.
    ForgetSessions,
    /// Right after the `endpoint` event, send one `message` event whose data is exactly this many
    /// bytes. When it is large enough, the data is a valid `notifications/message` padded with
    /// `x`; below about 100 bytes it is just `x`s.
    OversizedEvent(usize),
    /// End event-stream lines with LF instead of CRLF (the default, as sse-starlette does).
    BareLf,
    /// Send a `: ping - <unix seconds>` comment at this interval on every event stream.
    KeepAlive(Duration),
    /// After `notifications/initialized`, send a `ping` request (with a string id) to the client;
    /// its answer is counted in [`Stats::client_pings_answered`].
    PingClient,
    /// After `notifications/initialized`, send a request with this method (e.g. `roots/list`)
    /// to the client; its answer is recorded in [`Stats::client_answers`].
    RequestClient(String),
    /// [`Fault::RequestClient`] with params: the method, and the params as JSON text (sent
    /// as they are when they parse, else none), e.g. a URL-mode `elicitation/create`. HTTP+SSE
    /// and stdio.
    RequestClientWith(String, String),
    /// After `notifications/initialized`, send a `notifications/message`
    /// `{level: "info", logger: "test", data: "hello"}` and a `notifications/progress`. Over
    /// stdio on the 2026-07-28 wire: after acknowledging a `subscriptions/listen` that asked for
    /// `resourcesListChanged`, send a `notifications/resources/list_changed` on it.
    NotifyAfterInitialized,
    /// `resources/list`, `resources/templates/list` and `tools/list` always answer their first
    /// page with the same `nextCursor`, so a client following cursors sees one repeat.
    RepeatCursor,
    /// Write each event in pieces of a few bytes with this pause between them, to exercise a
    /// client's reassembly of events split across reads.
    SlowStream(Duration),
    /// Over stdio: exit at once with this status, before reading anything.
    ExitAtStart(i32),
    /// Over stdio: when the input ends, keep running (answering nothing) until killed.
    IgnoreEndOfInput,
    /// A `tools/call` of this tool (listed or not) first sends the client `elicitation/create`
    /// (a form whose `name`, `age`, `verified` have defaults), `sampling/createMessage` and
    /// `roots/list` — on the legacy event stream, on the POST's reply stream (Streamable HTTP),
    /// or on stdout — and, once all three are answered, returns a text result holding the
    /// answers as JSON: `{"<method>": {"result": …} | {"error": {"code", "message"}}}`.
    AskClient(String),
    /// Streamable HTTP (both wires): the first this-many requests with this method are
    /// processed as usual (a tool's handler runs), but the reply is an event stream that ends
    /// before the response: one priming event (`id: broken`, `retry: 100`, empty data),
    /// then the connection closes. `GET /mcp` is `405`, so a client cannot resume the stream.
    BreakReply(String, u32),
    /// Streamable HTTP (both wires): the first this-many requests with this method are
    /// processed as usual, but the JSON reply is cut off: its `content-length` is the whole
    /// answer's, half of it is sent, then the connection closes.
    TruncateReply(String, u32),
    /// The 2026-07-28 wire: requests with this method (after the envelope and header checks)
    /// are answered `400` with error `-32021` (missing required client capability) whose
    /// `data.requiredCapabilities` is the given JSON text (e.g. `{"sampling":{}}`).
    RequireCapabilities(String, String),
    /// Over stdio: a request whose method the server does not know (its answer would be
    /// `-32601`, as `server/discover` is to a handshake-era server) ends serving, without an
    /// answer, as [`Fault::CloseStreamOn`] does (the `mcp-test-server` binary exits).
    ExitOnUnknownMethod,
    /// The first this-many `tools/list` requests are answered with no tools (a server still
    /// warming up); later ones list the tools. The count is the server's (every session's).
    EmptyToolLists(u32),
}

impl Spec {
    pub(super) fn has(&self, fault: &Fault) -> bool {
        self.faults.contains(fault)
    }

    fn method_fault(&self, method: &str, pick: impl Fn(&Fault) -> Option<&String>) -> bool {
        self.faults.iter().any(|f| pick(f).is_some_and(|m| m == method))
    }

    /// The tool whose calls ask the client first ([`Fault::AskClient`]), if any.
    fn asking_tool(&self) -> Option<&str> {
        self.faults.iter().find_map(|f| if let Fault::AskClient(t) = f { Some(t.as_str()) } else { None })
    }

    /// Whether this request asks the client first: a call of the asking tool, or the
    /// `tasks/result` of a task that needs input (2025-11-25, [`TaskBehaviour::NeedsInput`](super::TaskBehaviour::NeedsInput)).
    pub(super) fn asks(&self, method: &str, params: Option<&serde_json::value::RawValue>) -> bool {
        match method {
            "tools/call" => self.asking_tool().is_some_and(|t| ask::calls(t, params)),
            "tasks/result" => self.tasks.needs_input(params),
            _ => false,
        }
    }

    /// Whether it has the `tools` capability: it has tools, or lists none while warming up.
    pub(super) fn offers_tools(&self) -> bool {
        !self.tools.is_empty() || self.faults.iter().any(|f| matches!(f, Fault::EmptyToolLists(_)))
    }

    /// Whether this `tools/list` is answered empty ([`Fault::EmptyToolLists`]); counts it.
    pub(super) fn lists_no_tools(&self) -> bool {
        let Some(n) = self.faults.iter().find_map(|f| if let Fault::EmptyToolLists(n) = f { Some(*n) } else { None })
        else {
            return false;
        };
        self.tool_lists.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < u64::from(n)
    }

    pub(super) fn never_answers(&self, method: &str) -> bool {
        self.method_fault(method, |f| if let Fault::NeverAnswer(m) = f { Some(m) } else { None })
    }

    pub(super) fn malformed_before(&self, method: &str) -> bool {
        self.method_fault(method, |f| if let Fault::MalformedEvent(m) = f { Some(m) } else { None })
    }

    pub(super) fn closes_on(&self, method: &str) -> bool {
        self.method_fault(method, |f| if let Fault::CloseStreamOn(m) = f { Some(m) } else { None })
    }

    pub(super) fn slow_accept(&self, method: &str) -> Option<Duration> {
        self.faults.iter().find_map(|f| match f {
            Fault::SlowAccept(m, d) if m == method => Some(*d),
            _ => None,
        })
    }

    pub(super) fn endless_pages(&self) -> Option<usize> {
        self.faults.iter().find_map(|f| if let Fault::EndlessPages(n) = f { Some(*n) } else { None })
    }

    pub(super) fn delay_for(&self, method: &str) -> Option<Duration> {
        self.faults.iter().find_map(|f| match f {
            Fault::Delay(m, d) if m == method => Some(*d),
            _ => None,
        })
    }

    pub(super) fn post_status(&self) -> Option<u16> {
        self.faults.iter().find_map(|f| if let Fault::PostStatus(s) = f { Some(*s) } else { None })
    }

    pub(super) fn oversized(&self) -> Option<usize> {
        self.faults.iter().find_map(|f| if let Fault::OversizedEvent(n) = f { Some(*n) } else { None })
    }

    pub(super) fn keep_alive(&self) -> Option<Duration> {
        self.faults.iter().find_map(|f| if let Fault::KeepAlive(d) = f { Some(*d) } else { None })
    }

    /// How many replies to `method` [`Fault::BreakReply`] / [`Fault::TruncateReply`] break,
    /// and whether they are cut-off JSON (`true`) rather than event streams.
    pub(super) fn breaks(&self, method: &str) -> Option<(u32, bool)> {
        self.faults.iter().find_map(|f| match f {
            Fault::BreakReply(m, n) if m == method => Some((*n, false)),
            Fault::TruncateReply(m, n) if m == method => Some((*n, true)),
            _ => None,
        })
    }

    /// The `requiredCapabilities` JSON [`Fault::RequireCapabilities`] answers `method` with.
    pub(super) fn required_capabilities(&self, method: &str) -> Option<&str> {
        self.faults.iter().find_map(|f| match f {
            Fault::RequireCapabilities(m, c) if m == method => Some(c.as_str()),
            _ => None,
        })
    }

    pub(super) fn slow_stream(&self) -> Option<Duration> {
        self.faults.iter().find_map(|f| if let Fault::SlowStream(d) = f { Some(*d) } else { None })
    }
}
