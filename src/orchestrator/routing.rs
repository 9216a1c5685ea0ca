//! Routing: a call by its name or URI in the catalogue goes to the server that owns it
//! ([`Orchestrator::call_tool`], [`get_prompt`](Orchestrator::get_prompt),
//! [`read_resource`](Orchestrator::read_resource)), or to a named server (their `_on` forms),
//! re-establishing a dead session first.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Orchestrator;
use super::slot::Slot;
use crate::catalog::Gathered;
use crate::catalog::search::ToolMatch;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::protocol::{CallToolResult, GetPromptResult, ResourceContents};
use crate::transport::deadline_in;

impl Orchestrator {
    /// The catalogue for routing: the last gather while it is warm, else a new gather (or, when
    /// that fails, the last one, if any).
    fn catalogue(&self) -> Result<Arc<Gathered>> {
        match self.gather_all_resources() {
            Ok(g) => Ok(g),
            Err(e) => self.lock().last.clone().ok_or(e),
        }
    }

    /// A server's session by name. A dead session (its stream ended, its process exited) is
    /// re-established first, with back-off, at most `1 + max_retries` attempts within the
    /// server's timeout; concurrent callers wait for the same attempt.
    pub fn client(&self, server: &str) -> Result<Arc<Client>> {
        let op = OpId::new();
        self.client_in(server, &op)
    }

    pub(super) fn client_in(&self, server: &str, op: &OpId) -> Result<Arc<Client>> {
        self.slot_client(server, op).map(|(_, c)| c)
    }

    /// A server's slot and its session (healed as [`client`](Self::client) says).
    fn slot_client(&self, server: &str, op: &OpId) -> Result<(Arc<Slot>, Arc<Client>)> {
        let slots = self.slots(op)?;
        match slots.into_iter().find(|s| s.config.name == server) {
            Some(slot) => {
                let client = self.heal(&slot, op)?;
                Ok((slot, client))
            }
            None => {
                let detail = if self.config().servers.iter().any(|s| s.name == server) {
                    format!("server `{server}` is disabled")
                } else {
                    format!("no server named `{server}` in the config")
                };
                Err(Error::NoServer { detail, op: op.clone() })
            }
        }
    }

    /// Runs `f` on a server's session; when it fails because the session died under it, once
    /// more on a new session (for requests that may be repeated: reads, listings, prompts).
    fn with_retry<T>(&self, server: &str, op: &OpId, f: impl Fn(&Client) -> Result<T>) -> Result<T> {
        let client = self.client_in(server, op)?;
        match f(&client) {
            Err(e) if client.is_closed() && matches!(e, Error::ConnectionClosed { .. } | Error::Closed { .. }) => {
                log::info!("op={op} server={server}: the session died during the call; once more on a new one");
                let client = self.client_in(server, op)?;
                f(&client)
            }
            other => other,
        }
    }

    /// Calls a tool by its name in the catalogue (see [`Gathered::tools`] and
    /// [`Naming`](crate::Naming)) on the server that owns it, under its original name. The
    /// result is never cached.
    ///
    /// An MCP Apps tool whose visibility excludes `"model"` is not in the catalogue: calling it
    /// by name fails with [`Error::NotAllowed`] naming its server; its app calls it with
    /// [`call_app_tool`](Self::call_app_tool).
    ///
    /// A server that runs the call as a task (MCP Tasks) is polled to the result within the
    /// call's deadline (the server's `tool_timeout`, else its `timeout`); a task still running
    /// then fails with
    /// [`Error::TaskPending`] naming its id, to resume with [`task`](Self::task). To hold the
    /// task yourself, use [`call_tool_task`](Self::call_tool_task).
    pub fn call_tool(&self, name: &str, arguments: serde_json::Value) -> Result<CallToolResult> {
        let (server, original) = self.route_tool(name)?;
        self.call_tool_on(Some(&server), &original, arguments)
    }

    /// The server that owns a tool by its catalogue name, and the server's own name for it.
    pub(super) fn route_tool(&self, name: &str) -> Result<(String, String)> {
        let g = self.catalogue()?;
        let Some(tool) = g.tool(name) else {
            let op = OpId::new();
            if let Some(owner) = g.app_only_owners(name).first() {
                return Err(Error::NotAllowed {
                    server: owner.to_string(),
                    method: "tools/call".into(),
                    detail: format!(
                        "tool `{name}` is app-only (its _meta.ui.visibility excludes \"model\"): only an app of \
                         server `{owner}` may call it (call_app_tool)"
                    ),
                    op,
                });
            }
            return Err(Error::NoServer { detail: format!("no server offers a tool named `{name}`"), op });
        };
        Ok((tool.server.clone(), tool.original.clone()))
    }

