//! The test server proven with raw sockets: a hand-written HTTP client and event-stream reader,
//! independent of the crate's own client.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::server::oversized_data;
use super::{Fault, Gauge, TestServer, text_result};
use crate::RequestId;

/// Every wait in these tests gives up after this long (generous: CI machines are slow).
const WAIT: Duration = Duration::from_secs(5);

/// One event (or a block of comments) read from a stream.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    name: String,
    data: String,
    comments: Vec<String>,
}

/// A raw event-stream reader: dechunks the body and splits events on blank lines.
struct Sse {
    stream: TcpStream,
    head: String,
    chunked: bool,
    /// Socket bytes not yet dechunked.
    pending: Vec<u8>,
    /// The body so far, dechunked (kept whole, for byte-level assertions).
    body: Vec<u8>,
    /// How much of `body` has been consumed as events.
    consumed: usize,
    /// The last chunk arrived, or the socket closed.
    ended: bool,
}

impl Sse {
    fn open(addr: SocketAddr) -> Sse {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        write!(stream, "GET /sse HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n").unwrap();
        let mut sse = Sse {
            stream,
            head: String::new(),
            chunked: false,
            pending: Vec::new(),
            body: Vec::new(),
            consumed: 0,
            ended: false,
        };
        let deadline = Instant::now() + WAIT;
        let end = loop {
            if let Some(i) = find(&sse.pending, b"\r\n\r\n") {
                break i + 4;
            }
            assert!(sse.fill(deadline), "no response head");
        };
        sse.head = String::from_utf8(sse.pending.drain(..end).collect()).unwrap();
        sse.chunked = sse.head.to_ascii_lowercase().contains("transfer-encoding: chunked");
        sse
    }

    /// Reads more bytes from the socket; false at EOF or the deadline.
    fn fill(&mut self, deadline: Instant) -> bool {
        let mut buf = [0u8; 65536];
        while Instant::now() < deadline {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.ended = true;
                    return false;
                }
                Ok(n) => {
                    self.pending.extend_from_slice(&buf[..n]);
                    return true;
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(_) => {
                    self.ended = true;
                    return false;
                }
            }
        }
        false
    }

    /// Moves complete chunks from `pending` to `body`.
    fn dechunk(&mut self) {
        if !self.chunked {
            self.body.append(&mut self.pending);
            return;
        }
        loop {
            let Some(line_end) = find(&self.pending, b"\r\n") else { return };
            let size = usize::from_str_radix(std::str::from_utf8(&self.pending[..line_end]).unwrap(), 16).unwrap();
            if size == 0 {
                assert_eq!(&self.pending[line_end..], b"\r\n\r\n", "the last chunk ends the body");
                self.pending.clear();
                self.ended = true;
                return;
            }
            let total = line_end + 2 + size + 2;
            if self.pending.len() < total {
                return;
            }
            assert_eq!(&self.pending[total - 2..total], b"\r\n", "a chunk ends in CRLF");
            self.body.extend_from_slice(&self.pending[line_end + 2..total - 2]);
            self.pending.drain(..total);
        }
    }

    /// The next event (a comment-only block counts as an event named `""`), within `timeout`.
    fn next_within(&mut self, timeout: Duration) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            self.dechunk();
            let rest = &self.body[self.consumed..];
            let blank = [find(rest, b"\r\n\r\n").map(|i| (i, 4)), find(rest, b"\n\n").map(|i| (i, 2))]
                .into_iter()
                .flatten()
                .min_by_key(|(i, _)| *i);
            if let Some((i, sep)) = blank {
                let block = String::from_utf8(rest[..i].to_vec()).unwrap();
                self.consumed += i + sep;
                let mut event = Event { name: String::new(), data: String::new(), comments: Vec::new() };
                for line in block.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)) {
                    if let Some(c) = line.strip_prefix(':') {
                        event.comments.push(c.trim_start().to_string());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event.name = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        if !event.data.is_empty() {
                            event.data.push('\n');
                        }
                        event.data.push_str(v);
                    }
                }
                return Some(event);
            }
            if self.ended || !self.fill(deadline) {
                self.dechunk();
                if self.consumed == self.body.len() || self.ended {
                    return None;
                }
            }
        }
    }

    fn next(&mut self) -> Event {
        self.next_within(WAIT).expect("an event within the deadline")
    }

    /// The next JSON-RPC message, skipping comments.
    fn message(&mut self) -> Value {
        loop {
            let e = self.next();
            if e.comments.is_empty() || !e.data.is_empty() {
                assert_eq!(e.name, "message", "{e:?}");
                return serde_json::from_str(&e.data).unwrap_or_else(|err| panic!("{err}: {}", e.data));
            }
        }
    }

    /// The response with this id, skipping other messages.
    fn response(&mut self, id: Value) -> Value {
        loop {
            let m = self.message();
            if m.get("id") == Some(&id) && m.get("method").is_none() {
                return m;
            }
        }
    }

    /// Whether the body ends (last chunk or EOF) within `timeout`, skipping events.
    fn ends_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.ended && Instant::now() < deadline {
            self.fill(deadline);
            self.dechunk();
        }
        self.ended
    }
}

