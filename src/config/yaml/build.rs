//! Validating the raw YAML document into a [`Config`]: each server and the `orchestration`
//! section, every problem at the offending value (or, for a block-style collection, at its key;
//! for a server as a whole, at its name). The checks are those of `validate.rs`, made on the
//! raw values so that they can point at them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use super::{RawDoc, RawFilter, RawOrchestration, RawServer, at_loc};
use crate::config::auth;
use crate::config::env::expand_at;
use crate::config::naming::Naming;
use crate::config::report::{at, combine, unlocated};
use crate::config::schema::{Config, Orchestration};
use crate::config::server::{Headers, PROTOCOLS, ProtocolChoice, ServerConfig, Transport};
use crate::config::validate::{check_env_name, check_header, check_url};
use crate::error::{Error, Result};
use crate::protocol::LoggingLevel;
use crate::url::redacted;

/// The transports the config accepts, as spelled in `transport:`.
const TRANSPORTS: &[&str] = &["http", "sse", "streamable_http", "streamable-http", "stdio"];

/// The log levels `log_level` accepts (case-insensitively).
const LOG_LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "OFF"];

pub(super) fn build(text: &str, raw: RawDoc, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
    let mut problems = Vec::new();
    let orchestration = match &raw.orchestration {
        Some(o) => build_orchestration(&o.value).unwrap_or_else(|e| {
            problems.push(e);
            Orchestration::default()
        }),
        None => Orchestration::default(),
    };
    let Some((servers_key, raw_servers)) = raw.servers else {
        let message = "missing required top-level key `mcp_servers`";
        return Err(match raw.first_key {
            Some(loc) => at_loc(&loc, message),
            None => unlocated(format!("{message} (the document is empty)")),
        });
    };
    if raw_servers.is_empty() {
        problems.push(at_loc(&servers_key, "`mcp_servers` is empty: configure at least one server"));
    }
    let mut servers = Vec::with_capacity(raw_servers.len());
    for (name, server) in raw_servers {
        match build_server(text, &name, server.value, &orchestration, lookup) {
            Ok(server) => servers.push(server),
            Err(e) => problems.push(e),
        }
    }
    if !problems.is_empty() {
        return Err(combine(problems));
    }
    Ok(Config::sorted(servers, orchestration))
}

fn build_orchestration(raw: &RawOrchestration) -> Result<Orchestration> {
    let mut o = Orchestration::default();
    if let Some(ttl) = &raw.resource_cache_ttl {
        o.resource_cache_ttl = seconds(ttl, "orchestration: `resource_cache_ttl`", true)?;
    }
    if let Some(fail_fast) = raw.fail_fast {
        o.fail_fast = fail_fast;
    }
    if let Some(n) = &raw.max_retries {
        o.max_retries = u32::try_from(n.value).map_err(|_| {
            at_loc(&n.referenced, format!("orchestration: `max_retries` must be 0 or more, got {}", n.value))
        })?;
    }
    if raw.enable_logging == Some(false) {
        // talk-2-tables' switch: off silences the log whatever `log_level` says.
        o.log_level = Some(log::LevelFilter::Off);
    } else if let Some(level) = &raw.log_level {
        o.log_level = Some(parse_log_level(&level.value).ok_or_else(|| {
            at_loc(
                &level.referenced,
                format!(
                    "orchestration: unknown `log_level` `{}` (valid, in any case: {})",
                    level.value,
                    LOG_LEVELS.join(", ")
                ),
            )
        })?);
    }
    if let Some(n) = &raw.max_concurrent_connections {
        if n.value < 1 {
            return Err(at_loc(
                &n.referenced,
                format!("orchestration: `max_concurrent_connections` must be at least 1, got {}", n.value),
            ));
        }
        o.max_concurrent_connections = usize::try_from(n.value).unwrap_or(usize::MAX);
    }
    if let Some(n) = &raw.cache_max_bytes {
        o.cache_max_bytes = usize::try_from(n.value).map_err(|_| {
            at_loc(&n.referenced, format!("orchestration: `cache_max_bytes` must be 0 or more, got {}", n.value))
        })?;
    }
    if let Some(t) = &raw.request_timeout {
        o.request_timeout = seconds(t, "orchestration: `request_timeout`", false)?;
    }
    if let Some(n) = &raw.max_listing_bytes {
        o.max_listing_bytes = at_least_one(n, "orchestration: `max_listing_bytes`")?;
    }
    if let Some(n) = &raw.max_listing_items {
        o.max_listing_items = at_least_one(n, "orchestration: `max_listing_items`")?;
    }
    if let Some(n) = &raw.naming {
        o.naming = Naming::parse(&n.value).ok_or_else(|| {
            at_loc(
                &n.referenced,
                format!("orchestration: unknown `naming` `{}` (valid: {})", n.value, Naming::NAMES.join(", ")),
            )
        })?;
    }
    if let Some(sep) = &raw.separator {
        o.separator = sep.clone();
    }
    if let Some(n) = &raw.max_retries {
        o.max_retries = u32::try_from(n.value).map_err(|_| {
            at_loc(&n.referenced, format!("orchestration: `max_retries` must be 0 or more, got {}", n.value))
        })?;
    }
    if let Some(t) = &raw.backoff_min {
        o.backoff_min = seconds(t, "orchestration: `backoff_min`", true)?;
    }
    if let Some(t) = &raw.backoff_max {
        o.backoff_max = seconds(t, "orchestration: `backoff_max`", true)?;
        if o.backoff_min > o.backoff_max {
            return Err(at_loc(&t.referenced, "orchestration: `backoff_max` must not be less than `backoff_min`"));
        }
    }
    if let Some(stale) = raw.serve_stale {
        o.serve_stale = stale;
    }
    if let Some(listen) = raw.listen_for_changes {
        o.listen_for_changes = listen;
    }
    Ok(o)
}

