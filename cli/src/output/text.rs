//! The human text that is not a table: a resource's contents, a tool's result, a prompt's
//! messages.

use std::fmt::Write as _;

use mcp_orchestrator::{CallToolResult, Content, GetPromptResult, ResourceContents};

/// A resource's contents for a person: text as it is, a blob described.
pub fn contents_text(contents: &[ResourceContents]) -> String {
    let mut out = String::new();
    for c in contents {
        match (c.text(), c.blob()) {
            (Some(text), _) => {
                out.push_str(text);
                if !text.ends_with('\n') {
                    out.push('\n');
                }
            }
            (None, Some(blob)) => {
                let mime = c.mime_type.as_deref().unwrap_or("unknown type");
                let _ = writeln!(out, "[blob {}: {mime}, {} base64 characters]", c.uri, blob.len());
            }
            (None, None) => {
                let _ = writeln!(out, "[{}: contents of a kind this version does not know]", c.uri);
            }
        }
    }
    out
}

/// One content item for a person: text as it is, other items described.
fn content_text(item: &Content) -> String {
    match item {
        Content::Text { text, .. } => text.clone(),
        Content::Image { mime_type, data } => format!("[image {mime_type}, {} base64 characters]", data.len()),
        Content::Audio { mime_type, data } => format!("[audio {mime_type}, {} base64 characters]", data.len()),
        Content::ResourceLink(r) => format!("[resource link {}]", r.uri),
        Content::Resource { resource } => match resource.text() {
            Some(text) => format!("[resource {}]\n{text}", resource.uri),
            None => format!("[resource {} (binary)]", resource.uri),
        },
        _ => "[content of a type this version does not know]".to_string(),
    }
}

/// A tool result for a person: text items as they are, other items described, then the
/// structured content as pretty JSON.
pub fn call_text(result: &CallToolResult) -> String {
    let mut out = String::new();
    for item in &result.content {
        out.push_str(&content_text(item));
        out.push('\n');
    }
    if let Some(s) = &result.structured_content {
        out.push_str("structuredContent:\n");
        out.push_str(&serde_json::to_string_pretty(s).unwrap_or_else(|_| s.to_string()));
        out.push('\n');
    }
    out
}

/// A prompt for a person (`prompts get`): `# description`, then each message as `[role]` and
/// its content.
pub fn prompt_text(result: &GetPromptResult) -> String {
    let mut out = String::new();
    if let Some(description) = &result.description {
        out.push_str(&format!("# {description}\n"));
    }
    for m in &result.messages {
        out.push_str(&format!("[{}]\n{}\n", m.role, content_text(&m.content)));
    }
    out
}
