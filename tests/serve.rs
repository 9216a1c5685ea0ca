//! `serve`: three upstream test servers (one shadowed by priority) served as one MCP server,
//! checked through real pipes (stdio) and a real socket (Streamable HTTP), in both protocol
//! eras: the merged tools/list, a call routed to each upstream, a templated read, a prompt,
//! and an upstream's `list_changed` forwarded downstream (over stdio here; over Streamable
//! HTTP's GET stream in `serve_relay.rs`). Beta is reached over legacy SSE, the others over
//! Streamable HTTP.

#![cfg(feature = "testing")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use mcp_orchestrator::serve::{HttpOptions, Server, serve_http, serve_stdio};
#[path = "support/serve_upstreams.rs"]
mod serve_upstreams;

use mcp_orchestrator::{Config, Orchestration, Orchestrator, Secret, ServerConfig, Transport};
use serde_json::{Value, json};
use serve_upstreams::endpoints;

const MODERN: &str = "2026-07-28";

fn orchestrator(up: &Upstreams) -> Arc<Orchestrator> {
    let servers = endpoints(&up.servers)
        .into_iter()
        .enumerate()
        .map(|(i, (name, url, transport))| {
            let transport = match transport {
                "sse" => Transport::Sse { url },
                _ => Transport::StreamableHttp { url },
            };
            let mut c = ServerConfig::new(name, transport);
            c.priority = i as u32 + 1;
            c.timeout = Duration::from_secs(10);
            c
        })
        .collect();
    let o = Arc::new(Orchestrator::new(Config::new(servers, Orchestration::default()).unwrap()));
    o.initialize().unwrap();
    o
}

struct Upstreams {
    servers: Vec<mcp_orchestrator::testing::TestServer>,
}

fn upstreams() -> Upstreams {
    Upstreams { servers: serve_upstreams::upstreams() }
}

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
    })
}

/// Params for `era`: enveloped with `_meta` on the modern wire.
fn params(modern: bool, p: Value) -> Value {
    let mut p = p;
    if modern {
        p["_meta"] = meta();
    }
    p
}

/// What every era and transport must see, through `rpc(method, params) -> response`.
fn check_catalogue(modern: bool, rpc: &mut dyn FnMut(&str, Value) -> Value) {
    let tools = rpc("tools/list", params(modern, json!({})));
    let result = &tools["result"];
    if modern {
        assert_eq!(result["resultType"], "complete", "{tools}");
    }
    let names: Vec<&str> = result["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alpha_only", "beta_only", "gamma_only", "shared"], "{tools}");
    let shared = result["tools"].as_array().unwrap().iter().find(|t| t["name"] == "shared").unwrap();
    assert_eq!(shared["description"], "the shared tool", "priority 1 wins: {shared}");

    for (tool, text) in [
        ("shared", "from alpha"),
        ("alpha_only", "alpha only"),
        ("beta_only", "beta only"),
        ("gamma_only", "gamma only"),
    ] {
        let r = rpc("tools/call", params(modern, json!({"name": tool, "arguments": {}})));
        assert_eq!(r["result"]["content"][0]["text"], text, "{tool}: {r}");
        assert_ne!(r["result"]["isError"], true, "{r}");
    }
    let unknown = rpc("tools/call", params(modern, json!({"name": "nope", "arguments": {}})));
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");

    let read = rpc("resources/read", params(modern, json!({"uri": "notes://42"})));
    assert_eq!(read["result"]["contents"][0]["text"], "gamma:notes://42", "{read}");
    let listed = rpc("resources/read", params(modern, json!({"uri": "file:///a.txt"})));
    assert_eq!(listed["result"]["contents"][0]["text"], "A", "{listed}");

    let resources = rpc("resources/list", params(modern, json!({})));
    assert_eq!(resources["result"]["resources"][0]["uri"], "file:///a.txt", "{resources}");
    let templates = rpc("resources/templates/list", params(modern, json!({})));
    assert_eq!(templates["result"]["resourceTemplates"][0]["uriTemplate"], "notes://{id}", "{templates}");

    let prompts = rpc("prompts/list", params(modern, json!({})));
    assert_eq!(prompts["result"]["prompts"][0]["name"], "greet", "{prompts}");
    let prompt = rpc("prompts/get", params(modern, json!({"name": "greet", "arguments": {"who": "you"}})));
    assert_eq!(prompt["result"]["messages"][0]["content"]["text"], "Hello, you!", "{prompt}");

    let unknown = rpc("no/such/method", params(modern, json!({})));
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
}

