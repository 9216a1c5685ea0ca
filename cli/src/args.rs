//! The command line, parsed by hand: global flags, one subcommand, its options and operands.
//!
//! Global flags (`-v`, `-vv`, `-q`, `-h`, `-V`) may appear anywhere. `--name value` and
//! `--name=value` are both accepted; `--` ends the options.

use std::path::PathBuf;

/// The default for `--config`.
pub const DEFAULT_CONFIG: &str = "./mcp_config.yaml";

/// What the user asked for.
#[derive(Debug, PartialEq)]
pub struct Cli {
    /// `-v` count minus `-q` count: -1 errors only, 0 default, 1 debug, 2+ trace.
    pub verbosity: i8,
    /// The subcommand.
    pub command: Command,
}

impl Cli {
    /// The log level the flags ask for, if they ask for one.
    pub fn level_from_flags(&self) -> Option<log::LevelFilter> {
        match self.verbosity {
            0 => None,
            v if v < 0 => Some(log::LevelFilter::Error),
            1 => Some(log::LevelFilter::Debug),
            _ => Some(log::LevelFilter::Trace),
        }
    }
}

/// How `gather` and `call` print their result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned text for a person.
    Table,
    /// One JSON document on stdout.
    Json,
}

/// A subcommand and its options.
#[derive(Debug, PartialEq)]
pub enum Command {
    /// Validate a config and list its servers.
    Check {
        /// The config file.
        config: PathBuf,
    },
    /// Initialize, gather, print.
    Gather {
        /// The config file.
        config: PathBuf,
        /// Table or JSON.
        format: Format,
    },
    /// Call a tool.
    Call {
        /// The config file.
        config: PathBuf,
        /// The server to call (default: the executor).
        server: Option<String>,
        /// Table (text) or JSON (the whole result).
        format: Format,
        /// The tool's name.
        tool: String,
        /// Its arguments (a JSON object).
        arguments: serde_json::Value,
    },
    /// Run two embedded servers and show every step.
    Demo,
    /// Print help: the program's (`None`) or a subcommand's.
    Help(Option<Topic>),
    /// Print the version.
    Version,
}

/// A subcommand, as a help topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    /// `check`.
    Check,
    /// `gather`.
    Gather,
    /// `call`.
    Call,
    /// `demo`.
    Demo,
}

impl Topic {
    fn from_name(name: &str) -> Option<Topic> {
        match name {
            "check" => Some(Topic::Check),
            "gather" => Some(Topic::Gather),
            "call" => Some(Topic::Call),
            "demo" => Some(Topic::Demo),
            _ => None,
        }
    }

    /// The help text of the subcommand.
    pub fn help(self) -> &'static str {
        match self {
            Topic::Check => CHECK_HELP,
            Topic::Gather => GATHER_HELP,
            Topic::Call => CALL_HELP,
            Topic::Demo => DEMO_HELP,
        }
    }
}

/// A usage error: what was wrong, and the help topic to point at.
#[derive(Debug, PartialEq)]
pub struct UsageError {
    /// What was wrong.
    pub message: String,
    /// The subcommand it concerns, if known.
    pub topic: Option<Topic>,
}

impl UsageError {
    fn new(message: impl Into<String>, topic: Option<Topic>) -> UsageError {
        UsageError { message: message.into(), topic }
    }

    /// The line that tells the user where to read more.
    pub fn hint(&self) -> String {
        match self.topic {
            Some(t) => format!("run `mcp-orchestrator {} --help` for usage", topic_name(t)),
            None => "run `mcp-orchestrator --help` for usage".to_string(),
        }
    }
}

fn topic_name(t: Topic) -> &'static str {
    match t {
        Topic::Check => "check",
        Topic::Gather => "gather",
        Topic::Call => "call",
        Topic::Demo => "demo",
    }
}

