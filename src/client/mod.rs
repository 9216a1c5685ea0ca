//! [`Client`]: the public single-server API over a [`Session`] — connect, paged listings
//! within a budget, pipelined reads, tool calls, notifications, bounded close.
//!
//! This file: the client, its builder and connect, what it knows of the server, ping and
//! close. `listing.rs` pages listings within their budget, `batch.rs` sends many requests at
//! once (pipelined reads), `calls.rs` makes one request (a read, a prompt, a tool call),
//! `tasks.rs` drives a tool call the server runs as a task, `task_handle.rs` is
//! [`TaskHandle`], such a call as a program holds it.

mod batch;
mod calls;
mod health;
mod listing;
// A tool call run as a task, as a program holds it.
mod task_handle;
// Pushed task statuses (`notifications/tasks`) for the waits of one client.
mod task_watch;
// MCP Tasks on one connection: created tasks told from results, polling, input, cancel.
mod tasks;

pub use health::HealthCheck;

pub(crate) use calls::CallControl;
pub use task_handle::TaskHandle;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::ServerConfig;
#[cfg(doc)] // the docs of the builder and of `close` link to its variants
use crate::error::Error;
use crate::error::Result;
use crate::handlers::Handlers;
use crate::op::OpId;
use crate::protocol::InitializeResult;
use crate::protocol::modern::{self, ParamHeader};
use crate::schema::Schema;
use crate::session::Session;
use crate::session::detect::{self, Connected, Parts, Wire};
use crate::sse::DEFAULT_MAX_EVENT_BYTES;
use crate::transport::child::Processes;
use crate::transport::{Notification, NotificationHandler, deadline_in};

/// The most pages one listing may take before it is an error.
pub const DEFAULT_MAX_PAGES: usize = 10_000;

/// A session with one MCP server.
///
/// `Client` is `Send + Sync`: share it with `Arc` and make requests from many threads at once;
/// each waits only for its own answer. Every request has a deadline (the server's `timeout`);
/// a request that passes it is forgotten and the server is sent `notifications/cancelled`.
///
/// ```no_run
/// use mcp_orchestrator::{Client, ServerConfig};
///
/// let client = Client::connect(&ServerConfig::sse("db", "http://127.0.0.1:8000/sse"))?;
/// for resource in client.list_resources()? {
///     println!("{} {}", resource.uri, resource.name);
/// }
/// client.close();
/// # Ok::<(), mcp_orchestrator::Error>(())
/// ```
pub struct Client {
    session: Session,
    init: InitializeResult,
    wire: Wire,
    max_pages: usize,
    budget: ListingBudget,
    /// On the modern wire over HTTP: each listed tool's `x-mcp-header` annotations (`None`
    /// until the tools were listed).
    tool_headers: Mutex<Option<HashMap<String, Vec<ParamHeader>>>>,
    /// What this client knows of each tool of its last listing (its resend hint, its compiled
    /// output schema). Emptied when the server says its tools changed (they are then unknown
    /// until listed again).
    known_tools: Arc<Mutex<HashMap<String, KnownTool>>>,
    /// Whether this client listens for changes (`subscriptions/listen`) at all.
    listens: bool,
    /// The deadline of a `tools/call`: the config's `tool_timeout`, else its `timeout`.
    tool_timeout: Duration,
    /// The last health check, and until when the last discover answer is fresh.
    health: Mutex<health::Health>,
    /// The task waits that want their task's pushed statuses (`notifications/tasks`).
    task_watch: Arc<task_watch::TaskWatch>,
    /// Over Streamable HTTP: whether the last gather found that overlapping the first pages of
    /// the listings pays, so that the next one starts them all at once
    /// ([`Client::start_first_pages`]).
    overlap_first_pages: std::sync::atomic::AtomicBool,
}

/// What a client remembers of one tool of its last listing.
#[derive(Clone)]
struct KnownTool {
    /// Annotated `readOnlyHint` or `idempotentHint`: a call whose reply is lost is sent again
    /// only then.
    idempotent: bool,
    /// Its `outputSchema`, compiled; shared, and kept across listings while the tool declares
    /// the same schema.
    output: Option<Arc<OutputSchema>>,
    /// Whether a call may or must ask to run as a task (2025-11-25, `execution.taskSupport`).
    task_support: crate::protocol::tasks::TaskSupport,
}

/// A tool's `outputSchema` as declared, and compiled (`None`: the validator cannot read it, as
/// was logged when it was listed; its results are not checked).
struct OutputSchema {
    declared: serde_json::Value,
    compiled: Option<Schema>,
}

/// What one paged listing may gather before it fails with [`Error::Limit`].
#[derive(Clone, Copy, Debug)]
struct ListingBudget {
    bytes: usize,
    items: usize,
}

