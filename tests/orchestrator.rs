//! The orchestrator against several test servers, over every transport: the legacy HTTP+SSE
//! and Streamable HTTP endpoints of the test server on real sockets, and the `mcp-test-server`
//! binary over stdio. Each behaviour is one function of the transport, run once per transport
//! (`sse::…`, `streamable_http::…`, `stdio::…`).

#![cfg(feature = "testing")]

#[path = "support/servers.rs"]
#[macro_use]
mod servers;
#[path = "support/wait.rs"]
mod wait;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use mcp_orchestrator::testing::Fault;
use mcp_orchestrator::{Config, Error, Orchestration, Orchestrator, ServerConfig, Status};
use serde_json::json;
use servers::{InFlight, Kind, Spec, Srv, sample};
use wait::eventually;

over_every_transport!(
    gathers_in_parallel_and_merges_by_priority,
    within_the_ttl_a_gather_sends_nothing_and_returns_the_same_arc,
    fail_fast_returns_the_first_failure_at_once_and_closes_open_sessions,
    without_fail_fast_failures_are_recorded_and_the_rest_is_gathered,
    no_server_connected_is_an_error_even_without_fail_fast,
    never_more_handshakes_or_fetches_in_flight_than_the_pool,
    concurrent_initialize_connects_once_and_initialize_after_close_works,
    executor_is_the_best_connected_server_with_execute_query,
    cold_concurrent_gathers_fetch_each_server_once,
    eight_threads_under_an_expiring_ttl_lose_nothing,
    byte_budget_and_oversized_entries,
    read_contents_false_reads_nothing,
    a_failing_server_fails_a_fail_fast_gather_and_is_reported_otherwise,
    close_during_initialize_closes_what_it_opened_and_initialize_works_again,
    huge_timeouts_do_not_overflow,
    servers_reordered_after_validation_are_merged_by_priority,
    the_first_pages_of_the_four_listings_are_in_flight_together,
    many_reads_are_in_flight_together,
);

fn orchestration(fail_fast: bool) -> Orchestration {
    let mut o = Orchestration::default();
    o.fail_fast = fail_fast;
    o
}

fn orchestrator(servers: Vec<ServerConfig>, o: Orchestration) -> Orchestrator {
    Orchestrator::new(Config::new(servers, o).unwrap())
}

/// The error a server that cannot be reached at all gives: nothing listening, or no program.
fn assert_unreachable(err: &Error, server: &str) {
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert_eq!(err.server(), Some(server), "{err}");
    let op = err.op_id().expect("an op id").to_string();
    assert!(err.to_string().contains(&op), "{err}");
}

fn gathers_in_parallel_and_merges_by_priority(kind: Kind) {
    let shared = |spec: Spec, text: &str| spec.text("shared://x", text).start(kind);
    let low = shared(sample(3).name("low"), "from low");
    let high = shared(sample(0).name("high"), "from high");
    let tie_a = shared(sample(0).name("tie_a"), "from tie_a");
    let o = orchestrator(
        vec![low.config("low", 10), high.config("high", 1), tie_a.config("tie_a", 1)],
        orchestration(true),
    );
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    assert_eq!(g.servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["high", "tie_a", "low"]);
    assert!(g.servers.iter().all(|s| s.status == Status::Ok), "{:?}", g.servers);
    let x = g.resource("shared://x").unwrap();
    assert_eq!(x.server, "high");
    assert_eq!(x.shadowed, ["tie_a", "low"]);
    assert_eq!(g.contents("shared://x").unwrap()[0].text(), Some("from high"));
    assert_eq!(g.resources.len(), 4);
    assert_eq!(g.resource("test://resource/2").unwrap().server, "low");
    assert_eq!(g.server("low").unwrap().data.as_ref().unwrap().contents.len(), 4);
    o.close();
}

fn within_the_ttl_a_gather_sends_nothing_and_returns_the_same_arc(kind: Kind) {
    let s = sample(5).start(kind);
    let mut orch = orchestration(true);
    orch.resource_cache_ttl = Duration::from_millis(300);
    let o = orchestrator(vec![s.config("a", 1)], orch);
    o.initialize().unwrap();
    let first = o.gather_all_resources().unwrap();
    let before = s.total();
    let second = o.gather_all_resources().unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(s.total(), before, "a warm gather sent requests");
    let stats = o.cache_stats();
    assert!(stats.hits >= 1 && stats.misses == 1, "{stats:?}");
    std::thread::sleep(Duration::from_millis(350)); // past the TTL
    let third = o.gather_all_resources().unwrap();
    assert!(!Arc::ptr_eq(&first, &third));
    assert_eq!(s.count("resources/list"), 2);
    assert_eq!(third.servers[0].data.as_ref().unwrap().resources.len(), 5);
}

