//! MCP Tasks on one connection: a `tools/call` that may answer with a task, and driving the
//! task to its result — `tasks/get` polled no faster than the server's `pollIntervalMs`
//! (jittered upwards), within the caller's deadline; on 2026-07-28 input answered through the
//! program's [`Handlers`](crate::Handlers) and sent with `tasks/update`; on 2025-11-25 the result
//! fetched with `tasks/result` (the server's requests during it go to the same handlers, as any
//! server request does); `tasks/cancel`, also sent when the caller cancels the call while its
//! task runs (`CallControl::cancel`: `serve`'s downstream `notifications/cancelled`).
//!
//! Over Streamable HTTP on the 2026-07-28 wire every `tasks/*` request carries the task id as
//! its `Mcp-Name` header (the session sets it from `params.taskId`).
//!
//! On 2026-07-28, a client that listens (`subscriptions/listen` runs for its session) asks for
//! the `notifications/tasks` of the tasks it waits for (`taskIds`, `task_watch.rs`): a pushed
//! status wakes the wait at once instead of at its next poll. Polling goes on all the same.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::{CallControl, Client};
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::protocol::CallToolResult;
use crate::protocol::tasks::{self, Created, TaskInfo, TaskState, TaskStatus, TaskSupport};
use crate::session::RequestOptions;
use crate::session::input_required::{InputRequest, answer_one};

/// What a task-capable call answered.
pub(crate) enum Started {
    /// The result itself: the server made no task.
    Plain(CallToolResult),
    /// A task, as created.
    Task(Box<TaskState>),
}

/// What one waiter remembers across its waits: the input keys already answered (a server
/// repeats outstanding requests at every poll until it has taken the answer), the last status
/// reported.
#[derive(Clone, Debug, Default)]
pub(crate) struct Waiting {
    answered: HashSet<String>,
    reported: Option<TaskStatus>,
}

/// The tools/call method, the one request that may make a task.
const CALL: &str = "tools/call";

impl Client {
    /// Calls a tool asking for a task where the era needs asking: on 2025-11-25 the params
    /// carry `task` when the server declares `tasks.requests.tools.call` and the tool's
    /// `execution.taskSupport` is `optional` or `required` (listed first if it never was); on
    /// 2026-07-28 every call may answer with a task (the extension is declared on every request).
    pub(crate) fn start_task_in(&self, op: &OpId, name: &str, arguments: Value, deadline: Instant) -> Result<Started> {
        let ask = self.asks_for_task(op, name, deadline, TaskSupport::Optional);
        let raw = self.call_tool_raw(op, name, arguments, deadline, &CallControl::default(), ask)?;
        self.started(op, &raw)
    }

    /// On 2025-11-25, whether a call of `tool` asks for a task: the server declares
    /// `tasks.requests.tools.call` and the tool's `taskSupport` is at least `least` (`Optional`:
    /// a call that wants a task; `Required`: any call, which then must).
    pub(crate) fn asks_for_task(&self, op: &OpId, tool: &str, deadline: Instant, least: TaskSupport) -> bool {
        if self.is_modern() || !self.init.capabilities.task_tool_calls() {
            return false;
        }
        let known =
            |c: &Client| c.known_tools.lock().unwrap_or_else(|e| e.into_inner()).get(tool).map(|t| t.task_support);
        let support = match known(self) {
            Some(s) => Some(s),
            // Never listed: list, to learn what the tool allows.
            None if least == TaskSupport::Optional => self.list_tools_in(op, deadline).ok().and_then(|_| known(self)),
            None => None,
        };
        matches!(
            (support, least),
            (Some(TaskSupport::Required), _) | (Some(TaskSupport::Optional), TaskSupport::Optional)
        )
    }

    /// Tells a created task from a plain result.
    pub(crate) fn started(&self, op: &OpId, raw: &RawValue) -> Result<Started> {
        match tasks::created(raw.get(), self.is_modern()) {
            Ok(Created::Plain) => self.session.decode(op, CALL, raw).map(Started::Plain),
            Ok(Created::Task(state)) => {
                log::info!("op={op} server={}: the call is task `{}` ({})", self.name(), state.task_id, state.status);
                Ok(Started::Task(state))
            }
            Err(why) => Err(self.session.protocol(op, CALL, why)),
        }
    }

    /// `tasks/get`: the task as the server describes it now.
    pub(crate) fn task_get(&self, op: &OpId, task_id: &str, deadline: Instant) -> Result<TaskState> {
        let raw = self.task_request(op, "tasks/get", tasks::params(task_id), deadline)?;
        TaskState::parse(raw.get()).map_err(|why| self.session.protocol(op, "tasks/get", why))
    }

