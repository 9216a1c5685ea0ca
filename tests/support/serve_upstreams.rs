//! The three upstream test servers the `serve` tests merge: alpha (priority 1), beta (2, its
//! `shared` tool shadowed by alpha's; reached over legacy SSE, where the test server sends
//! notifications) and gamma (3, a resource template, and an app-only tool `gamma_app_refresh`
//! that no model-facing list may show).

#![allow(dead_code, reason = "each test crate that includes this file uses a different part of it")]

use mcp_orchestrator::Tool;
use mcp_orchestrator::testing::{TestServer, text_result};

/// The servers, in priority order.
pub fn upstreams() -> Vec<TestServer> {
    let alpha = TestServer::builder()
        .name("alpha")
        .simple_tool("shared", "the shared tool", |_| Ok(text_result("from alpha")))
        .simple_tool("alpha_only", "alpha's tool", |_| Ok(text_result("alpha only")))
        .text_resource("file:///a.txt", "a", "text/plain", "A")
        .start()
        .expect("alpha starts");
    let beta = TestServer::builder()
        .name("beta")
        .simple_tool("shared", "beta's shadowed copy", |_| Ok(text_result("from beta")))
        .simple_tool("beta_only", "beta's tool", |_| Ok(text_result("beta only")))
        .prompt("greet", "Hello, {who}!")
        .start()
        .expect("beta starts");
    let gamma = TestServer::builder()
        .name("gamma")
        .simple_tool("gamma_only", "gamma's tool", |_| Ok(text_result("gamma only")))
        .simple_template("notes://{id}", "note")
        .tool(app_only_tool(), |_| Ok(text_result("refreshed by gamma's app")))
        .start()
        .expect("gamma starts");
    vec![alpha, beta, gamma]
}

/// The names, in the same order.
pub const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

/// `(name, url, transport)` of each, as a config spells them.
pub fn endpoints(servers: &[TestServer]) -> Vec<(&'static str, String, &'static str)> {
    NAMES
        .iter()
        .zip(servers)
        .map(|(name, s)| match *name {
            "beta" => (*name, s.url().to_string(), "sse"),
            _ => (*name, s.mcp_url().to_string(), "streamable_http"),
        })
        .collect()
}

/// MCP Apps: a tool for its server's app only (`_meta.ui.visibility` without `"model"`).
fn app_only_tool() -> Tool {
    serde_json::from_value(serde_json::json!({
        "name": "gamma_app_refresh",
        "description": "refreshes gamma's app view",
        "inputSchema": {"type": "object"},
        "_meta": {"ui": {"resourceUri": "ui://gamma/view.html", "visibility": ["app"]}}
    }))
    .expect("a tool")
}
