//! [`Client`]: the public single-server API over a [`Session`] — connect, paged listings
//! within a budget, pipelined reads, tool calls, notifications, bounded close.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::json;

use crate::config::ServerConfig;
use crate::error::{Error, Result};
use crate::handlers::Handlers;
use crate::op::OpId;
use crate::protocol::modern::{self, ParamHeader};
use crate::protocol::{
    CallToolResult, GetPromptResult, InitializeResult, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, Prompt, ReadResourceResult, Resource, ResourceContents, ResourceTemplate,
    Tool,
};
use crate::schema::Schema;
use crate::session::detect::{self, Connected, Parts, Wire};
use crate::session::{Call, RequestOptions, Session};
use crate::sse::DEFAULT_MAX_EVENT_BYTES;
use crate::transport::child::Processes;
use crate::transport::{Notification, NotificationHandler, deadline_in};

/// The most pages one listing may take before it is an error.
pub const DEFAULT_MAX_PAGES: usize = 10_000;
/// How many requests are in flight at once over a transport that cannot pipeline (Streamable
/// HTTP: one connection, and one thread, per request in flight). 100 reads of 5 ms each take
/// 4 rounds, about 20 ms (`benches/reads.rs`); 8 took 13 rounds, about 65 ms.
const OVERLAPPED_READS: usize = 32;
/// How many POSTs are sent at once over a transport whose send waits for the server's
/// acknowledgement (legacy SSE: a `202` per message), each over its own kept-alive connection.
/// The answers come on the event stream, so a batch of requests costs about
/// `len / POST_CONNECTIONS` POST round trips, not `len`.
const POST_CONNECTIONS: usize = 4;
/// Over legacy SSE a batch this small is sent from the caller's thread alone: its requests
/// are still all in flight before the first answer is awaited (only the 202s are waited for
/// one after the other), and starting threads and connections for it cost more CPU than the
/// few acknowledgements take (a quarter of a 50-server gather's CPU; see BENCHMARKS.md).
const SMALL_BATCH: usize = 8;

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

