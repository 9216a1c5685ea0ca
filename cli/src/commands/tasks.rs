//! `tasks get|wait|cancel SERVER ID`, and waiting for a task with its status changes on stderr
//! (`call --task` too).

use std::time::Duration;

use mcp_orchestrator::{CallToolResult, Orchestrator, TaskHandle, TaskInfo};

use crate::Failure;
use crate::args::{Cli, Format, TaskRef, TaskWaitArgs};

use super::{initialize, load, login, print_json, run_config};

/// How long `call --task` and `tasks wait` wait without `--wait`.
const DEFAULT_WAIT: Duration = Duration::from_secs(600);

/// `tasks get SERVER ID`: the task's status.
pub fn get(cli: &Cli, task: &TaskRef) -> Result<(), Failure> {
    with_task(cli, task, |handle| print_status(&handle.status()?, handle, task.format))
}

/// `tasks wait SERVER ID`: the task's result (status changes on stderr).
pub fn wait(cli: &Cli, args: &TaskWaitArgs) -> Result<(), Failure> {
    with_task(cli, &args.task, |handle| {
        let result = wait_printing(handle, args.wait)?;
        super::call::print_result(&result, args.task.format)
    })
}

/// `tasks cancel SERVER ID`: asks the server to cancel, then prints the status it reports.
pub fn cancel(cli: &Cli, task: &TaskRef) -> Result<(), Failure> {
    with_task(cli, task, |handle| {
        handle.cancel()?;
        print_status(&handle.status()?, handle, task.format)
    })
}

/// Runs `f` on the task, with an orchestrator of just its server, closed whatever the outcome.
fn with_task(cli: &Cli, task: &TaskRef, f: impl FnOnce(&TaskHandle) -> Result<(), Failure>) -> Result<(), Failure> {
    let only = [task.server.clone()];
    let config = run_config(load(cli, &task.config.config)?, &only, &Default::default())?;
    let orchestrator = login::orchestrator(config, cli.no_browser);
    let outcome = run_on(&orchestrator, task, f);
    orchestrator.close();
    outcome
}

fn run_on(o: &Orchestrator, task: &TaskRef, f: impl FnOnce(&TaskHandle) -> Result<(), Failure>) -> Result<(), Failure> {
    initialize(o)?;
    f(&o.task(&task.server, &task.id)?)
}

/// Waits for a task's result (at most `wait`, default 10 minutes), telling stderr its id and
/// each status change.
pub fn wait_printing(task: &TaskHandle, wait: Option<Duration>) -> Result<CallToolResult, Failure> {
    if let Some(id) = task.id() {
        eprintln!("task {id} on server `{}`", task.server());
    }
    let outcome = task.wait_with(wait.unwrap_or(DEFAULT_WAIT), |info| eprintln!("task {}", describe(info)));
    outcome.map_err(|e| match (&e, task.id()) {
        (mcp_orchestrator::Error::TaskPending { .. }, Some(id)) => {
            Failure::Other(format!("{e}\nresume with: mcp-orchestrator tasks wait {} {id}", task.server()))
        }
        _ => Failure::Op(e),
    })
}

/// `working: message` (the status and the server's words, if any).
fn describe(info: &TaskInfo) -> String {
    match &info.status_message {
        Some(m) => format!("{}: {m}", info.status),
        None => info.status.to_string(),
    }
}

fn print_status(info: &TaskInfo, task: &TaskHandle, format: Format) -> Result<(), Failure> {
    match format {
        Format::Table => {
            say!("{} {}", task.id().unwrap_or("-"), describe(info));
            Ok(())
        }
        Format::Json => print_json(&serde_json::json!({
            "server": task.server(),
            "taskId": task.id(),
            "status": info.status.as_str(),
            "statusMessage": info.status_message,
            "ttlMs": info.ttl_ms,
            "pollIntervalMs": info.poll_interval_ms,
            "createdAt": info.created_at,
            "lastUpdatedAt": info.last_updated_at,
        })),
    }
}