/// A client on the far end of two pipes to `serve_stdio`.
struct StdioClient {
    to_server: Option<std::io::PipeWriter>,
    lines: mpsc::Receiver<Value>,
    next_id: i64,
    notifications: Vec<Value>,
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
        StdioClient { to_server: Some(to_server), lines, next_id: 1, notifications: Vec::new(), done: Some(done) }
    }

    fn send(&mut self, message: &Value) {
        let w = self.to_server.as_mut().unwrap();
        writeln!(w, "{message}").unwrap();
    }

    fn next(&mut self) -> Value {
        self.lines.recv_timeout(Duration::from_secs(10)).expect("a message from serve within 10 s")
    }

    fn rpc(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let m = self.next();
            if m["id"] == id {
                return m;
            }
            self.notifications.push(m);
        }
    }

    /// Closes stdin and waits for `serve_stdio` to return.
    fn close(mut self) {
        drop(self.to_server.take());
        let (tx, rx) = mpsc::channel();
        let done = self.done.take().unwrap();
        thread::spawn(move || tx.send(done.join()));
        let ended = rx.recv_timeout(Duration::from_secs(10)).expect("serve_stdio returns when stdin ends");
        ended.unwrap().unwrap();
    }
}

#[test]
fn stdio_handshake_era() {
    let up = upstreams();
    let o = orchestrator(&up);
    let mut c = StdioClient::start(Server::new(Arc::clone(&o)));
    let init = c.rpc(
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}),
    );
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "{init}");
    assert_eq!(init["result"]["serverInfo"]["name"], "mcp-orchestrator", "{init}");
    assert_eq!(init["result"]["capabilities"]["tools"]["listChanged"], true, "{init}");
    c.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let newest = c.rpc("initialize", json!({"protocolVersion": "1999-01-01", "capabilities": {}}));
    assert_eq!(newest["result"]["protocolVersion"], "2025-11-25", "{newest}");
    assert_eq!(c.rpc("ping", json!({}))["result"], json!({}));
    check_catalogue(false, &mut |m, p| c.rpc(m, p));

    // An upstream's list_changed reaches the downstream client.
    // (Beta is reached over the legacy SSE transport, where the test server sends notifications.)
    assert!(up.servers[1].notify("notifications/tools/list_changed", None) > 0);
    let forwarded = loop {
        let m = c.next();
        if m.get("id").is_none() {
            break m;
        }
    };
    assert_eq!(forwarded["method"], "notifications/tools/list_changed", "{forwarded}");
    c.close();
    o.close();
}

