//! MCP Tasks through the orchestrator, on both eras (the 2026-07-28 extension, the
//! experimental tasks of 2025-11-25), over Streamable HTTP and stdio (2025-11-25 also over the
//! legacy HTTP+SSE transport), against the TestServer's
//! task tools: a task that completes, one that needs input (the handler's answer reaches the
//! result), one cancelled, one that outlives the caller's deadline and is resumed by its id, one
//! that fails, and a server that answers plainly. Polls are counted by the server: never more
//! than the deadline allows at the server's `pollIntervalMs`.

#![cfg(feature = "testing")]

#[path = "support/stdio.rs"]
mod stdio;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_orchestrator::testing::{ProtocolMode, TaskBehaviour, TestServer, text_result};
use mcp_orchestrator::{
    Config, ElicitRequest, ElicitResult, Error, ErrorKind, Handlers, Orchestrator, RequestContext, ServerConfig,
    TaskStatus,
};
use serde_json::{Value, json};

/// The poll interval the servers suggest.
const POLL_MS: u64 = 50;

/// The task tools every server offers (each answers `<name> done` when it completes).
const TOOLS: [(&str, &str); 6] = [
    ("job", "after:2"),
    ("slow", "after:6"),
    ("ask", "input"),
    ("forever", "working"),
    ("broken", "fails"),
    ("quick", "plain"),
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Era {
    Modern,
    Legacy,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Wire {
    /// Streamable HTTP.
    Http,
    /// The legacy HTTP+SSE transport (the handshake era only).
    Sse,
    Stdio,
}

/// What an elicitation handler was asked: the server, the input key (2026-07-28).
type Asked = (String, Option<String>);

/// One server, over one wire, and what it observed.
struct Fixture {
    http: Option<TestServer>,
    log: stdio::Scratch,
    orchestrator: Orchestrator,
    /// What the elicitation handler was asked.
    asked: Arc<Mutex<Vec<Asked>>>,
}

fn behaviour(how: &str) -> TaskBehaviour {
    match how {
        "input" => TaskBehaviour::NeedsInput,
        "working" => TaskBehaviour::Working,
        "fails" => TaskBehaviour::Fails,
        "plain" => TaskBehaviour::Plain,
        after => TaskBehaviour::CompletesAfter(after.trim_start_matches("after:").parse().unwrap()),
    }
}

fn start(era: Era, wire: Wire) -> Fixture {
    let log = stdio::Scratch::new("tasks");
    let (http, config) = match wire {
        Wire::Http | Wire::Sse => {
            let mode = if era == Era::Modern { ProtocolMode::ModernOnly } else { ProtocolMode::HandshakeOnly };
            let mut b = TestServer::builder().name("jobs").protocol_mode(mode).task_poll_interval(ms(POLL_MS));
            for (name, how) in TOOLS {
                let done = format!("{name} done");
                b = b
                    .simple_tool(name, "a task tool", move |_| Ok(text_result(done.clone())))
                    .task_tool(name, behaviour(how));
            }
            let server = b.start().unwrap();
            let mut config = match wire {
                Wire::Sse => ServerConfig::sse("jobs", server.url()),
                _ => ServerConfig::streamable_http("jobs", server.mcp_url()),
            };
            config.timeout = Duration::from_secs(10);
            (Some(server), config)
        }
        Wire::Stdio => {
            let protocol = if era == Era::Modern { "modern" } else { "handshake" };
            let poll = POLL_MS.to_string();
            let events = log.path("events.log");
            let mut flags = vec!["--protocol", protocol, "--task-poll-ms", &poll, "--event-log", &events];
            let tools: Vec<String> = TOOLS.iter().map(|(n, h)| format!("{n}={h}")).collect();
            for t in &tools {
                flags.extend(["--task-tool", t.as_str()]);
            }
            (None, stdio::config("jobs", &flags))
        }
    };
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = asked.clone();
    let handlers = Handlers::new().elicitation(move |cx: &RequestContext, _: ElicitRequest| {
        seen.lock().unwrap().push((cx.server.clone(), cx.input_key.clone()));
        let mut content = serde_json::Map::new();
        content.insert("confirmed".into(), json!(true));
        Ok(ElicitResult::accept(content))
    });
    let orchestrator = Orchestrator::new(Config::builder().server(config).build().unwrap()).with_handlers(handlers);
    orchestrator.initialize().unwrap();
    Fixture { http, log, orchestrator, asked }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Fixture {
    /// The `tasks/get` the server received for `task` (over stdio: for all tasks, from the
    /// event log; each test polls one task).
    fn polls(&self, task: &str) -> u64 {
        match &self.http {
            Some(s) => s.stats().task_polls.get(task).copied().unwrap_or(0),
            None => {
                let text = std::fs::read_to_string(self.log.path("events.log")).unwrap_or_default();
                text.lines().filter(|l| l.ends_with(" in tasks/get")).count() as u64
            }
        }
    }

    /// Over HTTP on the modern wire: the `Mcp-Name` of the last request of `method`.
    fn mcp_name(&self, method: &str) -> Option<String> {
        let stats = self.http.as_ref()?.stats();
        stats.last_headers.get(method)?.get("mcp-name").cloned()
    }
}

fn completes(era: Era, wire: Wire) {
    let f = start(era, wire);
    let task = f.orchestrator.call_tool_task("job", json!({})).unwrap();
    let id = task.id().expect("a task was made").to_string();
    assert_eq!(task.server(), "jobs");
    let mut seen = Vec::new();
    let result = task.wait_with(Duration::from_secs(10), |info| seen.push(info.status)).unwrap();
    assert_eq!(result.text(), "job done");
    assert_eq!(seen, vec![TaskStatus::Working, TaskStatus::Completed], "{era:?} {wire:?}");
    // Working for two polls, completed at the third.
    assert_eq!(f.polls(&id), 3, "{era:?} {wire:?}");
    if era == Era::Modern && wire == Wire::Http {
        assert_eq!(f.mcp_name("tasks/get").as_deref(), Some(id.as_str()));
        let stats = f.http.as_ref().unwrap().stats();
        let caps = &stats.last_params["tools/call"]["_meta"]["io.modelcontextprotocol/clientCapabilities"];
        assert_eq!(caps["extensions"]["io.modelcontextprotocol/tasks"], json!({}), "{caps}");
    }
    if era == Era::Legacy && wire == Wire::Http {
        let stats = f.http.as_ref().unwrap().stats();
        assert_eq!(stats.client_capabilities.unwrap()["tasks"], json!({}));
        assert!(stats.last_params["tools/call"]["task"].is_object(), "the call asked for a task");
    }
    f.orchestrator.close();
}

/// A plain `call_tool` gets the result whether or not the server makes a task of it (on the
/// 2026-07-28 wire it does, and the call polls it; on 2025-11-25 only a call that asks does).
fn call_tool_waits_for_a_task(era: Era, wire: Wire) {
    let f = start(era, wire);
    assert_eq!(f.orchestrator.call_tool("job", json!({})).unwrap().text(), "job done");
    let made = f.http.as_ref().map(|s| s.stats().task_polls.len());
    if let Some(made) = made {
        assert_eq!(made, usize::from(era == Era::Modern), "{era:?}: tasks made for a plain call");
    }
    f.orchestrator.close();
}

fn needs_input(era: Era, wire: Wire) {
    let f = start(era, wire);
    let task = f.orchestrator.call_tool_task("ask", json!({})).unwrap();
    let mut seen = Vec::new();
    let result = task.wait_with(Duration::from_secs(10), |info| seen.push(info.status)).unwrap();
    let answer: Value = serde_json::from_str(&result.text()).unwrap();
    let confirmed = json!({"action": "accept", "content": {"confirmed": true}});
    match era {
        // The elicitation came in inputRequests and went back with tasks/update.
        Era::Modern => {
            assert_eq!(answer, confirmed);
            assert_eq!(*f.asked.lock().unwrap(), vec![("jobs".to_string(), Some("confirm".to_string()))]);
            assert_eq!(seen, vec![TaskStatus::Working, TaskStatus::InputRequired, TaskStatus::Completed]);
        }
        // The elicitation came as a server request during tasks/result.
        Era::Legacy => {
            assert_eq!(answer["elicitation/create"]["result"], confirmed, "{answer}");
            assert_eq!(*f.asked.lock().unwrap(), vec![("jobs".to_string(), None)]);
            assert_eq!(seen, vec![TaskStatus::Working, TaskStatus::InputRequired]);
        }
    }
    if era == Era::Modern && wire == Wire::Http {
        assert_eq!(f.mcp_name("tasks/update").as_deref(), task.id());
    }
    f.orchestrator.close();
}

fn cancelled(era: Era, wire: Wire) {
    let f = start(era, wire);
    let task = f.orchestrator.call_tool_task("forever", json!({})).unwrap();
    let id = task.id().unwrap().to_string();
    assert_eq!(task.status().unwrap().status, TaskStatus::Working);
    task.cancel().unwrap();
    let info = task.status().unwrap();
    assert_eq!(info.status, TaskStatus::Cancelled, "{era:?} {wire:?}");
    assert_eq!(info.poll_interval_ms, Some(POLL_MS));
    let e = task.wait(Duration::from_secs(10)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    assert!(e.to_string().contains(&id) && e.to_string().contains("server `jobs`"), "{e}");
    if era == Era::Modern && wire == Wire::Http {
        assert_eq!(f.mcp_name("tasks/cancel").as_deref(), Some(id.as_str()));
    }
    f.orchestrator.close();
}

fn outlives_the_deadline_and_is_resumed(era: Era, wire: Wire) {
    let f = start(era, wire);
    let task = f.orchestrator.call_tool_task("slow", json!({})).unwrap();
    let id = task.id().unwrap().to_string();
    let deadline = ms(120);
    let e = task.wait(deadline).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(matches!(&e, Error::TaskPending { task_id, status: "working", .. } if *task_id == id), "{e:?}");
    let text = e.to_string();
    assert!(text.contains(&id) && text.contains("server `jobs`") && text.contains("tools/call"), "{text}");
    assert!(text.contains(&e.op_id().unwrap().to_string()), "{text}");
    // Never faster than pollIntervalMs: within the deadline at most deadline / interval polls.
    let polled = f.polls(&id);
    assert!(polled <= deadline.as_millis() as u64 / POLL_MS, "{polled} polls in {deadline:?}");
    // Resumed by its id (as a later process would), it completes.
    let resumed = f.orchestrator.task("jobs", &id).unwrap();
    assert_eq!(resumed.id(), Some(id.as_str()));
    assert_eq!(resumed.wait(Duration::from_secs(10)).unwrap().text(), "slow done");
    assert_eq!(f.polls(&id), 7, "six working, then completed");
    f.orchestrator.close();
}

fn fails(era: Era, wire: Wire) {
    let f = start(era, wire);
    let task = f.orchestrator.call_tool_task("broken", json!({})).unwrap();
    let e = task.wait(Duration::from_secs(10)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ServerError, "{e}");
    assert!(matches!(&e, Error::Rpc { code: -32603, message, .. } if message.contains("the job crashed")), "{e:?}");
    f.orchestrator.close();
}

fn answers_plainly(era: Era, wire: Wire) {
    let f = start(era, wire);
    let task = f.orchestrator.call_tool_task("quick", json!({})).unwrap();
    assert_eq!(task.id(), None, "the server made no task");
    assert_eq!(task.status().unwrap().status, TaskStatus::Completed);
    assert_eq!(task.wait(ms(1)).unwrap().text(), "quick done");
    task.cancel().unwrap();
    assert_eq!(f.polls("any"), 0);
    f.orchestrator.close();
}

#[test]
fn an_unknown_task_id_is_the_servers_error() {
    let f = start(Era::Modern, Wire::Http);
    let e = f.orchestrator.task("jobs", "no-such-task").unwrap().status().unwrap_err();
    assert!(matches!(&e, Error::Rpc { code: -32602, method, .. } if method == "tasks/get"), "{e:?}");
    assert!(f.orchestrator.task("nope", "x").is_err());
    f.orchestrator.close();
}

/// 2026-07-28: a pushed `notifications/tasks` (over `subscriptions/listen`) wakes a wait at
/// once. The task suggests a one-minute poll interval and the wait is shorter: only the push can
/// deliver its result, and no `tasks/get` is sent.
#[test]
fn a_pushed_status_wakes_the_wait_without_a_poll() {
    let server = TestServer::builder()
        .name("jobs")
        .protocol_mode(ProtocolMode::ModernOnly)
        .task_poll_interval(Duration::from_secs(60))
        .simple_tool("forever", "runs until told", |_| Ok(text_result("never")))
        .task_tool("forever", TaskBehaviour::Working)
        .start()
        .unwrap();
    let mut config = ServerConfig::streamable_http("jobs", server.mcp_url());
    config.timeout = Duration::from_secs(10);
    let o = Orchestrator::new(Config::builder().server(config).build().unwrap());
    o.initialize().unwrap();
    let task = o.call_tool_task("forever", json!({})).unwrap();
    let id = task.id().unwrap().to_string();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| task.wait(Duration::from_secs(30)));
        // Once the listen stream asks for the task's statuses, push its completion.
        let asked = server.wait_until(Duration::from_secs(10), |st| {
            st.listen_filters.last().and_then(|f| f.get("taskIds")) == Some(&json!([id]))
        });
        assert!(asked, "the listen filter asks for the task: {:?}", server.stats().listen_filters);
        let pushed = json!({"taskId": id, "status": "completed", "createdAt": "2026-01-01T00:00:00Z",
            "lastUpdatedAt": "2026-01-01T00:00:01Z", "ttlMs": 60000,
            "result": {"content": [{"type": "text", "text": "pushed"}], "isError": false}});
        assert_eq!(server.notify("notifications/tasks", Some(pushed)), 1);
        assert_eq!(waiter.join().unwrap().unwrap().text(), "pushed");
    });
    assert_eq!(server.stats().task_polls.get(&id), Some(&0), "no poll was needed");
    // The wait is over: the next subscription no longer asks for the task.
    assert!(server.wait_until(Duration::from_secs(10), |st| {
        st.listen_filters.last().is_some_and(|f| f.get("taskIds").is_none())
    }));
    o.close();
}

/// 2025-11-25: a call asks for a task only as the tool's `execution.taskSupport` allows: never
/// for a tool without it (even through `call_tool_task`), always for one that requires it
/// (plain `call_tool` then waits for the task).
#[test]
fn legacy_calls_ask_for_a_task_as_the_tool_allows() {
    let required: mcp_orchestrator::Tool =
        serde_json::from_value(json!({"name": "must", "inputSchema": {"type": "object"},
        "execution": {"taskSupport": "required"}}))
        .unwrap();
    let server = TestServer::builder()
        .name("jobs")
        .task_poll_interval(ms(POLL_MS))
        .tool(required, |_| Ok(text_result("must done")))
        .task_tool("must", TaskBehaviour::CompletesAfter(1))
        .simple_tool("job", "a task tool", |_| Ok(text_result("job done")))
        .task_tool("job", TaskBehaviour::CompletesAfter(1))
        .simple_tool("now", "no task support", |_| Ok(text_result("now done")))
        .start()
        .unwrap();
    let mut config = ServerConfig::streamable_http("jobs", server.mcp_url());
    config.timeout = Duration::from_secs(10);
    let o = Orchestrator::new(Config::builder().server(config).build().unwrap());
    o.initialize().unwrap();
    let asked = || server.stats().last_params["tools/call"].get("task").is_some();
    let task = o.call_tool_task("now", json!({})).unwrap();
    assert!(!asked() && task.id().is_none(), "a tool without taskSupport is never called as a task");
    assert_eq!(o.call_tool("job", json!({})).unwrap().text(), "job done");
    assert!(!asked(), "an optional one only when the caller wants a task");
    assert_eq!(o.call_tool("must", json!({})).unwrap().text(), "must done");
    assert!(asked(), "a required one always");
    assert_eq!(server.stats().task_polls.values().copied().collect::<Vec<_>>(), vec![2]);
    o.close();
}

macro_rules! on_both_eras_and_wires {
    ($($name:ident),* $(,)?) => {
        mod modern_http { $( #[test] fn $name() { super::$name(super::Era::Modern, super::Wire::Http) } )* }
        mod modern_stdio { $( #[test] fn $name() { super::$name(super::Era::Modern, super::Wire::Stdio) } )* }
        mod legacy_http { $( #[test] fn $name() { super::$name(super::Era::Legacy, super::Wire::Http) } )* }
        mod legacy_stdio { $( #[test] fn $name() { super::$name(super::Era::Legacy, super::Wire::Stdio) } )* }
        mod legacy_sse { $( #[test] fn $name() { super::$name(super::Era::Legacy, super::Wire::Sse) } )* }
    };
}

on_both_eras_and_wires!(
    completes,
    call_tool_waits_for_a_task,
    needs_input,
    cancelled,
    outlives_the_deadline_and_is_resumed,
    fails,
    answers_plainly,
);
