//! Baseline for bench/compare: connect to N legacy-SSE MCP servers concurrently with the
//! official Rust SDK (rmcp 0.10.0), initialize, list every resource (following nextCursor),
//! and print one line of JSON: {"client":"rmcp","servers":N,"servers_ok":K,"resources":R}.
//!
//! To do the same work as `mcp-orchestrator gather` with `read_contents: false`, it also lists
//! the resource templates (when the server has the resources capability) and the tools (when
//! it has the tools capability) and the prompts (when it has the prompts capability), all
//! pages, the listings of a server concurrently; only the resources are counted.
//!
//! With `BENCH_HOLD=1` it keeps every session after the listings, prints the line, and holds
//! them until its standard input ends (read by the main thread: no thread of its own is added),
//! so that bench/compare/run.py `--idle` can count its threads and resident memory at rest.
//!
//! Usage: rmcp-baseline-client <sse-url>...

use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::SseClientTransport;
use rmcp::ServiceExt;
use tokio::task::JoinSet;

async fn one(url: String, hold: bool) -> Result<(usize, Option<RunningService<RoleClient, ()>>), String> {
    let transport = SseClientTransport::start(url.clone()).await.map_err(|e| format!("{url}: connect: {e}"))?;
    let client = ().serve(transport).await.map_err(|e| format!("{url}: initialize: {e}"))?;
    let listed = list(&client).await.map_err(|e| format!("{url}: {e}"));
    if hold && listed.is_ok() {
        return listed.map(|n| (n, Some(client)));
    }
    let _ = client.cancel().await;
    listed.map(|n| (n, None))
}

async fn list(client: &RunningService<RoleClient, ()>) -> Result<usize, String> {
    let caps = client.peer_info().map(|i| i.capabilities.clone()).unwrap_or_default();
    // The three listings of a server concurrently (each follows its own nextCursor).
    let resources = async {
        if caps.resources.is_none() {
            return Ok(0);
        }
        client.list_all_resources().await.map(|r| r.len()).map_err(|e| format!("resources/list: {e}"))
    };
    let templates = async {
        if caps.resources.is_none() {
            return Ok(());
        }
        client.list_all_resource_templates().await.map(drop).map_err(|e| format!("resources/templates/list: {e}"))
    };
    let tools = async {
        if caps.tools.is_none() {
            return Ok(());
        }
        client.list_all_tools().await.map(drop).map_err(|e| format!("tools/list: {e}"))
    };
    let prompts = async {
        if caps.prompts.is_none() {
            return Ok(());
        }
        client.list_all_prompts().await.map(drop).map_err(|e| format!("prompts/list: {e}"))
    };
    let (n, t, u, p) = tokio::join!(resources, templates, tools, prompts);
    t?;
    u?;
    p?;
    n
}

#[tokio::main]
async fn main() {
    let urls: Vec<String> = std::env::args().skip(1).collect();
    if urls.is_empty() {
        eprintln!("usage: rmcp-baseline-client <sse-url>...");
        std::process::exit(2);
    }
    let hold = std::env::var_os("BENCH_HOLD").is_some_and(|v| v == "1");
    let mut held = Vec::new();
    let mut set = JoinSet::new();
    for url in &urls {
        set.spawn(one(url.clone(), hold));
    }
    let (mut ok, mut resources) = (0usize, 0usize);
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok((n, client))) => {
                ok += 1;
                resources += n;
                held.extend(client);
            }
            Ok(Err(e)) => eprintln!("error: {e}"),
            Err(e) => eprintln!("error: task: {e}"),
        }
    }
    println!("{{\"client\":\"rmcp\",\"servers\":{},\"servers_ok\":{},\"resources\":{}}}", urls.len(), ok, resources);
    if hold {
        use std::io::{Read, Write};
        let _ = std::io::stdout().flush();
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        for client in held {
            let _ = client.cancel().await;
        }
    }
    if ok != urls.len() {
        std::process::exit(1);
    }
}
