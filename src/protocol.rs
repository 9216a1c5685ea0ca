//! MCP types, as the specification (2024-11-05 through 2025-11-25) defines them.
//!
//! Every optional field of the specification is here; fields this crate does not know are
//! ignored when decoding, never an error. All types serialize back to the wire names
//! (`mimeType`, `_meta`, …).

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub(crate) mod modern;

pub use modern::{DiscoverResult, MODERN_PROTOCOL_VERSIONS, PROTOCOL_VERSIONS};

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
    /// Non-standard capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experimental: Option<Value>,
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

/// Hints about how a resource (or content) is meant to be used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Annotations {
    /// Who the data is for: `"user"`, `"assistant"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Vec<String>>,
    /// Importance from 0 (least) to 1 (most).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<f64>,
    /// ISO 8601 time of the last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

/// A resource a server offers (an item of `resources/list`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Resource {
    /// The resource's URI: its identity across servers.
    pub uri: String,
    /// The programmatic name.
    pub name: String,
    /// A human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Its size in bytes, when the server knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Usage hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
    /// Icons (2025-11-25), as the server sent them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icons: Option<Value>,
    /// Protocol-reserved metadata.
    #[serde(default, rename = "_meta", skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

/// A parameterized resource (an item of `resources/templates/list`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ResourceTemplate {
    /// An RFC 6570 URI template.
    pub uri_template: String,
    /// The programmatic name.
    pub name: String,
    /// A human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The MIME type of the resources it makes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Usage hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
    /// Icons (2025-11-25), as the server sent them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icons: Option<Value>,
    /// Protocol-reserved metadata.
    #[serde(default, rename = "_meta", skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

/// The body of one item of resource contents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ContentsBody {
    /// Text contents.
    #[serde(rename = "text")]
    Text(String),
    /// Binary contents, base64-encoded as the server sent them.
    #[serde(rename = "blob")]
    Blob(String),
}

/// One item of the contents of a resource (`resources/read`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ResourceContents {
    /// The URI of this item (may differ from the one read, for a composite resource).
    pub uri: String,
    /// Its MIME type.
    pub mime_type: Option<String>,
    /// Text or a base64 blob.
    pub body: ContentsBody,
    /// Protocol-reserved metadata.
    pub meta: Option<Value>,
}

impl ResourceContents {
    /// Text contents of `uri`.
    pub fn from_text(uri: impl Into<String>, mime_type: Option<String>, text: impl Into<String>) -> ResourceContents {
        ResourceContents { uri: uri.into(), mime_type, body: ContentsBody::Text(text.into()), meta: None }
    }

    /// Binary contents of `uri`, `base64` as the wire carries them.
    pub fn from_blob(uri: impl Into<String>, mime_type: Option<String>, base64: impl Into<String>) -> ResourceContents {
        ResourceContents { uri: uri.into(), mime_type, body: ContentsBody::Blob(base64.into()), meta: None }
    }

    /// The text, if the contents are text.
    pub fn text(&self) -> Option<&str> {
        match &self.body {
            ContentsBody::Text(t) => Some(t),
            ContentsBody::Blob(_) => None,
        }
    }

    /// The base64 text of the blob, if the contents are binary.
    pub fn blob(&self) -> Option<&str> {
        match &self.body {
            ContentsBody::Blob(b) => Some(b),
            ContentsBody::Text(_) => None,
        }
    }

