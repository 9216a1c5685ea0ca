//! The command line, declared with clap's derive: global flags, one subcommand, its options and
//! operands. Global flags (`-v`, `-vv`, `-q`) may appear anywhere; `--name value` and
//! `--name=value` are both accepted. A usage error exits with status 2, `--help` and
//! `--version` with 0 (clap's own conventions, which are ours).

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

/// The default for `--config`.
pub const DEFAULT_CONFIG: &str = "./mcp_config.yaml";

/// The longest `--timeout` accepted: a day. Longer is a typo, and an unbounded number would
/// overflow deadline arithmetic.
const MAX_TIMEOUT_SECS: f64 = 86_400.0;

/// What the user asked for.
#[derive(Debug, Parser)]
#[command(
    name = "mcp-orchestrator",
    version,
    // No subcommand is a usage error that says so, not the whole help on stderr.
    arg_required_else_help = false,
    about = "Use many MCP (Model Context Protocol) servers as one",
    after_help = "\
Logging: -v/-q win over RUST_LOG, which wins over the config's `log_level`;
without any of them the command logs warnings and errors. The HTTP client's
logs never go above info (they would show header values).

Exit status: 0 ok; 1 the operation failed (a server failed with fail_fast, no server
reachable, the tool reported an error); 2 bad usage or an invalid config; 3 partial
(gather: some servers failed, the others' results are printed).

Progress: on a terminal, a line per server on stderr as it connects and gathers;
nothing when stderr is not a terminal.

Start with `mcp-orchestrator demo`: it needs nothing installed and writes nothing."
)]
pub struct Cli {
    /// More logs on stderr: -v debug, -vv trace (payloads)
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
    /// Errors only
    #[arg(short, long, action = ArgAction::Count, global = true)]
    quiet: u8,
    /// OAuth: print the authorization URL instead of opening a browser
    #[arg(long, global = true)]
    pub no_browser: bool,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the process's arguments; on a usage error, `--help` or `--version`, prints and
    /// exits (2 for an error, 0 otherwise).
    pub fn from_args() -> Cli {
        Cli::parse()
    }

    /// `-v` count minus `-q` count: negative errors only, 0 default, 1 debug, 2+ trace.
    pub fn verbosity(&self) -> i16 {
        i16::from(self.verbose) - i16::from(self.quiet)
    }

    /// The log level the flags ask for, if they ask for one.
    pub fn level_from_flags(&self) -> Option<log::LevelFilter> {
        match self.verbosity() {
            0 => None,
            v if v < 0 => Some(log::LevelFilter::Error),
            1 => Some(log::LevelFilter::Debug),
            _ => Some(log::LevelFilter::Trace),
        }
    }
}

/// How `gather` and `call` print their result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text for a person
    Table,
    /// One JSON document on stdout
    Json,
}

/// A subcommand and its options.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a config file and list its servers
    #[command(
        long_about = "\
Validate a config file and list its servers: name, priority, transport, enabled,
timeout, domains, capabilities, and the URL (without user info or query) or command.
Does not connect.",
        after_help = "Exit status: 0 valid; 2 invalid (the message names the key and the line)."
    )]
    Check(CheckArgs),
    /// Connect to every server, gather their resources and print them, merged by priority
    #[command(
        long_about = "\
Connect to every enabled server in parallel, gather their resources, templates, tools and
resource contents in parallel, and print each server's outcome and the merged resources
(for a URI several servers list, the lowest priority number wins; the others are shadowed).",
        after_help = "\
Exit status: 0 ok; 1 the gather failed (fail_fast) or no server was reachable;
2 bad usage or an invalid config; 3 partial: some servers failed (without fail_fast),
the others' results are printed. With --format json a failure still prints the
document, with `error` set and each server's outcome."
    )]
    Gather(GatherArgs),
    /// Call a tool on the executor (or on a named server) and print its result
    #[command(
        long_about = "\
Call a tool and print its result: its text content, then its structuredContent as
pretty JSON when there is one. Without --server the tool runs on the executor: the
connected server with the lowest priority number whose config lists `execute_query`.",
        after_help = "\
With --task the server may run the call as a task (MCP Tasks): its id and each status
change go to stderr, then the result is printed; a task still running after --wait
seconds prints its id and exits 1 (resume it with `tasks wait SERVER ID`).

