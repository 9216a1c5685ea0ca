//! Embedding the orchestrator in a program: a config from YAML, initialize, gather, use the
//! merged resources, call the executor, close.
//!
//! It starts its own MCP server (the crate's test server, feature `testing`), so it runs anywhere:
//!
//! ```text
//! cargo run --example embed --features testing
//! RUST_LOG=debug cargo run --example embed --features testing     # with the library's logs
//! ```
//!
//! In a real program the YAML would come from a file (`Config::from_path("mcp_config.yaml")`)
//! and name your servers.

#[cfg(feature = "testing")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use mcp_orchestrator::testing::{TestServer, text_result};
    use mcp_orchestrator::{Config, Orchestrator};

    // The library logs through `log` and never installs a logger: the program chooses one.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();

    // A server to talk to: one resource and one tool.
    let server = TestServer::builder()
        .text_resource("database://metadata", "metadata", "application/json", r#"{"tables": ["customers"]}"#)
        .simple_tool("execute_query", "runs a query", |args| Ok(text_result(format!("you asked: {args}"))))
        .start()?;

    let yaml = format!(
        r#"
mcp_servers:
  database_mcp:
    url: "{url}"
    priority: 10
    domains: ["sales"]
    capabilities: ["execute_query", "list_resources"]
    transport: "sse"
orchestration:
  resource_cache_ttl: 300
  fail_fast: true
"#,
        url = server.url()
    );
    let config = Config::from_yaml_str(&yaml)?;
    let orchestrator = Orchestrator::new(config);

    orchestrator.initialize()?;
    let gathered = orchestrator.gather_all_resources()?;
    println!("gather {}:", gathered.op);
    for server in &gathered.servers {
        println!(
            "  server {} (priority {}): {:?} in {:?}",
            server.name, server.priority, server.status, server.elapsed
        );
    }
    for merged in &gathered.resources {
        let text = gathered.contents(&merged.resource.uri).and_then(|c| c.first()?.text());
        println!("  {} from {}: {}", merged.resource.uri, merged.server, text.unwrap_or("(not text)"));
    }

    let result = orchestrator.call_tool_on(None, "execute_query", serde_json::json!({"query": "SELECT 1"}))?;
    println!("executor answered: {}", result.text());

    orchestrator.close();
    server.shutdown();
    Ok(())
}

#[cfg(not(feature = "testing"))]
fn main() {
    eprintln!("this example starts the crate's test server: run it with `--features testing`");
}
