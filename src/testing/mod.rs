//! An MCP server for tests: the legacy HTTP+SSE transport and Streamable HTTP on
//! `127.0.0.1:0` (one port, [`TestServer::url`] and [`TestServer::mcp_url`]), or stdio
//! ([`TestServerBuilder::serve_stdio`], the `mcp-test-server` binary), built from a list of
//! resources, templates and tools, with scripted faults and counters to assert on.
//!
//! It is a real server: one thread per TCP connection, HTTP/1.1 with keep-alive, an event stream
//! per session. The crate's own tests, benches and the `demo` command use it; so can your tests.
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use mcp_orchestrator::testing::TestServer;
//!
//! let server = TestServer::builder()
//!     .name("db")
//!     .text_resource("database://metadata", "metadata", "application/json", r#"{"tables":[]}"#)
//!     .start()?;
//! assert!(server.url().starts_with("http://127.0.0.1:"));
//!
//! // A client's first step: GET the event stream and read the endpoint event.
//! let mut sse = std::net::TcpStream::connect(server.addr())?;
//! sse.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
//! write!(sse, "GET /sse HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n", server.addr())?;
//! let mut stream = BufReader::new(sse); // kept open: the session lives as long as its stream
//! let endpoint = (&mut stream)
//!     .lines()
//!     .map_while(Result::ok)
//!     .find_map(|line| line.strip_prefix("data: ").map(str::to_owned))
//!     .expect("an endpoint event");
//! assert!(endpoint.starts_with("/messages/?session_id="));
//! assert!(server.wait_until(std::time::Duration::from_secs(5), |s| s.open_sessions == 1));
//! drop(stream);
//!
//! server.shutdown(); // also done on drop
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Wire format
//!
//! - `GET /sse` → `200`, `content-type: text/event-stream`, `cache-control: no-cache`,
//!   `transfer-encoding: chunked` (HTTP/1.1; an HTTP/1.0 request gets a close-delimited body).
//!   Each event is written as one chunk. The first event is
//!   `event: endpoint\r\ndata: /messages/?session_id=<32 hex>\r\n\r\n` (relative, as the Python
//!   SDK sends it). Server messages follow as `event: message\r\ndata: <compact JSON>\r\n\r\n`.
//! - `POST /messages/?session_id=<hex>` with a `Content-Length` body holding one JSON-RPC message
//!   (or a batch) → `202 Accepted`, body `Accepted`, keep-alive honoured. The JSON-RPC response
//!   goes out on the session's event stream (it may arrive before or after the `202`). A missing
//!   `session_id` → `400`; an unknown one → `404 Could not find session`; a body that is not
//!   JSON-RPC → `400 Could not parse message`, and a `-32700` error with `"id": null` on the stream.
//! - Streamable HTTP on `/mcp`: `POST` answers in the response body (`application/json`), with
//!   the `mcp-session-id` given in reply to `initialize`; `GET` → `405`; `DELETE` ends the
//!   session. Server-to-client messages need the event stream and are not sent there.
//! - Anything else → `404`, or `405` for a known path with the wrong method. A request head over
//!   16 KiB → `400`; a body over 8 MiB → `413`; both close the connection.
//!
//! # Methods
//!
//! `initialize` (echoes the client's `protocolVersion` when it is one of
//! [`SUPPORTED_PROTOCOL_VERSIONS`](crate::SUPPORTED_PROTOCOL_VERSIONS), else offers the newest;
//! capabilities `resources {subscribe: false, listChanged: true}`, `tools {listChanged: false}`),
//! `notifications/initialized`, `ping`, `resources/list`, `resources/templates/list`,
//! `resources/read` (an unknown URI → error `-32002` "Resource not found"), `tools/list`,
//! `tools/call` (an unknown tool → `-32602`; a handler's `Err(message)` → a result with
//! `isError: true` and the message as text), `notifications/cancelled` (recorded in
//! [`Stats::cancelled`]). Any other request → `-32601`. The three lists are paged when a
//! [page size](TestServerBuilder::page_size) is set, with an opaque `nextCursor`.
//!
//! # Threads and shutdown
//!
//! Threads are named `test-server-accept`, `test-server-conn`, `test-server-sse-eof` (one per
//! event stream, watching for the client closing it) and `test-server-delay` (one per delayed
//! answer). No thread holds a lock across socket I/O; each event stream has its own writer fed by
//! a channel, so a slow client delays only its own stream. [`TestServer::shutdown`] (and drop)
//! stops accepting, shuts down every live socket, wakes every waiting thread and joins them all;
//! it returns within a fraction of a second unless a tool handler is still running.