Exit status: 0 ok; 1 the call failed or the tool reported an error (isError);
2 bad usage, ARGS_JSON not a JSON object, or an invalid config."
    )]
    Call(CallArgs),
    /// Get, wait for or cancel a task (MCP Tasks) by its id
    #[command(
        long_about = "\
A tool call a server runs as a task has an id (`call --task` prints it). These commands
find it again on its server, from this process or a later one, while the server keeps it
(its TTL): `get` prints its status, `wait` waits for its result, `cancel` asks the server
to cancel it (cooperative: the server may still finish it).",
        after_help = "\
Exit status: 0 ok; 1 the request failed (an unknown id, a failed or cancelled task, a task
still running after --wait); 2 bad usage or an invalid config."
    )]
    Tasks(TasksArgs),
    /// List every server's tools
    #[command(
        long_about = "\
Connect to every enabled server, list their tools, and print each tool with the server
that offers it (several servers may offer the same name; `call --server` picks one) and
the estimated tokens of its definition in a model's context (`-` for a shadowed tool, which
the merged catalogue leaves out), then the merged catalogue's total. With `--search QUERY`,
only the best matches of the merged catalogue (ranked by BM25 over names, titles,
descriptions and parameter names), best first.",
        after_help = "\
Exit status: 0 ok; 1 failed (fail_fast) or no server reachable; 2 bad usage or an
invalid config; 3 partial: some servers failed, the others' tools are printed."
    )]
    Tools(ToolsArgs),
    /// List the prompts, merged by name (or get one: `prompts get NAME -a KEY=VALUE`)
    #[command(
        long_about = "\
Connect to every enabled server, list their prompts, and print the catalogue's view: each
prompt under its merged name (the lowest priority number wins a name several servers
offer; the others are shadowed; `naming` in the config may prefix names), with its server,
its arguments (`?` marks an optional one) and its description.
`prompts get NAME` gets one prompt from the server that owns NAME and prints its messages.",
        after_help = "\
Exit status: 0 ok; 1 failed (fail_fast), no server reachable, or (get) no server offers
NAME or the server refused it; 2 bad usage or an invalid config; 3 partial: some servers
failed, the others' prompts are printed.",
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true
    )]
    Prompts(PromptsArgs),
    /// List the resources, merged by priority, and the resource templates
    #[command(
        long_about = "\
Connect to every enabled server, list their resources and resource templates (without
reading contents), and print the resources merged by URI (the lowest priority number wins;
the others are shadowed) and every template with its server.",
        after_help = "\
Exit status: 0 ok; 1 failed (fail_fast) or no server reachable; 2 bad usage or an
invalid config; 3 partial: some servers failed, the others' resources are printed."
    )]
    Resources(GatherArgs),
    /// Read one resource from the server that wins its URI
    #[command(
        long_about = "\
Connect to every enabled server, find the server that wins URI in the merge (the lowest
priority number among those that list it), read it there and print its contents: text as
it is, a blob described. A URI no server lists (a template's, say) is tried on each
reachable server in priority order.",
        after_help = "\
Exit status: 0 ok; 1 no server could read it, or failed (fail_fast); 2 bad usage or an
invalid config."
    )]
    Read(ReadArgs),
    /// Serve the merged catalogue as one MCP server (stdio or Streamable HTTP)
    #[command(
        long_about = "\
Connect to every enabled server and serve their merged tools, prompts, resources and
resource templates as one MCP server, for a desktop host (Claude Desktop, Cursor, VS Code).
Calls, prompt gets and reads are routed to the server that owns the name or URI. Over
stdio (the default) stdout carries only JSON-RPC and logs go to stderr. Over HTTP the
endpoint is POST http://<listen>/mcp; a non-loopback --listen needs a bearer token, read
from the environment variable named by --token-env.",
        after_help = "\
Exit status: 0 the host closed stdin; 1 no server connected, or the address could not be
used; 2 bad usage or an invalid config."
    )]
    Serve(ServeArgs),
    /// Connect to every server and show whether it answers: protocol, transport, latency
    #[command(
        long_about = "\
Connect to every enabled server in parallel (never fail-fast), ping each one that
connected, and print per server: reachable or the error, the server's name and
version, the protocol version agreed, the transport, the URL (without user info or
query) or command, and the ping's round trip.",
        after_help = "\
Exit status: 0 every server reachable; 1 none reachable; 2 bad usage or an invalid
config; 3 some reachable, some not."
    )]
    Status(StatusArgs),
    /// Authorize ahead of time with the servers that need a person (OAuth), keeping the tokens
    #[command(
        long_about = "\
Run the OAuth authorization code flow for every enabled server whose config has an
`auth` block of `type: oauth` (or each --server): open the authorization URL in the
browser (with --no-browser, or when no browser can be started, print it on stderr),
wait for the browser's redirect on http://127.0.0.1:<auth.redirect_port>/callback,
and keep the tokens in the block's `token_file` (0600), where the other commands find
them. A server with a token that can be refreshed is refreshed instead. The other
commands run the same flow when a server needs a token and none is held.",
        after_help = "\
Exit status: 0 every server logged in; 1 none (the error names the server); 2 bad usage,
an invalid config, or no server with `type: oauth`; 3 some logged in, some not."
    )]
    Login(LoginArgs),
    /// Start two embedded MCP servers and walk through connect, gather, cache and a query
    #[command(long_about = "\
