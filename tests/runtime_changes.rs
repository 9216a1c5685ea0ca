//! Servers added and removed while the orchestrator runs (`add_server`, `remove_server`,
//! `apply_config`), over every transport: the other servers keep their sessions and cache
//! entries, an added server joins the catalogue by its priority and is routed to, a removed one
//! is closed and leaves the catalogue, the cache, routing and search.

#![cfg(feature = "testing")]

#[path = "support/servers.rs"]
#[macro_use]
mod servers;
#[path = "support/wait.rs"]
mod wait;

use std::sync::Arc;
use std::time::Duration;

use mcp_orchestrator::testing::Fault;
use mcp_orchestrator::{Config, Error, Orchestration, Orchestrator, ServerConfig, Status};
use serde_json::json;
use servers::{Kind, sample};
use wait::eventually;

over_every_transport!(
    an_added_server_is_connected_merged_by_priority_and_routed,
    a_removed_server_is_closed_and_leaves_the_catalogue_the_cache_and_routing,
    a_call_in_flight_to_a_removed_server_ends_with_a_clear_error,
    apply_config_adds_removes_and_replaces_what_changed,
);

fn orchestrator(servers: Vec<ServerConfig>, fail_fast: bool) -> Orchestrator {
    let mut o = Orchestration::default();
    o.fail_fast = fail_fast;
    Orchestrator::new(Config::new(servers, o).unwrap())
}

fn tool_names(o: &Orchestrator) -> Vec<(String, String)> {
    let g = o.gather_all_resources().unwrap();
    g.tools.iter().map(|t| (t.name.clone(), t.server.clone())).collect()
}

fn an_added_server_is_connected_merged_by_priority_and_routed(kind: Kind) {
    let a = sample(1).tool("shared", "from a").tool("a_only", "a").start(kind);
    let b = sample(0).tool("shared", "from b").tool("b_only", "b").start(kind);
    let o = orchestrator(vec![a.config("a", 5)], true);
    o.initialize().unwrap();
    assert_eq!(tool_names(&o), [("a_only".into(), "a".into()), ("shared".into(), "a".into())]);
    let a_lists = a.count("tools/list");

    o.add_server(b.config("b", 1)).unwrap();
    assert_eq!(b.sessions(), 1, "add_server connects the server");
    assert_eq!(o.config().servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["b", "a"]);
    let g = o.gather_all_resources().unwrap();
    assert_eq!(
        g.servers.iter().map(|s| (s.name.as_str(), s.status)).collect::<Vec<_>>(),
        [("b", Status::Ok), ("a", Status::Ok)]
    );
    let shared = g.tool("shared").unwrap();
    assert_eq!((shared.server.as_str(), shared.shadowed.clone()), ("b", vec!["a".to_string()]));
    assert_eq!(o.call_tool("shared", json!({})).unwrap().text(), "from b");
    assert_eq!(o.call_tool("b_only", json!({})).unwrap().text(), "b");
    assert_eq!(o.call_tool("a_only", json!({})).unwrap().text(), "a");
    assert_eq!(o.search_tools("b_only", 1).unwrap()[0].server, "b");
    // The other server was neither reconnected nor listed again (its cache entry served).
    assert_eq!((a.sessions(), a.count("tools/list")), (1, a_lists));
    assert!(o.status().iter().all(|s| s.connected), "{:?}", o.status());

    // A name that is configured is a config error, as in a config file, and changes nothing.
    let err = o.add_server(b.config("a", 0)).unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
    assert!(err.to_string().contains("duplicate server `a`"), "{err}");
    // So is a server the loader would refuse.
    let mut bad = b.config("c", 0);
    bad.timeout = Duration::ZERO;
    let err = o.add_server(bad).unwrap_err();
    assert!(err.to_string().contains("server `c`: `timeout` must be greater than 0"), "{err}");
    assert_eq!(o.config().servers.len(), 2);
    assert_eq!((a.sessions(), b.sessions()), (1, 1));
    o.close();
}

