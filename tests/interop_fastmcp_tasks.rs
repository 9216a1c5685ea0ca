//! Interop: MCP Tasks (the `io.modelcontextprotocol/tasks` extension, 2026-07-28) against a
//! released server that implements it: FastMCP 4.1.4 with `fastmcp-tasks` 4.1.4 (PyPI, pinned in
//! tests/interop/requirements-tasks.txt; its server is tests/interop/tasks_server.py). A task
//! that completes (handle and plain `call_tool`), one cancelled, one that outlives a short wait
//! and is resumed by its id, one that needs input (answered by the handler, sent with
//! `tasks/update`), and a tool the server answers plainly.
//!
//! `#[ignore]`d: run with the interpreter that has it,
//! `MCP_TASKS_PYTHON=.venv-tasks/bin/python cargo test --all-features --test interop_fastmcp_tasks -- --ignored`.
//! Asked to run without one, the tests fail.

#![cfg(feature = "testing")]

#[path = "support/python.rs"]
mod python;

use std::time::Duration;

use mcp_orchestrator::{
    Config, ElicitRequest, ElicitResult, Error, ErrorKind, Handlers, Orchestrator, RequestContext, ServerConfig,
    TaskStatus,
};
use python::PythonServer;
use serde_json::json;

fn orchestrator(server: &PythonServer) -> Orchestrator {
    let mut config = ServerConfig::streamable_http("fast", server.mcp_url());
    config.timeout = Duration::from_secs(20);
    let o = Orchestrator::new(Config::builder().server(config).build().unwrap());
    o.initialize().expect("connect to the FastMCP tasks server");
    o
}

#[test]
#[ignore = "needs fastmcp-tasks: set MCP_TASKS_PYTHON (see tests/interop/README.md), run with --ignored"]
fn a_fastmcp_task_completes_is_resumed_and_is_cancelled() {
    let server = PythonServer::require_tasks(&[]);
    let o = orchestrator(&server);
    let client = o.client("fast").unwrap();
    assert!(client.is_modern() && client.server().capabilities.task_tool_calls(), "{:?}", client.server());

    // A plain call waits for the task.
    assert_eq!(o.call_tool("crunch", json!({"n": 1})).unwrap().text(), "crunched 1");

    // Held: a task id, statuses, the result.
    let task = o.call_tool_task("crunch", json!({"n": 2})).unwrap();
    let id = task.id().expect("FastMCP made a task").to_string();
    let info = task.status().unwrap();
    assert_eq!(info.poll_interval_ms, Some(100), "{info:?}");
    let mut seen = Vec::new();
    let result = task.wait_with(Duration::from_secs(20), |i| seen.push(i.status)).unwrap();
    assert_eq!(result.text(), "crunched 2");
    assert_eq!(seen.last(), Some(&TaskStatus::Completed));

    // A wait shorter than the work names the task; resumed by its id, it completes.
    let task = o.call_tool_task("crunch", json!({"n": 3})).unwrap();
    let id3 = task.id().unwrap().to_string();
    let e = task.wait(Duration::from_millis(50)).unwrap_err();
    assert!(matches!(&e, Error::TaskPending { task_id, .. } if *task_id == id3), "{e:?}");
    assert_eq!(o.task("fast", &id3).unwrap().wait(Duration::from_secs(20)).unwrap().text(), "crunched 3");
    assert_ne!(id, id3);

    // Cancelled: the status says so and a wait fails with Cancelled.
    let task = o.call_tool_task("stall", json!({})).unwrap();
    task.cancel().unwrap();
    let e = task.wait(Duration::from_secs(20)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    assert_eq!(task.status().unwrap().status, TaskStatus::Cancelled);

    o.close();
}

/// A task that asks for input (FastMCP's guard pattern): the `inputRequests` elicitation is
/// answered by the orchestrator's handler and goes back with `tasks/update`.
#[test]
#[ignore = "needs fastmcp-tasks: set MCP_TASKS_PYTHON (see tests/interop/README.md), run with --ignored"]
fn a_fastmcp_task_that_needs_input_gets_the_handlers_answer() {
    let server = PythonServer::require_tasks(&[]);
    let mut config = ServerConfig::streamable_http("fast", server.mcp_url());
    config.timeout = Duration::from_secs(20);
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = asked.clone();
    let handlers = Handlers::new().elicitation(move |cx: &RequestContext, r: ElicitRequest| {
        seen.lock().unwrap().push((cx.input_key.clone(), r.message));
        let mut content = serde_json::Map::new();
        content.insert("sure".into(), json!(true));
        Ok(ElicitResult::accept(content))
    });
    let o = Orchestrator::new(Config::builder().server(config).build().unwrap()).with_handlers(handlers);
    o.initialize().unwrap();
    let task = o.call_tool_task("confirm", json!({})).unwrap();
    assert!(task.id().is_some());
    let mut statuses = Vec::new();
    let result = task.wait_with(Duration::from_secs(20), |i| statuses.push(i.status)).unwrap();
    assert_eq!(result.text(), "confirmed accept True");
    assert!(statuses.contains(&TaskStatus::InputRequired), "{statuses:?}");
    // Asked once, as an input request (FastMCP makes each key unique over the task's life).
    let asked = asked.lock().unwrap();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].0.is_some() && asked[0].1 == "Sure?", "{asked:?}");
    o.close();
}

#[test]
#[ignore = "needs fastmcp-tasks: set MCP_TASKS_PYTHON (see tests/interop/README.md), run with --ignored"]
fn a_fastmcp_tool_without_tasks_answers_plainly() {
    let server = PythonServer::require_tasks(&[]);
    let o = orchestrator(&server);
    // A tool without tasks answers plainly.
    let task = o.call_tool_task("plain", json!({"text": "x"})).unwrap();
    assert_eq!((task.id(), task.wait(Duration::from_secs(5)).unwrap().text()), (None, "plain x".to_string()));
    o.close();
}