Start two embedded MCP servers on loopback ports, shaped like the original deployment:
a Database MCP (priority 10: `database://metadata`, tool `execute_query`) and a Product
Metadata MCP (priority 1: `product-aliases://list`, `column-mappings://list`,
`metadata-summary://info`, which the database offers too: the merge shadows its copy).
Then initialize, gather, show the merged resources, gather again from the cache, pick the
executor, run `SELECT * FROM customers LIMIT 3` through it, and show what each step cost.
Logs at info on stderr (-q for errors only). Needs nothing installed; writes nothing.")]
    Demo,
    /// Print a shell completion script on stdout
    #[command(long_about = "\
Print a completion script for SHELL on stdout, e.g.
  mcp-orchestrator completions bash > ~/.local/share/bash-completion/completions/mcp-orchestrator
  mcp-orchestrator completions zsh > \"${fpath[1]}/_mcp-orchestrator\"")]
    Completions {
        /// The shell
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout
    #[command(long_about = "Print the man page (roff) on stdout, e.g. `mcp-orchestrator man | man -l -`.")]
    Man,
}

/// `login`'s options.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// Only this server of the config (repeatable)
    #[arg(short, long = "server", value_name = "NAME")]
    pub servers: Vec<String>,
    /// How long to wait for each server's authorization, in seconds [default: 300]
    #[arg(short, long, value_name = "SECONDS", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
}

/// `--config FILE`.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The YAML config
    #[arg(short, long, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
}

