//! MCP types, as the specification (2024-11-05 through 2025-11-25) defines them, and the
//! handshake's versions and params; the 2026-07-28 wire's additions are in `modern`.
//!
//! Every optional field of the specification is here; fields this crate does not know are
//! ignored when decoding, never an error. All types serialize back to the wire names
//! (`mimeType`, `_meta`, …). One file per concern: `capabilities` (who a server is and what it
//! can do), `resources`, `tools`, `prompts`, `pages` (the paged list results), `size` (heap
//! bytes for the cache), `modern` (the 2026-07-28 wire).

use serde_json::Value;

mod capabilities;
mod icons;
mod logging;
pub(crate) mod modern;
mod pages;
mod prompts;
mod resources;
mod size;
mod tools;
// Tasks of both eras: the created-task shapes, a task's state, the poll delay (pure).
pub(crate) mod tasks;

pub use capabilities::{
    Implementation, InitializeResult, ListChangedCapability, ResourcesCapability, ServerCapabilities,
};
pub use icons::{Icon, is_safe_icon_src};
pub use logging::LoggingLevel;
pub(crate) use logging::META_LOG_LEVEL;
pub use modern::{DiscoverResult, MODERN_PROTOCOL_VERSIONS, PROTOCOL_VERSIONS};
pub(crate) use pages::{
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, ReadResourceResult,
};
pub use prompts::{GetPromptResult, Prompt, PromptArgument, PromptMessage};
pub use resources::{Annotations, ContentsBody, Resource, ResourceContents, ResourceTemplate};
pub(crate) use size::json_bytes;
pub use tasks::{TaskInfo, TaskStatus};
pub use tools::{CallToolResult, Content, Tool, UI_EXTENSION, UI_MIME_TYPE, Visibility};

/// The handshake-era (`initialize`) protocol versions this crate speaks, newest first. We
/// offer the first. [`PROTOCOL_VERSIONS`] adds the 2026-07-28 wire.
pub const SUPPORTED_PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// The params of our `initialize` request: the first handshake and a session's renewal send
/// the same. `capabilities`: one per registered handler (`Router::capabilities`).
pub(crate) fn initialize_params(capabilities: Value) -> Value {
    serde_json::json!({
        "protocolVersion": SUPPORTED_PROTOCOL_VERSIONS[0],
        "capabilities": capabilities,
        "clientInfo": { "name": "mcp-orchestrator", "version": env!("CARGO_PKG_VERSION") },
    })
}

/// Checks the protocol version a server chose in `initialize` (the first handshake and a
/// session's renewal alike): it must be one we speak.
pub(crate) fn check_protocol_version(version: &str) -> Result<(), String> {
    if SUPPORTED_PROTOCOL_VERSIONS.contains(&version) {
        Ok(())
    } else {
        Err(format!(
            "the server chose protocol version {version:?}; we speak {}",
            SUPPORTED_PROTOCOL_VERSIONS.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests;
