//! A broken reply stream loses the request (issue 11): over Streamable HTTP, on both wires, a
//! reply that ends before the response and cannot be resumed is answered by sending listings
//! and reads again with a new id (once, within the caller's deadline); a `tools/call` only when
//! the tool is annotated `readOnlyHint` or `idempotentHint` in the client's last listing —
//! otherwise the error says the call may have run. Against the test server's
//! `Fault::BreakReply` (an event stream without the response; the server cannot resume it) and
//! `Fault::TruncateReply` (a JSON body cut off).

#![cfg(feature = "testing")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mcp_orchestrator::testing::{Fault, ProtocolMode, TestServer, TestServerBuilder, text_result};
use mcp_orchestrator::{Client, Config, Error, Orchestration, Orchestrator, ProtocolChoice, ServerConfig, Tool};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(10);

/// The handshake era's Streamable HTTP (pinned), or the 2026-07-28 wire (detected).
#[derive(Clone, Copy, Debug)]
enum Wire {
    Handshake,
    Modern,
}

const WIRES: [Wire; 2] = [Wire::Handshake, Wire::Modern];

fn builder(wire: Wire) -> TestServerBuilder {
    let mode = match wire {
        Wire::Handshake => ProtocolMode::HandshakeOnly,
        Wire::Modern => ProtocolMode::ModernOnly,
    };
    TestServer::builder().protocol_mode(mode).with_sample_resources(2)
}

fn config(wire: Wire, server: &TestServer) -> ServerConfig {
    let _ = env_logger::builder().is_test(true).try_init();
    let mut c = ServerConfig::http("s", server.mcp_url());
    if let Wire::Handshake = wire {
        c.protocol = ProtocolChoice::Version("2025-11-25".into());
    }
    c.timeout = TIMEOUT;
    c
}

fn connect(wire: Wire, server: &TestServer) -> Client {
    let client = Client::connect(&config(wire, server)).unwrap();
    assert_eq!(client.is_modern(), matches!(wire, Wire::Modern));
    client
}

/// A tool whose handler counts its runs, with these annotations.
fn counted_tool(
    name: &str,
    annotations: Option<serde_json::Value>,
    runs: &Arc<AtomicUsize>,
) -> (Tool, impl Fn(&serde_json::Value) -> Result<mcp_orchestrator::CallToolResult, String> + Send + Sync + 'static) {
    let tool: Tool = serde_json::from_value(json!({
        "name": name,
        "inputSchema": {"type": "object"},
        "annotations": annotations,
    }))
    .unwrap();
    let runs = runs.clone();
    let handler = move |_: &serde_json::Value| {
        let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(text_result(format!("run {n}")))
    };
    (tool, handler)
}

fn text(result: &mcp_orchestrator::CallToolResult) -> String {
    serde_json::to_value(result).unwrap()["content"][0]["text"].as_str().unwrap_or_default().to_string()
}

/// The error names server, method and op id, and says the connection broke.
fn assert_lost(err: &Error, method: &str, says: &[&str]) {
    assert!(matches!(err, Error::ConnectionClosed { .. }), "{err}");
    assert_eq!((err.server(), err.method()), (Some("s"), Some(method)), "{err}");
    let message = err.to_string();
    assert!(message.contains(&err.op_id().unwrap().to_string()), "{message}");
    for s in says {
        assert!(message.contains(s), "{message:?} does not say {s:?}");
    }
}

#[test]
fn listings_and_reads_whose_reply_broke_are_sent_again_once() {
    for wire in WIRES {
        let server = builder(wire)
            .fault(Fault::BreakReply("resources/list".into(), 1))
            .fault(Fault::TruncateReply("resources/read".into(), 1))
            .fault(Fault::BreakReply("resources/templates/list".into(), 2))
            .start()
            .unwrap();
        let client = connect(wire, &server);
        assert_eq!(client.list_resources().unwrap().len(), 2, "{wire:?}");
        assert_eq!(client.read_resource("test://resource/1").unwrap()[0].text(), Some("content of resource 1"));
        let stats = server.stats();
        assert_eq!((stats.count("resources/list"), stats.count("resources/read")), (2, 2), "{wire:?}");
        // The broken event stream had an event id: the handshake era tries to resume it (the
        // server answers 405) before sending the listing again; the 2026-07-28 wire has no
        // resumption and never tries. A cut-off JSON body has nothing to resume.
        let expected = match wire {
            Wire::Handshake => 1,
            Wire::Modern => 0,
        };
        assert_eq!(stats.resumptions, expected, "{wire:?}");

        // Sent again once only: a second lost reply is the caller's error.
        let err = client.list_resource_templates().unwrap_err();
        assert_lost(&err, "resources/templates/list", &["sent again with a new id", "lost too"]);
        assert_eq!(server.stats().count("resources/templates/list"), 2, "{wire:?}");
        // The session is fine afterwards.
        assert!(client.list_resource_templates().unwrap().is_empty());
        client.close();
    }
}

