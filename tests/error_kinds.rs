//! What a program sees when it uses an orchestrator before `initialize` or after `close`, and
//! how `Error::kind` classifies real failures (a refused connection, a JSON-RPC error), against
//! the crate's test server on 127.0.0.1.

#![cfg(feature = "testing")]

use mcp_orchestrator::testing::{Fault, TestServer};
use mcp_orchestrator::{Client, Config, Error, ErrorKind, Orchestrator, ServerConfig, json};

fn server() -> TestServer {
    TestServer::builder()
        .name("db")
        .text_resource("database://metadata", "metadata", "application/json", "{}")
        .start()
        .unwrap()
}

#[test]
fn gather_initializes_on_first_use_and_not_initialized_differs_from_closed() {
    let s = server();
    let config = Config::builder().server(ServerConfig::sse("db", s.url()).priority(1)).build().unwrap();
    let o = Orchestrator::new(config);

    let e = o.client("db").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotInitialized);
    assert!(matches!(e, Error::NotInitialized { .. }));
    assert!(e.to_string().contains("call initialize() first"), "{e}");

    // No initialize(): the gather connects first.
    let gathered = o.gather_all_resources().unwrap();
    assert_eq!(gathered.resources.len(), 1);
    assert_eq!(gathered.resources[0].resource.uri, "database://metadata");

    o.close();
    let e = o.gather_all_resources().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed);
    assert_eq!(o.client("db").unwrap_err().kind(), ErrorKind::Closed);

    // initialize() after close() works again.
    o.initialize().unwrap();
    assert_eq!(o.gather_all_resources().unwrap().resources.len(), 1);
    o.close();
}

#[test]
fn kinds_of_real_failures() {
    let refused = TestServer::builder().fault(Fault::RefuseConnections).start().unwrap();
    let e = Client::connect(&ServerConfig::sse("gone", refused.url())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unreachable, "{e}");

    let s = server();
    let client = Client::connect(&ServerConfig::sse("db", s.url())).unwrap();
    let e = client.call_tool("no_such_tool", json!({})).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ServerError, "{e}");
    client.close();
    assert_eq!(client.ping().unwrap_err().kind(), ErrorKind::Closed);
}
