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
//! (`autoApprove`, `description`, …) are ignored and listed in its [`ServerConfig::notes`].
//! These formats have no priorities: servers get 1, 2, 3, … in file order, noted likewise.
//! Without `type`, a server with `command` is stdio, one with `url` is Streamable HTTP unless
//! the URL's path ends in `/sse` (then legacy SSE).
//!
//! Locations: every value is read as a `RawValue`, whose text is a slice of the document, so
//! its byte offset (and from it the line and column) is exact.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::value::RawValue;

use super::{
    Config, Entries, Headers, Orchestration, ServerConfig, Transport, check_env_name, check_header, check_url,
};
use crate::error::{Error, Result};
use crate::url::redacted;

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
    let stripped = strip_jsonc(text);
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
                return Some(Err(super::at(e.line() as u64, e.column() as u64, message)));
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
        return Some(Err(super::at(1, 1, message)));
    };
    Some(doc.build(servers, inputs, flavor, cx).map(|c| (c, flavor)))
}

/// serde_json's message without its own " at line L column C" (ours is added).
fn strip_position(message: &str) -> &str {
    message.find(" at line ").map_or(message, |i| &message[..i])
}

/// Replaces comments and trailing commas by spaces, keeping every byte offset.
fn strip_jsonc(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    let mut in_string = false;
    let mut last_comma: Option<usize> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            if b == b'\\' {
                i += 2;
                continue;
            }
            if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                last_comma = None;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    out[i] = b' ';
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = text[i + 2..].find("*/").map_or(bytes.len(), |e| i + 2 + e + 2);
                for (j, byte) in out.iter_mut().enumerate().take(end).skip(i) {
                    if bytes[j] != b'\n' {
                        *byte = b' ';
                    }
                }
                i = end;
                continue;
            }
            b',' => last_comma = Some(i),
            b'}' | b']' => {
                if let Some(c) = last_comma.take() {
                    out[c] = b' ';
                }
            }
            b if b.is_ascii_whitespace() => {}
            _ => last_comma = None,
        }
        i += 1;
    }
    // Only ASCII bytes were replaced, each by an ASCII space: still UTF-8.
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
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
        super::at(l, c, message)
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
        super::at(l, c, message)
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
            return Err(super::combine(problems.0));
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

    #[allow(clippy::too_many_lines)] // reason: one key after the other, in the order a reader expects
    fn server(
        &self,
        name: &str,
        raw: &RawValue,
        index: usize,
        inputs: &[Input],
        cx: &Context<'_>,
        problems: &mut Problems,
    ) -> Option<ServerConfig> {
        let before = problems.0.len();
        let Ok(fields) = serde_json::from_str::<Entries<&RawValue>>(raw.get()) else {
            problems.0.push(self.at_value(raw, format!("server `{name}`: expected an object")));
            return None;
        };
        if name.is_empty() {
            problems.0.push(self.at_key(raw, "a server has an empty name".into()));
        }
        let mut notes = Vec::new();
        let mut get = BTreeMap::new();
        for (key, value) in &fields.0 {
            if get.insert(key.as_str(), *value).is_some() {
                problems.0.push(self.at_key(value, format!("server `{name}`: duplicate key `{key}`")));
            }
        }
        let known =
            ["type", "command", "args", "env", "envFile", "cwd", "url", "serverUrl", "headers", "disabled", "timeout"];
        for (key, _) in &fields.0 {
            if !known.contains(&key.as_str()) {
                notes.push(format!("ignored key `{key}` (not used by mcp-orchestrator)"));
            }
        }
        let expand = |value: &RawValue, key: &str, text: &str, problems: &mut Problems| -> Option<String> {
            match expand(text, cx, inputs) {
                Ok(s) => Some(s),
                Err(why) => {
                    problems.0.push(self.at_value(value, format!("server `{name}`: `{key}`: {why}")));
                    None
                }
            }
        };
        let string = |key: &str, problems: &mut Problems| -> Option<(&RawValue, String)> {
            let value = *get.get(key)?;
            match serde_json::from_str::<String>(value.get()) {
                Ok(s) => Some((value, s)),
                Err(_) => {
                    let found = kind_of(value);
                    problems.0.push(
                        self.at_value(value, format!("server `{name}`: `{key}` must be a string, found {found}")),
                    );
                    None
                }
            }
        };
        let map = |key: &str, problems: &mut Problems| -> Vec<(String, &RawValue, String)> {
            let Some(value) = get.get(key).copied() else { return Vec::new() };
            let Ok(entries) = serde_json::from_str::<Entries<&RawValue>>(value.get()) else {
                let found = kind_of(value);
                problems
                    .0
                    .push(self.at_value(value, format!("server `{name}`: `{key}` must be an object, found {found}")));
                return Vec::new();
            };
            let mut out = Vec::new();
            for (k, v) in entries.0 {
                // Environment values are often written as numbers or booleans.
                let text = match serde_json::from_str::<serde_json::Value>(v.get()) {
                    Ok(serde_json::Value::String(s)) => s,
                    Ok(serde_json::Value::Number(n)) => n.to_string(),
                    Ok(serde_json::Value::Bool(b)) => b.to_string(),
                    _ => {
                        let found = kind_of(v);
                        problems.0.push(
                            self.at_value(v, format!("server `{name}`: `{key}.{k}` must be a string, found {found}")),
                        );
                        continue;
                    }
                };
                out.push((k, v, text));
            }
            out
        };

        let kind = string("type", problems);
        let command = string("command", problems);
        let url = string("url", problems).or_else(|| string("serverUrl", problems));
        let transport_kind = match (&kind, &command, &url) {
            (Some((value, t)), _, _) => match t.as_str() {
                "stdio" => Some("stdio"),
                "sse" => Some("sse"),
                "http" | "streamable-http" | "streamable_http" | "streamableHttp" => Some("streamable_http"),
                other => {
                    problems.0.push(self.at_value(
                        value,
                        format!("server `{name}`: unknown `type` `{other}` (valid: stdio, sse, http, streamable-http)"),
                    ));
                    None
                }
            },
            (None, Some(_), _) => Some("stdio"),
            (None, None, Some((_, u))) => {
                let path = u.split(['?', '#']).next().unwrap_or("");
                let kind = if path.trim_end_matches('/').ends_with("/sse") { "sse" } else { "streamable_http" };
                notes.push(format!("transport `{kind}` assumed from `url` (no `type`)"));
                Some(kind)
            }
            (None, None, None) => {
                problems.0.push(
                    self.at_key(
                        raw,
                        format!("server `{name}`: needs `command` (a process) or `url` (a remote server)"),
                    ),
                );
                None
            }
        };

        let transport = match transport_kind {
            Some("stdio") => {
                for key in ["url", "serverUrl", "headers"] {
                    if let Some(v) = get.get(key) {
                        problems.0.push(
                            self.at_key(
                                v,
                                format!("server `{name}`: key `{key}` is not allowed with transport `stdio`"),
                            ),
                        );
                    }
                }
                let command = match &command {
                    Some((value, c)) => expand(value, "command", c, problems),
                    None => {
                        problems.0.push(
                            self.at_key(raw, format!("server `{name}`: missing `command` (type `stdio` needs one)")),
                        );
                        None
                    }
                };
                let mut args = Vec::new();
                if let Some(value) = get.get("args") {
                    match serde_json::from_str::<Vec<&RawValue>>(value.get()) {
                        Ok(list) => {
                            for (i, arg) in list.into_iter().enumerate() {
                                match serde_json::from_str::<serde_json::Value>(arg.get()) {
                                    Ok(serde_json::Value::String(s)) => {
                                        args.extend(expand(arg, &format!("args[{i}]"), &s, problems));
                                    }
                                    Ok(serde_json::Value::Number(n)) => args.push(n.to_string()),
                                    _ => problems.0.push(self.at_value(
                                        arg,
                                        format!(
                                            "server `{name}`: `args[{i}]` must be a string, found {}",
                                            kind_of(arg)
                                        ),
                                    )),
                                }
                            }
                        }
                        Err(_) => problems.0.push(self.at_value(
                            value,
                            format!("server `{name}`: `args` must be a list of strings, found {}", kind_of(value)),
                        )),
                    }
                }
                let mut env = BTreeMap::new();
                if let Some((value, file)) = string("envFile", problems)
                    && let Some(file) = expand(value, "envFile", &file, problems)
                {
                    let path = match &cx.dir {
                        Some(dir) if Path::new(&file).is_relative() => workspace(dir).join(&file),
                        _ => PathBuf::from(&file),
                    };
                    match std::fs::read_to_string(&path) {
                        Ok(content) => env.extend(dotenv(&content)),
                        Err(e) => problems.0.push(self.at_value(
                            value,
                            format!("server `{name}`: `envFile`: cannot read `{}`: {e}", path.display()),
                        )),
                    }
                }
                for (key, value, text) in map("env", problems) {
                    if let Err(why) = check_env_name(&key) {
                        problems.0.push(self.at_value(value, format!("server `{name}`: `env` {why}")));
                        continue;
                    }
                    if let Some(v) = expand(value, &format!("env.{key}"), &text, problems) {
                        env.insert(key, v);
                    }
                }
                let cwd = string("cwd", problems).and_then(|(value, c)| expand(value, "cwd", &c, problems));
                command.map(|command| Transport::Stdio { command, args, env, cwd: cwd.map(PathBuf::from) })
            }
            Some(kind) => {
                for key in ["command", "args", "env", "envFile", "cwd"] {
                    if let Some(v) = get.get(key) {
                        problems.0.push(self.at_key(
                            v,
                            format!("server `{name}`: key `{key}` is not allowed with a remote server (`url`)"),
                        ));
                    }
                }
                let url = match &url {
                    Some((value, u)) => {
                        expand(value, "url", u, problems).and_then(|expanded| match check_url(&expanded) {
                            Ok(()) => Some(expanded),
                            Err(why) => {
                                problems.0.push(
                                    self.at_value(value, format!("server `{name}`: `url` `{}` {why}", redacted(u))),
                                );
                                None
                            }
                        })
                    }
                    None => {
                        problems.0.push(
                            self.at_key(raw, format!("server `{name}`: missing `url` (type `{kind}` needs one)")),
                        );
                        None
                    }
                };
                url.map(|url| if kind == "sse" { Transport::Sse { url } } else { Transport::StreamableHttp { url } })
            }
            None => None,
        };

        let mut headers = Headers::new();
        let mut seen: Vec<String> = Vec::new();
        for (header, value, text) in map("headers", problems) {
            let Some(expanded) = expand(value, &format!("headers.{header}"), &text, problems) else { continue };
            if let Err(why) = check_header(&header, &expanded) {
                problems.0.push(self.at_value(value, format!("server `{name}`: {why}")));
                continue;
            }
            let lower = header.to_ascii_lowercase();
            if seen.contains(&lower) {
                problems.0.push(self.at_value(value, format!("server `{name}`: duplicate header `{header}`")));
                continue;
            }
            seen.push(lower);
            headers.insert(header, expanded);
        }

        let mut enabled = true;
        if let Some(value) = get.get("disabled") {
            match serde_json::from_str::<bool>(value.get()) {
                Ok(disabled) => enabled = !disabled,
                Err(_) => problems.0.push(self.at_value(
                    value,
                    format!("server `{name}`: `disabled` must be true or false, found {}", kind_of(value)),
                )),
            }
        }
        let defaults = Orchestration::default();
        let mut timeout = defaults.request_timeout;
        if let Some(value) = get.get("timeout") {
            match serde_json::from_str::<f64>(value.get()).ok().and_then(|t| (t > 0.0).then_some(t)) {
                Some(t) => match Duration::try_from_secs_f64(t) {
                    Ok(d) => timeout = d,
                    Err(_) => problems.0.push(self.at_value(value, format!("server `{name}`: `timeout` is too large"))),
                },
                None => problems.0.push(self.at_value(
                    value,
                    format!(
                        "server `{name}`: `timeout` must be a number of seconds greater than 0, found {}",
                        value.get()
                    ),
                )),
            }
        }

        let transport = transport?;
        if problems.0.len() > before {
            return None;
        }
        let priority = u32::try_from(index + 1).unwrap_or(u32::MAX);
        notes.insert(0, format!("priority {priority} from file order (the format has no priorities)"));
        let mut server = ServerConfig::new(name, transport);
        server.priority = priority;
        server.headers = headers;
        server.enabled = enabled;
        server.timeout = timeout;
        server.notes = notes;
        if let Err(why) = super::validate_server(&server) {
            problems.0.push(self.at_key(raw, why));
            return None;
        }
        Some(server)
    }
}