fn fail_fast_returns_the_first_failure_at_once_and_closes_open_sessions(kind: Kind) {
    let refused = sample(0).fault(Fault::RefuseConnections).start(kind);
    let hanging = sample(0).fault(Fault::NeverAnswer("initialize".into())).start(kind);
    let healthy = sample(2).start(kind);
    let mut hang = hanging.config("hanging", 3);
    hang.timeout = Duration::from_secs(30);
    let o = orchestrator(vec![healthy.config("healthy", 1), refused.config("refused", 2), hang], orchestration(true));
    let t0 = Instant::now();
    let err = o.initialize().unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(2), "fail-fast took {:?}", t0.elapsed());
    assert_unreachable(&err, "refused");
    eventually("the healthy server's session is closed", || healthy.sessions() <= 1 && healthy.open_sessions() == 0);
    assert!(matches!(o.executor().unwrap_err(), Error::NotInitialized { .. }));
    o.close();
    if kind == Kind::Stdio {
        // Its connect was abandoned: no process the library started outlives close().
        assert_eq!(hanging.open_sessions(), 0, "the hanging server's process outlived close()");
    }
}

fn without_fail_fast_failures_are_recorded_and_the_rest_is_gathered(kind: Kind) {
    let refused = sample(0).fault(Fault::RefuseConnections).start(kind);
    let healthy = sample(2).start(kind);
    let mut disabled = healthy.config("disabled", 0);
    disabled.enabled = false;
    let o =
        orchestrator(vec![healthy.config("healthy", 5), refused.config("refused", 1), disabled], orchestration(false));
    o.initialize().unwrap();
    assert_unreachable(&o.connect_failures()["refused"], "refused");
    let g = o.gather_all_resources().unwrap();
    assert_eq!(
        g.servers.iter().map(|s| (s.name.as_str(), s.status)).collect::<Vec<_>>(),
        [("disabled", Status::Skipped), ("refused", Status::Failed), ("healthy", Status::Ok)]
    );
    let refused_outcome = g.server("refused").unwrap();
    assert_eq!(refused_outcome.error.as_ref().unwrap().server(), Some("refused"));
    assert_eq!(g.resources.len(), 2);
    // Only the enabled entry reached the healthy server, never the disabled one.
    assert_eq!(healthy.sessions(), 1);
}

fn no_server_connected_is_an_error_even_without_fail_fast(kind: Kind) {
    let refused = sample(0).fault(Fault::RefuseConnections).start(kind);
    let o = orchestrator(vec![refused.config("refused", 1)], orchestration(false));
    let err = o.initialize().unwrap_err();
    assert!(matches!(err, Error::NoServer { .. }), "{err}");
    assert!(err.to_string().contains("server `refused`"), "{err}");
}

fn never_more_handshakes_or_fetches_in_flight_than_the_pool(kind: Kind) {
    let in_flight = InFlight::new();
    let slow = Duration::from_millis(80);
    let servers: Vec<Srv> = (0..6)
        .map(|_| {
            sample(3)
                .fault(Fault::Delay("initialize".into(), slow))
                .slow_listings(slow)
                .start_counted(kind, Some(&in_flight))
        })
        .collect();
    // Without contents a server has one request outstanding during its handshake, then its
    // four listings (resources, templates, tools, prompts: the first pages go out together).
    // So requests in flight <= 4 x servers in flight. (Reads are pipelined: many per server.)
    let configs = servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut c = s.config(&format!("s{i}"), i as u32);
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
    // The pool is used in parallel (two handshakes at once), never by three servers: that
    // would put more than 2 x 4 requests in flight.
    let max = in_flight.max(kind);
    assert!((2..=8).contains(&max), "{max} requests were in flight at once");
}

fn concurrent_initialize_connects_once_and_initialize_after_close_works(kind: Kind) {
    let s = sample(1).start(kind);
    let o = Arc::new(orchestrator(vec![s.config("a", 1)], orchestration(true)));
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
    assert_eq!(s.sessions(), 1);
    let t0 = Instant::now();
    o.close();
    o.close();
    assert!(t0.elapsed() < Duration::from_secs(3), "close took {:?}", t0.elapsed());
    eventually("the session is gone", || s.open_sessions() == 0);
    assert!(matches!(o.executor().unwrap_err(), Error::Closed { .. }));
    o.initialize().unwrap();
    assert_eq!(s.sessions(), 2);
    assert_eq!(o.gather_all_resources().unwrap().resources.len(), 1);
}

