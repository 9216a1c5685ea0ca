//! Sessions that heal, over every transport: a server killed and restarted between two calls,
//! a server down at start that comes up later, stale serving, single-flight reconnects from 8
//! threads, the attempt limit and the back-off bounds.
//!
//! A server goes "down" the way each transport sees it: the HTTP test server shuts down (its
//! port refuses connections) and comes back on the same address; the stdio server is started
//! through a symbolic link that is removed (nothing to start) and made again.

#![cfg(all(feature = "testing", unix))]

#[path = "support/servers.rs"]
#[macro_use]
mod servers;
#[path = "support/wait.rs"]
mod wait;

use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use mcp_orchestrator::{Config, Error, Orchestration, Orchestrator, ServerConfig, Status, Transport};
use serde_json::json;
use servers::{Kind, Scratch, Spec, Srv, sample};
use wait::eventually;

over_every_transport!(
    a_server_killed_and_restarted_between_two_calls_is_reconnected,
    a_server_down_at_start_joins_a_later_gather_as_recovered,
    a_failed_refresh_serves_the_last_data_as_stale,
    eight_threads_wait_for_one_reconnect,
    a_dead_server_fails_a_call_after_the_attempt_limit_within_the_back_off_bounds,
);

/// A server that can be taken down and brought back.
struct Flaky {
    srv: Srv,
    /// Stdio: the link the config starts, and what it points to.
    link: Option<(PathBuf, PathBuf)>,
    _dir: Scratch,
}

impl Flaky {
    fn start(spec: Spec, kind: Kind) -> Flaky {
        let srv = spec.tool("t", "answered").start(kind);
        let dir = Scratch::new("flaky");
        let link = match srv.config("x", 0).transport {
            Transport::Stdio { command, .. } => {
                let link = dir.0.join("server");
                std::os::unix::fs::symlink(&command, &link).unwrap();
                Some((link, PathBuf::from(command)))
            }
            _ => None,
        };
        Flaky { srv, link, _dir: dir }
    }

    fn config(&self, name: &str, priority: u32) -> ServerConfig {
        let mut c = self.srv.config(name, priority);
        if let (Transport::Stdio { command, .. }, Some((link, _))) = (&mut c.transport, &self.link) {
            *command = link.to_string_lossy().into_owned();
        }
        c
    }

    /// Down: nothing answers, nothing can be started.
    fn down(&mut self) {
        if let Some((link, _)) = &self.link {
            std::fs::remove_file(link).unwrap();
        }
        self.srv.kill();
    }

    /// Up again where the config points.
    fn up(&mut self) {
        match &self.link {
            Some((link, target)) => std::os::unix::fs::symlink(target, link).unwrap(),
            None => self.srv.restart(),
        }
    }

    /// Crashed and back at once (the stdio server is simply killed: the next spawn starts it).
    fn crash_and_restart(&mut self) {
        self.srv.kill();
        self.srv.restart();
    }

    /// Sessions started on the server as it runs now (stdio: processes started, all told).
    fn sessions(&self) -> u64 {
        self.srv.sessions()
    }
}

fn orchestration(fail_fast: bool) -> Orchestration {
    let mut o = Orchestration::default();
    o.fail_fast = fail_fast;
    o.backoff_min = Duration::from_millis(20);
    o.backoff_max = Duration::from_millis(100);
    o
}

fn orchestrator(servers: Vec<ServerConfig>, o: Orchestration) -> Orchestrator {
    Orchestrator::new(Config::new(servers, o).unwrap())
}

/// Waits until the session the orchestrator holds has seen its server go (stream ended,
/// process exited). Streamable HTTP has no stream here: its next request finds out.
fn wait_until_noticed(kind: Kind, before: &mcp_orchestrator::Client) {
    if kind != Kind::StreamableHttp {
        eventually("the session notices its server is gone", || before.is_closed());
    }
}

fn a_server_killed_and_restarted_between_two_calls_is_reconnected(kind: Kind) {
    let mut a = Flaky::start(sample(1), kind);
    let o = orchestrator(vec![a.config("a", 1)], orchestration(true));
    o.initialize().unwrap();
    assert_eq!(o.call_tool("t", json!({})).unwrap().text(), "answered");
    let before = o.client("a").unwrap();
    a.crash_and_restart();
    wait_until_noticed(kind, &before);
    // No close(), no initialize(): the next call finds the session dead and makes a new one.
    assert_eq!(o.call_tool("t", json!({})).unwrap().text(), "answered");
    assert_eq!(o.call_tool_on(Some("a"), "t", json!({})).unwrap().text(), "answered");
    let expected = if kind == Kind::Stdio { 2 } else { 1 }; // the restarted HTTP server counts anew
    assert_eq!(a.sessions(), expected);
    assert!(!o.client("a").unwrap().is_closed());
    o.close();
}

fn a_server_down_at_start_joins_a_later_gather_as_recovered(kind: Kind) {
    let up = sample(2).start(kind);
    let mut late = Flaky::start(sample(0).text("late://x", "late"), kind);
    late.down();
    let o = orchestrator(vec![up.config("up", 1), late.config("late", 2)], orchestration(false));
    o.initialize().unwrap();
    assert!(o.connect_failures().contains_key("late"));
    let g = o.gather_all_resources().unwrap();
    assert_eq!(g.server("late").unwrap().status, Status::Failed);
    assert!(g.resource("late://x").is_none());
    late.up();
    // The next gathers retry it once its back-off has passed; then it is in the catalogue.
    let mut joined = None;
    eventually("the late server joins a gather", || {
        let g = o.gather_all_resources().unwrap();
        let ok = g.server("late").unwrap().status == Status::Ok;
        if ok {
            joined = Some(g);
        }
        ok
    });
    let g = joined.unwrap();
    let outcome = g.server("late").unwrap();
    assert!(outcome.recovered, "{outcome:?}");
    assert!(outcome.protocol.is_some() && outcome.error.is_none(), "{outcome:?}");
    assert_eq!(g.resource("late://x").unwrap().server, "late");
    assert_eq!(g.tool("t").unwrap().server, "late");
    assert!(o.connect_failures().is_empty());
    // Within the TTL the next gather is that same one (an outcome describes the gather that
    // built it).
    assert!(Arc::ptr_eq(&o.gather_all_resources().unwrap(), &g));
    o.close();
}