mod ask;
mod auth;
mod base64;
use crate::serve::http;
mod mcp;
mod server;
mod stdio;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use auth::{AuthServer, AuthServerBuilder, Iss, MetadataAt, PrmAt, Recorded};
pub use stdio::StdioEnd;

use crate::{
    CallToolResult, Content, ContentsBody, Prompt, PromptArgument, RequestId, Resource, ResourceContents,
    ResourceTemplate, Tool,
};

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
}

/// Which protocols and transports the server speaks ([`TestServerBuilder::protocol_mode`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolMode {
    /// The `initialize` handshake only (the default): legacy HTTP+SSE on `/sse`, Streamable
    /// HTTP with sessions on `/mcp`; over stdio, `server/discover` is an unknown method.
    #[default]
    HandshakeOnly,
    /// The 2026-07-28 wire only, stateless, on `/mcp`: every request must carry the `_meta`
    /// envelope and matching routing headers (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`,
    /// `Mcp-Param-*`), checked in the spec's order (`-32602`, `-32020`, `-32022`, all `400`);
    /// `server/discover` answers; an unknown method is `404` `-32601`; an unknown resource is
    /// `400` `-32602`. A request without the envelope gets `400` `-32022`; `GET /sse` is `404`.
    /// Over stdio, `initialize` gets `-32022`. Every list may change (`listChanged: true`):
    /// `subscriptions/listen` is served — over HTTP an event stream with the acknowledgement,
    /// then what [`TestServer::notify`] sends; over stdio the acknowledgement and, with
    /// [`Fault::NotifyAfterInitialized`], a `notifications/resources/list_changed`. Cache hints:
    /// [`TestServerBuilder::cache_hints`].
    ModernOnly,
    /// Legacy HTTP+SSE only: `/mcp` answers `404`.
    LegacySseOnly,
    /// Both eras, told apart by the request (as the Python SDK 2.x does): over HTTP a POST to
    /// `/mcp` whose `MCP-Protocol-Version` is 2026-07-28 is the modern wire, anything else the
    /// handshake; over stdio the first request fixes the era for the process.
    Both,
}

/// A `notifications/cancelled` the server received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cancellation {
    /// The `requestId` it named, if it was a number or a string.
    pub request_id: Option<RequestId>,
    /// The `reason` it gave.
    pub reason: Option<String>,
}

/// A client's answer to a request the server sent ([`Fault::PingClient`],
/// [`Fault::RequestClient`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ClientAnswer {
    /// The id of the answer (`None` for `"id": null`).
    pub id: Option<RequestId>,
    /// The method of the server's request it answers, if the id matched one.
    pub method: Option<String>,
    /// The result, or the error's code and message.
    pub result: Result<Value, (i64, String)>,
}

