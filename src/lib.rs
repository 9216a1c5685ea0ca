//! mcp-orchestrator: use many MCP (Model Context Protocol) servers as one, from synchronous Rust.
//!
//! It reads a YAML list of servers, connects to all of them in parallel (SSE, Streamable HTTP,
//! stdio), gathers their resources, templates, tools and prompts in parallel, merges them into
//! one catalogue by priority (lower number wins), routes calls to the server that owns a name,
//! heals sessions that die, caches what it gathered with a TTL and a byte budget, and hands out
//! the server that executes queries. No async runtime: a bounded pool of named threads,
//! channels and deadlines.
//!
//! # A tour
//!
//! ## One server: [`Client`]
//!
//! A [`Client`] holds one session. The examples start the crate's own test server
//! ([`testing::TestServer`], feature `testing`) on `127.0.0.1:0`, so they run anywhere (without
//! that feature they are compiled out and reported as ignored).
//!
#![cfg_attr(feature = "testing", doc = "```")]
#![cfg_attr(not(feature = "testing"), doc = "```ignore")]
//! use mcp_orchestrator::{Client, ServerConfig};
//! use mcp_orchestrator::testing::TestServer;
//!
//! let server = TestServer::builder().with_sample_resources(3).start()?;
//! let client = Client::connect(&ServerConfig::sse("sample", server.url()))?;
//! let resources = client.list_resources()?;           // every page, following nextCursor
//! assert_eq!(resources.len(), 3);
//! let contents = client.read_resource(&resources[0].uri)?;
//! assert_eq!(contents[0].text(), Some("content of resource 0"));
//! client.close();                                     // bounded, joins the reader thread
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Many servers: [`Orchestrator`]
//!
#![cfg_attr(feature = "testing", doc = "```")]
#![cfg_attr(not(feature = "testing"), doc = "```ignore")]
//! use mcp_orchestrator::{Config, Orchestrator};
//! use mcp_orchestrator::testing::TestServer;
//!
//! let db = TestServer::builder().name("db").text_resource("database://metadata", "metadata", "application/json", "{}").start()?;
//! let meta = TestServer::builder().name("meta").text_resource("product-aliases://list", "aliases", "application/json", "[]").start()?;
//! let yaml = format!(r#"
//! mcp_servers:
//!   database_mcp:
//!     url: "{}"
//!     priority: 10
//!     capabilities: ["execute_query", "list_resources"]
//!     transport: "sse"
//!   product_metadata_mcp:
//!     url: "{}"
//!     priority: 1
//!     transport: "sse"
//! orchestration:
//!   resource_cache_ttl: 300
//!   fail_fast: true
//! "#, db.url(), meta.url());
//!
//! let orchestrator = Orchestrator::new(Config::from_yaml_str(&yaml)?); // no I/O yet
//! orchestrator.initialize()?;                          // connects in parallel
//! let gathered = orchestrator.gather_all_resources()?; // Arc<Gathered>
//! assert_eq!(gathered.servers[0].name, "product_metadata_mcp"); // priority order
//! assert_eq!(gathered.resource("database://metadata").unwrap().server, "database_mcp");
//! let again = orchestrator.gather_all_resources()?;    // within the TTL: no request at all
//! assert!(std::sync::Arc::ptr_eq(&gathered, &again));
//! assert_eq!(orchestrator.executor()?.name(), "database_mcp");
//! orchestrator.close();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## The catalogue, routing and healing
//!
//! A [`Gathered`] holds one merged view per kind — resources, templates, tools, prompts — with
//! the winner of each name (lowest priority number, ties by server name) and the losers in
//! `shadowed`. [`Naming`] (`naming:` in the config) can prefix tool and prompt names with the
//! server's, always or only on a collision; each [`Merged`] entry keeps `(server, original)`.
//! Routing goes through it, and a dead session is re-established on its next use (single
//! flight, jittered back-off, `max_retries`):
//!
#![cfg_attr(feature = "testing", doc = "```")]
#![cfg_attr(not(feature = "testing"), doc = "```ignore")]
//! use mcp_orchestrator::{Config, Naming, Orchestration, Orchestrator, ServerConfig};
//! use mcp_orchestrator::testing::{TestServer, text_result};
//!
//! let a = TestServer::builder().simple_tool("query", "", |_| Ok(text_result("from a")))
//!     .prompt("greet", "hello {who}").simple_template("a://{id}", "by id").start()?;
//! let b = TestServer::builder().simple_tool("query", "", |_| Ok(text_result("from b"))).start()?;
//! let mut o = Orchestration::default();
//! o.naming = Naming::PrefixOnCollision;
//! let mut servers = vec![ServerConfig::sse("a", a.url()), ServerConfig::sse("b", b.url())];
//! servers[1].priority = 1;
//! let orchestrator = Orchestrator::new(Config::new(servers, o)?);
//! orchestrator.initialize()?;
//! let g = orchestrator.gather_all_resources()?;
//! assert_eq!(g.tool("b_query").unwrap().original, "query");
//! assert_eq!(orchestrator.call_tool("b_query", serde_json::json!({}))?.text(), "from b");
//! let args = [("who".to_string(), "Ann".to_string())].into();
//! assert_eq!(orchestrator.get_prompt("greet", &args)?.messages.len(), 1);
//! let contents = orchestrator.read_resource("a://42")?;  // no server lists it: a template matches
//! assert_eq!(contents[0].text(), Some("test-server:a://42"));
//! orchestrator.close();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors
//!
//! Every fallible call returns [`Error`], one `#[non_exhaustive]` enum. Its message is
//! `category: detail (server …, method …, op …)`, and [`Error::server`], [`Error::method`] and
//! [`Error::op_id`] give the context without parsing, and [`Error::kind`] classifies it
//! ([`ErrorKind`]: unreachable, timeout, unauthorized, server error, protocol, disconnected,
//! limit, config, closed, not initialized, no server). Config errors carry the line, column and
//! line of each problem, all of a file's problems at once.
//! A timeout says which phase timed out; a limit says the number.
//!
//! # Authorization
//!
//! An HTTP server's `auth` block ([`AuthConfig`]) makes its client answer 401s with the OAuth
//! flow: a static bearer token, client credentials for a program alone ([`ClientCredentialsConfig`],
//! no code needed), or the authorization code flow for a person ([`OAuthConfig`]), whose step
//! the program supplies: [`Orchestrator::with_authorization_handler`] or
//! [`ClientBuilder::authorization_handler`] with an [`AuthorizationHandler`]. A failed flow is
//! [`Error::Auth`]. The README's "Authorization" section shows both flows.
//!
//! # Threads and shutdown
//!
//! - Each SSE session has one reader thread, `mcp-sse:<server>`, which owns the event stream.
//!   Requests are sent from the caller's thread, so many can be in flight on one session.
//! - A Streamable HTTP session POSTs each request from the caller's thread and reads its reply
//!   there, within the request's deadline; the optional GET stream for server-initiated
//!   messages has its own reader, `mcp-http:<server>`.
//! - A stdio session has three threads: `mcp-stdio:<server>` reads the child's stdout,
//!   `mcp-stdio-err:<server>` logs its stderr at debug, `mcp-stdio-in:<server>` writes its
//!   stdin (a caller waits for its write until its deadline at most). Close closes stdin,
//!   waits 2 s for the child to exit, then kills its process group and reaps it.
//! - The orchestrator fans out on a pool of `max_concurrent_connections` threads named
//!   `mcp-orchestrator-<n>`; the caller collects results from a channel with a deadline, which
//!   is how fail-fast returns at the first failure.
//! - Every wait has a deadline (the server's `timeout`). [`Client::close`] and
//!   [`Orchestrator::close`] return in bounded time even when a server hangs, failing pending
//!   requests at once; dropping either closes it too.
//!
//! # Logging
//!
//! The crate logs through [`log`] and never installs a logger. Every record carries
//! `op=<id> server=<name>`. Levels: an error the library returns to you is not also logged above
//! `debug` (you decide what to report); `warn` — one server failed inside a call that went on
//! (or whose error names another server), a message was malformed, an entry too large to cache; `info` — one line per call
//! (connected, gathered N resources in T); `debug` — each request and response (method, id,
//! time), cache decisions; `trace` — payloads. Header values are never logged.
//! The config's `log_level` is applied by the CLI; a program can read it from
//! [`Orchestration::log_level`] (`None` when the config names none) and configure its own logger.
//!
//! Outbound HTTP requests carry the operation id in the [`OP_ID_HEADER`] header.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod auth;
mod backoff;
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod bench_support;
mod cache;
mod catalog;
mod client;
mod config;
mod deadline;
mod error;
mod handlers;
mod jsonrpc;
mod op;
mod orchestrator;
mod pool;
mod protocol;
mod schema;
pub mod serve;
mod session;
mod sse;
#[cfg(feature = "testing")]
pub mod testing;
mod transport;
mod url;

