//! What an orchestrator holds at rest (issue 22): after a gather, with nobody subscribed, its
//! pool threads end once idle for the pool's keep-alive (5 s) and no thread is left per server,
//! except what a transport needs to hear its server at all (a legacy SSE session's event
//! stream, which carries its replies) and, on the 2026-07-28 wire, the `subscriptions/listen`
//! stream that keeps the cache fresh (`listen_for_changes`, on by default).
//!
//! Threads are counted by name in `/proc/self/task`, so the test servers' own threads
//! (`test-server-*`) are not mistaken for ours.

#![cfg(all(feature = "testing", target_os = "linux"))]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mcp_orchestrator::testing::{ProtocolMode, TestServer};
use mcp_orchestrator::{Config, Orchestration, Orchestrator, ServerConfig};

const SERVERS: usize = 6;

/// The orchestrator's pool threads (`mcp-orchestrator-<n>`).
const POOL: &str = "pool";

/// This process's threads whose name starts with `mcp-`, counted by kind (the name up to a `:`).
fn our_threads() -> BTreeMap<String, usize> {
    let mut kinds = BTreeMap::new();
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task").flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let name = comm.trim();
        if name.starts_with("mcp-") {
            // The kernel keeps 15 bytes of a name: `mcp-orchestrator-3` reads `mcp-orchestrato`.
            let kind = if name.starts_with("mcp-orchestrato") { POOL } else { name.split(':').next().unwrap_or(name) };
            *kinds.entry(kind.to_string()).or_insert(0) += 1;
        }
    }
    kinds
}

/// An orchestrator of `SERVERS` servers of `mode`, gathered, and its servers.
fn gathered(
    mode: ProtocolMode,
    listen: bool,
    config: fn(String, &TestServer) -> ServerConfig,
) -> (Orchestrator, Vec<TestServer>) {
    let servers: Vec<TestServer> = (0..SERVERS)
        .map(|_| TestServer::builder().protocol_mode(mode).with_sample_resources(3).start().expect("a test server"))
        .collect();
    let mut orchestration = Orchestration::default();
    orchestration.listen_for_changes = listen;
    let configs = servers.iter().enumerate().map(|(i, s)| config(format!("s{i}"), s)).collect();
    let orchestrator = Orchestrator::new(Config::new(configs, orchestration).expect("a config"));
    let gathered = orchestrator.gather_all_resources().expect("a gather");
    let ok = gathered.servers.iter().filter(|s| s.error.is_none()).count();
    assert_eq!((gathered.servers.len(), ok), (SERVERS, SERVERS), "every server gathered ({mode:?})");
    (orchestrator, servers)
}

// One test, so that no other orchestrator of this binary adds threads to the count; the four
// orchestrators wait out the keep-alive together.
#[test]
fn at_rest_no_pool_thread_and_none_per_server_beyond_what_the_transport_needs() {
    let http = |n, s: &TestServer| ServerConfig::http(n, s.mcp_url());
    let sse = |n, s: &TestServer| ServerConfig::sse(n, s.url());
    let all = [
        gathered(ProtocolMode::HandshakeOnly, true, http), // Streamable HTTP, handshake era: nothing
        gathered(ProtocolMode::ModernOnly, false, http),   // 2026-07-28, nobody listening: nothing
        gathered(ProtocolMode::ModernOnly, true, http),    // 2026-07-28, listening: a stream each
        gathered(ProtocolMode::LegacySseOnly, true, sse),  // legacy SSE: the stream of its replies
    ];
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut threads = our_threads();
    while threads.contains_key(POOL) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        threads = our_threads();
    }
    let expected = BTreeMap::from([("mcp-listen".to_string(), SERVERS), ("mcp-sse".to_string(), SERVERS)]);
    assert_eq!(
        threads, expected,
        "at rest: one listen stream per listening 2026-07-28 server, one event stream per SSE server"
    );
    for (orchestrator, _servers) in &all {
        orchestrator.close();
    }
    // A scoped closer has returned when `close` does; its thread may take a moment more to
    // leave the task list (the scope waits for the closure, not for the thread's exit).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut threads = our_threads();
    while !threads.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        threads = our_threads();
    }
    assert_eq!(threads, BTreeMap::new(), "nothing after close");
}
