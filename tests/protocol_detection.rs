//! Protocol and transport detection (issue 11) against the crate's test server in each of its
//! protocol modes: modern-only (the 2026-07-28 wire), handshake-only, legacy-SSE-only and both,
//! over HTTP and stdio; the 2026-07-28 wire's headers, `x-mcp-header` tools and errors; what is
//! remembered per endpoint.

#![cfg(feature = "testing")]

#[path = "support/stdio.rs"]
mod stdio;

use std::time::{Duration, Instant};

use mcp_orchestrator::testing::{ProtocolMode, TestServer, text_result};
use mcp_orchestrator::{Client, Error, ProtocolChoice, ServerConfig, Tool, Transport};
use serde_json::json;

fn server(mode: ProtocolMode) -> TestServer {
    TestServer::builder().name("detected").protocol_mode(mode).with_sample_resources(3).start().unwrap()
}

fn config(transport: Transport) -> ServerConfig {
    let _ = env_logger::builder().is_test(true).try_init();
    let mut c = ServerConfig::new("s", transport);
    c.timeout = Duration::from_secs(10);
    c
}

fn http(url: &str) -> ServerConfig {
    config(Transport::Http { url: url.into() })
}

#[test]
fn transport_http_finds_the_modern_wire_and_speaks_it() {
    let server = server(ProtocolMode::ModernOnly);
    let client = Client::connect(&http(server.mcp_url())).unwrap();
    assert_eq!((client.protocol_version(), client.transport()), ("2026-07-28", "streamable_http"));
    assert!(client.is_modern());
    assert_eq!(client.server().server_info.name, "detected", "serverInfo from the discover result's _meta");
    assert_eq!(client.list_resources().unwrap().len(), 3);
    assert_eq!(client.read_resource("test://resource/1").unwrap()[0].text(), Some("content of resource 1"));
    // An unknown resource is -32602 on this wire: a typed error naming the URI.
    match client.read_resource("test://nope") {
        Err(Error::ResourceNotFound { uri, code: -32602, server, .. }) => {
            assert_eq!((uri.as_str(), server.as_str()), ("test://nope", "s"))
        }
        other => panic!("{other:?}"),
    }
    client.ping().unwrap();
    let stats = server.stats();
    assert_eq!(stats.count("initialize"), 0);
    assert_eq!(stats.mcp_sessions, 0, "no session on the modern wire");
    let read = &stats.last_headers["resources/read"];
    assert_eq!(read["mcp-protocol-version"], "2026-07-28");
    assert_eq!(read["mcp-method"], "resources/read");
    assert_eq!(read["mcp-name"], "test://nope");
    assert!(!read.contains_key("mcp-session-id"));
    client.close();
}

#[test]
fn transport_http_falls_back_to_the_handshake_then_to_legacy_sse() {
    let handshake = server(ProtocolMode::HandshakeOnly);
    let client = Client::connect(&http(handshake.mcp_url())).unwrap();
    assert_eq!((client.protocol_version(), client.transport()), ("2025-11-25", "streamable_http"));
    assert!(!client.is_modern());
    assert_eq!(client.list_resources().unwrap().len(), 3);
    client.close();
    let stats = handshake.stats();
    assert_eq!((stats.count("server/discover"), stats.count("initialize")), (0, 1), "the probe was refused with a 400");
    assert_eq!(stats.posts, 1 + 3, "probe, initialize, initialized, resources/list");

    let legacy = server(ProtocolMode::LegacySseOnly);
    for url in [legacy.url(), legacy.mcp_url()] {
        let url = if url.ends_with("/mcp") { url.replace("/mcp", "/sse") } else { url.to_string() };
        let client = Client::connect(&http(&url)).unwrap();
        assert_eq!(client.transport(), "sse");
        assert_eq!(client.list_resources().unwrap().len(), 3);
        client.close();
    }

    let both = server(ProtocolMode::Both);
    let client = Client::connect(&http(both.mcp_url())).unwrap();
    assert_eq!((client.protocol_version(), client.transport()), ("2026-07-28", "streamable_http"));
    client.close();
}

