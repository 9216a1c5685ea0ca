//! Serving the merged catalogue as one MCP server, so that a desktop host (Claude Desktop,
//! Cursor, VS Code) can use every configured server through one entry.
//!
//! [`Server`] answers MCP requests from the [`Orchestrator`]'s merged view: `tools/list`,
//! `prompts/list`, `resources/list` and `resources/templates/list` list the catalogue (naming
//! and filters already applied), and `tools/call`, `prompts/get` and `resources/read` are routed
//! to the owning server. Both protocol eras are served, detected per request: a client that
//! sends `initialize` gets the 2025-11-25 handshake (the version negotiated among
//! [`SUPPORTED_PROTOCOL_VERSIONS`]); a request carrying
//! `_meta["io.modelcontextprotocol/protocolVersion"]` (or a `server/discover`) is answered
//! statelessly on the 2026-07-28 wire, with `resultType: "complete"`.
//!
//! Two transports: [`serve_stdio`] (newline-delimited JSON-RPC) and [`serve_http`]
//! (Streamable HTTP on `/mcp`: JSON responses, or an event stream when a routed call passes
//! requests or progress through; `GET` for the pushed `list_changed` notifications).
//!
//! The four lists are paged: at most [`DEFAULT_PAGE_SIZE`] entries per answer (see
//! [`Server::set_page_size`]), with an opaque `nextCursor` for the rest. (A cursor is a
//! position in the merged list: when the catalogue changes between pages, a client that
//! follows a `list_changed` lists again from the start.)

pub(crate) mod http;
mod relay;
mod reload;
mod stdio;
mod streamable;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::catalog::Gathered;
use crate::error::Error;
use crate::jsonrpc::{INVALID_PARAMS, METHOD_NOT_FOUND, RpcError};
use crate::orchestrator::Orchestrator;
use crate::protocol::modern::{
    META_CAPABILITIES, META_SERVER_INFO, META_VERSION, MODERN_PROTOCOL_VERSIONS, UNSUPPORTED_VERSION,
};
use crate::protocol::{CallToolResult, SUPPORTED_PROTOCOL_VERSIONS};

pub use stdio::serve_stdio;
pub use streamable::{DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_HTTP_CONNECTIONS, HttpOptions, HttpServer, serve_http};

/// JSON-RPC "internal error": an upstream server failed.
const INTERNAL_ERROR: i64 = -32603;
/// The code of the answer to a request the client cancelled (never sent: a cancelled request
/// gets no answer).
const CANCELLED: i64 = -32800;

/// The notifications forwarded downstream when an upstream server sends them (after the
/// orchestrator has dropped that server's cache entry, so a new list is fresh).
const FORWARDED: &[&str] =
    &["notifications/tools/list_changed", "notifications/prompts/list_changed", "notifications/resources/list_changed"];

/// A downstream connection that wants notifications: called with an encoded JSON-RPC
/// notification. It must not block (it runs on an upstream session's reader thread).
pub(crate) type Sink = dyn Fn(&[u8]) + Send + Sync;

/// One MCP server in front of an [`Orchestrator`]. Cheap to share: every connection of every
/// transport answers through the same `Arc<Server>`.
pub struct Server {
    orchestrator: Arc<Orchestrator>,
    name: String,
    version: String,
    sinks: Mutex<Vec<Weak<Sink>>>,
    /// Deferred mode: above this many tools, `tools/list` offers `search_tools` and `call_tool`.
    defer_tools: Option<usize>,
    /// The routed calls in flight, and our requests to downstream clients (`relay.rs`).
    relays: Arc<relay::Relays>,
    /// The most entries of one list answer.
    page_size: AtomicUsize,
}

/// The most entries one `tools/list` (or other list) answer holds by default.
pub const DEFAULT_PAGE_SIZE: usize = 500;

