//! The client over the legacy SSE transport against the project's test server, one test per
//! fault. Timings are asserted as upper bounds with slack, never as exact values.

#![cfg(feature = "testing")]

#[path = "support/wait.rs"]
mod wait;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcp_orchestrator::testing::{Fault, TestServer};
use mcp_orchestrator::{CallToolResult, Client, Error, ServerConfig, Tool};
use serde_json::json;
use wait::eventually;

fn config(server: &TestServer, timeout: Duration) -> ServerConfig {
    let mut c = ServerConfig::sse("test", server.url());
    c.timeout = timeout;
    c
}

fn add_tool() -> Tool {
    serde_json::from_value(json!({
        "name": "add",
        "description": "adds two numbers",
        "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}
    }))
    .unwrap()
}

fn add(args: &serde_json::Value) -> Result<CallToolResult, String> {
    let a = args["a"].as_f64().ok_or("a is not a number")?;
    let b = args["b"].as_f64().ok_or("b is not a number")?;
    Ok(CallToolResult::from_text(format!("{}", a + b)).with_structured_content(json!({ "sum": a + b })))
}

#[test]
fn handshake_listing_paging_reads_and_tools() {
    let server = TestServer::builder()
        .name("sample")
        .with_sample_resources(103)
        .blob_resource("test://blob", "blob", "application/octet-stream", &[0, 1, 2, 254, 255])
        .template(serde_json::from_value(json!({"uriTemplate": "test://template/{id}", "name": "template"})).unwrap())
        .tool(add_tool(), add)
        .page_size(10)
        .start()
        .unwrap();
    let client = Client::connect(&config(&server, Duration::from_secs(10))).unwrap();
    assert_eq!(client.server().server_info.name, "sample");
    assert_eq!(client.protocol_version(), mcp_orchestrator::SUPPORTED_PROTOCOL_VERSIONS[0]);

    let resources = client.list_resources().unwrap();
    assert_eq!(resources.len(), 104);
    assert_eq!(resources[0].uri, "test://resource/0");
    assert_eq!(resources[0].name, "resource-0");
    assert_eq!(resources[0].mime_type.as_deref(), Some("text/plain"));
    // 104 resources at 10 a page: 11 requests.
    assert_eq!(server.stats().requests.get("resources/list"), Some(&11));

    let text = client.read_resource("test://resource/7").unwrap();
    assert_eq!(text[0].text(), Some("content of resource 7"));
    let blob = client.read_resource("test://blob").unwrap();
    assert_eq!(blob[0].blob(), Some("AAEC/v8="));
    assert_eq!(blob[0].mime_type.as_deref(), Some("application/octet-stream"));

    let uris = ["test://resource/1", "test://nope", "test://resource/2"];
    let reads = client.read_resources(&uris);
    assert!(
        matches!(&reads[1], Err(Error::ResourceNotFound { code: -32002, uri, .. }) if uri == "test://nope"),
        "{:?}",
        reads[1]
    );
    assert_eq!(reads[2].as_ref().unwrap()[0].text(), Some("content of resource 2"));

    let templates = client.list_resource_templates().unwrap();
    assert_eq!(templates[0].uri_template, "test://template/{id}");
    let tools = client.list_tools().unwrap();
    assert_eq!(tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["add"]);
    let sum = client.call_tool("add", json!({"a": 2, "b": 40})).unwrap();
    assert_eq!(sum.text(), "42");
    assert_eq!(sum.structured_content, Some(json!({"sum": 42.0})));
    let bad = client.call_tool("add", json!({"a": "x"})).unwrap();
    assert!(bad.is_error);
    let unknown = client.call_tool("nope", json!({})).unwrap_err();
    assert!(matches!(unknown, Error::Rpc { ref method, .. } if method == "tools/call"), "{unknown}");
    client.ping().unwrap();
    client.close();
}

