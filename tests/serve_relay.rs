//! `serve` passing things through during a routed `tools/call`: the upstream's elicitation,
//! sampling and roots requests asked of the downstream client (and its answers returned
//! upstream), the upstream's progress sent downstream with the client's own token, and the
//! client's `notifications/cancelled` cancelling the upstream call. Over real pipes (stdio) and
//! a real socket (Streamable HTTP, the requests in the POST's event-stream reply). Also the
//! Streamable HTTP GET stream (an upstream's `list_changed` pushed on it) and paged lists, and an
//! upstream task (MCP Tasks) polled for the client and cancelled by its cancel.

#![cfg(feature = "testing")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mcp_orchestrator::serve::{HttpOptions, Server, serve_http, serve_stdio};
use mcp_orchestrator::testing::{Fault, TestServer, text_result};
use mcp_orchestrator::{Config, Orchestration, Orchestrator, ServerConfig, Transport};
use serde_json::{Value, json};

/// alpha over Streamable HTTP, beta over legacy SSE: each has an asking tool; beta's
/// `slow` tool never answers (its calls are only ever cancelled).
fn upstreams() -> (TestServer, TestServer, TestServer) {
    let alpha = TestServer::builder()
        .name("alpha")
        .simple_tool("alpha_tool", "alpha's tool", |_| Ok(text_result("alpha")))
        .simple_tool("ask_alpha", "asks the client", |_| Ok(text_result("unused")))
        .fault(Fault::AskClient("ask_alpha".into()))
        .start()
        .expect("alpha");
    let beta = TestServer::builder()
        .name("beta")
        .simple_tool("beta_tool", "beta's tool", |_| Ok(text_result("beta")))
        .simple_tool("ask_beta", "asks the client", |_| Ok(text_result("unused")))
        .fault(Fault::AskClient("ask_beta".into()))
        .start()
        .expect("beta");
    let slow = TestServer::builder()
        .name("slow")
        .simple_tool("slow_tool", "never answers", |_| Ok(text_result("never")))
        .fault(Fault::NeverAnswer("tools/call".into()))
        .start()
        .expect("slow");
    (alpha, beta, slow)
}

fn orchestrator(alpha: &TestServer, beta: &TestServer, slow: &TestServer) -> Arc<Orchestrator> {
    let mut servers = vec![
        ServerConfig::new("alpha", Transport::StreamableHttp { url: alpha.mcp_url().to_string() }),
        ServerConfig::new("beta", Transport::Sse { url: beta.url().to_string() }),
        ServerConfig::new("slow", Transport::Sse { url: slow.url().to_string() }),
    ];
    for (i, s) in servers.iter_mut().enumerate() {
        s.priority = i as u32 + 1;
        s.timeout = Duration::from_secs(10);
    }
    Arc::new(Orchestrator::new(Config::new(servers, Orchestration::default()).unwrap()))
}

/// A client on the far end of two pipes to `serve_stdio`.
struct StdioClient {
    to_server: Option<std::io::PipeWriter>,
    lines: mpsc::Receiver<Value>,
    done: Option<thread::JoinHandle<std::io::Result<()>>>,
}

impl StdioClient {
    fn start(server: Arc<Server>) -> StdioClient {
        let (server_in, to_server) = std::io::pipe().unwrap();
        let (from_server, server_out) = std::io::pipe().unwrap();
        let done = thread::spawn(move || serve_stdio(server, BufReader::new(server_in), server_out));
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(from_server).lines() {
                let Ok(line) = line else { return };
                let v: Value = serde_json::from_str(&line).expect("only JSON-RPC on stdout");
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        StdioClient { to_server: Some(to_server), lines, done: Some(done) }
    }

    fn send(&mut self, message: &Value) {
        writeln!(self.to_server.as_mut().unwrap(), "{message}").unwrap();
    }

    fn next(&mut self) -> Value {
        self.lines.recv_timeout(Duration::from_secs(10)).expect("a message from serve within 10 s")
    }

    fn initialize(&mut self, capabilities: Value) {
        let params = json!({"protocolVersion": "2025-11-25", "capabilities": capabilities,
            "clientInfo": {"name": "t", "version": "0"}});
        self.send(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}));
        let init = self.next();
        assert_eq!(init["id"], 0, "{init}");
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    }

    fn close(mut self) {
        drop(self.to_server.take());
        let (tx, rx) = mpsc::channel();
        let done = self.done.take().unwrap();
        thread::spawn(move || tx.send(done.join()));
        rx.recv_timeout(Duration::from_secs(10)).expect("serve_stdio returns").unwrap().unwrap();
    }
}

