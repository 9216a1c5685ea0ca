//! Tools: a tool's listing, the content items of its results, and `tools/call`'s result.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Annotations, Resource, ResourceContents};

/// A tool a server offers (an item of `tools/list`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Tool {
    /// The tool's name, used to call it.
    pub name: String,
    /// A human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of its arguments.
    #[serde(default = "empty_object_schema")]
    pub input_schema: Value,
    /// JSON Schema of its structured result (2025-06-18+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// Behaviour hints (`readOnlyHint`, `destructiveHint`, …), as the server sent them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Value>,
    /// Icons (2025-11-25); those whose `src` a host may not safely load are dropped.
    #[serde(default, deserialize_with = "super::icons::safe_icons", skip_serializing_if = "Option::is_none")]
    pub icons: Option<Vec<super::Icon>>,
    /// How it runs (2025-11-25): `{"taskSupport": "forbidden" | "optional" | "required"}`,
    /// whether a call may (or must) ask to run as a task (absent: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<Value>,
    /// Protocol-reserved metadata.
    #[serde(default, rename = "_meta", skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

/// A field that is present, even as `null` (with `default`, an absent one is `None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

fn empty_object_schema() -> Value {
    serde_json::json!({"type": "object"})
}

/// One item of a tool's result content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Content {
    /// Text.
    Text {
        /// The text.
        text: String,
        /// Usage hints.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        annotations: Option<Annotations>,
    },
    /// An image, base64-encoded.
    Image {
        /// Base64 data.
        data: String,
        /// Its MIME type.
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    /// Audio, base64-encoded.
    Audio {
        /// Base64 data.
        data: String,
        /// Its MIME type.
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    /// A link to a resource.
    ResourceLink(Resource),
    /// An embedded resource.
    Resource {
        /// Its contents.
        resource: ResourceContents,
    },
    /// A content type this crate does not know (a newer protocol's): kept as a marker so that
    /// the rest of the result is not lost.
    #[serde(other)]
    Unknown,
}

/// The result of `tools/call`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CallToolResult {
    /// What the tool returned.
    #[serde(default)]
    pub content: Vec<Content>,
    /// The structured result, when the tool has an output schema (any JSON value; an explicit
    /// `null` is `Some(Value::Null)`, an absent field `None`).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub structured_content: Option<Value>,
    /// Whether the tool reported an error (the call itself succeeded).
    #[serde(default)]
    pub is_error: bool,
    /// Protocol-reserved metadata.
    #[serde(default, rename = "_meta", skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

impl CallToolResult {
    /// A successful result with this content.
    pub fn new(content: Vec<Content>) -> CallToolResult {
        CallToolResult { content, structured_content: None, is_error: false, meta: None }
    }

    /// A successful result of one text item.
    pub fn from_text(text: impl Into<String>) -> CallToolResult {
        CallToolResult::new(vec![Content::Text { text: text.into(), annotations: None }])
    }

    /// The same result with a structured result (`structuredContent`).
    pub fn with_structured_content(mut self, value: Value) -> CallToolResult {
        self.structured_content = Some(value);
        self
    }

    /// The same result, marked as the tool's error (`isError`) or not.
    pub fn with_error(mut self, is_error: bool) -> CallToolResult {
        self.is_error = is_error;
        self
    }

    /// All text items of the content, joined by newlines.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.content {
            if let Content::Text { text, .. } = c {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(text);
            }
        }
        out
    }
}

/// The MCP Apps extension's identifier (`io.modelcontextprotocol/ui`): the key of a host's
/// client capability and of a server's `extensions` entry.
pub const UI_EXTENSION: &str = "io.modelcontextprotocol/ui";

/// The MIME type of an MCP App's HTML resource (`ui://…`).
pub const UI_MIME_TYPE: &str = "text/html;profile=mcp-app";

/// Who may call a tool (MCP Apps: `_meta.ui.visibility`): the model, the app (the UI of the
/// tool's own server), or both. Absent, empty or unreadable: both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct Visibility {
    /// `"model"`: the tool is in the catalogue a model sees and callable by name.
    pub model: bool,
    /// `"app"`: the tool is callable by an app (UI) of the server that owns it.
    pub app: bool,
}

impl Visibility {
    /// Visible to both the model and the app (the default).
    pub const BOTH: Visibility = Visibility { model: true, app: true };

    /// Whether only apps may call the tool (its visibility excludes `"model"`).
    pub fn is_app_only(&self) -> bool {
        !self.model
    }
}

impl Default for Visibility {
    fn default() -> Visibility {
        Visibility::BOTH
    }
}

impl Tool {
    /// The tool's `_meta.ui` object (MCP Apps), if it has one.
    fn ui_meta(&self) -> Option<&serde_json::Map<String, Value>> {
        self.meta.as_ref()?.get("ui")?.as_object()
    }

    /// The `ui://` resource an MCP App host renders for this tool: `_meta.ui.resourceUri`, or
    /// the older flat `_meta["ui/resourceUri"]`.
    pub fn ui_resource_uri(&self) -> Option<&str> {
        let nested = self.ui_meta().and_then(|ui| ui.get("resourceUri")).and_then(Value::as_str);
        nested.or_else(|| self.meta.as_ref()?.get("ui/resourceUri")?.as_str())
    }

    /// Who may call the tool (`_meta.ui.visibility`; absent or empty: both). A list is read
    /// for the two values the extension defines; one that names neither (only unknown values,
    /// or not a list of strings) counts as absent.
    pub fn visibility(&self) -> Visibility {
        let Some(list) = self.ui_meta().and_then(|ui| ui.get("visibility")).and_then(Value::as_array) else {
            return Visibility::BOTH;
        };
        let has = |v: &str| list.iter().any(|x| x.as_str() == Some(v));
        match (has("model"), has("app")) {
            (false, false) => Visibility::BOTH,
            (model, app) => Visibility { model, app },
        }
    }
}