    /// The bytes this item owns on the heap (used for the cache's byte accounting).
    pub(crate) fn owned_bytes(&self) -> usize {
        let body = match &self.body {
            ContentsBody::Text(s) | ContentsBody::Blob(s) => s.len(),
        };
        self.uri.len()
            + self.mime_type.as_ref().map_or(0, String::len)
            + body
            + self.meta.as_ref().map_or(0, json_bytes)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireContents {
    uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    blob: Option<String>,
    #[serde(default, rename = "_meta", skip_serializing_if = "Option::is_none")]
    meta: Option<Value>,
}

impl Serialize for ResourceContents {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (text, blob) = match &self.body {
            ContentsBody::Text(t) => (Some(t.clone()), None),
            ContentsBody::Blob(b) => (None, Some(b.clone())),
        };
        WireContents { uri: self.uri.clone(), mime_type: self.mime_type.clone(), text, blob, meta: self.meta.clone() }
            .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ResourceContents {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WireContents::deserialize(d)?;
        let body = match (w.text, w.blob) {
            (Some(t), None) => ContentsBody::Text(t),
            (None, Some(b)) => ContentsBody::Blob(b),
            (Some(_), Some(_)) => return Err(serde::de::Error::custom("resource contents carry both text and blob")),
            (None, None) => return Err(serde::de::Error::custom("resource contents carry neither text nor blob")),
        };
        Ok(ResourceContents { uri: w.uri, mime_type: w.mime_type, body, meta: w.meta })
    }
}

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

/// A prompt template a server offers (an item of `prompts/list`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Prompt {
    /// The prompt's name, used to get it.
    pub name: String,
    /// A human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The arguments it accepts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<PromptArgument>,
    /// Icons (2025-11-25), as the server sent them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icons: Option<Value>,
    /// Protocol-reserved metadata.
    #[serde(default, rename = "_meta", skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

/// One argument of a [`Prompt`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PromptArgument {
    /// Its name.
    pub name: String,
    /// A human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What it means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether it must be given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
}

/// One message of a [`GetPromptResult`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PromptMessage {
    /// `"user"` or `"assistant"`.
    pub role: String,
    /// What it says.
    pub content: Content,
}

/// The result of `prompts/get`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GetPromptResult {
    /// A description of the prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The messages.
    #[serde(default)]
    pub messages: Vec<PromptMessage>,
    /// Protocol-reserved metadata.
    #[serde(default, rename = "_meta", skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

