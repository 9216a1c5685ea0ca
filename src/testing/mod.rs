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
//! capabilities `resources {subscribe: false, listChanged: true}`, `tools {listChanged: false}` when it has tools or [`Fault::EmptyToolLists`]),
//! `notifications/initialized`, `ping`, `resources/list`, `resources/templates/list`,
//! `resources/read` (an unknown URI → error `-32002` "Resource not found"), `tools/list`,
//! `tools/call` (an unknown tool → `-32602`; a handler's `Err(message)` → a result with
//! `isError: true` and the message as text), `notifications/cancelled` (recorded in
//! [`Stats::cancelled`]), and for [task tools](TestServerBuilder::task_tool) `tasks/get`,
//! `tasks/cancel` and, by era, `tasks/update` or `tasks/result` (see [`TaskBehaviour`]). Any other request → `-32601`. Over the legacy event stream and stdio,
//! a request whose params carry `_meta.progressToken` gets three `notifications/progress` with
//! that token (`progress` 1, 2, 3 of `total: 3`, `message: "working"`) before its answer. The three lists are paged when a
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
mod builder;
mod fault;
use crate::serve::http;
mod mcp;
mod server;
mod stats;
mod stdio;
mod tasks;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub use auth::{AuthServer, AuthServerBuilder, Iss, MetadataAt, PrmAt, Recorded};
pub use builder::{ProtocolMode, TestServerBuilder, text_result};
pub use fault::Fault;
pub use stats::{Cancellation, ClientAnswer, Gauge, Stats};
pub use stdio::StdioEnd;
pub use tasks::TaskBehaviour;

use builder::plain_resource;
use stats::InFlight;

use crate::{CallToolResult, Prompt, Resource, ResourceContents, ResourceTemplate, Tool};

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
    /// `serverInfo.icons`, sent as given (unchecked: a test may send unsafe ones).
    icons: Option<Vec<crate::Icon>>,
    /// Advertise the `logging` capability and answer `logging/setLevel`.
    logging: bool,
    /// `tools/list` requests answered so far (shared by the clones), for
    /// [`Fault::EmptyToolLists`].
    tool_lists: Arc<std::sync::atomic::AtomicU64>,
    /// The tools that run as tasks, and how.
    task_tools: HashMap<String, TaskBehaviour>,
    /// The `pollIntervalMs` the tasks suggest.
    task_poll_interval: Duration,
    /// The tasks made so far (shared by the server's threads).
    tasks: Arc<tasks::Table>,
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
                icons: None,
                logging: false,
                tool_lists: Arc::default(),
                task_tools: HashMap::new(),
                task_poll_interval: Duration::from_millis(20),
                tasks: Arc::default(),
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
    /// `resourcesListChanged`, the `uri` of a `notifications/resources/updated` among its
    /// `resourceSubscriptions`, or the `taskId` of a `notifications/tasks` among its `taskIds`; `_meta` gets the subscription id). Returns how many sessions
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
