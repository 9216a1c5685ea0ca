//! Faults of the HTTP layer (SSE and Streamable HTTP), each played by a tiny scripted server on
//! 127.0.0.1:0: stalled error bodies, huge timeouts, redirects, secrets in URLs, Basic auth,
//! stream resumption, invalid UTF-8, servers that ping forever, session renewal.
//!
//! Every test asserts the error kind, that the message names server, method and op id and
//! carries no secret, and an upper time bound with generous slack.

#[path = "support/raw_http.rs"]
mod raw_http;
#[path = "support/wait.rs"]
mod wait;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use mcp_orchestrator::{Client, Config, Error, OpId, ProtocolChoice, ServerConfig, Transport};
use raw_http::{Seen, read_request, respond};
use serde_json::{Value, json};
use wait::eventually;

// ------------------------------------------------------------------------------------------
// A scripted HTTP server: one request per connection, answered by the test's handler.
// ------------------------------------------------------------------------------------------

type Handler = dyn Fn(&Seen, &mut TcpStream) -> std::io::Result<()> + Send + Sync;

struct Script {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Script {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn count(&self, f: impl Fn(&Seen) -> bool) -> usize {
        self.seen.lock().unwrap().iter().filter(|s| f(s)).count()
    }
}

fn script(handler: impl Fn(&Seen, &mut TcpStream) -> std::io::Result<()> + Send + Sync + 'static) -> Script {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler: Arc<Handler> = Arc::new(handler);
    let log = seen.clone();
    // The accept thread lives as long as the test process; each connection ends with its answer.
    std::thread::Builder::new()
        .name("script-accept".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (log, handler) = (log.clone(), handler.clone());
                let _ = std::thread::Builder::new().name("script-conn".into()).spawn(move || {
                    if let Ok(request) = read_request(&stream) {
                        log.lock().unwrap().push(request.clone());
                        let _ = handler(&request, &mut stream);
                    }
                });
            }
        })
        .unwrap();
    Script { addr, seen }
}

fn json_reply(stream: &TcpStream, body: &Value) -> std::io::Result<()> {
    respond(
        stream,
        "200 OK",
        &[("Content-Type", "application/json"), ("Mcp-Session-Id", "s1")],
        body.to_string().as_bytes(),
    )
}

/// Starts a close-delimited event stream and writes `events`.
fn event_stream(mut stream: &TcpStream, events: &str) -> std::io::Result<()> {
    stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\nMcp-Session-Id: s1\r\n\r\n",
    )?;
    stream.write_all(events.as_bytes())?;
    stream.flush()
}

fn result(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn init_result(id: &Value, version: &Value) -> Value {
    result(
        id,
        json!({"protocolVersion": version, "capabilities": {"tools": {}}, "serverInfo": {"name": "scripted", "version": "1"}}),
    )
}

/// What every scripted Streamable HTTP server does the same way: `initialize` (echoing the
/// version), notifications (202), the GET stream (405), DELETE (200). `None`: the test's turn.
fn basics(seen: &Seen, stream: &TcpStream) -> Option<std::io::Result<()>> {
    match seen.method.as_str() {
        "GET" => return Some(respond(stream, "405 Method Not Allowed", &[], b"")),
        "DELETE" => return Some(respond(stream, "200 OK", &[], b"")),
        _ => {}
    }
    let msg = seen.json();
    match msg["method"].as_str() {
        Some("initialize") => Some(json_reply(stream, &init_result(&msg["id"], &msg["params"]["protocolVersion"]))),
        Some(_) if msg.get("id").is_none() => Some(respond(stream, "202 Accepted", &[], b"")),
        None => Some(respond(stream, "202 Accepted", &[], b"")), // our answer to a server request
        _ => None,
    }
}

/// These scripted servers speak the handshake era only: pinned, so that no `server/discover`
/// probe comes first (detection has its own tests, tests/protocol_detection.rs).
fn http_config(name: &str, url: String, timeout: Duration) -> ServerConfig {
    let mut c = ServerConfig::new(name, Transport::StreamableHttp { url });
    c.timeout = timeout;
    c.protocol = ProtocolChoice::Version("2025-11-25".into());
    c
}

fn sse_config(name: &str, url: String, timeout: Duration) -> ServerConfig {
    let mut c = ServerConfig::sse(name, url);
    c.timeout = timeout;
    c
}

/// The error names the server, the method and the op, and shows none of `secrets`.
fn assert_context(err: &Error, server: &str, method: &str, op: Option<&OpId>, secrets: &[&str]) {
    let text = err.to_string();
    assert_eq!(err.server(), Some(server), "{text}");
    assert_eq!(err.method(), Some(method), "{text}");
    assert!(text.contains(&format!("`{server}`")), "{text}");
    // A connect error's category is its method.
    assert!(text.contains(&format!("`{method}`")) || text.starts_with(&format!("{method}:")), "{text}");
    let id = err.op_id().expect("an op id");
    assert!(text.contains(id.as_str()), "{text}");
    if let Some(op) = op {
        assert_eq!(id, op, "{text}");
    }
    let debug = format!("{err:?}");
    for secret in secrets {
        assert!(!text.contains(secret) && !debug.contains(secret), "{secret:?} leaked: {text} / {debug}");
    }
}

fn assert_within(started: Instant, bound: Duration, what: &str) {
    assert!(started.elapsed() < bound, "{what} took {:?}, more than {bound:?}", started.elapsed());
}

// ------------------------------------------------------------------------------------------
// Logs: every record of the library, to check that no secret reaches them.
// ------------------------------------------------------------------------------------------

struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.target().starts_with("mcp_orchestrator")
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            self.0.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

fn logs() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(capture).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
        capture
    })
}

