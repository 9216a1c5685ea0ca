//! [`TaskHandle`]: a tool call running as a task (MCP Tasks), as a program holds it — its id,
//! its status, waiting for its result, cancelling it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Client;
use super::tasks::{Started, Waiting};
use crate::deadline::Deadline;
use crate::error::Result;
use crate::op::OpId;
use crate::protocol::CallToolResult;
use crate::protocol::tasks::{TaskInfo, TaskState};

/// A tool call that a server may run as a task (MCP Tasks: the `io.modelcontextprotocol/tasks`
/// extension of 2026-07-28, or the experimental tasks of 2025-11-25), from
/// [`Orchestrator::call_tool_task`](crate::Orchestrator::call_tool_task) or resumed by its id
/// with [`Orchestrator::task`](crate::Orchestrator::task).
///
/// The server decides whether the call becomes a task; when it answers at once, the handle
/// holds the result: [`id`](Self::id) is `None` and [`wait`](Self::wait) returns the result.
///
/// **Persisting a task.** A task id names the task on its server, not in this process: store
/// it with the server's name, and a later process (or this one after a reconnect) resumes it
/// with [`Orchestrator::task`](crate::Orchestrator::task) — as long as the server keeps the
/// task, which it may drop once its TTL ([`TaskInfo::ttl_ms`], from its creation) has passed.
/// On 2025-11-25 a server may bind its tasks to the session that made them.
///
/// Cheap to share between threads (`Send + Sync`); no lock is held while it waits.
pub struct TaskHandle {
    client: Arc<Client>,
    /// The tool's name, when this handle made the call (its result is checked against the
    /// tool's `outputSchema`); `None` when resumed by id.
    tool: Option<String>,
    kind: Kind,
}

enum Kind {
    /// The server answered at once.
    Plain(CallToolResult),
    /// A task on the server.
    Task {
        id: String,
        /// The last state seen (the created task at first); `None` when resumed by id.
        last: Box<Mutex<Option<TaskState>>>,
        waiting: Mutex<Waiting>,
    },
}

impl std::fmt::Debug for TaskHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskHandle").field("server", &self.server()).field("id", &self.id()).finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TaskHandle {
    /// The handle of a call that `client` started.
    pub(crate) fn started(client: Arc<Client>, tool: &str, started: Started) -> TaskHandle {
        let kind = match started {
            Started::Plain(result) => Kind::Plain(result),
            Started::Task(state) => Kind::Task {
                id: state.task_id.clone(),
                last: Box::new(Mutex::new(Some(*state))),
                waiting: Mutex::new(Waiting::default()),
            },
        };
        TaskHandle { client, tool: Some(tool.to_string()), kind }
    }

    /// The handle of the task `id`, known from before (a stored id).
    pub(crate) fn resumed(client: Arc<Client>, id: &str) -> TaskHandle {
        let kind = Kind::Task {
            id: id.to_string(),
            last: Box::new(Mutex::new(None)),
            waiting: Mutex::new(Waiting::default()),
        };
        TaskHandle { client, tool: None, kind }
    }

    /// The task's id on its server (store it to resume the task later), or `None` when the
    /// server answered the call at once instead of making a task.
    pub fn id(&self) -> Option<&str> {
        match &self.kind {
            Kind::Plain(_) => None,
            Kind::Task { id, .. } => Some(id),
        }
    }

    /// The configured name of the server that runs it.
    pub fn server(&self) -> &str {
        self.client.name()
    }

    /// The task's status now (`tasks/get`, within the server's timeout). A call answered at
    /// once is [`TaskStatus::Completed`](crate::TaskStatus::Completed) without asking.
    pub fn status(&self) -> Result<TaskInfo> {
        let Kind::Task { id, last, .. } = &self.kind else { return Ok(TaskInfo::completed()) };
        let op = OpId::new();
        let state = self.client.task_get(&op, id, self.client.session.deadline())?;
        let info = state.info();
        *lock(last) = Some(state);
        Ok(info)
    }

    /// Waits at most `timeout` for the tool's result, as
    /// [`Orchestrator::call_tool`](crate::Orchestrator::call_tool) returns it: polling
    /// `tasks/get` no faster than the server's `pollIntervalMs`, answering the server's
    /// requests for input through the orchestrator's [`Handlers`](crate::Handlers).
    ///
    /// # Errors
    ///
    /// A task still running after `timeout` is [`Error::TaskPending`](crate::Error::TaskPending)
    /// (kind `Timeout`; wait again, or resume later by its id); a failed task is the server's
    /// JSON-RPC error ([`Error::Rpc`](crate::Error::Rpc)); a cancelled one
    /// [`Error::TaskCancelled`](crate::Error::TaskCancelled).
    pub fn wait(&self, timeout: Duration) -> Result<CallToolResult> {
        self.wait_with(timeout, |_| {})
    }

    /// [`wait`](Self::wait), calling `on_status` with each status it sees change (the first
    /// one included), on this thread.
    pub fn wait_with(&self, timeout: Duration, mut on_status: impl FnMut(&TaskInfo)) -> Result<CallToolResult> {
        let (id, last, waiting) = match &self.kind {
            Kind::Plain(result) => return Ok(result.clone()),
            Kind::Task { id, last, waiting } => (id, last, waiting),
        };
        let op = OpId::new();
        let deadline = Deadline::after(timeout).instant();
        log::info!("op={op} server={}: waiting for task `{id}`", self.server());
        // Taken out of their locks: none is held while waiting.
        let known = lock(last).take();
        let mut memory = lock(waiting).clone();
        let mut state = match known {
            Some(state) => state,
            None => self.client.task_get(&op, id, deadline)?,
        };
        let outcome = self.client.wait_task(&op, &mut state, deadline, &mut memory, &mut on_status, None);
        // Kept for the next wait: it polls no sooner than the interval after this one's last.
        *lock(last) = Some(state);
        *lock(waiting) = memory;
        let result = outcome?;
        if let Some(tool) = &self.tool {
            self.client.check_output(&op, tool, &result)?;
        }
        Ok(result)
    }

    /// Asks the server to cancel the task (`tasks/cancel`). Cancelling is cooperative: the
    /// server may still finish it; [`status`](Self::status) tells. Nothing is sent for a call
    /// answered at once.
    pub fn cancel(&self) -> Result<()> {
        let Kind::Task { id, .. } = &self.kind else { return Ok(()) };
        let op = OpId::new();
        log::info!("op={op} server={}: cancelling task `{id}`", self.server());
        self.client.task_cancel(&op, id, self.client.session.deadline())
    }
}