/// A client's answer to a relayed request, marked with the request's id so that each answer
/// can be found in the result of the call it reached.
fn answer_for(request: &Value) -> Value {
    let id = request["id"].clone();
    let mark = id.as_str().unwrap_or("?").to_string();
    let result = match request["method"].as_str().unwrap() {
        "elicitation/create" => json!({"action": "accept", "content": {"name": mark}}),
        "sampling/createMessage" => {
            json!({"role": "assistant", "content": {"type": "text", "text": mark}, "model": "m", "stopReason": "endTurn"})
        }
        "roots/list" => json!({"roots": [{"uri": format!("file:///{mark}")}]}),
        other => panic!("unexpected request {other}"),
    };
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// The answers a result of the asking tool holds: `{method: {"result": …} | {"error": …}}`.
fn answers_in(response: &Value) -> Value {
    let text = response["result"]["content"][0]["text"].as_str().unwrap_or_else(|| panic!("{response}"));
    serde_json::from_str(text).unwrap()
}

#[test]
fn stdio_relays_requests_of_concurrent_calls_each_to_its_own_upstream() {
    let (alpha, beta, slow) = upstreams();
    let o = orchestrator(&alpha, &beta, &slow);
    let server = Server::new(Arc::clone(&o));
    o.initialize().unwrap();
    // The upstream sessions declared every kind (serve relays them).
    let declared = alpha.stats().client_capabilities.expect("alpha saw initialize");
    assert!(declared.get("elicitation").is_some() && declared.get("sampling").is_some(), "{declared}");

    let mut c = StdioClient::start(server);
    c.initialize(json!({"elicitation": {}, "sampling": {}, "roots": {}}));
    // Both calls in flight at once: six requests come, interleaved; each is answered.
    for (id, tool) in [(1, "ask_alpha"), (2, "ask_beta")] {
        c.send(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": {}}}));
    }
    let (mut results, mut asked) = (Vec::new(), Vec::new());
    while results.len() < 2 {
        let m = c.next();
        if m.get("method").is_some() && m.get("id").is_some() {
            asked.push(m["id"].as_str().unwrap().to_string());
            c.send(&answer_for(&m));
        } else if m.get("id").is_some() {
            results.push(m);
        }
    }
    assert_eq!(asked.len(), 6, "{asked:?} {results:?}");
    let mut marks = Vec::new();
    for r in &results {
        let answers = answers_in(r);
        let elicited = answers["elicitation/create"]["result"]["content"]["name"].as_str().unwrap();
        let sampled = answers["sampling/createMessage"]["result"]["content"]["text"].as_str().unwrap();
        let root = answers["roots/list"]["result"]["roots"][0]["uri"].as_str().unwrap();
        marks.extend([elicited.to_string(), sampled.to_string(), root.trim_start_matches("file:///").to_string()]);
    }
    marks.sort();
    asked.sort();
    assert_eq!(marks, asked, "each answer reached one call, once: {results:?}");
    c.close();

    // A client without sampling: the upstream is told so (method not found), the rest passes.
    let mut c = StdioClient::start(Server::new(Arc::clone(&o)));
    c.initialize(json!({"elicitation": {}}));
    c.send(
        &json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "ask_beta", "arguments": {}}}),
    );
    let result = loop {
        let m = c.next();
        if m.get("method").is_some() {
            assert_eq!(m["method"], "elicitation/create", "only what it declared is asked: {m}");
            c.send(&answer_for(&m));
        } else if m["id"] == 5 {
            break m;
        }
    };
    let answers = answers_in(&result);
    assert_eq!(answers["elicitation/create"]["result"]["action"], "accept", "{answers}");
    assert_eq!(answers["sampling/createMessage"]["error"]["code"], -32601, "{answers}");
    assert_eq!(answers["roots/list"]["error"]["code"], -32601, "{answers}");
    c.close();
    o.close();
}

