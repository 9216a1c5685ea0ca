//! The JSON configs of other MCP clients, read as they are:
//!
//! - `mcpServers` — Claude Desktop (`claude_desktop_config.json`), Claude Code (`.mcp.json`:
//!   `type`, `url`, `headers`, `${VAR}` and `${VAR:-default}`), Cursor (`mcp.json`: `env`,
//!   `envFile`, `${env:NAME}`, `${userHome}`, `${workspaceFolder}`) and others of that shape
//!   (Cline's `disabled` and `timeout` are honoured);
//! - `servers` — VS Code (`.vscode/mcp.json`, or `mcp.servers` of a `settings.json`): `type`,
//!   `command`, `args`, `env`, `envFile`, `cwd`, `url`, `headers`. A value that uses an input
//!   (`${input:ID}`) is an error naming the input: there is nobody to prompt.
//!
//! Comments (`//`, `/* */`) and trailing commas are allowed (VS Code's JSONC). Other top-level
//! keys (a settings file's) are left alone; a server's keys that only matter to another client
//! (`autoApprove`, `description`, …) are ignored and listed in its [`ServerConfig::notes`](super::ServerConfig::notes).
//! These formats have no priorities: servers get 1, 2, 3, … in file order, noted likewise.
//! Without `type`, a server with `command` is stdio, one with `url` is Streamable HTTP unless
//! the URL's path ends in `/sse` (then legacy SSE).
//!
//! Locations: every value is read as a `RawValue`, whose text is a slice of the document, so
//! its byte offset (and from it the line and column) is exact.
//!
//! Here: recognising the format and reading the document (`try_load`), locations, the
//! `servers` map. One server's keys are mapped in `json/server.rs`; variables and `envFile` in
//! `json/vars.rs`; comments and trailing commas in `json/jsonc.rs`.

mod jsonc;
mod server;
mod vars;

use std::path::PathBuf;

use serde_json::value::RawValue;

use super::entries::Entries;
use super::report::{at, combine};
use super::schema::{Config, Orchestration};
use crate::error::{Error, Result};

/// The JSON format a document was recognised as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Flavor {
    /// `mcpServers`.
    McpServers,
    /// VS Code's `servers` (with `inputs`).
    VsCode,
}

/// Where `${workspaceFolder}` and a relative `envFile` point, and the environment.
pub(super) struct Context<'a> {
    /// The directory of the file, when read from one.
    pub(super) dir: Option<PathBuf>,
    /// The environment.
    pub(super) lookup: &'a dyn Fn(&str) -> Option<String>,
}

/// `None` when the text is not one of the JSON formats (it is then read as YAML); otherwise
/// the config or every problem found.
pub(super) fn try_load(text: &str, cx: &Context<'_>) -> Option<Result<(Config, Flavor)>> {
    let stripped = jsonc::strip_jsonc(text);
    if !stripped.trim_start_matches('\u{feff}').trim_start().starts_with('{') {
        return None;
    }
    let top: Entries<&RawValue> = match serde_json::from_str(&stripped) {
        Ok(top) => top,
        Err(e) => {
            // Not JSON: YAML (of which JSON is a subset) reports it, unless it was meant to be
            // one of these formats.
            if stripped.contains("\"mcpServers\"") || stripped.contains("\"servers\"") {
                let message = format!("invalid JSON: {}", strip_position(&e.to_string()));
                return Some(Err(at(e.line() as u64, e.column() as u64, message)));
            }
            return None;
        }
    };
    let doc = Doc { text, stripped: &stripped };
    fn find<'a>(entries: &Entries<&'a RawValue>, key: &str) -> Option<&'a RawValue> {
        entries.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
    let (servers, inputs, flavor) = if let Some(servers) = find(&top, "mcpServers") {
        (servers, None, Flavor::McpServers)
    } else if let Some(servers) = find(&top, "servers") {
        (servers, find(&top, "inputs"), Flavor::VsCode)
    } else if let Some(mcp) = find(&top, "mcp")
        && let Ok(mcp) = serde_json::from_str::<Entries<&RawValue>>(mcp.get())
        && let Some(servers) = find(&mcp, "servers")
    {
        (servers, find(&mcp, "inputs"), Flavor::VsCode)
    } else if find(&top, "mcp_servers").is_some() {
        return None;
    } else {
        let keys: Vec<&str> = top.0.iter().map(|(k, _)| k.as_str()).collect();
        let message = format!(
            "a JSON config needs `mcpServers` (Claude Desktop, Claude Code, Cursor) or `servers` (VS Code); found {}",
            if keys.is_empty() {
                "no key".to_owned()
            } else {
                keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            }
        );
        return Some(Err(at(1, 1, message)));
    };
    Some(doc.build(servers, inputs, flavor, cx).map(|c| (c, flavor)))
}

