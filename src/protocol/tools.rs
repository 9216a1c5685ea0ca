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
    /// Icons (2025-11-25), as the server sent them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icons: Option<Value>,
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
