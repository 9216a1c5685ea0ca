//! The YAML schema, validated into a [`Config`]; defaults; `${VAR}` expansion. The other
//! clients' JSON formats are in `config/json.rs` (chosen by content in [`Config::from_path`]);
//! how several problems are reported, with snippets, in `config/report.rs`.
//!
//! Each server and the `orchestration` section are validated separately, and every problem
//! found is reported in one [`Error::Config`] (a syntax, unknown-key or wrong-type error stops
//! the parse, so it is reported alone).
//!
//! Parsing goes in two steps. serde-saphyr deserializes the document into private "raw" structs
//! (`#[serde(deny_unknown_fields)]`, every value wrapped in [`serde_saphyr::Spanned`] where a
//! later check may need to point at it); then the raw values are validated into a [`Config`].
//! Every error is an [`Error::Config`] carrying a 1-based line and column:
//!
//! - syntax errors, unknown keys, duplicate keys and values of the wrong type come from
//!   serde-saphyr's error location (`serde_saphyr::Error::location`), with the message rewritten
//!   to name the key, the server and the allowed alternatives;
//! - errors found while validating (a bad URL, a negative priority, an unset `${VAR}`, a key
//!   that does not belong to the server's transport) point at the offending value's span. For a
//!   block-style list or map (`headers:` followed by indented lines) the span serde-saphyr gives
//!   is that of the first entry; we then point at the key instead, found by checking that the
//!   nearest preceding non-blank, non-comment line is `key:`; otherwise at the first entry;
//! - errors about a server as a whole (a missing required key) point at the server's name.
//!
//! `${NAME}` is replaced by the environment variable `NAME` (letters, digits and `_`, not
//! starting with a digit) in `url`, header values, `command`, `args`, `env` values and `cwd`.
//! `$${` stands for a literal `${`; any other `$` is kept as it is. An unset variable is an
//! error naming the variable, the key and the line.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use crate::error::{Error, Result};

mod auth;
mod auth_settings;
use crate::url::{Url, redacted};

mod json;
mod naming;
mod redact;
mod report;

pub use auth_settings::{AuthConfig, ClientCredentialsConfig, DEFAULT_REDIRECT_PORT, OAuthConfig, Secret};
pub use naming::{NameFilter, Naming};
pub(crate) use report::combine;

/// Default per-server timeout (`timeout`), and default `request_timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `resource_cache_ttl`.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);
/// Default `cache_max_bytes` (100 MiB).
pub const DEFAULT_CACHE_MAX_BYTES: usize = 100 * 1024 * 1024;
/// Default `max_concurrent_connections`.
pub const DEFAULT_MAX_CONCURRENT_CONNECTIONS: usize = 10;
/// Default `max_listing_bytes`: the most JSON one paged listing may gather (64 MiB).
pub const DEFAULT_MAX_LISTING_BYTES: usize = 64 * 1024 * 1024;
/// Default `max_listing_items`: the most items one paged listing may gather.
pub const DEFAULT_MAX_LISTING_ITEMS: usize = 100_000;

/// A validated configuration: the servers and the orchestration settings.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// The servers, in priority order (lowest number first, ties by name).
    pub servers: Vec<ServerConfig>,
    /// How the orchestrator behaves.
    pub orchestration: Orchestration,
    /// The format it was read from.
    format: ConfigFormat,
}

/// Two configs are equal when their servers and orchestration are (whatever their format).
impl PartialEq for Config {
    fn eq(&self, other: &Config) -> bool {
        self.servers == other.servers && self.orchestration == other.orchestration
    }
}

/// The format a [`Config`] was read from ([`Config::format`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigFormat {
    /// This crate's YAML (`mcp_servers:`), talk-2-tables' `mcp_config.yaml` included.
    Yaml,
    /// The `mcpServers` JSON of Claude Desktop, Claude Code (`.mcp.json`), Cursor and others.
    McpServersJson,
    /// VS Code's `servers` JSON (`.vscode/mcp.json`, or `mcp.servers` in `settings.json`).
    VsCodeJson,
    /// Built in code ([`Config::new`], [`Config::builder`]).
    Code,
}

/// One server of the `mcp_servers` map.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Its key in `mcp_servers` (`mcpServers`, `servers`): how errors, logs and results name it.
    pub name: String,
    /// A human-readable name (`name:` inside the server, as talk-2-tables writes it), shown
    /// next to the key by the CLI's `check` and `status`; the key stays the identifier.
    pub display_name: Option<String>,
    /// How to reach it.
    pub transport: Transport,
    /// Lower number = higher priority.
    pub priority: u32,
    /// The data domains it serves.
    pub domains: Vec<String>,
    /// What it may be used for (`execute_query`, `list_resources`, …).
    pub capabilities: Vec<String>,
    /// Deadline for connecting, for each request, for a whole paged listing, and for this
    /// server's part of a gather (`timeout`, default 30 s).
    pub timeout: Duration,
    /// Extra HTTP headers (values may come from `${VAR}`); redacted in Debug output and logs.
    pub headers: Headers,
    /// `false` leaves the server out entirely.
    pub enabled: bool,
    /// Whether a gather reads the contents of each resource (default true).
    pub read_contents: bool,
    /// The most bytes of results one paged listing (`resources/list`, …) may gather from this
    /// server before it fails with [`Error::Limit`](crate::Error::Limit) (`max_listing_bytes`;
    /// default: the orchestration's, 64 MiB).
    pub max_listing_bytes: usize,
    /// The most items one paged listing may gather (`max_listing_items`; default: the
    /// orchestration's, 100 000).
    pub max_listing_items: usize,
    /// Which of its tools enter the catalogue (`tools: {include: [...], exclude: [...]}`, glob
    /// patterns; default: all).
    pub tools: NameFilter,
    /// Which of its prompts enter the catalogue (`prompts: {include, exclude}`; default: all).
    pub prompts: NameFilter,
    /// How the server is authorized (`auth`; HTTP transports only): see `config/auth.rs`.
    pub auth: Option<AuthConfig>,
    /// What the loader assumed or left out (a priority from file order, a transport guessed
    /// from the URL, a key only another client uses); see [`ServerConfig::notes`].
    notes: Vec<String>,
    /// Which MCP protocol to speak (`protocol`; default [`ProtocolChoice::Auto`]: detect).
    pub protocol: ProtocolChoice,
}

/// The `protocol` key: detect the server's protocol, or speak one version only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolChoice {
    /// `auto` (the default): try the 2026-07-28 wire (`server/discover`), fall back to the
    /// `initialize` handshake (and, for `transport: http`, to legacy HTTP+SSE).
    #[default]
    Auto,
    /// A pinned version: one of [`PROTOCOL_VERSIONS`](crate::PROTOCOL_VERSIONS). The
    /// 2026-07-28 wire does no fallback; a handshake version skips the `server/discover` probe.
    Version(String),
}

/// How to reach a server. `Debug` shows URLs redacted (no user info, no query string).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum Transport {
    /// The legacy HTTP+SSE transport (`transport: "sse"`): `url` is the SSE endpoint.
    Sse {
        /// The SSE URL (http or https).
        url: String,
    },
    /// Streamable HTTP (`transport: "streamable_http"`, or the SDKs' `"streamable-http"`):
    /// `url` is the MCP endpoint.
    StreamableHttp {
        /// The MCP endpoint URL (http or https).
        url: String,
    },
    /// Detect the HTTP transport (`transport: "http"`): Streamable HTTP on the 2026-07-28 wire,
    /// else Streamable HTTP with `initialize`, else legacy HTTP+SSE.
    Http {
        /// The server's URL (http or https).
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

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::Sse { url } => f.debug_struct("Sse").field("url", &redacted(url)).finish(),
            Transport::StreamableHttp { url } => f.debug_struct("StreamableHttp").field("url", &redacted(url)).finish(),
            Transport::Http { url } => f.debug_struct("Http").field("url", &redacted(url)).finish(),
            Transport::Stdio { command, args, env, cwd } => f
                .debug_struct("Stdio")
                .field("command", &redact::redact_word(command))
                .field("args", &redact::redact_command_line(args.iter().map(String::as_str)))
                .field("env", &env.keys().map(|k| (k, "<redacted>")).collect::<BTreeMap<_, _>>())
                .field("cwd", cwd)
                .finish(),
        }
    }
}

impl Transport {
    /// The config's name for the transport: `sse`, `streamable_http`, `http`, `stdio`.
    pub fn kind(&self) -> &'static str {
        match self {
            Transport::Sse { .. } => "sse",
            Transport::StreamableHttp { .. } => "streamable_http",
            Transport::Http { .. } => "http",
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
    /// The log level the config asks for, if it names one (`None` when the key is absent, so
    /// a program can apply its own default). The CLI applies it; a program may read it to
    /// configure its own logger. The library never installs a logger.
    pub log_level: Option<log::LevelFilter>,
    /// The most servers connected or fetched at once (default 10).
    pub max_concurrent_connections: usize,
    /// The cache's byte budget (default 100 MiB).
    pub cache_max_bytes: usize,
    /// The default deadline of one request, for servers without their own `timeout` (default 30 s).
    pub request_timeout: Duration,
    /// The default of each server's `max_listing_bytes` (default 64 MiB).
    pub max_listing_bytes: usize,
    /// The default of each server's `max_listing_items` (default 100 000).
    pub max_listing_items: usize,
    /// How the catalogue names tools and prompts (`naming`: `priority`, `prefix`,
    /// `prefix_on_collision`; default `priority`).
    pub naming: Naming,
    /// Between a server's name and a tool's or prompt's under prefixed naming (`separator`,
    /// default `_`).
    pub separator: String,
    /// How many times a dead session is re-established for one call before the call fails
    /// (`max_retries`, default 3; 0: a dead session fails the call and is retried by the next).
    pub max_retries: u32,
    /// The first back-off between reconnect attempts to one server (`backoff_min`, seconds,
    /// default 0.1); it doubles per failed attempt, with jitter, up to `backoff_max`.
    pub backoff_min: Duration,
    /// The longest back-off (`backoff_max`, seconds, default 30).
    pub backoff_max: Duration,
    /// When a server's refresh fails, serve its last good data marked stale instead of
    /// dropping its part of the catalogue (`serve_stale`, default true).
    pub serve_stale: bool,
    /// Keep a `subscriptions/listen` stream open to each 2026-07-28 server that advertises list
    /// changes, so that its change notifications drop its cache entry and reach subscribers
    /// (`listen_for_changes`, default true). A one-shot program (the command line) turns it off:
    /// it saves a connection and a thread per server. Handshake-era servers send their
    /// notifications on the session's own stream either way.
    pub listen_for_changes: bool,
}

/// Default `max_retries`.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// Default `backoff_min`.
pub const DEFAULT_BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Default `backoff_max`.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(30);

impl Default for Orchestration {
    fn default() -> Self {
        Orchestration {
            resource_cache_ttl: DEFAULT_CACHE_TTL,
            fail_fast: true,
            log_level: None,
            max_concurrent_connections: DEFAULT_MAX_CONCURRENT_CONNECTIONS,
            cache_max_bytes: DEFAULT_CACHE_MAX_BYTES,
            request_timeout: DEFAULT_TIMEOUT,
            max_listing_bytes: DEFAULT_MAX_LISTING_BYTES,
            max_listing_items: DEFAULT_MAX_LISTING_ITEMS,
            naming: Naming::Priority,
            separator: "_".into(),
            max_retries: DEFAULT_MAX_RETRIES,
            backoff_min: DEFAULT_BACKOFF_MIN,
            backoff_max: DEFAULT_BACKOFF_MAX,
            serve_stale: true,
            listen_for_changes: true,
        }
    }
}

impl ServerConfig {
    /// A server with the defaults: priority 0, no domains or capabilities, 30 s timeout,
    /// enabled, contents read, the default listing budget.
    pub fn new(name: impl Into<String>, transport: Transport) -> ServerConfig {
        ServerConfig {
            name: name.into(),
            display_name: None,
            transport,
            priority: 0,
            domains: Vec::new(),
            capabilities: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            headers: Headers::new(),
            enabled: true,
            read_contents: true,
            max_listing_bytes: DEFAULT_MAX_LISTING_BYTES,
            max_listing_items: DEFAULT_MAX_LISTING_ITEMS,
            tools: NameFilter::default(),
            prompts: NameFilter::default(),
            auth: None,
            notes: Vec::new(),
            protocol: ProtocolChoice::Auto,
        }
    }