// ------------------------------------------------------------------------------------------
// The faults.
// ------------------------------------------------------------------------------------------

#[test]
fn sse_error_status_with_a_stalled_body_fails_connect_within_its_deadline() {
    let server = script(|_, stream| {
        let mut out = &*stream;
        out.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 1000\r\n\r\nbusy, and then nothing")?;
        out.flush()?;
        std::thread::sleep(Duration::from_secs(20));
        Ok(())
    });
    let op = OpId::new();
    let started = Instant::now();
    let config = sse_config("stalls", server.url("/sse"), Duration::from_secs(1));
    let err = Client::builder(&config).op(op.clone()).connect().expect_err("connect must fail");
    assert_within(started, Duration::from_secs(6), "connect");
    assert!(matches!(err, Error::Http { status: 503, .. } | Error::Timeout { .. }), "{err}");
    assert_context(&err, "stalls", "connect", Some(&op), &[]);
}

#[test]
fn a_timeout_of_1e19_seconds_connects_lists_and_keeps_the_get_stream() {
    let server = script(|seen, stream| {
        if seen.method == "GET" {
            // The stream for server-initiated messages: one notification, then it stays open.
            let note = r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#;
            event_stream(stream, &format!("data: {note}\n\n"))?;
            std::thread::sleep(Duration::from_secs(10));
            return Ok(());
        }
        if let Some(done) = basics(seen, stream) {
            return done;
        }
        let msg = seen.json();
        json_reply(stream, &result(&msg["id"], json!({"tools": [{"name": "t", "inputSchema": {"type": "object"}}]})))
    });
    let yaml = format!(
        "mcp_servers:\n  huge:\n    url: {}\n    priority: 1\n    transport: streamable_http\n    timeout: 1e19\n",
        server.url("/mcp")
    );
    let config = Config::from_yaml_str(&yaml).unwrap();
    let notes = Arc::new(Mutex::new(Vec::new()));
    let seen_notes = notes.clone();
    let client = Client::builder(&config.servers[0])
        .on_notification(move |_, n| seen_notes.lock().unwrap().push(n.method.clone()))
        .connect()
        .unwrap();
    assert_eq!(client.list_tools().unwrap().len(), 1);
    // The GET stream's thread is alive: its notification arrives.
    eventually("the GET stream's notification", || !notes.lock().unwrap().is_empty());
    let started = Instant::now();
    client.close();
    assert_within(started, Duration::from_secs(5), "close");
}