/// `string`, `number`, `an object`, … for "must be a string, found …".
fn kind_of(value: &RawValue) -> &'static str {
    match value.get().trim_start().as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "a list",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// The directory `${workspaceFolder}` stands for: the file's directory, or its parent when the
/// file is in `.vscode`, `.cursor` or `.claude`.
fn workspace(dir: &Path) -> PathBuf {
    let hidden =
        dir.file_name().and_then(|n| n.to_str()).is_some_and(|n| matches!(n, ".vscode" | ".cursor" | ".claude"));
    match dir.parent() {
        Some(parent) if hidden => parent.to_path_buf(),
        _ => dir.to_path_buf(),
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The variables of a `.env` file: `KEY=VALUE` lines (`export ` allowed, `#` comments, values
/// optionally in single or double quotes).
pub(super) fn dotenv(content: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in content.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else { continue };
        let key = key.trim();
        let value = value.trim();
        let value = if value.len() >= 2
            && ((value.starts_with('"') && value.ends_with('"')) || (value.starts_with('\'') && value.ends_with('\'')))
        {
            &value[1..value.len() - 1]
        } else {
            // An unquoted value ends at a comment.
            value.split(" #").next().unwrap_or(value).trim_end()
        };
        if check_env_name(key).is_ok() {
            out.push((key.to_owned(), value.to_owned()));
        }
    }
    out
}

/// Expands the variables the JSON formats use: `${VAR}`, `${VAR:-default}`, `${env:VAR}`,
/// `${userHome}`, `${workspaceFolder}`, `${workspaceFolderBasename}`, `${pathSeparator}` and
/// `${/}`; `${input:ID}` is an error naming the input. Any other `$` is kept. The error never
/// repeats the text around the variable (it may be a secret).
fn expand(text: &str, cx: &Context<'_>, inputs: &[Input]) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 2..];
        let Some(end) = tail.find('}') else {
            return Err("`${` without a closing `}`".into());
        };
        let inner = &tail[..end];
        rest = &tail[end + 1..];
        let env = |name: &str| (cx.lookup)(name);
        let workspace_dir = || {
            cx.dir.as_deref().map(workspace).ok_or_else(|| {
                "`${workspaceFolder}` needs the file's location: load it with `Config::from_path`".to_owned()
            })
        };
        let value = match inner {
            "userHome" => env("HOME").ok_or_else(|| "`${userHome}`: `HOME` is not set".to_owned())?,
            "workspaceFolder" => workspace_dir()?.display().to_string(),
            "workspaceFolderBasename" => {
                workspace_dir()?.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            }
            "pathSeparator" | "/" => std::path::MAIN_SEPARATOR.to_string(),
            _ => {
                if let Some(id) = inner.strip_prefix("input:") {
                    let described = inputs
                        .iter()
                        .find(|i| i.id == id)
                        .and_then(|i| i.description.as_deref())
                        .map(|d| format!(" (\"{d}\")"))
                        .unwrap_or_default();
                    return Err(format!(
                        "uses the VS Code input `{id}`{described}, which mcp-orchestrator cannot prompt for: \
                         write `${{env:NAME}}` instead and set the environment variable NAME"
                    ));
                }
                let (name, default) = match inner.strip_prefix("env:") {
                    Some(name) => (name, None),
                    None => match inner.split_once(":-") {
                        Some((name, default)) => (name, Some(default)),
                        None => (inner, None),
                    },
                };
                let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    return Err(format!("`${{{inner}}}` is not a variable mcp-orchestrator can expand"));
                }
                match (env(name), default) {
                    (Some(v), _) => v,
                    (None, Some(d)) => d.to_owned(),
                    (None, None) => return Err(format!("environment variable `{name}` is not set")),
                }
            }
        };
        out.push_str(&value);
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(lookup: &dyn Fn(&str) -> Option<String>) -> Context<'_> {
        Context { dir: Some(PathBuf::from("/proj/.vscode")), lookup }
    }

    #[test]
    fn expansion() {
        let lookup = |n: &str| match n {
            "A" => Some("1".to_owned()),
            "HOME" => Some("/home/me".to_owned()),
            _ => None,
        };
        let cx = cx(&lookup);
        let inputs = [Input { id: "key".into(), description: Some("API key".into()) }];
        let e = |t: &str| expand(t, &cx, &inputs);
        assert_eq!(e("x${A}${env:A}$A ${B:-d} $5"), Ok("x11$A d $5".into()));
        assert_eq!(
            e("${userHome}/x ${workspaceFolder} ${workspaceFolderBasename}"),
            Ok("/home/me/x /proj proj".into())
        );
        assert_eq!(e("${B}"), Err("environment variable `B` is not set".into()));
        let err = e("Bearer ${input:key}").unwrap_err();
        assert!(err.contains("`key` (\"API key\")") && !err.contains("Bearer"), "{err}");
        assert!(e("${command:x}").is_err());
        assert!(e("${A").is_err());
    }

    #[test]
    fn jsonc() {
        let text = "{ // c\n \"a\": [1, 2,], /* x\n y */ \"b\": \"//not\",\n}";
        let stripped = strip_jsonc(text);
        assert_eq!(stripped.len(), text.len());
        let v: serde_json::Value = serde_json::from_str(&stripped).unwrap();
        assert_eq!(v, serde_json::json!({"a": [1, 2], "b": "//not"}));
    }

    #[test]
    fn dotenv_lines() {
        let vars = dotenv("# c\nA=1\nexport B = \"two words\"\nC='x' \nD=v # note\nbad line\n");
        assert_eq!(
            vars,
            [("A", "1"), ("B", "two words"), ("C", "x"), ("D", "v")].map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }
}