fn a_removed_server_is_closed_and_leaves_the_catalogue_the_cache_and_routing(kind: Kind) {
    let a = sample(1).tool("a_tool", "a").start(kind);
    let b = sample(2).tool("b_tool", "b").text("b://only", "b's").start(kind);
    let o = orchestrator(vec![a.config("a", 1), b.config("b", 2)], true);
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    assert!(g.tool("b_tool").is_some() && g.contents("b://only").is_some());
    assert_eq!(o.cache_stats().entries, 2);
    let a_lists = a.count("tools/list");

    o.remove_server("b").unwrap();
    eventually("b's session is closed", || b.open_sessions() == 0);
    assert_eq!(o.cache_stats().entries, 1, "b's cache entry is dropped");
    let g = o.gather_all_resources().unwrap();
    assert_eq!(g.servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["a"]);
    assert!(g.tool("b_tool").is_none() && g.resource("b://only").is_none());
    assert_eq!(g.tools.len(), 1);
    let err = o.call_tool("b_tool", json!({})).unwrap_err();
    assert!(matches!(err, Error::NoServer { .. }), "{err}");
    let err = o.call_tool_on(Some("b"), "b_tool", json!({})).unwrap_err();
    assert!(err.to_string().contains("no server named `b` in the config"), "{err}");
    assert!(o.read_resource("b://only").is_err());
    assert!(o.search_tools("b_tool", 5).unwrap().iter().all(|m| m.server == "a"));
    assert_eq!(o.status().iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["a"]);
    // The other server's session was kept: not reconnected, its part served from the cache.
    assert_eq!(o.call_tool("a_tool", json!({})).unwrap().text(), "a");
    assert_eq!((a.sessions(), a.count("tools/list")), (1, a_lists));
    assert_eq!(b.sessions(), 1, "b was not connected again");

    let err = o.remove_server("b").unwrap_err();
    assert!(matches!(err, Error::NoServer { .. }), "{err}");
    // Added back under the same name: a new session, listed afresh.
    o.add_server(b.config("b", 2)).unwrap();
    assert_eq!(b.sessions(), 2);
    assert!(o.gather_all_resources().unwrap().tool("b_tool").is_some());
    assert_eq!(a.sessions(), 1);
    o.close();
}

fn a_call_in_flight_to_a_removed_server_ends_with_a_clear_error(kind: Kind) {
    let a = sample(0).tool("a_tool", "a").start(kind);
    let b =
        sample(0).tool("slow", "late").fault(Fault::Delay("tools/call".into(), Duration::from_secs(60))).start(kind);
    let mut slow = b.config("b", 2);
    slow.timeout = Duration::from_secs(120);
    let o = Arc::new(orchestrator(vec![a.config("a", 1), slow], true));
    o.initialize().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let caller = o.clone();
    std::thread::spawn(move || {
        let _ = tx.send(caller.call_tool_on(Some("b"), "slow", json!({})));
    });
    eventually("the call reached the server", || b.count("tools/call") == 1);
    o.remove_server("b").unwrap();
    let result = rx.recv_timeout(Duration::from_secs(10)).expect("the call in flight ended");
    let err = result.unwrap_err();
    assert!(matches!(err, Error::ConnectionClosed { .. }), "{err}");
    assert_eq!((err.server(), err.method()), (Some("b"), Some("tools/call")));
    assert!(err.to_string().contains("the server was removed"), "{err}");
    assert!(err.op_id().is_some());
    assert_eq!(o.call_tool_on(Some("a"), "a_tool", json!({})).unwrap().text(), "a");
    assert_eq!(a.sessions(), 1);
    o.close();
}

fn apply_config_adds_removes_and_replaces_what_changed(kind: Kind) {
    let a = sample(0).tool("a_tool", "a").start(kind);
    let b = sample(0).tool("b_tool", "b").start(kind);
    let c = sample(0).tool("c_tool", "c").start(kind);
    let o = orchestrator(vec![a.config("a", 1), b.config("b", 2)], true);
    o.initialize().unwrap();
    o.gather_all_resources().unwrap();

    // b's priority changes (replaced), c is new, a stays as it is.
    let edited = Config::new(vec![a.config("a", 1), b.config("b", 0), c.config("c", 3)], Orchestration::default());
    let changes = o.apply_config(&edited.unwrap()).unwrap();
    assert_eq!((changes.added.clone(), changes.changed.clone()), (vec!["c".to_string()], vec!["b".to_string()]));
    assert!(changes.removed.is_empty() && changes.failed.is_empty(), "{changes:?}");
    let g = o.gather_all_resources().unwrap();
    assert_eq!(g.servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["b", "a", "c"]);
    assert_eq!((a.sessions(), b.sessions(), c.sessions()), (1, 2, 1));

    let fewer = Config::new(vec![b.config("b", 0)], Orchestration::default()).unwrap();
    let changes = o.apply_config(&fewer).unwrap();
    assert_eq!(changes.removed, ["a", "c"]);
    assert_eq!(tool_names(&o), [("b_tool".into(), "b".into())]);
    assert!(o.apply_config(&fewer).unwrap().is_empty());
    eventually("a's and c's sessions are closed", || a.open_sessions() == 0 && c.open_sessions() == 0);
    o.close();
}

