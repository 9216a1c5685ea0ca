//! The orchestrator against several test servers on real sockets.

#![cfg(feature = "testing")]

#[path = "support/wait.rs"]
mod wait;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use mcp_orchestrator::testing::{Fault, Gauge, TestServer, TestServerBuilder};
use mcp_orchestrator::{
    CallToolResult, Config, Content, Error, Orchestration, Orchestrator, ServerConfig, Status, Tool,
};
use serde_json::json;
use wait::eventually;

fn server_config(name: &str, server: &TestServer, priority: u32) -> ServerConfig {
    let mut c = ServerConfig::sse(name, server.url());
    c.priority = priority;
    c.timeout = Duration::from_secs(10);
    c
}

fn orchestration(fail_fast: bool) -> Orchestration {
    let mut o = Orchestration::default();
    o.fail_fast = fail_fast;
    o
}

fn orchestrator(servers: Vec<ServerConfig>, o: Orchestration) -> Orchestrator {
    Orchestrator::new(Config::new(servers, o).unwrap())
}

fn sample(n: usize) -> TestServerBuilder {
    TestServer::builder().with_sample_resources(n)
}

fn query_tool() -> Tool {
    serde_json::from_value(json!({"name": "execute_query", "inputSchema": {"type": "object"}})).unwrap()
}

fn rows(_: &serde_json::Value) -> Result<CallToolResult, String> {
    Ok(CallToolResult {
        content: vec![Content::Text { text: "1 row".into(), annotations: None }],
        structured_content: None,
        is_error: false,
        meta: None,
    })
}

#[test]
fn gathers_in_parallel_and_merges_by_priority() {
    let shared = |builder: TestServerBuilder, text: &str| {
        builder.text_resource("shared://x", "x", "text/plain", text).start().unwrap()
    };
    let low = shared(sample(3).name("low"), "from low");
    let high = shared(TestServer::builder().name("high"), "from high");
    let tie_a = shared(TestServer::builder().name("tie_a"), "from tie_a");
    let o = orchestrator(
        vec![server_config("low", &low, 10), server_config("high", &high, 1), server_config("tie_a", &tie_a, 1)],
        orchestration(true),
    );
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    assert_eq!(g.servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["high", "tie_a", "low"]);
    assert!(g.servers.iter().all(|s| s.status == Status::Ok));
    let x = g.resource("shared://x").unwrap();
    assert_eq!(x.server, "high");
    assert_eq!(x.shadowed, ["tie_a", "low"]);
    assert_eq!(g.contents("shared://x").unwrap()[0].text(), Some("from high"));
    assert_eq!(g.resources.len(), 4);
    assert_eq!(g.resource("test://resource/2").unwrap().server, "low");
    assert_eq!(g.server("low").unwrap().data.as_ref().unwrap().contents.len(), 4);
    o.close();
}

#[test]
fn within_the_ttl_a_gather_sends_nothing_and_returns_the_same_arc() {
    let s = sample(5).start().unwrap();
    let mut orch = orchestration(true);
    orch.resource_cache_ttl = Duration::from_millis(300);
    let o = orchestrator(vec![server_config("a", &s, 1)], orch);
    o.initialize().unwrap();
    let first = o.gather_all_resources().unwrap();
    let before = s.stats();
    let second = o.gather_all_resources().unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(s.stats().requests, before.requests, "a warm gather sent requests");
    assert_eq!(s.stats().posts, before.posts);
    let stats = o.cache_stats();
    assert!(stats.hits >= 1 && stats.misses == 1, "{stats:?}");
    std::thread::sleep(Duration::from_millis(350)); // past the TTL
    let third = o.gather_all_resources().unwrap();
    assert!(!Arc::ptr_eq(&first, &third));
    assert_eq!(s.stats().requests.get("resources/list"), Some(&2));
    assert_eq!(third.servers[0].data.as_ref().unwrap().resources.len(), 5);
}

#[test]
fn fail_fast_returns_the_first_failure_at_once_and_closes_open_sessions() {
    let refused = TestServer::builder().fault(Fault::RefuseConnections).start().unwrap();
    let hanging = TestServer::builder().fault(Fault::NoEndpoint).start().unwrap();
    let healthy = sample(2).start().unwrap();
    let mut hang = server_config("hanging", &hanging, 3);
    hang.timeout = Duration::from_secs(30);
    let o = orchestrator(
        vec![server_config("healthy", &healthy, 1), server_config("refused", &refused, 2), hang],
        orchestration(true),
    );
    let t0 = Instant::now();
    let err = o.initialize().unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(2), "fail-fast took {:?}", t0.elapsed());
    assert_eq!(err.server(), Some("refused"), "{err}");
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert!(err.op_id().is_some());
    eventually("the healthy server's session is closed", || {
        let s = healthy.stats();
        s.sse_connections <= 1 && s.open_sessions == 0
    });
    assert!(matches!(o.gather_all_resources().unwrap_err(), Error::Closed { .. }));
    o.close();
}

