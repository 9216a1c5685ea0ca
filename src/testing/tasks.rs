//! Tools that run as tasks (MCP Tasks) in the test server: [`TaskBehaviour`], the task table
//! shared by a server's threads, and the answers of both eras (pure but for the table):
//!
//! - 2026-07-28 (`io.modelcontextprotocol/tasks`): a `tools/call` of a task tool from a client
//!   that declares the extension answers `resultType: "task"` with the task inline; `tasks/get`,
//!   `tasks/update` and `tasks/cancel` (each refused with `-32021` when the request does not
//!   declare the extension).
//! - 2025-11-25: only a `tools/call` whose params carry `task` makes a task, answered
//!   `{"task": {…}}`; `tasks/get`, `tasks/result`, `tasks/cancel`.
//!
//! Each `tasks/get` of a task counts as a poll ([`Stats::task_polls`](super::Stats::task_polls)).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::Spec;
use crate::jsonrpc::{INVALID_PARAMS, RpcError};

/// The extension's id (2026-07-28).
const EXTENSION: &str = crate::protocol::tasks::EXTENSION;
/// The 2026-07-28 wire's "missing required client capability".
const MISSING_CAPABILITY: i64 = -32021;
/// How long the server says it keeps a task.
const TTL_MS: u64 = 60_000;
/// The key of the one input request of [`TaskBehaviour::NeedsInput`] (2026-07-28).
pub(crate) const INPUT_KEY: &str = "confirm";

/// How a tool marked with [`TestServerBuilder::task_tool`](super::TestServerBuilder::task_tool)
/// runs as a task.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskBehaviour {
    /// `working` for the first this-many `tasks/get`, then `completed` with the tool
    /// handler's result (its handler runs then).
    CompletesAfter(u32),
    /// Needs input once. 2026-07-28: `input_required` with one `elicitation/create` (key
    /// `confirm`, a form with a boolean `confirmed`) in `inputRequests` until a `tasks/update`
    /// answers it; then `completed` with a text result holding that answer as JSON.
    /// 2025-11-25: `input_required`; its `tasks/result` asks the client `elicitation/create`,
    /// `sampling/createMessage` and `roots/list` on the request's stream (as
    /// [`Fault::AskClient`](super::Fault::AskClient) does) and answers a text result holding
    /// the answers as JSON.
    NeedsInput,
    /// `working` until cancelled (`tasks/cancel`): never completes on its own.
    Working,
    /// `failed` at the first `tasks/get`, with the JSON-RPC error `-32603` `the job crashed`
    /// (2025-11-25: `tasks/result` answers that error).
    Fails,
    /// Never makes a task: the call answers the handler's result, as a server that chooses not
    /// to (or cannot) would, even when the client asked for one.
    Plain,
}

/// One task.
#[derive(Debug)]
struct Task {
    tool: String,
    arguments: Value,
    behaviour: TaskBehaviour,
    status: &'static str,
    polls: u64,
    created_at: String,
    /// The tool's result once completed.
    result: Option<Value>,
    /// The client's answer to the input request (2026-07-28).
    input: Option<Value>,
}

/// The tasks of one server (shared by its threads; a clone of the spec shares it too).
#[derive(Debug, Default)]
pub(crate) struct Table {
    tasks: Mutex<HashMap<String, Task>>,
    next: AtomicU64,
}

impl Table {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Task>> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The `tasks/get` each task received, by task id.
    pub(crate) fn polls(&self) -> BTreeMap<String, u64> {
        self.lock().iter().map(|(id, t)| (id.clone(), t.polls)).collect()
    }

    /// Whether a `tasks/result` with these params is for a [`TaskBehaviour::NeedsInput`] task
    /// (the server then asks the client before answering).
    pub(crate) fn needs_input(&self, params: Option<&serde_json::value::RawValue>) -> bool {
        let id = params.and_then(|p| serde_json::from_str::<Value>(p.get()).ok());
        let id = id.as_ref().and_then(|p| p.get("taskId")).and_then(Value::as_str).map(str::to_string);
        id.is_some_and(|id| self.lock().get(&id).is_some_and(|t| t.behaviour == TaskBehaviour::NeedsInput))
    }
}

fn error(code: i64, message: impl Into<String>, data: Option<Value>) -> RpcError {
    RpcError { code, message: message.into(), data }
}