/// `gather`'s options (and those of `tools`, `resources` and `read`).
#[derive(Debug, Args)]
pub struct GatherArgs {
    /// The config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// table, or json: one document on stdout with op_id, error, servers (with their
    /// resources and contents), the merged resources and the cache counters
    #[arg(short, long, value_enum, value_name = "FORMAT", default_value_t = Format::Table)]
    pub format: Format,
    /// Only this server of the config (repeatable)
    #[arg(short, long = "server", value_name = "NAME")]
    pub servers: Vec<String>,
    /// --no-fail-fast and --timeout.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `tools`' options.
#[derive(Debug, Args)]
pub struct ToolsArgs {
    /// --config, --format, --server, --no-fail-fast, --timeout.
    #[command(flatten)]
    pub listing: GatherArgs,
    /// Only the merged tools that best match these keywords, best first
    #[arg(long, value_name = "QUERY")]
    pub search: Option<String>,
    /// With --search: the most matches to print
    #[arg(long, value_name = "N", default_value_t = 10, requires = "search")]
    pub limit: usize,
}

/// What `gather` and `call` may change of the config for one run.
#[derive(Debug, Default, Args)]
pub struct RunArgs {
    /// Go on when a server fails (the config's `fail_fast: false`): a gather prints what the
    /// others gave, a call goes ahead when its server is up
    #[arg(long)]
    pub no_fail_fast: bool,
    /// Every server's timeout, in seconds (instead of the config's)
    #[arg(short, long, value_name = "SECONDS", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
}

/// `check`'s options.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// table, or json: one document on stdout with the servers and the orchestration settings
    /// as understood (URLs without user info or query, header names without values)
    #[arg(short, long, value_enum, value_name = "FORMAT", default_value_t = Format::Table)]
    pub format: Format,
}

/// `prompts`' options, or its `get` subcommand.
#[derive(Debug, Args)]
pub struct PromptsArgs {
    /// Which servers, their timeout, fail-fast, and the format.
    #[command(flatten)]
    pub listing: GatherArgs,
    /// `get NAME`: one prompt's messages instead of the list.
    #[command(subcommand)]
    pub get: Option<PromptsCommand>,
}

/// What `prompts` may do besides listing.
#[derive(Debug, Subcommand)]
pub enum PromptsCommand {
    /// Get one prompt by its name in the catalogue and print its messages
    #[command(long_about = "\
Get one prompt by its name in the catalogue (as `prompts` lists it) from the server that
owns it, and print its messages: the role, then the text (other content described). With
--format json: one document with the name, the server, the description and the messages
as the server sent them.")]
    Get(PromptGetArgs),
}

/// `tasks`' subcommands.
#[derive(Debug, Args)]
pub struct TasksArgs {
    /// get, wait or cancel.
    #[command(subcommand)]
    pub command: TasksCommand,
}

/// What `tasks` does with one task.
#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// Print a task's status (tasks/get)
    Get(TaskRef),
    /// Wait for a task's result and print it, with status changes on stderr
    Wait(TaskWaitArgs),
    /// Ask the server to cancel a task (tasks/cancel), then print its status
    Cancel(TaskRef),
}

/// One task: its server and id.
#[derive(Debug, Args)]
pub struct TaskRef {
    /// The config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// table or json
    #[arg(short, long, value_enum, value_name = "FORMAT", default_value_t = Format::Table)]
    pub format: Format,
    /// The server that runs the task, by its name in the config
    #[arg(value_name = "SERVER")]
    pub server: String,
    /// The task's id, as `call --task` printed it
    #[arg(value_name = "ID")]
    pub id: String,
}

/// `tasks wait`'s options and operands.
#[derive(Debug, Args)]
pub struct TaskWaitArgs {
    /// The server and the id.
    #[command(flatten)]
    pub task: TaskRef,
    /// How long to wait for the result, in seconds [default: 600]
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout)]
    pub wait: Option<Duration>,
}

/// `prompts get`'s options and operand.
#[derive(Debug, Args)]
pub struct PromptGetArgs {
    /// Which servers, their timeout, fail-fast, and the format.
    #[command(flatten)]
    pub listing: GatherArgs,
    /// One argument: KEY=VALUE (prompt arguments are strings); repeatable
    #[arg(short = 'a', long = "arg", value_name = "KEY=VALUE", value_parser = parse_string_pair)]
    pub pairs: Vec<(String, String)>,
    /// The prompt's name in the catalogue, e.g. greet
    #[arg(value_name = "NAME")]
    pub name: String,
}

impl PromptGetArgs {
    /// The prompt's arguments (a later `-a` wins over an earlier one of the same key).
    pub fn arguments(&self) -> std::collections::BTreeMap<String, String> {
        self.pairs.iter().cloned().collect()
    }
}