/// One page of `items` from `cursor` (an offset we gave out), and the next cursor if more.
fn page(items: Vec<Value>, params: &Value, size: usize) -> Result<(Vec<Value>, Option<String>), RpcError> {
    let start = match params.get("cursor") {
        None | Some(Value::Null) => 0,
        Some(c) => c
            .as_str()
            .and_then(|c| c.strip_prefix("mcpo:"))
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| rpc_error(INVALID_PARAMS, format!("invalid cursor {c}"), None))?,
    };
    let size = size.max(1);
    let end = start.saturating_add(size).min(items.len());
    let next = (end < items.len()).then(|| format!("mcpo:{end}"));
    Ok((items.into_iter().skip(start).take(size).collect(), next))
}

/// `{key: page, nextCursor?}`.
fn paged(key: &str, items: Vec<Value>, params: &Value, size: usize) -> Result<Value, RpcError> {
    let (items, next) = page(items, params, size)?;
    let mut out = Map::new();
    out.insert(key.into(), Value::Array(items));
    if let Some(next) = next {
        out.insert("nextCursor".into(), json!(next));
    }
    Ok(Value::Object(out))
}

/// The downstream request being answered: the connection it came on, and its id.
#[derive(Clone, Copy, Default)]
pub(crate) struct Exchange<'a> {
    pub link: Option<&'a Arc<relay::Link>>,
    pub id: Option<&'a Value>,
}

/// The deferred mode's tools (see [`Server::with_deferred_tools`]).
pub const SEARCH_TOOLS: &str = "search_tools";
/// The deferred mode's tool that calls a tool found with [`SEARCH_TOOLS`].
pub const CALL_TOOL: &str = "call_tool";
/// How many tools `search_tools` returns when the call does not say.
const DEFAULT_SEARCH_LIMIT: usize = 10;

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("name", &self.name).field("version", &self.version).finish_non_exhaustive()
    }
}

/// The era a request was answered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Era {
    /// `initialize` handshake (2025-11-25 and older).
    Handshake,
    /// Stateless, `_meta`-enveloped (2026-07-28).
    Modern,
}

/// An answer to one request: its era and its result or error.
pub(crate) struct Answer {
    pub era: Era,
    pub result: Result<Value, RpcError>,
    /// For `initialize`: the negotiated version.
    pub negotiated: Option<&'static str>,
}

