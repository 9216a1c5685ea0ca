//! The catalogue: a warm merged catalogue of 10 servers × (100 resources, 50 tools, 20 prompts)
//! — the gather's warm path, which should cost about an `Arc` clone — and routing one name
//! (a lookup in the merged view), against the crate's own test servers in-process.
//!
//! `cargo bench --bench catalog` measures; `cargo test --benches --all-features` runs each once.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mcp_orchestrator::testing::{TestServer, text_result};
use mcp_orchestrator::{Config, Naming, Orchestration, Orchestrator, ServerConfig};

const SERVERS: usize = 10;

fn servers() -> Vec<TestServer> {
    (0..SERVERS)
        .map(|s| {
            let mut b = TestServer::builder().name(format!("s{s}")).with_sample_resources(100);
            // Half the tool and prompt names are shared by every server (collisions), half are
            // the server's own.
            for t in 0..50 {
                let name = if t % 2 == 0 { format!("tool_{t}") } else { format!("s{s}_tool_{t}") };
                b = b.simple_tool(&name, "a tool", |_| Ok(text_result("ok")));
            }
            for p in 0..20 {
                let name = if p % 2 == 0 { format!("prompt_{p}") } else { format!("s{s}_prompt_{p}") };
                b = b.prompt(&name, "say {what}");
            }
            b.start().unwrap()
        })
        .collect()
}

fn orchestrator(servers: &[TestServer], naming: Naming) -> Orchestrator {
    let configs = servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut c = ServerConfig::sse(format!("s{i}"), s.url());
            c.priority = i as u32;
            c
        })
        .collect();
    let mut o = Orchestration::default();
    o.naming = naming;
    let o = Orchestrator::new(Config::new(configs, o).unwrap());
    o.initialize().unwrap();
    o
}

fn warm_catalogue(c: &mut Criterion) {
    let servers = servers();
    let mut g = c.benchmark_group("catalog");
    for (label, naming) in [("priority", Naming::Priority), ("prefix_on_collision", Naming::PrefixOnCollision)] {
        let o = orchestrator(&servers, naming);
        let first = o.gather_all_resources().unwrap();
        assert_eq!(first.resources.len(), 100); // the sample URIs are shared: one winner each
        g.bench_function(format!("warm_gather_10x(100r,50t,20p)/{label}"), |b| {
            b.iter(|| black_box(o.gather_all_resources().unwrap()))
        });
        let name = if naming == Naming::Priority { "tool_24" } else { "s7_tool_24" };
        assert!(first.tool(name).is_some(), "{name} routes");
        g.bench_function(format!("route_one_tool/{label}"), |b| {
            b.iter(|| black_box(first.tool(black_box(name)).map(|t| t.server.len())))
        });
        g.bench_function(format!("route_one_uri/{label}"), |b| {
            b.iter(|| black_box(first.route_uri(black_box("test://resource/57")).map(|r| r.server.len())))
        });
        o.close();
    }
    g.finish();
}

criterion_group!(benches, warm_catalogue);
criterion_main!(benches);