#[test]
fn stdio_progress_comes_with_the_clients_token_and_a_cancel_reaches_the_upstream() {
    let (alpha, beta, slow) = upstreams();
    let o = orchestrator(&alpha, &beta, &slow);
    let mut c = StdioClient::start(Server::new(Arc::clone(&o)));
    c.initialize(json!({}));
    let params = json!({"name": "beta_tool", "arguments": {}, "_meta": {"progressToken": "mine-7"}});
    c.send(&json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params}));
    for i in 1..=3 {
        let progress = c.next();
        assert_eq!(progress["method"], "notifications/progress", "{progress}");
        assert_eq!(progress["params"]["progressToken"], "mine-7", "{progress}");
        assert_eq!(progress["params"]["progress"], i, "{progress}");
    }
    let result = c.next();
    assert_eq!((&result["id"], &result["result"]["content"][0]["text"]), (&json!(3), &json!("beta")), "{result}");

    // A call the upstream never answers, cancelled by the client: the upstream is told, and
    // the cancelled request gets no answer (the next answer is the ping's).
    let call = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "slow_tool"}});
    c.send(&call);
    let deadline = Instant::now() + Duration::from_secs(10);
    while slow.stats().count("tools/call") == 0 {
        assert!(Instant::now() < deadline, "the call reaches the upstream");
        thread::sleep(Duration::from_millis(10));
    }
    c.send(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 4}}));
    while slow.stats().cancelled.is_empty() {
        assert!(Instant::now() < deadline, "the upstream is told of the cancellation");
        thread::sleep(Duration::from_millis(10));
    }
    c.send(&json!({"jsonrpc": "2.0", "id": 5, "method": "ping"}));
    let next = c.next();
    assert_eq!(next["id"], 5, "no answer to the cancelled request: {next}");
    c.close();
    o.close();
}

/// Reads one HTTP response head from `s`: status and headers.
fn read_head(r: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>) {
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    let code = status.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            return (code, headers);
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
        }
    }
}

/// The next event's data on an event stream (`None` at its end).
fn next_event(r: &mut BufReader<TcpStream>) -> Option<Value> {
    let mut data = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            if data.is_empty() {
                continue;
            }
            return Some(serde_json::from_str(&data).unwrap());
        }
        if let Some(d) = line.strip_prefix("data:") {
            data.push_str(d.trim_start());
        }
    }
}

