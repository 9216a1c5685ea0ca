//! Baseline for bench/compare: connect to N Streamable HTTP MCP servers concurrently with the
//! official Rust SDK (rmcp 3.x), start each session in the chosen lifecycle, list every
//! resource, resource template, tool and prompt (all pages; the listings of a
//! server concurrently), and print one line of JSON:
//! {"client":"rmcp3","servers":N,"servers_ok":K,"resources":R}.
//!
//! Lifecycles: `initialize` (rmcp's default, `serve`: the `initialize` handshake) or
//! `discover` (`ClientLifecycleMode::Discover` preferring 2026-07-28: `server/discover`, then
//! stateless requests). Only the resources are counted.
//!
//! With `BENCH_HOLD=1` it keeps every session after the listings, prints the line, and holds
//! them until its standard input ends (read by the main thread: no thread of its own is added),
//! so that bench/compare/run.py `--idle` can count its threads and resident memory at rest.
//!
//! Usage: rmcp3-baseline-client (initialize|discover) <mcp-url>...

use rmcp::model::ProtocolVersion;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientLifecycleMode, ClientServiceExt, ServiceExt};
use tokio::task::JoinSet;

#[derive(Clone, Copy)]
enum Lifecycle {
    Initialize,
    Discover,
}

async fn one(url: String, lifecycle: Lifecycle, hold: bool) -> Result<(usize, Option<RunningService<RoleClient, ()>>), String> {
    let transport = StreamableHttpClientTransport::from_uri(url.clone());
    let client = match lifecycle {
        Lifecycle::Initialize => ().serve(transport).await,
        Lifecycle::Discover => {
            let mode = ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] };
            ().serve_with_lifecycle(transport, mode).await
        }
    }
    .map_err(|e| format!("{url}: start: {e}"))?;
    let listed = list(&client).await.map_err(|e| format!("{url}: {e}"));
    if hold && listed.is_ok() {
        return listed.map(|n| (n, Some(client)));
    }
    let _ = client.cancel().await;
    listed.map(|n| (n, None))
}

async fn list(client: &RunningService<RoleClient, ()>) -> Result<usize, String> {
    let caps = client.peer_info().map(|i| i.capabilities.clone()).unwrap_or_default();
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
    let mut args = std::env::args().skip(1);
    let lifecycle = match args.next().as_deref() {
        Some("initialize") => Lifecycle::Initialize,
        Some("discover") => Lifecycle::Discover,
        _ => {
            eprintln!("usage: rmcp3-baseline-client (initialize|discover) <mcp-url>...");
            std::process::exit(2);
        }
    };
    let urls: Vec<String> = args.collect();
    if urls.is_empty() {
        eprintln!("usage: rmcp3-baseline-client (initialize|discover) <mcp-url>...");
        std::process::exit(2);
    }
    let hold = std::env::var_os("BENCH_HOLD").is_some_and(|v| v == "1");
    let mut held = Vec::new();
    let mut set = JoinSet::new();
    for url in &urls {
        set.spawn(one(url.clone(), lifecycle, hold));
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
    println!("{{\"client\":\"rmcp3\",\"servers\":{},\"servers_ok\":{},\"resources\":{}}}", urls.len(), ok, resources);
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