    /// What the loader assumed or left out for this server, one sentence each: a priority
    /// taken from file order (formats without priorities), a transport guessed from the URL, a
    /// key ignored because only another client uses it. Empty for a server built in code or
    /// written out in full.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// A server over the legacy HTTP+SSE transport, with the defaults of [`ServerConfig::new`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use mcp_orchestrator::{Config, ServerConfig};
    ///
    /// let config = Config::builder()
    ///     .server(
    ///         ServerConfig::sse("database_mcp", "http://localhost:8000/sse")
    ///             .priority(10)
    ///             .capabilities(["execute_query", "list_resources"])
    ///             .domains(["sales", "orders"])
    ///             .header("Authorization", "Bearer secret")
    ///             .timeout(Duration::from_secs(5)),
    ///     )
    ///     .server(ServerConfig::streamable_http("search", "http://localhost:8100/mcp").priority(1))
    ///     .server(ServerConfig::stdio("files", "python", ["-m", "files_mcp"]).env("LOG", "info").priority(20))
    ///     .fail_fast(false)
    ///     .build()?;
    /// assert_eq!(config.servers[0].name, "search");
    /// # Ok::<(), mcp_orchestrator::Error>(())
    /// ```
    pub fn sse(name: impl Into<String>, url: impl Into<String>) -> ServerConfig {
        ServerConfig::new(name, Transport::Sse { url: url.into() })
    }

    /// A server over Streamable HTTP (`url` is the MCP endpoint), with the defaults of
    /// [`ServerConfig::new`].
    pub fn streamable_http(name: impl Into<String>, url: impl Into<String>) -> ServerConfig {
        ServerConfig::new(name, Transport::StreamableHttp { url: url.into() })
    }

    /// A server over HTTP whose transport is detected (`transport: http` in a config file, the
    /// default for an HTTP URL in the other clients' configs): Streamable HTTP on the 2026-07-28
    /// wire, else Streamable HTTP with `initialize`, else legacy HTTP+SSE. The verdict is
    /// remembered per URL for the process's life.
    pub fn http(name: impl Into<String>, url: impl Into<String>) -> ServerConfig {
        ServerConfig::new(name, Transport::Http { url: url.into() })
    }

    /// A server started as a child process, speaking JSON-RPC on its stdin and stdout.
    pub fn stdio(
        name: impl Into<String>,
        command: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> ServerConfig {
        let args = args.into_iter().map(Into::into).collect();
        ServerConfig::new(name, Transport::Stdio { command: command.into(), args, env: BTreeMap::new(), cwd: None })
    }

    /// Sets the priority (lower number = higher priority).
    pub fn priority(mut self, priority: u32) -> ServerConfig {
        self.priority = priority;
        self
    }

    /// Sets what it may be used for (`execute_query` makes it an executor candidate).
    pub fn capabilities(mut self, capabilities: impl IntoIterator<Item = impl Into<String>>) -> ServerConfig {
        self.capabilities = capabilities.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the data domains it serves.
    pub fn domains(mut self, domains: impl IntoIterator<Item = impl Into<String>>) -> ServerConfig {
        self.domains = domains.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the deadline for connecting, for each request and for its part of a gather.
    pub fn timeout(mut self, timeout: Duration) -> ServerConfig {
        self.timeout = timeout;
        self
    }

    /// Adds an HTTP header (replacing one of the same name); its value is a secret, never
    /// logged. Headers on a stdio server are an error of [`Config::new`].
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> ServerConfig {
        self.headers.insert(name, value);
        self
    }

    /// Sets how the server is authorized (the config's `auth` block): a bearer token, client
    /// credentials or the authorization code flow. An `auth` on a stdio server is an error of
    /// [`Config::new`].
    ///
    /// ```
    /// use mcp_orchestrator::{AuthConfig, ClientCredentialsConfig, ServerConfig};
    ///
    /// let server = ServerConfig::http("reports", "https://mcp.example.com/mcp")
    ///     .auth(AuthConfig::ClientCredentials(ClientCredentialsConfig::with_secret("batch-job", "s3cret")));
    /// # let _ = server;
    /// ```
    pub fn auth(mut self, auth: AuthConfig) -> ServerConfig {
        self.auth = Some(auth);
        self
    }

    /// Sets whether the server is used at all (`false` leaves it out).
    pub fn enabled(mut self, enabled: bool) -> ServerConfig {
        self.enabled = enabled;
        self
    }

    /// Sets whether a gather reads the contents of each resource.
    pub fn read_contents(mut self, read_contents: bool) -> ServerConfig {
        self.read_contents = read_contents;
        self
    }

    /// Sets the human-readable name shown next to the key.
    pub fn display_name(mut self, display_name: impl Into<String>) -> ServerConfig {
        self.display_name = Some(display_name.into());
        self
    }

    /// Sets the listing budget: the most result bytes and items one paged listing may gather.
    pub fn listing_budget(mut self, max_bytes: usize, max_items: usize) -> ServerConfig {
        self.max_listing_bytes = max_bytes;
        self.max_listing_items = max_items;
        self
    }

    /// Adds an environment variable for a stdio server's process (ignored by the other
    /// transports).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> ServerConfig {
        if let Transport::Stdio { env, .. } = &mut self.transport {
            env.insert(name.into(), value.into());
        }
        self
    }

    /// Sets a stdio server's working directory (ignored by the other transports).
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> ServerConfig {
        if let Transport::Stdio { cwd, .. } = &mut self.transport {
            *cwd = Some(dir.into());
        }
        self
    }

    /// The server's URL as it may be shown (in a table, a log, an error): origin and path, no
    /// user info, a query string as `?…`. `None` for a stdio server.
    ///
    /// ```
    /// # use mcp_orchestrator::ServerConfig;
    /// let s = ServerConfig::sse("db", "https://user:pw@example.com/sse?api_key=SECRET");
    /// let shown = s.redacted_url().unwrap();
    /// assert!(!shown.contains("pw") && !shown.contains("SECRET"), "{shown}");
    /// ```
    pub fn redacted_url(&self) -> Option<String> {
        match &self.transport {
            Transport::Sse { url } | Transport::StreamableHttp { url } | Transport::Http { url } => Some(redacted(url)),
            Transport::Stdio { .. } => None,
        }
    }

    /// A stdio server's command line as it may be shown (in a table, a log, an error): the
    /// program, then its arguments, with what looks secret replaced by `***`. `None` for an
    /// HTTP server (see [`redacted_url`](Self::redacted_url)).
    ///
    /// The rule, per argument: the value of a flag whose name holds a secret word (`--token
    /// xyz`, `--api-key=xyz`), of an assignment (`GITHUB_TOKEN=xyz`) or a header (`Authorization:
    /// Bearer xyz`) whose name does, a URL's user info and query string, and a value that looks
    /// like a token by itself (`ghp_…`, `github_pat_…`, `sk-…`, `xoxb-…`, `AKIA…`, a JWT,
    /// `Bearer …`). Secret words, case-insensitive, anywhere in the name: auth, token, secret,
    /// password, passwd, pwd, key, cookie, credential, bearer. It over-redacts rather than
    /// under-redacts, and it is best effort: keep secrets in `env`, whose values are never shown.
    ///
    /// ```
    /// # use mcp_orchestrator::ServerConfig;
    /// let s = ServerConfig::stdio("gh", "npx", ["-y", "server-github", "--token", "ghp_SECRET1234", "--port", "1"]);
    /// assert_eq!(s.redacted_command_line().unwrap(), ["npx", "-y", "server-github", "--token", "***", "--port", "1"]);
    /// ```
    pub fn redacted_command_line(&self) -> Option<Vec<String>> {
        match &self.transport {
            Transport::Stdio { command, args, .. } => Some(redact::redact_command_line(
                std::iter::once(command.as_str()).chain(args.iter().map(String::as_str)),
            )),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Public API: building a Config
// ---------------------------------------------------------------------------------------------

/// The transports the config accepts, as spelled in `transport:`.
const TRANSPORTS: &[&str] = &["http", "sse", "streamable_http", "streamable-http", "stdio"];
/// The values `protocol` accepts.
const PROTOCOLS: &[&str] = &["auto", "2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
/// The log levels `log_level` accepts (case-insensitively).
const LOG_LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "OFF"];

impl Config {
    /// A configuration built in code: checks what the YAML loader checks (at least one server,
    /// unique non-empty names, http(s) URLs, a command for stdio, header names and values,
    /// timeouts > 0, `max_concurrent_connections` >= 1) and sorts the servers by
    /// (priority, name).
    ///
    /// Errors are [`Error::Config`] without a line or column.
    pub fn new(servers: Vec<ServerConfig>, orchestration: Orchestration) -> Result<Config> {
        if servers.is_empty() {
            return Err(unlocated("no servers: configure at least one server"));
        }
        validate_orchestration(&orchestration).map_err(unlocated)?;
        let mut seen = std::collections::BTreeSet::new();
        for server in &servers {
            if !seen.insert(server.name.as_str()) {
                return Err(unlocated(format!("duplicate server `{}`", server.name)));
            }
            validate_server(server).map_err(unlocated)?;
        }
        let mut config = Config::sorted(servers, orchestration);
        config.format = ConfigFormat::Code;
        Ok(config)
    }

    /// A builder: servers and orchestration settings in code, validated by
    /// [`ConfigBuilder::build`] (see [`ServerConfig::sse`] for an example).
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder { servers: Vec::new(), orchestration: Orchestration::default() }
    }

    /// Parses and validates a YAML document; `${VAR}` is taken from the process environment.
    ///
    /// ```
    /// let config = mcp_orchestrator::Config::from_yaml_str(
    ///     "mcp_servers:\n  db:\n    url: http://localhost:8000/sse\n    priority: 1\n    transport: sse\n",
    /// )?;
    /// assert_eq!(config.servers[0].name, "db");
    /// # Ok::<(), mcp_orchestrator::Error>(())
    /// ```
    pub fn from_yaml_str(text: &str) -> Result<Config> {
        Config::from_yaml_str_with_env(text, |name| std::env::var(name).ok())
    }

    /// Parses and validates a YAML document, taking `${VAR}` from `lookup` (a variable for
    /// which it returns `None` is unset). [`Config::from_yaml_str`] uses the process
    /// environment; this lets tests and embedders supply their own.
    pub fn from_yaml_str_with_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Config> {
        Config::yaml(text, &lookup).map_err(|e| report::with_snippets(text, e))
    }

    /// Parses and validates, reporting every problem: after an unknown key, a duplicate key or
    /// a value of the wrong type on a `key: value` line of its own, that line is set aside and
    /// the document parsed again (at most 50 times), so that the next such problem and the
    /// validation problems are found too. A syntax error stops there.
    fn yaml(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
        let mut problems: Vec<Error> = Vec::new();
        // (message prefix, key) of each line set aside: its absence is not a problem.
        let mut removed: Vec<(String, String)> = Vec::new();
        let mut current = text.to_owned();
        for _ in 0..50 {
            match parse_raw(&current) {
                Ok(raw) => {
                    let built = build(&current, raw, lookup);
                    let suppressed = |e: &Error| {
                        let Error::Config { message, .. } = e else { return false };
                        (!removed.is_empty() && message.contains("`mcp_servers` is empty"))
                            || removed.iter().any(|(prefix, key)| {
                                message.starts_with(prefix.as_str())
                                    && message.contains(&format!("missing required key `{key}`"))
                            })
                    };
                    match built {
                        Ok(config) if problems.is_empty() => return Ok(config),
                        Ok(_) => {}
                        Err(e) => {
                            problems.extend(e.config_problems().into_iter().filter(|e| !suppressed(e)));
                        }
                    }
                    return Err(combine(problems));
                }
                Err((e, recoverable)) => {
                    let e = *e;
                    let set_aside = match &e {
                        Error::Config { line: Some(line), .. } if recoverable => set_aside(&mut current, *line),
                        _ => None,
                    };
                    let prefix = match &e {
                        Error::Config { message, .. } => {
                            message.find("`: ").map(|i| message[..i + 3].to_owned()).unwrap_or_default()
                        }
                        _ => String::new(),
                    };
                    problems.push(e);
                    match set_aside {
                        Some(key) => removed.push((prefix, key)),
                        None => return Err(combine(problems)),
                    }
                }
            }
        }
        Err(combine(problems))
    }

    /// Parses and validates a document in any of the formats this crate reads, recognised by
    /// its content: this crate's YAML, the `mcpServers` JSON of Claude Desktop, Claude Code and
    /// Cursor, VS Code's `servers` JSON (see [`ConfigFormat`]). Variables come from `lookup`.
    ///
    /// `${workspaceFolder}` and a relative `envFile` need the file's location: use
    /// [`Config::from_path`] for them.
    pub fn from_str_with_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Config> {
        Config::load(text, None, &lookup)
    }

    fn load(text: &str, dir: Option<&Path>, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
        let cx = json::Context { dir: dir.map(Path::to_path_buf), lookup };
        let loaded = match json::try_load(text, &cx) {
            Some(result) => result.map(|(mut config, flavor)| {
                config.format = match flavor {
                    json::Flavor::McpServers => ConfigFormat::McpServersJson,
                    json::Flavor::VsCode => ConfigFormat::VsCodeJson,
                };
                config
            }),
            None => Config::yaml(text, lookup),
        };
        loaded.map_err(|e| report::with_snippets(text, e))
    }

    /// Reads, parses and validates a config file in any format [`Config::from_str_with_env`]
    /// reads, whatever its name; `${VAR}` is taken from the process environment.
    ///
    /// Every error (I/O or content, and each of several problems) names the path at the start
    /// of its message.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Config> {
        Config::from_path_with_env(path, |name| std::env::var(name).ok())
    }

    /// [`Config::from_path`], taking variables from `lookup`.
    pub fn from_path_with_env(path: impl AsRef<Path>, lookup: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|e| unlocated(format!("cannot read `{}`: {e}", path.display())))?;
        // `${workspaceFolder}` is absolute, as in the editors, whatever the current directory.
        let dir = path.parent().map(|d| if d.as_os_str().is_empty() { Path::new(".") } else { d });
        let dir = dir.map(|d| std::path::absolute(d).unwrap_or_else(|_| d.to_path_buf()));
        Config::load(&text, dir.as_deref(), &lookup).map_err(|e| report::prefix(e, &format!("`{}`: ", path.display())))
    }

    /// The format the config was read from.
    pub fn format(&self) -> ConfigFormat {
        self.format
    }

    /// The servers with `enabled: true`, in priority order.
    pub fn enabled_servers(&self) -> impl Iterator<Item = &ServerConfig> + '_ {
        self.servers.iter().filter(|s| s.enabled)
    }

    /// The server of that name, if there is one (enabled or not).
    pub fn server(&self, name: &str) -> Option<&ServerConfig> {
        self.servers.iter().find(|s| s.name == name)
    }

    fn sorted(mut servers: Vec<ServerConfig>, orchestration: Orchestration) -> Config {
        servers.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        Config { servers, orchestration, format: ConfigFormat::Yaml }
    }
}

/// Builds a [`Config`] in code ([`Config::builder`]): servers, then orchestration settings
/// (each defaulting as in the YAML), then [`ConfigBuilder::build`].
#[derive(Clone, Debug)]
#[must_use]
pub struct ConfigBuilder {
    servers: Vec<ServerConfig>,
    orchestration: Orchestration,
}

impl ConfigBuilder {
    /// Adds a server.
    pub fn server(mut self, server: ServerConfig) -> ConfigBuilder {
        self.servers.push(server);
        self
    }

