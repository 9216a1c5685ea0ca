//! `status`: connects to every server (never fail-fast), pings each one connected, and prints
//! each one's state: reachable, protocol, latency, transport, server info.

use mcp_orchestrator::Orchestrator;

use crate::Failure;
use crate::args::{Cli, Format, RunArgs, StatusArgs};
use crate::output::{self, emit};

use super::{load, login, print_json, run_config};

/// `status`: the config for the command line with fail-fast off, one orchestrator, closed
/// whatever the outcome.
pub fn run(cli: &Cli, args: &StatusArgs) -> Result<(), Failure> {
    // Every server's state is the point: never fail-fast.
    let run = RunArgs { no_fail_fast: true, timeout: args.timeout };
    let config = run_config(load(cli, &args.config.config)?, &args.servers, &run)?;
    let orchestrator = login::orchestrator(config, cli.no_browser);
    let result = status(&orchestrator, args);
    orchestrator.close();
    result
}

/// `status`: connects (never fail-fast), pings every connected server, prints each one's state.
fn status(o: &Orchestrator, args: &StatusArgs) -> Result<(), Failure> {
    // With fail_fast off, initialize fails only when no server connected; the failures say why.
    output::watch_progress(o);
    let initialized = o.initialize();
    let failures = o.connect_failures();
    let states: Vec<output::ServerState> = o
        .config()
        .servers
        .iter()
        .map(|s| {
            let client = o.client(&s.name).ok().filter(|_| s.enabled);
            let (ping, error) = match &client {
                Some(c) => match c.ping() {
                    // The check's own round trip (zero when a fresh discover answer served).
                    Ok(()) => (c.last_check().and_then(|check| check.outcome.ok()), None),
                    Err(e) => (None, Some(e.to_string())),
                },
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