    /// `tasks/cancel`: asks the server to cancel the task (cooperative: it may still finish).
    pub(crate) fn task_cancel(&self, op: &OpId, task_id: &str, deadline: Instant) -> Result<()> {
        self.task_request(op, "tasks/cancel", tasks::params(task_id), deadline).map(drop)
    }

    fn task_request(&self, op: &OpId, method: &'static str, params: Value, deadline: Instant) -> Result<Box<RawValue>> {
        let call = self.session.start_with(op, method, Some(params), deadline, &RequestOptions::default())?;
        self.session.finish_raw(call, deadline)
    }

    /// Drives a task from `state` to its tool's result within `deadline`. `on_status` sees each
    /// status change. A task still running at the deadline is [`Error::TaskPending`] (its id in
    /// the message); `failed` is the task's JSON-RPC error ([`Error::Rpc`]); `cancelled` is
    /// [`Error::TaskCancelled`].
    pub(crate) fn wait_task(
        &self,
        op: &OpId,
        state: &mut TaskState,
        deadline: Instant,
        waiting: &mut Waiting,
        on_status: &mut dyn FnMut(&TaskInfo),
        cancel: Option<&Receiver<()>>,
    ) -> Result<CallToolResult> {
        let began = Instant::now();
        // On the modern wire, a listening client also wakes at a pushed status.
        let pushed = (self.listens && self.is_modern()).then(|| Watching::new(self, &state.task_id));
        let pending = |state: &TaskState| Error::TaskPending {
            server: self.name().to_string(),
            op: op.clone(),
            task_id: state.task_id.clone(),
            status: state.status.as_str(),
            after: began.elapsed(),
        };
        loop {
            if waiting.reported != Some(state.status) {
                waiting.reported = Some(state.status);
                log::debug!("op={op} server={}: task `{}` is {}", self.name(), state.task_id, state.status);
                on_status(&state.info());
            }
            if let Some(done) = self.settle(op, state, deadline, waiting) {
                return done.map_err(|e| if is_timeout(&e) { pending(state) } else { e });
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(pending(state));
            }
            let delay = tasks::poll_delay(state.poll_interval_ms, remaining);
            match pause(delay, cancel, pushed.as_ref().map(|w| &w.rx)) {
                Pause::Cancelled => return Err(self.cancelled_by_caller(op, state)),
                Pause::Pushed(mut next) => {
                    next.poll_interval_ms = next.poll_interval_ms.or(state.poll_interval_ms);
                    *state = *next;
                    continue;
                }
                Pause::Elapsed => {}
            }
            if Instant::now() >= deadline {
                return Err(pending(state));
            }
            let mut next = match self.task_get(op, &state.task_id, deadline) {
                Ok(next) => next,
                Err(e) if is_timeout(&e) => return Err(pending(state)),
                Err(e) => return Err(e),
            };
            next.poll_interval_ms = next.poll_interval_ms.or(state.poll_interval_ms);
            *state = next;
        }
    }

    /// What a status means now: the result or the error once there is one (`Some`), or
    /// `None` to poll again (input, when asked for, answered first).
    fn settle(
        &self,
        op: &OpId,
        state: &TaskState,
        deadline: Instant,
        waiting: &mut Waiting,
    ) -> Option<Result<CallToolResult>> {
        let modern = self.is_modern();
        match state.status {
            TaskStatus::Cancelled => Some(Err(Error::TaskCancelled {
                server: self.name().to_string(),
                op: op.clone(),
                task_id: state.task_id.clone(),
                message: state.status_message.clone(),
            })),
            TaskStatus::Working => None,
            // 2025-11-25: the result (or the error) comes from `tasks/result`, which blocks
            // until the task ends; input arrives as server requests while it does.
            _ if !modern => Some(self.task_result(op, &state.task_id, deadline)),
            TaskStatus::Completed => Some(self.completed(op, state)),
            TaskStatus::Failed => Some(Err(self.failed(op, state))),
            TaskStatus::InputRequired => self.answer_input(op, state, deadline, waiting).err().map(Err),
        }
    }

    /// 2025-11-25: `tasks/result`, the tool's result or its error.
    fn task_result(&self, op: &OpId, task_id: &str, deadline: Instant) -> Result<CallToolResult> {
        let raw = self.task_request(op, "tasks/result", tasks::params(task_id), deadline)?;
        self.session.decode(op, "tasks/result", &raw)
    }

    /// 2026-07-28: a completed task's inline `result`.
    fn completed(&self, op: &OpId, state: &TaskState) -> Result<CallToolResult> {
        match &state.result {
            Some(raw) => self.session.decode(op, CALL, raw),
            None => Err(self.session.protocol(
                op,
                "tasks/get",
                format!("task `{}` completed without a result", state.task_id),
            )),
        }
    }