/// A snapshot of what a server has seen ([`TestServer::stats`]).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Stats {
    /// JSON-RPC requests and notifications received, per method.
    pub requests: BTreeMap<String, u64>,
    /// `POST`s received (whatever their fate).
    pub posts: u64,
    /// Event streams accepted (`GET /sse` answered with `200`).
    pub sse_connections: u64,
    /// Streamable HTTP sessions started (`initialize` posted to `/mcp`).
    pub mcp_sessions: u64,
    /// Sessions open now: event streams, and Streamable HTTP sessions not yet deleted.
    pub open_sessions: usize,
    /// Sessions that have ended (an event stream closed by the client, a fault, or shutdown;
    /// a Streamable HTTP session deleted).
    pub closed_sessions: u64,
    /// TCP connections accepted.
    pub http_connections: u64,
    /// TCP connections open now.
    pub open_connections: usize,
    /// The most TCP connections open at the same time.
    pub max_concurrent_connections: usize,
    /// The most JSON-RPC requests in flight at the same time (received, not yet answered).
    pub in_flight_max: usize,
    /// `notifications/cancelled` received, in order.
    pub cancelled: Vec<Cancellation>,
    /// Successful answers to the server's `ping` requests.
    pub client_pings_answered: u64,
    /// Every answer the client sent to a server request, in order.
    pub client_answers: Vec<ClientAnswer>,
    /// The headers (lowercase names) of the last `POST /mcp` carrying each method.
    pub last_headers: BTreeMap<String, BTreeMap<String, String>>,
    /// The `capabilities` of the client's last `initialize` (HTTP transports).
    pub client_capabilities: Option<Value>,
    /// `subscriptions/listen` streams open now (the modern wire over HTTP).
    pub open_listens: usize,
    /// The acknowledged `notifications` filter of every `subscriptions/listen` stream opened
    /// (the modern wire over HTTP), in order.
    pub listen_filters: Vec<Value>,
    /// `GET`s carrying `Last-Event-ID` (a client resuming an event stream), on any path.
    pub resumptions: u64,
}

impl Stats {
    /// How many messages with this method were received.
    pub fn count(&self, method: &str) -> u64 {
        self.requests.get(method).copied().unwrap_or(0)
    }
}

/// A gauge of work in flight, which several servers can share ([`TestServerBuilder::gauge`]).
///
/// A server increments it when it receives a JSON-RPC request (not a notification) and
/// decrements it when the response has been written to the event stream, or dropped (the session
/// ended, the client cancelled a request the server never answers). [`Gauge::max`] is then the
/// most requests that were ever in flight at once across those servers.
#[derive(Debug, Default)]
pub struct Gauge {
    current: AtomicUsize,
    max: AtomicUsize,
}

impl Gauge {
    /// A new gauge at zero.
    pub fn new() -> Arc<Gauge> {
        Arc::new(Gauge::default())
    }

    /// The value now.
    pub fn current(&self) -> usize {
        self.current.load(Ordering::SeqCst)
    }

    /// The highest value so far.
    pub fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }

    fn enter(&self) {
        let now = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
    }

    fn leave(&self) {
        // Saturating: enter and leave are paired by `InFlight`, but never wrap around.
        let _ = self.current.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }
}

/// Holds a count on some gauges until dropped.
struct InFlight(Vec<Arc<Gauge>>);

impl InFlight {
    fn enter(gauges: Vec<Arc<Gauge>>) -> InFlight {
        for g in &gauges {
            g.enter();
        }
        InFlight(gauges)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        for g in &self.0 {
            g.leave();
        }
    }
}

type ToolHandler = Arc<dyn Fn(&Value) -> Result<CallToolResult, String> + Send + Sync>;

/// What the server offers and how it misbehaves; made by [`TestServerBuilder`].
#[derive(Clone)]
struct Spec {
    name: String,
    version: String,
    instructions: Option<String>,
    resources: Vec<Resource>,
    contents: HashMap<String, Vec<ResourceContents>>,
    templates: Vec<ResourceTemplate>,
    tools: Vec<Tool>,
    handlers: HashMap<String, ToolHandler>,
    /// Each prompt and the text of its one message, with `{arg}` filled in by `prompts/get`.
    prompts: Vec<(Prompt, String)>,
    page_size: Option<usize>,
    faults: Vec<Fault>,
    mode: ProtocolMode,
    bind: Option<SocketAddr>,
    /// The modern wire's cache hints (`ttlMs`, `cacheScope`) on cacheable results.
    cache_hints: Option<(u64, String)>,
}