/// A count or size that must be at least 1.
fn at_least_one(value: &Spanned<i64>, what: &str) -> Result<usize> {
    match usize::try_from(value.value) {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(at_loc(&value.referenced, format!("{what} must be at least 1, got {}", value.value))),
    }
}

/// A number of seconds (fractions allowed): > 0, or >= 0 when `zero_ok`.
fn seconds(value: &Spanned<f64>, what: &str, zero_ok: bool) -> Result<Duration> {
    let v = value.value;
    let bound = if zero_ok { "0 or more" } else { "greater than 0" };
    if v.is_nan() || v < 0.0 || (!zero_ok && v == 0.0) {
        return Err(at_loc(&value.referenced, format!("{what} must be a number of seconds {bound}, got {v}")));
    }
    Duration::try_from_secs_f64(v).map_err(|_| at_loc(&value.referenced, format!("{what} is too large: {v} seconds")))
}

fn parse_log_level(text: &str) -> Option<log::LevelFilter> {
    Some(match text.to_ascii_uppercase().as_str() {
        "TRACE" => log::LevelFilter::Trace,
        "DEBUG" => log::LevelFilter::Debug,
        "INFO" => log::LevelFilter::Info,
        "WARN" | "WARNING" => log::LevelFilter::Warn,
        "ERROR" => log::LevelFilter::Error,
        "OFF" => log::LevelFilter::Off,
        _ => return None,
    })
}

fn at_pos((line, column): (u64, u64), message: impl Into<String>) -> Error {
    at(line, column, message)
}

/// Where to point for a key whose value is at `value`: for a block-style collection
/// (serde-saphyr's span is then that of its first entry, on a later line) the `key:` line, when
/// the nearest preceding non-blank, non-comment line is exactly that key; otherwise the value.
fn key_or_value(text: &str, key: &str, value: &Location) -> (u64, u64) {
    let here = (value.line(), value.column());
    let line = value.line() as usize;
    let lines: Vec<&str> = text.lines().collect();
    if line < 2 || line > lines.len() {
        return here;
    }
    // Something before the value on its own line (`key: value`, `key: [..]`): it is there.
    let before: String = lines[line - 1].chars().take((value.column() as usize).saturating_sub(1)).collect();
    if !before.trim().is_empty() && before.trim() != "-" {
        return here;
    }
    for (idx, candidate) in lines[..line - 1].iter().enumerate().rev() {
        let trimmed = candidate.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let quoted_double = format!("\"{key}\"");
        let quoted_single = format!("'{key}'");
        let rest = trimmed
            .strip_prefix(quoted_double.as_str())
            .or_else(|| trimmed.strip_prefix(quoted_single.as_str()))
            .or_else(|| trimmed.strip_prefix(key));
        if let Some(after) = rest.and_then(|r| r.trim_start().strip_prefix(':')) {
            let after = after.trim_start();
            if after.is_empty() || after.starts_with('#') || after.starts_with('&') || after.starts_with('!') {
                let column = candidate.chars().count() - trimmed.chars().count() + 1;
                return ((idx + 1) as u64, column as u64);
            }
        }
        break;
    }
    here
}

