//! Tool search over a realistic catalogue: 1,000 tools from 20 test servers in varied domains
//! and naming styles (`support/tool_catalogue.rs`), gathered by an orchestrator with
//! `prefix_on_collision` naming. Natural-language requests find their tool in the top 3; the
//! regex mode works through the orchestrator and a bad pattern is a clear error; token
//! estimates add up.

#![cfg(feature = "testing")]

#[path = "support/tool_catalogue.rs"]
mod tool_catalogue;

use std::sync::Arc;

use mcp_orchestrator::{ErrorKind, ToolQuery};
use tool_catalogue::{HARD_QUERIES, QUERIES};

#[test]
fn natural_language_requests_find_their_tool_in_the_top_3() {
    let (_servers, o) = tool_catalogue::start();
    let g = o.gather_all_resources().unwrap();
    assert_eq!(g.tools.len(), 1000, "20 servers × 50 tools, every one kept");
    assert!(QUERIES.len() >= 30);

    let mut misses = Vec::new();
    let mut first = 0;
    for &(query, server, original) in QUERIES {
        let hits = g.search_tools(query, 10);
        let rank = hits.iter().position(|h| h.server == server && h.original == original);
        first += usize::from(rank == Some(0));
        if rank.is_none_or(|r| r >= 3) {
            let top: Vec<String> = hits.iter().take(3).map(|h| format!("{} ({:.2})", h.name, h.score)).collect();
            let rank = rank.map_or("not in the top 10".to_string(), |r| format!("rank {}", r + 1));
            misses.push(format!("{query:?}: expected {server}/{original}, {rank}; top 3: {}", top.join(", ")));
        }
    }
    println!("{} queries: {} first, {} in the top 3", QUERIES.len(), first, QUERIES.len() - misses.len());
    for &(query, server, original) in HARD_QUERIES {
        let hits = g.search_tools(query, 10);
        let rank = hits.iter().position(|h| h.server == server && h.original == original);
        println!(
            "hard: {query:?} ({server}/{original}): {}",
            rank.map_or("not in the top 10".into(), |r| format!("rank {}", r + 1))
        );
    }
    assert!(
        misses.is_empty(),
        "{} of {} queries missed the top 3:\n{}",
        misses.len(),
        QUERIES.len(),
        misses.join("\n")
    );
    o.close();
}

#[test]
fn the_orchestrator_searches_its_warm_catalogue_and_regexes_work() {
    let (_servers, o) = tool_catalogue::start();
    let g = o.gather_all_resources().unwrap();
    let hits = o.search_tools("scale the web deployment to 5 replicas", 3).unwrap();
    assert_eq!((hits[0].server.as_str(), hits[0].name.as_str()), ("kubernetes", "scale-deployment"));
    assert!(Arc::ptr_eq(&g, &o.gather_all_resources().unwrap()), "the search used the warm catalogue");

    // Every Datadog tool is named `dd_…`; nothing else is.
    let dd = o.search_tools(ToolQuery::parse("/^dd_/"), 100).unwrap();
    assert_eq!(dd.len(), 50);
    assert!(dd.iter().all(|h| h.server == "monitoring" && h.score == 3.0));
    assert_eq!(o.search_tools(ToolQuery::Regex("^dd_"), 7).unwrap().len(), 7, "the limit holds");
    // Matched in a parameter's name or the description only, ranked below names.
    let hits = o.search_tools(ToolQuery::Regex("(?i)kubeconfig|latitude"), 1000).unwrap();
    assert!(!hits.is_empty() && hits.iter().all(|h| h.score < 3.0));
    let hits = o.search_tools(ToolQuery::Literal("PM2.5"), 10).unwrap();
    assert_eq!(hits.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(), ["getAirQuality"]);

    let e = o.search_tools(ToolQuery::parse("/create_(issue/"), 10).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("`create_(issue` is not a usable regular expression"), "{e}");
    o.close();
}

#[test]
fn token_estimates_are_positive_and_add_up() {
    let (_servers, o) = tool_catalogue::start();
    let g = o.gather_all_resources().unwrap();
    let mut sum = 0;
    for t in &g.tools {
        let n = t.tokens();
        assert!(n > 0, "{}", t.name);
        assert_eq!(g.tool_token_estimate(&t.name), Some(n));
        // What a host sends: the merged name, the title and annotations when there are any.
        let mut sent = serde_json::Map::new();
        sent.insert("name".into(), t.name.clone().into());
        if let Some(title) = &t.item.title {
            sent.insert("title".into(), title.clone().into());
        }
        sent.insert("description".into(), t.item.description.clone().into());
        sent.insert("inputSchema".into(), t.item.input_schema.clone());
        if let Some(a) = &t.item.annotations {
            sent.insert("annotations".into(), a.clone());
        }
        let bytes = serde_json::to_string(&sent).unwrap();
        assert_eq!(n, bytes.len().div_ceil(4), "{}", t.name);
        sum += n;
    }
    assert_eq!(g.tool_tokens(), sum);
    let hit = &g.search_tools("send an email", 1)[0];
    assert_eq!(hit.tokens, g.tool(&hit.name).unwrap().tokens());
    println!("1,000 tool definitions ≈ {sum} tokens");
    o.close();
}
