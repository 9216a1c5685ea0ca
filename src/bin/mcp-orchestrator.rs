//! `mcp-orchestrator`: check a config, gather from its servers, call a tool, or run the demo.
//!
//! Run `mcp-orchestrator --help` for the commands. Exit status: 0 ok, 1 the operation failed,
//! 2 bad usage or an invalid config.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// `println!` through [`emit`].
macro_rules! say {
    () => { $crate::emit("\n") };
    ($($arg:tt)*) => { $crate::emit(&format!("{}\n", format_args!($($arg)*))) };
}

// The binary's root is a file directly in src/bin/ (Cargo.toml names it), so its modules live
// in src/bin/mcp-orchestrator/ and are named by path: a file beside it would be a second binary.
#[path = "mcp-orchestrator/args.rs"]
mod args;
#[path = "mcp-orchestrator/demo.rs"]
mod demo;
#[path = "mcp-orchestrator/output.rs"]
mod output;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use mcp_orchestrator::{CallToolResult, Config, Content, Error, Orchestrator};

use args::{Cli, Command, Format, UsageError};

/// Writes to stdout. A closed stdout (`| head`) is not an error worth a panic: the rest of the
/// output is dropped.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Why the command did not succeed, and so its exit status.
#[derive(Debug)]
pub enum Failure {
    /// Bad usage: exit 2.
    Usage(UsageError),
    /// An invalid config: exit 2.
    Config(Error),
    /// The operation failed: exit 1.
    Op(Error),
    /// The operation failed for a reason that is not a library error (a tool's error result,
    /// a demo server that would not start): exit 1.
    Other(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        if e.is_config() { Failure::Config(e) } else { Failure::Op(e) }
    }
}

fn main() -> ExitCode {
    let cli = match args::parse(std::env::args().skip(1)) {
        Ok(cli) => cli,
        Err(e) => return report(Failure::Usage(e)),
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => report(f),
    }
}

