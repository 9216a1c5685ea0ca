//! Tool calls run as tasks (MCP Tasks): [`Orchestrator::call_tool_task`] starts one and hands
//! out its [`TaskHandle`]; [`Orchestrator::task`] resumes one by a stored id.

use super::Orchestrator;
use crate::client::TaskHandle;
use crate::error::Result;
use crate::op::OpId;
use crate::transport::deadline_in;

impl Orchestrator {
    /// Calls a tool by its name in the catalogue (as [`call_tool`](Self::call_tool) routes it)
    /// and returns at once with a [`TaskHandle`]: the server may run the call as a task
    /// (2026-07-28: the `io.modelcontextprotocol/tasks` extension, which every request
    /// declares; 2025-11-25: the call asks with `task` when the server declares
    /// `tasks.requests.tools.call`). When the server answers at once, the handle holds the
    /// result ([`TaskHandle::id`] is `None`).
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use std::time::Duration;
    /// use mcp_orchestrator::testing::{ProtocolMode, TaskBehaviour, TestServer, text_result};
    /// use mcp_orchestrator::{Config, Orchestrator, ServerConfig, TaskStatus};
    ///
    /// let server = TestServer::builder()
    ///     .protocol_mode(ProtocolMode::ModernOnly)
    ///     .simple_tool("build", "builds the project", |_| Ok(text_result("built")))
    ///     .task_tool("build", TaskBehaviour::CompletesAfter(2))
    ///     .start()?;
    /// let config = Config::builder().server(ServerConfig::streamable_http("ci", server.mcp_url())).build()?;
    /// let orchestrator = Orchestrator::new(config);
    /// orchestrator.initialize()?;
    /// let task = orchestrator.call_tool_task("build", serde_json::json!({}))?;
    /// let id = task.id().expect("the server made a task").to_string(); // store it to resume later
    /// assert_eq!(task.status()?.status, TaskStatus::Working);
    /// let resumed = orchestrator.task("ci", &id)?;
    /// assert_eq!(resumed.wait(Duration::from_secs(10))?.text(), "built");
    /// orchestrator.close();
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn call_tool_task(&self, name: &str, arguments: serde_json::Value) -> Result<TaskHandle> {
        let (server, original) = self.route_tool(name)?;
        self.call_tool_task_on(Some(&server), &original, arguments)
    }

    /// [`call_tool_task`](Self::call_tool_task) on a named server (or, with `None`, on the
    /// [`executor`](Self::executor)), by the server's own name for the tool, as
    /// [`call_tool_on`](Self::call_tool_on) calls it.
    pub fn call_tool_task_on(
        &self,
        server: Option<&str>,
        tool: &str,
        arguments: serde_json::Value,
    ) -> Result<TaskHandle> {
        let op = OpId::new();
        let client = match server {
            Some(name) => self.client_in(name, &op)?,
            None => self.executor()?,
        };
        log::info!("op={op} server={}: calling tool `{tool}` as a task", client.name());
        let started = client.start_task_in(&op, tool, arguments, deadline_in(client.tool_timeout()))?;
        Ok(TaskHandle::started(client, tool, started))
    }

    /// The task `task_id` on `server` (an id stored from [`TaskHandle::id`], by this process or
    /// an earlier one), to ask its status, wait for its result or cancel it. Nothing is sent
    /// yet: an id the server does not know (never made, or dropped after its TTL) fails at
    /// the first request with the server's error.
    pub fn task(&self, server: &str, task_id: &str) -> Result<TaskHandle> {
        let op = OpId::new();
        let client = self.client_in(server, &op)?;
        log::debug!("op={op} server={server}: resuming task `{task_id}`");
        Ok(TaskHandle::resumed(client, task_id))
    }
}
