//! One server: [`ServerConfig`] and its builder methods, how to reach it ([`Transport`]), which
//! protocol it speaks ([`ProtocolChoice`]) and its HTTP [`Headers`] (secrets, shown by name only).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::auth_settings::AuthConfig;
use super::naming::NameFilter;
use super::redact;
use super::schema::{DEFAULT_MAX_LISTING_BYTES, DEFAULT_MAX_LISTING_ITEMS, DEFAULT_TIMEOUT};
use crate::protocol::LoggingLevel;
use crate::url::redacted;

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
    /// Deadline for a `tools/call` (`tool_timeout`; JSON `toolTimeout`), so that a long tool
    /// call does not need a long connect and listing budget. `None` (the default): `timeout`.
    pub tool_timeout: Option<Duration>,
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
    pub(super) notes: Vec<String>,
    /// Which MCP protocol to speak (`protocol`; default [`ProtocolChoice::Auto`]: detect).
    pub protocol: ProtocolChoice,
    /// The least severe log messages the server is asked to send (`log_level`: `debug` …
    /// `emergency`; default none asked). On the 2026-07-28 wire each request's `_meta` carries
    /// it (`io.modelcontextprotocol/logLevel`); on the handshake era it is sent once with
    /// `logging/setLevel` after `initialize`, when the server has the `logging` capability.
    /// The messages reach the `log` facade (see [`LoggingLevel::log_level`]).
    pub log_level: Option<LoggingLevel>,
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

/// The values `protocol` accepts.
pub(super) const PROTOCOLS: &[&str] = &["auto", "2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

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
            tool_timeout: None,
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
            log_level: None,
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

    /// Asks the server for its log messages from `level` up (see [`ServerConfig::log_level`]).
    pub fn log_level(mut self, level: LoggingLevel) -> ServerConfig {
        self.log_level = Some(level);
        self
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

    /// Sets the deadline for a `tools/call` (default: the [`timeout`](Self::timeout)).
    pub fn tool_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.tool_timeout = Some(timeout);
        self
    }

    /// The deadline a `tools/call` gets: `tool_timeout`, else `timeout`.
    pub fn call_timeout(&self) -> Duration {
        self.tool_timeout.unwrap_or(self.timeout)
    }

    /// Adds an HTTP header (replacing one of the same name); its value is a secret, never
    /// logged. Headers on a stdio server are an error of [`Config::new`](super::Config::new).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> ServerConfig {
        self.headers.insert(name, value);
        self
    }

    /// Sets how the server is authorized (the config's `auth` block): a bearer token, client
    /// credentials or the authorization code flow. An `auth` on a stdio server is an error of
    /// [`Config::new`](super::Config::new).
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
