//! Resources: listings, templates, usage hints, and the contents `resources/read` returns.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::json_bytes;

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
    /// Icons (2025-11-25); those whose `src` a host may not safely load are dropped.
    #[serde(default, deserialize_with = "super::icons::safe_icons", skip_serializing_if = "Option::is_none")]
    pub icons: Option<Vec<super::Icon>>,
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
    /// Icons (2025-11-25); those whose `src` a host may not safely load are dropped.
    #[serde(default, deserialize_with = "super::icons::safe_icons", skip_serializing_if = "Option::is_none")]
    pub icons: Option<Vec<super::Icon>>,
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
