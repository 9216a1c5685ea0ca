//! The configuration's top level: [`Config`] (read from a document in any format, or built in
//! code), the [`ConfigFormat`] it came from, the [`ConfigBuilder`], the `orchestration` section
//! ([`Orchestration`]) and the defaults (`DEFAULT_*`).

use std::path::Path;
use std::time::Duration;

use super::naming::Naming;
use super::report::{self, unlocated};
use super::server::ServerConfig;
use super::{json, validate, yaml};
use crate::error::{Error, Result};

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

impl Config {
    /// A configuration built in code: checks what the YAML loader checks (at least one server,
    /// unique non-empty names, http(s) URLs, a command for stdio, header names and values,
    /// timeouts > 0, `max_concurrent_connections` >= 1) and sorts the servers by
    /// (priority, name).
    ///
    /// Errors are [`Error::Config`] without a line or column.
    pub fn new(servers: Vec<ServerConfig>, orchestration: Orchestration) -> Result<Config> {
        validate::validate_config(&servers, &orchestration)?;
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
        yaml::load(text, &lookup).map_err(|e| report::with_snippets(text, e))
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
            None => yaml::load(text, lookup),
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

    /// This config with `server` added: validated as [`Config::new`] validates (a name already
    /// in use is `duplicate server `…``), sorted, in the same format. For `add_server`.
    pub(crate) fn with_server(&self, server: ServerConfig) -> Result<Config> {
        let mut servers = self.servers.clone();
        servers.push(server);
        validate::validate_config(&servers, &self.orchestration)?;
        Ok(Config { format: self.format, ..Config::sorted(servers, self.orchestration.clone()) })
    }

    /// This config without the server of that name (possibly with no server left). For
    /// `remove_server`.
    pub(crate) fn without_server(&self, name: &str) -> Config {
        let servers = self.servers.iter().filter(|s| s.name != name).cloned().collect();
        Config { servers, orchestration: self.orchestration.clone(), format: self.format }
    }

    pub(super) fn sorted(mut servers: Vec<ServerConfig>, orchestration: Orchestration) -> Config {
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