#[test]
fn without_fail_fast_failures_are_recorded_and_the_rest_is_gathered() {
    let refused = TestServer::builder().fault(Fault::RefuseConnections).start().unwrap();
    let healthy = sample(2).start().unwrap();
    let mut disabled = server_config("disabled", &healthy, 0);
    disabled.enabled = false;
    let o = orchestrator(
        vec![server_config("healthy", &healthy, 5), server_config("refused", &refused, 1), disabled],
        orchestration(false),
    );
    o.initialize().unwrap();
    assert!(o.connect_failures().contains_key("refused"));
    let g = o.gather_all_resources().unwrap();
    assert_eq!(
        g.servers.iter().map(|s| (s.name.as_str(), s.status)).collect::<Vec<_>>(),
        [("disabled", Status::Skipped), ("refused", Status::Failed), ("healthy", Status::Ok)]
    );
    let refused_outcome = g.server("refused").unwrap();
    assert_eq!(refused_outcome.error.as_ref().unwrap().server(), Some("refused"));
    assert_eq!(g.resources.len(), 2);
    // Only the enabled, healthy server was ever contacted by the disabled entry's URL.
    assert_eq!(healthy.stats().sse_connections, 1);
}

#[test]
fn no_server_connected_is_an_error_even_without_fail_fast() {
    let refused = TestServer::builder().fault(Fault::RefuseConnections).start().unwrap();
    let o = orchestrator(vec![server_config("refused", &refused, 1)], orchestration(false));
    let err = o.initialize().unwrap_err();
    assert!(matches!(err, Error::NoServer { .. }), "{err}");
    assert!(err.to_string().contains("refused"), "{err}");
}

#[test]
fn never_more_handshakes_or_fetches_in_flight_than_the_pool() {
    let gauge = Gauge::new();
    let servers: Vec<TestServer> = (0..6)
        .map(|_| {
            sample(3)
                .gauge(gauge.clone())
                .fault(Fault::Delay("initialize".into(), Duration::from_millis(80)))
                .fault(Fault::Delay("resources/list".into(), Duration::from_millis(80)))
                .start()
                .unwrap()
        })
        .collect();
    // Without contents each server has at most one request outstanding (the handshake, then
    // its listings one after another), so requests in flight = servers in flight. (Reads are
    // pipelined: several per server, by design.)
    let configs = servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut c = server_config(&format!("s{i}"), s, i as u32);
            c.read_contents = false;
            c
        })
        .collect();
    let mut orch = orchestration(true);
    orch.max_concurrent_connections = 2;
    let o = orchestrator(configs, orch);
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    assert_eq!(g.resources.len(), 3);
    // Two at once (the pool is used in parallel), never three.
    assert_eq!(gauge.max(), 2, "{} servers were in flight at once", gauge.max());
}