#[test]
fn a_redirect_to_another_origin_is_an_http_error_and_headers_stay_home() {
    let elsewhere = script(|_, stream| respond(stream, "200 OK", &[("Content-Type", "application/json")], b"{}"));
    let target = elsewhere.url("/steal?token=redirect-secret");
    let server = script(move |seen, stream| {
        if let Some(done) = basics(seen, stream) {
            return done;
        }
        respond(stream, "307 Temporary Redirect", &[("Location", &target)], b"")
    });
    let mut config = http_config("redirects", server.url("/mcp"), Duration::from_secs(5));
    config.headers.insert("X-Api-Key", "header-secret");
    let client = Client::connect(&config).unwrap();
    let started = Instant::now();
    let err = client.list_tools().unwrap_err();
    assert_within(started, Duration::from_secs(5), "list_tools");
    assert!(matches!(err, Error::Http { status: 307, .. }), "{err}");
    assert!(err.to_string().contains(&format!("http://{}", elsewhere.addr)), "names the target's origin: {err}");
    assert_context(&err, "redirects", "tools/list", None, &["redirect-secret", "header-secret", "/steal"]);
    // ureq would have followed before returning: nothing reached the other origin.
    assert!(elsewhere.seen().is_empty(), "{:?}", elsewhere.seen());
    client.close();

    // The SSE stream's GET, which an HTTP library would follow.
    let target = elsewhere.url("/sse?token=redirect-secret");
    let sse = script(move |_, stream| respond(stream, "307 Temporary Redirect", &[("Location", &target)], b""));
    let mut config = sse_config("redirects", sse.url("/sse"), Duration::from_secs(5));
    config.headers.insert("X-Api-Key", "header-secret");
    let err = Client::connect(&config).expect_err("a redirect is not followed");
    assert!(matches!(err, Error::Http { status: 307, .. }), "{err}");
    assert_context(&err, "redirects", "connect", None, &["redirect-secret", "header-secret", "/sse?"]);
    assert!(elsewhere.seen().is_empty(), "{:?}", elsewhere.seen());
}

#[test]
fn a_302_on_a_post_is_not_turned_into_a_get() {
    let server = script(|seen, stream| {
        if seen.method == "GET" && seen.path == "/moved" {
            return json_reply(stream, &json!({}));
        }
        if let Some(done) = basics(seen, stream) {
            return done;
        }
        respond(stream, "302 Found", &[("Location", "/moved")], b"")
    });
    let client = Client::connect(&http_config("moved", server.url("/mcp"), Duration::from_secs(5))).unwrap();
    let err = client.list_tools().unwrap_err();
    assert!(matches!(err, Error::Http { status: 302, .. }), "{err}");
    assert_context(&err, "moved", "tools/list", None, &[]);
    assert!(err.to_string().contains(&format!("redirect to http://{} not followed", server.addr)), "{err}");
    assert_eq!(server.count(|s| s.path == "/moved"), 0, "the POST must not become a GET");
    client.close();
}

#[test]
fn secrets_in_urls_never_reach_errors_debug_or_logs() {
    let logs = logs();
    let server = script(|seen, stream| {
        if let Some(done) = basics(seen, stream) {
            return done;
        }
        respond(stream, "500 Internal Server Error", &[], b"nope")
    });
    let secrets = ["pw-secret", "query-secret", "alice"];
    let url = format!("http://alice:pw-secret@{}/mcp?api_key=query-secret", server.addr);
    let config = http_config("secretive", url.clone(), Duration::from_secs(5));
    assert_eq!(config.redacted_url().unwrap(), format!("http://{}/mcp?…", server.addr));
    let debug = format!("{config:?}");
    for s in secrets {
        assert!(!debug.contains(s), "{debug}");
    }
    let client = Client::connect(&config).unwrap();
    let err = client.list_tools().unwrap_err();
    assert!(matches!(err, Error::Http { status: 500, .. }), "{err}");
    assert_context(&err, "secretive", "tools/list", None, &secrets);
    client.close();

    // Nothing listens: a connect error, on both HTTP transports.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("http://alice:pw-secret@{closed}/mcp?api_key=query-secret");
    for config in [
        http_config("secretive", url.clone(), Duration::from_secs(5)),
        sse_config("secretive", url.clone(), Duration::from_secs(5)),
    ] {
        let err = Client::connect(&config).expect_err("nothing listens");
        assert!(matches!(err, Error::Connect { .. }), "{err}");
        assert_context(&err, "secretive", "connect", None, &secrets);
    }
    // A config error about the URL does not echo the query or the user info either.
    let yaml = "mcp_servers:\n  s:\n    url: http://alice:pw-secret@h:99999/x?api_key=query-secret\n    priority: 1\n    transport: sse\n";
    let err = Config::from_yaml_str(yaml).unwrap_err();
    for s in secrets {
        assert!(!err.to_string().contains(s), "{err}");
    }
    for record in logs.0.lock().unwrap().iter() {
        for s in ["pw-secret", "query-secret"] {
            assert!(!record.contains(s), "a log record leaked {s:?}: {record}");
        }
    }
}

