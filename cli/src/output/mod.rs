//! Printing, for a person or for a program: writing to stdout and the helpers every format
//! shares. What is printed lives by kind: the human tables in `tables.rs`, the other human text
//! (contents, tool results, prompts) in `text.rs`, the JSON documents in `json.rs`, the
//! progress lines on a terminal in `progress.rs`.

mod json;
mod progress;
mod tables;
mod text;

use std::io::Write as _;
use std::time::Duration;

use mcp_orchestrator::{Gathered, ServerOutcome, Tool};
use serde::Serialize;

pub use json::{
    config_json, gather_failure_json, gather_json, listing_failure_json, prompts_json, resources_json, search_json,
    tools_json, write_json,
};
pub use progress::watch_progress;
pub use tables::{
    Table, cache_line, config_notes, config_table, gather_table, prompts_table, resources_and_templates_table,
    resources_table, search_table, servers_table, status_table, tools_table,
};
pub use text::{call_text, contents_text, prompt_text};

/// Writes to stdout. A closed stdout (`| head`) is not an error worth a panic: the rest of the
/// output is dropped.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// A duration for a person: ns below a microsecond, µs below a millisecond, ms with one
/// decimal below ten seconds.
pub fn human(d: Duration) -> String {
    let us = d.as_micros();
    if us == 0 {
        format!("{} ns", d.as_nanos())
    } else if us < 1_000 {
        format!("{us} µs")
    } else if us < 10_000_000 {
        format!("{:.1} ms", us as f64 / 1_000.0)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Milliseconds with microsecond precision, for JSON.
fn millis(d: Duration) -> f64 {
    d.as_micros() as f64 / 1_000.0
}

/// Where a server is: its URL without user info or query (either may hold a secret), or its
/// command line with what looks secret as `***` ([`ServerConfig::redacted_command_line`]).
///
/// [`ServerConfig::redacted_command_line`]: mcp_orchestrator::ServerConfig::redacted_command_line
fn endpoint(s: &mcp_orchestrator::ServerConfig) -> String {
    match (s.redacted_url(), s.redacted_command_line()) {
        (Some(url), _) => url,
        (None, Some(words)) => words.join(" "),
        // Transport is non_exhaustive: a transport added later still gets a line.
        (None, None) => format!("({})", s.transport.kind()),
    }
}

/// The config format's name: `yaml`, `mcpServers`, `vscode`, `code`.
pub fn format_name(format: mcp_orchestrator::ConfigFormat) -> &'static str {
    match format {
        mcp_orchestrator::ConfigFormat::McpServersJson => "mcpServers",
        mcp_orchestrator::ConfigFormat::VsCodeJson => "vscode",
        mcp_orchestrator::ConfigFormat::Code => "code",
        _ => "yaml",
    }
}

/// One server's state, as `status` prints it.
#[derive(Serialize)]
pub struct ServerState {
    /// Its name in the config.
    pub name: String,
    priority: u32,
    /// The transport in use (what `http` detected) when connected, else the configured one.
    transport: &'static str,
    /// The transport the config names (`http` detects one).
    configured_transport: &'static str,
    /// The URL without user info or query, or the command line.
    endpoint: String,
    /// `false`: disabled in the config, not tried.
    pub enabled: bool,
    /// Connected and answered the ping.
    pub reachable: bool,
    /// The protocol version agreed.
    protocol: Option<String>,
    /// The server's `serverInfo`: name and version.
    server_info: Option<serde_json::Value>,
    /// The ping's round trip.
    latency_ms: Option<f64>,
    /// What the health check asked: `ping` (handshake era), `server/discover` (2026-07-28), or
    /// `server/discover (cached)` when the connect's discover answer was still fresh by its
    /// `ttlMs` (nothing was sent; the latency is then 0).
    check: Option<String>,
    /// Why it is not reachable.
    error: Option<String>,
}

impl ServerState {
    /// The state of `server`: `client` if it connected, the ping's round trip if it answered,
    /// or the error.
    pub fn new(
        server: &mcp_orchestrator::ServerConfig,
        client: Option<&mcp_orchestrator::Client>,
        ping: Option<Duration>,
        error: Option<String>,
    ) -> ServerState {
        let info = client.map(|c| &c.server().server_info);
        ServerState {
            name: server.name.clone(),
            priority: server.priority,
            transport: client.map_or(server.transport.kind(), |c| c.transport()),
            configured_transport: server.transport.kind(),
            endpoint: endpoint(server),
            enabled: server.enabled,
            reachable: ping.is_some(),
            protocol: client.map(|c| c.protocol_version().to_string()),
            server_info: info.map(|i| serde_json::json!({"name": i.name, "version": i.version})),
            latency_ms: ping.map(millis),
            check: client
                .and_then(|c| c.last_check())
                .map(|c| if c.from_cache { format!("{} (cached)", c.method) } else { c.method.to_string() }),
            error,
        }
    }
}

/// Every tool of every server that answered, by name then priority.
fn all_tools(g: &Gathered) -> Vec<(&ServerOutcome, &Tool)> {
    let mut tools: Vec<(&ServerOutcome, &Tool)> = g
        .servers
        .iter()
        .filter_map(|s| s.data.as_ref().map(|d| (s, d)))
        .flat_map(|(s, d)| d.tools.iter().map(move |t| (s, t)))
        .collect();
    tools.sort_by(|(sa, a), (sb, b)| (&a.name, sa.priority, &sa.name).cmp(&(&b.name, sb.priority, &sb.name)));
    tools
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_for_people() {
        assert_eq!(human(Duration::from_micros(12)), "12 µs");
        assert_eq!(human(Duration::from_nanos(310)), "310 ns");
        assert_eq!(human(Duration::from_micros(4_250)), "4.2 ms");
        assert_eq!(human(Duration::from_secs(12)), "12.0 s");
        assert_eq!(millis(Duration::from_micros(1_234)), 1.234);
    }
}