fn executor_is_the_best_connected_server_with_execute_query(kind: Kind) {
    let db = sample(0).name("db").query_tool().start(kind);
    let db2 = sample(0).name("db2").query_tool().start(kind);
    let meta = sample(1).name("meta").start(kind);
    let mut a = db.config("database_mcp", 10);
    a.capabilities = vec!["execute_query".into(), "list_resources".into()];
    a.domains = vec!["sales".into()];
    let mut b = db2.config("backup_db", 20);
    b.capabilities = vec!["execute_query".into()];
    b.domains = vec!["sales".into(), "orders".into()];
    let mut m = meta.config("product_metadata_mcp", 1);
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
        assert_eq!(o.call_tool_on(None, "execute_query", json!({"query": "SELECT 1"})).unwrap().text(), "1 row");
    }
    assert_eq!(db.count("tools/call"), 2);
    o.call_tool_on(Some("backup_db"), "execute_query", json!({})).unwrap();
    assert_eq!(db2.count("tools/call"), 1);
    let err = o.call_tool_on(Some("nope"), "execute_query", json!({})).unwrap_err();
    assert!(err.to_string().contains("no server named `nope`"), "{err}");

    let only_meta = orchestrator(vec![meta.config("m", 1)], orchestration(true));
    only_meta.initialize().unwrap();
    let err = only_meta.executor().unwrap_err();
    assert!(matches!(err, Error::NoServer { .. }));
    assert!(err.to_string().contains("execute_query"), "{err}");
}

fn cold_concurrent_gathers_fetch_each_server_once(kind: Kind) {
    let servers: Vec<Srv> = (0..3)
        .map(|_| sample(4).fault(Fault::Delay("resources/list".into(), Duration::from_millis(100))).start(kind))
        .collect();
    let configs = servers.iter().enumerate().map(|(i, s)| s.config(&format!("s{i}"), 1)).collect();
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
        assert_eq!(s.count("resources/list"), 1);
    }
}