#[test]
fn many_threads_share_one_client() {
    let server = TestServer::builder().with_sample_resources(20).start().unwrap();
    let client = Arc::new(Client::connect(&config(&server, Duration::from_secs(10))).unwrap());
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let client = client.clone();
            std::thread::spawn(move || {
                for i in 0..20 {
                    let uri = format!("test://resource/{}", (t + i) % 20);
                    let c = client.read_resource(&uri).unwrap();
                    assert_eq!(c[0].text(), Some(format!("content of resource {}", (t + i) % 20).as_str()));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(server.stats().requests.get("resources/read"), Some(&160));
}

#[test]
fn refused_connection_is_a_connect_error() {
    let server = TestServer::builder().fault(Fault::RefuseConnections).start().unwrap();
    let t0 = Instant::now();
    let err = Client::connect(&config(&server, Duration::from_secs(10))).unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert_eq!(err.server(), Some("test"));
    assert!(err.to_string().starts_with("connect: "), "{err}");
    assert!(err.op_id().is_some());
}

#[test]
fn missing_endpoint_event_times_out_at_the_connect_deadline() {
    let server = TestServer::builder().fault(Fault::NoEndpoint).start().unwrap();
    let t0 = Instant::now();
    let err = Client::connect(&config(&server, Duration::from_millis(500))).unwrap_err();
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(450) && took < Duration::from_secs(4), "{took:?}");
    match &err {
        Error::Timeout { phase, method, .. } => {
            assert_eq!(*phase, "no endpoint event");
            assert_eq!(method, "connect");
        }
        other => panic!("{other}"),
    }
    eventually("the server sees the stream closed", || server.stats().open_sessions == 0);
}

#[test]
fn endpoint_on_another_origin_is_refused() {
    let server = TestServer::builder().fault(Fault::ForeignEndpoint).start().unwrap();
    let err = Client::connect(&config(&server, Duration::from_secs(5))).unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert!(err.to_string().contains("refusing endpoint"), "{err}");
    assert_eq!(server.stats().posts, 0, "nothing may be posted to a foreign origin");
}

#[test]
fn unanswered_request_times_out_and_is_cancelled() {
    let server = TestServer::builder().fault(Fault::NeverAnswer("resources/list".into())).start().unwrap();
    let client = Client::connect(&config(&server, Duration::from_millis(400))).unwrap();
    let t0 = Instant::now();
    let err = client.list_resources().unwrap_err();
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(350) && took < Duration::from_secs(3), "{took:?}");
    match &err {
        Error::Timeout { phase, method, server, .. } => {
            assert_eq!(*phase, "no response");
            assert_eq!(method, "resources/list");
            assert_eq!(server, "test");
        }
        other => panic!("{other}"),
    }
    eventually("the server receives notifications/cancelled", || server.stats().cancelled.len() == 1);
    // The session is still usable after a timeout.
    client.ping().unwrap();
}

#[test]
fn delayed_answer_within_the_deadline_succeeds() {
    let server = TestServer::builder()
        .with_sample_resources(3)
        .fault(Fault::Delay("resources/list".into(), Duration::from_millis(300)))
        .start()
        .unwrap();
    let client = Client::connect(&config(&server, Duration::from_secs(5))).unwrap();
    // A delayed answer does not hold up other requests on the same session.
    std::thread::scope(|s| {
        let slow = s.spawn(|| client.list_resources());
        let t0 = Instant::now();
        client.ping().unwrap();
        assert!(t0.elapsed() < Duration::from_millis(300), "ping waited for the slow request: {:?}", t0.elapsed());
        assert_eq!(slow.join().unwrap().unwrap().len(), 3);
    });
}

#[test]
fn malformed_event_is_skipped_and_the_session_goes_on() {
    let server = TestServer::builder()
        .with_sample_resources(2)
        .fault(Fault::MalformedEvent("resources/list".into()))
        .start()
        .unwrap();
    let client = Client::connect(&config(&server, Duration::from_secs(5))).unwrap();
    assert_eq!(client.list_resources().unwrap().len(), 2);
}

#[test]
fn stream_closed_mid_session_fails_pending_requests_at_once() {
    let server = TestServer::builder().fault(Fault::CloseStreamOn("resources/list".into())).start().unwrap();
    let client = Client::connect(&config(&server, Duration::from_secs(20))).unwrap();
    let t0 = Instant::now();
    let err = client.list_resources().unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(3), "waited {:?} instead of failing at once", t0.elapsed());
    assert!(matches!(err, Error::ConnectionClosed { .. }), "{err}");
    assert_eq!(err.method(), Some("resources/list"));
    // Later requests fail at once too.
    let t1 = Instant::now();
    assert!(matches!(client.ping().unwrap_err(), Error::ConnectionClosed { .. }));
    assert!(t1.elapsed() < Duration::from_secs(1));
    assert!(client.is_closed());
}

