//! Streamable HTTP and stdio against real servers: the official Python SDK's server (over
//! streamable HTTP stateful, stateless and with JSON replies, and over stdio), small Python
//! scripts for the stdio failure modes, one config mixing all three transports, and the test
//! server's Streamable HTTP faults. (Orchestrator behaviour over every transport is in
//! tests/orchestrator.rs; stdio process faults in tests/faults_stdio.rs.)
//!
//! The SDK tests need the interop venv (`$MCP_INTEROP_PYTHON`, else `.venv-interop`; see
//! tests/interop/README.md). They are `#[ignore]`d with that reason, so a plain `cargo test`
//! lists them as ignored; `.ci/run` runs them with `--ignored`, and asked to run without Python
//! they fail. The stdio failure tests need only `python3`.

#[path = "support/python.rs"]
mod python;
#[path = "support/raw_http.rs"]
mod raw_http;
#[path = "support/wait.rs"]
mod wait;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mcp_orchestrator::{
    Client, Config, Content, Error, Orchestration, Orchestrator, ProtocolChoice, ServerConfig, Status, Transport,
};
use python::PythonServer;
use scripted::Seen;
use serde_json::json;
use wait::eventually;

const BLOB_BASE64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==";

fn config(name: &str, transport: Transport) -> ServerConfig {
    let _ = env_logger::builder().is_test(true).try_init();
    let mut c = ServerConfig::new(name, transport);
    c.timeout = Duration::from_secs(30);
    c
}

/// Streamable HTTP in the handshake era (pinned: these tests are about that transport; the
/// 2026-07-28 wire and detection are in tests/protocol_detection.rs).
fn http(name: &str, url: String) -> ServerConfig {
    let mut c = config(name, Transport::StreamableHttp { url });
    c.protocol = ProtocolChoice::Version("2025-11-25".into());
    c
}

fn stdio(name: &str, command: impl Into<String>, args: &[&str]) -> ServerConfig {
    config(
        name,
        Transport::Stdio {
            command: command.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: BTreeMap::new(),
            cwd: None,
        },
    )
}

/// The SDK server over stdio.
fn sdk_stdio(name: &str, python: &Path) -> ServerConfig {
    let args = python::stdio_args(&[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    stdio(name, python.to_string_lossy(), &args)
}

/// Everything the interop server serves, checked value by value, over protocol `version`.
fn check_everything(client: &Client, version: &str) {
    assert_eq!(client.server().server_info.name, "interop-test-server");
    assert_eq!(client.protocol_version(), version);

    let resources = client.list_resources().unwrap();
    assert_eq!(resources.len(), 121, "120 text resources and the blob");
    for i in 0..120 {
        let r = resources.iter().find(|r| r.uri == format!("test://resource/{i}")).expect("every text resource");
        assert_eq!(r.name, format!("resource-{i}"));
        assert_eq!(r.title.as_deref(), Some(format!("Resource {i}").as_str()));
        assert_eq!(r.description.as_deref(), Some(format!("Test resource number {i}").as_str()));
        assert_eq!(r.mime_type.as_deref(), Some("text/plain"));
    }
    let blob = resources.iter().find(|r| r.uri == "test://blob").unwrap();
    assert_eq!(blob.mime_type.as_deref(), Some("application/octet-stream"));

    let text = client.read_resource("test://resource/42").unwrap();
    assert_eq!(text.len(), 1);
    assert_eq!(text[0].text(), Some("content of resource 42"));
    let blob = client.read_resource("test://blob").unwrap();
    assert_eq!(blob[0].blob(), Some(BLOB_BASE64));
    assert_eq!(blob[0].mime_type.as_deref(), Some("application/octet-stream"));

    let templates = client.list_resource_templates().unwrap();
    assert_eq!(templates.len(), 1);
    assert_eq!(templates[0].uri_template, "test://template/{id}");

    let tools = client.list_tools().unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["add", "echo"]);
    let sum = client.call_tool("add", json!({"a": 20, "b": 22})).unwrap();
    assert!(!sum.is_error);
    assert!(matches!(&sum.content[..], [Content::Text { text, .. }] if text == "42"), "{:?}", sum.content);
    assert_eq!(sum.structured_content, Some(json!({"result": 42})));

    // Many requests in flight at once from several threads on one session.
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                let uris: Vec<String> = (0..30).map(|i| format!("test://resource/{}", t * 30 + i)).collect();
                let uris: Vec<&str> = uris.iter().map(String::as_str).collect();
                for (uri, contents) in uris.iter().zip(client.read_resources(&uris)) {
                    let i = uri.rsplit('/').next().unwrap();
                    assert_eq!(contents.unwrap()[0].text(), Some(format!("content of resource {i}").as_str()));
                }
            });
        }
    });
    client.ping().unwrap();
}

