//! `call`: calls a tool (on `--server`, else on the executor) and prints its result; a tool's
//! error result is exit 1, and a failure with `--format json` is a document too. With
//! `--task` the server may run it as a task (`tasks.rs` waits for it).

use mcp_orchestrator::Orchestrator;

use crate::Failure;
use crate::args::{CallArgs, Cli, Format};
use crate::output::{self, emit};

use super::{initialize, load, login, print_json, run_config};

/// `call`: the config for the command line, one orchestrator, closed whatever the outcome.
pub fn run(cli: &Cli, args: &CallArgs) -> Result<(), Failure> {
    let config = run_config(load(cli, &args.config.config)?, &[], &args.run)?;
    let orchestrator = login::orchestrator(config, cli.no_browser);
    let result = call(&orchestrator, args, args.server.as_deref(), args.format, &args.tool, args.arguments());
    if let (Format::Json, Err(Failure::Op(e))) = (args.format, &result) {
        // A failure is a document too: the error, the tool, and what is known of each server.
        let mut doc =
            output::listing_failure_json(&orchestrator.config(), Some(e), "", &orchestrator.connect_failures());
        doc["tool"] = args.tool.as_str().into();
        print_json(&doc)?;
    }
    orchestrator.close();
    result
}

/// Initializes, resolves the server, calls `tool` and prints its result.
fn call(
    o: &Orchestrator,
    args: &CallArgs,
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
    let result = if args.task {
        let task = o.call_tool_task_on(Some(&server), tool, arguments)?;
        super::tasks::wait_printing(&task, args.wait)?
    } else {
        o.call_tool_on(Some(&server), tool, arguments)?
    };
    print_result(&result, format)?;
    if result.is_error {
        let text = result.text();
        let detail = if text.is_empty() { "(no message)".to_string() } else { text };
        return Err(Failure::Other(format!("tool `{tool}` on server `{server}` reported an error: {detail}")));
    }
    Ok(())
}

/// A tool's result on stdout: its text (table), or the whole result (json).
pub fn print_result(result: &mcp_orchestrator::CallToolResult, format: Format) -> Result<(), Failure> {
    match format {
        Format::Json => {
            let text = serde_json::to_string_pretty(result)
                .map_err(|e| Failure::Other(format!("cannot encode the result as JSON: {e}")))?;
            say!("{text}");
        }
        Format::Table if !result.is_error => emit(&output::call_text(result)),
        Format::Table => {}
    }
    Ok(())
}