fn report(failure: Failure) -> ExitCode {
    match failure {
        Failure::Usage(e) => {
            eprintln!("error: {}\n{}", e.message, e.hint());
            ExitCode::from(2)
        }
        Failure::Config(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Failure::Op(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
        Failure::Other(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Help(None) => emit(args::MAIN_HELP),
        Command::Help(Some(topic)) => emit(topic.help()),
        Command::Version => say!("mcp-orchestrator {}", env!("CARGO_PKG_VERSION")),
        Command::Check { config } => {
            let config = load(cli, config)?;
            emit(&output::config_table(&config));
            say!("\nok: {} server(s), {} enabled", config.servers.len(), config.enabled_servers().count());
        }
        Command::Gather { config, format } => {
            let config = load(cli, config)?;
            let orchestrator = Orchestrator::new(config);
            let result = gather(&orchestrator, *format);
            orchestrator.close();
            result?;
        }
        Command::Call { config, server, format, tool, arguments } => {
            let config = load(cli, config)?;
            let orchestrator = Orchestrator::new(config);
            let result = call(&orchestrator, server.as_deref(), *format, tool, arguments);
            orchestrator.close();
            result?;
        }
        Command::Demo => {
            init_logging(cli.level_from_flags(), None);
            demo::run()?;
        }
    }
    Ok(())
}

/// Loads the config, then sets up logging with its `log_level` if it sets one.
fn load(cli: &Cli, path: &Path) -> Result<Config, Failure> {
    let config = Config::from_path(path).map_err(Failure::Config)?;
    init_logging(cli.level_from_flags(), config.orchestration.log_level);
    Ok(config)
}

/// Logs go to stderr. `-v`/`-q` win over `RUST_LOG`, which wins over the config's
/// `log_level`, which wins over the command's default (warnings). A level from the flags or the
/// config applies to this crate; other crates (the HTTP client) stay at warnings.
fn init_logging(flags: Option<log::LevelFilter>, config: Option<log::LevelFilter>) {
    let mut builder = env_logger::Builder::new();
    builder.target(env_logger::Target::Stderr).format_timestamp_millis();
    let ours = match (flags, std::env::var("RUST_LOG")) {
        (Some(level), _) => Some(level),
        (None, Ok(spec)) if !spec.trim().is_empty() => {
            builder.parse_filters(&spec);
            None
        }
        (None, _) => Some(config.unwrap_or(log::LevelFilter::Warn)),
    };
    if let Some(level) = ours {
        builder.filter_level(log::LevelFilter::Warn.min(level)).filter_module("mcp_orchestrator", level);
    }
    // A second init (never happens here) would fail harmlessly.
    let _ = builder.try_init();
}

/// Initializes, telling a person at a terminal how each server fared.
fn initialize(o: &Orchestrator) -> Result<(), Failure> {
    let tty = std::io::stderr().is_terminal();
    let names: Vec<String> = o.config().enabled_servers().map(|s| s.name.clone()).collect();
    if tty {
        eprintln!("connecting to {} server(s)...", names.len());
    }
    let started = Instant::now();
    o.initialize()?;
    if tty {
        let failures = o.connect_failures();
        for name in &names {
            match (o.client(name), failures.get(name)) {
                (Ok(c), _) => {
                    let info = &c.server().server_info;
                    eprintln!(
                        "  {name}: connected ({} {}, protocol {})",
                        info.name,
                        info.version,
                        c.protocol_version()
                    );
                }
                (Err(_), Some(e)) => eprintln!("  {name}: failed: {e}"),
                (Err(e), None) => eprintln!("  {name}: {e}"),
            }
        }
        eprintln!("initialized in {}", output::human(started.elapsed()));
    }
    Ok(())
}

fn gather(o: &Orchestrator, format: Format) -> Result<(), Failure> {
    initialize(o)?;
    let gathered = o.gather_all_resources()?;
    let stats = o.cache_stats();
    match format {
        Format::Table => emit(&output::gather_table(&gathered, &stats)),
        Format::Json => {
            let text = serde_json::to_string_pretty(&output::gather_json(&gathered, &stats))
                .map_err(|e| Failure::Other(format!("cannot encode the result as JSON: {e}")))?;
            say!("{text}");
        }
    }
    Ok(())
}

fn call(
    o: &Orchestrator,
    server: Option<&str>,
    format: Format,
    tool: &str,
    arguments: &serde_json::Value,
) -> Result<(), Failure> {
    initialize(o)?;
    // Resolve the executor first, so that a tool's error result can name the server.
    let server = match server {
        Some(name) => name.to_string(),
        None => o.executor()?.name().to_string(),
    };
    let result = o.call_tool_on(Some(&server), tool, arguments.clone())?;
    match format {
        Format::Json => {
            let text = serde_json::to_string_pretty(&result)
                .map_err(|e| Failure::Other(format!("cannot encode the result as JSON: {e}")))?;
            say!("{text}");
        }
        Format::Table if !result.is_error => emit(&call_text(&result)),
        Format::Table => {}
    }
    if result.is_error {
        let text = result.text();
        let detail = if text.is_empty() { "(no message)".to_string() } else { text };
        return Err(Failure::Other(format!("tool `{tool}` on server `{server}` reported an error: {detail}")));
    }
    Ok(())
}

/// A tool result for a person: text items as they are, other items described, then the
/// structured content as pretty JSON.
fn call_text(result: &CallToolResult) -> String {
    let mut out = String::new();
    for item in &result.content {
        let line = match item {
            Content::Text { text, .. } => text.clone(),
            Content::Image { mime_type, data } => format!("[image {mime_type}, {} base64 characters]", data.len()),
            Content::Audio { mime_type, data } => format!("[audio {mime_type}, {} base64 characters]", data.len()),
            Content::ResourceLink(r) => format!("[resource link {}]", r.uri),
            Content::Resource { resource } => match resource.text() {
                Some(text) => format!("[resource {}]\n{text}", resource.uri),
                None => format!("[resource {} (binary)]", resource.uri),
            },
            _ => "[content of a type this version does not know]".to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    if let Some(s) = &result.structured_content {
        out.push_str("structuredContent:\n");
        out.push_str(&serde_json::to_string_pretty(s).unwrap_or_else(|_| s.to_string()));
        out.push('\n');
    }
    out
}
