//! Faults of stdio servers (`mcp-test-server`): processes that hang, ignore end of input and
//! SIGTERM, exit at once, or leave a grandchild holding stdout. Whatever they do, the caller's
//! error arrives within its deadline (plus slack), `close()` is bounded, and no process the
//! library started remains after `close()` (or after a failed call's clean-up).

#![cfg(all(feature = "testing", target_os = "linux"))]

#[path = "support/stdio.rs"]
mod stdio;
#[path = "support/wait.rs"]
mod wait;

use std::time::{Duration, Instant};

use mcp_orchestrator::{Client, Config, Error, Orchestration, Orchestrator};
use stdio::{Scratch, config, exists, pids, running, threads};
use wait::eventually;

/// `--pid-file` in `dir`, waited for: the server's `(pid, grandchild pid or 0)`.
fn started(path: &str) -> (u32, u32) {
    eventually("the server wrote its pid file", || pids(path).is_some());
    pids(path).unwrap()
}

const FAILING_TIMEOUT: Duration = Duration::from_secs(1);

fn fail_fast() -> Orchestration {
    let mut o = Orchestration::default();
    o.fail_fast = true;
    o
}

/// One server fails its handshake (timeout 1 s: time enough for the other to have started and
/// written its pid file, even on a loaded machine) while another, which ignores end of input
/// and SIGTERM and has a grandchild, is still connecting (timeout 30 s).
fn failing_while_one_connects(dir: &Scratch) -> (Orchestrator, String) {
    let pid_file = dir.path("slow.pid");
    let mut failing = config("failing", &["--never-answer", "initialize"]);
    failing.timeout = FAILING_TIMEOUT;
    let mut slow = config(
        "slow",
        &["--never-answer", "initialize", "--ignore-eof", "--ignore-sigterm", "--grandchild", "--pid-file", &pid_file],
    );
    slow.timeout = Duration::from_secs(30);
    let o = Orchestrator::new(Config::new(vec![failing, slow], fail_fast()).unwrap());
    (o, pid_file)
}

fn assert_handshake_timeout(err: &Error, server: &str) {
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_eq!(err.server(), Some(server), "{err}");
    assert_eq!(err.method(), Some("initialize"), "{err}");
    let op = err.op_id().expect("an op id").to_string();
    assert!(err.to_string().contains(&op), "{err}");
}

#[test]
fn fail_fast_ends_a_stdio_server_still_connecting() {
    let dir = Scratch::new("failfast");
    let (o, pid_file) = failing_while_one_connects(&dir);
    let t0 = Instant::now();
    let err = o.initialize().unwrap_err();
    let took = t0.elapsed();
    assert_handshake_timeout(&err, "failing");
    assert!(took < FAILING_TIMEOUT + Duration::from_secs(1), "fail-fast took {took:?}");
    let (pid, grandchild) = started(&pid_file);
    // Its connect was abandoned: the process group is killed and the child reaped off the
    // caller's path, without waiting for its 30 s timeout or for close().
    eventually("the abandoned server is killed and reaped", || !exists(pid));
    eventually("its grandchild is killed", || !running(grandchild));
    drop(o);
}

#[test]
fn close_after_fail_fast_leaves_no_process() {
    let dir = Scratch::new("failfast-close");
    let (o, pid_file) = failing_while_one_connects(&dir);
    assert_handshake_timeout(&o.initialize().unwrap_err(), "failing");
    let (pid, grandchild) = started(&pid_file);
    let t0 = Instant::now();
    o.close();
    assert!(t0.elapsed() < Duration::from_secs(3), "close took {:?}", t0.elapsed());
    // Right after close() returns: nothing left, not even a zombie of the child.
    assert!(!exists(pid), "process {pid} remains after close()");
    eventually("the grandchild is killed", || !running(grandchild));
}