fn build_server(
    text: &str,
    name: &Spanned<String>,
    raw: RawServer,
    orchestration: &Orchestration,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<ServerConfig> {
    let server = name.value.as_str();
    if server.is_empty() {
        return Err(at_loc(&name.referenced, "a server has an empty name"));
    }
    let missing = |key: &str, hint: &str| {
        at_loc(&name.referenced, format!("server `{server}`: missing required key `{key}`{hint}"))
    };

    let transport_hint = format!(" (one of {})", TRANSPORTS.join(", "));
    let kind = raw.transport.as_ref().ok_or_else(|| missing("transport", &transport_hint))?;
    if !TRANSPORTS.contains(&kind.value.as_str()) && kind.value != "streamable-http" {
        return Err(at_loc(
            &kind.referenced,
            format!("server `{server}`: unknown transport `{}` (valid: {})", kind.value, TRANSPORTS.join(", ")),
        ));
    }
    let kind_name = if kind.value == "streamable-http" { "streamable_http" } else { kind.value.as_str() };

    let priority =
        raw.priority.as_ref().ok_or_else(|| missing("priority", " (an integer >= 0; lower is preferred)"))?;
    let priority = match u32::try_from(priority.value) {
        Ok(p) => p,
        Err(_) if priority.value < 0 => {
            return Err(at_loc(
                &priority.referenced,
                format!("server `{server}`: `priority` must be 0 or more, got {}", priority.value),
            ));
        }
        Err(_) => {
            return Err(at_loc(
                &priority.referenced,
                format!("server `{server}`: `priority` must be at most {}, got {}", u32::MAX, priority.value),
            ));
        }
    };

    // Keys that belong to the other kind of transport.
    let http = kind_name != "stdio";
    let not_allowed = |key: &str, at: (u64, u64)| {
        let belongs = if http { "`stdio`" } else { "`http`, `sse` and `streamable_http`" };
        Err(at_pos(
            at,
            format!("server `{server}`: key `{key}` is not allowed with transport `{kind_name}` (it is for {belongs})"),
        ))
    };
    if http {
        if let Some(v) = &raw.command {
            return not_allowed("command", (v.referenced.line(), v.referenced.column()));
        }
        if let Some(v) = &raw.args {
            return not_allowed("args", key_or_value(text, "args", &v.referenced));
        }
        if let Some(v) = &raw.env {
            return not_allowed("env", key_or_value(text, "env", &v.referenced));
        }
        if let Some(v) = &raw.cwd {
            return not_allowed("cwd", (v.referenced.line(), v.referenced.column()));
        }
    } else {
        if let Some(v) = &raw.url {
            return not_allowed("url", (v.referenced.line(), v.referenced.column()));
        }
        if let Some(v) = &raw.headers {
            return not_allowed("headers", key_or_value(text, "headers", &v.referenced));
        }
        if let Some(v) = &raw.auth {
            return not_allowed("auth", key_or_value(text, "auth", &v.referenced));
        }
    }

    let transport = if http {
        let url = raw.url.as_ref().ok_or_else(|| missing("url", &format!(" (transport `{kind_name}` needs one)")))?;
        let expanded = expand_at(url, server, "url", lookup)?;
        if let Err(why) = check_url(&expanded) {
            let note = if expanded != url.value { " (after expanding variables)" } else { "" };
            return Err(at_loc(
                &url.referenced,
                format!("server `{server}`: `url` `{}`{note} {why}", redacted(&url.value)),
            ));
        }
        match kind_name {
            "sse" => Transport::Sse { url: expanded },
            "http" => Transport::Http { url: expanded },
            _ => Transport::StreamableHttp { url: expanded },
        }
    } else {
        let command = raw.command.as_ref().ok_or_else(|| missing("command", " (transport `stdio` needs one)"))?;
        let expanded = expand_at(command, server, "command", lookup)?;
        if expanded.trim().is_empty() {
            return Err(at_loc(&command.referenced, format!("server `{server}`: `command` is empty")));
        }
        let mut args = Vec::new();
        for (i, arg) in raw.args.iter().flat_map(|a| a.value.iter()).enumerate() {
            args.push(expand_at(arg, server, &format!("args[{i}]"), lookup)?);
        }
        let mut env = BTreeMap::new();
        for (key, value) in raw.env.iter().flat_map(|e| e.value.0.iter()) {
            if let Err(why) = check_env_name(key) {
                return Err(at_loc(&value.referenced, format!("server `{server}`: `env` {why}")));
            }
            env.insert(key.clone(), expand_at(value, server, &format!("env.{key}"), lookup)?);
        }
        let cwd = match &raw.cwd {
            Some(cwd) => {
                let expanded = expand_at(cwd, server, "cwd", lookup)?;
                if expanded.is_empty() {
                    return Err(at_loc(&cwd.referenced, format!("server `{server}`: `cwd` is empty")));
                }
                Some(PathBuf::from(expanded))
            }
            None => None,
        };
        Transport::Stdio { command: expanded, args, env, cwd }
    };

    let mut headers = Headers::new();
    let mut seen: Vec<String> = Vec::new();
    for (header, value) in raw.headers.iter().flat_map(|h| h.value.0.iter()) {
        let expanded = expand_at(value, server, &format!("headers.{header}"), lookup)?;
        if let Err(why) = check_header(header, &expanded) {
            return Err(at_loc(&value.referenced, format!("server `{server}`: {why}")));
        }
        let lower = header.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(at_loc(&value.referenced, format!("server `{server}`: duplicate header `{header}`")));
        }
        seen.push(lower);
        headers.insert(header.clone(), expanded);
    }

    let timeout = match &raw.timeout {
        Some(t) => seconds(t, &format!("server `{server}`: `timeout`"), false)?,
        None => orchestration.request_timeout,
    };
    let tool_timeout = match &raw.tool_timeout {
        Some(t) => Some(seconds(t, &format!("server `{server}`: `tool_timeout`"), false)?),
        None => None,
    };
    let max_listing_bytes = match &raw.max_listing_bytes {
        Some(n) => at_least_one(n, &format!("server `{server}`: `max_listing_bytes`"))?,
        None => orchestration.max_listing_bytes,
    };
    let max_listing_items = match &raw.max_listing_items {
        Some(n) => at_least_one(n, &format!("server `{server}`: `max_listing_items`"))?,
        None => orchestration.max_listing_items,
    };

    let protocol = match &raw.protocol {
        None => ProtocolChoice::Auto,
        Some(p) if p.value == "auto" => ProtocolChoice::Auto,
        Some(p) if PROTOCOLS.contains(&p.value.as_str()) => ProtocolChoice::Version(p.value.clone()),
        Some(p) => {
            return Err(at_loc(
                &p.referenced,
                format!("server `{server}`: unknown protocol `{}` (valid: {})", p.value, PROTOCOLS.join(", ")),
            ));
        }
    };

    let log_level = match &raw.log_level {
        None => None,
        Some(l) => Some(LoggingLevel::parse(&l.value).ok_or_else(|| {
            let valid: Vec<&str> = LoggingLevel::ALL.iter().map(|l| l.as_str()).collect();
            at_loc(
                &l.referenced,
                format!(
                    "server `{server}`: unknown `log_level` `{}` (valid, in any case: {})",
                    l.value,
                    valid.join(", ")
                ),
            )
        })?),
    };

    Ok(ServerConfig {
        name: server.to_owned(),
        display_name: raw.name,
        transport,
        priority,
        domains: raw.domains.unwrap_or_default(),
        capabilities: raw.capabilities.unwrap_or_default(),
        timeout,
        tool_timeout,
        headers,
        enabled: raw.enabled.unwrap_or(true),
        read_contents: raw.read_contents.unwrap_or(true),
        max_listing_bytes,
        max_listing_items,
        tools: RawFilter::build(raw.tools),
        prompts: RawFilter::build(raw.prompts),
        auth: raw.auth.as_ref().map(|a| auth::build_auth(a, server, lookup)).transpose()?,
        notes: Vec::new(),
        protocol,
        log_level,
    })
}