/// A page of `prompts/list`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListPromptsResult {
    #[serde(default)]
    pub prompts: Vec<Prompt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A page of `resources/list`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListResourcesResult {
    #[serde(default)]
    pub resources: Vec<Resource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A page of `resources/templates/list`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListResourceTemplatesResult {
    #[serde(default)]
    pub resource_templates: Vec<ResourceTemplate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A page of `tools/list`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListToolsResult {
    #[serde(default)]
    pub tools: Vec<Tool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The result of `resources/read`.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct ReadResourceResult {
    pub contents: Vec<ResourceContents>,
}

/// The heap bytes a JSON value owns, approximately (its compact text length).
pub(crate) fn json_bytes(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => 8,
        Value::String(s) => s.len(),
        Value::Array(a) => a.iter().map(json_bytes).sum::<usize>() + 8,
        Value::Object(o) => o.iter().map(|(k, v)| k.len() + json_bytes(v)).sum::<usize>() + 8,
    }
}

fn opt_len(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, String::len)
}

impl Resource {
    /// The bytes this resource owns on the heap (used for the cache's byte accounting).
    pub(crate) fn owned_bytes(&self) -> usize {
        self.uri.len()
            + self.name.len()
            + opt_len(&self.title)
            + opt_len(&self.description)
            + opt_len(&self.mime_type)
            + self.annotations.as_ref().map_or(0, |a| 24 + opt_len(&a.last_modified))
            + self.icons.as_ref().map_or(0, json_bytes)
            + self.meta.as_ref().map_or(0, json_bytes)
    }
}

impl ResourceTemplate {
    /// The bytes this template owns on the heap.
    pub(crate) fn owned_bytes(&self) -> usize {
        self.uri_template.len()
            + self.name.len()
            + opt_len(&self.title)
            + opt_len(&self.description)
            + opt_len(&self.mime_type)
            + self.meta.as_ref().map_or(0, json_bytes)
    }
}

impl Tool {
    /// The bytes this tool owns on the heap.
    pub(crate) fn owned_bytes(&self) -> usize {
        self.name.len()
            + opt_len(&self.title)
            + opt_len(&self.description)
            + json_bytes(&self.input_schema)
            + self.output_schema.as_ref().map_or(0, json_bytes)
            + self.annotations.as_ref().map_or(0, json_bytes)
            + self.meta.as_ref().map_or(0, json_bytes)
    }
}

impl Prompt {
    /// The bytes this prompt owns on the heap.
    pub(crate) fn owned_bytes(&self) -> usize {
        self.name.len()
            + opt_len(&self.title)
            + opt_len(&self.description)
            + self
                .arguments
                .iter()
                .map(|a| a.name.len() + opt_len(&a.title) + opt_len(&a.description) + 8)
                .sum::<usize>()
            + self.icons.as_ref().map_or(0, json_bytes)
            + self.meta.as_ref().map_or(0, json_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resource_with_every_field_round_trips_and_unknown_fields_are_ignored() {
        let wire = json!({
            "uri": "database://metadata", "name": "metadata", "title": "Metadata",
            "description": "the schema", "mimeType": "application/json", "size": 1234,
            "annotations": {"audience": ["user"], "priority": 0.5, "lastModified": "2025-01-01T00:00:00Z"},
            "_meta": {"x": 1}, "somethingNew": true
        });
        let r: Resource = serde_json::from_value(wire).unwrap();
        assert_eq!(r.uri, "database://metadata");
        assert_eq!(r.mime_type.as_deref(), Some("application/json"));
        assert_eq!(r.size, Some(1234));
        assert_eq!(r.annotations.as_ref().unwrap().priority, Some(0.5));
        assert_eq!(r.meta, Some(json!({"x": 1})));
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back["mimeType"], "application/json");
        assert_eq!(back["_meta"], json!({"x": 1}));
        assert!(back.get("somethingNew").is_none());
        assert!(back.get("icons").is_none());
    }

    #[test]
    fn contents_are_text_or_blob() {
        let t: ResourceContents =
            serde_json::from_value(json!({"uri": "a://t", "mimeType": "text/plain", "text": "hi"})).unwrap();
        assert_eq!(t.text(), Some("hi"));
        assert_eq!(t.blob(), None);
        let b: ResourceContents = serde_json::from_value(json!({"uri": "a://b", "blob": "AAE="})).unwrap();
        assert_eq!(b.blob(), Some("AAE="));
        assert_eq!(serde_json::to_value(&b).unwrap(), json!({"uri": "a://b", "blob": "AAE="}));
        let e = serde_json::from_value::<ResourceContents>(json!({"uri": "a://n"})).unwrap_err();
        assert!(e.to_string().contains("neither text nor blob"), "{e}");
    }

    #[test]
    fn tool_results_decode_every_content_kind() {
        let r: CallToolResult = serde_json::from_value(json!({
            "content": [
                {"type": "text", "text": "one"},
                {"type": "image", "data": "AA==", "mimeType": "image/png"},
                {"type": "resource_link", "uri": "a://x", "name": "x"},
                {"type": "resource", "resource": {"uri": "a://y", "text": "y"}},
                {"type": "text", "text": "two"},
                {"type": "hologram", "data": "?"}
            ],
            "structuredContent": {"rows": 2},
            "isError": false
        }))
        .unwrap();
        assert_eq!(r.content.len(), 6);
        assert_eq!(r.content[5], Content::Unknown);
        assert_eq!(r.text(), "one\ntwo");
        assert_eq!(r.structured_content, Some(json!({"rows": 2})));
        assert!(!r.is_error);
        // 2026-07-28: any JSON value, `null` too (kept apart from an absent field).
        let null: CallToolResult = serde_json::from_value(json!({"content": [], "structuredContent": null})).unwrap();
        assert_eq!(null.structured_content, Some(Value::Null));
        let absent: CallToolResult = serde_json::from_value(json!({"content": []})).unwrap();
        assert_eq!(absent.structured_content, None);
    }

    #[test]
    fn paged_results_carry_the_cursor() {
        let p: ListResourcesResult =
            serde_json::from_value(json!({"resources": [{"uri": "a://1", "name": "1"}], "nextCursor": "c2"})).unwrap();
        assert_eq!(p.resources.len(), 1);
        assert_eq!(p.next_cursor.as_deref(), Some("c2"));
        let t: ListToolsResult = serde_json::from_value(
            json!({"tools": [{"name": "q", "inputSchema": {"type": "object"}, "outputSchema": {"type": "object"}}]}),
        )
        .unwrap();
        assert!(t.tools[0].output_schema.is_some());
        assert!(t.next_cursor.is_none());
    }

    #[test]
    fn initialize_result_decodes() {
        let r: InitializeResult = serde_json::from_value(json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {"resources": {"subscribe": false, "listChanged": true}, "tools": {"listChanged": false}},
            "serverInfo": {"name": "s", "version": "1"}
        }))
        .unwrap();
        assert_eq!(r.capabilities.resources.unwrap().list_changed, Some(true));
    }
}