/// serde_json's message without its own " at line L column C" (ours is added).
fn strip_position(message: &str) -> &str {
    message.find(" at line ").map_or(message, |i| &message[..i])
}

struct Doc<'t> {
    /// The document as written (for lines and columns).
    text: &'t str,
    /// The same without comments, same offsets (the RawValues point into it).
    stripped: &'t str,
}

/// A VS Code input: its id and description.
struct Input {
    id: String,
    description: Option<String>,
}

/// One server's problems go here, each with its location.
struct Problems(Vec<Error>);

impl Doc<'_> {
    fn offset(&self, raw: &RawValue) -> usize {
        (raw.get().as_ptr() as usize).saturating_sub(self.stripped.as_ptr() as usize).min(self.stripped.len())
    }

    /// The 1-based line and column (in characters) of a byte offset.
    fn line_column(&self, offset: usize) -> (u64, u64) {
        let before = &self.text[..floor_char_boundary(self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        (line as u64, column as u64)
    }

    /// An error at the value.
    fn at_value(&self, raw: &RawValue, message: String) -> Error {
        let (l, c) = self.line_column(self.offset(raw));
        at(l, c, message)
    }

    /// An error at the key whose value this is (the value itself when the key is not found).
    fn at_key(&self, raw: &RawValue, message: String) -> Error {
        let value = self.offset(raw);
        let before = self.stripped[..value].trim_end();
        let key_start = before
            .strip_suffix(':')
            .map(str::trim_end)
            .filter(|b| b.ends_with('"'))
            .and_then(|b| b[..b.len() - 1].rfind('"'));
        let (l, c) = self.line_column(key_start.unwrap_or(value));
        at(l, c, message)
    }

    fn build(&self, servers: &RawValue, inputs: Option<&RawValue>, flavor: Flavor, cx: &Context<'_>) -> Result<Config> {
        let section = if flavor == Flavor::McpServers { "mcpServers" } else { "servers" };
        let entries: Entries<&RawValue> = serde_json::from_str(servers.get())
            .map_err(|_| self.at_value(servers, format!("`{section}` must be an object of server names to servers")))?;
        if entries.0.is_empty() {
            return Err(self.at_key(servers, format!("`{section}` is empty: configure at least one server")));
        }
        let inputs = self.inputs(inputs);
        let mut problems = Problems(Vec::new());
        let mut built = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (i, (name, raw)) in entries.0.iter().enumerate() {
            if !seen.insert(name.as_str()) {
                problems.0.push(self.at_key(raw, format!("duplicate server `{name}`")));
                continue;
            }
            if let Some(server) = self.server(name, raw, i, &inputs, cx, &mut problems) {
                built.push(server);
            }
        }
        if !problems.0.is_empty() {
            return Err(combine(problems.0));
        }
        Ok(Config::sorted(built, Orchestration::default()))
    }

    fn inputs(&self, inputs: Option<&RawValue>) -> Vec<Input> {
        #[derive(serde::Deserialize)]
        struct RawInput {
            id: Option<String>,
            description: Option<String>,
        }
        let Some(raw) = inputs else { return Vec::new() };
        let list: Vec<RawInput> = serde_json::from_str(raw.get()).unwrap_or_default();
        list.into_iter().filter_map(|i| Some(Input { id: i.id?, description: i.description })).collect()
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}