#[test]
fn concurrent_initialize_connects_once_and_initialize_after_close_works() {
    let s = sample(1).start().unwrap();
    let o = Arc::new(orchestrator(vec![server_config("a", &s, 1)], orchestration(true)));
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (o, b) = (o.clone(), barrier.clone());
            std::thread::spawn(move || {
                b.wait();
                o.initialize()
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    assert_eq!(s.stats().sse_connections, 1);
    let t0 = Instant::now();
    o.close();
    o.close();
    assert!(t0.elapsed() < Duration::from_secs(3));
    eventually("the session is gone", || s.stats().open_sessions == 0);
    assert!(matches!(o.executor().unwrap_err(), Error::Closed { .. }));
    o.initialize().unwrap();
    assert_eq!(s.stats().sse_connections, 2);
    assert_eq!(o.gather_all_resources().unwrap().resources.len(), 1);
}

#[test]
fn executor_is_the_best_connected_server_with_execute_query() {
    let db = TestServer::builder().name("db").tool(query_tool(), rows).start().unwrap();
    let db2 = TestServer::builder().name("db2").tool(query_tool(), rows).start().unwrap();
    let meta = sample(1).name("meta").start().unwrap();
    let mut a = server_config("database_mcp", &db, 10);
    a.capabilities = vec!["execute_query".into(), "list_resources".into()];
    a.domains = vec!["sales".into()];
    let mut b = server_config("backup_db", &db2, 20);
    b.capabilities = vec!["execute_query".into()];
    b.domains = vec!["sales".into(), "orders".into()];
    let mut m = server_config("product_metadata_mcp", &meta, 1);
    m.capabilities = vec!["list_resources".into()];
    let o = orchestrator(vec![a, b, m], orchestration(true));
    o.initialize().unwrap();
    let exec = o.executor().unwrap();
    assert_eq!(exec.name(), "database_mcp");
    assert_eq!(exec.server().server_info.name, "db");
    let sales: Vec<String> = o.servers_for_domain("sales").iter().map(|c| c.name().to_string()).collect();
    assert_eq!(sales, ["database_mcp", "backup_db"]);
    assert!(o.servers_for_domain("nothing").is_empty());
    // Tool results never enter the cache: each call reaches the server.
    for _ in 0..2 {
        assert_eq!(o.call_tool(None, "execute_query", json!({"query": "SELECT 1"})).unwrap().text(), "1 row");
    }
    assert_eq!(db.stats().requests.get("tools/call"), Some(&2));
    o.call_tool(Some("backup_db"), "execute_query", json!({})).unwrap();
    assert_eq!(db2.stats().requests.get("tools/call"), Some(&1));
    let err = o.call_tool(Some("nope"), "execute_query", json!({})).unwrap_err();
    assert!(err.to_string().contains("no server named `nope`"), "{err}");

    let only_meta = orchestrator(vec![server_config("m", &meta, 1)], orchestration(true));
    only_meta.initialize().unwrap();
    let err = only_meta.executor().unwrap_err();
    assert!(matches!(err, Error::NoServer { .. }));
    assert!(err.to_string().contains("execute_query"), "{err}");
}

#[test]
fn cold_concurrent_gathers_fetch_each_server_once() {
    let servers: Vec<TestServer> = (0..3)
        .map(|_| sample(4).fault(Fault::Delay("resources/list".into(), Duration::from_millis(100))).start().unwrap())
        .collect();
    let configs = servers.iter().enumerate().map(|(i, s)| server_config(&format!("s{i}"), s, 1)).collect();
    let o = Arc::new(orchestrator(configs, orchestration(true)));
    o.initialize().unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (o, b) = (o.clone(), barrier.clone());
            std::thread::spawn(move || {
                b.wait();
                o.gather_all_resources().map(|g| g.resources.len())
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap(), 4);
    }
    for s in &servers {
        assert_eq!(s.stats().requests.get("resources/list"), Some(&1));
    }
}

#[test]
fn eight_threads_under_an_expiring_ttl_lose_nothing() {
    let servers: Vec<TestServer> = (0..3).map(|_| sample(10).start().unwrap()).collect();
    let configs = servers.iter().enumerate().map(|(i, s)| server_config(&format!("s{i}"), s, i as u32)).collect();
    let mut orch = orchestration(true);
    orch.resource_cache_ttl = Duration::from_millis(5);
    let o = Arc::new(orchestrator(configs, orch));
    o.initialize().unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    for _ in 0..8 {
        let (o, tx) = (o.clone(), tx.clone());
        std::thread::spawn(move || {
            for _ in 0..25 {
                let g = o.gather_all_resources();
                let _ = tx.send(g.map(|g| (g.resources.len(), g.servers.iter().all(|s| s.status == Status::Ok))));
            }
        });
    }
    drop(tx);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut n = 0;
    while let Ok(result) = rx.recv_deadline(deadline) {
        assert_eq!(result.unwrap(), (10, true));
        n += 1;
    }
    assert_eq!(n, 200, "a gather was lost or deadlocked");
}

#[test]
fn byte_budget_and_oversized_entries() {
    let small = sample(2).start().unwrap();
    let big =
        TestServer::builder().text_resource("big://x", "x", "text/plain", &"x".repeat(64 * 1024)).start().unwrap();
    let mut orch = orchestration(true);
    orch.cache_max_bytes = 16 * 1024;
    let o = orchestrator(vec![server_config("small", &small, 1), server_config("big", &big, 2)], orch);
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    assert_eq!(g.contents("big://x").unwrap()[0].text().unwrap().len(), 64 * 1024);
    let stats = o.cache_stats();
    assert_eq!(stats.oversized, 1, "{stats:?}");
    assert_eq!(stats.entries, 1);
    assert!(stats.bytes <= stats.max_bytes && stats.bytes > 0, "{stats:?}");
    // The oversized server is fetched again; the small one is served from the cache.
    o.gather_all_resources().unwrap();
    assert_eq!(big.stats().requests.get("resources/list"), Some(&2));
    assert_eq!(small.stats().requests.get("resources/list"), Some(&1));
}

#[test]
fn list_changed_drops_the_servers_entry() {
    let s = sample(2).start().unwrap();
    let o = orchestrator(vec![server_config("a", &s, 1)], orchestration(true));
    o.initialize().unwrap();
    o.gather_all_resources().unwrap();
    s.notify("notifications/resources/list_changed", None);
    eventually("the entry is dropped", || o.cache_stats().entries == 0);
    o.gather_all_resources().unwrap();
    assert_eq!(s.stats().requests.get("resources/list"), Some(&2));
}

#[test]
fn read_contents_false_reads_nothing() {
    let s = sample(3).start().unwrap();
    let mut c = server_config("a", &s, 1);
    c.read_contents = false;
    let o = orchestrator(vec![c], orchestration(true));
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    assert_eq!(g.resources.len(), 3);
    assert!(g.contents("test://resource/0").is_none());
    assert_eq!(s.stats().requests.get("resources/read"), None);
}

#[test]
fn a_failing_server_fails_a_fail_fast_gather_and_is_reported_otherwise() {
    for fail_fast in [true, false] {
        let ok = sample(1).start().unwrap();
        let bad = sample(1).fault(Fault::NeverAnswer("resources/list".into())).start().unwrap();
        let mut b = server_config("bad", &bad, 2);
        b.timeout = Duration::from_millis(300);
        let o = orchestrator(vec![server_config("ok", &ok, 1), b], orchestration(fail_fast));
        o.initialize().unwrap();
        let t0 = Instant::now();
        let result = o.gather_all_resources();
        assert!(t0.elapsed() < Duration::from_secs(5));
        if fail_fast {
            let err = result.unwrap_err();
            assert_eq!(err.server(), Some("bad"));
            assert_eq!(err.method(), Some("resources/list"));
        } else {
            let g = result.unwrap();
            assert_eq!(g.server("bad").unwrap().status, Status::Failed);
            assert!(matches!(g.server("bad").unwrap().error, Some(Error::Timeout { .. })));
            assert_eq!(g.server("ok").unwrap().status, Status::Ok);
            assert_eq!(g.resources.len(), 1);
        }
    }
}

#[test]
fn close_during_initialize_closes_what_it_opened_and_initialize_works_again() {
    let s = sample(2).fault(Fault::Delay("initialize".into(), Duration::from_millis(400))).start().unwrap();
    let o = Arc::new(orchestrator(vec![server_config("a", &s, 1)], orchestration(true)));
    let connecting = {
        let o = o.clone();
        std::thread::spawn(move || o.initialize())
    };
    eventually("the handshake reaches the server", || s.stats().count("initialize") == 1);
    o.close();
    let err = connecting.join().unwrap().unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err}");
    assert!(err.to_string().contains("closed during initialize"), "{err}");
    eventually("the session opened during close is closed", || s.stats().open_sessions == 0);
    assert!(matches!(o.executor().unwrap_err(), Error::Closed { .. }));
    o.initialize().unwrap();
    assert_eq!(o.gather_all_resources().unwrap().resources.len(), 2);
}

#[test]
fn huge_timeouts_do_not_overflow() {
    let s = sample(2).start().unwrap();
    let mut c = server_config("a", &s, 1);
    c.timeout = Duration::MAX;
    let o = orchestrator(vec![c], orchestration(true));
    o.initialize().unwrap();
    assert_eq!(o.gather_all_resources().unwrap().resources.len(), 2);
    o.call_tool(Some("a"), "nope", json!({})).unwrap_err();
}

#[test]
fn servers_reordered_after_validation_are_merged_by_priority() {
    let a = TestServer::builder().text_resource("x://1", "x", "text/plain", "from a").start().unwrap();
    let b = TestServer::builder().text_resource("x://1", "x", "text/plain", "from b").start().unwrap();
    let mut config =
        Config::new(vec![server_config("a", &a, 5), server_config("b", &b, 1)], orchestration(true)).unwrap();
    config.servers.reverse(); // the fields are public: the orchestrator must not trust their order
    let o = Orchestrator::new(config);
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    assert_eq!(g.resource("x://1").unwrap().server, "b");
    assert_eq!(g.servers[0].name, "b");
}