/// Parses the arguments after the program name.
pub fn parse<I>(args: I) -> Result<Cli, UsageError>
where
    I: IntoIterator<Item = String>,
{
    let mut verbosity: i8 = 0;
    let mut help = false;
    let mut version = false;
    let mut topic: Option<Topic> = None;
    let mut config: Option<PathBuf> = None;
    let mut format: Option<Format> = None;
    let mut server: Option<String> = None;
    let mut operands: Vec<String> = Vec::new();
    let mut options_done = false;

    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if options_done || arg == "-" || !arg.starts_with('-') {
            if topic.is_none() && !options_done {
                match Topic::from_name(&arg) {
                    Some(t) => topic = Some(t),
                    None if arg == "help" => help = true,
                    None => return Err(UsageError::new(format!("unknown subcommand `{arg}`"), None)),
                }
            } else {
                operands.push(arg);
            }
            continue;
        }
        if arg == "--" {
            options_done = true;
            continue;
        }
        // `--name=value` or `--name value`.
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, UsageError> {
            match inline.clone().or_else(|| args.next()) {
                Some(v) => Ok(v),
                None => Err(UsageError::new(format!("`{name}` needs a value ({what})"), topic)),
            }
        };
        match name.as_str() {
            "-h" | "--help" => help = true,
            "-V" | "--version" => version = true,
            "-q" | "--quiet" => verbosity = verbosity.saturating_sub(1),
            "--verbose" => verbosity = verbosity.saturating_add(1),
            "-c" | "--config" => config = Some(PathBuf::from(value("a file")?)),
            "-f" | "--format" => {
                let v = value("table or json")?;
                format = Some(match v.as_str() {
                    "table" => Format::Table,
                    "json" => Format::Json,
                    other => {
                        return Err(UsageError::new(
                            format!("unknown format `{other}` (expected `table` or `json`)"),
                            topic,
                        ));
                    }
                });
            }
            "-s" | "--server" => server = Some(value("a server name from the config")?),
            short if is_verbose_cluster(short) => {
                let n = i8::try_from(short.len() - 1).unwrap_or(i8::MAX);
                verbosity = verbosity.saturating_add(n);
            }
            _ => return Err(UsageError::new(format!("unknown option `{arg}`"), topic)),
        }
        if inline.is_some() && !matches!(name.as_str(), "--config" | "--format" | "--server") {
            return Err(UsageError::new(format!("option `{name}` takes no value"), topic));
        }
    }

    if help {
        return Ok(Cli { verbosity, command: Command::Help(topic) });
    }
    if version {
        return Ok(Cli { verbosity, command: Command::Version });
    }
    let Some(t) = topic else {
        return Err(UsageError::new("no subcommand given (check, gather, call or demo)", None));
    };

    let refuse = |what: &str, given: bool| -> Result<(), UsageError> {
        if given { Err(UsageError::new(format!("`{}` does not take {what}", topic_name(t)), Some(t))) } else { Ok(()) }
    };
    let config_path = config.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    let command = match t {
        Topic::Check => {
            refuse("`--format`", format.is_some())?;
            refuse("`--server`", server.is_some())?;
            no_operands(t, &operands)?;
            Command::Check { config: config_path }
        }
        Topic::Gather => {
            refuse("`--server`", server.is_some())?;
            no_operands(t, &operands)?;
            Command::Gather { config: config_path, format: format.unwrap_or(Format::Table) }
        }
        Topic::Demo => {
            refuse("`--config` (it builds its own config)", config.is_some())?;
            refuse("`--format`", format.is_some())?;
            refuse("`--server`", server.is_some())?;
            no_operands(t, &operands)?;
            Command::Demo
        }
        Topic::Call => {
            let mut operands = operands.into_iter();
            let (Some(tool), Some(json)) = (operands.next(), operands.next()) else {
                return Err(UsageError::new("`call` needs a TOOL and its ARGS_JSON (e.g. '{}')", Some(t)));
            };
            if let Some(extra) = operands.next() {
                return Err(UsageError::new(
                    format!("unexpected argument `{extra}` (quote ARGS_JSON as one argument)"),
                    Some(t),
                ));
            }
            let arguments = parse_arguments(&json).map_err(|m| UsageError::new(m, Some(t)))?;
            Command::Call { config: config_path, server, format: format.unwrap_or(Format::Table), tool, arguments }
        }
    };
    Ok(Cli { verbosity, command })
}

/// `-v`, `-vv`, `-vvv`…
fn is_verbose_cluster(arg: &str) -> bool {
    arg.len() >= 2 && arg.starts_with('-') && arg[1..].bytes().all(|b| b == b'v')
}