#[test]
fn close_during_a_stdio_initialize_leaves_no_process() {
    let dir = Scratch::new("close-init");
    let pid_file = dir.path("hang.pid");
    let mut hang = config("hang", &["--never-answer", "initialize", "--ignore-eof", "--pid-file", &pid_file]);
    hang.timeout = Duration::from_secs(30);
    let o = std::sync::Arc::new(Orchestrator::new(Config::new(vec![hang], fail_fast()).unwrap()));
    let connecting = {
        let o = o.clone();
        std::thread::spawn(move || o.initialize())
    };
    let (pid, _) = started(&pid_file);
    let t0 = Instant::now();
    o.close();
    assert!(t0.elapsed() < Duration::from_secs(3), "close took {:?}", t0.elapsed());
    assert!(!exists(pid), "process {pid} remains after close()");
    let t0 = Instant::now();
    let err = connecting.join().unwrap().unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(3), "initialize returned {:?} after close", t0.elapsed());
    assert!(matches!(err, Error::Closed { .. }), "{err}");
}

#[test]
fn a_grandchild_holding_stdout_is_killed_on_close_and_on_drop() {
    for by_drop in [false, true] {
        let dir = Scratch::new("grandchild");
        let pid_file = dir.path("gc.pid");
        let mut c = config("gc", &["--grandchild", "--exit-on", "ping", "--pid-file", &pid_file]);
        c.timeout = Duration::from_millis(500);
        let client = Client::connect(&c).unwrap();
        let (pid, grandchild) = started(&pid_file);
        assert!(grandchild != 0 && running(grandchild));
        // The child exits; its grandchild keeps stdout open, so the session does not see it.
        let err = client.ping().unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        assert_eq!((err.server(), err.method()), (Some("gc"), Some("ping")), "{err}");
        let t0 = Instant::now();
        if by_drop {
            drop(client);
        } else {
            client.close();
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "closing took {:?}", t0.elapsed());
        assert!(!exists(pid), "the child {pid} remains (by drop: {by_drop})");
        eventually("the grandchild is killed with its group", || !running(grandchild));
    }
}

#[test]
fn close_is_bounded_when_the_child_ignores_end_of_input_and_sigterm() {
    let dir = Scratch::new("stubborn");
    let pid_file = dir.path("stubborn.pid");
    // A two-letter name: the thread names (`mcp-stdio:Q7`, `mcp-stdio-in:Q7`) fit in Linux's
    // 15 bytes, and no other test uses a name starting with `Q`.
    let c = config(
        "Q7",
        &["--resources", "1", "--ignore-eof", "--ignore-sigterm", "--grandchild", "--pid-file", &pid_file],
    );
    let client = Client::connect(&c).unwrap();
    assert_eq!(client.list_resources().unwrap().len(), 1);
    let (pid, grandchild) = started(&pid_file);
    assert_eq!(threads("mcp-stdio").iter().filter(|t| t.ends_with(":Q7")).count(), 2, "{:?}", threads("mcp-"));
    let t0 = Instant::now();
    client.close();
    let took = t0.elapsed();
    // 2 s of grace after end of input, 1 s after SIGTERM, then SIGKILL: about 3 s.
    assert!(took < Duration::from_secs(6), "close took {took:?}");
    assert!(!exists(pid), "process {pid} remains after close()");
    eventually("the grandchild is killed", || !running(grandchild));
    let left: Vec<String> =
        threads("mcp-stdio").into_iter().filter(|t| t.ends_with(":Q7") || t == "mcp-stdio-err:Q").collect();
    assert!(left.is_empty(), "threads left after close: {left:?}");
}

