//! The YAML schema, validated into a [`Config`]; defaults; `${VAR}` expansion.
//!
//! (Parsing and validation: see the config issue. The types below are the contract the rest of
//! the crate is written against.)

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Default per-server timeout (`timeout`), and default `request_timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `resource_cache_ttl`.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);
/// Default `cache_max_bytes` (100 MiB).
pub const DEFAULT_CACHE_MAX_BYTES: usize = 100 * 1024 * 1024;
/// Default `max_concurrent_connections`.
pub const DEFAULT_MAX_CONCURRENT_CONNECTIONS: usize = 10;

/// A validated configuration: the servers and the orchestration settings.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// The servers, in priority order (lowest number first, ties by name).
    pub servers: Vec<ServerConfig>,
    /// How the orchestrator behaves.
    pub orchestration: Orchestration,
}

/// One server of the `mcp_servers` map.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Its key in `mcp_servers`.
    pub name: String,
    /// How to reach it.
    pub transport: Transport,
    /// Lower number = higher priority.
    pub priority: u32,
    /// The data domains it serves.
    pub domains: Vec<String>,
    /// What it may be used for (`execute_query`, `list_resources`, …).
    pub capabilities: Vec<String>,
    /// Deadline for connecting and for each request (`timeout`, default 30 s).
    pub timeout: Duration,
    /// Extra HTTP headers (values may come from `${VAR}`); redacted in Debug output and logs.
    pub headers: Headers,
    /// `false` leaves the server out entirely.
    pub enabled: bool,
    /// Whether a gather reads the contents of each resource (default true).
    pub read_contents: bool,
}

/// How to reach a server.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Transport {
    /// The legacy HTTP+SSE transport (`transport: "sse"`): `url` is the SSE endpoint.
    Sse {
        /// The SSE URL (http or https).
        url: String,
    },
    /// Streamable HTTP (`transport: "streamable_http"`): `url` is the MCP endpoint.
    StreamableHttp {
        /// The MCP endpoint URL (http or https).
        url: String,
    },
    /// A child process speaking newline-delimited JSON-RPC on stdin/stdout (`transport: "stdio"`).
    Stdio {
        /// The program.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Extra environment variables (values may come from `${VAR}`).
        env: BTreeMap<String, String>,
        /// Its working directory.
        cwd: Option<PathBuf>,
    },
}

impl Transport {
    /// The config's name for the transport: `sse`, `streamable_http`, `stdio`.
    pub fn kind(&self) -> &'static str {
        match self {
            Transport::Sse { .. } => "sse",
            Transport::StreamableHttp { .. } => "streamable_http",
            Transport::Stdio { .. } => "stdio",
        }
    }
}

/// HTTP headers whose values are secrets: `Debug` shows names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// No headers.
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

    /// Adds a header (replacing one of the same name, case-insensitively).
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.0.push((name, value.into()));
    }

    /// The headers, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter().map(|(n, _)| (n, "<redacted>"))).finish()
    }
}

/// The `orchestration` section.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Orchestration {
    /// How long gathered resources stay fresh (`resource_cache_ttl`, seconds; default 300).
    pub resource_cache_ttl: Duration,
    /// Fail the whole call at the first server failure (default true).
    pub fail_fast: bool,
    /// The log level the config asks for (default info). Applied by the CLI, or by a program
    /// that calls [`Orchestration::log_level`]; the library never installs a logger.
    pub log_level: log::LevelFilter,
    /// The most servers connected or fetched at once (default 10).
    pub max_concurrent_connections: usize,
    /// The cache's byte budget (default 100 MiB).
    pub cache_max_bytes: usize,
    /// The default deadline of one request, for servers without their own `timeout` (default 30 s).
    pub request_timeout: Duration,
}

impl Default for Orchestration {
    fn default() -> Self {
        Orchestration {
            resource_cache_ttl: DEFAULT_CACHE_TTL,
            fail_fast: true,
            log_level: log::LevelFilter::Info,
            max_concurrent_connections: DEFAULT_MAX_CONCURRENT_CONNECTIONS,
            cache_max_bytes: DEFAULT_CACHE_MAX_BYTES,
            request_timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl ServerConfig {
    /// A server with the defaults: priority 0, no domains or capabilities, 30 s timeout,
    /// enabled, contents read.
    pub fn new(name: impl Into<String>, transport: Transport) -> ServerConfig {
        ServerConfig {
            name: name.into(),
            transport,
            priority: 0,
            domains: Vec::new(),
            capabilities: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            headers: Headers::new(),
            enabled: true,
            read_contents: true,
        }
    }

    /// A server over the legacy HTTP+SSE transport, with the defaults of [`ServerConfig::new`].
    pub fn sse(name: impl Into<String>, url: impl Into<String>) -> ServerConfig {
        ServerConfig::new(name, Transport::Sse { url: url.into() })
    }
}
