//! Smoke tests of the interop set-up: the official Python SDK server starts, speaks each
//! transport at the wire level, and is cleaned up. Plain std I/O, every read with a deadline;
//! the library's own interop tests live elsewhere.
//!
//! Every test is `#[ignore]`d (needs the Python venv) and fails, rather than passing unrun,
//! when asked to run without it: `cargo test --test interop_smoke -- --ignored`.

#[path = "support/python.rs"]
mod python;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use python::PythonServer;

const IO_TIMEOUT: Duration = Duration::from_secs(5);

fn connect(server: &PythonServer) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", server.port())).expect("connect to server.py");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// Reads from `stream` until `done(received so far)` or the deadline.
fn read_until(stream: &mut TcpStream, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    while !done(&String::from_utf8_lossy(&received)) {
        assert!(
            Instant::now() < deadline,
            "no complete answer within {IO_TIMEOUT:?}; got {:?}",
            String::from_utf8_lossy(&received)
        );
        match stream.read(&mut buf) {
            Ok(0) => panic!("connection closed; got {:?}", String::from_utf8_lossy(&received)),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read failed: {e}; got {:?}", String::from_utf8_lossy(&received)),
        }
    }
    String::from_utf8_lossy(&received).into_owned()
}

/// The value of a `data:` line that follows `event: endpoint`, once it is complete.
fn endpoint_data(received: &str) -> Option<&str> {
    let after = &received[received.find("event: endpoint")?..];
    let data = &after[after.find("data: ")? + "data: ".len()..];
    let end = data.find(['\r', '\n'])?;
    Some(&data[..end])
}

#[test]
#[ignore = "needs the Python interop venv: set MCP_INTEROP_PYTHON (see README), run with --ignored"]
fn sse_get_sends_the_endpoint_event() {
    let server = PythonServer::require(&["--transport", "sse", "--resources", "3"]);
    assert!(server.sse_url().ends_with(&format!(":{}/sse", server.port())));
    let mut stream = connect(&server);
    write!(stream, "GET /sse HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAccept: text/event-stream\r\n\r\n", server.port())
        .unwrap();
    let received = read_until(&mut stream, |r| endpoint_data(r).is_some());

    assert!(received.starts_with("HTTP/1.1 200"), "{received:?}");
    let lower = received.to_ascii_lowercase();
    assert!(lower.contains("content-type: text/event-stream"), "{received:?}");
    // The SDK's endpoint: a relative URI with a 32-hex-digit session id, CRLF line ends.
    let endpoint = endpoint_data(&received).unwrap();
    let session =
        endpoint.strip_prefix("/messages/?session_id=").unwrap_or_else(|| panic!("unexpected endpoint {endpoint:?}"));
    assert_eq!(session.len(), 32, "{endpoint:?}");
    assert!(session.bytes().all(|b| b.is_ascii_hexdigit()), "{endpoint:?}");
    assert!(received.contains("event: endpoint\r\ndata: "), "{received:?}");
}

#[test]
#[ignore = "needs the Python interop venv: set MCP_INTEROP_PYTHON (see README), run with --ignored"]
fn sse_post_to_an_unknown_session_is_404() {
    let server = PythonServer::require(&["--transport", "sse", "--resources", "0"]);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let mut stream = connect(&server);
    write!(
        stream,
        "POST /messages/?session_id=00000000000000000000000000000000 HTTP/1.1\r\n\
         Host: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        server.port(),
        body.len()
    )
    .unwrap();
    let received = read_until(&mut stream, |r| r.contains("Could not find session"));
    assert!(received.starts_with("HTTP/1.1 404"), "{received:?}");
}

#[test]
#[ignore = "needs the Python interop venv: set MCP_INTEROP_PYTHON (see README), run with --ignored"]
fn streamable_http_initialize_answers_with_a_session() {
    let server = PythonServer::require(&["--transport", "streamable_http", "--json-response"]);
    assert!(server.mcp_url().ends_with(&format!(":{}/mcp", server.port())));
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"smoke","version":"0"}}}"#;
    let mut stream = connect(&server);
    write!(
        stream,
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        server.port(),
        body.len()
    )
    .unwrap();
    let received = read_until(&mut stream, |r| r.contains(r#""serverInfo""#) && r.ends_with('}'));
    assert!(received.starts_with("HTTP/1.1 200"), "{received:?}");
    let lower = received.to_ascii_lowercase();
    assert!(lower.contains("content-type: application/json"), "{received:?}");
    assert!(lower.contains("mcp-session-id: "), "{received:?}");
    assert!(received.contains(r#""protocolVersion":"2025-11-25""#), "{received:?}");
    assert!(received.contains(r#""name":"interop-test-server""#), "{received:?}");
}

#[test]
#[ignore = "needs the Python interop venv: set MCP_INTEROP_PYTHON (see README), run with --ignored"]
fn stdio_initialize_answers() {
    let python = python::require_python();
    let mut child = Command::new(python)
        .args(python::stdio_args(&["--resources", "1"]))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server.py over stdio");
    python::forward_stderr(child.stderr.take().unwrap(), "server.py stdio".to_owned());
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("interop-stdio-stdout".to_owned())
        .spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line).is_err() {
                    break;
                }
            }
        })
        .expect("start the stdout reader");
    let mut stdin = child.stdin.take().unwrap();
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"smoke","version":"0"}}}}}}"#
    )
    .unwrap();
    stdin.flush().unwrap();
    // The interpreter starts and imports the SDK first: the start-up deadline.
    let answer = rx.recv_timeout(python::STARTUP_TIMEOUT);
    drop(stdin); // EOF: the server ends
    let _ = child.kill();
    child.wait().unwrap();
    let line = answer.expect("an answer within the start-up deadline").expect("a UTF-8 line");
    assert!(line.starts_with(r#"{"jsonrpc":"2.0","id":1,"result":"#), "{line:?}");
    assert!(line.contains(r#""protocolVersion":"2025-06-18""#), "{line:?}");
}

#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs the Python interop venv: set MCP_INTEROP_PYTHON (see README), run with --ignored"]
fn drop_kills_and_reaps_the_server() {
    let server = PythonServer::require(&["--transport", "sse", "--resources", "0"]);
    let proc_dir = format!("/proc/{}", server.pid());
    let port = server.port();
    assert!(std::path::Path::new(&proc_dir).exists());
    drop(server);
    // Reaped: no zombie entry left, and the port no longer accepts connections.
    assert!(!std::path::Path::new(&proc_dir).exists(), "{proc_dir} still exists");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}