/// Polls `cond` until it holds or [`WAIT`] passes.
fn eventually(cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A raw HTTP/1.1 client on one keep-alive connection.
struct Http {
    stream: TcpStream,
    buf: Vec<u8>,
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Http {
    fn connect(addr: SocketAddr) -> Http {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        Http { stream, buf: Vec::new() }
    }

    fn send(&mut self, raw: &[u8]) -> Reply {
        self.stream.write_all(raw).unwrap();
        self.read_reply()
    }

    fn read_reply(&mut self) -> Reply {
        let mut chunk = [0u8; 4096];
        let end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            let n = self.stream.read(&mut chunk).expect("a response");
            assert!(n > 0, "connection closed before a response");
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(self.buf.drain(..end).collect()).unwrap();
        let status = head[9..12].parse().unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().parse().unwrap()))
            .expect("content-length");
        while self.buf.len() < length {
            let n = self.stream.read(&mut chunk).unwrap();
            assert!(n > 0, "connection closed in a body");
            self.buf.extend_from_slice(&chunk[..n]);
        }
        let body = String::from_utf8(self.buf.drain(..length).collect()).unwrap();
        Reply { status, head, body }
    }

    fn post(&mut self, path: &str, body: &str) -> Reply {
        let raw = format!(
            "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.send(raw.as_bytes())
    }

    fn rpc(&mut self, path: &str, id: i64, method: &str, params: Value) -> Reply {
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.post(path, &msg.to_string())
    }

    fn notify(&mut self, path: &str, method: &str, params: Value) -> Reply {
        self.post(path, &json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string())
    }

    /// Reads until the server closes the connection; true if it did within the deadline.
    fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) => return e.kind() == io::ErrorKind::ConnectionReset,
            }
        }
    }
}

/// Opens a stream and reads the endpoint; returns the stream and the POST path.
fn session(server: &TestServer) -> (Sse, String) {
    let mut sse = Sse::open(server.addr());
    let e = sse.next();
    assert_eq!(e.name, "endpoint");
    (sse, e.data)
}

/// A session with the handshake done.
fn initialized(server: &TestServer) -> (Sse, String, Http) {
    let (mut sse, path) = session(server);
    let mut http = Http::connect(server.addr());
    assert_eq!(
        http.rpc(
            &path,
            0,
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}})
        )
        .status,
        202
    );
    sse.response(json!(0));
    assert_eq!(http.notify(&path, "notifications/initialized", json!({})).status, 202);
    (sse, path, http)
}

#[test]
fn the_server_can_be_shared_between_threads() {
    fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<TestServer>();
    is_send_sync::<Gauge>();
}