/// `read`'s options and operand.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Which servers, their timeout, fail-fast, and the format.
    #[command(flatten)]
    pub listing: GatherArgs,
    /// The resource's URI, e.g. database://metadata
    #[arg(value_name = "URI")]
    pub uri: String,
}

/// How `serve` talks to its client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ServeTransport {
    /// Newline-delimited JSON-RPC on stdin and stdout
    Stdio,
    /// Streamable HTTP on POST /mcp
    Http,
}

/// `serve`'s options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// stdio, or http
    #[arg(long, value_enum, default_value = "stdio")]
    pub transport: ServeTransport,
    /// The address to listen on, with --transport http
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// The environment variable holding the bearer token every HTTP request must carry
    /// (required for a non-loopback --listen)
    #[arg(long, value_name = "VAR", default_value = "MCP_ORCHESTRATOR_TOKEN")]
    pub token_env: String,
    /// With more than N tools, list only `search_tools` and `call_tool` (deferred mode)
    #[arg(long, value_name = "N")]
    pub defer_tools: Option<usize>,
    /// How often to look at the config file's modification time, to reload it when it changes
    /// (0: never; SIGHUP always reloads)
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub reload_poll_ms: u64,
}

/// `status`'s options.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// table, or json: one document on stdout with each server's state
    #[arg(short, long, value_enum, value_name = "FORMAT", default_value_t = Format::Table)]
    pub format: Format,
    /// Only this server of the config (repeatable)
    #[arg(short, long = "server", value_name = "NAME")]
    pub servers: Vec<String>,
    /// Every server's timeout, in seconds (instead of the config's)
    #[arg(short, long, value_name = "SECONDS", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
}

/// `call`'s options and operands.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// Call this server instead of the executor
    #[arg(short, long, value_name = "NAME")]
    pub server: Option<String>,
    /// table (the result's text) or json (the whole result)
    #[arg(short, long, value_enum, value_name = "FORMAT", default_value_t = Format::Table)]
    pub format: Format,
    /// --no-fail-fast and --timeout.
    #[command(flatten)]
    pub run: RunArgs,
    /// One argument: KEY=VALUE (a string) or KEY:=JSON (any JSON value); repeatable, and
    /// wins over the same key in ARGS_JSON
    #[arg(short = 'a', long = "arg", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub pairs: Vec<(String, serde_json::Value)>,
    /// Let the server run the call as a task: print its id and status changes on stderr,
    /// then its result
    #[arg(long)]
    pub task: bool,
    /// With --task: how long to wait for the result, in seconds [default: 600]
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout, requires = "task")]
    pub wait: Option<Duration>,
    /// The tool's name, e.g. execute_query
    #[arg(value_name = "TOOL")]
    pub tool: String,
    /// Its arguments, one JSON object, e.g. '{"query": "SELECT 1"}' [default: {}]
    #[arg(value_name = "ARGS_JSON", value_parser = parse_arguments)]
    pub json: Option<serde_json::Value>,
}

impl CallArgs {
    /// The tool's arguments: ARGS_JSON (or `{}`) with the `-a` pairs set on it.
    pub fn arguments(&self) -> serde_json::Value {
        let mut arguments = match &self.json {
            Some(serde_json::Value::Object(map)) => map.clone(),
            _ => serde_json::Map::new(),
        };
        for (key, value) in &self.pairs {
            arguments.insert(key.clone(), value.clone());
        }
        serde_json::Value::Object(arguments)
    }
}

/// `-a KEY=VALUE` (a string) or `-a KEY:=JSON`.
fn parse_pair(text: &str) -> Result<(String, serde_json::Value), String> {
    let Some((key, value)) = text.split_once('=') else {
        return Err(format!("expected KEY=VALUE or KEY:=JSON (got `{text}`)"));
    };
    let pair = match key.strip_suffix(':') {
        Some(key) => {
            let value = serde_json::from_str(value)
                .map_err(|e| format!("the value of `{key}:=` is not valid JSON: {e} (got `{value}`)"))?;
            (key, value)
        }
        None => (key, serde_json::Value::String(value.to_string())),
    };
    if pair.0.is_empty() {
        return Err(format!("the key is empty (got `{text}`)"));
    }
    Ok((pair.0.to_string(), pair.1))
}

