//! Faults the session layer answers for, whatever the transport: cancellation off the caller's
//! path, no cancellation of `initialize`, the listing budget. Each test asserts the error kind,
//! that the message names server, method and op id, and an upper time bound with slack.

#![cfg(feature = "testing")]

#[path = "support/wait.rs"]
mod wait;

use std::time::{Duration, Instant};

use mcp_orchestrator::testing::{Fault, TestServer};
use mcp_orchestrator::{Client, Config, Error, RequestId, ServerConfig};
use serde_json::json;
use wait::eventually;

/// What a caller may wait beyond its deadline (scheduling on a busy machine), far below the
/// 2 s a cancel notice may take.
const SLACK: Duration = Duration::from_millis(900);

fn config(server: &TestServer, timeout: Duration) -> ServerConfig {
    let mut c = ServerConfig::sse("slow", server.url());
    c.timeout = timeout;
    c
}

/// The message names the server, the method and the op id.
fn assert_names(err: &Error, method: &str) {
    let text = err.to_string();
    assert!(text.contains("`slow`") && text.contains(method), "{text}");
    let op = err.op_id().expect("an op id");
    assert!(text.contains(&format!("op {op}")), "{text}");
}

#[test]
fn a_timed_out_request_fails_within_its_deadline_and_is_still_cancelled() {
    // The server never answers the call and takes 3 s to accept the cancel notice: telling it
    // must not delay the caller's error.
    let server = TestServer::builder()
        .fault(Fault::NeverAnswer("tools/call".into()))
        .fault(Fault::SlowAccept("notifications/cancelled".into(), Duration::from_secs(3)))
        .start()
        .unwrap();
    let timeout = Duration::from_millis(1500);
    let client = Client::connect(&config(&server, timeout)).unwrap();
    let t0 = Instant::now();
    let err = client.call_tool("anything", json!({})).unwrap_err();
    let took = t0.elapsed();
    assert!(took < timeout + SLACK, "the error came after {took:?} (deadline {timeout:?})");
    assert!(matches!(&err, Error::Timeout { .. }) && err.to_string().contains("no response"), "{err}");
    assert_names(&err, "tools/call");
    // The notice still reaches the server, off the caller's path. `initialize` was request 1.
    eventually("the server receives notifications/cancelled for the call", || {
        server.stats().cancelled.iter().any(|c| c.request_id == Some(RequestId::Number(2)))
    });
    assert_eq!(server.stats().count("tools/call"), 1);
    // Closing stays bounded with the clean-up thread started.
    let t1 = Instant::now();
    client.close();
    assert!(t1.elapsed() < Duration::from_secs(2) + SLACK, "close took {:?}", t1.elapsed());
}

#[test]
fn a_batch_of_timed_out_reads_fails_within_its_deadline() {
    let server = TestServer::builder()
        .with_sample_resources(3)
        .fault(Fault::NeverAnswer("resources/read".into()))
        .fault(Fault::SlowAccept("notifications/cancelled".into(), Duration::from_secs(3)))
        .start()
        .unwrap();
    let timeout = Duration::from_millis(1000);
    let client = Client::connect(&config(&server, timeout)).unwrap();
    let t0 = Instant::now();
    let results = client.read_resources(&["test://resource/0", "test://resource/1", "test://resource/2"]);
    let took = t0.elapsed();
    assert!(took < timeout + SLACK, "the errors came after {took:?} (deadline {timeout:?})");
    for r in &results {
        let err = r.as_ref().unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        assert_names(err, "resources/read");
    }
    eventually("the server receives a cancel notice", || !server.stats().cancelled.is_empty());
}

