//! A server's log level and its log messages: the per-server `log_level` goes in each request's
//! `_meta` on the 2026-07-28 wire and in one `logging/setLevel` after `initialize` on the
//! handshake era (only to a server with the `logging` capability); `notifications/message`
//! reaches the `log` facade at the matching level, naming the server and the op.
//! (Its own test binary: it installs a global capturing logger.)

#![cfg(feature = "testing")]

#[path = "support/wait.rs"]
mod wait;

use std::sync::Mutex;

use mcp_orchestrator::testing::{ProtocolMode, TestServer, text_result};
use mcp_orchestrator::{Client, Config, LoggingLevel, Orchestrator, ServerConfig};
use serde_json::json;

/// (level, message) of every record of this crate.
struct Capture(Mutex<Vec<(log::Level, String)>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target().starts_with("mcp_orchestrator") {
            self.0.lock().unwrap().push((record.level(), record.args().to_string()));
        }
    }
    fn flush(&self) {}
}

static LOGGER: Capture = Capture(Mutex::new(Vec::new()));

fn install() {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Debug);
}

fn server(mode: ProtocolMode, logging: bool) -> TestServer {
    let b = TestServer::builder().protocol_mode(mode).simple_tool("t", "a tool", |_| Ok(text_result("ok")));
    if logging { b.logging() } else { b }.start().unwrap()
}

#[test]
fn the_handshake_era_sends_set_level_once_and_only_to_a_server_that_logs() {
    install();
    let s = server(ProtocolMode::HandshakeOnly, true);
    let client = Client::connect(&ServerConfig::sse("logs", s.url()).log_level(LoggingLevel::Warning)).unwrap();
    assert_eq!(s.stats().count("logging/setLevel"), 1);
    assert_eq!(s.stats().last_params["logging/setLevel"], json!({"level": "warning"}));
    client.list_tools().unwrap();
    assert_eq!(s.stats().count("logging/setLevel"), 1, "once, after initialize");
    assert!(s.stats().last_params["tools/list"].get("_meta").is_none(), "no _meta on the handshake era");
    client.close();

    let quiet = server(ProtocolMode::HandshakeOnly, false);
    let client = Client::connect(&ServerConfig::sse("quiet", quiet.url()).log_level(LoggingLevel::Debug)).unwrap();
    client.list_tools().unwrap();
    assert_eq!(quiet.stats().count("logging/setLevel"), 0, "no logging capability");
    client.close();

    let unasked = server(ProtocolMode::HandshakeOnly, true);
    let client = Client::connect(&ServerConfig::sse("unasked", unasked.url())).unwrap();
    client.list_tools().unwrap();
    assert_eq!(unasked.stats().count("logging/setLevel"), 0, "no log_level configured");
    client.close();
}

#[test]
fn the_modern_wire_puts_the_level_in_every_requests_meta() {
    install();
    let s = server(ProtocolMode::ModernOnly, true);
    let client =
        Client::connect(&ServerConfig::streamable_http("modern", s.mcp_url()).log_level(LoggingLevel::Notice)).unwrap();
    assert!(client.is_modern());
    client.list_tools().unwrap();
    client.call_tool("t", json!({})).unwrap();
    let stats = s.stats();
    for method in ["tools/list", "tools/call"] {
        assert_eq!(stats.last_params[method]["_meta"]["io.modelcontextprotocol/logLevel"], "notice", "{method}");
    }
    assert_eq!(stats.count("logging/setLevel"), 0, "never on the modern wire");
    client.close();

    let unasked = server(ProtocolMode::ModernOnly, true);
    let client = Client::connect(&ServerConfig::streamable_http("unasked", unasked.mcp_url())).unwrap();
    client.list_tools().unwrap();
    assert!(unasked.stats().last_params["tools/list"]["_meta"].get("io.modelcontextprotocol/logLevel").is_none());
    client.close();
}

#[test]
fn server_log_messages_reach_the_facade_at_the_matching_level_with_server_and_op() {
    install();
    let s = server(ProtocolMode::HandshakeOnly, true);
    let config = Config::builder().server(ServerConfig::sse("chatty", s.url()).log_level(LoggingLevel::Debug)).build();
    let o = Orchestrator::new(config.unwrap());
    o.initialize().unwrap();
    let cases = [
        ("debug", log::Level::Info),
        ("notice", log::Level::Info),
        ("warning", log::Level::Warn),
        ("error", log::Level::Error),
        ("emergency", log::Level::Error),
    ];
    for (level, _) in cases {
        let params = json!({"level": level, "logger": "db", "data": format!("message at {level}")});
        assert_eq!(s.notify("notifications/message", Some(params)), 1);
    }
    let found = |level: &str| {
        LOGGER.0.lock().unwrap().iter().find(|(_, m)| m.contains(&format!("message at {level}"))).cloned()
    };
    wait::eventually("every message logged", || cases.iter().all(|(l, _)| found(l).is_some()));
    for (level, expected) in cases {
        let (at, message) = found(level).unwrap();
        assert_eq!(at, expected, "{message}");
        assert!(message.contains("server=chatty") && message.contains("op=") && message.contains("db"), "{message}");
    }
    let structured = json!({"level": "info", "data": {"rows": 3}});
    s.notify("notifications/message", Some(structured));
    wait::eventually("structured data logged as JSON", || {
        LOGGER.0.lock().unwrap().iter().any(|(_, m)| m.contains(r#"{"rows":3}"#) && m.contains("server=chatty"))
    });
    o.close();
}
