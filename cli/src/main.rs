//! `mcp-orchestrator`: check a config, gather from its servers, call a tool, or run the demo.
//!
//! Run `mcp-orchestrator --help` for the commands. Exit status: 0 ok, 1 the operation failed,
//! 2 bad usage or an invalid config, 3 partial (some servers failed, the rest printed).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// `println!` through [`emit`].
macro_rules! say {
    () => { $crate::emit("\n") };
    ($($arg:tt)*) => { $crate::emit(&format!("{}\n", format_args!($($arg)*))) };
}

mod args;
mod demo;
mod login;
mod output;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use clap::CommandFactory;
use mcp_orchestrator::{
    CallToolResult, Config, Content, Error, Gathered, Orchestrator, ProgressEvent, ProgressStage, Status,
};

use args::{Cli, Command, Format, GatherArgs, PromptsCommand, RunArgs, StatusArgs};

/// Writes to stdout. A closed stdout (`| head`) is not an error worth a panic: the rest of the
/// output is dropped.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Why the command did not succeed, and so its exit status.
#[derive(Debug)]
pub enum Failure {
    /// Bad usage that clap cannot see (a `--server` the config does not have): exit 2.
    Usage(String),
    /// An invalid config: exit 2.
    Config(Error),
    /// The operation failed: exit 1.
    Op(Error),
    /// The operation failed for a reason that is not a library error (a tool's error result,
    /// a demo server that would not start): exit 1.
    Other(String),
    /// Some servers failed, the others' results were printed: exit 3.
    Partial(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        if e.is_config() { Failure::Config(e) } else { Failure::Op(e) }
    }
}

fn main() -> ExitCode {
    // A usage error exits here with status 2; --help and --version with 0.
    let cli = Cli::from_args();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => report(f),
    }
}