/// Whether a 2026-07-28 request declares the tasks extension in its client capabilities.
fn declares_extension(params: &Value) -> bool {
    params
        .pointer("/_meta/io.modelcontextprotocol~1clientCapabilities/extensions")
        .and_then(|e| e.get(EXTENSION))
        .is_some()
}

/// The task tool a `tools/call` calls, if it makes a task: on the modern wire when the client
/// declares the extension, on 2025-11-25 when the params carry `task`.
pub(crate) fn makes_task(spec: &Spec, params: &Value, modern: bool) -> bool {
    let Some(name) = params.get("name").and_then(Value::as_str) else { return false };
    let behaviour = spec.task_tools.get(name);
    let asked = if modern { declares_extension(params) } else { params.get("task").is_some_and(Value::is_object) };
    asked && behaviour.is_some_and(|b| *b != TaskBehaviour::Plain) && spec.handlers.contains_key(name)
}

/// Creates a task for a `tools/call` ([`makes_task`] said yes): the `CreateTaskResult` of
/// the era.
pub(crate) fn create(spec: &Spec, params: &Value, modern: bool) -> Result<Value, RpcError> {
    let name = params.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    let behaviour = spec.task_tools.get(&name).cloned().unwrap_or(TaskBehaviour::Working);
    let n = spec.tasks.next.fetch_add(1, Ordering::SeqCst);
    let id = format!("task-{}-{n}", spec.name);
    let task = Task {
        tool: name,
        arguments: params.get("arguments").cloned().unwrap_or_else(|| json!({})),
        behaviour,
        status: "working",
        polls: 0,
        created_at: now(),
        result: None,
        input: None,
    };
    let fields = wire_task(spec, &id, &task, modern);
    spec.tasks.lock().insert(id, task);
    Ok(if modern {
        let mut m = fields;
        m.insert("resultType".into(), json!("task"));
        Value::Object(m)
    } else {
        json!({ "task": fields })
    })
}

/// Answers `tasks/get`, `tasks/update`, `tasks/cancel` (2026-07-28) or `tasks/get`,
/// `tasks/result`, `tasks/cancel` (2025-11-25).
pub(crate) fn answer(spec: &Spec, method: &str, params: &Value, modern: bool) -> Result<Value, RpcError> {
    if modern && !declares_extension(params) {
        let data = json!({"requiredCapabilities": {"extensions": {EXTENSION: {}}}});
        return Err(error(MISSING_CAPABILITY, "Missing required client capability", Some(data)));
    }
    let Some(id) = params.get("taskId").and_then(Value::as_str) else {
        return Err(error(INVALID_PARAMS, "Invalid params: taskId is required", None));
    };
    // The tool's handler (user code) runs without the table's lock.
    let due = {
        let mut tasks = spec.tasks.lock();
        let Some(task) = tasks.get_mut(id) else {
            return Err(error(INVALID_PARAMS, format!("Failed to retrieve task: Task not found ({id})"), None));
        };
        if method == "tasks/get" {
            task.polls += 1;
            advance(task);
        }
        (task.status == "completed" && task.result.is_none()).then(|| (task.tool.clone(), task.arguments.clone()))
    };
    if let Some((tool, arguments)) = due {
        let result = super::mcp::call(spec, &json!({"name": tool, "arguments": arguments}))?;
        if let Some(task) = spec.tasks.lock().get_mut(id) {
            task.result.get_or_insert(result);
        }
    }
    let mut tasks = spec.tasks.lock();
    let Some(task) = tasks.get_mut(id) else {
        return Err(error(INVALID_PARAMS, format!("Failed to retrieve task: Task not found ({id})"), None));
    };
    match method {
        "tasks/get" => Ok(Value::Object(detailed(spec, id, task, modern))),
        "tasks/cancel" => cancel(spec, id, task, modern),
        "tasks/update" if modern => update(task, params),
        "tasks/result" if !modern => result(task),
        _ => Err(error(crate::jsonrpc::METHOD_NOT_FOUND, "Method not found", Some(json!({"method": method})))),
    }
}

