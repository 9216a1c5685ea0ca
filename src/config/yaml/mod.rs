//! This crate's YAML (`mcp_servers:`, `orchestration:`), read into a [`Config`]: the document as
//! written (the "raw" structs below), the loop that reports every problem, and the location
//! helpers. Reading the document is `yaml/parse.rs`; validating it into a `Config`,
//! `yaml/build.rs`; the `auth` block, `auth.rs`; `${VAR}`, `env.rs`.
//!
//! Each server and the `orchestration` section are validated separately, and every problem
//! found is reported in one [`Error::Config`] (a syntax, unknown-key or wrong-type error stops
//! the parse, so it is reported alone).
//!
//! Parsing goes in two steps. serde-saphyr deserializes the document into private "raw" structs
//! (`#[serde(deny_unknown_fields)]`, every value wrapped in [`serde_saphyr::Spanned`] where a
//! later check may need to point at it); then the raw values are validated into a [`Config`].
//! Every error is an [`Error::Config`] carrying a 1-based line and column:
//!
//! - syntax errors, unknown keys, duplicate keys and values of the wrong type come from
//!   serde-saphyr's error location (`serde_saphyr::Error::location`), with the message rewritten
//!   to name the key, the server and the allowed alternatives;
//! - errors found while validating (a bad URL, a negative priority, an unset `${VAR}`, a key
//!   that does not belong to the server's transport) point at the offending value's span. For a
//!   block-style list or map (`headers:` followed by indented lines) the span serde-saphyr gives
//!   is that of the first entry; we then point at the key instead, found by checking that the
//!   nearest preceding non-blank, non-comment line is `key:`; otherwise at the first entry;
//! - errors about a server as a whole (a missing required key) point at the server's name.

mod build;
mod parse;

use build::build;
use parse::parse_raw;
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::auth::RawAuth;
use super::entries::Entries;
use super::naming::NameFilter;
use super::report::{at, combine};
use super::schema::Config;
use crate::error::{Error, Result};

/// Parses and validates, reporting every problem: after an unknown key, a duplicate key or
/// a value of the wrong type on a `key: value` line of its own, that line is set aside and
/// the document parsed again (at most 50 times), so that the next such problem and the
/// validation problems are found too. A syntax error stops there.
pub(super) fn load(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
    let mut problems: Vec<Error> = Vec::new();
    // (message prefix, key) of each line set aside: its absence is not a problem.
    let mut removed: Vec<(String, String)> = Vec::new();
    let mut current = text.to_owned();
    for _ in 0..50 {
        match parse_raw(&current) {
            Ok(raw) => {
                let built = build(&current, raw, lookup);
                let suppressed = |e: &Error| {
                    let Error::Config { message, .. } = e else { return false };
                    (!removed.is_empty() && message.contains("`mcp_servers` is empty"))
                        || removed.iter().any(|(prefix, key)| {
                            message.starts_with(prefix.as_str())
                                && message.contains(&format!("missing required key `{key}`"))
                        })
                };
                match built {
                    Ok(config) if problems.is_empty() => return Ok(config),
                    Ok(_) => {}
                    Err(e) => {
                        problems.extend(e.config_problems().into_iter().filter(|e| !suppressed(e)));
                    }
                }
                return Err(combine(problems));
            }
            Err((e, recoverable)) => {
                let e = *e;
                let set_aside = match &e {
                    Error::Config { line: Some(line), .. } if recoverable => set_aside(&mut current, *line),
                    _ => None,
                };
                let prefix = match &e {
                    Error::Config { message, .. } => {
                        message.find("`: ").map(|i| message[..i + 3].to_owned()).unwrap_or_default()
                    }
                    _ => String::new(),
                };
                problems.push(e);
                match set_aside {
                    Some(key) => removed.push((prefix, key)),
                    None => return Err(combine(problems)),
                }
            }
        }
    }
    Err(combine(problems))
}

pub(super) fn at_loc(loc: &Location, message: impl Into<String>) -> Error {
    at(loc.line(), loc.column(), message)
}