fn post(addr: &str, session: Option<&str>, body: &Value) -> BufReader<TcpStream> {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.to_string();
    let mut req = format!(
        "POST /mcp HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\n\
         accept: application/json, text/event-stream\r\ncontent-length: {}\r\n",
        body.len()
    );
    if let Some(id) = session {
        req.push_str(&format!("mcp-session-id: {id}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    (&s).write_all(req.as_bytes()).unwrap();
    BufReader::new(s)
}

#[test]
fn http_relays_requests_in_the_posts_event_stream() {
    let (alpha, beta, slow) = upstreams();
    let o = orchestrator(&alpha, &beta, &slow);
    let server = Server::new(Arc::clone(&o));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let served = serve_http(server, listener, HttpOptions::new()).unwrap();
    let addr = served.local_addr().to_string();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25",
        "capabilities": {"elicitation": {}, "sampling": {}, "roots": {}}, "clientInfo": {"name": "t", "version": "0"}}});
    let mut r = post(&addr, None, &init);
    let (status, headers) = read_head(&mut r);
    assert_eq!(status, 200);
    let session = headers.iter().find(|(k, _)| k == "mcp-session-id").map(|(_, v)| v.clone()).unwrap();

    for tool in ["ask_alpha", "ask_beta"] {
        let call =
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": {}}});
        let mut r = post(&addr, Some(&session), &call);
        let (status, headers) = read_head(&mut r);
        assert_eq!(status, 200);
        let kind = headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.as_str());
        assert_eq!(kind, Some("text/event-stream"), "{tool}");
        let result = loop {
            let m = next_event(&mut r).expect("the stream ends after the result");
            if m.get("method").is_some() {
                let mut answer = post(&addr, Some(&session), &answer_for(&m));
                assert_eq!(read_head(&mut answer).0, 202, "{m}");
            } else {
                break m;
            }
        };
        assert_eq!(result["id"], 2, "{result}");
        let answers = answers_in(&result);
        for method in ["elicitation/create", "sampling/createMessage", "roots/list"] {
            assert!(answers[method].get("result").is_some(), "{tool} {method}: {answers}");
        }
        assert!(next_event(&mut r).is_none(), "the stream ends after the result");
    }
    let mut rest = String::new();
    let _ = r.read_to_string(&mut rest);
    served.shutdown();
    o.close();
}