impl fmt::Debug for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spec")
            .field("name", &self.name)
            .field("resources", &self.resources.len())
            .field("templates", &self.templates.len())
            .field("tools", &self.tools.iter().map(|t| &t.name).collect::<Vec<_>>())
            .field("page_size", &self.page_size)
            .field("faults", &self.faults)
            .finish()
    }
}

impl Spec {
    fn has(&self, fault: &Fault) -> bool {
        self.faults.contains(fault)
    }

    fn method_fault(&self, method: &str, pick: impl Fn(&Fault) -> Option<&String>) -> bool {
        self.faults.iter().any(|f| pick(f).is_some_and(|m| m == method))
    }

    /// The tool whose calls ask the client first ([`Fault::AskClient`]), if any.
    fn asking_tool(&self) -> Option<&str> {
        self.faults.iter().find_map(|f| if let Fault::AskClient(t) = f { Some(t.as_str()) } else { None })
    }

    /// Whether this request is a call of the asking tool.
    fn asks(&self, method: &str, params: Option<&serde_json::value::RawValue>) -> bool {
        method == "tools/call" && self.asking_tool().is_some_and(|t| ask::calls(t, params))
    }

    fn never_answers(&self, method: &str) -> bool {
        self.method_fault(method, |f| if let Fault::NeverAnswer(m) = f { Some(m) } else { None })
    }

    fn malformed_before(&self, method: &str) -> bool {
        self.method_fault(method, |f| if let Fault::MalformedEvent(m) = f { Some(m) } else { None })
    }

    fn closes_on(&self, method: &str) -> bool {
        self.method_fault(method, |f| if let Fault::CloseStreamOn(m) = f { Some(m) } else { None })
    }

    fn slow_accept(&self, method: &str) -> Option<Duration> {
        self.faults.iter().find_map(|f| match f {
            Fault::SlowAccept(m, d) if m == method => Some(*d),
            _ => None,
        })
    }

    fn endless_pages(&self) -> Option<usize> {
        self.faults.iter().find_map(|f| if let Fault::EndlessPages(n) = f { Some(*n) } else { None })
    }

    fn delay_for(&self, method: &str) -> Option<Duration> {
        self.faults.iter().find_map(|f| match f {
            Fault::Delay(m, d) if m == method => Some(*d),
            _ => None,
        })
    }

    fn post_status(&self) -> Option<u16> {
        self.faults.iter().find_map(|f| if let Fault::PostStatus(s) = f { Some(*s) } else { None })
    }

    fn oversized(&self) -> Option<usize> {
        self.faults.iter().find_map(|f| if let Fault::OversizedEvent(n) = f { Some(*n) } else { None })
    }

    fn keep_alive(&self) -> Option<Duration> {
        self.faults.iter().find_map(|f| if let Fault::KeepAlive(d) = f { Some(*d) } else { None })
    }

    /// How many replies to `method` [`Fault::BreakReply`] / [`Fault::TruncateReply`] break,
    /// and whether they are cut-off JSON (`true`) rather than event streams.
    fn breaks(&self, method: &str) -> Option<(u32, bool)> {
        self.faults.iter().find_map(|f| match f {
            Fault::BreakReply(m, n) if m == method => Some((*n, false)),
            Fault::TruncateReply(m, n) if m == method => Some((*n, true)),
            _ => None,
        })
    }

    /// The `requiredCapabilities` JSON [`Fault::RequireCapabilities`] answers `method` with.
    fn required_capabilities(&self, method: &str) -> Option<&str> {
        self.faults.iter().find_map(|f| match f {
            Fault::RequireCapabilities(m, c) if m == method => Some(c.as_str()),
            _ => None,
        })
    }

    fn slow_stream(&self) -> Option<Duration> {
        self.faults.iter().find_map(|f| if let Fault::SlowStream(d) = f { Some(*d) } else { None })
    }
}

/// Describes a [`TestServer`]; [`start`](TestServerBuilder::start) runs it.
#[derive(Debug)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct TestServerBuilder {
    spec: Spec,
    gauges: Vec<Arc<Gauge>>,
    events: Vec<File>,
}

