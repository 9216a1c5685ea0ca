//! Interop: the library against the official Python SDK's server (PyPI `mcp`, pinned in
//! tests/interop/requirements.txt) over the legacy HTTP+SSE transport.
//!
//! Every test is `#[ignore]`d, so `cargo test` lists it as ignored instead of passing it
//! unrun. Run them with the venv (tests/interop/README.md; `.ci/run` does):
//! `MCP_INTEROP_PYTHON=.venv-interop/bin/python cargo test --test interop_python -- --ignored`.
//! Asked to run without an interpreter, they fail.

#[path = "support/python.rs"]
mod python;

use std::time::Duration;

use mcp_orchestrator::{Client, Config, Orchestration, Orchestrator, ServerConfig, Status};
use python::PythonServer;
use serde_json::json;

fn sse_client(server: &PythonServer) -> Client {
    let mut config = ServerConfig::sse("python", server.sse_url());
    config.timeout = Duration::from_secs(20);
    Client::connect(&config).expect("connect to the Python SDK server")
}

/// Base64 of the bytes 0..=255 (what the server's blob resource holds).
fn blob_base64() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = (0..=255u8).collect();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
#[ignore = "needs the Python interop venv: set MCP_INTEROP_PYTHON (see README), run with --ignored"]
fn sse_handshake_resources_reads_templates_and_tools() {
    let server = PythonServer::require(&["--transport", "sse", "--resources", "120"]);
    let client = sse_client(&server);
    assert!(mcp_orchestrator::SUPPORTED_PROTOCOL_VERSIONS.contains(&client.protocol_version()));
    assert!(client.server().capabilities.resources.is_some());
    assert!(client.server().capabilities.tools.is_some());

    let resources = client.list_resources().unwrap();
    assert_eq!(resources.len(), 121, "120 text resources and the blob");
    let r7 = resources.iter().find(|r| r.uri == "test://resource/7").unwrap();
    assert_eq!(r7.name, "resource-7");
    assert_eq!(r7.title.as_deref(), Some("Resource 7"));
    assert_eq!(r7.description.as_deref(), Some("Test resource number 7"));
    assert_eq!(r7.mime_type.as_deref(), Some("text/plain"));
    let blob = resources.iter().find(|r| r.uri == "test://blob").unwrap();
    assert_eq!(blob.mime_type.as_deref(), Some("application/octet-stream"));
    assert_eq!(blob.annotations.as_ref().unwrap().priority, Some(0.5));
    assert_eq!(blob.meta.as_ref().unwrap()["interop/length"], 256);

    let text = client.read_resource("test://resource/7").unwrap();
    assert_eq!(text.len(), 1);
    assert_eq!(text[0].text(), Some("content of resource 7"));
    assert_eq!(text[0].mime_type.as_deref(), Some("text/plain"));
    let bytes = client.read_resource("test://blob").unwrap();
    assert_eq!(bytes[0].blob(), Some(blob_base64().as_str()));

    let uris: Vec<String> = (0..120).map(|i| format!("test://resource/{i}")).collect();
    let uris: Vec<&str> = uris.iter().map(String::as_str).collect();
    let reads = client.read_resources(&uris);
    for (i, r) in reads.iter().enumerate() {
        assert_eq!(r.as_ref().unwrap()[0].text(), Some(format!("content of resource {i}").as_str()));
    }

    let templates = client.list_resource_templates().unwrap();
    assert!(templates.iter().any(|t| t.uri_template == "test://template/{id}"), "{templates:?}");

    let tools = client.list_tools().unwrap();
    let add = tools.iter().find(|t| t.name == "add").expect("the add tool");
    assert_eq!(add.input_schema["type"], "object");
    assert!(add.input_schema["properties"]["a"].is_object());
    let sum = client.call_tool("add", json!({"a": 20, "b": 22})).unwrap();
    assert!(!sum.is_error);
    assert_eq!(sum.text(), "42");
    assert_eq!(sum.structured_content, Some(json!({"result": 42})));
    let echo = client.call_tool("echo", json!({"text": "héllo"})).unwrap();
    assert_eq!(echo.text(), "héllo");
    client.ping().unwrap();
    client.close();
}

#[test]
#[ignore = "needs the Python interop venv: set MCP_INTEROP_PYTHON (see README), run with --ignored"]
fn sse_paging_follows_next_cursor() {
    let server = PythonServer::require(&["--transport", "sse", "--resources", "105", "--page-size", "10"]);
    let client = sse_client(&server);
    let resources = client.list_resources().unwrap();
    assert_eq!(resources.len(), 106);
    let mut uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    uris.sort_unstable();
    uris.dedup();
    assert_eq!(uris.len(), 106, "no resource twice");
}

#[test]
#[ignore = "needs the Python interop venv: set MCP_INTEROP_PYTHON (see README), run with --ignored"]
fn orchestrator_gathers_two_python_servers() {
    let a = PythonServer::require(&["--transport", "sse", "--resources", "50"]);
    let b = PythonServer::require(&["--transport", "sse", "--resources", "60"]);
    let mut ca = ServerConfig::sse("a", a.sse_url());
    ca.priority = 2;
    ca.timeout = Duration::from_secs(20);
    let mut cb = ServerConfig::sse("b", b.sse_url());
    cb.priority = 1;
    cb.timeout = Duration::from_secs(20);
    let o = Orchestrator::new(Config::new(vec![ca, cb], Orchestration::default()).unwrap());
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    assert!(g.servers.iter().all(|s| s.status == Status::Ok), "{:?}", g.servers);
    // URIs 0..49 and the blob are on both: b (priority 1) wins them.
    assert_eq!(g.resources.len(), 61);
    let shared = g.resource("test://resource/3").unwrap();
    assert_eq!((shared.server.as_str(), shared.shadowed.as_slice()), ("b", &["a".to_string()][..]));
    assert_eq!(g.resource("test://resource/55").unwrap().server, "b");
    assert_eq!(g.contents("test://resource/55").unwrap()[0].text(), Some("content of resource 55"));
    o.close();
}