#[test]
fn lists_are_paged_with_cursors() {
    let (alpha, beta, slow) = upstreams();
    let o = orchestrator(&alpha, &beta, &slow);
    let server = Server::new(Arc::clone(&o));
    server.set_page_size(2);
    let mut c = StdioClient::start(server);
    c.initialize(json!({}));
    let (mut names, mut cursor, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let params = if cursor.is_null() { json!({}) } else { json!({"cursor": cursor}) };
        c.send(&json!({"jsonrpc": "2.0", "id": 10 + pages, "method": "tools/list", "params": params}));
        let r = c.next();
        let tools = r["result"]["tools"].as_array().unwrap_or_else(|| panic!("{r}"));
        assert!(tools.len() <= 2, "{r}");
        names.extend(tools.iter().map(|t| t["name"].as_str().unwrap().to_string()));
        pages += 1;
        cursor = r["result"]["nextCursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    assert_eq!(names, ["alpha_tool", "ask_alpha", "ask_beta", "beta_tool", "slow_tool"]);
    assert_eq!(pages, 3);
    c.send(&json!({"jsonrpc": "2.0", "id": 99, "method": "tools/list", "params": {"cursor": "bogus"}}));
    assert_eq!(c.next()["error"]["code"], -32602);
    c.close();
    o.close();
}

#[test]
fn http_get_stream_pushes_list_changed() {
    let (alpha, beta, slow) = upstreams();
    let o = orchestrator(&alpha, &beta, &slow);
    let server = Server::new(Arc::clone(&o));
    o.initialize().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let served = serve_http(server, listener, HttpOptions::new()).unwrap();
    let addr = served.local_addr().to_string();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25",
        "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let mut r = post(&addr, None, &init);
    let (_, headers) = read_head(&mut r);
    let session = headers.iter().find(|(k, _)| k == "mcp-session-id").map(|(_, v)| v.clone()).unwrap();

    let s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let get =
        format!("GET /mcp HTTP/1.1\r\nhost: {addr}\r\naccept: text/event-stream\r\nmcp-session-id: {session}\r\n\r\n");
    (&s).write_all(get.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let (status, headers) = read_head(&mut r);
    assert_eq!(status, 200);
    assert!(headers.iter().any(|(k, v)| k == "content-type" && v == "text/event-stream"), "{headers:?}");
    // The stream is registered once its head is written: an upstream's change now reaches it.
    // (Beta is reached over legacy SSE, where the test server sends notifications.)
    assert!(beta.notify("notifications/tools/list_changed", None) > 0);
    let pushed = next_event(&mut r).expect("an event");
    assert_eq!(pushed["method"], "notifications/tools/list_changed", "{pushed}");
    drop(r);
    served.shutdown();
    o.close();
}

/// One POST with these headers: status and body.
fn post_with(addr: &str, headers: &[(&str, &str)], body: &Value) -> (u16, Value) {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.to_string();
    let mut req = format!(
        "POST /mcp HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    (&s).write_all(req.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let (status, _) = read_head(&mut r);
    let mut rest = String::new();
    r.read_to_string(&mut rest).unwrap();
    (status, serde_json::from_str(&rest).unwrap_or(Value::Null))
}

#[test]
fn http_stateless_requests_need_their_envelope_and_routing_headers() {
    let (alpha, beta, slow) = upstreams();
    let o = orchestrator(&alpha, &beta, &slow);
    let served = serve_http(
        Server::new(Arc::clone(&o)),
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        HttpOptions::new(),
    )
    .unwrap();
    let addr = served.local_addr().to_string();
    let modern = "2026-07-28";
    let meta =
        json!({"io.modelcontextprotocol/protocolVersion": modern, "io.modelcontextprotocol/clientCapabilities": {}});
    let message = |method: &str, params: Value| json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});

    // Said to be 2026-07-28 (the header) but without the envelope, or without capabilities.
    let h = [("mcp-protocol-version", modern), ("mcp-method", "server/discover")];
    let (status, v) = post_with(&addr, &h, &message("server/discover", json!({})));
    assert_eq!((status, &v["error"]["code"], &v["id"]), (400, &json!(-32602), &json!(7)), "{v}");
    let no_caps = json!({"_meta": {"io.modelcontextprotocol/protocolVersion": modern}});
    let (status, v) = post_with(&addr, &h, &message("server/discover", no_caps));
    assert_eq!((status, &v["error"]["code"]), (400, &json!(-32602)), "{v}");

    // Mcp-Method and Mcp-Name must be there and agree with the body.
    let call = message("tools/call", json!({"name": "alpha_tool", "arguments": {}, "_meta": meta}));
    let (status, v) = post_with(&addr, &[("mcp-protocol-version", modern), ("mcp-method", "tools/call")], &call);
    assert_eq!((status, &v["error"]["code"]), (400, &json!(-32020)), "no Mcp-Name: {v}");
    let wrong = [("mcp-protocol-version", modern), ("mcp-method", "tools/call"), ("mcp-name", "beta_tool")];
    assert_eq!(post_with(&addr, &wrong, &call).0, 400, "another Mcp-Name");
    let encoded =
        [("mcp-protocol-version", modern), ("mcp-method", "tools/call"), ("mcp-name", "=?base64?YWxwaGFfdG9vbA==?=")];
    let (status, v) = post_with(&addr, &encoded, &call);
    assert_eq!((status, &v["result"]["content"][0]["text"]), (200, &json!("alpha")), "base64 Mcp-Name: {v}");

    // A read of an unknown URI names it (`data.uri`).
    let read = |uri: &str| message("resources/read", json!({"uri": uri, "_meta": meta}));
    let h = [("mcp-protocol-version", modern), ("mcp-method", "resources/read"), ("mcp-name", "nope://x")];
    let (_, v) = post_with(&addr, &h, &read("nope://x"));
    assert_eq!(v["error"]["data"]["uri"], "nope://x", "{v}");
    served.shutdown();
    o.close();
}

#[test]
fn stateless_clients_are_asked_with_input_required_rounds() {
    let (alpha, beta, slow) = upstreams();
    let o = orchestrator(&alpha, &beta, &slow);
    let mut c = StdioClient::start(Server::new(Arc::clone(&o)));
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}, "sampling": {}, "roots": {}},
    });
    for tool in ["ask_alpha", "ask_beta"] {
        let mut params = json!({"name": tool, "arguments": {}, "_meta": meta});
        let mut asked = Vec::new();
        let result = loop {
            c.send(&json!({"jsonrpc": "2.0", "id": 20 + asked.len(), "method": "tools/call", "params": params}));
            let r = c.next();
            let result = r["result"].clone();
            if result["resultType"] != "input_required" {
                break r;
            }
            let requests = result["inputRequests"].as_object().unwrap_or_else(|| panic!("{r}"));
            let mut responses = serde_json::Map::new();
            for (key, request) in requests {
                let mark = json!(format!("{tool}-{}", asked.len()));
                let answer = answer_for(&json!({"id": mark, "method": request["method"]}))["result"].clone();
                asked.push(request["method"].as_str().unwrap().to_string());
                responses.insert(key.clone(), answer);
            }
            params["inputResponses"] = Value::Object(responses);
            params["requestState"] = result["requestState"].clone();
        };
        asked.sort();
        assert_eq!(asked, ["elicitation/create", "roots/list", "sampling/createMessage"], "{tool}");
        assert_eq!(result["result"]["resultType"], "complete", "{result}");
        let answers = answers_in(&result);
        for method in ["elicitation/create", "sampling/createMessage", "roots/list"] {
            assert!(answers[method].get("result").is_some(), "{tool} {method}: {answers}");
        }
    }
    // A state that names no call is refused.
    let params = json!({"name": "ask_alpha", "requestState": "forged", "inputResponses": {}, "_meta": meta});
    c.send(&json!({"jsonrpc": "2.0", "id": 90, "method": "tools/call", "params": params}));
    assert_eq!(c.next()["error"]["code"], -32602);
    c.close();
    o.close();
}