impl TestServerBuilder {
    /// Which protocols and transports the server speaks (default
    /// [`ProtocolMode::HandshakeOnly`]).
    pub fn protocol_mode(mut self, mode: ProtocolMode) -> Self {
        self.spec.mode = mode;
        self
    }

    /// The `serverInfo.name` (default `test-server`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.spec.name = name.into();
        self
    }

    /// The `serverInfo.version` (default: this crate's version).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.spec.version = version.into();
        self
    }

    /// The `instructions` of the `initialize` result.
    pub fn instructions(mut self, instructions: impl Into<String>) -> Self {
        self.spec.instructions = Some(instructions.into());
        self
    }

    /// A resource with text contents.
    pub fn text_resource(self, uri: &str, name: &str, mime_type: &str, text: &str) -> Self {
        let contents = ResourceContents {
            uri: uri.to_string(),
            mime_type: Some(mime_type.to_string()),
            body: ContentsBody::Text(text.to_string()),
            meta: None,
        };
        self.resource(plain_resource(uri, name, mime_type), Some(vec![contents]))
    }

    /// A resource with binary contents (sent base64-encoded, as MCP wants).
    pub fn blob_resource(self, uri: &str, name: &str, mime_type: &str, bytes: &[u8]) -> Self {
        let contents = ResourceContents {
            uri: uri.to_string(),
            mime_type: Some(mime_type.to_string()),
            body: ContentsBody::Blob(base64::encode(bytes)),
            meta: None,
        };
        self.resource(plain_resource(uri, name, mime_type), Some(vec![contents]))
    }

    /// A resource with every field under your control, and the contents `resources/read`
    /// returns for its URI (`None`: listed, but reading it answers "Resource not found").
    /// A later resource with the same URI replaces the contents, not the listing.
    pub fn resource(mut self, resource: Resource, contents: Option<Vec<ResourceContents>>) -> Self {
        match contents {
            Some(c) => {
                self.spec.contents.insert(resource.uri.clone(), c);
            }
            None => {
                self.spec.contents.remove(&resource.uri);
            }
        }
        self.spec.resources.push(resource);
        self
    }

    /// `n` text resources `test://resource/{i}` for `i` in `0..n`: name `resource-{i}`,
    /// MIME type `text/plain`, text `content of resource {i}`.
    pub fn with_sample_resources(mut self, n: usize) -> Self {
        for i in 0..n {
            self = self.text_resource(
                &format!("test://resource/{i}"),
                &format!("resource-{i}"),
                "text/plain",
                &format!("content of resource {i}"),
            );
        }
        self
    }

    /// A resource template.
    pub fn template(mut self, template: ResourceTemplate) -> Self {
        self.spec.templates.push(template);
        self
    }

    /// A tool and the handler `tools/call` runs with its `arguments` (`{}` when absent).
    /// `Err(message)` becomes a result with `isError: true` and the message as text; a panic
    /// becomes the same, with the panic's message.
    pub fn tool<F>(mut self, tool: Tool, handler: F) -> Self
    where
        F: Fn(&Value) -> Result<CallToolResult, String> + Send + Sync + 'static,
    {
        self.spec.handlers.insert(tool.name.clone(), Arc::new(handler));
        self.spec.tools.retain(|t| t.name != tool.name);
        self.spec.tools.push(tool);
        self
    }

    /// A tool with only a name, a description and an input schema of `{"type": "object"}`.
    pub fn simple_tool<F>(self, name: &str, description: &str, handler: F) -> Self
    where
        F: Fn(&Value) -> Result<CallToolResult, String> + Send + Sync + 'static,
    {
        let tool = Tool {
            name: name.to_string(),
            title: None,
            description: Some(description.to_string()),
            input_schema: serde_json::json!({"type": "object"}),
            output_schema: None,
            annotations: None,
            icons: None,
            meta: None,
        };
        self.tool(tool, handler)
    }

    /// A prompt whose one user message is `text`, each `{arg}` in it replaced by the argument
    /// of that name (each placeholder is a required argument).
    pub fn prompt(mut self, name: &str, text: &str) -> Self {
        let arguments = text
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(arg, _)| arg))
            .map(|arg| PromptArgument { name: arg.to_string(), title: None, description: None, required: Some(true) })
            .collect();
        let prompt = Prompt {
            name: name.to_string(),
            title: None,
            description: Some(format!("the prompt {name}")),
            arguments,
            icons: None,
            meta: None,
        };
        self.spec.prompts.retain(|(p, _)| p.name != name);
        self.spec.prompts.push((prompt, text.to_string()));
        self
    }

    /// A resource template with only a URI template and a name. `resources/read` of a URI that
    /// no resource lists but this template matches answers one text item `<server name>:<uri>`.
    pub fn simple_template(self, uri_template: &str, name: &str) -> Self {
        self.template(ResourceTemplate {
            uri_template: uri_template.to_string(),
            name: name.to_string(),
            title: None,
            description: None,
            mime_type: Some("text/plain".into()),
            annotations: None,
            icons: None,
            meta: None,
        })
    }

    /// Listens on this address instead of `127.0.0.1:0`, e.g. the address of a server that was
    /// shut down, to bring it back where clients knew it.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.spec.bind = Some(addr);
        self
    }

    /// On the 2026-07-28 wire, every cacheable result (`server/discover`, the four lists,
    /// `resources/read`) carries the cache hints `ttlMs` and `cacheScope` (`"public"` or
    /// `"private"`). Without this, list and read results carry none and `server/discover`
    /// says `ttlMs: 0, cacheScope: "private"`.
    pub fn cache_hints(mut self, ttl_ms: u64, scope: &str) -> Self {
        self.spec.cache_hints = Some((ttl_ms, scope.to_string()));
        self
    }

    /// Pages `resources/list`, `resources/templates/list` and `tools/list` with at most `n`
    /// items each (at least 1), linked by `nextCursor`. Default: everything in one page.
    pub fn page_size(mut self, n: usize) -> Self {
        self.spec.page_size = Some(n.max(1));
        self
    }

    /// Adds a fault. May be called several times.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.spec.faults.push(fault);
        self
    }

    /// Also counts requests in flight on this gauge, which other servers may share.
    pub fn gauge(mut self, gauge: Arc<Gauge>) -> Self {
        self.gauges.push(gauge);
        self
    }

    /// Binds `127.0.0.1:0` and starts serving (with [`Fault::RefuseConnections`], binds and
    /// closes the port instead).
    ///
    /// # Errors
    ///
    /// When the port cannot be bound or the accept thread cannot be started.
    pub fn start(self) -> io::Result<TestServer> {
        server::start(self.spec, self.gauges)
    }

    /// Over stdio: appends a line to `file` for each thing the server sees or does, as
    /// `<name> <event>`: `start <pid>`, `in <method>` (a request or notification received),
    /// `out <method>` (its answer written), `answer <method>` (the client's answer to a server
    /// request), `eof`, `closed`, `exit <status>`. Each line is one `write`, so servers of one
    /// test may share a file (opened for appending) and a test can read the order of events
    /// across processes. May be given several files. (Over HTTP, use [`TestServer::stats`] and [`gauge`](Self::gauge).)
    pub fn event_log(mut self, file: File) -> Self {
        self.events.push(file);
        self
    }

    /// Serves over stdio instead of a port: newline-delimited JSON-RPC read from `input`,
    /// answers and server messages written to `output` (one line each, flushed). Returns when
    /// the input ends (with [`Fault::IgnoreEndOfInput`]: never), when [`Fault::CloseStreamOn`]
    /// fires, or at once with [`Fault::ExitAtStart`]; the caller (a process's `main`) decides
    /// what the end means, e.g. exiting with a status. The `mcp-test-server` binary of this
    /// package is this over its stdin and stdout, configured by flags.
    ///
    /// # Errors
    ///
    /// When the writer thread cannot be started.
    pub fn serve_stdio(self, input: impl BufRead, output: impl Write + Send + 'static) -> io::Result<StdioEnd> {
        stdio::serve(&self.spec, self.events, input, output)
    }
}