#[test]
fn an_sse_url_that_serves_streamable_http_is_reached_anyway() {
    let modern = server(ProtocolMode::ModernOnly);
    let client = Client::connect(&config(Transport::Sse { url: modern.mcp_url().into() })).unwrap();
    assert_eq!((client.protocol_version(), client.transport()), ("2026-07-28", "streamable_http"));
    assert_eq!(client.list_resources().unwrap().len(), 3);
    client.close();
    // A real SSE endpoint is used as such, without a probe.
    let legacy = server(ProtocolMode::HandshakeOnly);
    let client = Client::connect(&config(Transport::Sse { url: legacy.url().into() })).unwrap();
    assert_eq!(client.transport(), "sse");
    assert_eq!(legacy.stats().count("server/discover"), 0);
    client.close();
}

#[test]
fn the_verdict_is_remembered_per_endpoint() {
    let handshake = server(ProtocolMode::HandshakeOnly);
    let c = http(handshake.mcp_url());
    Client::connect(&c).unwrap().close();
    let posts = handshake.stats().posts;
    Client::connect(&c).unwrap().close();
    assert_eq!(handshake.stats().posts - posts, 2, "initialize and initialized only: no second probe");
    assert_eq!(handshake.stats().count("initialize"), 2);

    let legacy = server(ProtocolMode::LegacySseOnly);
    let c = http(legacy.url());
    Client::connect(&c).unwrap().close();
    let posts = legacy.stats().posts;
    let t0 = Instant::now();
    let client = Client::connect(&c).unwrap();
    assert_eq!(client.transport(), "sse");
    client.close();
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(legacy.stats().posts - posts, 2, "initialize and initialized over SSE, no probe");
}

#[test]
fn pinned_versions_skip_detection() {
    let handshake = server(ProtocolMode::HandshakeOnly);
    let mut c = http(handshake.mcp_url());
    c.protocol = ProtocolChoice::Version("2026-07-28".into());
    let err = Client::connect(&c).unwrap_err();
    assert_eq!((err.server(), err.method()), (Some("s"), Some("server/discover")), "{err}");
    assert_eq!(handshake.stats().count("initialize"), 0, "a pinned 2026-07-28 never falls back");

    let both = server(ProtocolMode::Both);
    let mut c = config(Transport::StreamableHttp { url: both.mcp_url().into() });
    c.protocol = ProtocolChoice::Version("2025-06-18".into());
    let client = Client::connect(&c).unwrap();
    assert_eq!(client.protocol_version(), "2025-06-18");
    assert_eq!(both.stats().count("server/discover"), 0);
    assert_eq!(both.stats().last_headers["initialize"].get("mcp-protocol-version"), None);
    client.close();
}

fn tool(name: &str, schema: serde_json::Value) -> Tool {
    serde_json::from_value(json!({"name": name, "inputSchema": schema})).unwrap()
}

#[test]
fn x_mcp_header_tools_get_their_headers_and_invalid_ones_are_left_out() {
    let server = TestServer::builder()
        .protocol_mode(ProtocolMode::ModernOnly)
        .tool(
            tool(
                "sql",
                json!({"type": "object", "properties": {
                    "region": {"type": "string", "x-mcp-header": "Region"},
                    "limit": {"type": "integer", "x-mcp-header": "Limit"},
                    "query": {"type": "string"}}}),
            ),
            |args| Ok(text_result(args["region"].as_str().unwrap_or("-"))),
        )
        .tool(
            tool("bad", json!({"type": "object", "properties": {"x": {"type": "number", "x-mcp-header": "X"}}})),
            |_| Ok(text_result("never")),
        )
        .start()
        .unwrap();
    let client = Client::connect(&http(server.mcp_url())).unwrap();
    // Calling before listing: the client lists first to learn the headers.
    let r = client.call_tool("sql", json!({"region": "eu-west–1", "limit": 5, "query": "SELECT 1"})).unwrap();
    assert_eq!(r.text(), "eu-west–1");
    let h = &server.stats().last_headers["tools/call"];
    assert_eq!(h["mcp-param-region"], "=?base64?ZXUtd2VzdOKAkzE=?=");
    assert_eq!(h["mcp-param-limit"], "5");
    assert_eq!(h["mcp-name"], "sql");
    assert!(!h.contains_key("mcp-param-query"));
    let names: Vec<String> = client.list_tools().unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["sql"], "the tool with an invalid x-mcp-header is left out");
    // A null argument sends no header (and the server, which checks, agrees).
    client.call_tool("sql", json!({"region": null, "query": "x"})).unwrap();
    assert!(!server.stats().last_headers["tools/call"].contains_key("mcp-param-region"));
    client.close();
}