/// An orchestrator closes its sessions one after the other while each close is quick, and the
/// rest in parallel once one is not: three children that each take their full exit grace
/// (about 3 s) among quick ones still close in about one grace, not three.
#[test]
fn an_orchestrators_close_is_bounded_by_one_grace_when_several_children_are_stubborn() {
    let dir = Scratch::new("stubborn-many");
    let mut servers = vec![config("quick-a", &["--resources", "1"])];
    let mut pid_files = Vec::new();
    for name in ["R1", "R2", "R3"] {
        let pid_file = dir.path(&format!("{name}.pid"));
        servers.push(config(name, &["--resources", "1", "--ignore-eof", "--ignore-sigterm", "--pid-file", &pid_file]));
        pid_files.push(pid_file);
    }
    servers.push(config("quick-b", &["--resources", "1"]));
    for (i, s) in servers.iter_mut().enumerate() {
        s.priority = i as u32;
    }
    let o = Orchestrator::new(Config::new(servers, Orchestration::default()).unwrap());
    let gathered = o.gather_all_resources().unwrap();
    assert!(gathered.servers.iter().all(|s| s.error.is_none()), "{:?}", gathered.servers);
    let pids: Vec<u32> = pid_files.iter().map(|f| started(f).0).collect();
    let t0 = Instant::now();
    o.close();
    let took = t0.elapsed();
    // One stubborn child: 2 s of grace after end of input, 1 s after SIGTERM, then SIGKILL.
    // Closed one after the other, three would take about 9 s.
    assert!(took < Duration::from_secs(6), "close took {took:?}");
    for pid in pids {
        assert!(!exists(pid), "process {pid} remains after close()");
    }
}

#[test]
fn a_stdio_handshake_timeout_arrives_within_its_deadline() {
    let dir = Scratch::new("deadline");
    let pid_file = dir.path("deaf.pid");
    let mut c = config("deaf", &["--never-answer", "initialize", "--ignore-eof", "--pid-file", &pid_file]);
    c.timeout = Duration::from_millis(500);
    let t0 = Instant::now();
    let err = Client::connect(&c).unwrap_err();
    let took = t0.elapsed();
    assert_handshake_timeout(&err, "deaf");
    // The child's exit grace (2 s) and its killing happen after the error is returned.
    assert!(took < Duration::from_millis(500) + Duration::from_millis(700), "the error took {took:?}");
    let (pid, _) = started(&pid_file);
    eventually("the child is reaped off the caller's path", || !exists(pid));
    eventually("the closing thread has ended", || threads("mcp-close:deaf").is_empty());
}