#[test]
fn a_tool_call_is_sent_again_only_when_the_tool_is_read_only_or_idempotent() {
    let cases = [
        ("lookup", json!({"readOnlyHint": true}), true),
        ("upsert", json!({"readOnlyHint": false, "idempotentHint": true}), true),
        ("append", json!({"destructiveHint": false, "idempotentHint": false}), false),
    ];
    for wire in WIRES {
        for (name, annotations, resent) in &cases {
            let runs = Arc::default();
            let (tool, handler) = counted_tool(name, Some(annotations.clone()), &runs);
            let server =
                builder(wire).tool(tool, handler).fault(Fault::BreakReply("tools/call".into(), 1)).start().unwrap();
            let client = connect(wire, &server);
            assert_eq!(client.list_tools().unwrap().len(), 1);
            let called = client.call_tool(name, json!({}));
            if *resent {
                assert_eq!(text(&called.unwrap()), "run 2", "{wire:?} {name}: ran twice, answered once");
                assert_eq!(server.stats().count("tools/call"), 2);
            } else {
                let err = called.unwrap_err();
                let tool = format!("`{name}`");
                assert_lost(
                    &err,
                    "tools/call",
                    &[&tool, "may have run", "not annotated readOnlyHint or idempotentHint"],
                );
                assert_eq!(runs.load(Ordering::SeqCst), 1, "{wire:?}: the call ran once and was not sent again");
                assert_eq!(server.stats().count("tools/call"), 1);
                // The fault is spent: the same call goes through now.
                assert_eq!(text(&client.call_tool(name, json!({})).unwrap()), "run 2");
            }
            client.close();
        }

        // A client that never listed the tools does not know the annotations: no resend.
        let runs = Arc::default();
        let (tool, handler) = counted_tool("unlisted", Some(json!({"readOnlyHint": true})), &runs);
        let server =
            builder(wire).tool(tool, handler).fault(Fault::TruncateReply("tools/call".into(), 1)).start().unwrap();
        let client = connect(wire, &server);
        let called = client.call_tool("unlisted", json!({}));
        match wire {
            Wire::Handshake => {
                assert_lost(&called.unwrap_err(), "tools/call", &["may have run", "annotations are unknown"]);
                assert_eq!(runs.load(Ordering::SeqCst), 1);
            }
            // The modern wire lists the tools (for their headers) before the first call: the
            // annotations are known, and the call is sent again.
            Wire::Modern => assert_eq!(text(&called.unwrap()), "run 2"),
        }
        client.close();
    }
}

#[test]
fn the_orchestrator_resends_an_idempotent_call_with_the_annotations_of_its_gather() {
    let runs = Arc::default();
    let (tool, handler) = counted_tool("lookup", Some(json!({"readOnlyHint": true})), &runs);
    let server =
        builder(Wire::Handshake).tool(tool, handler).fault(Fault::BreakReply("tools/call".into(), 1)).start().unwrap();
    let orchestrator =
        Orchestrator::new(Config::new(vec![config(Wire::Handshake, &server)], Orchestration::default()).unwrap());
    orchestrator.initialize().unwrap();
    orchestrator.gather_all_resources().unwrap();
    assert_eq!(text(&orchestrator.call_tool("lookup", json!({})).unwrap()), "run 2");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    orchestrator.close();
}

#[test]
fn the_resend_stays_within_the_callers_deadline() {
    for wire in WIRES {
        let server = builder(wire)
            .fault(Fault::BreakReply("resources/list".into(), 1))
            .fault(Fault::Delay("resources/list".into(), Duration::from_millis(700)))
            .start()
            .unwrap();
        let mut c = config(wire, &server);
        c.timeout = Duration::from_secs(1);
        let client = Client::connect(&c).unwrap();
        let started = Instant::now();
        let err = client.list_resources().unwrap_err();
        let took = started.elapsed();
        assert!(matches!(err, Error::Timeout { .. }), "{wire:?}: {err}");
        assert_eq!((err.server(), err.method()), (Some("s"), Some("resources/list")));
        // The deadline (1 s) plus scheduling slack, not a second full attempt on top of it.
        assert!(took < Duration::from_millis(1900), "{wire:?}: took {took:?}");
        assert_eq!(server.stats().count("resources/list"), 2, "{wire:?}: the resend went out");
        client.close();
    }
}