/// 128 bits from the system's generator, in hex: a session id or a requestState a client cannot
/// guess. Without system randomness (never seen on a supported OS), an op id: still unique in
/// the process, though guessable, and said so in the log.
fn unguessable() -> String {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        log::warn!("serve: no system randomness; an op id stands in for an unguessable token");
        return crate::op::OpId::new().to_string();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn rpc_error(code: i64, message: impl Into<String>, data: Option<Value>) -> RpcError {
    RpcError { code, message: message.into(), data }
}

/// An upstream failure as a JSON-RPC error: the message names the server, method and op id
/// (the library's errors do), and the upstream code is kept when it sent one.
fn upstream_error(e: &Error) -> RpcError {
    let code = match e {
        Error::Rpc { code, .. } | Error::ResourceNotFound { code, .. } => *code,
        Error::NoServer { .. } => INVALID_PARAMS,
        _ => INTERNAL_ERROR,
    };
    rpc_error(code, e.to_string(), e.op_id().map(|op| json!({"op": op.to_string()})))
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, RpcError> {
    serde_json::to_value(value).map_err(|e| rpc_error(INTERNAL_ERROR, format!("encoding the result: {e}"), None))
}

impl Server {
    /// A server in front of `orchestrator`, which need not be initialized yet (the first
    /// request that needs the catalogue initializes it). Forwards upstream `list_changed`
    /// notifications to every connection that can receive them.
    ///
    /// During a routed `tools/call`, what the upstream server sends about it passes through:
    /// its elicitation, sampling and roots requests are asked of the client that made the call
    /// (over stdio on the same pipe, over Streamable HTTP in the POST's event-stream reply;
    /// a kind the client did not declare is answered "method not found"), its
    /// `notifications/progress` go to that client with the client's own `progressToken`, and
    /// the client's `notifications/cancelled` cancels the upstream call (which is told). The
    /// orchestrator's sessions declare every kind of request when they connect after this
    /// (create the server before [`Orchestrator::initialize`]); the last `Server` created on
    /// an orchestrator is the one its upstream requests go to.
    pub fn new(orchestrator: Arc<Orchestrator>) -> Arc<Server> {
        Server::build(orchestrator, None)
    }

    /// Like [`new`](Self::new), in deferred mode: when the catalogue has more than `threshold`
    /// tools, `tools/list` lists only [`SEARCH_TOOLS`] (`{query, limit?}` → the matching tools'
    /// definitions) and [`CALL_TOOL`] (`{name, arguments}` → that tool's result), so that a host
    /// does not put hundreds of tool definitions in the model's context. Every merged tool can
    /// still be called by its own name too. (These two names win over upstream tools of the
    /// same name in this mode.)
    pub fn with_deferred_tools(orchestrator: Arc<Orchestrator>, threshold: usize) -> Arc<Server> {
        Server::build(orchestrator, Some(threshold))
    }

    fn build(orchestrator: Arc<Orchestrator>, defer_tools: Option<usize>) -> Arc<Server> {
        let server = Arc::new(Server {
            orchestrator,
            name: "mcp-orchestrator".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            sinks: Mutex::new(Vec::new()),
            defer_tools,
            relays: Arc::default(),
            page_size: AtomicUsize::new(DEFAULT_PAGE_SIZE),
        });
        let weak = Arc::downgrade(&server);
        server.orchestrator.install_relay(Arc::new(relay::Forward(weak.clone())));
        server.orchestrator.subscribe(move |upstream, op, n| {
            let Some(server) = weak.upgrade() else { return };
            if n.method == "notifications/progress" {
                if server.relays.progress(upstream, n.params.as_ref()) {
                    log::debug!("op={op} server={upstream}: progress forwarded downstream");
                }
                return;
            }
            if !FORWARDED.contains(&n.method.as_str()) {
                return;
            }
            log::info!("op={op} server={upstream}: forwarding {} downstream", n.method);
            server.broadcast(&n.method);
        });
        server
    }

    /// Sends the notification `method` (no params) to every connection that can receive it.
    fn broadcast(&self, method: &str) {
        let bytes = crate::jsonrpc::encode_notification::<Value>(method, None);
        let sinks: Vec<Arc<Sink>> = {
            let mut sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
            sinks.retain(|s| s.strong_count() > 0);
            sinks.iter().filter_map(Weak::upgrade).collect()
        };
        for sink in sinks {
            sink(&bytes);
        }
    }

    /// The most entries of one `tools/list`, `prompts/list`, `resources/list` or
    /// `resources/templates/list` answer (at least 1; [`DEFAULT_PAGE_SIZE`] unless set).
    pub fn set_page_size(&self, n: usize) {
        self.page_size.store(n.max(1), Ordering::Relaxed);
    }

    /// The orchestrator it serves.
    pub fn orchestrator(&self) -> &Arc<Orchestrator> {
        &self.orchestrator
    }

    /// Registers a connection for notifications, for as long as the caller keeps the `Arc`.
    pub(crate) fn add_sink(&self, sink: &Arc<Sink>) {
        self.sinks.lock().unwrap_or_else(|e| e.into_inner()).push(Arc::downgrade(sink));
    }

    fn capabilities() -> Value {
        json!({
            "tools": {"listChanged": true},
            "prompts": {"listChanged": true},
            "resources": {"listChanged": true},
        })
    }

    fn server_info(&self) -> Value {
        json!({"name": self.name, "version": self.version})
    }

    /// Answers one request. `params` is the request's params (or `Null`); `ex` where it came
    /// from (a routed `tools/call` passes requests, progress and cancellation through it).
    pub(crate) fn answer(&self, method: &str, params: &Value, ex: Exchange<'_>) -> Answer {
        let meta_version = params.get("_meta").and_then(|m| m.get(META_VERSION)).and_then(Value::as_str);
        let modern = meta_version.is_some() || method == "server/discover";
        if !modern {
            let mut negotiated = None;
            let result = match method {
                "initialize" => {
                    let asked = params.get("protocolVersion").and_then(Value::as_str);
                    let version = SUPPORTED_PROTOCOL_VERSIONS
                        .iter()
                        .find(|v| Some(**v) == asked)
                        .copied()
                        .unwrap_or(SUPPORTED_PROTOCOL_VERSIONS[0]);
                    negotiated = Some(version);
                    Ok(json!({
                        "protocolVersion": version,
                        "capabilities": Server::capabilities(),
                        "serverInfo": self.server_info(),
                        "instructions": "The merged tools, prompts and resources of the servers in this mcp-orchestrator config.",
                    }))
                }
                "ping" => Ok(json!({})),
                _ => self.common(method, params, ex, true),
            };
            return Answer { era: Era::Handshake, result, negotiated };
        }
        let version = meta_version.unwrap_or(MODERN_PROTOCOL_VERSIONS[0]);
        if !MODERN_PROTOCOL_VERSIONS.contains(&version) {
            let data = json!({"supported": MODERN_PROTOCOL_VERSIONS, "requested": version});
            let e = rpc_error(UNSUPPORTED_VERSION, "Unsupported protocol version", Some(data));
            return Answer { era: Era::Modern, result: Err(e), negotiated: None };
        }
        let declared = params.get("_meta").and_then(|m| m.get(META_CAPABILITIES)).is_some_and(Value::is_object);
        // (A bare `server/discover`, without `_meta`, is a probe: answered.)
        if meta_version.is_some() && !declared {
            let e = rpc_error(INVALID_PARAMS, format!("_meta lacks {META_CAPABILITIES}"), None);
            return Answer { era: Era::Modern, result: Err(e), negotiated: None };
        }
        let result = match method {
            "server/discover" => Ok(json!({
                "supportedVersions": MODERN_PROTOCOL_VERSIONS,
                "capabilities": Server::capabilities(),
                "_meta": {META_SERVER_INFO: self.server_info()},
            })),
            // The handshake does not exist on this wire.
            "initialize" | "ping" => Err(method_not_found(method)),
            _ => self.common(method, params, ex, false),
        };
        let cacheable = matches!(
            method,
            "server/discover"
                | "tools/list"
                | "prompts/list"
                | "resources/list"
                | "resources/templates/list"
                | "resources/read"
        );
        let result = result.map(|v| match v {
            Value::Object(mut m) => {
                m.entry("resultType").or_insert_with(|| json!("complete"));
                if cacheable {
                    // The merged lists change whenever an upstream's do: no freshness promised,
                    // and never shared across authorization contexts.
                    m.insert("ttlMs".into(), json!(0));
                    m.insert("cacheScope".into(), json!("private"));
                }
                Value::Object(m)
            }
            other => other,
        });
        Answer { era: Era::Modern, result, negotiated: None }
    }

    /// The methods both eras share; `handshake`: whether the client may be sent requests.
    fn common(&self, method: &str, params: &Value, ex: Exchange<'_>, handshake: bool) -> Result<Value, RpcError> {
        let o = &self.orchestrator;
        let catalogue = || -> Result<_, RpcError> {
            o.initialize().map_err(|e| upstream_error(&e))?;
            o.gather_all_resources().map_err(|e| upstream_error(&e))
        };
        match method {
            "tools/list" => {
                let g = catalogue()?;
                if self.deferred(&g) {
                    return Ok(json!({"tools": deferred_tools()}));
                }
                let tools: Vec<Value> = g
                    .tools
                    .iter()
                    .map(|t| {
                        let mut v = to_value(&t.item)?;
                        v["name"] = json!(t.name);
                        // serve runs no tasks for its clients: it waits for an upstream's itself.
                        if let Some(tool) = v.as_object_mut() {
                            tool.remove("execution");
                        }
                        Ok(v)
                    })
                    .collect::<Result<_, RpcError>>()?;
                paged("tools", tools, params, self.page_size.load(Ordering::Relaxed))
            }
            "prompts/list" => {
                let g = catalogue()?;
                let prompts: Vec<Value> = g
                    .prompts
                    .iter()
                    .map(|p| {
                        let mut v = to_value(&p.item)?;
                        v["name"] = json!(p.name);
                        Ok(v)
                    })
                    .collect::<Result<_, RpcError>>()?;
                paged("prompts", prompts, params, self.page_size.load(Ordering::Relaxed))
            }
            "resources/list" => {
                let g = catalogue()?;
                let resources =
                    g.resources.iter().map(|r| to_value(&r.resource)).collect::<Result<Vec<Value>, RpcError>>()?;
                paged("resources", resources, params, self.page_size.load(Ordering::Relaxed))
            }
            "resources/templates/list" => {
                let g = catalogue()?;
                let templates =
                    g.templates.iter().map(|t| to_value(&t.item)).collect::<Result<Vec<Value>, RpcError>>()?;
                paged("resourceTemplates", templates, params, self.page_size.load(Ordering::Relaxed))
            }
            "tools/call" => {
                // A stateless client's answer to what the upstream asked (an input_required
                // round): the call it resumes is named by its requestState.
                if !handshake && let Some(state) = params.get("requestState").and_then(Value::as_str) {
                    return self.relays.resume(state, params.get("inputResponses"));
                }
                let name = str_param(params, "name")?;
                let arguments = params.get("arguments").cloned().unwrap_or_else(|| json!({}));
                let g = catalogue()?;
                let (name, arguments) = match name {
                    SEARCH_TOOLS if self.deferred(&g) => return search_result(&g, &arguments),
                    CALL_TOOL if self.deferred(&g) => {
                        let name = str_param(&arguments, "name")?.to_string();
                        (name, arguments.get("arguments").cloned().unwrap_or_else(|| json!({})))
                    }
                    _ => (name.to_string(), arguments),
                };
                let Some(tool) = g.tool(&name) else {
                    let e = Error::NoServer {
                        detail: format!("no server offers a tool named `{name}`"),
                        op: crate::op::OpId::new(),
                    };
                    return Err(upstream_error(&e));
                };
                let (server, original) = (tool.server.clone(), tool.original.clone());
                drop(g);
                if !handshake {
                    return self.call_stateless(server, original, arguments, params, ex);
                }
                let begun = ex.link.map(|link| {
                    let progress = params.pointer("/_meta/progressToken").cloned();
                    let id = ex.id.cloned().unwrap_or(Value::Null);
                    self.relays.begin(&server, link, id, progress, handshake)
                });
                let control = begun.as_ref().map(|b| b.control.clone()).unwrap_or_default();
                let called = o.call_tool_controlled(Some(&server), &original, arguments, &control);
                if let Some(begun) = begun
                    && self.relays.finish(begun)
                {
                    return Err(rpc_error(CANCELLED, "the request was cancelled", None));
                }
                call_outcome(called)
            }
            "prompts/get" => {
                let name = str_param(params, "name")?;
                let arguments: BTreeMap<String, String> = match params.get("arguments") {
                    None | Some(Value::Null) => BTreeMap::new(),
                    Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
                        rpc_error(INVALID_PARAMS, format!("prompt arguments must be strings: {e}"), None)
                    })?,
                };
                catalogue()?;
                o.get_prompt(name, &arguments).map_err(|e| upstream_error(&e)).and_then(|r| to_value(&r))
            }
            "resources/read" => {
                let uri = str_param(params, "uri")?;
                catalogue()?;
                let contents = o.read_resource(uri).map_err(|e| {
                    // A resource not found names its URI (`data.uri`, as the spec's example).
                    let mut r = upstream_error(&e);
                    if matches!(e, Error::ResourceNotFound { .. } | Error::NoServer { .. }) {
                        let mut data = r.data.take().unwrap_or_else(|| json!({}));
                        data["uri"] = json!(uri);
                        r.data = Some(data);
                    }
                    r
                })?;
                Ok(json!({"contents": to_value(&contents)?}))
            }
            _ => Err(method_not_found(method)),
        }
    }
}

