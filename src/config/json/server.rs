//! One server of a JSON config, mapped onto a [`ServerConfig`]: its transport (from `type`, or
//! guessed from `command` / `url`), `args`, `env` and `envFile`, `headers`, `disabled`,
//! `timeout`; every problem at its value, keys only another client uses in the server's notes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::value::RawValue;

use super::vars::{dotenv, expand, workspace};
use super::{Context, Doc, Input, Problems};
use crate::config::entries::Entries;
use crate::config::schema::Orchestration;
use crate::config::server::{Headers, ServerConfig, Transport};
use crate::config::validate::{check_env_name, check_header, check_url, validate_server};
use crate::url::redacted;

impl Doc<'_> {
    #[allow(clippy::too_many_lines)] // reason: one key after the other, in the order a reader expects
    pub(super) fn server(
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
        let known = [
            "type",
            "command",
            "args",
            "env",
            "envFile",
            "cwd",
            "url",
            "serverUrl",
            "headers",
            "disabled",
            "timeout",
            "toolTimeout",
            "logLevel",
        ];
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
        let seconds = |key: &str, problems: &mut Problems| -> Option<Duration> {
            let value = get.get(key)?;
            match serde_json::from_str::<f64>(value.get()).ok().and_then(|t| (t > 0.0).then_some(t)) {
                Some(t) => match Duration::try_from_secs_f64(t) {
                    Ok(d) => return Some(d),
                    Err(_) => problems.0.push(self.at_value(value, format!("server `{name}`: `{key}` is too large"))),
                },
                None => problems.0.push(self.at_value(
                    value,
                    format!(
                        "server `{name}`: `{key}` must be a number of seconds greater than 0, found {}",
                        value.get()
                    ),
                )),
            }
            None
        };
        let timeout = seconds("timeout", problems).unwrap_or(defaults.request_timeout);
        let tool_timeout = seconds("toolTimeout", problems);

        // Ours (no other client has it): the MCP level asked of the server.
        let mut log_level = None;
        if let Some((value, text)) = string("logLevel", problems) {
            match crate::protocol::LoggingLevel::parse(&text) {
                Some(level) => log_level = Some(level),
                None => problems.0.push(self.at_value(
                    value,
                    format!(
                        "server `{name}`: unknown `logLevel` `{text}` (valid: debug, info, notice, warning, error, \
                         critical, alert, emergency)"
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
        server.tool_timeout = tool_timeout;
        server.log_level = log_level;
        server.notes = notes;
        if let Err(why) = validate_server(&server) {
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