fn no_operands(t: Topic, operands: &[String]) -> Result<(), UsageError> {
    match operands.first() {
        Some(extra) => Err(UsageError::new(format!("unexpected argument `{extra}`"), Some(t))),
        None => Ok(()),
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

/// `mcp-orchestrator --help`.
pub const MAIN_HELP: &str = "\
mcp-orchestrator: use many MCP (Model Context Protocol) servers as one

Usage: mcp-orchestrator [-v|-vv|-q] <COMMAND> [OPTIONS]

Commands:
  check    Validate a config file and list its servers
  gather   Connect to every server, gather their resources and print them, merged by priority
  call     Call a tool on the executor (or on a named server) and print its result
  demo     Start two embedded MCP servers and walk through connect, gather, cache and a query
  help     Print this help (or `mcp-orchestrator <COMMAND> --help`)

Global options:
  -v, --verbose    More logs on stderr: -v debug, -vv trace (payloads)
  -q, --quiet      Errors only
  -h, --help       Print help
  -V, --version    Print the version

Logging: -v/-q win over RUST_LOG, which wins over the config's `log_level`;
without any of them the command logs warnings and errors.

Exit status: 0 ok; 1 the operation failed (a server failed with fail_fast, no server
reachable, the tool reported an error); 2 bad usage or an invalid config.

Start with `mcp-orchestrator demo`: it needs nothing installed and writes nothing.
";

const CHECK_HELP: &str = "\
Validate a config file and list its servers: name, priority, transport, enabled,
timeout, domains, capabilities, and the URL or command. Does not connect.

Usage: mcp-orchestrator check [--config FILE]

Options:
  -c, --config FILE    The YAML config [default: ./mcp_config.yaml]
  -h, --help           Print help

Exit status: 0 valid; 2 invalid (the message names the key and the line).
";

const GATHER_HELP: &str = "\
Connect to every enabled server in parallel, gather their resources, templates, tools and
resource contents in parallel, and print each server's outcome and the merged resources
(for a URI several servers list, the lowest priority number wins; the others are shadowed).

Usage: mcp-orchestrator gather [--config FILE] [--format table|json]

Options:
  -c, --config FILE      The YAML config [default: ./mcp_config.yaml]
  -f, --format FORMAT    table (default) or json: one JSON document on stdout with
                         op_id, servers (with their resources and contents), the merged
                         resources and the cache counters
  -h, --help             Print help

Exit status: 0 ok; 1 the gather failed (fail_fast) or no server was reachable;
2 bad usage or an invalid config.
";

const CALL_HELP: &str = "\
Call a tool and print its result: its text content, then its structuredContent as
pretty JSON when there is one. Without --server the tool runs on the executor: the
connected server with the lowest priority number whose config lists `execute_query`.

Usage: mcp-orchestrator call [--config FILE] [--server NAME] [--format table|json] TOOL ARGS_JSON

Arguments:
  TOOL         The tool's name, e.g. execute_query
  ARGS_JSON    Its arguments, one JSON object, e.g. '{\"query\": \"SELECT 1\"}'

Options:
  -c, --config FILE      The YAML config [default: ./mcp_config.yaml]
  -s, --server NAME      Call this server instead of the executor
  -f, --format FORMAT    table (default: the result's text) or json (the whole result)
  -h, --help             Print help

Exit status: 0 ok; 1 the call failed or the tool reported an error (isError);
2 bad usage, ARGS_JSON not a JSON object, or an invalid config.
";

const DEMO_HELP: &str = "\
Start two embedded MCP servers on loopback ports, shaped like the original deployment:
a Database MCP (priority 10: `database://metadata`, tool `execute_query`) and a Product
Metadata MCP (priority 1: `product-aliases://list`, `column-mappings://list`,
`metadata-summary://info`). Then initialize, gather, show the merged resources, gather
again from the cache, pick the executor, run `SELECT * FROM customers LIMIT 3` through it,
and show what each step cost. Needs nothing installed; writes nothing.

Usage: mcp-orchestrator demo

Options:
  -h, --help    Print help
";

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Cli, UsageError> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn subcommands_and_options() {
        let cli = p(&["-v", "gather", "--config=x.yaml", "--format", "json"]).unwrap();
        assert_eq!(cli.verbosity, 1);
        assert_eq!(cli.command, Command::Gather { config: "x.yaml".into(), format: Format::Json });
        let cli = p(&["check"]).unwrap();
        assert_eq!(cli.command, Command::Check { config: DEFAULT_CONFIG.into() });
        assert_eq!(p(&["demo", "-vv"]).unwrap().level_from_flags(), Some(log::LevelFilter::Trace));
        assert_eq!(p(&["-q", "demo"]).unwrap().level_from_flags(), Some(log::LevelFilter::Error));
    }

    #[test]
    fn call_takes_a_tool_and_a_json_object() {
        let cli = p(&["call", "-s", "db", "execute_query", r#"{"query":"SELECT 1"}"#]).unwrap();
        let Command::Call { server, tool, arguments, .. } = cli.command else { panic!() };
        assert_eq!(server.as_deref(), Some("db"));
        assert_eq!(tool, "execute_query");
        assert_eq!(arguments["query"], "SELECT 1");
        assert!(p(&["call", "t", "{bad"]).unwrap_err().message.contains("not valid JSON"));
        assert!(p(&["call", "t", "[1]"]).unwrap_err().message.contains("JSON object"));
        assert!(p(&["call", "t"]).is_err());
    }

    #[test]
    fn help_and_version() {
        assert_eq!(p(&[]).unwrap_err().topic, None);
        assert_eq!(p(&["--help"]).unwrap().command, Command::Help(None));
        assert_eq!(p(&["help"]).unwrap().command, Command::Help(None));
        assert_eq!(p(&["gather", "-h"]).unwrap().command, Command::Help(Some(Topic::Gather)));
        // Help wins over everything else wrong on the line, except an unknown subcommand.
        assert_eq!(p(&["call", "--help"]).unwrap().command, Command::Help(Some(Topic::Call)));
        assert_eq!(p(&["--version"]).unwrap().command, Command::Version);
    }

    #[test]
    fn usage_errors() {
        assert!(p(&["frobnicate"]).unwrap_err().message.contains("unknown subcommand `frobnicate`"));
        assert!(p(&["gather", "--format", "xml"]).unwrap_err().message.contains("unknown format `xml`"));
        assert!(p(&["gather", "--config"]).unwrap_err().message.contains("needs a value"));
        assert!(p(&["gather", "--bogus"]).unwrap_err().message.contains("unknown option `--bogus`"));
        assert!(p(&["check", "extra"]).unwrap_err().message.contains("unexpected argument"));
        assert!(p(&["demo", "--config", "x"]).is_err());
        assert!(p(&["demo", "--help=yes"]).unwrap_err().message.contains("takes no value"));
    }
}