#[test]
fn stdio_probes_with_discover_and_falls_back_to_initialize() {
    let modern = Client::connect(&stdio::config("modern", &["--protocol", "modern", "--resources", "2"])).unwrap();
    assert_eq!((modern.protocol_version(), modern.transport()), ("2026-07-28", "stdio"));
    assert_eq!(modern.list_resources().unwrap().len(), 2);
    modern.close();

    let both = Client::connect(&stdio::config("both", &["--protocol", "both", "--resources", "2"])).unwrap();
    assert_eq!(both.protocol_version(), "2026-07-28");
    assert_eq!(both.list_resources().unwrap().len(), 2);
    both.close();

    let old = Client::connect(&stdio::config("old", &["--resources", "2"])).unwrap();
    assert_eq!((old.protocol_version(), old.transport()), ("2025-11-25", "stdio"));
    assert_eq!(old.list_resources().unwrap().len(), 2);
    old.close();

    // A server that never answers the probe: initialize once the probe's bound (half the
    // timeout here) has passed, on the same process.
    let mut silent = stdio::config("silent", &["--never-answer", "server/discover", "--resources", "1"]);
    silent.timeout = Duration::from_secs(4);
    let t0 = Instant::now();
    let client = Client::connect(&silent).unwrap();
    assert!(t0.elapsed() >= Duration::from_secs(2) && t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    assert_eq!(client.protocol_version(), "2025-11-25");
    assert_eq!(client.list_resources().unwrap().len(), 1);
    client.close();
}

/// A scripted 2026-07-28 server on a raw socket: the first POST is refused with `-32022`, then
/// `server/discover` answers; `tools/list` answers a tool; the first `tools/call` is refused
/// with `-32020` (header mismatch); `resources/list` has an unknown `resultType`. It records each request's method, id, version header and `_meta` version.
mod scripted {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};

    pub type Seen = Arc<Mutex<Vec<(String, Value, Option<String>, Value)>>>;

    pub fn start() -> (u16, Seen) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Seen = Arc::default();
        let record = seen.clone();
        std::thread::Builder::new()
            .name("scripted-modern".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { return };
                    let record = record.clone();
                    std::thread::Builder::new()
                        .name("scripted-modern-conn".into())
                        .spawn(move || serve(stream, &record))
                        .unwrap();
                }
            })
            .unwrap();
        (port, seen)
    }

    fn serve(stream: std::net::TcpStream, seen: &Seen) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        loop {
            let (mut length, mut version) = (0usize, None);
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 {
                    return;
                }
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap_or((h, ""));
                match k.to_ascii_lowercase().as_str() {
                    "content-length" => length = v.trim().parse().unwrap_or(0),
                    "mcp-protocol-version" => version = Some(v.trim().to_string()),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let msg: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let method = msg["method"].as_str().unwrap_or("").to_string();
            let id = msg["id"].clone();
            let meta_version = msg["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"].clone();
            let n = {
                let mut s = seen.lock().unwrap();
                s.push((method.clone(), id.clone(), version, meta_version));
                s.iter().filter(|(m, ..)| *m == method).count()
            };
            let error = |code: i64, data: Value| {
                (400, json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": "scripted", "data": data}}))
            };
            let ok = |result: Value| (200, json!({"jsonrpc": "2.0", "id": id, "result": result}));
            let (status, answer) = match (method.as_str(), n) {
                (_, _) if seen.lock().unwrap().len() == 1 => {
                    error(-32022, json!({"supported": ["2026-07-28"], "requested": "2026-07-28"}))
                }
                ("server/discover", _) => ok(json!({"resultType": "complete", "supportedVersions": ["2026-07-28"],
                    "capabilities": {"tools": {}}, "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "scripted", "version": "1"}}})),
                ("tools/list", _) => ok(json!({"tools": [{"name": "t", "inputSchema": {"type": "object"}}]})),
                ("tools/call", 1) => error(-32020, Value::Null),
                ("tools/call", _) => {
                    ok(json!({"resultType": "complete", "content": [{"type": "text", "text": "done"}]}))
                }
                ("resources/list", _) => ok(json!({"resultType": "task", "resources": []})),
                _ => (404, json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "nope"}})),
            };
            let text = answer.to_string();
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                text.len()
            );
            let mut out = &stream;
            if out.write_all(head.as_bytes()).and_then(|()| out.write_all(text.as_bytes())).is_err() {
                return;
            }
        }
    }
}