#[test]
fn sse_sends_basic_auth_from_user_info_on_the_get_and_every_post() {
    // The GET stream's socket, for the POST handler to answer on it.
    let stream_slot: Arc<Mutex<Option<TcpStream>>> = Arc::new(Mutex::new(None));
    let slot = stream_slot.clone();
    let server = script(move |seen, stream| {
        if seen.method == "GET" {
            event_stream(stream, "event: endpoint\ndata: /messages/?session_id=1\n\n")?;
            *slot.lock().unwrap() = Some(stream.try_clone()?);
            std::thread::sleep(Duration::from_secs(10));
            return Ok(());
        }
        let msg = seen.json();
        respond(stream, "202 Accepted", &[], b"Accepted")?;
        let answer = match msg["method"].as_str() {
            Some("initialize") => init_result(&msg["id"], &msg["params"]["protocolVersion"]),
            Some("tools/list") => result(&msg["id"], json!({"tools": []})),
            _ => return Ok(()),
        };
        let mut out = slot.lock().unwrap().as_ref().unwrap().try_clone()?;
        out.write_all(format!("event: message\ndata: {answer}\n\n").as_bytes())?;
        out.flush()
    });
    let url = format!("http://user:pass@{}/sse", server.addr);
    let client = Client::connect(&sse_config("basic", url, Duration::from_secs(5))).unwrap();
    client.list_tools().unwrap();
    client.close();
    let expected = "Basic dXNlcjpwYXNz"; // user:pass
    let seen = server.seen();
    assert!(seen.iter().filter(|s| s.method == "POST").count() >= 3, "{seen:?}");
    for s in &seen {
        assert_eq!(s.header("authorization"), Some(expected), "{} {}", s.method, s.path);
    }
}

/// A reply stream that gives only priming events (an id, `retry: 0`, empty data) and closes.
fn priming_only(retry_ms: u64) -> Script {
    let n = Arc::new(Mutex::new(0));
    script(move |seen, stream| {
        let is_list = seen.rpc_method().as_deref() == Some("tools/list");
        let resuming = seen.method == "GET" && seen.header("last-event-id").is_some();
        if !is_list && !resuming {
            return basics(seen, stream).unwrap_or(Ok(()));
        }
        let id = {
            let mut n = n.lock().unwrap();
            *n += 1;
            *n
        };
        event_stream(stream, &format!("id: e{id}\nretry: {retry_ms}\ndata:\n\n"))
    })
}

#[test]
fn resumption_has_a_floor_and_priming_events_do_not_reset_its_count() {
    let server = priming_only(0);
    let client = Client::connect(&http_config("primer", server.url("/mcp"), Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    let err = client.list_tools().unwrap_err();
    assert_within(started, Duration::from_secs(8), "list_tools");
    assert!(matches!(err, Error::ConnectionClosed { .. }), "{err}");
    assert_context(&err, "primer", "tools/list", None, &[]);
    // Resumed at most 5 times in a row; then the request (lost) is sent once more, with the
    // same bound on its resumption.
    let resumed = server.count(|s| s.header("last-event-id").is_some());
    assert!((2..=10).contains(&resumed), "resumed {resumed} times");
    assert_eq!(server.count(|s| s.rpc_method().as_deref() == Some("tools/list")), 2);
    assert!(err.to_string().contains("sent again with a new id"), "{err}");
    client.close();
}

/// A reply stream that ends without an event id cannot be resumed: the listing is sent again
/// at once, as a new request (a new JSON-RPC id), and its answer is the caller's.
#[test]
fn a_reply_stream_without_event_ids_is_not_resumed_but_the_listing_is_sent_again_with_a_new_id() {
    let n = Arc::new(Mutex::new(0));
    let server = script(move |seen, stream| {
        if let Some(done) = basics(seen, stream) {
            return done;
        }
        let first = {
            let mut n = n.lock().unwrap();
            *n += 1;
            *n == 1
        };
        if first {
            // A progress notification, then the stream ends before the response.
            let note = json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 1, "progress": 1}});
            return event_stream(stream, &format!("event: message\ndata: {note}\n\n"));
        }
        json_reply(
            stream,
            &result(&seen.json()["id"], json!({"tools": [{"name": "t", "inputSchema": {"type": "object"}}]})),
        )
    });
    let client = Client::connect(&http_config("broken", server.url("/mcp"), Duration::from_secs(5))).unwrap();
    assert_eq!(client.list_tools().unwrap().len(), 1);
    let lists: Vec<Value> = server
        .seen()
        .iter()
        .filter(|s| s.rpc_method().as_deref() == Some("tools/list"))
        .map(|s| s.json()["id"].clone())
        .collect();
    assert_eq!(lists.len(), 2, "{lists:?}");
    assert_ne!(lists[0], lists[1], "the resend has a new id");
    assert_eq!(server.count(|s| s.header("last-event-id").is_some()), 0, "nothing to resume from");
    client.close();
}

