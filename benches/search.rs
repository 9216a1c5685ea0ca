//! Tool search over the catalogue of `tests/support/tool_catalogue.rs`: 1,000 tools from 20
//! test servers (in-process, gathered once). Measures a warm ranked search (the index already
//! built: what every search after a gather's first costs), the same through
//! `Orchestrator::search_tools` (warm gather included), a regex search, and building the index
//! (the first search of a new catalogue).
//!
//! `cargo bench --bench search --all-features` measures; `cargo test --benches --all-features`
//! runs each once.

#[path = "../tests/support/tool_catalogue.rs"]
mod tool_catalogue;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mcp_orchestrator::ToolQuery;
use mcp_orchestrator::bench_support::build_tool_index;
use tool_catalogue::QUERIES;

fn search(c: &mut Criterion) {
    let (_servers, o) = tool_catalogue::start();
    let g = o.gather_all_resources().unwrap();
    assert_eq!(g.tools.len(), 1000);
    let query = "scale the web deployment to 5 replicas";
    assert_eq!(g.search_tools(query, 10)[0].name, "scale-deployment"); // builds the index
    let mut group = c.benchmark_group("search_1000_tools");
    group.bench_function("ranked_one_query_top10", |b| b.iter(|| black_box(g.search_tools(black_box(query), 10))));
    group.bench_function(format!("ranked_all_{}_queries_top10", QUERIES.len()), |b| {
        b.iter(|| {
            for (q, ..) in QUERIES {
                black_box(g.search_tools(black_box(q), 10));
            }
        })
    });
    group.bench_function("orchestrator_ranked_one_query_top10", |b| {
        b.iter(|| black_box(o.search_tools(black_box(query), 10).unwrap()))
    });
    group.bench_function("regex_top10", |b| {
        b.iter(|| black_box(g.search_tools_matching(ToolQuery::Regex(black_box("(?i)deploy")), 10).unwrap()))
    });
    group.bench_function("index_build", |b| b.iter(|| black_box(build_tool_index(black_box(&g)))));
    group.finish();
    o.close();
}

criterion_group!(benches, search);
criterion_main!(benches);