/// Everything one server lists (what a gather needs besides the resources' contents).
#[derive(Debug, Default)]
pub(crate) struct Listings {
    pub resources: Vec<Resource>,
    pub templates: Vec<ResourceTemplate>,
    pub tools: Vec<Tool>,
    pub prompts: Vec<Prompt>,
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
        let on_notification: NotificationHandler = Arc::new(move |server: &str, n: &Notification| {
            if n.method == "notifications/tools/list_changed"
                && let Some(map) = forget.upgrade()
            {
                map.lock().unwrap_or_else(|e| e.into_inner()).clear();
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
        let Connected { session, init, wire } = detect::connect(config, &parts)?;
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
        })
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

    /// Every resource the server lists, following `nextCursor` to the last page.
    pub fn list_resources(&self) -> Result<Vec<Resource>> {
        self.list_resources_in(&OpId::new(), self.session.deadline())
    }

    /// Every resource template, following `nextCursor`.
    pub fn list_resource_templates(&self) -> Result<Vec<ResourceTemplate>> {
        self.list_resource_templates_in(&OpId::new(), self.session.deadline())
    }

    /// Every tool, following `nextCursor`.
    pub fn list_tools(&self) -> Result<Vec<Tool>> {
        self.list_tools_in(&OpId::new(), self.session.deadline())
    }

    /// Every prompt, following `nextCursor`.
    pub fn list_prompts(&self) -> Result<Vec<Prompt>> {
        self.list_prompts_in(&OpId::new(), self.session.deadline())
    }

    /// A prompt, filled in with string arguments (`prompts/get`).
    pub fn get_prompt(
        &self,
        name: &str,
        arguments: &std::collections::BTreeMap<String, String>,
    ) -> Result<GetPromptResult> {
        self.get_prompt_in(&OpId::new(), name, arguments, self.session.deadline())
    }

    /// The contents of one resource.
    pub fn read_resource(&self, uri: &str) -> Result<Vec<ResourceContents>> {
        self.read_resource_in(&OpId::new(), uri, self.session.deadline())
    }

    pub(crate) fn read_resource_in(&self, op: &OpId, uri: &str, deadline: Instant) -> Result<Vec<ResourceContents>> {
        let params = json!({ "uri": uri });
        let raw = self.session.request_with_input(op, "resources/read", params, deadline, &Default::default())?;
        self.session.decode::<ReadResourceResult>(op, "resources/read", &raw).map(|r| r.contents)
    }

    pub(crate) fn list_prompts_in(&self, op: &OpId, deadline: Instant) -> Result<Vec<Prompt>> {
        self.list_all(op, "prompts/list", deadline, |p: ListPromptsResult| (p.prompts, p.next_cursor))
    }

    pub(crate) fn get_prompt_in(
        &self,
        op: &OpId,
        name: &str,
        arguments: &std::collections::BTreeMap<String, String>,
        deadline: Instant,
    ) -> Result<GetPromptResult> {
        let params = json!({ "name": name, "arguments": arguments });
        let call = self.session.start(op, "prompts/get", Some(&params), deadline)?;
        self.session.finish(call, deadline)
    }

    /// The contents of many resources, pipelined: every request is sent before the first answer
    /// is awaited, so the whole costs about one round trip (over legacy SSE the POSTs go out
    /// several at once, over kept-alive connections; over Streamable HTTP up to 32 requests are
    /// in flight, each on its own connection). Results are in the order of `uris`.
    pub fn read_resources(&self, uris: &[&str]) -> Vec<Result<Vec<ResourceContents>>> {
        self.read_resources_in(&OpId::new(), uris, self.session.deadline())
    }

    /// Calls a tool with JSON arguments (an object). The result is never cached.
    ///
    /// When the reply is lost (over Streamable HTTP, a reply stream that broke and could not be
    /// resumed), the call is sent again, once, with a new id, only if the tool is annotated
    /// `readOnlyHint` or `idempotentHint` in this client's last [`list_tools`](Client::list_tools)
    /// (and the server has not said since that its tools changed); otherwise the error is [`Error::ConnectionClosed`] saying the call may have run.
    /// (Listings and reads whose reply is lost are always sent again once.)
    ///
    /// When the tool declared an `outputSchema` in this client's last `list_tools` (or the
    /// orchestrator's gather through it), the result's `structuredContent` is checked against
    /// it ([`Schema`](crate::Schema)); a result that does not match, or has no
    /// `structuredContent`, is [`Error::InvalidOutput`] (kind [`ErrorKind::Schema`](crate::ErrorKind::Schema)),
    /// naming the place in the result. A result with `isError: true` is not checked, nor one of a
    /// tool never listed, nor one whose schema this crate cannot read (a warning says so when the
    /// tool is listed).
    pub fn call_tool(&self, name: &str, arguments: serde_json::Value) -> Result<CallToolResult> {
        self.call_tool_in(&OpId::new(), name, arguments, self.session.deadline())
    }

    /// Checks the server is alive (`ping`; on the 2026-07-28 wire, which has none,
    /// `server/discover`).
    pub fn ping(&self) -> Result<()> {
        let op = OpId::new();
        let deadline = self.session.deadline();
        if self.is_modern() {
            return self.session.discover(&op, deadline).map(drop);
        }
        let call = self.session.start::<()>(&op, "ping", None, deadline)?;
        self.session.finish::<serde_json::Value>(call, deadline).map(drop)
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

    pub(crate) fn list_resources_in(&self, op: &OpId, deadline: Instant) -> Result<Vec<Resource>> {
        self.list_all(op, "resources/list", deadline, |p: ListResourcesResult| (p.resources, p.next_cursor))
    }

    pub(crate) fn list_resource_templates_in(&self, op: &OpId, deadline: Instant) -> Result<Vec<ResourceTemplate>> {
        self.list_all(op, "resources/templates/list", deadline, |p: ListResourceTemplatesResult| {
            (p.resource_templates, p.next_cursor)
        })
    }

    pub(crate) fn list_tools_in(&self, op: &OpId, deadline: Instant) -> Result<Vec<Tool>> {
        let tools = self.list_all(op, "tools/list", deadline, |p: ListToolsResult| (p.tools, p.next_cursor))?;
        Ok(self.callable_tools(op, tools))
    }

    /// The listed tools that can be called: on the modern wire over HTTP, a tool whose
    /// `x-mcp-header` annotations are invalid cannot be called correctly and is left out, with
    /// a warning; the others' headers are remembered for their calls.
    /// Also remembers what a call needs of each tool kept ([`KnownTool`]).
    fn callable_tools(&self, op: &OpId, tools: Vec<Tool>) -> Vec<Tool> {
        let kept = if !self.is_modern() || self.wire == Wire::Stdio {
            tools
        } else {
            let mut headers = HashMap::new();
            let mut kept = Vec::with_capacity(tools.len());
            for tool in tools {
                match modern::param_headers(&tool.input_schema) {
                    Ok(h) => {
                        headers.insert(tool.name.clone(), h);
                        kept.push(tool);
                    }
                    Err(why) => log::warn!(
                        "op={op} server={}: leaving out tool `{}`: invalid x-mcp-header: {why}",
                        self.session.name,
                        tool.name
                    ),
                }
            }
            *self.tool_headers.lock().unwrap_or_else(|e| e.into_inner()) = Some(headers);
            kept
        };
        self.remember_tools(op, &kept);
        kept
    }

    /// Remembers each tool's resend hint and output schema, compiled (once: a schema the last
    /// listing had already is not compiled again). Compiling happens outside the lock.
    fn remember_tools(&self, op: &OpId, tools: &[Tool]) {
        let previous: HashMap<String, Arc<OutputSchema>> = {
            let known = self.known_tools.lock().unwrap_or_else(|e| e.into_inner());
            known.iter().filter_map(|(name, t)| Some((name.clone(), t.output.clone()?))).collect()
        };
        let known = tools
            .iter()
            .map(|tool| {
                let output = tool.output_schema.as_ref().map(|declared| match previous.get(&tool.name) {
                    Some(same) if same.declared == *declared => same.clone(),
                    _ => Arc::new(self.compile_output_schema(op, &tool.name, declared)),
                });
                (tool.name.clone(), KnownTool { idempotent: is_idempotent(tool), output })
            })
            .collect();
        *self.known_tools.lock().unwrap_or_else(|e| e.into_inner()) = known;
    }

    /// A tool's output schema, compiled; one the validator cannot read is logged (a warning, once
    /// per schema) and its tool's results are then not checked: checking is a SHOULD of MCP, and
    /// failing every call of a tool that works (after it ran) for a schema this crate cannot
    /// read would make the tool unusable through us.
    fn compile_output_schema(&self, op: &OpId, tool: &str, declared: &serde_json::Value) -> OutputSchema {
        let compiled = match Schema::compile(declared) {
            Ok(schema) => Some(schema),
            Err(e) => {
                log::warn!(
                    "op={op} server={}: tool `{tool}`: its outputSchema cannot be used, so its results are not checked: {e}",
                    self.session.name
                );
                None
            }
        };
        OutputSchema { declared: declared.clone(), compiled }
    }

    /// Checks a result against the output schema its tool declared in the last listing (when the
    /// tool is known, declares one this crate can read, and the result is not `isError`).
    fn check_output(&self, op: &OpId, tool: &str, result: &CallToolResult) -> Result<()> {
        if result.is_error {
            return Ok(());
        }
        let known = self.known_tools.lock().unwrap_or_else(|e| e.into_inner()).get(tool).and_then(|t| t.output.clone());
        let Some(schema) = known.as_ref().and_then(|o| o.compiled.as_ref()) else { return Ok(()) };
        let invalid = |path: &str, detail: String| {
            log::debug!(
                "op={op} server={}: tools/call `{tool}`: structuredContent fails outputSchema at {path:?}: {detail}",
                self.session.name
            );
            Error::InvalidOutput {
                server: self.session.name.to_string(),
                tool: tool.to_string(),
                op: op.clone(),
                path: path.to_string(),
                detail,
            }
        };
        match &result.structured_content {
            None => Err(invalid("", "the result has no structuredContent (the tool declares an outputSchema)".into())),
            Some(value) => schema
                .validate(value)
                .map_err(|v| invalid(v.instance_path(), format!("{}; keyword {}", v.message(), v.schema_path()))),
        }
    }

    /// The `Mcp-Param-*` headers of a call (the modern wire over HTTP); lists the tools first
    /// when they were never listed.
    fn param_headers(
        &self,
        op: &OpId,
        name: &str,
        arguments: &serde_json::Value,
        deadline: Instant,
    ) -> Vec<(String, String)> {
        if !self.is_modern() || self.wire == Wire::Stdio {
            return Vec::new();
        }
        let listed = self.tool_headers.lock().unwrap_or_else(|e| e.into_inner()).is_some();
        if !listed && let Err(e) = self.list_tools_in(op, deadline) {
            log::debug!("op={op} server={}: listing tools for their headers failed: {e}", self.session.name);
        }
        let map = self.tool_headers.lock().unwrap_or_else(|e| e.into_inner());
        map.as_ref().and_then(|m| m.get(name)).map(|h| modern::param_header_values(h, arguments)).unwrap_or_default()
    }

    pub(crate) fn read_resources_in(
        &self,
        op: &OpId,
        uris: &[&str],
        deadline: Instant,
    ) -> Vec<Result<Vec<ResourceContents>>> {
        let requests: Vec<_> = uris.iter().map(|uri| ("resources/read", Some(json!({ "uri": uri })))).collect();
        let calls = self.start_many(op, &requests, deadline);
        calls
            .into_iter()
            .map(|call| self.session.finish::<ReadResourceResult>(call?, deadline).map(|r| r.contents))
            .collect()
    }

    /// How many requests of a batch of `batch` are sent at once: one (from the caller's thread)
    /// over a transport whose send returns at once (stdio), [`POST_CONNECTIONS`] over one whose
    /// send waits for the server's acknowledgement (legacy SSE) when the batch is larger than
    /// [`SMALL_BATCH`], [`OVERLAPPED_READS`] over one that reads each reply inside its send
    /// (Streamable HTTP).
    fn concurrent_sends(&self, batch: usize) -> usize {
        let transport = &self.session.transport;
        if !transport.pipelines() {
            OVERLAPPED_READS
        } else if transport.send_waits() && batch > SMALL_BATCH {
            POST_CONNECTIONS
        } else {
            1
        }
    }

    /// Starts every request of a batch, all before the first answer is awaited; returns the
    /// calls in the order of `requests`. When the transport's sends wait (see
    /// [`concurrent_sends`](Self::concurrent_sends)), they are made from up to that many
    /// threads at once: the caller's and scoped threads (`mcp-send:<server>`), joined before
    /// this returns.
    fn start_many(
        &self,
        op: &OpId,
        requests: &[(&'static str, Option<serde_json::Value>)],
        deadline: Instant,
    ) -> Vec<Result<Call>> {
        let start = |(method, params): &(&'static str, Option<serde_json::Value>)| {
            self.session.start_with(op, method, params.clone(), deadline, &RequestOptions::default())
        };
        let threads = self.concurrent_sends(requests.len()).min(requests.len());
        if threads <= 1 {
            return requests.iter().map(start).collect();
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let slots: Vec<Mutex<Option<Result<Call>>>> = requests.iter().map(|_| Mutex::new(None)).collect();
        let work = || {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(request) = requests.get(i) else { break };
                let call = start(request);
                *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(call);
            }
        };
        std::thread::scope(|scope| {
            for _ in 1..threads {
                let spawned = std::thread::Builder::new()
                    .name(format!("mcp-send:{}", self.session.name))
                    .stack_size(crate::transport::SMALL_STACK)
                    .spawn_scoped(scope, work);
                if spawned.is_err() {
                    break; // fewer threads: the caller's thread below still does the work
                }
            }
            work();
        });
        slots
            .into_iter()
            .zip(requests)
            .map(|(slot, (method, _))| {
                slot.into_inner().unwrap_or_else(|e| e.into_inner()).unwrap_or_else(|| {
                    Err(Error::ConnectionClosed {
                        server: self.session.name.to_string(),
                        method: (*method).into(),
                        op: op.clone(),
                        detail: "the request was not sent".into(),
                    })
                })
            })
            .collect()
    }

    /// Every listing the server has the capability for (resources and templates, tools,
    /// prompts), each to its last page. Their first pages are in flight together, in one round
    /// trip ([`start_many`](Self::start_many)); later pages, rare, follow one listing at a time.
    pub(crate) fn list_catalogue_in(&self, op: &OpId, deadline: Instant) -> Result<Listings> {
        let caps = &self.init.capabilities;
        let (resources, tools, prompts) = (caps.resources.is_some(), caps.tools.is_some(), caps.prompts.is_some());
        let mut methods: Vec<(&'static str, Option<serde_json::Value>)> = Vec::with_capacity(4);
        if resources {
            methods.push(("resources/list", None));
            methods.push(("resources/templates/list", None));
        }
        if tools {
            methods.push(("tools/list", None));
        }
        if prompts {
            methods.push(("prompts/list", None));
        }
        let mut firsts = self.start_many(op, &methods, deadline).into_iter();
        let mut out = Listings::default();
        if resources {
            out.resources =
                self.list_from(op, "resources/list", deadline, firsts.next(), |p: ListResourcesResult| {
                    (p.resources, p.next_cursor)
                })?;
            out.templates = self.list_from(
                op,
                "resources/templates/list",
                deadline,
                firsts.next(),
                |p: ListResourceTemplatesResult| (p.resource_templates, p.next_cursor),
            )?;
        }
        if tools {
            let listed = self
                .list_from(op, "tools/list", deadline, firsts.next(), |p: ListToolsResult| (p.tools, p.next_cursor))?;
            out.tools = self.callable_tools(op, listed);
        }
        if prompts {
            out.prompts = self.list_from(op, "prompts/list", deadline, firsts.next(), |p: ListPromptsResult| {
                (p.prompts, p.next_cursor)
            })?;
        }
        Ok(out)
    }

    pub(crate) fn call_tool_in(
        &self,
        op: &OpId,
        name: &str,
        arguments: serde_json::Value,
        deadline: Instant,
    ) -> Result<CallToolResult> {
        let params = json!({ "name": name, "arguments": arguments });
        // (On the modern wire over HTTP this lists the tools when they never were.)
        let headers = self.param_headers(op, name, &arguments, deadline);
        let idempotent = self.idempotent(name);
        let options = RequestOptions { headers, idempotent, ..Default::default() };
        let called = self.session.request_with_input(op, "tools/call", params.clone(), deadline, &options);
        let result = match called.and_then(|raw| self.session.decode(op, "tools/call", &raw)) {
            // The tool's schema (its headers) may have changed: list the tools again, retry once.
            Err(Error::Rpc { code: modern::HEADER_MISMATCH, .. }) if self.is_modern() && self.wire != Wire::Stdio => {
                log::debug!("op={op} server={}: `{name}`: header mismatch; listing tools again", self.session.name);
                self.list_tools_in(op, deadline)?;
                let options = RequestOptions {
                    headers: self.param_headers(op, name, &arguments, deadline),
                    idempotent: self.idempotent(name),
                    ..Default::default()
                };
                let raw = self.session.request_with_input(op, "tools/call", params, deadline, &options)?;
                self.session.decode(op, "tools/call", &raw)?
            }
            other => other?,
        };
        self.check_output(op, name, &result)?;
        Ok(result)
    }

    /// Whether the last listing annotated the tool read-only or idempotent (`None`: unknown).
    fn idempotent(&self, tool: &str) -> Option<bool> {
        self.known_tools.lock().unwrap_or_else(|e| e.into_inner()).get(tool).map(|t| t.idempotent)
    }

    fn list_all<P: DeserializeOwned, T>(
        &self,
        op: &OpId,
        method: &'static str,
        deadline: Instant,
        split: impl Fn(P) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>> {
        self.list_from(op, method, deadline, None, split)
    }

    /// [`list_all`](Self::list_all) whose first page may have been requested already (`first`).
    fn list_from<P: DeserializeOwned, T>(
        &self,
        op: &OpId,
        method: &'static str,
        deadline: Instant,
        mut first: Option<Result<Call>>,
        split: impl Fn(P) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>> {
        let mut items = Vec::new();
        let mut bytes = 0usize;
        let mut cursor: Option<String> = None;
        let mut seen = HashSet::new();
        for _ in 0..self.max_pages {
            let call = match first.take() {
                Some(call) => call?,
                None => {
                    let params = cursor.as_ref().map(|c| json!({ "cursor": c }));
                    self.session.start(op, method, params.as_ref(), deadline)?
                }
            };
            let raw = self.session.finish_raw(call, deadline)?;
            bytes = bytes.saturating_add(raw.get().len());
            if bytes > self.budget.bytes {
                return Err(self.limit(op, method, "listing bytes", self.budget.bytes));
            }
            let (mut page, next) = split(self.session.decode::<P>(op, method, &raw)?);
            drop(raw);
            items.append(&mut page);
            if items.len() > self.budget.items {
                return Err(self.limit(op, method, "listing items", self.budget.items));
            }
            match next {
                None => return Ok(items),
                Some(next) => {
                    if !seen.insert(next.clone()) {
                        return Err(self.session.protocol(op, method, format!("the server repeated cursor {next:?}")));
                    }
                    cursor = Some(next);
                }
            }
        }
        Err(self.limit(op, method, "page count", self.max_pages))
    }

    fn limit(&self, op: &OpId, method: &str, what: &'static str, limit: usize) -> Error {
        log::debug!("op={op} server={}: {method}: {what} over {limit}; giving up the listing", self.session.name);
        Error::Limit { server: self.session.name.to_string(), method: method.into(), op: op.clone(), what, limit }
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.session.timeout
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

/// Whether a tool is annotated `readOnlyHint: true` or `idempotentHint: true`: calling it again
/// has no further effect, so a call whose reply was lost may be sent again.
fn is_idempotent(tool: &Tool) -> bool {
    let hint = |key: &str| tool.annotations.as_ref().and_then(|a| a.get(key)).and_then(|v| v.as_bool());
    hint("readOnlyHint") == Some(true) || hint("idempotentHint") == Some(true)
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