    /// Calls a tool for an MCP App: the UI that `app_server`'s tool opened calls `tool`, by that
    /// server's own name for it. Allowed only for one of `app_server`'s own tools whose
    /// visibility includes `"app"` (app-only ones included) and that its `tools` filter
    /// allows ([`Gathered::app_tool`]); a tool of another server — an app-only tool above all
    /// — is refused with [`Error::NotAllowed`] before anything is sent. The result is never
    /// cached.
    pub fn call_app_tool(&self, app_server: &str, tool: &str, arguments: serde_json::Value) -> Result<CallToolResult> {
        let g = self.catalogue()?;
        if g.app_tool(app_server, tool).is_none() {
            let op = OpId::new();
            let owners = g.app_only_owners(tool);
            let detail = match owners.iter().find(|o| **o != app_server) {
                Some(owner) if !owners.contains(&app_server) => format!(
                    "tool `{tool}` is an app-only tool of server `{owner}`: an app of server `{app_server}` may not \
                     call it"
                ),
                _ => format!("server `{app_server}` offers its apps no tool named `{tool}`"),
            };
            log::warn!("op={op} server={app_server}: refused an app's call of tool `{tool}`: {detail}");
            return Err(Error::NotAllowed { server: app_server.to_string(), method: "tools/call".into(), detail, op });
        }
        self.call_tool_on(Some(app_server), tool, arguments)
    }

    /// Searches the catalogue's tools ([`Gathered::search_tools_matching`]): ranked words for a
    /// `&str`, or any [`ToolQuery`](crate::catalog::ToolQuery); at most `limit` matches, best first. The
    /// catalogue is the one [`call_tool`](Self::call_tool) routes by — the last gather while it
    /// is warm, else a new one — so a warm search sends no request, and its index is built once
    /// per gathered catalogue. Fails as that gather fails, or for an invalid regex.
    pub fn search_tools<'q>(
        &self,
        query: impl Into<crate::catalog::ToolQuery<'q>>,
        limit: usize,
    ) -> Result<Vec<ToolMatch>> {
        self.catalogue()?.search_tools_matching(query.into(), limit)
    }

    /// Calls a tool on a named server (or, with `None`, on the [`executor`](Self::executor)),
    /// by the server's own name for it. The result is never cached. A session found dead before
    /// the call is re-established; a call whose session dies while it is in flight is not
    /// repeated (a tool may have effects).
    pub fn call_tool_on(
        &self,
        server: Option<&str>,
        tool: &str,
        arguments: serde_json::Value,
    ) -> Result<CallToolResult> {
        self.call_tool_controlled(server, tool, arguments, &crate::client::CallControl::default())
    }

    /// [`call_tool_on`](Self::call_tool_on) with a progress token and a cancel channel.
    pub(crate) fn call_tool_controlled(
        &self,
        server: Option<&str>,
        tool: &str,
        arguments: serde_json::Value,
        control: &crate::client::CallControl,
    ) -> Result<CallToolResult> {
        let op = OpId::new();
        let (slot, client) = match server {
            Some(name) => {
                let (slot, client) = self.slot_client(name, &op)?;
                (Some(slot), client)
            }
            None => (None, self.executor()?),
        };
        log::info!("op={op} server={}: calling tool `{tool}`", client.name());
        let result = client.call_tool_in(&op, tool, arguments, deadline_in(client.tool_timeout()), control);
        match result {
            // The session was closed under the call because its server was removed: say so.
            Err(Error::ConnectionClosed { server, method, op, .. })
                if slot.as_ref().is_some_and(|s| s.is_removed()) =>
            {
                Err(Error::ConnectionClosed {
                    server,
                    method,
                    op,
                    detail: "the server was removed (remove_server) while the call was in flight".into(),
                })
            }
            other => other,
        }
    }

    /// Gets a prompt by its name in the catalogue, from the server that owns it.
    pub fn get_prompt(&self, name: &str, arguments: &BTreeMap<String, String>) -> Result<GetPromptResult> {
        let g = self.catalogue()?;
        let Some(prompt) = g.prompt(name) else {
            return Err(Error::NoServer {
                detail: format!("no server offers a prompt named `{name}`"),
                op: OpId::new(),
            });
        };
        self.get_prompt_on(&prompt.server, &prompt.original, arguments)
    }

    /// Gets a prompt from a named server, by the server's own name for it.
    pub fn get_prompt_on(
        &self,
        server: &str,
        name: &str,
        arguments: &BTreeMap<String, String>,
    ) -> Result<GetPromptResult> {
        let op = OpId::new();
        log::info!("op={op} server={server}: getting prompt `{name}`");
        self.with_retry(server, &op, |c| c.get_prompt_in(&op, name, arguments, deadline_in(c.timeout())))
    }

    /// Reads a resource from the server that owns its URI: the winner of the merged view for a
    /// listed URI — answered from the cache when a gather read it — or else the first server
    /// (by priority) with a template that matches the URI (RFC 6570 level 1).
    pub fn read_resource(&self, uri: &str) -> Result<Vec<ResourceContents>> {
        let g = self.catalogue()?;
        if let Some(contents) = g.contents(uri) {
            return Ok(contents.to_vec());
        }
        let Some(route) = g.route_uri(uri) else {
            return Err(Error::NoServer {
                detail: format!("no server lists `{uri}` or has a template that matches it"),
                op: OpId::new(),
            });
        };
        self.read_resource_on(route.server, uri)
    }

    /// Reads a resource from a named server (never from the cache).
    pub fn read_resource_on(&self, server: &str, uri: &str) -> Result<Vec<ResourceContents>> {
        let op = OpId::new();
        log::debug!("op={op} server={server}: reading a resource");
        self.with_retry(server, &op, |c| c.read_resource_in(&op, uri, deadline_in(c.timeout())))
    }
}
