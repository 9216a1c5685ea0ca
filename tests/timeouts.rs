//! The timeouts people ask for, over every transport: a per-server `tool_timeout` for
//! `tools/call`, apart from the connect and listing `timeout`; and a server that lists no tools
//! while it warms up is asked again at the next gather instead of being cached as toolless.

#![cfg(feature = "testing")]

#[path = "support/servers.rs"]
#[macro_use]
mod servers;

use std::sync::Arc;
use std::time::Duration;

use mcp_orchestrator::testing::Fault;
use mcp_orchestrator::{Config, Error, Orchestration, Orchestrator, ServerConfig, Transport};
use serde_json::json;
use servers::{Kind, sample};

over_every_transport!(
    a_slow_tool_needs_a_long_tool_timeout_not_a_long_timeout,
    a_short_tool_timeout_fails_the_call_with_a_timeout_naming_it,
    an_empty_tool_list_is_asked_again_at_the_next_gather,
);

/// A tool answered after 1.5 s.
const SLOW: Duration = Duration::from_millis(1500);

fn orchestrator(server: ServerConfig) -> Orchestrator {
    Orchestrator::new(Config::new(vec![server], Orchestration::default()).unwrap())
}

fn a_slow_tool_needs_a_long_tool_timeout_not_a_long_timeout(kind: Kind) {
    let s = sample(0).tool("slow", "done").fault(Fault::Delay("tools/call".into(), SLOW)).start(kind);
    let mut c = s.config("s", 1);
    c.timeout = Duration::from_secs(1); // shorter than the tool takes
    c.tool_timeout = Some(Duration::from_secs(30));
    let o = orchestrator(c);
    o.initialize().unwrap();
    assert_eq!(o.call_tool("slow", json!({})).unwrap().text(), "done");
    assert_eq!(o.client("s").unwrap().call_tool("slow", json!({})).unwrap().text(), "done", "the client too");
    o.close();
}

fn a_short_tool_timeout_fails_the_call_with_a_timeout_naming_it(kind: Kind) {
    let s = sample(0).tool("slow", "done").fault(Fault::Delay("tools/call".into(), SLOW)).start(kind);
    let mut c = s.config("s", 1);
    c.timeout = Duration::from_secs(30);
    c.tool_timeout = Some(Duration::from_millis(300));
    let o = orchestrator(c);
    o.initialize().unwrap();
    let err = o.call_tool("slow", json!({})).unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_eq!((err.server(), err.method()), (Some("s"), Some("tools/call")));
    let op = err.op_id().expect("an op id").to_string();
    assert!(err.to_string().contains(&op), "{err}");
    // Listings keep the long `timeout`.
    assert_eq!(o.gather_all_resources().unwrap().tools.len(), 1);
    o.close();
}

fn an_empty_tool_list_is_asked_again_at_the_next_gather(kind: Kind) {
    let s = sample(1).tool("late", "here").fault(Fault::EmptyToolLists(1)).start(kind);
    let o = orchestrator(s.config("s", 1));
    o.initialize().unwrap();
    let first = o.gather_all_resources().unwrap();
    assert!(first.tools.is_empty(), "{:?}", first.tools);
    let second = o.gather_all_resources().unwrap();
    assert_eq!(second.tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["late"]);
    assert_eq!(s.count("tools/list"), 2);
    // Once it lists tools, its part is cached as usual.
    let third = o.gather_all_resources().unwrap();
    assert!(Arc::ptr_eq(&second, &third));
    assert_eq!(s.count("tools/list"), 2);
    assert_eq!(o.call_tool("late", json!({})).unwrap().text(), "here");
    o.close();
}

#[test]
fn tool_timeout_is_read_from_yaml_and_json_and_validated_like_timeout() {
    let yaml = "mcp_servers:\n  db:\n    url: http://127.0.0.1:9/mcp\n    transport: streamable_http\n    priority: 1\n    timeout: 5\n    \
                tool_timeout: 600\n  other:\n    url: http://127.0.0.1:9/mcp\n    transport: streamable_http\n    priority: 2\n";
    let config = Config::from_yaml_str(yaml).unwrap();
    let db = config.server("db").unwrap();
    assert_eq!((db.timeout, db.tool_timeout), (Duration::from_secs(5), Some(Duration::from_secs(600))));
    assert_eq!(db.call_timeout(), Duration::from_secs(600));
    let other = config.server("other").unwrap();
    assert_eq!(other.tool_timeout, None);
    assert_eq!(other.call_timeout(), other.timeout, "the default is the server's timeout");

    let err = Config::from_yaml_str(&yaml.replace("tool_timeout: 600", "tool_timeout: 0")).unwrap_err();
    assert!(
        err.to_string().contains("server `db`: `tool_timeout` must be a number of seconds greater than 0"),
        "{err}"
    );

    let json = r#"{"mcpServers": {"db": {"url": "http://127.0.0.1:9/mcp", "timeout": 5, "toolTimeout": 600}}}"#;
    let config = Config::from_str_with_env(json, |_| None).unwrap();
    assert_eq!(config.servers[0].tool_timeout, Some(Duration::from_secs(600)));
    let err = Config::from_str_with_env(&json.replace("600", "-1"), |_| None).unwrap_err();
    assert!(err.to_string().contains("server `db`: `toolTimeout` must be a number of seconds greater than 0"), "{err}");

    let zero = ServerConfig::new("c", Transport::StreamableHttp { url: "http://127.0.0.1:9/mcp".into() })
        .tool_timeout(Duration::ZERO);
    let err = Config::new(vec![zero], Orchestration::default()).unwrap_err();
    assert!(err.to_string().contains("server `c`: `tool_timeout` must be greater than 0"), "{err}");
}
