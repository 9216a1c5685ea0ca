//! Tool results checked against the tool's `outputSchema` (issue 20), on both protocol eras and
//! through the orchestrator; what is logged for a schema the crate cannot read and for a tool
//! left out for its `x-mcp-header`s. (Its own test binary: it installs a global capturing
//! logger; each test names its servers apart and reads only their records.)

#![cfg(feature = "testing")]

use std::time::Duration;

#[path = "support/capture_log.rs"]
mod capture_log;

use mcp_orchestrator::testing::{ProtocolMode, TestServer, text_result};
use mcp_orchestrator::{
    CallToolResult, Client, Config, Error, ErrorKind, Orchestration, Orchestrator, ServerConfig, Tool, Transport, Value,
};
use serde_json::json;

/// Installs the capturing logger (each test does, first).
fn capture() {
    capture_log::install();
}

/// The warnings logged so far that name `server=<name>`.
fn warnings_of(name: &str) -> Vec<String> {
    let tag = format!("server={name}:");
    capture_log::records()
        .iter()
        .filter(|(l, m)| *l == log::Level::Warn && m.contains(&tag))
        .map(|(_, m)| m.clone())
        .collect()
}

fn tool(name: &str, output_schema: Value) -> Tool {
    serde_json::from_value(json!({"name": name, "inputSchema": {"type": "object"}, "outputSchema": output_schema}))
        .unwrap()
}

/// Rows of named things: what `query` promises.
fn rows_schema() -> Value {
    json!({
        "type": "object",
        "required": ["rows"],
        "properties": {"rows": {"type": "array", "items": {"$ref": "#/$defs/row"}}},
        "$defs": {"row": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}
    })
}

/// `query` answers what its `answer` argument asks for: `good`, `bad` (a row's name is a
/// number), `none` (no structuredContent), `error` (a tool error with a bad structuredContent).
fn query(args: &Value) -> Result<CallToolResult, String> {
    let good = json!({"rows": [{"name": "a"}, {"name": "b"}]});
    let bad = json!({"rows": [{"name": "a"}, {"name": 7}]});
    Ok(match args["answer"].as_str().unwrap_or("good") {
        "good" => text_result("2 rows").with_structured_content(good),
        "bad" => text_result("2 rows").with_structured_content(bad),
        "none" => text_result("no rows"),
        _ => text_result("failed").with_structured_content(bad).with_error(true),
    })
}