#[test]
fn http_500_on_post_is_an_http_error_with_status_and_body() {
    let server = TestServer::builder().fault(Fault::PostStatus(500)).start().unwrap();
    let err = Client::connect(&config(&server, Duration::from_secs(5))).unwrap_err();
    match &err {
        Error::Http { status, method, body, .. } => {
            assert_eq!(*status, 500);
            assert_eq!(method, "initialize");
            assert!(!body.is_empty());
        }
        other => panic!("{other}"),
    }
}

#[test]
fn unknown_session_404_is_reported() {
    let server = TestServer::builder().fault(Fault::ForgetSessions).start().unwrap();
    let err = Client::connect(&config(&server, Duration::from_secs(5))).unwrap_err();
    assert!(matches!(err, Error::Http { status: 404, .. }), "{err}");
}

#[test]
fn oversized_event_is_a_limit_error_not_an_allocation() {
    let server = TestServer::builder().fault(Fault::OversizedEvent(3 * 1024 * 1024)).start().unwrap();
    let config = config(&server, Duration::from_secs(5));
    let err = Client::builder(&config).max_event_bytes(1024 * 1024).connect().unwrap_err();
    match &err {
        Error::Limit { limit, what, .. } => {
            assert_eq!(*limit, 1024 * 1024);
            assert_eq!(*what, "event size");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn lf_line_ends_and_keep_alive_comments_are_understood() {
    let server = TestServer::builder()
        .with_sample_resources(5)
        .fault(Fault::BareLf)
        .fault(Fault::KeepAlive(Duration::from_millis(20)))
        .start()
        .unwrap();
    let client = Client::connect(&config(&server, Duration::from_secs(5))).unwrap();
    std::thread::sleep(Duration::from_millis(60)); // let a few keep-alive comments arrive between requests
    assert_eq!(client.list_resources().unwrap().len(), 5);
}

#[test]
fn server_ping_is_answered_and_notifications_are_delivered() {
    let server = TestServer::builder()
        .with_sample_resources(1)
        .fault(Fault::PingClient)
        .fault(Fault::NotifyAfterInitialized)
        .start()
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let config = config(&server, Duration::from_secs(5));
    let client = Client::builder(&config)
        .on_notification(move |name, n| seen2.lock().unwrap().push((name.to_string(), n.method.clone())))
        .connect()
        .unwrap();
    eventually("the server's ping is answered", || server.stats().client_pings_answered == 1);
    server.notify("notifications/resources/list_changed", None);
    eventually("list_changed reaches the subscriber", || {
        seen.lock().unwrap().iter().any(|(_, m)| m == "notifications/resources/list_changed")
    });
    let seen = seen.lock().unwrap();
    assert!(seen.iter().any(|(n, m)| n == "test" && m == "notifications/message"), "{seen:?}");
    drop(client);
}

#[test]
fn close_is_bounded_fails_pending_requests_and_ends_the_session() {
    let server = TestServer::builder().fault(Fault::NeverAnswer("resources/list".into())).start().unwrap();
    let client = Arc::new(Client::connect(&config(&server, Duration::from_secs(30))).unwrap());
    assert_eq!(server.stats().open_sessions, 1);
    let waiting = {
        let client = client.clone();
        std::thread::spawn(move || client.list_resources())
    };
    eventually("the request reaches the server", || server.stats().requests.get("resources/list") == Some(&1));
    let t0 = Instant::now();
    client.close();
    client.close(); // idempotent
    assert!(t0.elapsed() < Duration::from_secs(3), "close took {:?}", t0.elapsed());
    let err = waiting.join().unwrap().unwrap_err();
    assert!(matches!(err, Error::ConnectionClosed { .. }), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert!(matches!(client.ping().unwrap_err(), Error::Closed { .. }));
    eventually("the server sees the session go", || server.stats().open_sessions == 0);
}