    /// Adds servers.
    pub fn servers(mut self, servers: impl IntoIterator<Item = ServerConfig>) -> ConfigBuilder {
        self.servers.extend(servers);
        self
    }

    /// How long gathered resources stay fresh (default 300 s).
    pub fn resource_cache_ttl(mut self, ttl: Duration) -> ConfigBuilder {
        self.orchestration.resource_cache_ttl = ttl;
        self
    }

    /// Whether the first server failure fails the whole call (default true).
    pub fn fail_fast(mut self, fail_fast: bool) -> ConfigBuilder {
        self.orchestration.fail_fast = fail_fast;
        self
    }

    /// The log level the program should apply (the library installs no logger).
    pub fn log_level(mut self, level: log::LevelFilter) -> ConfigBuilder {
        self.orchestration.log_level = Some(level);
        self
    }

    /// The most servers connected or fetched at once (default 10).
    pub fn max_concurrent_connections(mut self, n: usize) -> ConfigBuilder {
        self.orchestration.max_concurrent_connections = n;
        self
    }

    /// The cache's byte budget (default 100 MiB).
    pub fn cache_max_bytes(mut self, bytes: usize) -> ConfigBuilder {
        self.orchestration.cache_max_bytes = bytes;
        self
    }

    /// The timeout of servers that kept the default one ([`DEFAULT_TIMEOUT`]), applied by
    /// [`ConfigBuilder::build`].
    pub fn request_timeout(mut self, timeout: Duration) -> ConfigBuilder {
        self.orchestration.request_timeout = timeout;
        self
    }

    /// How many times a failed or broken server connection may be retried ([`Orchestration::max_retries`]).
    pub fn max_retries(mut self, retries: u32) -> ConfigBuilder {
        self.orchestration.max_retries = retries;
        self
    }

    /// Whether to keep a change-notification stream open to each 2026-07-28 server
    /// ([`Orchestration::listen_for_changes`]).
    pub fn listen_for_changes(mut self, listen: bool) -> ConfigBuilder {
        self.orchestration.listen_for_changes = listen;
        self
    }

    /// Validates as [`Config::new`] does and sorts the servers by (priority, name).
    pub fn build(self) -> Result<Config> {
        let timeout = self.orchestration.request_timeout;
        let servers = self
            .servers
            .into_iter()
            .map(|s| if s.timeout == DEFAULT_TIMEOUT { s.timeout(timeout) } else { s })
            .collect();
        Config::new(servers, self.orchestration)
    }
}

impl std::str::FromStr for Config {
    type Err = Error;

    /// [`Config::from_str_with_env`] with the process environment: any format, recognised by
    /// its content.
    fn from_str(text: &str) -> Result<Config> {
        Config::from_str_with_env(text, |name| std::env::var(name).ok())
    }
}

fn unlocated(message: impl Into<String>) -> Error {
    Error::Config { message: message.into(), line: None, column: None, snippet: None, more: Vec::new() }
}

/// A config error at a position (1-based; a zero line means unknown).
fn at(line: u64, column: u64, message: impl Into<String>) -> Error {
    let known = line > 0;
    Error::Config {
        message: message.into(),
        line: known.then_some(line as usize),
        column: (known && column > 0).then_some(column as usize),
        snippet: None,
        more: Vec::new(),
    }
}

fn at_loc(loc: &Location, message: impl Into<String>) -> Error {
    at(loc.line(), loc.column(), message)
}

fn at_pos((line, column): (u64, u64), message: impl Into<String>) -> Error {
    at(line, column, message)
}

// ---------------------------------------------------------------------------------------------
// Checks of a config built in code (the YAML loader makes the same checks on the raw values,
// with their locations; the tests check that whatever it accepts, Config::new accepts too)
// ---------------------------------------------------------------------------------------------

fn validate_orchestration(o: &Orchestration) -> std::result::Result<(), String> {
    if o.max_concurrent_connections == 0 {
        return Err("orchestration: `max_concurrent_connections` must be at least 1, got 0".into());
    }
    if o.request_timeout.is_zero() {
        return Err("orchestration: `request_timeout` must be greater than 0".into());
    }
    if o.max_listing_bytes == 0 || o.max_listing_items == 0 {
        return Err("orchestration: `max_listing_bytes` and `max_listing_items` must be at least 1".into());
    }
    if o.backoff_min > o.backoff_max {
        return Err("orchestration: `backoff_min` must not exceed `backoff_max`".into());
    }
    Ok(())
}

fn validate_server(s: &ServerConfig) -> std::result::Result<(), String> {
    let name = &s.name;
    if name.is_empty() {
        return Err("a server has an empty name".into());
    }
    if s.timeout.is_zero() {
        return Err(format!("server `{name}`: `timeout` must be greater than 0"));
    }
    if s.max_listing_bytes == 0 || s.max_listing_items == 0 {
        return Err(format!("server `{name}`: `max_listing_bytes` and `max_listing_items` must be at least 1"));
    }
    if let ProtocolChoice::Version(v) = &s.protocol
        && (v == "auto" || !PROTOCOLS.contains(&v.as_str()))
    {
        return Err(format!("server `{name}`: unknown protocol `{v}` (valid: {})", PROTOCOLS.join(", ")));
    }
    match &s.transport {
        Transport::Sse { url } | Transport::StreamableHttp { url } | Transport::Http { url } => {
            check_url(url).map_err(|why| format!("server `{name}`: `url` `{}` {why}", redacted(url)))?;
        }
        Transport::Stdio { command, env, cwd, .. } => {
            if !s.headers.is_empty() {
                return Err(format!("server `{name}`: headers are not allowed with transport `stdio`"));
            }
            if s.auth.is_some() {
                return Err(format!("server `{name}`: `auth` is not allowed with transport `stdio`"));
            }
            if command.trim().is_empty() {
                return Err(format!("server `{name}`: `command` is empty"));
            }
            for key in env.keys() {
                check_env_name(key).map_err(|why| format!("server `{name}`: `env` {why}"))?;
            }
            if cwd.as_ref().is_some_and(|c| c.as_os_str().is_empty()) {
                return Err(format!("server `{name}`: `cwd` is empty"));
            }
        }
    }
    let mut names: Vec<String> = Vec::new();
    for (header, value) in s.headers.iter() {
        check_header(header, value).map_err(|why| format!("server `{name}`: {why}"))?;
        let lower = header.to_ascii_lowercase();
        if names.contains(&lower) {
            return Err(format!("server `{name}`: duplicate header `{header}`"));
        }
        names.push(lower);
    }
    Ok(())
}

/// Checks an http(s) URL (see [`Url::parse`]); the reason reads after the URL.
fn check_url(url: &str) -> std::result::Result<(), String> {
    Url::parse(url).map(|_| ())
}

/// A header name must be an HTTP token; a value must not contain a line break or other
/// control character (it is never echoed: header values are secrets).
fn check_header(name: &str, value: &str) -> std::result::Result<(), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(format!("invalid header name `{name}`"));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!("the value of header `{name}` contains a line break or control character"));
    }
    Ok(())
}