/// Options for [`Client::builder`].
pub struct ClientBuilder<'a> {
    config: &'a ServerConfig,
    op: Option<OpId>,
    on_notification: Option<NotificationHandler>,
    max_event_bytes: usize,
    max_pages: usize,
    budget: ListingBudget,
    processes: Option<Arc<Processes>>,
    handlers: Handlers,
    authorization_handler: Option<Arc<dyn crate::auth::AuthorizationHandler>>,
    authorizer: Option<crate::auth::Authorizer>,
    listen: bool,
}

impl<'a> ClientBuilder<'a> {
    /// Answers the server's elicitation, sampling and roots requests with `handlers`; the
    /// client declares a capability in `initialize` for each kind registered (see [`Handlers`]).
    pub fn handlers(mut self, handlers: Handlers) -> Self {
        self.handlers = handlers;
        self
    }

    /// The person's step of the OAuth authorization code flow (a server with `auth: {type:
    /// oauth}`): shows the authorization URL and returns the redirect it received.
    pub fn authorization_handler(mut self, handler: Arc<dyn crate::auth::AuthorizationHandler>) -> Self {
        self.authorization_handler = Some(handler);
        self
    }

    /// The server's authorizer, kept by the orchestrator across reconnects (its tokens and its
    /// flow in progress), instead of one made from the config's `auth` block.
    pub(crate) fn authorizer(mut self, authorizer: Option<crate::auth::Authorizer>) -> Self {
        self.authorizer = authorizer;
        self
    }

    /// Whether a notification handler also opens `subscriptions/listen` on a 2026-07-28 server
    /// (default true; the orchestrator follows `listen_for_changes`).
    pub(crate) fn listen(mut self, listen: bool) -> Self {
        self.listen = listen;
        self
    }

    /// Records a stdio server's process in `processes`, so that the orchestrator can end it if
    /// the call that wanted it fails (fail-fast) or is closed while this connect is in flight.
    pub(crate) fn processes(mut self, processes: Arc<Processes>) -> Self {
        self.processes = Some(processes);
        self
    }

    /// The operation id of the connect call (and of the session's own log records).
    pub fn op(mut self, op: OpId) -> Self {
        self.op = Some(op);
        self
    }

    /// Receives every notification the server sends, with the server's name. It runs on the
    /// session's reader thread: keep it short, and do not call this client from it.
    pub fn on_notification(mut self, f: impl Fn(&str, &Notification) + Send + Sync + 'static) -> Self {
        self.on_notification = Some(Arc::new(f));
        self
    }

    /// The largest server event accepted (default 16 MiB); a larger one ends the session with
    /// [`Error::Limit`].
    pub fn max_event_bytes(mut self, bytes: usize) -> Self {
        self.max_event_bytes = bytes;
        self
    }

    /// The most pages one listing may take (default 10 000).
    pub fn max_pages(mut self, pages: usize) -> Self {
        self.max_pages = pages;
        self
    }

    /// The most bytes (of result JSON) and items one paged listing may gather before it fails
    /// with [`Error::Limit`] (default: the server config's `max_listing_bytes` and
    /// `max_listing_items`). Each is at least 1.
    pub fn listing_budget(mut self, bytes: usize, items: usize) -> Self {
        self.budget = ListingBudget { bytes: bytes.max(1), items: items.max(1) };
        self
    }

    /// Connects and performs the handshake (or, on the 2026-07-28 wire, `server/discover`),
    /// all within the server's `timeout`. With `protocol: auto` the protocol and, for
    /// `transport: http`, the transport are detected once per endpoint and remembered.
    pub fn connect(self) -> Result<Client> {
        let op = self.op.unwrap_or_default();
        let config = self.config;
        // Change notifications are listened for (2026-07-28) only when somebody receives them.
        let listens = self.listen && self.on_notification.is_some();
        let deadline = deadline_in(config.timeout);
        log::debug!("op={op} server={}: connecting over {}", config.name, config.transport.kind());
        let known_tools: Arc<Mutex<HashMap<String, KnownTool>>> = Arc::default();
        let forget = Arc::downgrade(&known_tools);
        let program = self.on_notification;
        let task_watch: Arc<task_watch::TaskWatch> = Arc::default();
        let pushes = Arc::clone(&task_watch);
        let on_notification: NotificationHandler = Arc::new(move |server: &str, n: &Notification| {
            if n.method == "notifications/tools/list_changed"
                && let Some(map) = forget.upgrade()
            {
                map.lock().unwrap_or_else(|e| e.into_inner()).clear();
            }
            if n.method == task_watch::METHOD {
                pushes.deliver(server, n);
            }
            if let Some(f) = &program {
                f(server, n);
            }
        });
        let parts = Parts {
            op: &op,
            deadline,
            on_notification: Some(on_notification),
            max_event_bytes: self.max_event_bytes,
            processes: self.processes.as_deref(),
            authorizer: self.authorizer.or_else(|| crate::auth::for_server(config, self.authorization_handler)),
            handlers: self.handlers,
        };
        let Connected { session, init, wire, discover_ttl } = detect::connect(config, &parts)?;
        if let Some(level) = config.log_level
            && session.modern_version().is_none()
        {
            set_log_level(&session, &init, level, &op, deadline);
        }
        if listens {
            session.listen(&init.capabilities, &op);
        }
        log::info!(
            "op={op} server={}: connected to {} {} (protocol {}, {})",
            session.name,
            init.server_info.name,
            init.server_info.version,
            init.protocol_version,
            wire.name()
        );
        Ok(Client {
            session,
            init,
            wire,
            max_pages: self.max_pages,
            budget: self.budget,
            tool_headers: Mutex::new(None),
            known_tools,
            listens,
            tool_timeout: config.call_timeout(),
            health: health::Health::after_connect(discover_ttl),
            task_watch,
            overlap_first_pages: std::sync::atomic::AtomicBool::new(false),
        })
    }
}