/// Moves a task on at a poll.
fn advance(task: &mut Task) {
    if task.status != "working" && task.status != "input_required" {
        return;
    }
    task.status = match (&task.behaviour, &task.input) {
        (TaskBehaviour::CompletesAfter(k), _) if task.polls > u64::from(*k) => "completed",
        (TaskBehaviour::NeedsInput, None) => "input_required",
        (TaskBehaviour::NeedsInput, Some(_)) => "completed",
        (TaskBehaviour::Fails, _) => "failed",
        _ => task.status,
    };
    if let (TaskBehaviour::NeedsInput, Some(answer)) = (&task.behaviour, &task.input)
        && task.status == "completed"
    {
        let text = answer.to_string();
        task.result = Some(json!({"content": [{"type": "text", "text": text}], "isError": false}));
    }
}

/// The failure of [`TaskBehaviour::Fails`].
fn failure() -> Value {
    json!({"code": -32603, "message": "the job crashed"})
}

/// A task's fields, spelled as the era spells them.
fn wire_task(spec: &Spec, id: &str, task: &Task, modern: bool) -> Map<String, Value> {
    let poll = spec.task_poll_interval.as_millis() as u64;
    let mut m = Map::new();
    m.insert("taskId".into(), json!(id));
    m.insert("status".into(), json!(task.status));
    m.insert("createdAt".into(), json!(task.created_at));
    m.insert("lastUpdatedAt".into(), json!(now()));
    let (ttl, interval) = if modern { ("ttlMs", "pollIntervalMs") } else { ("ttl", "pollInterval") };
    m.insert(ttl.into(), json!(TTL_MS));
    m.insert(interval.into(), json!(poll));
    if task.status == "cancelled" {
        m.insert("statusMessage".into(), json!("The task was cancelled by request."));
    }
    m
}

/// `tasks/get`'s answer: the task, and on the modern wire its result, error or input requests.
fn detailed(spec: &Spec, id: &str, task: &Task, modern: bool) -> Map<String, Value> {
    let mut m = wire_task(spec, id, task, modern);
    if !modern {
        return m;
    }
    match task.status {
        "completed" => {
            m.insert("result".into(), task.result.clone().unwrap_or_else(|| json!({"content": []})));
        }
        "failed" => {
            m.insert("statusMessage".into(), json!("Tool execution failed: the job crashed"));
            m.insert("error".into(), failure());
        }
        "input_required" => {
            let ask = json!({
                "method": "elicitation/create",
                "params": {"mode": "form", "message": "Proceed?", "requestedSchema":
                    {"type": "object", "properties": {"confirmed": {"type": "boolean"}}, "required": ["confirmed"]}},
            });
            m.insert("inputRequests".into(), json!({ INPUT_KEY: ask }));
        }
        _ => {}
    }
    m
}

fn cancel(spec: &Spec, id: &str, task: &mut Task, modern: bool) -> Result<Value, RpcError> {
    let terminal = matches!(task.status, "completed" | "failed" | "cancelled");
    if terminal && !modern {
        return Err(error(INVALID_PARAMS, format!("Cannot cancel task {id}: it is already {}", task.status), None));
    }
    if !terminal {
        task.status = "cancelled";
    }
    // 2026-07-28: an empty acknowledgement; 2025-11-25: the task.
    Ok(if modern { json!({}) } else { Value::Object(wire_task(spec, id, task, false)) })
}

fn update(task: &mut Task, params: &Value) -> Result<Value, RpcError> {
    let Some(responses) = params.get("inputResponses").and_then(Value::as_object) else {
        return Err(error(INVALID_PARAMS, "Invalid params: inputResponses is required", None));
    };
    // Keys that are not outstanding are ignored, as the extension says.
    if let Some(answer) = responses.get(INPUT_KEY)
        && task.status == "input_required"
        && task.input.is_none()
    {
        task.input = Some(answer.clone());
        task.status = "working";
    }
    Ok(json!({}))
}

/// `tasks/result` (2025-11-25): what the call would have answered, for a terminal task.
fn result(task: &Task) -> Result<Value, RpcError> {
    match task.status {
        "completed" => Ok(task.result.clone().unwrap_or_else(|| json!({"content": []}))),
        "failed" => Err(error(-32603, "the job crashed", None)),
        "cancelled" => Err(error(-32603, "Task cancelled", None)),
        // The test server does not hold a `tasks/result` open (a client polls `tasks/get` first).
        other => {
            Err(error(-32603, format!("the task is still {other} (this server does not block tasks/result)"), None))
        }
    }
}

