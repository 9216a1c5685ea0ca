//! The commands, one file each (`list.rs` has the three plain listings), and what they share:
//! loading the config, narrowing it to the command line's servers and timeout, initializing
//! with progress lines, the listings-only gather, a partial outcome, printing JSON.

pub mod call;
pub mod check;
pub mod demo;
pub mod docs;
pub mod elicit;
pub mod gather;
pub mod list;
pub mod login;
pub mod prompt;
pub mod read;
pub mod serve;
pub mod serve_reload;
pub mod status;
pub mod tasks;

use std::path::Path;
use std::time::Instant;

use mcp_orchestrator::{Config, Gathered, Orchestrator, Status};

use crate::Failure;
use crate::args::{Cli, Format, GatherArgs, RunArgs};
use crate::logging::init_logging;
use crate::output;

/// Loads the config, then sets up logging with its `log_level` if it sets one.
pub fn load(cli: &Cli, path: &Path) -> Result<Config, Failure> {
    let config = Config::from_path(path).map_err(Failure::Config)?;
    init_logging(cli.level_from_flags(), config.orchestration.log_level);
    Ok(config)
}

/// Initializes, telling a person at a terminal how each server fares as it happens (one line
/// per server as it connects, and as it gathers later); silent when stderr is not a terminal.
pub fn initialize(o: &Orchestrator) -> Result<(), Failure> {
    let tty = output::watch_progress(o);
    let started = Instant::now();
    o.initialize()?;
    if tty {
        eprintln!("initialized in {}", output::human(started.elapsed()));
    }
    Ok(())
}

/// The config a command runs with: only `servers` (all when empty), each with the `--timeout`
/// if given, and `fail_fast` off with `--no-fail-fast`.
pub fn run_config(config: Config, only: &[String], run: &RunArgs) -> Result<Config, Failure> {
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

/// "N of M server(s) failed (names); …" when some servers of `g` failed.
pub fn partial(g: &Gathered) -> Option<String> {
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

/// `tools`, `resources`, `prompts` and `read`: the config for `args` without reading
/// contents, initialize, gather the listings, then `show`; partial (exit 3) when some servers
/// failed.
pub fn listing(
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
            Err(Failure::Op(e)) => Some(output::listing_failure_json(&o.config(), Some(e), "", &o.connect_failures())),
            Err(Failure::Other(message)) => {
                Some(output::listing_failure_json(&o.config(), None, message, &o.connect_failures()))
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

/// Prints `value` as pretty JSON on stdout, streamed (see [`output::write_json`]).
pub fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    output::write_json(std::io::stdout().lock(), value).map_err(Failure::Other)
}