fn check_env_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() || name.contains('=') || name.contains('\0') {
        return Err(format!("invalid variable name `{name}`"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ${VAR} expansion
// ---------------------------------------------------------------------------------------------

/// Why a `${…}` could not be expanded. No variant carries the text around it: that text may
/// be a secret.
#[derive(Debug, PartialEq)]
enum ExpandError {
    /// `${NAME}` with `NAME` unset.
    Unset(String),
    /// `${` without a closing `}`.
    Unterminated,
    /// `${…}` whose content is not a variable name.
    BadName(String),
}

/// Replaces `${NAME}` with `lookup(NAME)`; `$${` is a literal `${`; any other `$` stays.
fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> std::result::Result<String, ExpandError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(end) = tail.find('}') else {
                return Err(ExpandError::Unterminated);
            };
            let name = &tail[..end];
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(ExpandError::BadName(name.to_owned()));
            }
            match lookup(name) {
                Some(value) => out.push_str(&value),
                None => return Err(ExpandError::Unset(name.to_owned())),
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The raw document, as serde-saphyr deserializes it
// ---------------------------------------------------------------------------------------------

/// One server as written. Every key is optional here: required ones are checked afterwards,
/// so that the error can name the server and point at it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    name: Option<String>,
    url: Option<Spanned<String>>,
    priority: Option<Spanned<i64>>,
    domains: Option<Vec<String>>,
    capabilities: Option<Vec<String>>,
    transport: Option<Spanned<String>>,
    timeout: Option<Spanned<f64>>,
    headers: Option<Spanned<Entries<Spanned<String>>>>,
    enabled: Option<bool>,
    read_contents: Option<bool>,
    max_listing_bytes: Option<Spanned<i64>>,
    max_listing_items: Option<Spanned<i64>>,
    protocol: Option<Spanned<String>>,
    tools: Option<RawFilter>,
    prompts: Option<RawFilter>,
    command: Option<Spanned<String>>,
    args: Option<Spanned<Vec<Spanned<String>>>>,
    env: Option<Spanned<Entries<Spanned<String>>>>,
    cwd: Option<Spanned<String>>,
    auth: Option<Spanned<auth::RawAuth>>,
}

/// The `orchestration` section as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrchestration {
    resource_cache_ttl: Option<Spanned<f64>>,
    fail_fast: Option<bool>,
    log_level: Option<Spanned<String>>,
    max_concurrent_connections: Option<Spanned<i64>>,
    cache_max_bytes: Option<Spanned<i64>>,
    request_timeout: Option<Spanned<f64>>,
    max_listing_bytes: Option<Spanned<i64>>,
    max_listing_items: Option<Spanned<i64>>,
    enable_logging: Option<bool>,
    naming: Option<Spanned<String>>,
    separator: Option<String>,
    max_retries: Option<Spanned<i64>>,
    backoff_min: Option<Spanned<f64>>,
    backoff_max: Option<Spanned<f64>>,
    serve_stale: Option<bool>,
    listen_for_changes: Option<bool>,
}

/// A server's `tools:` or `prompts:` filter as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFilter {
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
}

impl RawFilter {
    fn build(raw: Option<RawFilter>) -> NameFilter {
        raw.map(|f| NameFilter { include: f.include.unwrap_or_default(), exclude: f.exclude.unwrap_or_default() })
            .unwrap_or_default()
    }
}

/// A string-keyed map in document order (duplicate keys are rejected by serde-saphyr).
struct Entries<V>(Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct EntriesVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}

/// The servers as written, in document order, with their names' spans.
type RawServers = Vec<(Spanned<String>, Spanned<RawServer>)>;

/// The document: the `mcp_servers` key's location and its entries, and the `orchestration`
/// section.
#[derive(Default)]
struct RawDoc {
    /// Where the first top-level key is (for "missing `mcp_servers`").
    first_key: Option<Location>,
    servers: Option<(Location, RawServers)>,
    orchestration: Option<Spanned<RawOrchestration>>,
}

const TOP_KEYS: &[&str] = &["mcp_servers", "orchestration"];

/// Where the deserializer is, so that an error from serde-saphyr can name the server it is in.
#[derive(Clone, Default)]
enum Section {
    #[default]
    Top,
    /// Reading the names of `mcp_servers`.
    Servers,
    /// Inside the server of that name.
    Server(String),
    /// Inside `orchestration`.
    Orchestration,
}

/// State shared by the seeds below during one parse.
#[derive(Default)]
struct Ctx {
    section: RefCell<Section>,
    /// An error raised by our own visitors, with its location (serde's error type cannot carry
    /// ours); it takes precedence over the serde-saphyr error it caused.
    raised: RefCell<Option<Error>>,
}

impl Ctx {
    fn enter(&self, section: Section) {
        *self.section.borrow_mut() = section;
    }

    fn raise<E: de::Error>(&self, error: Error) -> E {
        let text = error.to_string();
        *self.raised.borrow_mut() = Some(error);
        E::custom(text)
    }
}

struct DocSeed<'c>(&'c Ctx);

impl<'de> DeserializeSeed<'de> for DocSeed<'_> {
    type Value = RawDoc;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> std::result::Result<RawDoc, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for DocSeed<'_> {
    type Value = RawDoc;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping with `mcp_servers`")
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<RawDoc, E> {
        Ok(RawDoc::default())
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<RawDoc, E> {
        Ok(RawDoc::default())
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> std::result::Result<RawDoc, D::Error> {
        deserializer.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<RawDoc, A::Error> {
        let ctx = self.0;
        let mut doc = RawDoc::default();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            doc.first_key.get_or_insert(key.referenced);
            match key.value.as_str() {
                "mcp_servers" => {
                    ctx.enter(Section::Servers);
                    let servers = map.next_value_seed(ServersSeed(ctx))?;
                    doc.servers = Some((key.referenced, servers));
                }
                "orchestration" => {
                    ctx.enter(Section::Orchestration);
                    doc.orchestration = map.next_value::<Option<Spanned<RawOrchestration>>>()?;
                }
                other => {
                    return Err(ctx.raise(at_loc(
                        &key.referenced,
                        format!("unknown top-level key `{other}` (allowed: {})", TOP_KEYS.join(", ")),
                    )));
                }
            }
            ctx.enter(Section::Top);
        }
        Ok(doc)
    }
}

struct ServersSeed<'c>(&'c Ctx);

impl<'de> DeserializeSeed<'de> for ServersSeed<'_> {
    type Value = RawServers;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ServersSeed<'_> {
    type Value = RawServers;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping of server names to servers")
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        let ctx = self.0;
        let mut servers = Vec::new();
        while let Some(name) = map.next_key::<Spanned<String>>()? {
            ctx.enter(Section::Server(name.value.clone()));
            let server = map.next_value::<Spanned<RawServer>>()?;
            servers.push((name, server));
            ctx.enter(Section::Servers);
        }
        Ok(servers)
    }
}

/// The document, or its first problem and whether it is one the parse can go on after (an
/// unknown or duplicate key, a value of the wrong type), rather than a syntax error.
fn parse_raw(text: &str) -> std::result::Result<RawDoc, (Box<Error>, bool)> {
    let ctx = Ctx::default();
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    let parsed =
        serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| DocSeed(&ctx).deserialize(de));
    match parsed {
        Ok(doc) => Ok(doc),
        Err(e) => {
            if let Some(raised) = ctx.raised.borrow_mut().take() {
                return Err((Box::new(raised), false));
            }
            let section = ctx.section.borrow().clone();
            let mut inner = e.without_snippet();
            while let serde_saphyr::Error::AliasError { error, .. } = inner {
                inner = error.without_snippet();
            }
            let recoverable = matches!(
                inner,
                serde_saphyr::Error::SerdeUnknownField { .. }
                    | serde_saphyr::Error::DuplicateMappingKey { .. }
                    | serde_saphyr::Error::InvalidScalar { .. }
                    | serde_saphyr::Error::Unexpected { .. }
                    | serde_saphyr::Error::SerdeInvalidType { .. }
            );
            Err((Box::new(translate(&e, &section, text)), recoverable))
        }
    }
}

/// Rewrites a serde-saphyr error into ours: names the server (or section), the key and the
/// alternatives; keeps serde-saphyr's line and column.
fn translate(e: &serde_saphyr::Error, section: &Section, text: &str) -> Error {
    use serde_saphyr::Error as E;
    use serde_saphyr::MessageFormatter;

    let mut inner = e.without_snippet();
    while let E::AliasError { error, .. } = inner {
        inner = error.without_snippet();
    }
    let prefix = match section {
        Section::Top => String::new(),
        Section::Servers => "mcp_servers: ".to_owned(),
        Section::Server(name) => format!("server `{name}`: "),
        Section::Orchestration => "orchestration: ".to_owned(),
    };
    // A value of the wrong type: name its key.
    let key = e
        .location()
        .and_then(|loc| key_at(text, loc.line() as usize, loc.column() as usize))
        .filter(|k| match section {
            Section::Top => true,
            Section::Servers => k != "mcp_servers",
            Section::Server(name) => k != name,
            Section::Orchestration => k != "orchestration",
        })
        .map(|k| format!("`{k}`: "))
        .unwrap_or_default();
    let message = match inner {
        E::SerdeUnknownField { field, expected, .. } => {
            format!("{prefix}unknown key `{field}` (allowed: {})", expected.join(", "))
        }
        E::DuplicateMappingKey { key, .. } => {
            let key = key.as_deref().unwrap_or("?");
            match section {
                Section::Servers => format!("duplicate server `{key}`"),
                _ => format!("{prefix}duplicate key `{key}`"),
            }
        }
        E::InvalidScalar { ty, .. } => format!("{prefix}{key}invalid value: expected {}", type_word(ty)),
        E::Unexpected { expected, .. } => format!("{prefix}{key}expected {}", structure_word(expected)),
        E::SerdeInvalidType { unexpected, expected, .. } => {
            format!("{prefix}{key}invalid type: expected {expected}, found {unexpected}")
        }
        other => {
            let text = serde_saphyr::UserMessageFormatter.format_message(other);
            format!("{prefix}{}", text.escape_debug())
        }
    };
    match e.location() {
        Some(loc) => at_loc(&loc, message),
        None => unlocated(message),
    }
}

/// Blanks line `line` (1-based) of `text` when it is an indented `key: value` line whose value
/// is all on it (the next line is not indented more); returns the key.
fn set_aside(text: &mut String, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let here = *lines.get(line.checked_sub(1)?)?;
    let indent = here.len() - here.trim_start().len();
    let trimmed = here.trim_start();
    if indent == 0 || trimmed.starts_with('-') || trimmed.starts_with('#') {
        return None;
    }
    let (key, value) = trimmed.split_once(':')?;
    let value = value.trim();
    if value.is_empty() || value.starts_with('#') || value.starts_with('|') || value.starts_with('>') {
        return None;
    }
    let next = lines[line..].iter().find(|l| {
        let t = l.trim_start();
        !t.is_empty() && !t.starts_with('#')
    });
    if next.is_some_and(|n| n.len() - n.trim_start().len() > indent) {
        return None;
    }
    let key = key.trim().trim_matches(['"', '\'']).to_owned();
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    out[line - 1] = String::new();
    *text = out.join("\n");
    Some(key)
}

/// The key whose value starts at (`line`, `column`) (1-based): `key:` just before it on the
/// same line (block or flow style), or, for a value on the lines below its key, the nearest
/// preceding non-blank, non-comment line when it is `key:` alone.
fn key_at(text: &str, line: usize, column: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let here = lines.get(line.checked_sub(1)?)?;
    let before: String = here.chars().take(column.saturating_sub(1)).collect();
    let key_of = |prefix: &str| -> Option<String> {
        let body = prefix.trim_end().strip_suffix(':')?;
        let start = body.rfind(['{', ',', ' ', '\t', '-']).map_or(0, |i| i + 1);
        let key = body[start..].trim_matches(['"', '\'']);
        (!key.is_empty()).then(|| key.to_owned())
    };
    if let Some(key) = key_of(&before) {
        return Some(key);
    }
    if !before.trim().is_empty() && before.trim() != "-" {
        return None;
    }
    let previous = lines[..line - 1].iter().rev().find(|l| {
        let t = l.trim_start();
        !t.is_empty() && !t.starts_with('#')
    })?;
    key_of(previous)
}

fn type_word(ty: &str) -> String {
    match ty {
        "i8" | "i16" | "i32" | "i64" | "i128" | "u8" | "u16" | "u32" | "u64" | "u128" | "isize" | "usize" => {
            "an integer".into()
        }
        "f32" | "f64" | "floating point" => "a number".into(),
        "bool" | "boolean" => "true or false".into(),
        other => format!("a value of type {other}"),
    }
}