/// Now, as RFC 3339 in UTC (`2026-12-07T02:09:25Z`).
fn now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs();
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest / 60 % 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestServer, text_result};

    fn spec(behaviour: TaskBehaviour) -> Spec {
        TestServer::builder()
            .simple_tool("job", "a long job", |_| Ok(text_result("job done")))
            .task_tool("job", behaviour)
            .spec
    }

    fn modern(extra: Value) -> Value {
        let mut p = json!({"_meta": {"io.modelcontextprotocol/clientCapabilities": {"extensions": {EXTENSION: {}}}}});
        p.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        p
    }

    #[test]
    fn a_modern_task_completes_after_its_polls() {
        let s = spec(TaskBehaviour::CompletesAfter(2));
        let call = modern(json!({"name": "job", "arguments": {}}));
        assert!(makes_task(&s, &call, true));
        let created = create(&s, &call, true).unwrap();
        assert_eq!((created["resultType"].clone(), created["status"].clone()), (json!("task"), json!("working")));
        let get = modern(json!({"taskId": created["taskId"]}));
        for _ in 0..2 {
            assert_eq!(answer(&s, "tasks/get", &get, true).unwrap()["status"], "working");
        }
        let done = answer(&s, "tasks/get", &get, true).unwrap();
        assert_eq!(done["status"], "completed");
        assert_eq!(done["result"]["content"][0]["text"], "job done");
        assert_eq!(s.tasks.polls().values().copied().collect::<Vec<_>>(), vec![3]);
        assert!(created["createdAt"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn without_the_extension_or_the_task_param_no_task_is_made() {
        let s = spec(TaskBehaviour::Working);
        assert!(!makes_task(&s, &json!({"name": "job"}), true));
        assert!(!makes_task(&s, &json!({"name": "job"}), false));
        assert!(makes_task(&s, &json!({"name": "job", "task": {}}), false));
        let e = answer(&s, "tasks/get", &json!({"taskId": "x"}), true).unwrap_err();
        assert_eq!(e.code, MISSING_CAPABILITY);
        assert!(!makes_task(&spec(TaskBehaviour::Plain), &json!({"name": "job", "task": {}}), false));
    }

    #[test]
    fn input_is_asked_once_then_the_answer_completes_it() {
        let s = spec(TaskBehaviour::NeedsInput);
        let created = create(&s, &modern(json!({"name": "job"})), true).unwrap();
        let get = modern(json!({"taskId": created["taskId"]}));
        let asked = answer(&s, "tasks/get", &get, true).unwrap();
        assert_eq!(asked["inputRequests"][INPUT_KEY]["method"], "elicitation/create");
        let update = modern(json!({"taskId": created["taskId"], "inputResponses": {INPUT_KEY: {"action": "accept"}}}));
        assert_eq!(answer(&s, "tasks/update", &update, true).unwrap(), json!({}));
        let done = answer(&s, "tasks/get", &get, true).unwrap();
        assert_eq!(done["result"]["content"][0]["text"], r#"{"action":"accept"}"#);
    }

    #[test]
    fn legacy_tasks_cancel_fail_and_give_their_result() {
        let s = spec(TaskBehaviour::Working);
        let created = create(&s, &json!({"name": "job", "task": {}}), false).unwrap();
        let id = json!({"taskId": created["task"]["taskId"]});
        assert_eq!(created["task"]["pollInterval"], 20);
        assert_eq!(answer(&s, "tasks/cancel", &id, false).unwrap()["status"], "cancelled");
        assert_eq!(answer(&s, "tasks/cancel", &id, false).unwrap_err().code, INVALID_PARAMS);
        assert_eq!(answer(&s, "tasks/result", &id, false).unwrap_err().message, "Task cancelled");
        let s = spec(TaskBehaviour::Fails);
        let created = create(&s, &json!({"name": "job", "task": {}}), false).unwrap();
        let id = json!({"taskId": created["task"]["taskId"]});
        assert_eq!(answer(&s, "tasks/get", &id, false).unwrap()["status"], "failed");
        assert_eq!(answer(&s, "tasks/result", &id, false).unwrap_err().message, "the job crashed");
        assert_eq!(answer(&s, "tasks/get", &json!({"taskId": "nope"}), false).unwrap_err().code, INVALID_PARAMS);
    }
}