/// `-a KEY=VALUE` of a prompt: a string, split at the first `=`.
fn parse_string_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        Some(_) => Err(format!("the key is empty (got `{text}`)")),
        None => Err(format!("expected KEY=VALUE (got `{text}`)")),
    }
}

/// ARGS_JSON: a JSON object.
fn parse_arguments(text: &str) -> Result<serde_json::Value, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("ARGS_JSON is not valid JSON: {e} (got `{text}`)"))?;
    if !value.is_object() {
        return Err(format!("ARGS_JSON must be a JSON object like '{{\"query\": \"...\"}}' (got `{text}`)"));
    }
    Ok(value)
}

/// `--timeout SECONDS`: a number of seconds, more than 0, at most a day.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let secs: f64 = text.trim().parse().map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= MAX_TIMEOUT_SECS) {
        return Err(format!("the timeout must be more than 0 and at most {MAX_TIMEOUT_SECS} seconds (got `{text}`)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    fn p(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("mcp-orchestrator").chain(args.iter().copied()))
    }

    #[test]
    fn the_declaration_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommands_and_options() {
        let cli = p(&["-v", "gather", "--config=x.yaml", "--format", "json"]).unwrap();
        assert_eq!(cli.verbosity(), 1);
        let Command::Gather(g) = cli.command else { panic!() };
        assert_eq!((g.config.config, g.format), ("x.yaml".into(), Format::Json));
        assert!(!g.run.no_fail_fast && g.servers.is_empty() && g.run.timeout.is_none());
        let Command::Check(c) = p(&["check"]).unwrap().command else { panic!() };
        assert_eq!((c.config.config, c.format), (PathBuf::from(DEFAULT_CONFIG), Format::Table));
        assert_eq!(p(&["demo", "-vv"]).unwrap().level_from_flags(), Some(log::LevelFilter::Trace));
        assert_eq!(p(&["-q", "demo"]).unwrap().level_from_flags(), Some(log::LevelFilter::Error));
        assert_eq!(p(&["gather", "-q"]).unwrap().level_from_flags(), Some(log::LevelFilter::Error));
    }

    #[test]
    fn gather_filters_servers_and_sets_the_timeout_and_fail_fast() {
        let cli = p(&["gather", "--no-fail-fast", "--server", "a", "-s", "b", "--timeout", "2.5"]).unwrap();
        let Command::Gather(g) = cli.command else { panic!() };
        assert!(g.run.no_fail_fast);
        assert_eq!(g.servers, ["a", "b"]);
        assert_eq!(g.run.timeout, Some(Duration::from_millis(2500)));
        for bad in ["0", "-1", "1e19", "NaN", "inf", "soon"] {
            let e = p(&["gather", &format!("--timeout={bad}")]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ValueValidation, "{bad}: {e}");
        }
    }

    #[test]
    fn call_takes_a_tool_and_a_json_object() {
        let cli = p(&["call", "-s", "db", "execute_query", r#"{"query":"SELECT 1"}"#]).unwrap();
        let Command::Call(c) = cli.command else { panic!() };
        assert_eq!(c.server.as_deref(), Some("db"));
        assert_eq!(c.tool, "execute_query");
        assert_eq!(c.arguments(), serde_json::json!({"query": "SELECT 1"}));
        assert!(p(&["call", "t", "{bad"]).unwrap_err().to_string().contains("not valid JSON"));
        assert!(p(&["call", "t", "[1]"]).unwrap_err().to_string().contains("JSON object"));
        assert!(p(&["call"]).is_err());
    }

    #[test]
    fn tasks_take_a_server_and_an_id() {
        let Command::Tasks(t) = p(&["tasks", "get", "ci", "t-1"]).unwrap().command else { panic!() };
        let TasksCommand::Get(r) = t.command else { panic!() };
        assert_eq!((r.server.as_str(), r.id.as_str()), ("ci", "t-1"));
        let Command::Tasks(t) = p(&["tasks", "wait", "--wait", "5", "ci", "t-1"]).unwrap().command else { panic!() };
        let TasksCommand::Wait(w) = t.command else { panic!() };
        assert_eq!(w.wait, Some(Duration::from_secs(5)));
        assert!(p(&["tasks", "cancel", "ci"]).is_err());
        let Command::Call(c) = p(&["call", "--task", "--wait", "2", "build"]).unwrap().command else { panic!() };
        assert!(c.task && c.wait == Some(Duration::from_secs(2)));
        assert!(p(&["call", "--wait", "2", "build"]).is_err(), "--wait needs --task");
    }

    #[test]
    fn call_arguments_are_optional_and_may_come_as_pairs() {
        let Command::Call(c) = p(&["call", "t"]).unwrap().command else { panic!() };
        assert_eq!(c.arguments(), serde_json::json!({}));
        let cli = p(&["call", "-a", "q=SELECT 1", "--arg", "n:=3", "-a", "e=", "t", r#"{"q": "x", "k": true}"#]);
        let Command::Call(c) = cli.unwrap().command else { panic!() };
        assert_eq!(c.arguments(), serde_json::json!({"q": "SELECT 1", "n": 3, "e": "", "k": true}));
        let Command::Call(c) = p(&["call", "-a", "url=http://h/?a=b", "t"]).unwrap().command else { panic!() };
        assert_eq!(c.arguments(), serde_json::json!({"url": "http://h/?a=b"}), "split at the first `=`");
        for bad in ["novalue", "=x", "n:={bad", ":=1"] {
            assert_eq!(p(&["call", "-a", bad, "t"]).unwrap_err().kind(), ErrorKind::ValueValidation, "{bad}");
        }
    }

    #[test]
    fn prompts_lists_or_gets_one_with_string_arguments() {
        let Command::Prompts(a) = p(&["prompts", "-s", "a", "--format", "json"]).unwrap().command else { panic!() };
        assert!(a.get.is_none());
        assert_eq!((a.listing.servers.as_slice(), a.listing.format), (&["a".to_string()][..], Format::Json));
        let cli = p(&["prompts", "get", "greet", "-a", "who=Ann", "--arg", "x=a=b", "-a", "who=Bo", "-s", "a"]);
        let Command::Prompts(a) = cli.unwrap().command else { panic!() };
        let Some(PromptsCommand::Get(g)) = a.get else { panic!() };
        assert_eq!(g.name, "greet");
        assert_eq!(g.listing.servers, ["a"]);
        let expected: std::collections::BTreeMap<String, String> =
            [("who".into(), "Bo".into()), ("x".into(), "a=b".into())].into();
        assert_eq!(g.arguments(), expected);
        for bad in
            [&["prompts", "get"][..], &["prompts", "get", "g", "-a", "novalue"], &["prompts", "-s", "a", "get", "g"]]
        {
            assert_eq!(p(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn help_and_version_are_not_errors_of_usage() {
        for args in [&["--help"][..], &["help"], &["gather", "-h"], &["help", "call"]] {
            assert_eq!(p(args).unwrap_err().kind(), ErrorKind::DisplayHelp, "{args:?}");
        }
        assert_eq!(p(&["--version"]).unwrap_err().kind(), ErrorKind::DisplayVersion);
        assert_eq!(p(&["--help"]).unwrap_err().exit_code(), 0);
    }

    #[test]
    fn usage_errors_exit_2() {
        for args in [
            &["frobnicate"][..],
            &[],
            &["gather", "--format", "xml"],
            &["gather", "--config"],
            &["gather", "--bogus"],
            &["check", "extra"],
            &["demo", "--config", "x"],
        ] {
            assert_eq!(p(args).unwrap_err().exit_code(), 2, "{args:?}");
        }
    }
}