#[test]
fn modern_errors_unsupported_version_header_mismatch_and_unknown_result_type() {
    let (port, seen) = scripted::start();
    let client = Client::connect(&http(&format!("http://127.0.0.1:{port}/mcp"))).unwrap();
    assert_eq!((client.protocol_version(), client.server().server_info.name.as_str()), ("2026-07-28", "scripted"));
    {
        // -32022: retried once, with a new id, the version in header and _meta alike.
        let s = seen.lock().unwrap();
        let (first, second) = (&s[0], &s[1]);
        assert_eq!((first.0.as_str(), second.0.as_str()), ("server/discover", "server/discover"));
        assert_ne!(first.1, second.1, "a new JSON-RPC id");
        assert_eq!((second.2.as_deref(), second.3.as_str()), (Some("2026-07-28"), Some("2026-07-28")));
    }
    // -32020 on tools/call: the tools are listed again and the call retried once.
    let before = seen.lock().unwrap().iter().filter(|r| r.0 == "tools/list").count();
    assert_eq!(client.call_tool("t", json!({})).unwrap().text(), "done");
    let s = seen.lock().unwrap().clone();
    assert_eq!(s.iter().filter(|r| r.0 == "tools/call").count(), 2);
    assert!(s.iter().filter(|r| r.0 == "tools/list").count() > before, "re-listed");
    // An unknown resultType makes the result invalid.
    let err = client.list_resources().unwrap_err();
    assert!(matches!(&err, Error::Protocol { detail, .. } if detail.contains("resultType")), "{err}");
    client.close();
}