#[test]
fn initialize_is_never_cancelled() {
    let server = TestServer::builder().fault(Fault::NeverAnswer("initialize".into())).start().unwrap();
    let timeout = Duration::from_millis(800);
    let t0 = Instant::now();
    let err = Client::connect(&config(&server, timeout)).unwrap_err();
    let took = t0.elapsed();
    assert!(took < timeout + SLACK, "the error came after {took:?}");
    assert!(matches!(&err, Error::Timeout { .. }), "{err}");
    assert_names(&err, "initialize");
    // The failed connect closed its session: once the server has seen the stream end, every
    // POST the client made has been received, and none was a cancel notice.
    eventually("the server sees the session end", || server.stats().closed_sessions == 1);
    let stats = server.stats();
    assert_eq!(stats.count("initialize"), 1);
    assert_eq!(stats.count("notifications/cancelled"), 0, "{:?}", stats.cancelled);
}

#[test]
fn endless_listing_pages_end_in_the_byte_budget() {
    // Every page is legal (1 MiB, under the event cap) and names a next one.
    let page = 1024 * 1024;
    let server = TestServer::builder().fault(Fault::EndlessPages(page)).start().unwrap();
    let budget = 4 * page;
    let client =
        Client::builder(&config(&server, Duration::from_secs(20))).listing_budget(budget, 1_000_000).connect().unwrap();
    let err = client.list_resources().unwrap_err();
    match &err {
        Error::Limit { what, limit, .. } => assert_eq!((*what, *limit), ("listing bytes", budget)),
        other => panic!("{other}"),
    }
    assert_names(&err, "resources/list");
    assert!(err.to_string().contains(&budget.to_string()), "{err}");
    // It stopped at the page that crossed the budget.
    assert_eq!(server.stats().count("resources/list"), 4);
    // The session is still usable.
    client.ping().unwrap();
}

#[test]
fn the_item_budget_comes_from_the_config() {
    let server = TestServer::builder().with_sample_resources(10).page_size(2).start().unwrap();
    let yaml = format!(
        "mcp_servers:\n  slow: {{url: '{}', priority: 0, transport: sse, timeout: 10}}\n\
         orchestration:\n  max_listing_items: 3\n",
        server.url()
    );
    let config = Config::from_yaml_str(&yaml).unwrap();
    let client = Client::connect(config.server("slow").unwrap()).unwrap();
    let err = client.list_resources().unwrap_err();
    match &err {
        Error::Limit { what, limit, .. } => assert_eq!((*what, *limit), ("listing items", 3)),
        other => panic!("{other}"),
    }
    assert_names(&err, "resources/list");
    // A server's own key overrides the default.
    let yaml = yaml.replace("timeout: 10}", "timeout: 10, max_listing_items: 10}");
    let config = Config::from_yaml_str(&yaml).unwrap();
    let client = Client::connect(config.server("slow").unwrap()).unwrap();
    assert_eq!(client.list_resources().unwrap().len(), 10);
}

/// The names of this process's threads (Linux; 15 characters at most).
fn thread_names() -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return Vec::new() };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim_end().to_string())
        .collect()
}

#[test]
fn close_interrupts_a_cancel_notice_in_flight_and_joins_the_clean_up_thread() {
    let server = TestServer::builder()
        .fault(Fault::NeverAnswer("tools/call".into()))
        .fault(Fault::SlowAccept("notifications/cancelled".into(), Duration::from_secs(10)))
        .start()
        .unwrap();
    // The notice may take min(2 s, timeout) = 2 s; close must not wait that out.
    let mut config = config(&server, Duration::from_millis(2500));
    config.name = "c1".into();
    let client = Client::connect(&config).unwrap();
    let err = client.call_tool("anything", json!({})).unwrap_err();
    assert!(matches!(&err, Error::Timeout { .. }), "{err}");
    // The server has the notice's POST and holds its 202: the send is in flight.
    eventually("the cancel notice is in flight", || server.stats().count("notifications/cancelled") == 1);
    if cfg!(target_os = "linux") {
        assert!(thread_names().iter().any(|n| n == "mcp-cleanup:c1"), "{:?}", thread_names());
    }
    let t0 = Instant::now();
    client.close();
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(1500), "close took {took:?}");
    // Joined: the kernel drops the thread from /proc a moment after the join returns.
    eventually("the clean-up thread is gone", || !thread_names().iter().any(|n| n == "mcp-cleanup:c1"));
}