/// A routed call's answer: its result; an unknown tool is a protocol error; the owner's
/// failure a tool execution error the model can see.
fn call_outcome(called: crate::error::Result<CallToolResult>) -> Result<Value, RpcError> {
    match called {
        Ok(result) => to_value(&result),
        Err(e @ Error::NoServer { .. }) => Err(upstream_error(&e)),
        Err(e) => to_value(&CallToolResult::from_text(e.to_string()).with_error(true)),
    }
}

impl Server {
    /// A stateless (2026-07-28) client's `tools/call`: it cannot be sent requests, so the
    /// upstream call runs on a thread of its own (`serve-stateless-call`, which ends with the
    /// call, bounded by the upstream's timeout) and what the upstream asks meanwhile is
    /// returned as an `input_required` result; the client's retry resumes it
    /// ([`relay::Relays::resume`]). Progress goes out on the client's connection.
    fn call_stateless(
        &self,
        server: String,
        original: String,
        arguments: Value,
        params: &Value,
        ex: Exchange<'_>,
    ) -> Result<Value, RpcError> {
        let o = Arc::clone(&self.orchestrator);
        let timeout =
            o.config().servers.iter().find(|s| s.name == server).map_or(Duration::from_secs(60), |s| s.call_timeout());
        let capabilities = params.get("_meta").and_then(|m| m.get(META_CAPABILITIES)).cloned().unwrap_or_default();
        let (asks_tx, asks) = crossbeam_channel::unbounded();
        let link = Arc::new(relay::Link::asking(ex.link, capabilities, asks_tx));
        let progress = params.pointer("/_meta/progressToken").cloned();
        let (done_tx, done) = crossbeam_channel::bounded(1);
        let relays = Arc::clone(&self.relays);
        thread::Builder::new()
            .name("serve-stateless-call".into())
            .spawn(move || {
                let begun = relays.begin(&server, &link, Value::Null, progress, true);
                let called = o.call_tool_controlled(Some(&server), &original, arguments, &begun.control);
                relays.finish(begun);
                drop(link);
                let _ = done_tx.send(call_outcome(called));
            })
            .map_err(|e| rpc_error(INTERNAL_ERROR, format!("cannot start the call: {e}"), None))?;
        // Its deadline and a margin: the call ends (or asks) by then.
        let deadline = Instant::now() + timeout + Duration::from_secs(5);
        self.relays.round(relay::Running { done, asks, deadline })
    }