    /// 2026-07-28: a failed task's inline JSON-RPC `error`, as this crate's error.
    fn failed(&self, op: &OpId, state: &TaskState) -> Error {
        let error = state.error.as_ref();
        let code = error.and_then(|e| e.get("code")).and_then(Value::as_i64).unwrap_or(-32603);
        let message = error
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .or(state.status_message.as_deref())
            .unwrap_or("the task failed")
            .to_string();
        let data = error.and_then(|e| e.get("data")).map(Value::to_string);
        Error::Rpc {
            server: self.name().to_string(),
            method: CALL.into(),
            op: op.clone(),
            code,
            message: format!("task `{}` failed: {message}", state.task_id),
            data,
        }
    }

    /// 2026-07-28: answers the task's outstanding `inputRequests` not answered before through
    /// the handlers, and sends the answers with `tasks/update`.
    fn answer_input(&self, op: &OpId, state: &TaskState, deadline: Instant, waiting: &mut Waiting) -> Result<()> {
        let Some(requests) = &state.input_requests else {
            return Err(self.session.protocol(op, "tasks/get", "an input_required task without inputRequests".into()));
        };
        let mut responses = Map::new();
        for (key, request) in requests.iter().filter(|(k, _)| !waiting.answered.contains(*k)) {
            let request: InputRequest = serde_json::from_value(request.clone())
                .map_err(|e| self.session.protocol(op, "tasks/get", format!("input request {key:?}: {e}")))?;
            log::debug!("op={op} server={}: task `{}` asks for input {key:?}", self.name(), state.task_id);
            let answer = answer_one(self.session.router.handlers(), self.name(), key, &request, deadline)
                .map_err(|why| self.session.protocol(op, "tasks/update", why))?;
            responses.insert(key.clone(), answer);
        }
        if responses.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = responses.keys().cloned().collect();
        let params = json!({ "taskId": state.task_id, "inputResponses": responses });
        self.task_request(op, "tasks/update", params, deadline)?;
        waiting.answered.extend(keys);
        Ok(())
    }
}

impl Client {
    /// The caller cancelled the call while its task ran (`serve`'s downstream client did):
    /// the server is asked to cancel the task (best effort, briefly), and the call ends as a
    /// cancelled request does.
    fn cancelled_by_caller(&self, op: &OpId, state: &TaskState) -> Error {
        let until = crate::transport::deadline_in(crate::session::CANCEL_DEADLINE.min(self.timeout()));
        if let Err(e) = self.task_cancel(op, &state.task_id, until) {
            log::debug!("op={op} server={}: cancelling task `{}` failed: {e}", self.name(), state.task_id);
        }
        Error::ConnectionClosed {
            server: self.name().to_string(),
            method: CALL.into(),
            op: op.clone(),
            detail: format!("the call was cancelled by the caller (task `{}` cancelled)", state.task_id),
        }
    }
}

/// How the wait between two polls ended.
enum Pause {
    /// The delay passed: poll.
    Elapsed,
    /// The caller cancelled (its cancel channel disconnected).
    Cancelled,
    /// The server pushed the task's state (`notifications/tasks`).
    Pushed(Box<TaskState>),
}

/// Waits `delay` between two polls, or less: until the caller cancels or a status is pushed.
fn pause(delay: Duration, cancel: Option<&Receiver<()>>, pushed: Option<&Receiver<Box<TaskState>>>) -> Pause {
    let never = crossbeam_channel::never();
    let (cancel, pushed) = (cancel.unwrap_or(&never), pushed.map_or_else(crossbeam_channel::never, Receiver::clone));
    crossbeam_channel::select! {
        recv(cancel) -> _ => Pause::Cancelled,
        recv(pushed) -> state => state.map_or(Pause::Elapsed, Pause::Pushed),
        default(delay) => Pause::Elapsed,
    }
}

/// A wait registered for its task's pushes, and the listen filter asking for them; both undone
/// on drop.
struct Watching<'a> {
    client: &'a Client,
    n: u64,
    rx: Receiver<Box<TaskState>>,
}

impl<'a> Watching<'a> {
    fn new(client: &'a Client, task_id: &str) -> Watching<'a> {
        let (n, rx) = client.task_watch.watch(task_id);
        client.session.watch_tasks(client.task_watch.ids());
        Watching { client, n, rx }
    }
}

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        self.client.task_watch.forget(self.n);
        self.client.session.watch_tasks(self.client.task_watch.ids());
    }
}

fn is_timeout(e: &Error) -> bool {
    matches!(e, Error::Timeout { .. })
}