/// `-32021` (missing required client capability, 2026-07-28): a typed JSON-RPC error that names
/// the capabilities the server requires, with server, method and op id; the session lives on.
/// On the `server/discover` probe it is a modern verdict: surfaced, never a fall-back to
/// `initialize`.
#[test]
fn missing_required_client_capability_is_an_error_naming_the_capabilities() {
    use mcp_orchestrator::ErrorKind;
    use mcp_orchestrator::testing::Fault;

    let server = TestServer::builder()
        .protocol_mode(ProtocolMode::ModernOnly)
        .simple_tool("summarise", "needs sampling", |_| Ok(text_result("never")))
        .with_sample_resources(1)
        .fault(Fault::RequireCapabilities("tools/call".into(), r#"{"sampling":{}}"#.into()))
        .start()
        .unwrap();
    let client = Client::connect(&http(server.mcp_url())).unwrap();
    let err = client.call_tool("summarise", json!({})).unwrap_err();
    match &err {
        Error::Rpc { code: -32021, message, data, .. } => {
            assert!(message.contains(r#"requires client capabilities {"sampling":{}}"#), "{message}");
            assert!(data.as_deref().is_some_and(|d| d.contains("requiredCapabilities")), "{data:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert_eq!((err.server(), err.method()), (Some("s"), Some("tools/call")));
    let text = err.to_string();
    assert!(text.contains(&err.op_id().unwrap().to_string()) && text.contains("-32021"), "{text}");
    assert_eq!(server.stats().count("tools/call"), 1, "not retried");
    assert_eq!(client.list_resources().unwrap().len(), 1, "the session lives on");
    client.close();

    // On the probe: the server is modern; the error is the connect's, and no `initialize` is tried.
    let both = TestServer::builder()
        .protocol_mode(ProtocolMode::Both)
        .fault(Fault::RequireCapabilities("server/discover".into(), r#"{"roots":{}}"#.into()))
        .start()
        .unwrap();
    let err = Client::connect(&http(both.mcp_url())).unwrap_err();
    assert!(matches!(&err, Error::Rpc { code: -32021, message, .. } if message.contains(r#"{"roots":{}}"#)), "{err}");
    assert_eq!((err.server(), err.method()), (Some("s"), Some("server/discover")));
    assert_eq!(both.stats().count("initialize"), 0, "no fall-back on a recognised modern error");
}

/// A handshake-era stdio server that exits on a method it does not know (the probe): started
/// again, once, straight into `initialize`; the verdict is remembered, so the next connect
/// starts one process and sends no probe.
#[test]
fn a_stdio_server_that_exits_on_the_probe_is_started_again_into_initialize() {
    let dir = stdio::Scratch::new("strict");
    let log = dir.path("events.log");
    let config = stdio::config("strict", &["--exit-on-unknown", "--resources", "2", "--event-log", &log]);
    let client = Client::connect(&config).unwrap();
    assert_eq!((client.protocol_version(), client.transport()), ("2025-11-25", "stdio"));
    assert_eq!(client.list_resources().unwrap().len(), 2);
    client.close();
    let events = std::fs::read_to_string(&log).unwrap();
    let seen: Vec<&str> = events
        .lines()
        .filter_map(|l| l.strip_prefix("strict "))
        .filter(|e| e.starts_with("start") || e.starts_with("in "))
        .map(|e| if e.starts_with("start") { "start" } else { e })
        .collect();
    assert_eq!(
        seen[..4],
        ["start", "in server/discover", "start", "in initialize"],
        "the probe ended the first process; the second was initialized: {events}"
    );
    assert_eq!(seen.iter().filter(|e| **e == "in server/discover").count(), 1, "{events}");

    let client = Client::connect(&config).unwrap();
    assert_eq!(client.protocol_version(), "2025-11-25");
    client.close();
    let events = std::fs::read_to_string(&log).unwrap();
    assert_eq!(events.lines().filter(|l| l.starts_with("strict start")).count(), 3, "{events}");
    assert_eq!(events.lines().filter(|l| *l == "strict in server/discover").count(), 1, "remembered: {events}");
}

/// `Orchestrator::status`: per configured server, whether it is connected and the protocol and
/// transport detected for it; a failed server says why; a disabled one is never connected.
#[test]
fn the_orchestrator_reports_each_servers_protocol_and_transport() {
    use mcp_orchestrator::testing::Fault;
    use mcp_orchestrator::{Config, Orchestration, Orchestrator};

    let modern = server(ProtocolMode::ModernOnly);
    let handshake = server(ProtocolMode::HandshakeOnly);
    let legacy = server(ProtocolMode::LegacySseOnly);
    let refused = TestServer::builder().fault(Fault::RefuseConnections).start().unwrap();
    // `transport: http`: detect.
    let detect = |name: &str, url: &str| ServerConfig::new(name, Transport::Http { url: url.into() });
    let mut servers = vec![
        detect("a-modern", modern.mcp_url()),
        detect("b-handshake", handshake.mcp_url()),
        detect("c-legacy", legacy.url()),
        stdio::config("d-stdio", &["--protocol", "modern"]),
        detect("e-down", refused.mcp_url()),
        detect("f-off", modern.mcp_url()),
    ];
    for (i, s) in servers.iter_mut().enumerate() {
        s.priority = i as u32 + 1;
        s.timeout = Duration::from_secs(10);
    }
    servers[5].enabled = false;
    let mut orchestration = Orchestration::default();
    orchestration.fail_fast = false;
    let orchestrator = Orchestrator::new(Config::new(servers, orchestration).unwrap());

    let before = orchestrator.status();
    assert_eq!(before.len(), 6);
    assert!(before.iter().all(|s| !s.connected && s.protocol_version.is_none() && s.error.is_none()), "{before:?}");

    orchestrator.initialize().unwrap();
    let status = orchestrator.status();
    let rows: Vec<_> = status
        .iter()
        .map(|s| (s.name.as_str(), s.enabled, s.connected, s.protocol_version.as_deref(), s.transport))
        .collect();
    assert_eq!(
        rows,
        [
            ("a-modern", true, true, Some("2026-07-28"), Some("streamable_http")),
            ("b-handshake", true, true, Some("2025-11-25"), Some("streamable_http")),
            ("c-legacy", true, true, Some("2025-11-25"), Some("sse")),
            ("d-stdio", true, true, Some("2026-07-28"), Some("stdio")),
            ("e-down", true, false, None, None),
            ("f-off", false, false, None, None),
        ]
    );
    assert!(status[..4].iter().all(|s| s.error.is_none()), "{status:?}");
    let down = status[4].error.as_ref().expect("why e-down is not connected");
    assert_eq!(down.server(), Some("e-down"));
    assert!(status[5].error.is_none(), "a disabled server has no error");

    orchestrator.close();
    assert!(orchestrator.status().iter().all(|s| !s.connected));
}