fn plain_resource(uri: &str, name: &str, mime_type: &str) -> Resource {
    Resource {
        uri: uri.to_string(),
        name: name.to_string(),
        title: None,
        description: None,
        mime_type: Some(mime_type.to_string()),
        size: None,
        annotations: None,
        icons: None,
        meta: None,
    }
}

/// A tool result with one text item.
pub fn text_result(text: impl Into<String>) -> CallToolResult {
    CallToolResult {
        content: vec![Content::Text { text: text.into(), annotations: None }],
        structured_content: None,
        is_error: false,
        meta: None,
    }
}

/// A running MCP server on `127.0.0.1`. Stops on [`shutdown`](TestServer::shutdown) or drop.
pub struct TestServer {
    inner: server::Running,
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer").field("url", &self.url()).finish_non_exhaustive()
    }
}

impl TestServer {
    /// A builder with nothing offered and no faults.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder {
            spec: Spec {
                name: "test-server".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                instructions: None,
                resources: Vec::new(),
                contents: HashMap::new(),
                templates: Vec::new(),
                tools: Vec::new(),
                handlers: HashMap::new(),
                prompts: Vec::new(),
                page_size: None,
                faults: Vec::new(),
                mode: ProtocolMode::HandshakeOnly,
                bind: None,
                cache_hints: None,
            },
            gauges: Vec::new(),
            events: Vec::new(),
        }
    }

    /// The event-stream URL a client connects to: `http://127.0.0.1:PORT/sse`.
    pub fn url(&self) -> &str {
        self.inner.url()
    }

    /// The Streamable HTTP endpoint of the same server: `http://127.0.0.1:PORT/mcp` (see the
    /// module docs for what it does).
    pub fn mcp_url(&self) -> &str {
        self.inner.mcp_url()
    }

    /// The address the server listens on (or listened on, with [`Fault::RefuseConnections`]).
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr()
    }

    /// What the server has seen so far.
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// Polls [`stats`](TestServer::stats) until `pred` holds or `timeout` passes; returns whether
    /// it held. For asserting on things that happen on the server's threads.
    pub fn wait_until(&self, timeout: Duration, pred: impl Fn(&Stats) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if pred(&self.stats()) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends a notification (e.g. `notifications/resources/list_changed`) on every open session
    /// that has received its endpoint, and on every open `subscriptions/listen` stream whose
    /// filter asked for it (the modern wire: `toolsListChanged`, `promptsListChanged`,
    /// `resourcesListChanged`, or the `uri` of a `notifications/resources/updated` among its
    /// `resourceSubscriptions`; `_meta` gets the subscription id). Returns how many sessions
    /// and streams it was sent to.
    pub fn notify(&self, method: &str, params: Option<Value>) -> usize {
        self.inner.notify(method, params)
    }

    /// Ends every open event stream, as a server going away would; the server keeps accepting
    /// new ones. Returns how many it ended. `subscriptions/listen` streams end without their
    /// response (an unexpected drop, which a client may answer by listening again).
    pub fn close_streams(&self) -> usize {
        self.inner.close_streams()
    }

    /// Ends every open `subscriptions/listen` stream gracefully: the listen request's response
    /// (`{"resultType": "complete"}` with the subscription id), then the end of the stream.
    /// Returns how many it ended.
    pub fn end_listens(&self) -> usize {
        self.inner.end_listens()
    }

    /// Stops accepting, closes every connection and joins every thread. Returns within a bounded
    /// time (a fraction of a second) unless a tool handler is still running. Idempotent; drop
    /// calls it too.
    pub fn shutdown(&self) {
        self.inner.shutdown()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.inner.shutdown();
    }
}