fn structure_word(expected: &str) -> String {
    match expected {
        "mapping start" => "a mapping".into(),
        "sequence start" => "a list".into(),
        "string scalar" => "a string".into(),
        other => other.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Validation: raw document -> Config
// ---------------------------------------------------------------------------------------------

fn build(text: &str, raw: RawDoc, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
    let mut problems = Vec::new();
    let orchestration = match &raw.orchestration {
        Some(o) => build_orchestration(&o.value).unwrap_or_else(|e| {
            problems.push(e);
            Orchestration::default()
        }),
        None => Orchestration::default(),
    };
    let Some((servers_key, raw_servers)) = raw.servers else {
        let message = "missing required top-level key `mcp_servers`";
        return Err(match raw.first_key {
            Some(loc) => at_loc(&loc, message),
            None => unlocated(format!("{message} (the document is empty)")),
        });
    };
    if raw_servers.is_empty() {
        problems.push(at_loc(&servers_key, "`mcp_servers` is empty: configure at least one server"));
    }
    let mut servers = Vec::with_capacity(raw_servers.len());
    for (name, server) in raw_servers {
        match build_server(text, &name, server.value, &orchestration, lookup) {
            Ok(server) => servers.push(server),
            Err(e) => problems.push(e),
        }
    }
    if !problems.is_empty() {
        return Err(combine(problems));
    }
    Ok(Config::sorted(servers, orchestration))
}

fn build_orchestration(raw: &RawOrchestration) -> Result<Orchestration> {
    let mut o = Orchestration::default();
    if let Some(ttl) = &raw.resource_cache_ttl {
        o.resource_cache_ttl = seconds(ttl, "orchestration: `resource_cache_ttl`", true)?;
    }
    if let Some(fail_fast) = raw.fail_fast {
        o.fail_fast = fail_fast;
    }
    if let Some(n) = &raw.max_retries {
        o.max_retries = u32::try_from(n.value).map_err(|_| {
            at_loc(&n.referenced, format!("orchestration: `max_retries` must be 0 or more, got {}", n.value))
        })?;
    }
    if raw.enable_logging == Some(false) {
        // talk-2-tables' switch: off silences the log whatever `log_level` says.
        o.log_level = Some(log::LevelFilter::Off);
    } else if let Some(level) = &raw.log_level {
        o.log_level = Some(parse_log_level(&level.value).ok_or_else(|| {
            at_loc(
                &level.referenced,
                format!(
                    "orchestration: unknown `log_level` `{}` (valid, in any case: {})",
                    level.value,
                    LOG_LEVELS.join(", ")
                ),
            )
        })?);
    }
    if let Some(n) = &raw.max_concurrent_connections {
        if n.value < 1 {
            return Err(at_loc(
                &n.referenced,
                format!("orchestration: `max_concurrent_connections` must be at least 1, got {}", n.value),
            ));
        }
        o.max_concurrent_connections = usize::try_from(n.value).unwrap_or(usize::MAX);
    }
    if let Some(n) = &raw.cache_max_bytes {
        o.cache_max_bytes = usize::try_from(n.value).map_err(|_| {
            at_loc(&n.referenced, format!("orchestration: `cache_max_bytes` must be 0 or more, got {}", n.value))
        })?;
    }
    if let Some(t) = &raw.request_timeout {
        o.request_timeout = seconds(t, "orchestration: `request_timeout`", false)?;
    }
    if let Some(n) = &raw.max_listing_bytes {
        o.max_listing_bytes = at_least_one(n, "orchestration: `max_listing_bytes`")?;
    }
    if let Some(n) = &raw.max_listing_items {
        o.max_listing_items = at_least_one(n, "orchestration: `max_listing_items`")?;
    }
    if let Some(n) = &raw.naming {
        o.naming = Naming::parse(&n.value).ok_or_else(|| {
            at_loc(
                &n.referenced,
                format!("orchestration: unknown `naming` `{}` (valid: {})", n.value, Naming::NAMES.join(", ")),
            )
        })?;
    }
    if let Some(sep) = &raw.separator {
        o.separator = sep.clone();
    }
    if let Some(n) = &raw.max_retries {
        o.max_retries = u32::try_from(n.value).map_err(|_| {
            at_loc(&n.referenced, format!("orchestration: `max_retries` must be 0 or more, got {}", n.value))
        })?;
    }
    if let Some(t) = &raw.backoff_min {
        o.backoff_min = seconds(t, "orchestration: `backoff_min`", true)?;
    }
    if let Some(t) = &raw.backoff_max {
        o.backoff_max = seconds(t, "orchestration: `backoff_max`", true)?;
        if o.backoff_min > o.backoff_max {
            return Err(at_loc(&t.referenced, "orchestration: `backoff_max` must not be less than `backoff_min`"));
        }
    }
    if let Some(stale) = raw.serve_stale {
        o.serve_stale = stale;
    }
    if let Some(listen) = raw.listen_for_changes {
        o.listen_for_changes = listen;
    }
    Ok(o)
}

/// A count or size that must be at least 1.
fn at_least_one(value: &Spanned<i64>, what: &str) -> Result<usize> {
    match usize::try_from(value.value) {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(at_loc(&value.referenced, format!("{what} must be at least 1, got {}", value.value))),
    }
}

/// A number of seconds (fractions allowed): > 0, or >= 0 when `zero_ok`.
fn seconds(value: &Spanned<f64>, what: &str, zero_ok: bool) -> Result<Duration> {
    let v = value.value;
    let bound = if zero_ok { "0 or more" } else { "greater than 0" };
    if v.is_nan() || v < 0.0 || (!zero_ok && v == 0.0) {
        return Err(at_loc(&value.referenced, format!("{what} must be a number of seconds {bound}, got {v}")));
    }
    Duration::try_from_secs_f64(v).map_err(|_| at_loc(&value.referenced, format!("{what} is too large: {v} seconds")))
}

fn parse_log_level(text: &str) -> Option<log::LevelFilter> {
    Some(match text.to_ascii_uppercase().as_str() {
        "TRACE" => log::LevelFilter::Trace,
        "DEBUG" => log::LevelFilter::Debug,
        "INFO" => log::LevelFilter::Info,
        "WARN" | "WARNING" => log::LevelFilter::Warn,
        "ERROR" => log::LevelFilter::Error,
        "OFF" => log::LevelFilter::Off,
        _ => return None,
    })
}

/// Expands `${VAR}` in one value; errors point at the value and name the key.
fn expand_at(
    value: &Spanned<String>,
    server: &str,
    key: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String> {
    expand(&value.value, lookup).map_err(|e| {
        let message = match e {
            ExpandError::Unset(var) => {
                format!("server `{server}`: environment variable `{var}` (used in `{key}`) is not set")
            }
            ExpandError::Unterminated => {
                format!("server `{server}`: `${{` without a closing `}}` in `{key}` (write `$${{` for a literal `${{`)")
            }
            ExpandError::BadName(name) => {
                format!("server `{server}`: invalid variable name `{name}` in `${{…}}` of `{key}`")
            }
        };
        at_loc(&value.referenced, message)
    })
}

/// Where to point for a key whose value is at `value`: for a block-style collection
/// (serde-saphyr's span is then that of its first entry, on a later line) the `key:` line, when
/// the nearest preceding non-blank, non-comment line is exactly that key; otherwise the value.
fn key_or_value(text: &str, key: &str, value: &Location) -> (u64, u64) {
    let here = (value.line(), value.column());
    let line = value.line() as usize;
    let lines: Vec<&str> = text.lines().collect();
    if line < 2 || line > lines.len() {
        return here;
    }
    // Something before the value on its own line (`key: value`, `key: [..]`): it is there.
    let before: String = lines[line - 1].chars().take((value.column() as usize).saturating_sub(1)).collect();
    if !before.trim().is_empty() && before.trim() != "-" {
        return here;
    }
    for (idx, candidate) in lines[..line - 1].iter().enumerate().rev() {
        let trimmed = candidate.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let quoted_double = format!("\"{key}\"");
        let quoted_single = format!("'{key}'");
        let rest = trimmed
            .strip_prefix(quoted_double.as_str())
            .or_else(|| trimmed.strip_prefix(quoted_single.as_str()))
            .or_else(|| trimmed.strip_prefix(key));
        if let Some(after) = rest.and_then(|r| r.trim_start().strip_prefix(':')) {
            let after = after.trim_start();
            if after.is_empty() || after.starts_with('#') || after.starts_with('&') || after.starts_with('!') {
                let column = candidate.chars().count() - trimmed.chars().count() + 1;
                return ((idx + 1) as u64, column as u64);
            }
        }
        break;
    }
    here
}

fn build_server(
    text: &str,
    name: &Spanned<String>,
    raw: RawServer,
    orchestration: &Orchestration,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<ServerConfig> {
    let server = name.value.as_str();
    if server.is_empty() {
        return Err(at_loc(&name.referenced, "a server has an empty name"));
    }
    let missing = |key: &str, hint: &str| {
        at_loc(&name.referenced, format!("server `{server}`: missing required key `{key}`{hint}"))
    };

    let transport_hint = format!(" (one of {})", TRANSPORTS.join(", "));
    let kind = raw.transport.as_ref().ok_or_else(|| missing("transport", &transport_hint))?;
    if !TRANSPORTS.contains(&kind.value.as_str()) && kind.value != "streamable-http" {
        return Err(at_loc(
            &kind.referenced,
            format!("server `{server}`: unknown transport `{}` (valid: {})", kind.value, TRANSPORTS.join(", ")),
        ));
    }
    let kind_name = if kind.value == "streamable-http" { "streamable_http" } else { kind.value.as_str() };

    let priority =
        raw.priority.as_ref().ok_or_else(|| missing("priority", " (an integer >= 0; lower is preferred)"))?;
    let priority = match u32::try_from(priority.value) {
        Ok(p) => p,
        Err(_) if priority.value < 0 => {
            return Err(at_loc(
                &priority.referenced,
                format!("server `{server}`: `priority` must be 0 or more, got {}", priority.value),
            ));
        }
        Err(_) => {
            return Err(at_loc(
                &priority.referenced,
                format!("server `{server}`: `priority` must be at most {}, got {}", u32::MAX, priority.value),
            ));
        }
    };

    // Keys that belong to the other kind of transport.
    let http = kind_name != "stdio";
    let not_allowed = |key: &str, at: (u64, u64)| {
        let belongs = if http { "`stdio`" } else { "`http`, `sse` and `streamable_http`" };
        Err(at_pos(
            at,
            format!("server `{server}`: key `{key}` is not allowed with transport `{kind_name}` (it is for {belongs})"),
        ))
    };
    if http {
        if let Some(v) = &raw.command {
            return not_allowed("command", (v.referenced.line(), v.referenced.column()));
        }
        if let Some(v) = &raw.args {
            return not_allowed("args", key_or_value(text, "args", &v.referenced));
        }
        if let Some(v) = &raw.env {
            return not_allowed("env", key_or_value(text, "env", &v.referenced));
        }
        if let Some(v) = &raw.cwd {
            return not_allowed("cwd", (v.referenced.line(), v.referenced.column()));
        }
    } else {
        if let Some(v) = &raw.url {
            return not_allowed("url", (v.referenced.line(), v.referenced.column()));
        }
        if let Some(v) = &raw.headers {
            return not_allowed("headers", key_or_value(text, "headers", &v.referenced));
        }
        if let Some(v) = &raw.auth {
            return not_allowed("auth", key_or_value(text, "auth", &v.referenced));
        }
    }

    let transport = if http {
        let url = raw.url.as_ref().ok_or_else(|| missing("url", &format!(" (transport `{kind_name}` needs one)")))?;
        let expanded = expand_at(url, server, "url", lookup)?;
        if let Err(why) = check_url(&expanded) {
            let note = if expanded != url.value { " (after expanding variables)" } else { "" };
            return Err(at_loc(
                &url.referenced,
                format!("server `{server}`: `url` `{}`{note} {why}", redacted(&url.value)),
            ));
        }
        match kind_name {
            "sse" => Transport::Sse { url: expanded },
            "http" => Transport::Http { url: expanded },
            _ => Transport::StreamableHttp { url: expanded },
        }
    } else {
        let command = raw.command.as_ref().ok_or_else(|| missing("command", " (transport `stdio` needs one)"))?;
        let expanded = expand_at(command, server, "command", lookup)?;
        if expanded.trim().is_empty() {
            return Err(at_loc(&command.referenced, format!("server `{server}`: `command` is empty")));
        }
        let mut args = Vec::new();
        for (i, arg) in raw.args.iter().flat_map(|a| a.value.iter()).enumerate() {
            args.push(expand_at(arg, server, &format!("args[{i}]"), lookup)?);
        }
        let mut env = BTreeMap::new();
        for (key, value) in raw.env.iter().flat_map(|e| e.value.0.iter()) {
            if let Err(why) = check_env_name(key) {
                return Err(at_loc(&value.referenced, format!("server `{server}`: `env` {why}")));
            }
            env.insert(key.clone(), expand_at(value, server, &format!("env.{key}"), lookup)?);
        }
        let cwd = match &raw.cwd {
            Some(cwd) => {
                let expanded = expand_at(cwd, server, "cwd", lookup)?;
                if expanded.is_empty() {
                    return Err(at_loc(&cwd.referenced, format!("server `{server}`: `cwd` is empty")));
                }
                Some(PathBuf::from(expanded))
            }
            None => None,
        };
        Transport::Stdio { command: expanded, args, env, cwd }
    };

    let mut headers = Headers::new();
    let mut seen: Vec<String> = Vec::new();
    for (header, value) in raw.headers.iter().flat_map(|h| h.value.0.iter()) {
        let expanded = expand_at(value, server, &format!("headers.{header}"), lookup)?;
        if let Err(why) = check_header(header, &expanded) {
            return Err(at_loc(&value.referenced, format!("server `{server}`: {why}")));
        }
        let lower = header.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(at_loc(&value.referenced, format!("server `{server}`: duplicate header `{header}`")));
        }
        seen.push(lower);
        headers.insert(header.clone(), expanded);
    }

    let timeout = match &raw.timeout {
        Some(t) => seconds(t, &format!("server `{server}`: `timeout`"), false)?,
        None => orchestration.request_timeout,
    };
    let max_listing_bytes = match &raw.max_listing_bytes {
        Some(n) => at_least_one(n, &format!("server `{server}`: `max_listing_bytes`"))?,
        None => orchestration.max_listing_bytes,
    };
    let max_listing_items = match &raw.max_listing_items {
        Some(n) => at_least_one(n, &format!("server `{server}`: `max_listing_items`"))?,
        None => orchestration.max_listing_items,
    };

    let protocol = match &raw.protocol {
        None => ProtocolChoice::Auto,
        Some(p) if p.value == "auto" => ProtocolChoice::Auto,
        Some(p) if PROTOCOLS.contains(&p.value.as_str()) => ProtocolChoice::Version(p.value.clone()),
        Some(p) => {
            return Err(at_loc(
                &p.referenced,
                format!("server `{server}`: unknown protocol `{}` (valid: {})", p.value, PROTOCOLS.join(", ")),
            ));
        }
    };

    Ok(ServerConfig {
        name: server.to_owned(),
        display_name: raw.name,
        transport,
        priority,
        domains: raw.domains.unwrap_or_default(),
        capabilities: raw.capabilities.unwrap_or_default(),
        timeout,
        headers,
        enabled: raw.enabled.unwrap_or(true),
        read_contents: raw.read_contents.unwrap_or(true),
        max_listing_bytes,
        max_listing_items,
        tools: RawFilter::build(raw.tools),
        prompts: RawFilter::build(raw.prompts),
        auth: raw.auth.as_ref().map(|a| auth::build_auth(a, server, lookup)).transpose()?,
        notes: Vec::new(),
        protocol,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The environment the tests see: no test touches the process environment.
    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cret-token".into()),
            "HOST" => Some("db.example.com".into()),
            "HOME" => Some("/home/me".into()),
            "NEWLINE" => Some("a\r\nInjected: yes".into()),
            _ => None,
        }
    }

    fn doc(lines: &[&str]) -> String {
        lines.join("\n") + "\n"
    }

    fn parse(lines: &[&str]) -> Result<Config> {
        let parsed = Config::from_yaml_str_with_env(&doc(lines), env);
        if let Ok(config) = &parsed {
            // The two ways of building a Config agree: what the loader accepts, `new` accepts.
            let again = Config::new(config.servers.clone(), config.orchestration.clone());
            assert_eq!(again.as_ref().ok(), Some(config), "{again:?}");
        }
        parsed
    }

    /// The error's message, line and column.
    fn fail(lines: &[&str]) -> (String, Option<usize>, Option<usize>) {
        match parse(lines) {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(Error::Config { message, line, column, .. }) => (message, line, column),
            Err(other) => panic!("expected a config error, got {other:?}"),
        }
    }

    fn assert_fail(lines: &[&str], message: &str, line: usize, column: usize) {
        let (m, l, c) = fail(lines);
        assert_eq!((m.as_str(), l, c), (message, Some(line), Some(column)), "document:\n{}", doc(lines));
    }

    const SERVER_KEYS: &str = "name, url, priority, domains, capabilities, transport, timeout, headers, enabled, \
                               read_contents, max_listing_bytes, max_listing_items, protocol, tools, prompts, command, args, \
                               env, cwd, auth";

    #[test]
    fn the_shipped_config_parses() {
        let config = Config::from_yaml_str_with_env(include_str!("../mcp_config.yaml"), env).unwrap();
        let names: Vec<&str> = config.servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["product_metadata_mcp", "database_mcp"]);
        let db = config.server("database_mcp").unwrap();
        assert_eq!(db.transport, Transport::Sse { url: "http://localhost:8000/sse".into() });
        assert_eq!(db.priority, 10);
        assert_eq!(db.domains, ["sales", "orders"]);
        assert_eq!(db.capabilities, ["execute_query", "list_resources"]);
        assert_eq!(db.timeout, DEFAULT_TIMEOUT);
        let products = config.server("product_metadata_mcp").unwrap();
        assert_eq!(products.transport, Transport::Sse { url: "http://localhost:8002/sse".into() });
        assert_eq!(products.priority, 1);
        let o = &config.orchestration;
        assert_eq!(o.resource_cache_ttl, Duration::from_secs(300));
        assert!(o.fail_fast);
        assert_eq!(o.log_level, Some(log::LevelFilter::Debug));
        assert_eq!(o.max_concurrent_connections, DEFAULT_MAX_CONCURRENT_CONNECTIONS);
        assert_eq!(o.cache_max_bytes, DEFAULT_CACHE_MAX_BYTES);
        assert_eq!(o.request_timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn from_path_reads_a_file_and_names_it_in_errors() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("mcp_config.yaml");
        // The shipped file uses no ${VAR}, so the process environment does not matter.
        assert_eq!(Config::from_path(&path).unwrap().servers.len(), 2);

        let missing = Path::new(env!("CARGO_MANIFEST_DIR")).join("no-such-config.yaml");
        let e = Config::from_path(&missing).unwrap_err();
        let Error::Config { message, line: None, column: None, .. } = &e else { panic!("{e:?}") };
        assert!(message.starts_with(&format!("cannot read `{}`: ", missing.display())), "{message}");
    }

    #[test]
    fn defaults() {
        let config = parse(&[
            "mcp_servers:",
            "  db:",
            "    url: http://localhost:8000/sse",
            "    priority: 0",
            "    transport: sse",
        ])
        .unwrap();
        let db = &config.servers[0];
        assert_eq!(db.name, "db");
        assert!(db.domains.is_empty() && db.capabilities.is_empty() && db.headers.is_empty());
        assert_eq!(db.timeout, Duration::from_secs(30));
        assert!(db.enabled && db.read_contents);
        assert_eq!(config.orchestration, Orchestration::default());
        assert_eq!(config.orchestration.resource_cache_ttl, Duration::from_secs(300));
        assert!(config.orchestration.fail_fast);
        assert_eq!(config.orchestration.log_level, None);
        assert_eq!(config.orchestration.cache_max_bytes, 100 * 1024 * 1024);
        assert_eq!(config.orchestration.max_concurrent_connections, 10);
        assert_eq!((db.max_listing_bytes, db.max_listing_items), (64 * 1024 * 1024, 100_000));
    }

    #[test]
    fn every_optional_key() {
        let config = parse(&[
            "orchestration:",
            "  resource_cache_ttl: 2.5",
            "  fail_fast: false",
            "  log_level: warning",
            "  max_concurrent_connections: 3",
            "  cache_max_bytes: 1024",
            "  request_timeout: 7",
            "  max_listing_bytes: 5000",
            "  max_listing_items: 50",
            "mcp_servers:",
            "  a:",
            "    url: https://[::1]:8443/mcp",
            "    priority: 2",
            "    transport: streamable_http",
            "    timeout: 0.25",
            "    headers: {X-Api-Key: k}",
            "    enabled: false",
            "    read_contents: false",
            "    max_listing_bytes: 100",
            "    max_listing_items: 3",
            "  b:",
            "    url: http://user@localhost/sse",
            "    priority: 2",
            "    transport: sse",
        ])
        .unwrap();
        let o = &config.orchestration;
        assert_eq!(o.resource_cache_ttl, Duration::from_millis(2500));
        assert!(!o.fail_fast);
        assert_eq!(o.log_level, Some(log::LevelFilter::Warn));
        assert_eq!((o.max_concurrent_connections, o.cache_max_bytes), (3, 1024));
        assert_eq!(o.request_timeout, Duration::from_secs(7));
        let a = config.server("a").unwrap();
        assert_eq!(a.transport, Transport::StreamableHttp { url: "https://[::1]:8443/mcp".into() });
        assert_eq!(a.timeout, Duration::from_millis(250));
        assert_eq!(a.headers.iter().collect::<Vec<_>>(), [("X-Api-Key", "k")]);
        assert!(!a.enabled && !a.read_contents);
        // Without its own `timeout`, a server gets `request_timeout` (even when declared later).
        assert_eq!(config.server("b").unwrap().timeout, Duration::from_secs(7));
        // The listing budget: a server's own keys win over the orchestration's defaults.
        assert_eq!((a.max_listing_bytes, a.max_listing_items), (100, 3));
        let b = config.server("b").unwrap();
        assert_eq!((b.max_listing_bytes, b.max_listing_items), (5000, 50));
        assert_eq!(config.enabled_servers().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn log_levels_are_case_insensitive() {
        for (text, level) in [
            ("TRACE", log::LevelFilter::Trace),
            ("debug", log::LevelFilter::Debug),
            ("Info", log::LevelFilter::Info),
            ("WARN", log::LevelFilter::Warn),
            ("Warning", log::LevelFilter::Warn),
            ("error", log::LevelFilter::Error),
            ("off", log::LevelFilter::Off),
        ] {
            let line = format!("  log_level: {text}");
            let config = parse(&[
                "mcp_servers:",
                "  a: {url: 'http://h', priority: 1, transport: sse}",
                "orchestration:",
                &line,
            ])
            .unwrap();
            assert_eq!(config.orchestration.log_level, Some(level), "{text}");
        }
    }

    #[test]
    fn stdio_servers() {
        let config = parse(&[
            "mcp_servers:",
            "  files:",
            "    transport: stdio",
            "    priority: 5",
            "    command: python",
            "    args: [\"-m\", files_mcp, \"${HOME}/data\"]",
            "    env:",
            "      TOKEN: \"Bearer ${TOKEN}\"",
            "      PLAIN: 1",
            "    cwd: ${HOME}/srv",
        ])
        .unwrap();
        let files = &config.servers[0];
        let Transport::Stdio { command, args, env, cwd } = &files.transport else { panic!("{files:?}") };
        assert_eq!(command, "python");
        assert_eq!(args, &["-m", "files_mcp", "/home/me/data"]);
        assert_eq!(env.get("TOKEN").map(String::as_str), Some("Bearer s3cret-token"));
        assert_eq!(env.get("PLAIN").map(String::as_str), Some("1"));
        assert_eq!(cwd.as_deref(), Some(Path::new("/home/me/srv")));
        assert_eq!(files.transport.kind(), "stdio");
    }

    #[test]
    fn env_expansion() {
        let config = parse(&[
            "mcp_servers:",
            "  db:",
            "    url: http://${HOST}:8000/sse",
            "    priority: 1",
            "    transport: sse",
            "    headers:",
            "      Authorization: \"Bearer ${TOKEN}\"",
            "      X-Literal: \"$${TOKEN} costs $5\"",
        ])
        .unwrap();
        let db = &config.servers[0];
        assert_eq!(db.transport, Transport::Sse { url: "http://db.example.com:8000/sse".into() });
        let headers: Vec<_> = db.headers.iter().collect();
        assert_eq!(headers, [("Authorization", "Bearer s3cret-token"), ("X-Literal", "${TOKEN} costs $5")]);
    }

    #[test]
    fn unset_variable_names_the_variable_the_key_and_the_line() {
        assert_fail(
            &[
                "mcp_servers:",
                "  db:",
                "    url: http://localhost/sse",
                "    priority: 1",
                "    transport: sse",
                "    headers:",
                "      Authorization: \"Bearer ${MISSING_TOKEN}\"",
            ],
            "server `db`: environment variable `MISSING_TOKEN` (used in `headers.Authorization`) is not set",
            7,
            22,
        );
        assert_fail(
            &["mcp_servers:", "  db:", "    url: http://${NOPE}/sse", "    priority: 1", "    transport: sse"],
            "server `db`: environment variable `NOPE` (used in `url`) is not set",
            3,
            10,
        );
        assert_fail(
            &[
                "mcp_servers:",
                "  p:",
                "    transport: stdio",
                "    priority: 1",
                "    command: run",
                "    args: [a, '${X']",
            ],
            "server `p`: `${` without a closing `}` in `args[1]` (write `$${` for a literal `${`)",
            6,
            15,
        );
        assert_fail(
            &["mcp_servers:", "  p:", "    transport: stdio", "    priority: 1", "    command: run", "    cwd: ${1X}"],
            "server `p`: invalid variable name `1X` in `${…}` of `cwd`",
            6,
            10,
        );
    }

    #[test]
    fn header_values_never_appear_in_debug_or_errors() {
        let config = parse(&[
            "mcp_servers:",
            "  db:",
            "    url: http://localhost/sse",
            "    priority: 1",
            "    transport: sse",
            "    headers: {Authorization: \"Bearer ${TOKEN}\", X-Other: \"plain-secret\"}",
        ])
        .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret") && !debug.contains("plain-secret"), "{debug}");
        assert!(debug.contains("\"Authorization\": \"<redacted>\""), "{debug}");

        // A header value that expands to a line break: the error names the header, not the value.
        let (message, line, column) = fail(&[
            "mcp_servers:",
            "  db:",
            "    url: http://localhost/sse",
            "    priority: 1",
            "    transport: sse",
            "    headers: {X-Injected: \"${NEWLINE}\", Authorization: \"Bearer ${TOKEN}\"}",
        ]);
        assert_eq!(message, "server `db`: the value of header `X-Injected` contains a line break or control character");
        assert_eq!((line, column), (Some(6), Some(27)));
        assert!(!message.contains("Injected: yes") && !message.contains("s3cret"));
    }

    #[test]
    fn unknown_keys_are_named_with_the_allowed_ones() {
        assert_fail(
            &["mcp_servers:", "  db:", "    url: http://localhost/sse", "    priority: 1", "    transportt: sse"],
            "server `db`: missing required key `transport` (one of http, sse, streamable_http, streamable-http, stdio)",
            2,
            3,
        );
        // The unknown key is reported, and so is the missing one it was probably meant to be.
        let e = parse(&[
            "mcp_servers:",
            "  db:",
            "    urll: http://localhost/sse",
            "    priority: 1",
            "    transport: sse",
        ])
        .unwrap_err();
        let problems: Vec<String> = e.config_problems().iter().map(|p| p.to_string()).collect();
        assert_eq!(
            problems,
            [
                "config: server `db`: missing required key `url` (transport `sse` needs one) at line 2 column 3\n   2 |   db:\n     |   ^".to_owned(),
                format!("config: server `db`: unknown key `urll` (allowed: {SERVER_KEYS}) at line 3 column 5\n   3 |     urll: http://localhost/sse\n     |     ^"),
            ]
        );
        assert_fail(
            &["mcp_servers:", "  a: {url: 'http://h', priority: 1, transport: sse}", "orchestration:", "  ttl: 5"],
            "orchestration: unknown key `ttl` (allowed: resource_cache_ttl, fail_fast, log_level, \
             max_concurrent_connections, cache_max_bytes, request_timeout, max_listing_bytes, max_listing_items, enable_logging, naming, \
             separator, max_retries, backoff_min, backoff_max, serve_stale, listen_for_changes)",
            4,
            3,
        );
        assert_fail(
            &["# comment", "mcp_server:", "  a: {}"],
            "unknown top-level key `mcp_server` (allowed: mcp_servers, orchestration)",
            2,
            1,
        );
    }

    #[test]
    fn several_problems_at_once() {
        let e = parse(&[
            "mcp_servers:",
            "  db:",
            "    url: http://localhost/sse",
            "    priority: high",
            "    transport: sse",
            "    colour: blue",
            "  other:",
            "    url: http://localhost/sse",
            "    priority: 1",
            "    transport: sse",
            "    timeout: soon",
            "  third: {url: 'ftp://h', priority: 1, transport: sse}",
            "orchestration:",
            "  fail_fast: perhaps",
        ])
        .unwrap_err();
        let problems: Vec<(String, Option<usize>)> = e
            .config_problems()
            .iter()
            .map(|p| match p {
                Error::Config { message, line, .. } => (message.clone(), *line),
                other => panic!("{other:?}"),
            })
            .collect();
        let expected = [
            ("server `db`: `priority`: invalid value: expected an integer", 4),
            (&*format!("server `db`: unknown key `colour` (allowed: {SERVER_KEYS})"), 6),
            ("server `other`: `timeout`: invalid value: expected a number", 11),
            ("server `third`: `url` `ftp://h` has scheme `ftp`: only http and https are supported", 12),
            ("orchestration: `fail_fast`: invalid value: expected true or false", 14),
        ];
        assert_eq!(problems, expected.map(|(m, l)| (m.to_owned(), Some(l))));
    }

    #[test]
    fn missing_required_keys() {
        assert_fail(
            &["mcp_servers:", "  db:", "    url: http://localhost/sse", "    transport: sse"],
            "server `db`: missing required key `priority` (an integer >= 0; lower is preferred)",
            2,
            3,
        );
        assert_fail(
            &["mcp_servers:", "  db:", "    url: http://localhost/sse", "    priority: 1"],
            "server `db`: missing required key `transport` (one of http, sse, streamable_http, streamable-http, stdio)",
            2,
            3,
        );
        assert_fail(
            &["mcp_servers:", "  db:", "    priority: 1", "    transport: streamable_http"],
            "server `db`: missing required key `url` (transport `streamable_http` needs one)",
            2,
            3,
        );
        assert_fail(
            &["mcp_servers:", "  p: {priority: 1, transport: stdio}"],
            "server `p`: missing required key `command` (transport `stdio` needs one)",
            2,
            3,
        );
        assert_fail(&["orchestration:", "  fail_fast: true"], "missing required top-level key `mcp_servers`", 1, 1);
        let (message, line, column) = fail(&["# nothing here"]);
        assert_eq!(
            (message.as_str(), line, column),
            ("missing required top-level key `mcp_servers` (the document is empty)", None, None)
        );
    }

    #[test]
    fn bad_urls_point_at_the_url() {
        let cases = [
            ("ftp://localhost/x", "has scheme `ftp`: only http and https are supported"),
            ("localhost:8000/sse", "is not an http or https URL (expected `http://host[:port]/path`)"),
            ("http:///sse", "has no host"),
            ("http://:8000/sse", "has no host"),
            ("http://localhost:80a0/sse", "has an invalid port `80a0` (expected a number from 1 to 65535)"),
            ("http://localhost:99999/sse", "has an invalid port `99999` (expected a number from 1 to 65535)"),
            ("http://local host/sse", "contains whitespace or a control character"),
            ("http://[::1/sse", "has an unclosed `[` in its host"),
        ];
        for (url, why) in cases {
            let line = format!("    url: \"{url}\"");
            assert_fail(
                &["mcp_servers:", "  db:", "    priority: 1", "    transport: sse", &line],
                &format!("server `db`: `url` `{url}` {why}"),
                5,
                10,
            );
        }
        // Credentials in the URL are not echoed.
        assert_fail(
            &["mcp_servers:", "  db:", "    priority: 1", "    transport: sse", "    url: http://me:pw@:80/sse"],
            "server `db`: `url` `http://***@:80/sse` has no host",
            5,
            10,
        );
        // After expansion, the message shows the URL as written, not the variable's value.
        assert_fail(
            &["mcp_servers:", "  db:", "    priority: 1", "    transport: sse", "    url: ftp://${HOST}/"],
            "server `db`: `url` `ftp://${HOST}/` (after expanding variables) has scheme `ftp`: only http and https \
             are supported",
            5,
            10,
        );
    }

    #[test]
    fn unknown_transport_lists_the_valid_ones() {
        assert_fail(
            &["mcp_servers:", "  db:", "    url: http://localhost/sse", "    priority: 1", "    transport: websocket"],
            "server `db`: unknown transport `websocket` (valid: http, sse, streamable_http, streamable-http, stdio)",
            5,
            16,
        );
    }

    #[test]
    fn protocol_and_the_detecting_transport() {
        let config = Config::from_yaml_str_with_env(
            &doc(&[
                "mcp_servers:",
                "  a: {url: 'http://h/mcp', priority: 1, transport: http}",
                "  b: {url: 'http://h/mcp', priority: 2, transport: streamable-http, protocol: 2026-07-28}",
                "  c: {url: 'http://h/sse', priority: 3, transport: sse, protocol: '2024-11-05'}",
                "  d: {command: run, priority: 4, transport: stdio, protocol: auto}",
            ]),
            env,
        )
        .unwrap();
        let [a, b, c, d] = &config.servers[..] else { panic!() };
        assert_eq!(a.transport, Transport::Http { url: "http://h/mcp".into() });
        assert_eq!(a.transport.kind(), "http");
        assert_eq!(a.protocol, ProtocolChoice::Auto);
        assert_eq!(b.transport, Transport::StreamableHttp { url: "http://h/mcp".into() });
        assert_eq!(b.protocol, ProtocolChoice::Version("2026-07-28".into()));
        assert_eq!(c.protocol, ProtocolChoice::Version("2024-11-05".into()));
        assert_eq!(d.protocol, ProtocolChoice::Auto);
        assert_fail(
            &[
                "mcp_servers:",
                "  db:",
                "    url: http://h/mcp",
                "    priority: 1",
                "    transport: http",
                "    protocol: 2027-01-01",
            ],
            "server `db`: unknown protocol `2027-01-01` (valid: auto, 2026-07-28, 2025-11-25, 2025-06-18, 2025-03-26, \
             2024-11-05)",
            6,
            15,
        );
        let mut built = ServerConfig::new("x", Transport::Http { url: "http://h/mcp".into() });
        built.protocol = ProtocolChoice::Version("1999-01-01".into());
        let e = Config::new(vec![built], Orchestration::default()).unwrap_err();
        assert!(e.to_string().contains("unknown protocol `1999-01-01`"), "{e}");
    }

    #[test]
    fn bad_priorities() {
        assert_fail(
            &["mcp_servers:", "  db:", "    url: http://localhost/sse", "    priority: -1", "    transport: sse"],
            "server `db`: `priority` must be 0 or more, got -1",
            4,
            15,
        );
        assert_fail(
            &[
                "mcp_servers:",
                "  db:",
                "    url: http://localhost/sse",
                "    priority: 5000000000",
                "    transport: sse",
            ],
            "server `db`: `priority` must be at most 4294967295, got 5000000000",
            4,
            15,
        );
        assert_fail(
            &["mcp_servers:", "  db:", "    url: http://localhost/sse", "    priority: high", "    transport: sse"],
            "server `db`: `priority`: invalid value: expected an integer",
            4,
            15,
        );
    }

    #[test]
    fn duplicates_are_errors_not_last_wins() {
        assert_fail(
            &[
                "mcp_servers:",
                "  db: {url: 'http://a', priority: 1, transport: sse}",
                "  other: {url: 'http://b', priority: 1, transport: sse}",
                "  db: {url: 'http://c', priority: 2, transport: sse}",
            ],
            "duplicate server `db`",
            4,
            3,
        );
        assert_fail(
            &[
                "mcp_servers:",
                "  db:",
                "    url: http://a",
                "    priority: 1",
                "    url: http://b",
                "    transport: sse",
            ],
            "server `db`: duplicate key `url`",
            5,
            5,
        );
        assert_fail(
            &[
                "mcp_servers:",
                "  a: {url: 'http://h', priority: 1, transport: sse}",
                "orchestration: {fail_fast: true}",
                "mcp_servers: {}",
            ],
            "duplicate key `mcp_servers`",
            4,
            1,
        );
        assert_fail(
            &[
                "mcp_servers:",
                "  db:",
                "    url: http://a",
                "    priority: 1",
                "    transport: sse",
                "    headers: {X-A: 1, x-a: 2}",
            ],
            "server `db`: duplicate header `x-a`",
            6,
            28,
        );
    }

    #[test]
    fn empty_server_lists() {
        assert_fail(&["mcp_servers: {}"], "`mcp_servers` is empty: configure at least one server", 1, 1);
        assert_fail(
            &["orchestration:", "  fail_fast: false", "mcp_servers:"],
            "`mcp_servers` is empty: configure at least one server",
            3,
            1,
        );
    }

    #[test]
    fn keys_of_the_other_transport() {
        assert_fail(
            &[
                "mcp_servers:",
                "  p:",
                "    transport: stdio",
                "    priority: 1",
                "    command: run",
                "    url: http://h",
            ],
            "server `p`: key `url` is not allowed with transport `stdio` (it is for `http`, `sse` and `streamable_http`)",
            6,
            10,
        );
        assert_fail(
            &[
                "mcp_servers:",
                "  db:",
                "    url: http://h",
                "    priority: 1",
                "    transport: sse",
                "    command: run",
            ],
            "server `db`: key `command` is not allowed with transport `sse` (it is for `stdio`)",
            6,
            14,
        );
        // Block-style collections: the error points at the key, not at the first entry.
        assert_fail(
            &[
                "mcp_servers:",
                "  p:",
                "    transport: stdio",
                "    priority: 1",
                "    command: run",
                "    headers:",
                "      # a comment between the key and its entries",
                "      Authorization: x",
            ],
            "server `p`: key `headers` is not allowed with transport `stdio` (it is for `http`, `sse` and `streamable_http`)",
            6,
            5,
        );
        assert_fail(
            &[
                "mcp_servers:",
                "  db:",
                "    url: http://h",
                "    priority: 1",
                "    transport: sse",
                "    args:",
                "    - x",
            ],
            "server `db`: key `args` is not allowed with transport `sse` (it is for `stdio`)",
            6,
            5,
        );
        assert_fail(
            &["mcp_servers:", "  db:", "    url: http://h", "    priority: 1", "    transport: sse", "    env: {A: b}"],
            "server `db`: key `env` is not allowed with transport `sse` (it is for `stdio`)",
            6,
            10,
        );
    }

    #[test]
    fn orchestration_values() {
        let server = "  a: {url: 'http://h', priority: 1, transport: sse}";
        assert_fail(
            &["mcp_servers:", server, "orchestration:", "  log_level: LOUD"],
            "orchestration: unknown `log_level` `LOUD` (valid, in any case: TRACE, DEBUG, INFO, WARN, WARNING, ERROR, OFF)",
            4,
            14,
        );
        assert_fail(
            &["mcp_servers:", server, "orchestration:", "  max_concurrent_connections: 0"],
            "orchestration: `max_concurrent_connections` must be at least 1, got 0",
            4,
            31,
        );
        assert_fail(
            &["mcp_servers:", server, "orchestration:", "  request_timeout: 0"],
            "orchestration: `request_timeout` must be a number of seconds greater than 0, got 0",
            4,
            20,
        );
        assert_fail(
            &["mcp_servers:", server, "orchestration:", "  resource_cache_ttl: -5"],
            "orchestration: `resource_cache_ttl` must be a number of seconds 0 or more, got -5",
            4,
            23,
        );
        assert_fail(
            &["mcp_servers:", server, "orchestration:", "  cache_max_bytes: -1"],
            "orchestration: `cache_max_bytes` must be 0 or more, got -1",
            4,
            20,
        );
        assert_fail(
            &["mcp_servers:", server, "orchestration:", "  max_listing_bytes: 0"],
            "orchestration: `max_listing_bytes` must be at least 1, got 0",
            4,
            22,
        );
        assert_fail(
            &["mcp_servers:", "  a: {url: 'http://h', priority: 1, transport: sse, max_listing_items: -2}"],
            "server `a`: `max_listing_items` must be at least 1, got -2",
            2,
            72,
        );
        assert_fail(
            &["mcp_servers:", server, "orchestration:", "  fail_fast: perhaps"],
            "orchestration: `fail_fast`: invalid value: expected true or false",
            4,
            14,
        );
    }

    #[test]
    fn values_of_the_wrong_type() {
        let server = |extra: &str| format!("  a: {{url: 'http://h', priority: 1, transport: sse, {extra}}}");
        assert_fail(
            &["mcp_servers:", &server("timeout: 30s")],
            "server `a`: `timeout`: invalid value: expected a number",
            2,
            62,
        );
        assert_fail(
            &["mcp_servers:", &server("enabled: maybe")],
            "server `a`: `enabled`: invalid value: expected true or false",
            2,
            62,
        );
        assert_fail(&["mcp_servers:", &server("domains: sales")], "server `a`: `domains`: expected a list", 2, 62);
        assert_fail(&["mcp_servers:", &server("headers: [a]")], "server `a`: `headers`: expected a mapping", 2, 62);
        assert_fail(&["mcp_servers:", &server(""), "orchestration: 5"], "orchestration: expected a mapping", 3, 16);
    }

    #[test]
    fn anchors_and_merge_keys_work() {
        let config = parse(&[
            "mcp_servers:",
            "  a: &base",
            "    url: http://h",
            "    priority: 1",
            "    transport: sse",
            "  b:",
            "    <<: *base",
            "    priority: 2",
        ])
        .unwrap();
        let b = config.server("b").unwrap();
        assert_eq!((b.priority, &b.transport), (2, &Transport::Sse { url: "http://h".into() }));
    }

    #[test]
    fn non_positive_server_timeouts() {
        for (value, shown) in [("0", "0"), ("-2.5", "-2.5"), (".nan", "NaN")] {
            let line = format!("    timeout: {value}");
            assert_fail(
                &["mcp_servers:", "  db:", "    url: http://h", "    priority: 1", "    transport: sse", &line],
                &format!("server `db`: `timeout` must be a number of seconds greater than 0, got {shown}"),
                6,
                14,
            );
        }
    }

    #[test]
    fn syntax_and_shape_errors_have_locations() {
        let (message, line, column) = fail(&["mcp_servers:", "  db:", "    url: \"http://h", "    priority: 1"]);
        assert!(message.contains("quote"), "{message}");
        assert_eq!(line, Some(3));
        assert!(column.is_some());
        assert_fail(&["mcp_servers:", "  db:", "  other: 1"], "server `db`: expected a mapping", 2, 5);
        assert_fail(&["- a", "- b"], "expected a mapping", 1, 1);
        assert_fail(&["mcp_servers: [a, b]"], "mcp_servers: expected a mapping", 1, 14);
    }

    #[test]
    fn servers_are_sorted_by_priority_then_name() {
        let config = parse(&[
            "mcp_servers:",
            "  zeta: {url: 'http://z', priority: 1, transport: sse}",
            "  beta: {url: 'http://b', priority: 2, transport: sse}",
            "  alpha: {url: 'http://a', priority: 2, transport: sse}",
            "  omega: {url: 'http://o', priority: 0, transport: sse}",
        ])
        .unwrap();
        let order: Vec<_> = config.servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(order, ["omega", "zeta", "alpha", "beta"]);
    }

    #[test]
    fn fifty_servers() {
        let mut text = String::from("mcp_servers:\n");
        for i in 0..50 {
            text.push_str(&format!(
                "  server_{i:02}:\n    url: \"http://localhost:{}/sse\"\n    priority: {}\n    transport: sse\n",
                9000 + i,
                49 - i
            ));
        }
        let config = Config::from_yaml_str_with_env(&text, env).unwrap();
        assert_eq!(config.servers.len(), 50);
        assert_eq!(config.servers[0].name, "server_49");
        assert_eq!(config.servers[49].name, "server_00");
    }

    #[test]
    fn config_new_validates_and_sorts() {
        let b = ServerConfig { priority: 2, ..ServerConfig::sse("b", "http://localhost:1/sse") };
        let a = ServerConfig { priority: 2, ..ServerConfig::sse("a", "http://localhost:2/sse") };
        let c = ServerConfig { priority: 1, ..ServerConfig::sse("c", "http://localhost:3/sse") };
        let config = Config::new(vec![b.clone(), a.clone(), c], Orchestration::default()).unwrap();
        assert_eq!(config.servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["c", "a", "b"]);

        let message = |r: Result<Config>| match r {
            Err(Error::Config { message, line: None, column: None, .. }) => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(message(Config::new(vec![], Orchestration::default())), "no servers: configure at least one server");
        assert_eq!(message(Config::new(vec![a.clone(), a.clone()], Orchestration::default())), "duplicate server `a`");
        assert_eq!(
            message(Config::new(vec![ServerConfig::sse("x", "ws://h")], Orchestration::default())),
            "server `x`: `url` `ws://h` has scheme `ws`: only http and https are supported"
        );
        let zero = Orchestration { max_concurrent_connections: 0, ..Orchestration::default() };
        assert_eq!(
            message(Config::new(vec![a.clone()], zero)),
            "orchestration: `max_concurrent_connections` must be at least 1, got 0"
        );
        let no_timeout = ServerConfig { timeout: Duration::ZERO, ..a.clone() };
        assert_eq!(
            message(Config::new(vec![no_timeout], Orchestration::default())),
            "server `a`: `timeout` must be greater than 0"
        );
        let no_budget = ServerConfig { max_listing_items: 0, ..a.clone() };
        assert_eq!(
            message(Config::new(vec![no_budget], Orchestration::default())),
            "server `a`: `max_listing_bytes` and `max_listing_items` must be at least 1"
        );
        let stdio = ServerConfig::new(
            "p",
            Transport::Stdio { command: " ".into(), args: vec![], env: BTreeMap::new(), cwd: None },
        );
        assert_eq!(message(Config::new(vec![stdio], Orchestration::default())), "server `p`: `command` is empty");
        let mut bad_header = a;
        bad_header.headers.insert("X-Token", "secret\nvalue");
        let text = message(Config::new(vec![bad_header], Orchestration::default()));
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn expansion_rules() {
        let lookup = |n: &str| (n == "A").then(|| "1".to_owned());
        assert_eq!(expand("x${A}y${A}", &lookup), Ok("x1y1".into()));
        assert_eq!(expand("$A $ $$ $${A} ${A}$", &lookup), Ok("$A $ $$ ${A} 1$".into()));
        assert_eq!(expand("${B}", &lookup), Err(ExpandError::Unset("B".into())));
        assert_eq!(expand("${A", &lookup), Err(ExpandError::Unterminated));
        assert_eq!(expand("${}", &lookup), Err(ExpandError::BadName(String::new())));
        assert_eq!(expand("${A-B}", &lookup), Err(ExpandError::BadName("A-B".into())));
        assert_eq!(expand("über ${A}", &lookup), Ok("über 1".into()));
    }

    #[test]
    fn url_rules() {
        for ok in ["http://localhost", "HTTPS://h:1/p?q#f", "http://u:p@h:65535", "http://[::1]", "http://10.0.0.1:80/"]
        {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
        for bad in ["http://h:0", "http://h:", "http://[::1]x", "http://h^/", "mailto:x", ""] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