#[test]
fn a_stdio_child_that_exits_at_once_fails_quickly_naming_its_status() {
    let c = config("quitter", &["--exit-at-start", "3"]);
    let t0 = Instant::now();
    let err = Client::connect(&c).unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(2), "took {:?}", t0.elapsed());
    match &err {
        Error::ConnectionClosed { server, method, detail, .. } => {
            // The first process ended during the protocol probe: it was started again, once,
            // straight into `initialize` (a server that exits on the unknown probe would
            // answer that), and exited again.
            assert_eq!((server.as_str(), method.as_str()), ("quitter", "initialize"));
            assert!(detail.contains("exit status: 3"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

/// Run by [`close_needs_no_kill_utility`] in a child process whose `PATH` is empty.
#[test]
#[ignore = "run by close_needs_no_kill_utility in a child process whose PATH is empty"]
fn close_with_an_empty_path() {
    // Meant for an empty PATH; with any PATH it is still a valid test of close().
    let dir = Scratch::new("no-path");
    let pid_file = dir.path("deaf.pid");
    let c = config("deaf", &["--resources", "1", "--ignore-eof", "--grandchild", "--pid-file", &pid_file]);
    let client = Client::connect(&c).unwrap();
    assert_eq!(client.list_resources().unwrap().len(), 1);
    let (pid, grandchild) = started(&pid_file);
    client.close();
    assert!(!exists(pid), "process {pid} remains after close()");
    eventually("the grandchild is killed with its group", || !running(grandchild));
}

#[test]
fn close_needs_no_kill_utility() {
    // The process group is signalled with kill(2), not by running `kill` from PATH: with no
    // PATH at all, closing still ends the child and its grandchild.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "close_with_an_empty_path", "--test-threads", "1"])
        .env("PATH", "")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("1 passed"), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn server_requests_and_notifications_travel_over_stdio() {
    let dir = Scratch::new("chatty");
    let log = dir.path("events.log");
    let c = config("chatty", &["--resources", "2", "--ping-client", "--notify-after-initialized", "--event-log", &log]);
    let notes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = notes.clone();
    let client = Client::builder(&c)
        .on_notification(move |server, n| sink.lock().unwrap().push(format!("{server} {}", n.method)))
        .connect()
        .unwrap();
    assert_eq!(client.list_resources().unwrap().len(), 2);
    eventually("the server's ping is answered", || {
        std::fs::read_to_string(&log).unwrap_or_default().lines().any(|l| l == "chatty answer ping")
    });
    eventually("both notifications arrive", || notes.lock().unwrap().len() == 2);
    assert_eq!(*notes.lock().unwrap(), ["chatty notifications/message", "chatty notifications/progress"]);
    client.close();
    let events = std::fs::read_to_string(&log).unwrap();
    assert!(events.lines().last() == Some("chatty eof"), "{events}");
}

#[test]
fn a_line_that_is_not_json_is_skipped_and_a_delay_is_waited_for() {
    let mut c =
        config("odd", &["--resources", "1", "--malformed-before", "resources/list", "--delay", "tools/list=300"]);
    c.timeout = Duration::from_secs(2);
    let client = Client::connect(&c).unwrap();
    assert_eq!(client.list_resources().unwrap().len(), 1);
    let t0 = Instant::now();
    assert!(client.list_tools().unwrap().is_empty());
    assert!(t0.elapsed() >= Duration::from_millis(300), "the delayed answer came after {:?}", t0.elapsed());
    client.close();
}

#[test]
fn an_over_long_line_is_a_limit_error_naming_the_server() {
    let c = config("long", &["--oversized", "100000"]);
    let t0 = Instant::now();
    let err = Client::builder(&c).max_event_bytes(4096).connect().unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(2), "took {:?}", t0.elapsed());
    match &err {
        Error::Limit { server, method, what, limit, .. } => {
            assert_eq!(
                (server.as_str(), method.as_str()),
                ("long", "server/discover"),
                "the first request is the protocol probe"
            );
            assert_eq!((*what, *limit), ("message size", 4096));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_server_that_exits_on_a_request_fails_it_naming_the_exit() {
    let client = Client::connect(&config("crash", &["--resources", "1", "--exit-on", "resources/list"])).unwrap();
    let t0 = Instant::now();
    let err = client.list_resources().unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(2), "took {:?}", t0.elapsed());
    match &err {
        Error::ConnectionClosed { server, method, detail, op } => {
            assert_eq!((server.as_str(), method.as_str()), ("crash", "resources/list"));
            assert!(detail.contains("exited (exit status: 0)"), "{detail}");
            assert!(err.to_string().contains(&op.to_string()), "{err}");
        }
        other => panic!("{other:?}"),
    }
    assert!(client.is_closed());
    client.close();
}

#[test]
fn fail_fast_returns_without_waiting_for_open_sessions_to_close() {
    let dir = Scratch::new("failfast-open");
    let pid_file = dir.path("stubborn.pid");
    // Connected at once, but it takes EXIT_GRACE + TERM_GRACE (3 s) to close gracefully.
    let stubborn = config("stubborn", &["--ignore-eof", "--ignore-sigterm", "--pid-file", &pid_file]);
    let mut failing = config("failing", &["--never-answer", "initialize"]);
    failing.timeout = FAILING_TIMEOUT;
    let o = Orchestrator::new(Config::new(vec![stubborn, failing], fail_fast()).unwrap());
    let t0 = Instant::now();
    let err = o.initialize().unwrap_err();
    let took = t0.elapsed();
    assert_handshake_timeout(&err, "failing");
    assert!(took < FAILING_TIMEOUT + Duration::from_secs(1), "fail-fast took {took:?}");
    let (pid, _) = started(&pid_file);
    // Its graceful close is still under way; close() ends it at once.
    let t0 = Instant::now();
    o.close();
    assert!(t0.elapsed() < Duration::from_secs(3), "close took {:?}", t0.elapsed());
    assert!(!exists(pid), "process {pid} remains after close()");
}
