//! What an orchestrator holds at rest: connect to N servers, gather them once, then stay
//! connected until standard input ends, so that another process can count this one's threads
//! and resident memory while it idles. bench/compare/run.py `--idle` drives it, side by side
//! with the rmcp baselines' `--hold` mode; BENCHMARKS.md ("Issue 22") quotes it.
//!
//! ```sh
//! cargo build --release --example at_rest
//! target/release/examples/at_rest (sse|hs|2026|2026-quiet) <url>... < /dev/tty
//! ```
//!
//! Modes: `sse` legacy HTTP+SSE; `hs` Streamable HTTP with the `initialize` handshake
//! (2025-11-25); `2026` the 2026-07-28 wire with `listen_for_changes` on (the library's
//! default: a `subscriptions/listen` stream per server keeps the cache fresh); `2026-quiet` the
//! same with it off (the CLI's choice). Prints one line of JSON when gathered
//! (`{"servers":N,"servers_ok":K,"resources":R}`, R summed over the servers), then waits for end
//! of input and closes.

use std::io::Read;

use mcp_orchestrator::{Config, Orchestration, Orchestrator, ProtocolChoice, ServerConfig};

const USAGE: &str = "usage: at_rest (sse|hs|2026|2026-quiet) <url>...";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().ok_or(USAGE)?;
    let urls: Vec<String> = args.collect();
    if urls.is_empty() {
        return Err(USAGE.into());
    }
    let (protocol, listen) = match mode.as_str() {
        "sse" => (None, true),
        "hs" => (Some("2025-11-25"), true),
        "2026" => (Some("2026-07-28"), true),
        "2026-quiet" => (Some("2026-07-28"), false),
        _ => return Err(USAGE.into()),
    };
    let servers = urls
        .iter()
        .enumerate()
        .map(|(i, url)| {
            let name = format!("s{i:03}");
            let mut server = match protocol {
                None => ServerConfig::sse(name, url),
                Some(_) => ServerConfig::streamable_http(name, url),
            };
            if let Some(version) = protocol {
                server.protocol = ProtocolChoice::Version(version.into());
            }
            server.priority(i as u32 + 1).read_contents(false)
        })
        .collect();
    let mut orchestration = Orchestration::default();
    orchestration.listen_for_changes = listen;
    orchestration.max_concurrent_connections = urls.len();
    let orchestrator = Orchestrator::new(Config::new(servers, orchestration)?);
    let gathered = orchestrator.gather_all_resources()?;
    let ok = gathered.servers.iter().filter(|s| s.error.is_none()).count();
    let resources: usize = gathered.servers.iter().filter_map(|s| s.data.as_ref()).map(|d| d.resources.len()).sum();
    println!("{}", serde_json::json!({"servers": urls.len(), "servers_ok": ok, "resources": resources}));
    // Hold the sessions until the input ends. The main thread reads it (a thread of our own
    // would be counted with the library's); whoever drives this closes the input, and
    // bench/compare/run.py kills the process if it has not ended 10 s later.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    orchestrator.close();
    Ok(())
}