pub use auth::{AuthorizationHandler, AuthorizationRequest, Authorizer, ImmediateRedirect};
pub use cache::CacheStats;
pub use catalog::{
    Gathered, Merged, MergedPrompt, MergedResource, MergedTemplate, MergedTool, ServerOutcome, ServerResources, Status,
    UriRoute, match_template,
};
pub use catalog::{ToolMatch, ToolQuery};
pub use client::{Client, ClientBuilder, DEFAULT_MAX_PAGES, HealthCheck, TaskHandle};
pub use config::{
    AuthConfig, ClientCredentialsConfig, Config, ConfigBuilder, ConfigFormat, DEFAULT_CACHE_MAX_BYTES,
    DEFAULT_CACHE_TTL, DEFAULT_MAX_CONCURRENT_CONNECTIONS, DEFAULT_MAX_LISTING_BYTES, DEFAULT_MAX_LISTING_ITEMS,
    DEFAULT_REDIRECT_PORT, DEFAULT_TIMEOUT, Headers, NameFilter, Naming, OAuthConfig, Orchestration, ProtocolChoice,
    Secret, ServerConfig, Transport,
};
pub use deadline::Phase;
pub use error::{Error, ErrorKind, Result};
pub use handlers::{
    CreateMessageRequest, CreateMessageResult, ElicitAction, ElicitRequest, ElicitResult, ElicitationHandler,
    HandlerError, Handlers, RequestContext, Root, RootsHandler, SamplingHandler, UrlElicitRequest,
    UrlElicitationHandler,
};
pub use jsonrpc::RequestId;
pub use op::{OP_ID_HEADER, OpId};
pub use orchestrator::{ConfigChanges, EXECUTE_QUERY, Orchestrator, ProgressEvent, ProgressStage, ServerStatus};
pub use protocol::{
    Annotations, CallToolResult, Content, ContentsBody, DiscoverResult, GetPromptResult, Icon, Implementation,
    InitializeResult, ListChangedCapability, LoggingLevel, MODERN_PROTOCOL_VERSIONS, PROTOCOL_VERSIONS, Prompt,
    PromptArgument, PromptMessage, Resource, ResourceContents, ResourceTemplate, ResourcesCapability,
    SUPPORTED_PROTOCOL_VERSIONS, ServerCapabilities, TaskInfo, TaskStatus, Tool, UI_EXTENSION, UI_MIME_TYPE,
    Visibility, is_safe_icon_src,
};
pub use schema::{Schema, SchemaError, Violation};
/// JSON values, for tool arguments and results (`serde_json`'s, re-exported so that a program
/// needs no `serde_json` dependency of its own).
pub use serde_json::{Value, json};
pub use transport::Notification;

/// The README's examples, compiled and run as doctests (they start the test server).
#[cfg(all(doctest, feature = "testing"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