#[test]
fn get_sse_yields_the_endpoint_event_first() {
    let server = TestServer::builder().start().unwrap();
    assert_eq!(server.url(), format!("http://{}/sse", server.addr()));
    let mut sse = Sse::open(server.addr());
    let head = sse.head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    assert!(head.contains("content-type: text/event-stream\r\n"), "{head}");
    assert!(head.contains("cache-control: no-cache\r\n"), "{head}");
    assert!(sse.chunked, "{head}");
    let e = sse.next();
    assert_eq!(e.name, "endpoint");
    let id = e.data.strip_prefix("/messages/?session_id=").expect(&e.data);
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{id}");
    assert!(sse.body.starts_with(format!("event: endpoint\r\ndata: {}\r\n\r\n", e.data).as_bytes()));
    let (_other_stream, other) = session(&server);
    assert_ne!(other, e.data, "session ids differ");
    assert!(server.wait_until(WAIT, |s| s.sse_connections == 2 && s.open_sessions == 2));
}

#[test]
fn initialize_is_accepted_and_answered_on_the_stream() {
    let server = TestServer::builder().name("db").version("1.2.3").instructions("be nice").start().unwrap();
    let (mut sse, path) = session(&server);
    let mut http = Http::connect(server.addr());
    let reply = http.rpc(
        &path,
        7,
        "initialize",
        json!({"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}),
    );
    assert_eq!((reply.status, reply.body.as_str()), (202, "Accepted"));
    assert!(reply.head.starts_with("HTTP/1.1 202 Accepted\r\n"), "{}", reply.head);
    let r = sse.response(json!(7));
    assert_eq!(r["jsonrpc"], "2.0");
    assert_eq!(r["result"]["protocolVersion"], "2024-11-05");
    assert_eq!(r["result"]["serverInfo"], json!({"name": "db", "version": "1.2.3"}));
    assert_eq!(r["result"]["instructions"], "be nice");
    assert_eq!(r["result"]["capabilities"]["resources"]["listChanged"], true);
    // The same connection carries the next POSTs (keep-alive).
    assert_eq!(http.notify(&path, "notifications/initialized", json!({})).status, 202);
    assert_eq!(http.rpc(&path, 8, "ping", json!({})).status, 202);
    assert_eq!(sse.response(json!(8))["result"], json!({}));
    assert_eq!(http.post(&path, r#"{"jsonrpc":"2.0","id":"s","method":"nope"}"#).status, 202);
    assert_eq!(sse.response(json!("s"))["error"]["code"], -32601);
    let stats = server.stats();
    assert_eq!(stats.http_connections, 2, "one stream, one reused POST connection: {stats:?}");
    assert_eq!(stats.posts, 4);
    assert_eq!(stats.count("initialize"), 1);
    assert_eq!(stats.count("notifications/initialized"), 1);
    assert_eq!(stats.count("ping"), 1);
    assert_eq!(stats.count("nope"), 1);
    assert_eq!(stats.max_concurrent_connections, 2);
    // Requests were sent one at a time; a guard is released just after its answer is written,
    // so the next request may overlap it by an instant.
    assert!((1..=2).contains(&stats.in_flight_max), "{stats:?}");
}

#[test]
fn lists_are_paged_and_the_last_page_has_no_cursor() {
    let mut b = TestServer::builder().with_sample_resources(5).page_size(2);
    for i in 0..3 {
        b = b.simple_tool(&format!("tool-{i}"), "a tool", |_| Ok(text_result("ok")));
    }
    let server = b.start().unwrap();
    let (mut sse, path, mut http) = initialized(&server);
    for (method, key, expected) in [
        ("resources/list", "resources", 5),
        ("tools/list", "tools", 3),
        ("resources/templates/list", "resourceTemplates", 0),
    ] {
        let mut cursor = Value::Null;
        let mut items = Vec::new();
        let mut pages = 0;
        loop {
            let params = if cursor.is_null() { json!({}) } else { json!({"cursor": cursor}) };
            http.rpc(&path, 100 + pages, method, params);
            let r = sse.response(json!(100 + pages));
            pages += 1;
            items.extend(r["result"][key].as_array().unwrap().iter().cloned());
            match r["result"].get("nextCursor") {
                None => break,
                Some(c) => cursor = c.clone(),
            }
        }
        assert_eq!(items.len(), expected, "{method}");
        assert_eq!(pages as usize, expected.div_ceil(2).max(1), "{method}");
    }
    http.rpc(&path, 1, "resources/list", json!({"cursor": "garbage"}));
    assert_eq!(sse.response(json!(1))["error"]["code"], -32602);
}

#[test]
fn reads_text_and_blob_and_calls_tools() {
    let server = TestServer::builder()
        .text_resource("database://metadata", "metadata", "application/json", r#"{"tables":["sales"]}"#)
        .blob_resource("test://blob", "blob", "application/octet-stream", &[0, 1, 2, 255])
        .simple_tool("execute_query", "runs SQL", |args| {
            let q = args.get("query").and_then(Value::as_str).ok_or("query is required")?;
            Ok(text_result(format!("ran {q}")))
        })
        .start()
        .unwrap();
    let (mut sse, path, mut http) = initialized(&server);
    http.rpc(&path, 1, "resources/read", json!({"uri": "database://metadata"}));
    let c = &sse.response(json!(1))["result"]["contents"][0];
    assert_eq!(c["text"], r#"{"tables":["sales"]}"#);
    assert_eq!(c["mimeType"], "application/json");
    http.rpc(&path, 2, "resources/read", json!({"uri": "test://blob"}));
    assert_eq!(sse.response(json!(2))["result"]["contents"][0]["blob"], "AAEC/w==");
    http.rpc(&path, 3, "resources/read", json!({"uri": "test://missing"}));
    let e = sse.response(json!(3));
    assert_eq!(e["error"]["code"], -32002);
    assert_eq!(e["error"]["message"], "Resource not found");
    http.rpc(&path, 4, "tools/call", json!({"name": "execute_query", "arguments": {"query": "SELECT 1"}}));
    let r = sse.response(json!(4));
    assert_eq!(
        (r["result"]["content"][0]["text"].as_str(), r["result"]["isError"].as_bool()),
        (Some("ran SELECT 1"), Some(false))
    );
    http.rpc(&path, 5, "tools/call", json!({"name": "execute_query", "arguments": {}}));
    let r = sse.response(json!(5));
    assert_eq!(
        (r["result"]["content"][0]["text"].as_str(), r["result"]["isError"].as_bool()),
        (Some("query is required"), Some(true))
    );
    http.rpc(&path, 6, "tools/call", json!({"name": "drop_table"}));
    assert_eq!(sse.response(json!(6))["error"]["code"], -32602);
}

#[test]
fn bad_posts_get_http_errors() {
    let server = TestServer::builder().start().unwrap();
    let (mut sse, path) = session(&server);
    let mut http = Http::connect(server.addr());
    let r = http.post("/messages/?session_id=00000000000000000000000000000000", "{}");
    assert_eq!((r.status, r.body.as_str()), (404, "Could not find session"));
    assert_eq!(http.post("/messages/", "{}").status, 400);
    let r = http.post(&path, "{not json");
    assert_eq!((r.status, r.body.as_str()), (400, "Could not parse message"));
    let e = sse.message();
    assert_eq!((e["id"].clone(), e["error"]["code"].clone()), (Value::Null, json!(-32700)));
    assert_eq!(http.send(b"GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n").status, 404);
    assert_eq!(http.send(b"PUT /sse HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n").status, 405);
    assert_eq!(http.send(b"GET /messages/ HTTP/1.1\r\nHost: t\r\n\r\n").status, 405);
    // Limits: a huge body is refused before it is read, and the connection closes.
    let mut big = Http::connect(server.addr());
    let r = big.send(b"POST /messages/ HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n");
    assert_eq!(r.status, 413);
    assert!(big.closed());
    // Also while the client is still sending: it sees the 413, not a reset.
    let mut eager = Http::connect(server.addr());
    let mut raw = b"POST /messages/ HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n".to_vec();
    raw.extend(std::iter::repeat_n(b'x', 200_000));
    let _ = eager.stream.write_all(&raw);
    assert_eq!(eager.read_reply().status, 413);
    let mut garbage = Http::connect(server.addr());
    assert_eq!(garbage.send(b"\x00\x01 nonsense\r\n\r\n").status, 400);
    assert!(garbage.closed());
    let mut huge_head = Http::connect(server.addr());
    let mut raw = b"GET /sse HTTP/1.1\r\nX-Big: ".to_vec();
    raw.extend(std::iter::repeat_n(b'a', 20_000));
    assert_eq!(huge_head.send(&raw).status, 400);
    // The server is still fine.
    assert_eq!(http.rpc(&path, 1, "ping", json!({})).status, 202);
    assert_eq!(sse.response(json!(1))["result"], json!({}));
}

#[test]
fn forget_sessions_answers_404_and_post_status_its_status() {
    let server = TestServer::builder().fault(Fault::ForgetSessions).start().unwrap();
    let (_sse, path) = session(&server);
    let r = Http::connect(server.addr()).rpc(&path, 1, "initialize", json!({}));
    assert_eq!((r.status, r.body.as_str()), (404, "Could not find session"));

    let server = TestServer::builder().fault(Fault::PostStatus(500)).start().unwrap();
    let (_sse, path) = session(&server);
    let r = Http::connect(server.addr()).rpc(&path, 1, "initialize", json!({}));
    assert_eq!(r.status, 500);
    assert!(r.head.starts_with("HTTP/1.1 500 Internal Server Error\r\n"), "{}", r.head);
    assert!(r.body.contains("500"), "{}", r.body);
    assert_eq!(server.stats().posts, 1);
    assert_eq!(server.stats().count("initialize"), 0, "not processed");
}

#[test]
fn oversized_event_has_exactly_that_many_bytes() {
    for n in [10, 1_000, 300_000] {
        let server = TestServer::builder().fault(Fault::OversizedEvent(n)).start().unwrap();
        let (mut sse, _) = session(&server);
        let e = sse.next();
        assert_eq!((e.name.as_str(), e.data.len()), ("message", n));
        if n >= 1_000 {
            let v: Value = serde_json::from_str(&e.data).unwrap();
            assert_eq!(v["method"], "notifications/message");
        }
    }
    assert_eq!(oversized_data(5), b"xxxxx");
}

#[test]
fn line_ends_are_crlf_by_default_and_lf_on_request() {
    for (faults, nl) in [(vec![], "\r\n"), (vec![Fault::BareLf], "\n")] {
        let mut b = TestServer::builder();
        for f in faults {
            b = b.fault(f);
        }
        let server = b.start().unwrap();
        let (mut sse, path) = session(&server);
        Http::connect(server.addr()).rpc(&path, 1, "ping", json!({}));
        sse.response(json!(1));
        let expected = format!(
            "event: endpoint{nl}data: {path}{nl}{nl}event: message{nl}data: {{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{{}}}}{nl}{nl}"
        );
        assert_eq!(String::from_utf8(sse.body.clone()).unwrap(), expected);
    }
}

#[test]
fn shutdown_is_bounded_with_clients_connected_and_then_the_port_refuses() {
    let server = TestServer::builder()
        .fault(Fault::NeverAnswer("ping".into()))
        .fault(Fault::Delay("tools/list".into(), Duration::from_secs(60)))
        .start()
        .unwrap();
    let addr = server.addr();
    let (mut sse, path, mut http) = initialized(&server);
    http.rpc(&path, 1, "ping", json!({}));
    http.rpc(&path, 2, "tools/list", json!({}));
    let _idle = TcpStream::connect(addr).unwrap(); // a connection that never sends anything
    let mut half = TcpStream::connect(addr).unwrap(); // one that sends half a request
    half.write_all(b"POST /messages/ HTTP/1.1\r\nContent-Le").unwrap();
    assert!(server.wait_until(WAIT, |s| s.open_connections == 4));
    let started = Instant::now();
    server.shutdown();
    let took = started.elapsed();
    eprintln!("shutdown took {took:?}");
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    assert!(sse.ends_within(WAIT), "the stream ends");
    assert!(http.closed());
    let err = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).expect_err("the port refuses");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    let stats = server.stats();
    assert_eq!((stats.open_sessions, stats.closed_sessions, stats.open_connections), (0, 1, 0), "{stats:?}");
    server.shutdown(); // idempotent
}

#[test]
fn a_client_closing_its_stream_is_seen() {
    let server = TestServer::builder().start().unwrap();
    let (sse, _) = session(&server);
    let (_other, _) = session(&server);
    assert!(server.wait_until(WAIT, |s| s.open_sessions == 2));
    drop(sse);
    assert!(server.wait_until(WAIT, |s| s.open_sessions == 1 && s.closed_sessions == 1), "{:?}", server.stats());
    assert_eq!(server.notify("notifications/resources/list_changed", None), 1);
}

#[test]
fn delayed_answers_do_not_hold_up_others_and_gauges_track_in_flight() {
    let gauge = Gauge::new();
    let server = TestServer::builder()
        .fault(Fault::Delay("tools/list".into(), Duration::from_millis(500)))
        .fault(Fault::NeverAnswer("resources/list".into()))
        .gauge(Arc::clone(&gauge))
        .start()
        .unwrap();
    let other = TestServer::builder().gauge(Arc::clone(&gauge)).start().unwrap();
    let (mut sse, path, mut http) = initialized(&server);
    let started = Instant::now();
    http.rpc(&path, 1, "tools/list", json!({}));
    http.rpc(&path, 2, "resources/list", json!({}));
    http.rpc(&path, 3, "ping", json!({}));
    assert_eq!(sse.message()["id"], 3, "the ping overtakes the delayed answer");
    assert_eq!(sse.message()["id"], 1);
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(server.stats().in_flight_max >= 3, "{:?}", server.stats());
    assert!(gauge.max() >= 3);
    assert!(eventually(|| gauge.current() == 1), "resources/list is held");
    // The second server counts on the same gauge.
    let (mut sse2, path2, mut http2) = initialized(&other);
    http2.rpc(&path2, 9, "ping", json!({}));
    sse2.response(json!(9));
    // Cancelling the held request releases it, and is recorded.
    http.notify(&path, "notifications/cancelled", json!({"requestId": 2, "reason": "timeout"}));
    assert!(server.wait_until(WAIT, |s| s.cancelled.len() == 1));
    assert_eq!(server.stats().cancelled[0].request_id, Some(RequestId::Number(2)));
    assert_eq!(server.stats().cancelled[0].reason.as_deref(), Some("timeout"));
    assert!(eventually(|| gauge.current() == 0), "{}", gauge.current());
    // A held request is also released when its session ends.
    http.rpc(&path, 4, "resources/list", json!({}));
    assert!(server.wait_until(WAIT, |s| s.count("resources/list") == 2));
    assert!(eventually(|| gauge.current() == 1));
    drop(sse);
    assert!(server.wait_until(WAIT, |s| s.closed_sessions == 1));
    // The session's held requests are released as its stream ends, not before the count moves.
    assert!(eventually(|| gauge.current() == 0), "{}", gauge.current());
}

#[test]
fn malformed_event_then_the_answer() {
    let server = TestServer::builder().fault(Fault::MalformedEvent("tools/list".into())).start().unwrap();
    let (mut sse, path, mut http) = initialized(&server);
    http.rpc(&path, 1, "tools/list", json!({}));
    let e = sse.next();
    assert_eq!((e.name.as_str(), e.data.as_str()), ("message", "{not json"));
    assert_eq!(sse.message()["id"], 1);
}

#[test]
fn close_stream_on_ends_the_body() {
    let server = TestServer::builder().fault(Fault::CloseStreamOn("resources/list".into())).start().unwrap();
    let (mut sse, path, mut http) = initialized(&server);
    assert_eq!(http.rpc(&path, 1, "resources/list", json!({})).status, 202);
    assert!(sse.ends_within(WAIT));
    assert!(sse.next_within(Duration::from_millis(50)).is_none(), "no answer");
    assert!(server.wait_until(WAIT, |s| s.open_sessions == 0 && s.closed_sessions == 1));
    assert_eq!(http.rpc(&path, 2, "ping", json!({})).status, 404, "the session is gone");
}

#[test]
fn server_requests_and_notifications_after_initialized() {
    let server = TestServer::builder()
        .fault(Fault::PingClient)
        .fault(Fault::RequestClient("roots/list".into()))
        .fault(Fault::NotifyAfterInitialized)
        .start()
        .unwrap();
    let (mut sse, path, mut http) = initialized(&server);
    let ping = sse.message();
    assert_eq!(ping["method"], "ping");
    assert!(ping["id"].is_string(), "{ping}");
    let roots = sse.message();
    assert_eq!(roots["method"], "roots/list");
    let log = sse.message();
    assert_eq!(log["method"], "notifications/message");
    assert_eq!(log["params"], json!({"level": "info", "logger": "test", "data": "hello"}));
    assert_eq!(sse.message()["method"], "notifications/progress");
    http.post(&path, &json!({"jsonrpc": "2.0", "id": ping["id"], "result": {}}).to_string());
    http.post(
        &path,
        &json!({"jsonrpc": "2.0", "id": roots["id"], "error": {"code": -32601, "message": "Method not found"}})
            .to_string(),
    );
    assert!(server.wait_until(WAIT, |s| s.client_answers.len() == 2));
    let stats = server.stats();
    assert_eq!(stats.client_pings_answered, 1);
    assert_eq!(stats.client_answers[1].method.as_deref(), Some("roots/list"));
    assert_eq!(stats.client_answers[1].result, Err((-32601, "Method not found".into())));
    // notify() reaches the open session.
    assert_eq!(server.notify("notifications/resources/list_changed", Some(json!({}))), 1);
    assert_eq!(sse.message()["method"], "notifications/resources/list_changed");
    assert_eq!(server.close_streams(), 1);
    assert!(sse.ends_within(WAIT));
}

#[test]
fn keep_alive_comments_arrive() {
    let server = TestServer::builder().fault(Fault::KeepAlive(Duration::from_millis(20))).start().unwrap();
    let (mut sse, _) = session(&server);
    for _ in 0..2 {
        let e = sse.next();
        assert!(e.data.is_empty() && e.comments.len() == 1 && e.comments[0].starts_with("ping - "), "{e:?}");
    }
}

#[test]
fn endpoint_faults() {
    let server = TestServer::builder().fault(Fault::NoEndpoint).start().unwrap();
    let mut sse = Sse::open(server.addr());
    assert!(sse.head.starts_with("HTTP/1.1 200"));
    assert!(sse.next_within(Duration::from_millis(200)).is_none());
    assert!(server.wait_until(WAIT, |s| s.open_sessions == 1));

    let server = TestServer::builder().fault(Fault::ForeignEndpoint).start().unwrap();
    let (_sse, endpoint) = session(&server);
    let expected = format!("http://127.0.0.2:{}/messages/?session_id=", server.addr().port());
    assert!(endpoint.starts_with(&expected), "{endpoint}");

    let server = TestServer::builder().fault(Fault::RefuseConnections).start().unwrap();
    assert!(server.url().starts_with("http://127.0.0.1:"));
    let err = TcpStream::connect_timeout(&server.addr(), Duration::from_secs(1)).expect_err("refused");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}

#[test]
fn slow_stream_and_repeat_cursor() {
    let server = TestServer::builder()
        .with_sample_resources(3)
        .page_size(1)
        .fault(Fault::RepeatCursor)
        .fault(Fault::SlowStream(Duration::from_millis(1)))
        .start()
        .unwrap();
    let (mut sse, path, mut http) = initialized(&server);
    http.rpc(&path, 1, "resources/list", json!({}));
    let first = sse.response(json!(1))["result"]["nextCursor"].clone();
    http.rpc(&path, 2, "resources/list", json!({"cursor": first}));
    assert_eq!(sse.response(json!(2))["result"]["nextCursor"], first);
}

#[test]
fn many_concurrent_connections_are_counted() {
    let server = TestServer::builder().start().unwrap();
    let (mut sse, path) = session(&server);
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let addr = server.addr();
            let path = path.clone();
            std::thread::spawn(move || Http::connect(addr).rpc(&path, i, "ping", json!({})).status)
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 202);
    }
    let mut ids: Vec<i64> = (0..8).map(|_| sse.message()["id"].as_i64().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, (0..8).collect::<Vec<_>>());
    let stats = server.stats();
    assert_eq!((stats.http_connections, stats.count("ping")), (9, 8));
    assert!(stats.max_concurrent_connections >= 2 && stats.max_concurrent_connections <= 9, "{stats:?}");
}