    fn deferred(&self, g: &Gathered) -> bool {
        self.defer_tools.is_some_and(|n| g.tools.len() > n)
    }
}

/// The two tools of the deferred mode.
fn deferred_tools() -> Value {
    json!([
        {
            "name": SEARCH_TOOLS,
            "description": "Search the available tools by keywords; returns the definitions (name, description, \
                input schema) of the best matches. Call one with call_tool, or by its name.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "keywords: what the tool should do"},
                    "limit": {"type": "integer", "minimum": 1, "description": "the most tools to return (default 10)"},
                },
                "required": ["query"],
            },
        },
        {
            "name": CALL_TOOL,
            "description": "Call a tool found with search_tools, by its name, with its arguments.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "arguments": {"type": "object"},
                },
                "required": ["name"],
            },
        },
    ])
}

/// `search_tools`' result: the matches' definitions, as text and as structured content.
fn search_result(g: &Gathered, arguments: &Value) -> Result<Value, RpcError> {
    let query = str_param(arguments, "query")?;
    let limit = arguments.get("limit").and_then(Value::as_u64).map_or(DEFAULT_SEARCH_LIMIT, |n| n.max(1) as usize);
    let found: Vec<Value> = g
        .search_tools(query, limit)
        .into_iter()
        .map(|m| json!({"name": m.name, "description": m.tool.description, "inputSchema": m.tool.input_schema}))
        .collect();
    let structured = json!({"tools": found});
    to_value(&CallToolResult::from_text(structured.to_string()).with_structured_content(structured))
}