/// Blanks line `line` (1-based) of `text` when it is an indented `key: value` line whose value
/// is all on it (the next line is not indented more); returns the key.
fn set_aside(text: &mut String, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let here = *lines.get(line.checked_sub(1)?)?;
    let indent = here.len() - here.trim_start().len();
    let trimmed = here.trim_start();
    if indent == 0 || trimmed.starts_with('-') || trimmed.starts_with('#') {
        return None;
    }
    let (key, value) = trimmed.split_once(':')?;
    let value = value.trim();
    if value.is_empty() || value.starts_with('#') || value.starts_with('|') || value.starts_with('>') {
        return None;
    }
    let next = lines[line..].iter().find(|l| {
        let t = l.trim_start();
        !t.is_empty() && !t.starts_with('#')
    });
    if next.is_some_and(|n| n.len() - n.trim_start().len() > indent) {
        return None;
    }
    let key = key.trim().trim_matches(['"', '\'']).to_owned();
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    out[line - 1] = String::new();
    *text = out.join("\n");
    Some(key)
}

// ---------------------------------------------------------------------------------------------
// The raw document, as serde-saphyr deserializes it
// ---------------------------------------------------------------------------------------------

/// One server as written. Every key is optional here: required ones are checked afterwards,
/// so that the error can name the server and point at it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    name: Option<String>,
    url: Option<Spanned<String>>,
    priority: Option<Spanned<i64>>,
    domains: Option<Vec<String>>,
    capabilities: Option<Vec<String>>,
    transport: Option<Spanned<String>>,
    timeout: Option<Spanned<f64>>,
    tool_timeout: Option<Spanned<f64>>,
    headers: Option<Spanned<Entries<Spanned<String>>>>,
    enabled: Option<bool>,
    read_contents: Option<bool>,
    max_listing_bytes: Option<Spanned<i64>>,
    max_listing_items: Option<Spanned<i64>>,
    protocol: Option<Spanned<String>>,
    tools: Option<RawFilter>,
    prompts: Option<RawFilter>,
    command: Option<Spanned<String>>,
    args: Option<Spanned<Vec<Spanned<String>>>>,
    env: Option<Spanned<Entries<Spanned<String>>>>,
    cwd: Option<Spanned<String>>,
    auth: Option<Spanned<RawAuth>>,
    log_level: Option<Spanned<String>>,
}

/// The `orchestration` section as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrchestration {
    resource_cache_ttl: Option<Spanned<f64>>,
    fail_fast: Option<bool>,
    log_level: Option<Spanned<String>>,
    max_concurrent_connections: Option<Spanned<i64>>,
    cache_max_bytes: Option<Spanned<i64>>,
    request_timeout: Option<Spanned<f64>>,
    max_listing_bytes: Option<Spanned<i64>>,
    max_listing_items: Option<Spanned<i64>>,
    enable_logging: Option<bool>,
    naming: Option<Spanned<String>>,
    separator: Option<String>,
    max_retries: Option<Spanned<i64>>,
    backoff_min: Option<Spanned<f64>>,
    backoff_max: Option<Spanned<f64>>,
    serve_stale: Option<bool>,
    listen_for_changes: Option<bool>,
}

/// A server's `tools:` or `prompts:` filter as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFilter {
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
}

impl RawFilter {
    fn build(raw: Option<RawFilter>) -> NameFilter {
        raw.map(|f| NameFilter { include: f.include.unwrap_or_default(), exclude: f.exclude.unwrap_or_default() })
            .unwrap_or_default()
    }
}

/// The servers as written, in document order, with their names' spans.
type RawServers = Vec<(Spanned<String>, Spanned<RawServer>)>;

/// The document: the `mcp_servers` key's location and its entries, and the `orchestration`
/// section.
#[derive(Default)]
struct RawDoc {
    /// Where the first top-level key is (for "missing `mcp_servers`").
    first_key: Option<Location>,
    servers: Option<(Location, RawServers)>,
    orchestration: Option<Spanned<RawOrchestration>>,
}