/// On the handshake era, after `initialize`: `logging/setLevel`, when the server has the
/// `logging` capability (the 2026-07-28 wire puts the level in each request's `_meta`
/// instead). A server that refuses it is logged, not an error of the connect.
fn set_log_level(
    session: &Session,
    init: &InitializeResult,
    level: crate::protocol::LoggingLevel,
    op: &OpId,
    deadline: std::time::Instant,
) {
    let name = &session.name;
    if init.capabilities.logging.is_none() {
        log::debug!("op={op} server={name}: `log_level` {level} not sent: the server has no logging capability");
        return;
    }
    let params = serde_json::json!({ "level": level.as_str() });
    let sent = session
        .start(op, "logging/setLevel", Some(&params), deadline)
        .and_then(|call| session.finish::<serde_json::Value>(call, deadline));
    match sent {
        Ok(_) => log::debug!("op={op} server={name}: log level set to {level}"),
        Err(e) => log::warn!("op={op} server={name}: logging/setLevel {level} failed: {e}"),
    }
}

impl Client {
    /// Connects to the server the config describes and performs the MCP handshake.
    pub fn connect(config: &ServerConfig) -> Result<Client> {
        Client::builder(config).connect()
    }

    /// A builder for a client with options (operation id, notification callback, limits).
    pub fn builder(config: &ServerConfig) -> ClientBuilder<'_> {
        ClientBuilder {
            config,
            op: None,
            on_notification: None,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            max_pages: DEFAULT_MAX_PAGES,
            budget: ListingBudget { bytes: config.max_listing_bytes.max(1), items: config.max_listing_items.max(1) },
            processes: None,
            handlers: Handlers::default(),
            authorization_handler: None,
            authorizer: None,
            listen: true,
        }
    }

    /// The server's name in the config.
    pub fn name(&self) -> &str {
        &self.session.name
    }

    /// What the server answered to `initialize` (on the 2026-07-28 wire: to `server/discover`):
    /// its version, capabilities and identity.
    pub fn server(&self) -> &InitializeResult {
        &self.init
    }

    /// The protocol version agreed with the server (negotiated in `initialize`, or detected
    /// with `server/discover`: `2026-07-28`).
    pub fn protocol_version(&self) -> &str {
        &self.init.protocol_version
    }

    /// The transport in use, as the config spells it: `streamable_http`, `sse` or `stdio`
    /// (what `transport: http` detected).
    pub fn transport(&self) -> &'static str {
        self.wire.name()
    }

    /// Whether the session speaks the stateless 2026-07-28 wire.
    pub fn is_modern(&self) -> bool {
        self.session.modern_version().is_some()
    }

    /// Ends the session: pending requests fail at once with a "connection closed" error, the
    /// reader thread is stopped and joined. Idempotent; bounded in time even when the server
    /// hangs. Later calls fail with [`Error::Closed`].
    pub fn close(&self) {
        self.session.close();
    }

    /// Whether the session is gone (closed, or the connection ended).
    pub fn is_closed(&self) -> bool {
        self.session.is_closed()
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.session.timeout
    }

    /// The deadline a `tools/call` gets (`tool_timeout`, else `timeout`).
    pub(crate) fn tool_timeout(&self) -> Duration {
        self.tool_timeout
    }

    /// Starts collecting the cache hints (`ttlMs`, `cacheScope`) of `op`'s list and read
    /// results (the 2026-07-28 wire; see `session/hints.rs`).
    pub(crate) fn collect_cache_hints(&self, op: &OpId) {
        self.session.collect_hints(op);
    }

    /// On the 2026-07-28 wire, with a notification callback: asks for
    /// `notifications/resources/updated` of these URIs through `subscriptions/listen`.
    pub(crate) fn watch_resources(&self, uris: Vec<String>, op: &OpId) {
        if self.listens {
            self.session.watch_resources(uris, op);
        }
    }

    /// The cache hints of `op`'s results since [`Client::collect_cache_hints`]; stops collecting.
    pub(crate) fn take_cache_hints(&self, op: &OpId) -> modern::CacheHints {
        self.session.take_hints(op)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.session.close();
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("name", &self.session.name)
            .field("server", &self.init.server_info.name)
            .field("protocol_version", &self.init.protocol_version)
            .finish_non_exhaustive()
    }
}