fn eight_threads_under_an_expiring_ttl_lose_nothing(kind: Kind) {
    let servers: Vec<Srv> = (0..3).map(|_| sample(10).start(kind)).collect();
    let configs = servers.iter().enumerate().map(|(i, s)| s.config(&format!("s{i}"), i as u32)).collect();
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

fn byte_budget_and_oversized_entries(kind: Kind) {
    let small = sample(2).start(kind);
    let big = sample(0).text("big://x", &"x".repeat(64 * 1024)).start(kind);
    let mut orch = orchestration(true);
    orch.cache_max_bytes = 16 * 1024;
    let o = orchestrator(vec![small.config("small", 1), big.config("big", 2)], orch);
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    assert_eq!(g.contents("big://x").unwrap()[0].text().unwrap().len(), 64 * 1024);
    let stats = o.cache_stats();
    assert_eq!(stats.oversized, 1, "{stats:?}");
    assert_eq!(stats.entries, 1);
    assert!(stats.bytes <= stats.max_bytes && stats.bytes > 0, "{stats:?}");
    // The oversized server is fetched again; the small one is served from the cache.
    o.gather_all_resources().unwrap();
    assert_eq!(big.count("resources/list"), 2);
    assert_eq!(small.count("resources/list"), 1);
}

/// Over the legacy event stream only: the test server sends notifications there.
#[test]
fn list_changed_drops_the_servers_entry() {
    let s = sample(2).start(Kind::Sse);
    let o = orchestrator(vec![s.config("a", 1)], orchestration(true));
    o.initialize().unwrap();
    o.gather_all_resources().unwrap();
    s.http().unwrap().notify("notifications/resources/list_changed", None);
    eventually("the entry is dropped", || o.cache_stats().entries == 0);
    o.gather_all_resources().unwrap();
    assert_eq!(s.count("resources/list"), 2);
}

fn read_contents_false_reads_nothing(kind: Kind) {
    let s = sample(3).start(kind);
    let mut c = s.config("a", 1);
    c.read_contents = false;
    let o = orchestrator(vec![c], orchestration(true));
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    assert_eq!(g.resources.len(), 3);
    assert!(g.contents("test://resource/0").is_none());
    assert_eq!(s.count("resources/read"), 0);
}

fn a_failing_server_fails_a_fail_fast_gather_and_is_reported_otherwise(kind: Kind) {
    for fail_fast in [true, false] {
        let ok = sample(1).start(kind);
        let bad = sample(1).fault(Fault::NeverAnswer("resources/list".into())).start(kind);
        let mut b = bad.config("bad", 2);
        b.timeout = Duration::from_millis(300);
        let o = orchestrator(vec![ok.config("ok", 1), b], orchestration(fail_fast));
        o.initialize().unwrap();
        let t0 = Instant::now();
        let result = o.gather_all_resources();
        assert!(t0.elapsed() < Duration::from_secs(5), "the gather took {:?}", t0.elapsed());
        if fail_fast {
            let err = result.unwrap_err();
            assert!(matches!(err, Error::Timeout { .. }), "{err}");
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

fn close_during_initialize_closes_what_it_opened_and_initialize_works_again(kind: Kind) {
    let s = sample(2).fault(Fault::Delay("initialize".into(), Duration::from_millis(400))).start(kind);
    let o = Arc::new(orchestrator(vec![s.config("a", 1)], orchestration(true)));
    let connecting = {
        let o = o.clone();
        std::thread::spawn(move || o.initialize())
    };
    eventually("the handshake reaches the server", || s.count("initialize") == 1);
    o.close();
    let err = connecting.join().unwrap().unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err}");
    assert!(err.to_string().contains("closed during initialize"), "{err}");
    eventually("the session opened during close is closed", || s.open_sessions() == 0);
    assert!(matches!(o.executor().unwrap_err(), Error::Closed { .. }));
    o.initialize().unwrap();
    assert_eq!(o.gather_all_resources().unwrap().resources.len(), 2);
}

fn huge_timeouts_do_not_overflow(kind: Kind) {
    let s = sample(2).start(kind);
    let mut c = s.config("a", 1);
    c.timeout = Duration::MAX;
    let o = orchestrator(vec![c], orchestration(true));
    o.initialize().unwrap();
    assert_eq!(o.gather_all_resources().unwrap().resources.len(), 2);
    o.call_tool_on(Some("a"), "nope", json!({})).unwrap_err();
}

fn servers_reordered_after_validation_are_merged_by_priority(kind: Kind) {
    let a = sample(0).text("x://1", "from a").start(kind);
    let b = sample(0).text("x://1", "from b").start(kind);
    let mut config = Config::new(vec![a.config("a", 5), b.config("b", 1)], orchestration(true)).unwrap();
    config.servers.reverse(); // the fields are public: the orchestrator must not trust their order
    let o = Orchestrator::new(config);
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    assert_eq!(g.resource("x://1").unwrap().server, "b");
    assert_eq!(g.servers[0].name, "b");
}

#[test]
fn one_config_mixing_the_three_transports_gathers_and_merges_in_one_call() {
    let over = |kind: Kind, text: &str| sample(2).text("shared://x", text).start(kind);
    let (sse, http, stdio) =
        (over(Kind::Sse, "over sse"), over(Kind::StreamableHttp, "over http"), over(Kind::Stdio, "over stdio"));
    let o = orchestrator(
        vec![stdio.config("over-stdio", 1), http.config("over-http", 2), sse.config("over-sse", 3)],
        orchestration(true),
    );
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    let names: Vec<&str> = g.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["over-stdio", "over-http", "over-sse"]);
    for outcome in &g.servers {
        assert_eq!(outcome.status, Status::Ok, "{}: {:?}", outcome.name, outcome.error);
        assert_eq!(outcome.data.as_ref().unwrap().contents.len(), 3, "{}", outcome.name);
    }
    let x = g.resource("shared://x").unwrap();
    assert_eq!(
        (x.server.as_str(), &x.shadowed[..]),
        ("over-stdio", &["over-http".to_string(), "over-sse".to_string()][..])
    );
    assert_eq!(g.contents("shared://x").unwrap()[0].text(), Some("over stdio"));
    assert_eq!(g.resources.len(), 3);
    o.close();
    // A process is reaped and a Streamable HTTP session deleted before close() returns; the
    // SSE server sees its stream end a moment later.
    assert_eq!((stdio.open_sessions(), http.open_sessions()), (0, 0));
    eventually("the SSE session ends", || sse.open_sessions() == 0);
}

fn the_first_pages_of_the_four_listings_are_in_flight_together(kind: Kind) {
    let in_flight = InFlight::new();
    // Slower than `client::batch::CLEARLY_SLOW` (200 ms): over Streamable HTTP the rest go at
    // once however busy the machine running the tests is.
    let server = sample(3)
        .tool("t", "a tool: the server has the tools capability")
        .slow_listings(Duration::from_millis(250))
        .start_counted(kind, Some(&in_flight));
    let mut c = server.config("s", 1);
    c.read_contents = false;
    let mut settings = orchestration(true);
    settings.resource_cache_ttl = Duration::ZERO; // every gather asks again
    let o = orchestrator(vec![c], settings);
    o.initialize().unwrap();
    assert_eq!(o.gather_all_resources().unwrap().resources.len(), 3);
    // Each listing is held 250 ms. Over stdio and legacy SSE all four were asked before the
    // first was answered. Over Streamable HTTP (a thread and a connection per request in
    // flight) the first went alone; it was slow, so the other three went together...
    let first = if kind == Kind::StreamableHttp { 3 } else { 4 };
    assert_eq!(in_flight.max(kind), first);
    assert_eq!(server.count("resources/list"), 1);
    // ...and the next gather, knowing the server is slow, sends all four at once.
    assert_eq!(o.gather_all_resources().unwrap().resources.len(), 3);
    assert_eq!(in_flight.max(kind), 4);
    assert_eq!(server.count("resources/list"), 2);
}

/// Over Streamable HTTP a server that answers its listings fast gets them one by one, from the
/// gathering thread over its kept-alive connection: never two in flight, nothing lost.
#[test]
fn streamable_http_first_pages_of_a_fast_server_go_one_by_one() {
    let kind = Kind::StreamableHttp;
    let in_flight = InFlight::new();
    let server = sample(3).tool("t", "a tool").prompt("p", "a prompt").start_counted(kind, Some(&in_flight));
    let mut c = server.config("s", 1);
    c.read_contents = false;
    let o = orchestrator(vec![c], orchestration(true));
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    assert_eq!((g.resources.len(), g.tools.len(), g.prompts.len()), (3, 1, 1));
    assert_eq!(in_flight.max(kind), 1);
    for method in ["resources/list", "resources/templates/list", "tools/list", "prompts/list"] {
        assert_eq!(server.count(method), 1, "{method}");
    }
    o.close();
}

/// Over Streamable HTTP a slow server's first pages still go one by one while this process
/// keeps the cores busy: the wait is then its threads queueing for a core, which more threads
/// and connections would only lengthen (a gather of many servers on a small machine).
#[test]
fn streamable_http_first_pages_stay_one_by_one_while_this_process_keeps_the_cores_busy() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let kind = Kind::StreamableHttp;
    let in_flight = InFlight::new();
    // Slow enough to count as slow (2 ms), not so slow that it would overlap anyway (200 ms).
    let server = sample(3)
        .tool("t", "a tool")
        .prompt("p", "a prompt")
        .slow_listings(Duration::from_millis(20))
        .start_counted(kind, Some(&in_flight));
    let mut c = server.config("s", 1);
    c.read_contents = false;
    let o = orchestrator(vec![c], orchestration(true));
    o.initialize().unwrap();
    let stop = AtomicBool::new(false);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let g = std::thread::scope(|scope| {
        for _ in 0..cores {
            scope.spawn(|| {
                let until = Instant::now() + Duration::from_secs(30);
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                }
            });
        }
        let g = o.gather_all_resources();
        stop.store(true, Ordering::Relaxed);
        g
    })
    .unwrap();
    assert_eq!((g.resources.len(), g.tools.len(), g.prompts.len()), (3, 1, 1));
    assert_eq!(in_flight.max(kind), 1, "one first page at a time while the cores are busy");
    o.close();
}

fn many_reads_are_in_flight_together(kind: Kind) {
    let in_flight = InFlight::new();
    let server = sample(40)
        .fault(Fault::Delay("resources/read".into(), Duration::from_millis(200)))
        .start_counted(kind, Some(&in_flight));
    let o = orchestrator(vec![server.config("s", 1)], orchestration(true));
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    assert_eq!(g.servers[0].data.as_ref().unwrap().contents.len(), 40);
    // Each read is held 200 ms: at least 32 of them (Streamable HTTP's bound; every read over
    // the others) were sent before the first was answered.
    let max = in_flight.max(kind);
    assert!(max >= 32, "only {max} reads were in flight at once");
    if let Some(http) = server.http()
        && kind == Kind::Sse
    {
        // Over legacy SSE the POSTs go out over a few kept-alive connections, not one.
        let connections = http.stats().http_connections;
        assert!((3..=8).contains(&connections), "{connections} connections (a GET and a few POST connections)");
    }
}