#[test]
fn after_the_server_says_its_tools_changed_a_lost_tool_call_is_not_sent_again() {
    // `lookup` is listed read-only, so a lost reply to its call may be sent again; then the
    // server says its tools changed (on another request's reply stream): the tool may no longer
    // be read-only, and until the tools are listed again a lost call is not repeated.
    let server = script(move |seen, stream| {
        if let Some(done) = basics(seen, stream) {
            return done;
        }
        let msg = seen.json();
        match msg["method"].as_str() {
            Some("tools/list") => json_reply(
                stream,
                &result(
                    &msg["id"],
                    json!({"tools": [{"name": "lookup", "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": true}}]}),
                ),
            ),
            Some("resources/list") => {
                let note = json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"});
                let reply = result(&msg["id"], json!({"resources": []}));
                event_stream(stream, &format!("event: message\ndata: {note}\n\nevent: message\ndata: {reply}\n\n"))
            }
            // The reply stream ends before the response, without an event id: lost.
            _ => event_stream(stream, ": nothing\n\n"),
        }
    });
    let client = Client::connect(&http_config("changing", server.url("/mcp"), Duration::from_secs(5))).unwrap();
    assert_eq!(client.list_tools().unwrap().len(), 1);
    assert_eq!(client.list_resources().unwrap().len(), 0);
    let err = client.call_tool("lookup", json!({})).unwrap_err();
    assert!(matches!(err, Error::ConnectionClosed { .. }), "{err}");
    assert_context(&err, "changing", "tools/call", None, &[]);
    let text = err.to_string();
    assert!(text.contains("may have run") && text.contains("annotations are unknown"), "{text}");
    assert_eq!(server.count(|s| s.rpc_method().as_deref() == Some("tools/call")), 1, "not sent again");
    client.close();
}

#[test]
fn close_wakes_a_request_waiting_to_resume() {
    let server = priming_only(20_000);
    let client =
        Arc::new(Client::connect(&http_config("sleeper", server.url("/mcp"), Duration::from_secs(60))).unwrap());
    let caller = client.clone();
    let request = std::thread::Builder::new().name("caller".into()).spawn(move || caller.list_tools()).unwrap();
    eventually("the reply stream was sent", || server.count(|s| s.rpc_method().as_deref() == Some("tools/list")) == 1);
    std::thread::sleep(Duration::from_millis(100)); // let the request reach its back-off wait
    let started = Instant::now();
    client.close();
    let err = request.join().unwrap().unwrap_err();
    assert_within(started, Duration::from_secs(5), "close and the woken request");
    assert!(matches!(err, Error::ConnectionClosed { .. } | Error::Closed { .. }), "{err}");
    assert_eq!(server.count(|s| s.header("last-event-id").is_some()), 0);
}

#[test]
fn invalid_utf8_in_a_json_reply_is_a_protocol_error() {
    let server = script(|seen, stream| {
        if let Some(done) = basics(seen, stream) {
            return done;
        }
        respond(
            stream,
            "200 OK",
            &[("Content-Type", "application/json")],
            b"{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":\"\xff\xfe\"}",
        )
    });
    let client = Client::connect(&http_config("bytes", server.url("/mcp"), Duration::from_secs(5))).unwrap();
    let err = client.list_tools().unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
    assert!(err.to_string().contains("UTF-8"), "{err}");
    assert_context(&err, "bytes", "tools/list", None, &[]);
    client.close();
}