fn check_http(args: &[&str]) {
    let server = PythonServer::require(args);
    let client = Client::connect(&http("sdk", server.mcp_url())).unwrap();
    check_everything(&client, "2025-11-25"); // pinned by `http()`
    let started = Instant::now();
    client.close();
    assert!(started.elapsed() < Duration::from_secs(5), "close took {:?}", started.elapsed());
    assert!(matches!(client.list_tools(), Err(Error::Closed { .. })));
}

#[test]
#[ignore = "needs the Python interop venv: set MCP_INTEROP_PYTHON (see README), run with --ignored"]
fn streamable_http_stateful_sse_replies() {
    check_http(&["--transport", "streamable_http"]);
}

#[test]
#[ignore = "needs the Python interop venv: set MCP_INTEROP_PYTHON (see README), run with --ignored"]
fn streamable_http_stateless() {
    check_http(&["--transport", "streamable_http", "--stateless"]);
}

#[test]
#[ignore = "needs the Python interop venv: set MCP_INTEROP_PYTHON (see README), run with --ignored"]
fn streamable_http_json_replies() {
    check_http(&["--transport", "streamable_http", "--json-response"]);
}

#[test]
#[ignore = "needs the Python interop venv: set MCP_INTEROP_PYTHON (see README), run with --ignored"]
fn streamable_http_stateless_json_replies() {
    check_http(&["--transport", "streamable_http", "--stateless", "--json-response"]);
}

#[test]
#[ignore = "needs the Python interop venv: set MCP_INTEROP_PYTHON (see README), run with --ignored"]
fn stdio_sdk_server() {
    let python = python::require_python();
    let client = Client::connect(&sdk_stdio("sdk-stdio", &python)).unwrap();
    check_everything(&client, "2026-07-28"); // detected: the SDK 2.3.0 speaks it over stdio
    let started = Instant::now();
    client.close();
    assert!(started.elapsed() < Duration::from_secs(5), "close took {:?}", started.elapsed());
}

/// A minimal stdio MCP server in Python (no SDK): `garbage` prints non-JSON-RPC lines before and
/// between its answers; `stubborn` writes its pid to a file, ignores SIGTERM, and keeps running
/// after its input ends.
const STUB: &str = r#"
import json, os, signal, sys, time
mode = sys.argv[1]
if mode == "garbage":
    print("starting up... not JSON")
    print("{broken")
    print('{"jsonrpc": "1.0", "id": 1}')
    print('[1, 2, 3]')
    sys.stdout.flush()
if mode == "stubborn":
    import subprocess
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # A grandchild that inherits stdout, as a launcher's server would.
    grandchild = subprocess.Popen(["sleep", "1000"])
    with open(sys.argv[2], "w") as f:
        f.write(f"{os.getpid()} {grandchild.pid}")
for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    method = msg["method"]
    if method == "initialize":
        result = {"protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"resources": {}},
                  "serverInfo": {"name": "stub", "version": "0.1"}}
    elif method == "resources/list":
        result = {"resources": [{"uri": "stub://a", "name": "a", "mimeType": "text/plain"}]}
    else:
        result = {}
    if mode == "garbage":
        print("log line between messages")
    if mode == "huge" and method == "resources/list":
        result = {"resources": [{"uri": "stub://" + "x" * 100000, "name": "big"}]}
    print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}), flush=True)
if mode == "stubborn":
    while True:
        time.sleep(1)
"#;

fn python3() -> Option<&'static str> {
    let ok = Command::new("python3").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if ok.is_ok_and(|s| s.success()) {
        return Some("python3");
    }
    // Not a silent skip: these tests need only `python3`, which every supported machine has.
    panic!("the stdio failure tests need `python3` on PATH");
}

