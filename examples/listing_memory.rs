//! What a large listing costs in memory: one gather of a server that lists very many resources,
//! with the peak resident memory of this process (the server runs in its own) against the
//! listing's JSON size. BENCHMARKS.md ("Issue 22") quotes it.
//!
//! ```sh
//! cargo build --release --features testing --bin mcp-test-server --example listing_memory
//! target/release/mcp-test-server --listen 0 --resources 1000000 --page-size 100000 &  # LISTENING <port>
//! target/release/examples/listing_memory http://127.0.0.1:<port>/mcp
//! ```
//!
//! Prints one line of JSON: resources, pages' JSON bytes (each resource serialized alone, the
//! sum), wall time of the gather, peak RSS (`VmHWM`) and RSS before it, and bytes of peak growth
//! per resource and per JSON byte.

use std::time::{Duration, Instant};

use mcp_orchestrator::{Config, Orchestrator, ServerConfig};

/// A field of `/proc/self/status` in bytes (`VmHWM`, `VmRSS`); 0 where there is none.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).ok_or("usage: listing_memory <streamable-http-url>")?;
    let config = Config::builder()
        .server(
            ServerConfig::streamable_http("big", url)
                .timeout(Duration::from_secs(300))
                .read_contents(false)
                .listing_budget(usize::MAX, usize::MAX),
        )
        .build()?;
    let orchestrator = Orchestrator::new(config);
    orchestrator.initialize()?;
    let before = status_bytes("VmRSS");
    let started = Instant::now();
    let gathered = orchestrator.gather_all_resources()?;
    let wall = started.elapsed();
    let peak = status_bytes("VmHWM");
    if let Some(e) = gathered.servers.iter().find_map(|s| s.error.as_ref()) {
        return Err(e.to_string().into());
    }
    let resources = gathered.resources.len();
    // The listing's JSON, one resource at a time (the pages' framing is a few bytes more).
    let json: usize =
        gathered.resources.iter().map(|m| serde_json::to_vec(&m.resource).map_or(0, |v| v.len() + 1)).sum();
    let growth = peak.saturating_sub(before) as f64;
    println!(
        "{}",
        serde_json::json!({
            "resources": resources,
            "json_bytes": json,
            "gather_ms": wall.as_secs_f64() * 1e3,
            "rss_before_bytes": before,
            "peak_rss_bytes": peak,
            "peak_growth_per_resource": growth / resources.max(1) as f64,
            "peak_growth_per_json_byte": growth / json.max(1) as f64,
        })
    );
    orchestrator.close();
    Ok(())
}
