//! Who a server is and what it can do: `serverInfo`, the capabilities, the `initialize` result.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::DiscoverResult;

/// The name and version of an MCP implementation (`serverInfo`, `clientInfo`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Implementation {
    /// The programmatic name.
    pub name: String,
    /// The version.
    pub version: String,
    /// A human-readable name (2025-06-18+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Its icons (2025-11-25); those whose `src` a host may not safely load are dropped.
    #[serde(default, deserialize_with = "super::icons::safe_icons", skip_serializing_if = "Option::is_none")]
    pub icons: Option<Vec<super::Icon>>,
}

/// What a server said it can do, in its `initialize` result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServerCapabilities {
    /// Present when the server offers resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesCapability>,
    /// Present when the server offers tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ListChangedCapability>,
    /// Present when the server offers prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts: Option<ListChangedCapability>,
    /// Present when the server sends log messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Value>,
    /// Present when the server offers argument completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completions: Option<Value>,
    /// Tasks (2025-11-25, experimental): `list`, `cancel`, and `requests.tools.call` when a
    /// `tools/call` may carry a `task` (see [`ServerCapabilities::task_tool_calls`]). On the
    /// 2026-07-28 wire tasks are the `io.modelcontextprotocol/tasks` extension instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Value>,
    /// Non-standard capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experimental: Option<Value>,
    /// The official extensions the server supports, by identifier (`io.modelcontextprotocol/ui`
    /// for MCP Apps), each with its settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Value>,
}

impl ServerCapabilities {
    /// The settings of an extension the server declares (`extensions[id]`), if it declares it.
    pub fn extension(&self, id: &str) -> Option<&Value> {
        self.extensions.as_ref()?.get(id)
    }

    /// Whether the server may run a `tools/call` as a task: it declares the tasks extension
    /// (`io.modelcontextprotocol/tasks`, the 2026-07-28 wire) or, on 2025-11-25, the
    /// `tasks.requests.tools.call` capability.
    pub fn task_tool_calls(&self) -> bool {
        let legacy = self.tasks.as_ref().and_then(|t| t.get("requests")?.get("tools")?.get("call")).is_some();
        legacy || self.extension(super::tasks::EXTENSION).is_some()
    }
}

/// The `resources` capability.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResourcesCapability {
    /// The server accepts `resources/subscribe`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe: Option<bool>,
    /// The server sends `notifications/resources/list_changed`.
    #[serde(default, rename = "listChanged", skip_serializing_if = "Option::is_none")]
    pub list_changed: Option<bool>,
}

/// A capability whose only option is `listChanged`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ListChangedCapability {
    /// The server sends a `notifications/…/list_changed` when the list changes.
    #[serde(default, rename = "listChanged", skip_serializing_if = "Option::is_none")]
    pub list_changed: Option<bool>,
}

/// The result of `initialize`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct InitializeResult {
    /// The version the server chose.
    pub protocol_version: String,
    /// What the server can do.
    #[serde(default)]
    pub capabilities: ServerCapabilities,
    /// Who the server is.
    pub server_info: Implementation,
    /// Hints for the model using the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
}

impl InitializeResult {
    /// What a `server/discover` result says, as the handshake would have: the version we
    /// chose, the capabilities, who the server is, its instructions.
    pub(crate) fn from_discover(version: &str, discover: &DiscoverResult) -> InitializeResult {
        InitializeResult {
            protocol_version: version.to_string(),
            capabilities: discover.capabilities.clone(),
            server_info: discover.server_info(),
            instructions: discover.instructions.clone(),
        }
    }
}