#[test]
fn a_server_that_pings_back_forever_cannot_overflow_the_stack() {
    let n = Arc::new(Mutex::new(0u64));
    let server = script(move |seen, stream| {
        let msg = seen.json();
        let ping = |n: &Mutex<u64>| {
            let mut n = n.lock().unwrap();
            *n += 1;
            json!({"jsonrpc": "2.0", "id": format!("p{n}"), "method": "ping"})
        };
        if seen.method == "POST" && msg.get("method").is_none() {
            // Our answer to a ping: answered with another ping.
            return json_reply(stream, &ping(&n));
        }
        if seen.rpc_method().as_deref() == Some("tools/list") {
            event_stream(stream, &format!("data: {}\n\n", ping(&n)))?;
            std::thread::sleep(Duration::from_secs(10));
            return Ok(());
        }
        basics(seen, stream).unwrap_or(Ok(()))
    });
    let client = Client::connect(&http_config("pinger", server.url("/mcp"), Duration::from_secs(2))).unwrap();
    let started = Instant::now();
    let err = client.list_tools().unwrap_err();
    assert_within(started, Duration::from_secs(6), "list_tools");
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_context(&err, "pinger", "tools/list", None, &[]);
    let answers = server.count(|s| s.method == "POST" && s.json().get("method").is_none());
    assert!((1..=100).contains(&answers), "{answers} answers");
    client.close();
}

#[test]
fn session_renewal_checks_the_protocol_version() {
    let inits = Arc::new(Mutex::new(0));
    let server = script(move |seen, stream| {
        let msg = seen.json();
        if seen.rpc_method().as_deref() == Some("initialize") {
            let n = {
                let mut n = inits.lock().unwrap();
                *n += 1;
                *n
            };
            let version = if n == 1 { msg["params"]["protocolVersion"].clone() } else { json!("1999-01-01") };
            return json_reply(stream, &init_result(&msg["id"], &version));
        }
        if seen.rpc_method().as_deref() == Some("tools/list") {
            return respond(stream, "404 Not Found", &[], b"session expired");
        }
        basics(seen, stream).unwrap_or(Ok(()))
    });
    let client = Client::connect(&http_config("renewer", server.url("/mcp"), Duration::from_secs(5))).unwrap();
    let err = client.list_tools().unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
    assert!(err.to_string().contains("1999-01-01"), "{err}");
    assert_context(&err, "renewer", "initialize", None, &[]);
    assert_eq!(server.count(|s| s.rpc_method().as_deref() == Some("tools/list")), 1, "no retry on a bad session");
    client.close();
}

#[test]
fn a_timed_out_request_returns_before_its_cancellation_is_sent() {
    let server = script(|seen, stream| {
        match seen.rpc_method().as_deref() {
            Some("tools/list") => {
                // The reply stream starts, then stalls past the deadline.
                event_stream(stream, "id: t-0\ndata:\n\n")?;
                std::thread::sleep(Duration::from_secs(10));
                Ok(())
            }
            Some("notifications/cancelled") => {
                // The cancellation is taken in, but its answer stalls.
                std::thread::sleep(Duration::from_secs(10));
                respond(stream, "202 Accepted", &[], b"")
            }
            _ => basics(seen, stream).unwrap_or(Ok(())),
        }
    });
    let client = Client::connect(&http_config("slowpoke", server.url("/mcp"), Duration::from_secs(3))).unwrap();
    let started = Instant::now();
    let err = client.list_tools().unwrap_err();
    // The deadline plus slack, not plus the cancellation's own bound (2 s).
    assert_within(started, Duration::from_millis(4500), "list_tools");
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_context(&err, "slowpoke", "tools/list", None, &[]);
    eventually("the cancellation reaches the server", || {
        server.count(|s| s.rpc_method().as_deref() == Some("notifications/cancelled")) == 1
    });
    let started = Instant::now();
    client.close();
    assert_within(started, Duration::from_secs(5), "close");
}

#[cfg(feature = "testing")]
#[test]
fn a_timeout_of_1e19_seconds_works_over_sse_too() {
    use mcp_orchestrator::testing::{Fault, TestServer};
    let server = TestServer::builder().with_sample_resources(3).fault(Fault::PingClient).start().unwrap();
    let yaml = format!(
        "mcp_servers:\n  huge:\n    url: {}\n    priority: 1\n    transport: sse\n    timeout: 1e19\n",
        server.url()
    );
    let config = Config::from_yaml_str(&yaml).unwrap();
    let client = Client::connect(&config.servers[0]).unwrap();
    assert_eq!(client.list_resources().unwrap().len(), 3);
    // The reader's answer to the server's ping is bounded too.
    assert!(server.wait_until(Duration::from_secs(5), |s| s.client_pings_answered == 1));
    let started = Instant::now();
    client.close();
    assert_within(started, Duration::from_secs(5), "close");
}
