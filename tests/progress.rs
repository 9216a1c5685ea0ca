//! `Orchestrator::on_progress`: per-server events as `initialize` connects and a gather
//! gathers, against test servers on 127.0.0.1 (one refusing connections, one that never
//! answers its listing).

#![cfg(feature = "testing")]

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use mcp_orchestrator::testing::{Fault, TestServer, text_result};
use mcp_orchestrator::{Config, ErrorKind, Orchestration, Orchestrator, ProgressEvent, ProgressStage, ServerConfig};

/// What the callback saw: the event and the name of the thread it ran on.
type Seen = Arc<Mutex<Vec<(ProgressEvent, String)>>>;

fn events_of<'a>(seen: &'a [(ProgressEvent, String)], server: &str) -> Vec<&'a ProgressEvent> {
    seen.iter().filter(|(e, _)| e.server() == server).map(|(e, _)| e).collect()
}

/// Runs `f` on a thread and waits for it at most `limit`: a callback called under one of the
/// orchestrator's locks would deadlock when it calls back in, and the test must fail, not hang.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::Builder::new()
        .name("progress-test".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .unwrap();
    let out = rx.recv_timeout(limit).unwrap_or_else(|_| panic!("not done within {limit:?} (a deadlock?)"));
    worker.join().unwrap();
    out
}

#[test]
fn each_server_reports_connecting_connected_gathering_gathered_or_failed_in_order() {
    let a = TestServer::builder()
        .name("server-a")
        .with_sample_resources(3)
        .simple_tool("echo", "", |_| Ok(text_result("x")))
        .prompt("greet", "hello {who}")
        .start()
        .unwrap();
    let down = TestServer::builder().fault(Fault::RefuseConnections).start().unwrap();
    let stuck = TestServer::builder()
        .with_sample_resources(1)
        .fault(Fault::NeverAnswer("resources/list".into()))
        .start()
        .unwrap();
    let mut o = Orchestration::default();
    o.fail_fast = false;
    let servers = vec![
        ServerConfig::sse("a", a.url()).priority(1),
        ServerConfig::sse("down", down.url()).priority(2),
        ServerConfig::sse("stuck", stuck.url()).priority(3).timeout(Duration::from_millis(500)),
        ServerConfig::sse("off", "http://127.0.0.1:9/sse").priority(4).enabled(false),
    ];
    let orchestrator = Arc::new(Orchestrator::new(Config::new(servers, o).unwrap()));

    let seen: Seen = Arc::default();
    let log = seen.clone();
    let me: Weak<Orchestrator> = Arc::downgrade(&orchestrator);
    orchestrator.on_progress(move |e| {
        // Called on no lock: calling the orchestrator back must not deadlock.
        if let Some(o) = me.upgrade() {
            let _ = o.cache_stats();
            let _ = o.connect_failures();
        }
        let thread = std::thread::current().name().unwrap_or("?").to_string();
        log.lock().unwrap().push((e.clone(), thread));
    });

    let o = orchestrator.clone();
    let g = within(Duration::from_secs(60), move || {
        o.initialize().unwrap();
        o.gather_all_resources().unwrap()
    });
    let seen = seen.lock().unwrap().clone();

    // a: connecting, connected (its protocol and transport), gathering, gathered (its counts).
    let client = orchestrator.client("a").unwrap();
    let ev = events_of(&seen, "a");
    assert_eq!(ev.len(), 4, "{ev:#?}");
    assert!(matches!(ev[0], ProgressEvent::Connecting { .. }), "{ev:#?}");
    match ev[1] {
        ProgressEvent::Connected { protocol, transport, elapsed, .. } => {
            assert_eq!((protocol.as_str(), *transport), (client.protocol_version(), "sse"));
            assert!(*elapsed > Duration::ZERO);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(ev[2], ProgressEvent::Gathering { .. }), "{ev:#?}");
    match ev[3] {
        ProgressEvent::Gathered { resources, templates, tools, prompts, contents, .. } => {
            assert_eq!((*resources, *templates, *tools, *prompts, *contents), (3, 0, 1, 1, 3));
        }
        other => panic!("{other:?}"),
    }
    // The gather's events carry its per-server op ids (`<gather op>.<i>`).
    assert!(ev[3].op().as_str().starts_with(&format!("{}.", g.op)), "{} vs {}", ev[3].op(), g.op);
    assert_eq!(ev[2].op(), ev[3].op());
    assert_eq!(ev[0].op(), ev[1].op());

    // down: connecting, then failed to connect, unreachable; the gather tries it once more
    // (it was down at initialize) and fails again.
    let ev = events_of(&seen, "down");
    assert_eq!(ev.len(), 4, "{ev:#?}");
    assert!(matches!(ev[0], ProgressEvent::Connecting { .. }), "{ev:#?}");
    assert!(matches!(ev[2], ProgressEvent::Gathering { .. }), "{ev:#?}");
    for (event, expected) in [(ev[1], ProgressStage::Connect), (ev[3], ProgressStage::Gather)] {
        match event {
            ProgressEvent::Failed { stage, kind, error, .. } => {
                assert_eq!((*stage, *kind), (expected, ErrorKind::Unreachable));
                assert_eq!(error.server(), Some("down"));
            }
            other => panic!("{other:?}"),
        }
    }

    // stuck: connected, then its gather timed out.
    let ev = events_of(&seen, "stuck");
    assert_eq!(ev.len(), 4, "{ev:#?}");
    match ev[3] {
        ProgressEvent::Failed { stage, kind, error, .. } => {
            assert_eq!((*stage, *kind), (ProgressStage::Gather, ErrorKind::Timeout));
            assert!(error.to_string().contains("resources/list"), "{error}");
        }
        other => panic!("{other:?}"),
    }

    // A disabled server is not reported; every event ran on a pool thread.
    assert!(events_of(&seen, "off").is_empty());
    assert!(seen.iter().all(|(_, thread)| thread.starts_with("mcp-orchestrator-")), "{seen:#?}");

    orchestrator.close();
}

#[test]
fn a_warm_gather_reports_nothing_and_a_panicking_callback_changes_nothing() {
    let a = TestServer::builder().with_sample_resources(2).start().unwrap();
    let config = Config::builder().server(ServerConfig::sse("a", a.url())).build().unwrap();
    let orchestrator = Orchestrator::new(config);
    let count = Arc::new(Mutex::new(0usize));
    let c = count.clone();
    orchestrator.on_progress(|_| panic!("a callback that panics"));
    orchestrator.on_progress(move |_| *c.lock().unwrap() += 1);
    orchestrator.initialize().unwrap();
    let g = orchestrator.gather_all_resources().unwrap();
    assert_eq!(g.resources.len(), 2);
    assert_eq!(*count.lock().unwrap(), 4, "connecting, connected, gathering, gathered");
    let again = orchestrator.gather_all_resources().unwrap();
    assert!(Arc::ptr_eq(&g, &again));
    assert_eq!(*count.lock().unwrap(), 4, "the warm gather asked no server");
    orchestrator.close();
}