fn a_failed_refresh_serves_the_last_data_as_stale(kind: Kind) {
    for serve_stale in [true, false] {
        let mut a = Flaky::start(sample(3), kind);
        let mut orch = orchestration(false);
        orch.resource_cache_ttl = Duration::from_millis(50);
        orch.serve_stale = serve_stale;
        orch.max_retries = 0;
        let other = sample(1).name("other").start(kind);
        let o = orchestrator(vec![a.config("a", 1), other.config("other", 2)], orch);
        o.initialize().unwrap();
        let fresh = o.gather_all_resources().unwrap();
        assert_eq!(fresh.server("a").unwrap().status, Status::Ok);
        a.down();
        std::thread::sleep(Duration::from_millis(60)); // past the TTL: the next gather refreshes
        let g = o.gather_all_resources().unwrap();
        let out = g.server("a").unwrap();
        let error = out.error.as_ref().expect("the refresh's error");
        assert_eq!(error.server(), Some("a"), "{error}");
        if serve_stale {
            assert_eq!(out.status, Status::Stale, "{out:?}");
            assert!(Arc::ptr_eq(out.data.as_ref().unwrap(), fresh.server("a").unwrap().data.as_ref().unwrap()));
            assert_eq!(g.resources.len(), 3, "the stale part stays in the catalogue");
            assert_eq!(g.tool("t").unwrap().server, "a");
        } else {
            assert_eq!(out.status, Status::Failed, "{out:?}");
            assert!(out.data.is_none());
            assert_eq!(g.resources.len(), 1, "only the other server's part");
        }
        assert_eq!(out.transport, kind_word(kind));
        assert_eq!(g.server("other").unwrap().status, Status::Ok);
        o.close();
    }
}

fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Sse => "sse",
        Kind::StreamableHttp => "streamable_http",
        Kind::Stdio => "stdio",
    }
}

fn eight_threads_wait_for_one_reconnect(kind: Kind) {
    let mut a = Flaky::start(sample(0), kind);
    let o = Arc::new(orchestrator(vec![a.config("a", 1)], orchestration(true)));
    o.initialize().unwrap();
    o.gather_all_resources().unwrap(); // the catalogue, so that the calls only route
    let before = o.client("a").unwrap();
    a.crash_and_restart();
    wait_until_noticed(kind, &before);
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (o, barrier) = (o.clone(), barrier.clone());
            std::thread::Builder::new()
                .name(format!("caller-{i}"))
                .spawn(move || {
                    barrier.wait();
                    o.call_tool("t", json!({})).map(|r| r.text())
                })
                .unwrap()
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap(), "answered");
    }
    // One new session for all eight (stdio: the first process and one more).
    let expected = if kind == Kind::Stdio { 2 } else { 1 };
    assert_eq!(a.sessions(), expected);
    o.close();
}

fn a_dead_server_fails_a_call_after_the_attempt_limit_within_the_back_off_bounds(kind: Kind) {
    let mut a = Flaky::start(sample(0), kind);
    let mut orch = orchestration(true);
    orch.max_retries = 2;
    orch.backoff_min = Duration::from_millis(100);
    orch.backoff_max = Duration::from_millis(150);
    orch.resource_cache_ttl = Duration::ZERO;
    let o = orchestrator(vec![a.config("a", 1)], orch);
    o.initialize().unwrap();
    let before = o.client("a").unwrap();
    a.down();
    if kind == Kind::StreamableHttp {
        // Nothing tells the session its server went (no stream): the call's POST is refused.
        let err = o.call_tool_on(Some("a"), "t", json!({})).unwrap_err();
        assert!(matches!(err, Error::ConnectionClosed { .. } | Error::Connect { .. }), "{err}");
        assert_eq!(err.server(), Some("a"), "{err}");
        a.up();
        eventually("the server is back for calls", || o.call_tool("t", json!({})).is_ok());
        return;
    }
    wait_until_noticed(kind, &before);
    let t0 = Instant::now();
    let err = o.call_tool_on(Some("a"), "t", json!({})).unwrap_err();
    let took = t0.elapsed();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert_eq!(err.server(), Some("a"), "{err}");
    // Three attempts (1 + max_retries) with two back-offs between them: the first in
    // [50, 100] ms, the second in [75, 150] ms.
    assert!(took >= Duration::from_millis(125), "gave up after {took:?}: fewer attempts or shorter back-offs");
    assert!(took < Duration::from_millis(250) + Duration::from_secs(2), "took {took:?}");
    // A gather does not wait for the back-off: it reports the failure at once.
    let t0 = Instant::now();
    let err = o.gather_all_resources().unwrap_err();
    assert!(t0.elapsed() < Duration::from_millis(90), "{:?}", t0.elapsed());
    assert_eq!(err.server(), Some("a"), "{err}");
    a.up();
    eventually("the server is back for calls", || o.call_tool("t", json!({})).is_ok());
    o.close();
}