/// An upstream that runs the call as a task (2026-07-28): `serve` polls it for its downstream
/// client, and the client's `notifications/cancelled` cancels the task upstream
/// (`tasks/cancel`), answering nothing downstream.
#[test]
fn a_cancel_during_an_upstream_task_cancels_the_task() {
    use mcp_orchestrator::testing::{ProtocolMode, TaskBehaviour};
    let jobs = TestServer::builder()
        .name("jobs")
        .protocol_mode(ProtocolMode::ModernOnly)
        .simple_tool("job", "completes after two polls", |_| Ok(text_result("job done")))
        .task_tool("job", TaskBehaviour::CompletesAfter(2))
        .simple_tool("forever", "runs until cancelled", |_| Ok(text_result("never")))
        .task_tool("forever", TaskBehaviour::Working)
        .start()
        .expect("jobs");
    let mut config = ServerConfig::new("jobs", Transport::StreamableHttp { url: jobs.mcp_url().to_string() });
    config.timeout = Duration::from_secs(10);
    let o = Arc::new(Orchestrator::new(Config::new(vec![config], Orchestration::default()).unwrap()));
    let mut c = StdioClient::start(Server::new(Arc::clone(&o)));
    c.initialize(json!({}));
    // The downstream client sees the task's result as the call's.
    c.send(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "job", "arguments": {}}}));
    let result = c.next();
    assert_eq!(result["result"]["content"][0]["text"], "job done", "{result}");

    c.send(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "forever", "arguments": {}}}));
    let deadline = Instant::now() + Duration::from_secs(10);
    // Three polls were `job`'s; one more is `forever`'s.
    while jobs.stats().count("tasks/get") < 4 {
        assert!(Instant::now() < deadline, "serve polls the upstream task");
        thread::sleep(Duration::from_millis(10));
    }
    c.send(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2}}));
    while jobs.stats().count("tasks/cancel") == 0 {
        assert!(Instant::now() < deadline, "the upstream task is cancelled");
        thread::sleep(Duration::from_millis(10));
    }
    c.send(&json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}));
    assert_eq!(c.next()["id"], 3, "no answer to the cancelled call");
    c.close();
    o.close();
}