fn report(failure: Failure) -> ExitCode {
    match failure {
        Failure::Usage(message) => {
            eprintln!("error: {message}\n\nFor more information, try '--help'.");
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
        Failure::Partial(message) => {
            eprintln!("partial: {message}");
            ExitCode::from(3)
        }
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Check(args) => {
            let config = load(cli, &args.config.config)?;
            match args.format {
                Format::Table => {
                    emit(&output::config_table(&config));
                    let notes = output::config_notes(&config);
                    if !notes.is_empty() {
                        say!(
                            "\nread as {} config; assumed or left out:\n{}",
                            output::format_name(config.format()),
                            notes.trim_end()
                        );
                    }
                    say!("\nok: {} server(s), {} enabled", config.servers.len(), config.enabled_servers().count());
                }
                Format::Json => print_json(&output::config_json(&config))?,
            }
        }
        Command::Gather(args) => {
            let config = run_config(load(cli, &args.config.config)?, &args.servers, &args.run)?;
            let orchestrator = login::orchestrator(config, cli.no_browser);
            let result = gather(&orchestrator, args.format);
            orchestrator.close();
            result?;
        }
        Command::Call(args) => {
            let config = run_config(load(cli, &args.config.config)?, &[], &args.run)?;
            let orchestrator = login::orchestrator(config, cli.no_browser);
            let result = call(&orchestrator, args.server.as_deref(), args.format, &args.tool, args.arguments());
            if let (Format::Json, Err(Failure::Op(e))) = (args.format, &result) {
                // A failure is a document too: the error, the tool, and what is known of each server.
                let mut doc =
                    output::listing_failure_json(orchestrator.config(), Some(e), "", &orchestrator.connect_failures());
                doc["tool"] = args.tool.as_str().into();
                print_json(&doc)?;
            }
            orchestrator.close();
            result?;
        }
        Command::Tools(args) => listing(cli, args, |_, g| match args.format {
            Format::Table => {
                emit(&output::tools_table(g));
                Ok(())
            }
            Format::Json => print_json(&output::tools_json(g)),
        })?,
        Command::Resources(args) => listing(cli, args, |_, g| match args.format {
            Format::Table => {
                emit(&output::resources_and_templates_table(g));
                Ok(())
            }
            Format::Json => print_json(&output::resources_json(g)),
        })?,
        Command::Read(args) => listing(cli, &args.listing, |o, g| read(o, g, &args.uri, args.listing.format))?,
        Command::Prompts(args) => match &args.get {
            None => listing(cli, &args.listing, |_, g| match args.listing.format {
                Format::Table => {
                    emit(&output::prompts_table(g));
                    Ok(())
                }
                Format::Json => print_json(&output::prompts_json(g)),
            })?,
            Some(PromptsCommand::Get(get)) => {
                listing(cli, &get.listing, |o, g| prompt(o, g, &get.name, &get.arguments(), get.listing.format))?
            }
        },
        Command::Status(args) => {
            // Every server's state is the point: never fail-fast.
            let run = RunArgs { no_fail_fast: true, timeout: args.timeout };
            let config = run_config(load(cli, &args.config.config)?, &args.servers, &run)?;
            let orchestrator = login::orchestrator(config, cli.no_browser);
            let result = status(&orchestrator, args);
            orchestrator.close();
            result?;
        }
        Command::Login(args) => {
            let config = load(cli, &args.config.config)?;
            let timeout = args.timeout.unwrap_or(login::DEFAULT_LOGIN_TIMEOUT);
            login::run(&config, &args.servers, timeout, cli.no_browser)?;
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "mcp-orchestrator", &mut out);
            emit(&String::from_utf8_lossy(&out));
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .map_err(|e| Failure::Other(format!("cannot render the man page: {e}")))?;
            emit(&String::from_utf8_lossy(&out));
        }
        Command::Demo => {
            // As the sample config (mcp_config.yaml) would: the library's info lines on stderr.
            init_logging(cli.level_from_flags(), Some(log::LevelFilter::Info));
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
/// config applies to this crate; other crates (the HTTP client) stay at warnings. Whatever the
/// settings, the HTTP crates never log above [`HTTP_CRATES_MAX`] (see [`Capped`]).
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
    let logger = builder.build();
    let max = logger.filter();
    // A second init (never happens here) would fail harmlessly.
    if log::set_boxed_logger(Box::new(Capped(logger))).is_ok() {
        log::set_max_level(max);
    }
}

/// The crates (log targets' first segment) of the HTTP stack. At debug and trace they log
/// request and response heads, header values included (ureq-proto logs each request head at
/// debug), and URIs with their user info and query.
const HTTP_CRATES: &[&str] =
    &["ureq", "ureq_proto", "rustls", "rustls_pki_types", "rustls_webpki", "webpki", "http", "httparse"];

/// The most verbose level an [`HTTP_CRATES`] record may have to be printed.
const HTTP_CRATES_MAX: log::Level = log::Level::Info;

/// The logger with the HTTP crates capped at [`HTTP_CRATES_MAX`]: a secret in a header or a
/// URL (`Authorization`, `X-Api-Key`, `?api_key=`) is never printed, whatever `RUST_LOG` or
/// `-vv` ask for. A wrapper rather than an env_logger directive, because a more specific
/// directive in `RUST_LOG` (`ureq_proto::client=trace`) would win over one for the crate.
struct Capped(env_logger::Logger);

/// True for a record the cap drops.
fn too_verbose(metadata: &log::Metadata<'_>) -> bool {
    metadata.level() > HTTP_CRATES_MAX
        && HTTP_CRATES.contains(&metadata.target().split("::").next().unwrap_or_default())
}

impl log::Log for Capped {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        !too_verbose(metadata) && self.0.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !too_verbose(record.metadata()) {
            self.0.log(record);
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}

/// Initializes, telling a person at a terminal how each server fares as it happens (one line
/// per server as it connects, and as it gathers later); silent when stderr is not a terminal.
fn initialize(o: &Orchestrator) -> Result<(), Failure> {
    let tty = watch_progress(o);
    let started = Instant::now();
    o.initialize()?;
    if tty {
        eprintln!("initialized in {}", output::human(started.elapsed()));
    }
    Ok(())
}

/// On a terminal (stderr), prints a line per server as it connects and gathers; returns
/// whether it does.
fn watch_progress(o: &Orchestrator) -> bool {
    let tty = std::io::stderr().is_terminal();
    if tty {
        eprintln!("connecting to {} server(s)...", o.config().enabled_servers().count());
        o.on_progress(|event| {
            if let Some(line) = progress_line(event) {
                eprintln!("{line}");
            }
        });
    }
    tty
}

/// The line a person sees for a progress event (none for the starts: the outcome follows).
fn progress_line(event: &ProgressEvent) -> Option<String> {
    let server = event.server();
    match event {
        ProgressEvent::Connected { protocol, transport, elapsed, .. } => {
            Some(format!("  {server}: connected ({transport}, protocol {protocol}) in {}", output::human(*elapsed)))
        }
        ProgressEvent::Gathered { resources, templates, tools, prompts, contents, elapsed, .. } => Some(format!(
            "  {server}: gathered {resources} resource(s), {templates} template(s), {tools} tool(s), \
             {prompts} prompt(s), {contents} read in {}",
            output::human(*elapsed)
        )),
        ProgressEvent::Failed { stage, error, .. } => {
            let what = if *stage == ProgressStage::Connect { "connect" } else { "gather" };
            Some(format!("  {server}: failed to {what}: {error}"))
        }
        _ => None,
    }
}

/// The config a command runs with: only `servers` (all when empty), each with the `--timeout`
/// if given, and `fail_fast` off with `--no-fail-fast`.
fn run_config(config: Config, only: &[String], run: &RunArgs) -> Result<Config, Failure> {
    if let Some(unknown) = only.iter().find(|n| config.server(n).is_none()) {
        let known: Vec<&str> = config.servers.iter().map(|s| s.name.as_str()).collect();
        return Err(Failure::Usage(format!(
            "--server {unknown}: the config has no server named `{unknown}` (it has: {})",
            known.join(", ")
        )));
    }
    if only.is_empty() && run.timeout.is_none() && !run.no_fail_fast {
        return Ok(config);
    }
    let mut servers = config.servers;
    if !only.is_empty() {
        servers.retain(|s| only.contains(&s.name));
    }
    if let Some(timeout) = run.timeout {
        for s in &mut servers {
            s.timeout = timeout;
        }
    }
    let mut orchestration = config.orchestration;
    if run.no_fail_fast {
        orchestration.fail_fast = false;
    }
    Ok(Config::new(servers, orchestration)?)
}

fn gather(o: &Orchestrator, format: Format) -> Result<(), Failure> {
    let gathered = initialize(o).and_then(|()| Ok(o.gather_all_resources()?));
    let stats = o.cache_stats();
    let partial = gathered.as_ref().ok().and_then(|g| partial(g));
    match (format, gathered) {
        (Format::Table, Ok(gathered)) => emit(&output::gather_table(&gathered, &stats)),
        (Format::Table, Err(e)) => return Err(e),
        (Format::Json, Ok(gathered)) => print_json(&output::gather_json(&gathered, &stats))?,
        (Format::Json, Err(Failure::Op(e))) => {
            // A failure is a document too: the error and what is known of each server.
            print_json(&output::gather_failure_json(o.config(), &e, &o.connect_failures(), &stats))?;
            return Err(Failure::Op(e));
        }
        (Format::Json, Err(e)) => return Err(e),
    }
    if let Some(partial) = partial {
        return Err(Failure::Partial(partial));
    }
    Ok(())
}

/// `status`: connects (never fail-fast), pings every connected server, prints each one's state.
fn status(o: &Orchestrator, args: &StatusArgs) -> Result<(), Failure> {
    // With fail_fast off, initialize fails only when no server connected; the failures say why.
    watch_progress(o);
    let initialized = o.initialize();
    let failures = o.connect_failures();
    let states: Vec<output::ServerState> = o
        .config()
        .servers
        .iter()
        .map(|s| {
            let client = o.client(&s.name).ok().filter(|_| s.enabled);
            let (ping, error) = match &client {
                Some(c) => {
                    let started = Instant::now();
                    match c.ping() {
                        Ok(()) => (Some(started.elapsed()), None),
                        Err(e) => (None, Some(e.to_string())),
                    }
                }
                None => (None, failures.get(&s.name).map(ToString::to_string)),
            };
            output::ServerState::new(s, client.as_deref(), ping, error)
        })
        .collect();
    match args.format {
        Format::Table => emit(&output::status_table(&states)),
        Format::Json => print_json(&serde_json::json!({ "servers": states }))?,
    }
    let enabled = states.iter().filter(|s| s.enabled).count();
    let down: Vec<&str> = states.iter().filter(|s| s.enabled && !s.reachable).map(|s| s.name.as_str()).collect();
    match initialized {
        Err(e) if down.len() == enabled => Err(Failure::Op(e)),
        _ if down.is_empty() => Ok(()),
        _ => {
            Err(Failure::Partial(format!("{} of {enabled} server(s) not reachable ({})", down.len(), down.join(", "))))
        }
    }
}

/// "N of M server(s) failed (names); …" when some servers of `g` failed.
fn partial(g: &Gathered) -> Option<String> {
    let failed: Vec<&str> = g.servers.iter().filter(|s| s.status == Status::Failed).map(|s| s.name.as_str()).collect();
    (!failed.is_empty()).then(|| {
        format!(
            "{} of {} server(s) failed ({}); the others' results are printed",
            failed.len(),
            g.servers.len(),
            failed.join(", ")
        )
    })
}

/// `tools`, `resources` and `read`: the config for `args` without reading contents,
/// initialize, gather the listings, then `show`; partial (exit 3) when some servers failed.
fn listing(
    cli: &Cli,
    args: &GatherArgs,
    show: impl FnOnce(&Orchestrator, &Gathered) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut config = run_config(load(cli, &args.config.config)?, &args.servers, &args.run)?;
    for s in &mut config.servers {
        s.read_contents = false;
    }
    let o = login::orchestrator(config, cli.no_browser);
    let result = initialize(&o).and_then(|()| Ok(o.gather_all_resources()?)).and_then(|g| {
        show(&o, &g)?;
        partial(&g).map_or(Ok(()), |p| Err(Failure::Partial(p)))
    });
    if args.format == Format::Json {
        // A failure is a document too: the error and what is known of each server.
        let failure = match &result {
            Err(Failure::Op(e)) => Some(output::listing_failure_json(o.config(), Some(e), "", &o.connect_failures())),
            Err(Failure::Other(message)) => {
                Some(output::listing_failure_json(o.config(), None, message, &o.connect_failures()))
            }
            _ => None,
        };
        if let Some(doc) = failure {
            print_json(&doc)?;
        }
    }
    o.close();
    result
}

/// `read URI`: from the server that wins the URI, else from the first reachable server (in
/// priority order) that can read it.
fn read(o: &Orchestrator, g: &Gathered, uri: &str, format: Format) -> Result<(), Failure> {
    let candidates: Vec<&str> = match g.resource(uri) {
        Some(m) => vec![m.server.as_str()],
        None => g.servers.iter().filter(|s| s.status == Status::Ok).map(|s| s.name.as_str()).collect(),
    };
    let mut errors = Vec::new();
    for server in candidates {
        match o.client(server).and_then(|c| c.read_resource(uri)) {
            Ok(contents) => {
                match format {
                    Format::Table => emit(&output::contents_text(&contents)),
                    Format::Json => {
                        print_json(&serde_json::json!({"uri": uri, "server": server, "contents": contents}))?
                    }
                }
                return Ok(());
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    Err(Failure::Other(match g.resource(uri) {
        Some(_) => errors.join("; "),
        None if errors.is_empty() => format!("no reachable server to read `{uri}` from"),
        None => format!("no server lists `{uri}`, and none could read it: {}", errors.join("; ")),
    }))
}

/// `prompts get NAME`: from the server that owns NAME in the catalogue.
fn prompt(
    o: &Orchestrator,
    g: &Gathered,
    name: &str,
    arguments: &std::collections::BTreeMap<String, String>,
    format: Format,
) -> Result<(), Failure> {
    let Some(merged) = g.prompt(name) else {
        let failed = g.servers.iter().filter(|s| s.status == Status::Failed).count();
        let also = if failed > 0 { format!(" ({failed} server(s) could not be asked)") } else { String::new() };
        return Err(Failure::Other(format!("no server offers a prompt named `{name}`{also}")));
    };
    let result = o.get_prompt_on(&merged.server, &merged.original, arguments)?;
    match format {
        Format::Table => {
            let mut out = String::new();
            if let Some(description) = &result.description {
                out.push_str(&format!("# {description}\n"));
            }
            for m in &result.messages {
                out.push_str(&format!("[{}]\n{}\n", m.role, content_text(&m.content)));
            }
            emit(&out);
        }
        Format::Json => print_json(&serde_json::json!({
            "name": name,
            "server": merged.server,
            "original": merged.original,
            "description": result.description,
            "messages": result.messages,
        }))?,
    }
    Ok(())
}

/// Prints `value` as pretty JSON on stdout, streamed (see [`output::write_json`]).
fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    output::write_json(std::io::stdout().lock(), value).map_err(Failure::Other)
}

fn call(
    o: &Orchestrator,
    server: Option<&str>,
    format: Format,
    tool: &str,
    arguments: serde_json::Value,
) -> Result<(), Failure> {
    initialize(o)?;
    // Resolve the executor first, so that a tool's error result can name the server.
    let server = match server {
        Some(name) => name.to_string(),
        None => o.executor()?.name().to_string(),
    };
    let result = o.call_tool_on(Some(&server), tool, arguments)?;
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

/// One content item for a person: text as it is, other items described.
fn content_text(item: &Content) -> String {
    match item {
        Content::Text { text, .. } => text.clone(),
        Content::Image { mime_type, data } => format!("[image {mime_type}, {} base64 characters]", data.len()),
        Content::Audio { mime_type, data } => format!("[audio {mime_type}, {} base64 characters]", data.len()),
        Content::ResourceLink(r) => format!("[resource link {}]", r.uri),
        Content::Resource { resource } => match resource.text() {
            Some(text) => format!("[resource {}]\n{text}", resource.uri),
            None => format!("[resource {} (binary)]", resource.uri),
        },
        _ => "[content of a type this version does not know]".to_string(),
    }
}

/// A tool result for a person: text items as they are, other items described, then the
/// structured content as pretty JSON.
fn call_text(result: &CallToolResult) -> String {
    let mut out = String::new();
    for item in &result.content {
        out.push_str(&content_text(item));
        out.push('\n');
    }
    if let Some(s) = &result.structured_content {
        out.push_str("structuredContent:\n");
        out.push_str(&serde_json::to_string_pretty(s).unwrap_or_else(|_| s.to_string()));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_http_crates_are_capped_at_info_and_nothing_else_is() {
        let meta = |target: &'static str, level| log::Metadata::builder().target(target).level(level).build();
        assert!(too_verbose(&meta("ureq_proto::client", log::Level::Debug)));
        assert!(too_verbose(&meta("ureq", log::Level::Trace)));
        assert!(too_verbose(&meta("rustls::client::hs", log::Level::Debug)));
        assert!(!too_verbose(&meta("ureq::pool", log::Level::Warn)));
        assert!(!too_verbose(&meta("mcp_orchestrator::transport::sse", log::Level::Trace)));
        assert!(!too_verbose(&meta("ureqx", log::Level::Trace)));
    }
}