#[test]
fn stdio_missing_command_is_a_connect_error_naming_it() {
    let err = Client::connect(&stdio("nope", "/definitely/not/a/command-xyz", &[])).unwrap_err();
    match &err {
        Error::Connect { server, detail, .. } => {
            assert_eq!(server, "nope");
            assert!(detail.contains("/definitely/not/a/command-xyz"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stdio_child_that_exits_at_once_fails_quickly_naming_its_status() {
    let Some(python) = python3() else { return };
    let started = Instant::now();
    let err = Client::connect(&stdio("quitter", python, &["-c", "import sys; sys.exit(3)"])).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    match &err {
        Error::ConnectionClosed { server, detail, .. } => {
            assert_eq!(server, "quitter");
            assert!(detail.contains("exit status: 3"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stdio_garbage_lines_are_skipped() {
    let Some(python) = python3() else { return };
    let client = Client::connect(&stdio("noisy", python, &["-c", STUB, "garbage"])).unwrap();
    assert_eq!(client.server().server_info.name, "stub");
    let resources = client.list_resources().unwrap();
    assert_eq!(resources.len(), 1);
    assert_eq!(resources[0].uri, "stub://a");
    client.ping().unwrap();
    client.close();
}

#[test]
fn stdio_over_long_line_is_a_limit_error() {
    let Some(python) = python3() else { return };
    let config = stdio("huge", python, &["-c", STUB, "huge"]);
    let client = Client::builder(&config).max_event_bytes(4096).connect().unwrap();
    match client.list_resources().unwrap_err() {
        Error::Limit { server, what, limit, .. } => {
            assert_eq!(server, "huge");
            assert_eq!(what, "message size");
            assert_eq!(limit, 4096);
        }
        other => panic!("{other:?}"),
    }
    let started = Instant::now();
    client.close();
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn stdio_close_kills_a_child_that_ignores_end_of_input() {
    let Some(python) = python3() else { return };
    let dir = std::env::temp_dir().join(format!("mcp-orch-stdio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pid_file = dir.join("stubborn.pid");
    let pid_arg = pid_file.to_string_lossy().into_owned();
    let client = Client::connect(&stdio("stubborn", python, &["-c", STUB, "stubborn", &pid_arg])).unwrap();
    assert_eq!(client.list_resources().unwrap().len(), 1);
    let pids = std::fs::read_to_string(&pid_file).unwrap();
    let (pid, grandchild) = pids.trim().split_once(' ').unwrap();
    let started = Instant::now();
    client.close();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "close took {took:?}");
    #[cfg(target_os = "linux")]
    {
        // Killed and reaped: no process (not even a zombie) is left with the child's pid.
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "process {pid} is still there after close");
        // Its grandchild was killed with its process group (init reaps it, or it lingers as a
        // zombie where init does not reap: either way it no longer runs).
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let state = std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default();
            let running = state.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with(['Z', 'X']));
            if !running {
                break;
            }
            assert!(Instant::now() < deadline, "grandchild {grandchild} still runs: {state}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = (pid, grandchild);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs the Python interop venv: set MCP_INTEROP_PYTHON (see README), run with --ignored"]
fn one_config_mixing_three_transports_gathers_everything_in_one_call() {
    let python = python::require_python();
    let sse = PythonServer::require(&["--transport", "sse"]);
    let http_server = PythonServer::require(&["--transport", "streamable_http"]);
    let mut a = config("over-sse", Transport::Sse { url: sse.sse_url() });
    a.priority = 1;
    let mut b = http("over-http", http_server.mcp_url());
    b.priority = 2;
    let mut c = sdk_stdio("over-stdio", &python);
    c.priority = 3;
    let orchestrator = Orchestrator::new(Config::new(vec![c, b, a], Orchestration::default()).unwrap());
    orchestrator.initialize().unwrap();
    let gathered = orchestrator.gather_all_resources().unwrap();
    let names: Vec<&str> = gathered.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["over-sse", "over-http", "over-stdio"]);
    for outcome in &gathered.servers {
        assert_eq!(outcome.status, Status::Ok, "{}: {:?}", outcome.name, outcome.error);
        let data = outcome.data.as_ref().unwrap();
        assert_eq!(data.resources.len(), 121, "{}", outcome.name);
        assert_eq!(data.templates.len(), 1, "{}", outcome.name);
        assert_eq!(data.contents.len(), 121, "{}: {:?}", outcome.name, data.read_errors);
        assert_eq!(data.contents["test://resource/7"][0].text(), Some("content of resource 7"));
        assert_eq!(data.contents["test://blob"][0].blob(), Some(BLOB_BASE64));
    }
    assert_eq!(gathered.resources.len(), 121);
    let merged = gathered.resource("test://resource/0").unwrap();
    assert_eq!(merged.server, "over-sse");
    assert_eq!(merged.shadowed, ["over-http", "over-stdio"]);
    orchestrator.close();
}

/// A scripted Streamable HTTP server on a raw socket, for what the SDK server does not do:
/// priming events with `retry`, a reply stream closed before its response (resumed with
/// `Last-Event-ID`), a server request inside a reply stream, an expired session (404).
mod scripted {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    pub use super::raw_http::Seen;
    use super::raw_http::{read_request, respond};

    pub struct Server {
        pub port: u16,
        pub seen: Arc<Mutex<Vec<Seen>>>,
    }

    #[derive(Default)]
    struct State {
        sessions: u32,
        tools_calls: u32,
        /// The id of the `resources/read` whose reply stream broke.
        read_id: Option<serde_json::Value>,
    }

    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(Mutex::new(State::default()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (log, state) = (log.clone(), state.clone());
                std::thread::spawn(move || {
                    let _ = handle(stream, &log, &state);
                });
            }
        });
        Server { port, seen }
    }

    fn sse(stream: &TcpStream, session: &str, events: &str) -> std::io::Result<()> {
        respond(stream, "200 OK", &[("Content-Type", "text/event-stream"), ("Mcp-Session-Id", session)], events)
    }

    fn result(id: &serde_json::Value, result: serde_json::Value) -> String {
        serde_json::json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string()
    }

    fn handle(stream: TcpStream, log: &Mutex<Vec<Seen>>, state: &Mutex<State>) -> std::io::Result<()> {
        let request = read_request(&stream)?;
        log.lock().unwrap().push(request.clone());
        let session = format!("s{}", state.lock().unwrap().sessions);
        let known = request.header("mcp-session-id") == Some(session.as_str());
        match request.method.as_str() {
            "GET" if request.header("last-event-id") == Some("list-1") => {
                // The resumed reply stream of resources/list: the response, then the end.
                let body =
                    result(&serde_json::json!(2), serde_json::json!({"resources": [{"uri": "s://r", "name": "r"}]}));
                sse(&stream, &session, &format!("id: list-2\ndata: {body}\n\n"))
            }
            "GET" if request.header("last-event-id") == Some("read-1") => {
                let id = state.lock().unwrap().read_id.clone().unwrap_or_default();
                let contents = serde_json::json!({"contents": [{"uri": "s://drop", "text": "resumed"}]});
                sse(&stream, &session, &format!("id: read-2\ndata: {}\n\n", result(&id, contents)))
            }
            "GET" if request.header("last-event-id").is_none() => {
                // The stream for server-initiated messages: one notification, then the server
                // closes it; the client comes back with Last-Event-ID after `retry`.
                let note = r#"{"jsonrpc":"2.0","method":"notifications/resources/list_changed"}"#;
                sse(&stream, &session, &format!("id: get-0\nretry: 20\ndata:\n\nid: get-1\ndata: {note}\n\n"))
            }
            "GET" => respond(&stream, "405 Method Not Allowed", &[], ""),
            "DELETE" => respond(&stream, "200 OK", &[], ""),
            _ => {
                let msg = request.json();
                let id = msg["id"].clone();
                match msg["method"].as_str() {
                    Some("initialize") => {
                        let n = {
                            let mut s = state.lock().unwrap();
                            s.sessions += 1;
                            s.sessions
                        };
                        let body = result(
                            &id,
                            serde_json::json!({"protocolVersion": msg["params"]["protocolVersion"],
                                "capabilities": {"resources": {}, "tools": {}},
                                "serverInfo": {"name": "scripted", "version": "1"}}),
                        );
                        // A priming event (an id and empty data) with a retry, then the answer.
                        sse(
                            &stream,
                            &format!("s{n}"),
                            &format!("id: init-0\nretry: 20\ndata:\n\nid: init-1\ndata: {body}\n\n"),
                        )
                    }
                    _ if !known => respond(&stream, "404 Not Found", &[], "unknown session"),
                    Some("resources/list") => {
                        // A server request first, then the stream closes before the response.
                        let ping = r#"{"jsonrpc":"2.0","id":"srv-1","method":"ping"}"#;
                        sse(&stream, &session, &format!("id: list-0\nretry: 30\ndata:\n\nid: list-1\ndata: {ping}\n\n"))
                    }
                    Some("resources/read") => {
                        // A chunked reply stream whose connection drops without its last chunk.
                        state.lock().unwrap().read_id = Some(id.clone());
                        let event = "id: read-1\nretry: 10\ndata:\n\n";
                        let mut out = &stream;
                        out.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
                        )?;
                        out.write_all(format!("{:x}\r\n{event}\r\n", event.len()).as_bytes())?;
                        out.flush()?;
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        stream.shutdown(std::net::Shutdown::Both)
                    }
                    Some("resources/templates/list") => {
                        // The reply stream starts, then stalls past the client's deadline.
                        let mut out = &stream;
                        out.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n",
                        )?;
                        out.write_all(b"id: t-0\ndata:\n\n")?;
                        out.flush()?;
                        std::thread::sleep(std::time::Duration::from_secs(3));
                        Ok(())
                    }
                    Some("tools/call") => {
                        // Slower than the client's deadline.
                        std::thread::sleep(std::time::Duration::from_secs(3));
                        respond(
                            &stream,
                            "200 OK",
                            &[("Content-Type", "application/json")],
                            result(&id, serde_json::json!({})),
                        )
                    }
                    Some("tools/list") => {
                        let first = {
                            let mut s = state.lock().unwrap();
                            s.tools_calls += 1;
                            s.tools_calls == 1
                        };
                        if first {
                            // The session expired between two requests.
                            return respond(&stream, "404 Not Found", &[], "session expired");
                        }
                        let body = result(
                            &id,
                            serde_json::json!({"tools": [{"name": "t", "inputSchema": {"type": "object"}}]}),
                        );
                        respond(&stream, "200 OK", &[("Content-Type", "application/json")], &body)
                    }
                    _ if msg.get("method").is_none() || id.is_null() => respond(&stream, "202 Accepted", &[], ""),
                    _ => {
                        let body = result(&id, serde_json::json!({}));
                        respond(&stream, "200 OK", &[("Content-Type", "application/json")], &body)
                    }
                }
            }
        }
    }
}

#[test]
fn streamable_http_priming_resumption_server_requests_and_session_expiry() {
    let server = scripted::start();
    let config = http("scripted", format!("http://127.0.0.1:{}/mcp", server.port));
    let notes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = notes.clone();
    let client = Client::builder(&config)
        .on_notification(move |server, n| sink.lock().unwrap().push((server.to_string(), n.method.clone())))
        .connect()
        .unwrap();
    assert_eq!(client.server().server_info.name, "scripted");

    // The reply stream carries a ping and closes before the response: the client answers the
    // ping, waits `retry` and resumes with Last-Event-ID.
    let started = Instant::now();
    let resources = client.list_resources().unwrap();
    assert_eq!(resources.len(), 1);
    assert_eq!(resources[0].uri, "s://r");
    assert!(started.elapsed() < Duration::from_secs(5));

    // The first tools/list finds the session expired: a new session, then the retry.
    let tools = client.list_tools().unwrap();
    assert_eq!(tools[0].name, "t");
    // The GET stream's reconnection runs on its own thread: let it happen before closing.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.seen.lock().unwrap().iter().any(|s| s.header("last-event-id") == Some("get-1")) {
        assert!(Instant::now() < deadline, "no reconnection of the GET stream within 5 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    client.close();

    let seen = server.seen.lock().unwrap().clone();
    let version = mcp_orchestrator::SUPPORTED_PROTOCOL_VERSIONS[0];
    let posts: Vec<&scripted::Seen> = seen.iter().filter(|s| s.method == "POST").collect();
    let methods: Vec<String> =
        posts.iter().map(|s| s.json()["method"].as_str().unwrap_or("(response)").to_string()).collect();
    assert_eq!(
        methods,
        [
            "initialize",
            "notifications/initialized",
            "resources/list",
            "(response)",
            "tools/list",
            "initialize",
            "notifications/initialized",
            "tools/list"
        ]
    );
    // No session id or version on initialize; both on everything after it.
    assert_eq!(posts[0].header("mcp-session-id"), None);
    assert_eq!(posts[0].header("mcp-protocol-version"), None);
    assert_eq!(posts[1].header("mcp-session-id"), Some("s1"));
    assert_eq!(posts[1].header("mcp-protocol-version"), Some(version));
    assert_eq!(posts[0].header("accept"), Some("application/json, text/event-stream"));
    // The answer to the server's ping.
    assert_eq!(posts[3].json(), json!({"jsonrpc": "2.0", "id": "srv-1", "result": {}}));
    // The re-initialization: same client info, no session id; then the new id.
    assert_eq!(posts[5].header("mcp-session-id"), None);
    assert_eq!(posts[5].json()["params"], posts[0].json()["params"]);
    assert_eq!(posts[7].header("mcp-session-id"), Some("s2"));
    assert_eq!(posts[7].json()["id"], posts[4].json()["id"], "the same request, retried");
    // The resumption GET, and the DELETE of the current session at close.
    let resumed = seen.iter().find(|s| s.method == "GET" && s.header("last-event-id") == Some("list-1")).unwrap();
    assert_eq!(resumed.header("mcp-session-id"), Some("s1"));
    let delete = seen.iter().find(|s| s.method == "DELETE").unwrap();
    assert_eq!(delete.header("mcp-session-id"), Some("s2"));
    // The GET stream: opened after the handshake, its notification delivered, reopened after
    // the server closed it, with the last event id.
    let gets: Vec<&scripted::Seen> = seen.iter().filter(|s| s.method == "GET").collect();
    assert_eq!(gets[0].header("accept"), Some("text/event-stream"));
    assert_eq!(gets[0].header("mcp-protocol-version"), Some(version));
    assert!(gets.iter().any(|g| g.header("last-event-id") == Some("get-1")), "{gets:?}");
    let notes = notes.lock().unwrap();
    assert!(notes.contains(&("scripted".to_string(), "notifications/resources/list_changed".to_string())), "{notes:?}");
}

#[test]
fn streamable_http_reply_stream_whose_connection_drops_is_resumed() {
    let server = scripted::start();
    let client = Client::connect(&http("dropped", format!("http://127.0.0.1:{}/mcp", server.port))).unwrap();
    let contents = client.read_resource("s://drop").unwrap();
    assert_eq!(contents[0].text(), Some("resumed"));
    client.close();
    let seen = server.seen.lock().unwrap().clone();
    assert!(seen.iter().any(|s| s.method == "GET" && s.header("last-event-id") == Some("read-1")), "{seen:?}");
}

#[test]
fn streamable_http_stalled_reply_stream_times_out_at_the_deadline() {
    let server = scripted::start();
    let mut config = http("stalled", format!("http://127.0.0.1:{}/mcp", server.port));
    config.timeout = Duration::from_secs(1);
    let client = Client::connect(&config).unwrap();
    let started = Instant::now();
    let err = client.list_resource_templates().unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, Error::Timeout { ref method, .. } if method == "resources/templates/list"), "{err}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(3), "took {took:?}");
    client.close();
}

#[test]
fn streamable_http_nothing_listening_is_a_connect_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = Client::connect(&http("absent", format!("http://127.0.0.1:{port}/mcp"))).unwrap_err();
    assert!(matches!(&err, Error::Connect { server, .. } if server == "absent"), "{err:?}");
}

#[test]
fn streamable_http_request_past_its_deadline_is_cancelled() {
    let server = scripted::start();
    let mut config = http("slow", format!("http://127.0.0.1:{}/mcp", server.port));
    config.timeout = Duration::from_secs(1);
    let client = Client::connect(&config).unwrap();
    let started = Instant::now();
    let err = client.call_tool("slow", json!({})).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(3), "took {took:?}");
    // The notice is clean-up, sent off the caller's path: wait for it before closing (close
    // drops notices still queued).
    let cancelled = |s: &&Seen| s.json()["method"] == "notifications/cancelled";
    eventually("the server saw the cancellation", || server.seen.lock().unwrap().iter().any(|s| cancelled(&s)));
    client.close();
    let seen = server.seen.lock().unwrap().clone();
    let call = seen.iter().find(|s| s.json()["method"] == "tools/call").unwrap();
    let cancel = seen.iter().find(cancelled).expect("a cancellation");
    assert_eq!(cancel.json()["params"]["requestId"], call.json()["id"]);
}

#[test]
#[ignore = "needs the Python interop venv: set MCP_INTEROP_PYTHON (see README), run with --ignored"]
fn streamable_http_session_lost_in_a_server_restart_is_renewed_transparently() {
    let first = PythonServer::require(&["--transport", "streamable_http"]);
    let port = first.port().to_string();
    let client = Client::connect(&http("restarted", first.mcp_url())).unwrap();
    assert_eq!(client.list_resources().unwrap().len(), 121);
    drop(first);
    // The same port, a new process: the old session id is unknown there (404).
    let second = PythonServer::require(&["--transport", "streamable_http", "--port", &port]);
    assert_eq!(second.port().to_string(), port);
    // Several requests find the session gone at once: each gets its answer.
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..4).map(|_| s.spawn(|| client.list_resources().map(|r| r.len()))).collect();
        for t in threads {
            assert_eq!(t.join().unwrap().unwrap(), 121);
        }
    });
    assert_eq!(client.list_resources().unwrap().len(), 121);
    let sum = client.call_tool("add", json!({"a": 1, "b": 2})).unwrap();
    assert_eq!(sum.structured_content, Some(json!({"result": 3})));
    client.close();
}

/// The test server's faults that apply to Streamable HTTP, through the client: each error's
/// kind, server, method and op id, and an upper time bound with slack.
#[cfg(feature = "testing")]
#[test]
fn streamable_http_faults_of_the_test_server() {
    use mcp_orchestrator::testing::{Fault, TestServer};

    const TIMEOUT: Duration = Duration::from_millis(800);
    let connect = |fault: Fault| {
        let server = TestServer::builder().with_sample_resources(1).fault(fault).start().unwrap();
        let mut c = http("h", server.mcp_url().to_string());
        c.timeout = TIMEOUT;
        (Client::connect(&c), server)
    };
    let check = |err: &Error, method: &str| {
        assert_eq!((err.server(), err.method()), (Some("h"), Some(method)), "{err}");
        assert!(err.to_string().contains(&err.op_id().unwrap().to_string()), "{err}");
    };

    let (result, _s) = connect(Fault::PostStatus(500));
    let err = result.unwrap_err();
    assert!(matches!(&err, Error::Http { status: 500, body, .. } if body.contains("injected fault")), "{err}");
    check(&err, "initialize");

    let (result, _s) = connect(Fault::ForgetSessions);
    let err = result.unwrap_err();
    assert!(matches!(&err, Error::ConnectionClosed { detail, .. } if detail.contains("expired")), "{err}");
    check(&err, "notifications/initialized");

    let (result, _s) = connect(Fault::RefuseConnections);
    let err = result.unwrap_err();
    assert!(matches!(&err, Error::Connect { server, .. } if server == "h"), "{err}");

    let (client, _s) = connect(Fault::CloseStreamOn("tools/list".into()));
    let t0 = Instant::now();
    let err = client.unwrap().list_tools().unwrap_err();
    assert!(t0.elapsed() < TIMEOUT, "took {:?}", t0.elapsed());
    assert!(matches!(err, Error::ConnectionClosed { .. }), "{err}");
    check(&err, "tools/list");

    let (client, _s) = connect(Fault::NeverAnswer("tools/list".into()));
    let t0 = Instant::now();
    let err = client.unwrap().list_tools().unwrap_err();
    assert!(t0.elapsed() < TIMEOUT + Duration::from_millis(700), "took {:?}", t0.elapsed());
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    check(&err, "tools/list");

    // A bad event before the answer is skipped; a delay within the deadline is waited for.
    let (client, _s) = connect(Fault::MalformedEvent("tools/list".into()));
    assert!(client.unwrap().list_tools().unwrap().is_empty());
    let (client, _s) = connect(Fault::Delay("tools/list".into(), Duration::from_millis(300)));
    let t0 = Instant::now();
    assert!(client.unwrap().list_tools().unwrap().is_empty());
    assert!(t0.elapsed() >= Duration::from_millis(300), "answered after {:?}", t0.elapsed());
}