fn server(mode: ProtocolMode) -> TestServer {
    TestServer::builder()
        .protocol_mode(mode)
        .tool(tool("query", rows_schema()), query)
        .tool(tool("legacy", json!({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object"})), query)
        .simple_tool("plain", "no output schema", |_| Ok(text_result("-").with_structured_content(json!([1]))))
        .start()
        .unwrap()
}

fn config(name: &str, transport: Transport) -> ServerConfig {
    capture();
    let mut c = ServerConfig::new(name, transport);
    c.timeout = Duration::from_secs(10);
    c
}

#[track_caller]
fn assert_invalid(result: mcp_orchestrator::Result<CallToolResult>, server: &str, path: &str, detail: &str) {
    match result {
        Err(e @ Error::InvalidOutput { .. }) => {
            assert_eq!(e.kind(), ErrorKind::Schema);
            assert_eq!((e.server(), e.method()), (Some(server), Some("tools/call")));
            let Error::InvalidOutput { tool, path: at, detail: why, .. } = &e else { unreachable!() };
            assert_eq!((tool.as_str(), at.as_str(), why.as_str()), ("query", path, detail), "{e}");
            let text = e.to_string();
            assert!(text.contains(&format!("server `{server}`, tool `query`, method `tools/call`, op ")), "{text}");
        }
        other => panic!("not an InvalidOutput: {other:?}"),
    }
}

#[test]
fn structured_content_is_checked_against_the_output_schema_on_both_eras() {
    for (name, mode, transport) in [
        ("checked-sse", ProtocolMode::HandshakeOnly, "sse"),
        ("checked-2025", ProtocolMode::HandshakeOnly, "http"),
        ("checked-2026", ProtocolMode::ModernOnly, "http"),
    ] {
        let server = server(mode);
        let transport = match transport {
            "sse" => Transport::Sse { url: server.url().into() },
            _ => Transport::Http { url: server.mcp_url().into() },
        };
        let client = Client::connect(&config(name, transport)).unwrap();
        if !client.is_modern() {
            // A tool never listed is not known: its results are not checked. (On the
            // 2026-07-28 wire over HTTP a call lists the tools first, for their headers.)
            assert!(client.call_tool("query", json!({"answer": "bad"})).is_ok(), "{name}");
        }
        assert_eq!(client.list_tools().unwrap().len(), 3);
        let good = client.call_tool("query", json!({"answer": "good"})).unwrap();
        assert_eq!(good.structured_content.unwrap()["rows"][1]["name"], "b");
        let bad = client.call_tool("query", json!({"answer": "bad"}));
        assert_invalid(
            bad,
            name,
            "/rows/1/name",
            "expected string, got integer; keyword #/$defs/row/properties/name/type",
        );
        let none = client.call_tool("query", json!({"answer": "none"}));
        assert_invalid(none, name, "", "the result has no structuredContent (the tool declares an outputSchema)");
        // A tool's error is not checked; a tool without an output schema neither.
        assert!(client.call_tool("query", json!({"answer": "error"})).unwrap().is_error);
        assert!(client.call_tool("plain", json!({})).is_ok());
        // A schema the crate cannot read: one warning when listed (not again when listed with
        // the same schema), and its results are not checked.
        client.list_tools().unwrap();
        assert_eq!(client.call_tool("legacy", json!({"answer": "none"})).unwrap().text(), "no rows");
        let warnings: Vec<String> = warnings_of(name).into_iter().filter(|w| w.contains("`legacy`")).collect();
        assert_eq!(warnings.len(), 1, "{name}: {warnings:?}");
        assert!(
            warnings[0].contains("its outputSchema cannot be used, so its results are not checked: unsupported schema at #: dialect \"http://json-schema.org/draft-04/schema#\" is not supported"),
            "{}",
            warnings[0]
        );
        assert!(warnings[0].starts_with("op="), "{}", warnings[0]);
        client.close();
    }
}

#[test]
fn the_orchestrator_checks_the_results_of_the_tools_it_gathered() {
    let server = server(ProtocolMode::Both);
    let o = Orchestrator::new(
        Config::new(vec![config("gathered", Transport::Sse { url: server.url().into() })], Orchestration::default())
            .unwrap(),
    );
    o.initialize().unwrap();
    assert!(o.call_tool("query", json!({})).is_ok());
    let e = o.call_tool("query", json!({"answer": "bad"})).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Schema, "{e}");
    assert!(
        e.to_string().starts_with(
            "schema: structuredContent does not match outputSchema at /rows/1/name: expected string, got integer; \
             keyword #/$defs/row/properties/name/type (server `gathered`, tool `query`, method `tools/call`, op "
        ),
        "{e}"
    );
    o.close();
}

#[test]
fn a_changed_tool_list_forgets_the_old_schemas() {
    let server = server(ProtocolMode::HandshakeOnly);
    let (seen, notices) = std::sync::mpsc::channel();
    let client = Client::builder(&config("changing", Transport::Sse { url: server.url().into() }))
        .on_notification(move |_, n| {
            let _ = seen.send(n.method.clone());
        })
        .connect()
        .unwrap();
    client.list_tools().unwrap();
    assert!(client.call_tool("query", json!({"answer": "bad"})).is_err());
    assert_eq!(server.notify("notifications/tools/list_changed", None), 1);
    // The client forgets its tools before a program's callback sees the notice.
    let notice = notices.recv_timeout(Duration::from_secs(10)).expect("the change notice");
    assert_eq!(notice, "notifications/tools/list_changed");
    // Until listed again, the tool is unknown: nothing to check against.
    assert!(client.call_tool("query", json!({"answer": "bad"})).is_ok());
    client.list_tools().unwrap();
    assert!(client.call_tool("query", json!({"answer": "bad"})).is_err());
    client.close();
}

#[test]
fn a_tool_with_invalid_x_mcp_headers_is_left_out_with_a_warning_naming_it() {
    let bad_header = |name: &str, property: Value| -> Tool {
        serde_json::from_value(json!({"name": name, "inputSchema": {"type": "object", "properties": {"x": property}}}))
            .unwrap()
    };
    let server = TestServer::builder()
        .protocol_mode(ProtocolMode::ModernOnly)
        .tool(bad_header("number_header", json!({"type": "number", "x-mcp-header": "X"})), |_| Ok(text_result("no")))
        .tool(bad_header("spaced_header", json!({"type": "string", "x-mcp-header": "My X"})), |_| Ok(text_result("no")))
        .tool(bad_header("fine", json!({"type": "string", "x-mcp-header": "X"})), |_| Ok(text_result("yes")))
        .start()
        .unwrap();
    let client = Client::connect(&config("headers", Transport::Http { url: server.mcp_url().into() })).unwrap();
    let names: Vec<String> = client.list_tools().unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["fine"]);
    let warnings = warnings_of("headers");
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    for (tool, why) in
        [("number_header", "not a string, integer or boolean"), ("spaced_header", "\"My X\" is not an HTTP token")]
    {
        let w = warnings.iter().find(|w| w.contains(&format!("leaving out tool `{tool}`"))).expect(tool);
        assert!(w.starts_with("op=") && w.contains("server=headers:") && w.contains(why), "{w}");
    }
    client.close();
}
