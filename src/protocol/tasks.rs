//! Tasks, as both protocol eras put them on the wire (pure; `client/tasks.rs` drives them):
//!
//! - 2026-07-28, the `io.modelcontextprotocol/tasks` extension (SEP-2663): a task-capable
//!   request (`tools/call`) may answer `resultType: "task"` with the task's fields inline
//!   (`taskId`, `status`, `ttlMs`, `pollIntervalMs`, …); `tasks/get` answers a detailed task
//!   (`result` when completed, `error` when failed, `inputRequests` when input is required).
//! - 2025-11-25, the experimental `task` parameter: a `tools/call` with `params.task = {ttl}`
//!   answers `{"task": {…, "ttl", "pollInterval"}}`; `tasks/get` answers the task's fields
//!   inline; the result comes from `tasks/result`.
//!
//! [`TaskState::parse`] reads either spelling; [`created`] tells a created task from a plain
//! result; [`poll_delay`] is the wait before the next `tasks/get`: never shorter than the
//! server's `pollIntervalMs`, jittered upwards.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// The extension's identifier (2026-07-28), declared under the client capabilities' `extensions`.
pub(crate) const EXTENSION: &str = "io.modelcontextprotocol/tasks";

/// The poll interval used when the server suggests none.
pub(crate) const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The shortest poll interval honoured (a server's `0` would otherwise spin).
pub(crate) const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Where a task is in its life (MCP Tasks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskStatus {
    /// In progress.
    Working,
    /// The server waits for input (2026-07-28: `inputRequests`; 2025-11-25: over `tasks/result`).
    InputRequired,
    /// Done; the result is available.
    Completed,
    /// Ended with a JSON-RPC error.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl TaskStatus {
    fn parse(s: &str) -> Option<TaskStatus> {
        Some(match s {
            "working" => TaskStatus::Working,
            "input_required" => TaskStatus::InputRequired,
            "completed" => TaskStatus::Completed,
            "failed" => TaskStatus::Failed,
            "cancelled" => TaskStatus::Cancelled,
            _ => return None,
        })
    }

    /// `completed`, `failed` and `cancelled` never change again.
    pub fn is_terminal(&self) -> bool {
        matches!(self, TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled)
    }

    /// The status as the wire spells it: `working`, `input_required`, `completed`, `failed`,
    /// `cancelled`.
    pub fn as_str(&self) -> &'static str {
        match self {
            TaskStatus::Working => "working",
            TaskStatus::InputRequired => "input_required",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task as the server last described it ([`TaskHandle::status`](crate::TaskHandle::status)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskInfo {
    /// Where it is.
    pub status: TaskStatus,
    /// The server's words about it (progress, why it is blocked, why it failed), if any.
    pub status_message: Option<String>,
    /// How long the server keeps the task from its creation, in milliseconds (`None`:
    /// unlimited, or not said): a stored id can be resumed until then.
    pub ttl_ms: Option<u64>,
    /// The poll interval the server suggests, in milliseconds.
    pub poll_interval_ms: Option<u64>,
    /// When it was created (ISO 8601, as the server wrote it).
    pub created_at: Option<String>,
    /// When it last changed (ISO 8601, as the server wrote it).
    pub last_updated_at: Option<String>,
}

impl TaskInfo {
    /// What a plain result (no task) amounts to: completed, nothing else known.
    pub(crate) fn completed() -> TaskInfo {
        TaskInfo {
            status: TaskStatus::Completed,
            status_message: None,
            ttl_ms: None,
            poll_interval_ms: None,
            created_at: None,
            last_updated_at: None,
        }
    }
}

/// A task as one answer described it.
#[derive(Clone, Debug)]
pub(crate) struct TaskState {
    pub(crate) task_id: String,
    pub(crate) status: TaskStatus,
    pub(crate) status_message: Option<String>,
    /// Milliseconds the server keeps the task from its creation (`None`: unlimited or unsaid).
    pub(crate) ttl_ms: Option<u64>,
    /// The server's suggested poll interval.
    pub(crate) poll_interval_ms: Option<u64>,
    pub(crate) created_at: Option<String>,
    pub(crate) last_updated_at: Option<String>,
    /// 2026-07-28, `completed`: the original request's result, raw.
    pub(crate) result: Option<Box<RawValue>>,
    /// 2026-07-28, `failed`: the JSON-RPC error.
    pub(crate) error: Option<Value>,
    /// 2026-07-28, `input_required`: the outstanding requests by key.
    pub(crate) input_requests: Option<serde_json::Map<String, Value>>,
}

#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "taskId")]
    task_id: String,
    status: String,
    #[serde(rename = "statusMessage", default)]
    status_message: Option<String>,
    #[serde(rename = "ttlMs", alias = "ttl", default)]
    ttl: Option<u64>,
    #[serde(rename = "pollIntervalMs", alias = "pollInterval", default)]
    poll_interval: Option<u64>,
    #[serde(rename = "createdAt", default)]
    created_at: Option<String>,
    #[serde(rename = "lastUpdatedAt", default)]
    last_updated_at: Option<String>,
    #[serde(default)]
    result: Option<Box<RawValue>>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(rename = "inputRequests", default)]
    input_requests: Option<serde_json::Map<String, Value>>,
}

impl TaskState {
    /// A task's fields (either era's spelling), or why they are not a task.
    pub(crate) fn parse(raw: &str) -> Result<TaskState, String> {
        let w: Wire = serde_json::from_str(raw).map_err(|e| format!("not a task: {e}"))?;
        let status = TaskStatus::parse(&w.status).ok_or_else(|| format!("unknown task status {:?}", w.status))?;
        if w.task_id.is_empty() {
            return Err("the task has an empty taskId".into());
        }
        Ok(TaskState {
            task_id: w.task_id,
            status,
            status_message: w.status_message,
            ttl_ms: w.ttl,
            poll_interval_ms: w.poll_interval,
            created_at: w.created_at,
            last_updated_at: w.last_updated_at,
            result: w.result,
            error: w.error,
            input_requests: w.input_requests,
        })
    }
}

impl TaskState {
    /// What a program sees of it.
    pub(crate) fn info(&self) -> TaskInfo {
        TaskInfo {
            status: self.status,
            status_message: self.status_message.clone(),
            ttl_ms: self.ttl_ms,
            poll_interval_ms: self.poll_interval_ms,
            created_at: self.created_at.clone(),
            last_updated_at: self.last_updated_at.clone(),
        }
    }
}

/// Whether a tool's calls may ask to run as a task (2025-11-25, its `execution.taskSupport`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskSupport {
    /// Absent, `forbidden`, or unknown: a call must not ask.
    Forbidden,
    /// `optional`: a call may ask.
    Optional,
    /// `required`: a call must ask.
    Required,
}

impl TaskSupport {
    /// What a listed tool declares.
    pub(crate) fn of(tool: &crate::protocol::Tool) -> TaskSupport {
        match tool.execution.as_ref().and_then(|e| e.get("taskSupport")).and_then(Value::as_str) {
            Some("optional") => TaskSupport::Optional,
            Some("required") => TaskSupport::Required,
            _ => TaskSupport::Forbidden,
        }
    }
}

/// Adds the tasks declaration to a client's capabilities: on the 2026-07-28 wire
/// `extensions["io.modelcontextprotocol/tasks"]: {}` (kept beside the other extensions); on the
/// handshake era the experimental `tasks: {}` of 2025-11-25 (we run no tasks for the server:
/// no `list`, `cancel` or `requests` of our own).
pub(crate) fn declare(capabilities: &mut Value, modern: bool) {
    let Value::Object(caps) = capabilities else { return };
    if !modern {
        caps.entry("tasks").or_insert_with(|| serde_json::json!({}));
        return;
    }
    let extensions = caps.entry("extensions").or_insert_with(|| serde_json::json!({}));
    if let Value::Object(extensions) = extensions {
        extensions.entry(EXTENSION).or_insert_with(|| serde_json::json!({}));
    }
}

/// What a task-capable request answered.
#[derive(Debug)]
pub(crate) enum Created {
    /// The plain result: the server chose not to make a task.
    Plain,
    /// A task was created.
    Task(Box<TaskState>),
}

/// Tells a created task from a plain result: on the modern wire `resultType: "task"` with the
/// task inline; on 2025-11-25 a `task` object. A malformed task is an error (the spec: an
/// invalid response).
pub(crate) fn created(raw: &str, modern: bool) -> Result<Created, String> {
    let v: Value = serde_json::from_str(raw).map_err(|e| format!("the result is not JSON: {e}"))?;
    if modern {
        if v.get("resultType").and_then(Value::as_str) != Some("task") {
            return Ok(Created::Plain);
        }
        return TaskState::parse(raw).map(|t| Created::Task(Box::new(t)));
    }
    match v.get("task") {
        Some(task @ Value::Object(_)) if v.get("content").is_none() => {
            TaskState::parse(&task.to_string()).map(|t| Created::Task(Box::new(t)))
        }
        _ => Ok(Created::Plain),
    }
}

/// The wait before the next `tasks/get`: the server's interval (or the default), never less,
/// plus up to a quarter more of jitter (so that many waiters do not poll in step), and no
/// longer than `remaining` (the caller's deadline).
pub(crate) fn poll_delay(poll_interval_ms: Option<u64>, remaining: Duration) -> Duration {
    let base = poll_interval_ms.map(Duration::from_millis).unwrap_or(DEFAULT_POLL_INTERVAL).max(MIN_POLL_INTERVAL);
    let quarter = (base / 4).as_nanos().min(u64::MAX as u128) as u64;
    let extra = if quarter == 0 { 0 } else { crate::backoff::random() % quarter.saturating_add(1) };
    base.saturating_add(Duration::from_nanos(extra)).min(remaining)
}

/// The params of a `tasks/*` request.
pub(crate) fn params(task_id: &str) -> Value {
    serde_json::json!({ "taskId": task_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_era_declares_tasks_its_own_way() {
        let mut caps = serde_json::json!({"extensions": {"io.modelcontextprotocol/ui": {}}});
        declare(&mut caps, true);
        assert_eq!(caps, serde_json::json!({"extensions": {"io.modelcontextprotocol/ui": {}, EXTENSION: {}}}));
        let mut caps = serde_json::json!({"roots": {}});
        declare(&mut caps, false);
        assert_eq!(caps, serde_json::json!({"roots": {}, "tasks": {}}));
    }

    #[test]
    fn both_eras_spellings_parse() {
        let modern = r#"{"resultType":"task","taskId":"t1","status":"working","createdAt":"x","lastUpdatedAt":"x","ttlMs":60000,"pollIntervalMs":5000}"#;
        let Created::Task(t) = created(modern, true).unwrap() else { panic!("not a task") };
        assert_eq!((t.task_id.as_str(), &t.status), ("t1", &TaskStatus::Working));
        assert_eq!((t.ttl_ms, t.poll_interval_ms), (Some(60000), Some(5000)));
        let legacy = r#"{"task":{"taskId":"t2","status":"input_required","ttl":null,"pollInterval":250}}"#;
        let Created::Task(t) = created(legacy, false).unwrap() else { panic!("not a task") };
        assert_eq!(
            (t.task_id.as_str(), &t.status, t.ttl_ms, t.poll_interval_ms),
            ("t2", &TaskStatus::InputRequired, None, Some(250))
        );
    }

    #[test]
    fn plain_results_stay_plain_and_bad_tasks_are_errors() {
        assert!(matches!(created(r#"{"content":[],"resultType":"complete"}"#, true), Ok(Created::Plain)));
        assert!(matches!(created(r#"{"content":[]}"#, false), Ok(Created::Plain)));
        // A 2025-11-25 result carrying a `task` *and* content is a plain tool result.
        assert!(matches!(created(r#"{"content":[],"task":{}}"#, false), Ok(Created::Plain)));
        let e = created(r#"{"resultType":"task","taskId":"t","status":"sleeping"}"#, true).unwrap_err();
        assert!(e.contains("sleeping"), "{e}");
        assert!(created(r#"{"resultType":"task","status":"working"}"#, true).unwrap_err().contains("taskId"));
    }

    #[test]
    fn a_detailed_task_carries_its_result_error_or_requests() {
        let t = TaskState::parse(r#"{"taskId":"t","status":"completed","result":{"content":[]}}"#).unwrap();
        assert!(t.status.is_terminal());
        assert_eq!(t.result.unwrap().get(), r#"{"content":[]}"#);
        let t = TaskState::parse(r#"{"taskId":"t","status":"failed","error":{"code":-1,"message":"m"}}"#).unwrap();
        assert_eq!(t.error.unwrap()["code"], -1);
        let t = TaskState::parse(
            r#"{"taskId":"t","status":"input_required","inputRequests":{"k":{"method":"elicitation/create"}}}"#,
        )
        .unwrap();
        assert!(!t.status.is_terminal());
        assert_eq!(t.input_requests.unwrap()["k"]["method"], "elicitation/create");
    }

    #[test]
    fn the_poll_delay_is_never_shorter_than_the_interval_nor_past_the_deadline() {
        let long = Duration::from_secs(3600);
        for _ in 0..200 {
            let d = poll_delay(Some(200), long);
            assert!(d >= Duration::from_millis(200) && d <= Duration::from_millis(250), "{d:?}");
        }
        assert!(poll_delay(None, long) >= DEFAULT_POLL_INTERVAL);
        assert!(poll_delay(Some(0), long) >= MIN_POLL_INTERVAL);
        assert_eq!(poll_delay(Some(5000), Duration::from_millis(30)), Duration::from_millis(30));
    }
}