fn method_not_found(method: &str) -> RpcError {
    rpc_error(METHOD_NOT_FOUND, format!("Method not found: {method}"), Some(json!({"method": method})))
}

fn str_param<'a>(params: &'a Value, key: &str) -> Result<&'a str, RpcError> {
    params.get(key).and_then(Value::as_str).ok_or_else(|| rpc_error(INVALID_PARAMS, format!("missing `{key}`"), None))
}

/// One decoded message, answered: the bytes to send back (none for a notification or a
/// response) and the era of the answer.
pub(crate) struct Handled {
    pub reply: Option<Vec<u8>>,
    pub era: Option<Era>,
    pub negotiated: Option<&'static str>,
    /// The error code, when the answer is an error.
    pub code: Option<i64>,
}

impl Server {
    /// Decodes and answers one JSON-RPC text (a single message; a batch is refused), which
    /// came on `link` (where routed calls send their relayed requests and progress).
    pub(crate) fn handle_text(&self, text: &str, link: Option<&Arc<relay::Link>>) -> Handled {
        use crate::jsonrpc::{Message, decode, encode_response};
        let none = Handled { reply: None, era: None, negotiated: None, code: None };
        let parse_error = |why: String| Handled {
            reply: Some(error_without_id(crate::jsonrpc::PARSE_ERROR, &why)),
            ..Handled { reply: None, era: None, negotiated: None, code: None }
        };
        let messages = match decode(text) {
            Ok(m) => m,
            Err(e) => return parse_error(e.0),
        };
        if messages.len() != 1 {
            return parse_error("batches are not supported".into());
        }
        match messages.into_iter().next() {
            Some(Ok(Message::Request { id, method, params })) => {
                let params: Value = match params.map(|p| serde_json::from_str(p.get())) {
                    None => Value::Null,
                    Some(Ok(v)) => v,
                    Some(Err(e)) => return parse_error(format!("bad params: {e}")),
                };
                let id_value = serde_json::to_value(&id).unwrap_or(Value::Null);
                let answer = self.answer(&method, &params, Exchange { link, id: Some(&id_value) });
                if answer.result.as_ref().is_err_and(|e| e.code == CANCELLED) {
                    return none;
                }
                let reply = encode_response(&id, answer.result.as_ref());
                let code = answer.result.as_ref().err().map(|e| e.code);
                Handled { reply: Some(reply), era: Some(answer.era), negotiated: answer.negotiated, code }
            }
            Some(Ok(Message::Notification { method, params })) => {
                if method == "notifications/cancelled"
                    && let Some(link) = link
                {
                    let params: Value = params.and_then(|p| serde_json::from_str(p.get()).ok()).unwrap_or_default();
                    self.relays.cancel(link.key(), &params);
                }
                none
            }
            // The answer to a request we relayed downstream.
            Some(Ok(Message::Response { id: Some(id), result })) => {
                let result = match result {
                    Ok(raw) => serde_json::from_str(raw.get())
                        .map_err(|e| rpc_error(INTERNAL_ERROR, format!("the client's answer: {e}"), None)),
                    Err(e) => Err(e),
                };
                if !self.relays.deliver(&id, result) {
                    log::debug!("serve: a response to no request of ours ({id})");
                }
                none
            }
            Some(Ok(Message::Response { id: None, .. })) | None => none,
            Some(Err(e)) => parse_error(e.0),
        }
    }
}

/// An error response with `"id": null` (to a message we could not read).
fn error_without_id(code: i64, message: &str) -> Vec<u8> {
    let mut m = Map::new();
    m.insert("jsonrpc".into(), json!("2.0"));
    m.insert("id".into(), Value::Null);
    m.insert("error".into(), json!({"code": code, "message": message}));
    serde_json::to_vec(&Value::Object(m)).unwrap_or_default()
}
