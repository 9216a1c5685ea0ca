//! The heap bytes protocol values own, approximately: the cache's byte accounting.

use serde_json::Value;

use super::{Prompt, Resource, ResourceTemplate, Tool};

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
            + super::icons::icons_bytes(&self.icons)
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
            + super::icons::icons_bytes(&self.icons)
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
            + super::icons::icons_bytes(&self.icons)
            + self.execution.as_ref().map_or(0, json_bytes)
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
            + super::icons::icons_bytes(&self.icons)
            + self.meta.as_ref().map_or(0, json_bytes)
    }
}