#[test]
fn stdio_modern_era() {
    let up = upstreams();
    let o = orchestrator(&up);
    let mut c = StdioClient::start(Server::new(Arc::clone(&o)));
    let d = c.rpc("server/discover", params(true, json!({})));
    assert_eq!(d["result"]["supportedVersions"], json!([MODERN]), "{d}");
    assert_eq!(d["result"]["resultType"], "complete", "{d}");
    assert_eq!((&d["result"]["ttlMs"], &d["result"]["cacheScope"]), (&json!(0), &json!("private")), "{d}");
    assert_eq!(d["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "mcp-orchestrator", "{d}");
    check_catalogue(true, &mut |m, p| c.rpc(m, p));
    let mut old = meta();
    old["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
    let refused = c.rpc("tools/list", json!({"_meta": old}));
    assert_eq!(refused["error"]["code"], -32022, "{refused}");
    c.close();
    o.close();
}

#[test]
fn deferred_tools_list_search_and_call() {
    let up = upstreams();
    let o = orchestrator(&up);
    let mut c = StdioClient::start(Server::with_deferred_tools(Arc::clone(&o), 3));
    let tools = c.rpc("tools/list", params(true, json!({})));
    let names: Vec<&str> =
        tools["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["search_tools", "call_tool"], "{tools}");
    let found = c.rpc("tools/call", params(true, json!({"name": "search_tools", "arguments": {"query": "beta's"}})));
    let found = &found["result"]["structuredContent"]["tools"];
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found[0]["name"], "beta_only", "{found}");
    assert!(found[0]["inputSchema"].is_object(), "{found}");
    let args = json!({"name": "call_tool", "arguments": {"name": "beta_only", "arguments": {}}});
    let called = c.rpc("tools/call", params(true, args));
    assert_eq!(called["result"]["content"][0]["text"], "beta only", "{called}");
    let direct = c.rpc("tools/call", params(true, json!({"name": "gamma_only", "arguments": {}})));
    assert_eq!(direct["result"]["content"][0]["text"], "gamma only", "{direct}");
    c.close();
    // Under the threshold, the plain list.
    let mut c = StdioClient::start(Server::with_deferred_tools(Arc::clone(&o), 4));
    let tools = c.rpc("tools/list", params(false, json!({})));
    assert_eq!(tools["result"]["tools"].as_array().unwrap().len(), 4, "{tools}");
    c.close();
    o.close();
}

/// One HTTP/1.1 request on a fresh connection: status, headers, body.
fn http(addr: &str, method: &str, headers: &[(&str, &str)], body: &str) -> (u16, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req =
        format!("{method} /mcp HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string())).collect();
    (status, headers, body.to_string())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn http_both_eras_sessions_and_shutdown() {
    let up = upstreams();
    let o = orchestrator(&up);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let served = serve_http(Server::new(Arc::clone(&o)), listener, HttpOptions::new()).unwrap();
    let addr = served.local_addr().to_string();
    let accept = [("content-type", "application/json"), ("accept", "application/json, text/event-stream")];

    // Handshake era: initialize gives a session id, needed afterwards.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let (status, headers, body) = http(&addr, "POST", &accept, &init.to_string());
    assert_eq!(status, 200, "{body}");
    let session = header(&headers, "mcp-session-id").expect("a session id").to_string();
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["result"]["protocolVersion"], "2025-11-25");
    let (status, _, _) = http(&addr, "POST", &accept, r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#);
    assert_eq!(status, 400, "no session id");
    let mut with_session = accept.to_vec();
    with_session.push(("mcp-session-id", &session));
    let notified = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    assert_eq!(http(&addr, "POST", &with_session, notified).0, 202);
    let mut id = 10;
    check_catalogue(false, &mut |m, p| {
        id += 1;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": m, "params": p});
        let (status, _, body) = http(&addr, "POST", &with_session, &msg.to_string());
        assert_eq!(status, 200, "{m}: {body}");
        serde_json::from_str(&body).unwrap()
    });
    let mut unknown = accept.to_vec();
    unknown.push(("mcp-session-id", "nope"));
    assert_eq!(http(&addr, "GET", &unknown, "").0, 404, "a GET stream needs a live session");
    assert_eq!(http(&addr, "DELETE", &with_session, "").0, 200);
    let ping = r#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#;
    assert_eq!(http(&addr, "POST", &with_session, ping).0, 404, "the session is gone");

    // Modern era: stateless, no session id.
    check_catalogue(true, &mut |m, p| {
        id += 1;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": m, "params": p});
        let target = p.get("name").or(p.get("uri")).and_then(Value::as_str).unwrap_or("").to_string();
        let mut h = vec![("content-type", "application/json"), ("mcp-protocol-version", MODERN), ("mcp-method", m)];
        if !target.is_empty() {
            h.push(("mcp-name", &target));
        }
        let (_, _, body) = http(&addr, "POST", &h, &msg.to_string());
        serde_json::from_str(&body).unwrap()
    });

    // The routing headers must agree with the body.
    let msg = json!({"jsonrpc": "2.0", "id": 99, "method": "tools/list", "params": params(true, json!({}))});
    let h = [("content-type", "application/json"), ("mcp-protocol-version", MODERN), ("mcp-method", "prompts/list")];
    let (status, _, body) = http(&addr, "POST", &h, &msg.to_string());
    assert_eq!(status, 400, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], -32020, "{body}");

    // A DNS-rebinding origin is refused on loopback.
    let evil = [("content-type", "application/json"), ("origin", "http://evil.example")];
    assert_eq!(http(&addr, "POST", &evil, &init.to_string()).0, 403);

    // Shutdown ends, even with an idle keep-alive connection open.
    let idle = TcpStream::connect(&addr).unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        served.shutdown();
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(10)).expect("shutdown returns");
    drop(idle);
    assert!(TcpStream::connect(&addr).is_err(), "nothing listens after shutdown");
    o.close();
}

#[test]
fn http_bearer_token() {
    let up = upstreams();
    let o = orchestrator(&up);
    let server = Server::new(Arc::clone(&o));
    // Not loopback and no token: refused.
    let any = TcpListener::bind("0.0.0.0:0").unwrap();
    let err = serve_http(Arc::clone(&server), any, HttpOptions::new()).unwrap_err();
    assert!(err.to_string().contains("bearer token"), "{err}");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let served = serve_http(server, listener, HttpOptions::new().bearer_token(Secret::new("s3cret"))).unwrap();
    let addr = served.local_addr().to_string();
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"server/discover"}"#;
    let (status, headers, body) = http(&addr, "POST", &[("content-type", "application/json")], ping);
    assert_eq!(status, 401);
    assert_eq!(header(&headers, "www-authenticate"), Some("Bearer"));
    assert!(!body.contains("s3cret"));
    assert_eq!(http(&addr, "POST", &[("authorization", "Bearer wrong")], ping).0, 401);
    let (status, _, body) = http(&addr, "POST", &[("authorization", "Bearer s3cret")], ping);
    assert_eq!(status, 200, "{body}");
    served.shutdown();
    o.close();
}

#[test]
fn stdio_apply_config_tells_the_client_that_the_lists_changed() {
    let up = upstreams();
    let o = orchestrator(&up);
    let server = Server::new(Arc::clone(&o));
    let mut c = StdioClient::start(Arc::clone(&server));
    c.rpc(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}),
    );
    c.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let names = |c: &mut StdioClient| -> Vec<String> {
        let r = c.rpc("tools/list", json!({}));
        r["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect()
    };
    assert!(names(&mut c).contains(&"gamma_only".to_string()));

    // The same config without gamma.
    let current = o.config();
    let without: Vec<ServerConfig> = current.servers.iter().filter(|s| s.name != "gamma").cloned().collect();
    let changes = server.apply_config(&Config::new(without, Orchestration::default()).unwrap()).unwrap();
    assert_eq!(changes.removed, ["gamma"]);
    let mut told = Vec::new();
    while told.len() < 3 {
        let m = c.next();
        told.push(m["method"].as_str().unwrap_or_else(|| panic!("a notification: {m}")).to_string());
    }
    told.sort();
    assert_eq!(
        told,
        [
            "notifications/prompts/list_changed",
            "notifications/resources/list_changed",
            "notifications/tools/list_changed"
        ]
    );
    assert!(!names(&mut c).contains(&"gamma_only".to_string()));
    // Applying the same config again changes nothing and tells nothing.
    let again = server.apply_config(&o.config()).unwrap();
    assert!(again.is_empty(), "{again:?}");
    let before = c.notifications.len();
    assert_eq!(c.rpc("ping", json!({}))["result"], json!({}));
    assert_eq!(c.notifications.len(), before, "no notification came before the ping's answer");
    c.close();
    o.close();
}