#[test]
fn a_server_added_before_initialize_is_connected_by_it() {
    let a = sample(1).start(Kind::StreamableHttp);
    let b = sample(2).start(Kind::Stdio);
    let o = orchestrator(vec![a.config("a", 1)], true);
    o.add_server(b.config("b", 2)).unwrap();
    let mut off = a.config("off", 3);
    off.enabled = false;
    o.add_server(off).unwrap();
    o.add_server(a.config("gone", 4)).unwrap();
    o.remove_server("gone").unwrap();
    assert_eq!(b.sessions(), 0, "nothing is connected before initialize");
    o.initialize().unwrap();
    o.remove_server("off").unwrap();
    assert_eq!(o.config().servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(o.gather_all_resources().unwrap().resources.len(), 2);
    assert_eq!((a.sessions(), b.sessions()), (1, 1));
    o.close();
}

#[test]
fn a_server_that_cannot_connect_is_not_added_under_fail_fast_and_kept_without() {
    let a = sample(1).start(Kind::StreamableHttp);
    let down = sample(0).fault(Fault::RefuseConnections).start(Kind::StreamableHttp);
    for fail_fast in [true, false] {
        let o = orchestrator(vec![a.config("a", 1)], fail_fast);
        o.initialize().unwrap();
        let err = o.add_server(down.config("down", 2)).unwrap_err();
        assert!(matches!(err, Error::Connect { .. }), "{err}");
        assert_eq!(err.server(), Some("down"));
        let names: Vec<String> = o.config().servers.iter().map(|s| s.name.clone()).collect();
        if fail_fast {
            assert_eq!(names, ["a"]);
            assert_eq!(o.gather_all_resources().unwrap().servers.len(), 1);
        } else {
            assert_eq!(names, ["a", "down"]);
            assert!(o.connect_failures().contains_key("down"));
            let g = o.gather_all_resources().unwrap();
            assert_eq!(g.server("down").unwrap().status, Status::Failed);
        }
        o.close();
    }
}

#[test]
fn gathers_and_calls_racing_adds_and_removes_stay_consistent() {
    let a = sample(1).tool("a_tool", "a").start(Kind::StreamableHttp);
    let b = sample(1).tool("b_tool", "b").start(Kind::StreamableHttp);
    let o = Arc::new(orchestrator(vec![a.config("a", 1)], true));
    o.initialize().unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (o, stop) = (o.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut seen = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) || seen == 0 {
                    let g = o.gather_all_resources().expect("a gather racing changes succeeds");
                    let names: Vec<&str> = g.servers.iter().map(|s| s.name.as_str()).collect();
                    assert!(names == ["a"] || names == ["a", "b"], "{names:?}");
                    assert!(g.servers.iter().all(|s| s.status == Status::Ok), "{:?}", g.servers);
                    assert_eq!(o.call_tool("a_tool", json!({})).unwrap().text(), "a");
                    seen += 1;
                }
            })
        })
        .collect();
    for _ in 0..10 {
        o.add_server(b.config("b", 2)).unwrap();
        o.remove_server("b").unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in workers {
        w.join().expect("no worker panicked");
    }
    assert_eq!(a.sessions(), 1, "a was never reconnected");
    assert_eq!(b.sessions(), 10);
    eventually("b's sessions are all closed", || b.open_sessions() == 0);
    assert_eq!(o.gather_all_resources().unwrap().servers.len(), 1);
    o.close();
}
