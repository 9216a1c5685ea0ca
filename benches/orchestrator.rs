//! The criterion suite: the SSE parser, JSON-RPC decoding, config parsing, warm and cold
//! gathers against the crate's own test servers in-process, and 100 reads of a server whose
//! every read takes 5 ms, over each transport (target: about one read's time, <= 25 ms, not
//! 100 x 5 ms; the stdio server is the `mcp-test-server` binary).
//!
//! `cargo bench --all-features` measures; `cargo test --benches --all-features` runs each once.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mcp_orchestrator::bench_support::{decode_resources_list, parse_sse};
use mcp_orchestrator::testing::{Fault, TestServer};
use mcp_orchestrator::{Client, Config, Orchestration, Orchestrator, ServerConfig, Transport};
use serde_json::json;

/// A stream like a busy legacy-SSE session: an endpoint, many small messages, keep-alive
/// comments, and a few large results. CRLF line ends, as sse-starlette writes them.
fn realistic_stream() -> Vec<u8> {
    let mut s = String::from("event: endpoint\r\ndata: /messages/?session_id=0123456789abcdef\r\n\r\n");
    for i in 0..2000 {
        s.push_str(&format!(
            "event: message\r\ndata: {{\"jsonrpc\":\"2.0\",\"id\":{i},\"result\":{{\"contents\":[{{\"uri\":\"test://resource/{i}\",\"mimeType\":\"text/plain\",\"text\":\"content of resource {i}\"}}]}}}}\r\n\r\n"
        ));
        if i % 100 == 0 {
            s.push_str(": ping - 2026-11-25 06:00:00.000000+00:00\r\n\r\n");
        }
        if i % 500 == 0 {
            s.push_str(&format!("event: message\r\ndata: {}\r\n\r\n", resources_list_response(i, 300)));
        }
    }
    s.into_bytes()
}

fn resources_list_response(id: usize, n: usize) -> String {
    let resources: Vec<_> = (0..n)
        .map(|i| {
            json!({
                "uri": format!("test://resource/{i}"),
                "name": format!("resource-{i}"),
                "title": format!("Resource {i}"),
                "description": format!("The {i}th test resource, with a description of some length."),
                "mimeType": "text/plain",
                "size": 20 + i,
                "annotations": {"audience": ["user"], "priority": 0.5}
            })
        })
        .collect();
    json!({"jsonrpc": "2.0", "id": id, "result": {"resources": resources, "nextCursor": null}}).to_string()
}

fn parser(c: &mut Criterion) {
    let stream = realistic_stream();
    let mut g = c.benchmark_group("sse_parse");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    for chunk in [1024, 16 * 1024] {
        g.bench_with_input(BenchmarkId::new("chunk", chunk), &chunk, |b, &chunk| {
            b.iter(|| black_box(parse_sse(black_box(&stream), chunk)))
        });
    }
    g.finish();
}

fn decode(c: &mut Criterion) {
    let text = resources_list_response(7, 100);
    assert_eq!(decode_resources_list(&text), 100);
    let mut g = c.benchmark_group("jsonrpc_decode");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("resources_list_100", |b| b.iter(|| black_box(decode_resources_list(black_box(&text)))));
    g.finish();
}

fn config_yaml(n: usize) -> String {
    let mut s = String::from("mcp_servers:\n");
    for i in 0..n {
        s.push_str(&format!(
            "  server_{i}:\n    url: \"http://127.0.0.1:{}/sse\"\n    priority: {i}\n    domains: [\"d{i}\", \"shared\"]\n    capabilities: [\"list_resources\"]\n    transport: \"sse\"\n    timeout: 10\n    headers:\n      X-Tenant: \"t{i}\"\n",
            8000 + i
        ));
    }
    s.push_str("orchestration:\n  resource_cache_ttl: 300\n  fail_fast: true\n  log_level: \"INFO\"\n");
    s
}

fn config(c: &mut Criterion) {
    let yaml = config_yaml(50);
    assert_eq!(Config::from_yaml_str(&yaml).unwrap().servers.len(), 50);
    c.bench_function("config_parse_50_servers", |b| b.iter(|| black_box(Config::from_yaml_str(black_box(&yaml)))));
}

fn servers(n: usize, resources: usize) -> Vec<TestServer> {
    (0..n).map(|_| TestServer::builder().with_sample_resources(resources).start().unwrap()).collect()
}

fn orchestrator_for(servers: &[TestServer], read_contents: bool) -> Orchestrator {
    let configs = servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut c = ServerConfig::sse(format!("s{i}"), s.url());
            c.priority = i as u32;
            c.read_contents = read_contents;
            c
        })
        .collect();
    Orchestrator::new(Config::new(configs, Orchestration::default()).unwrap())
}

fn warm_gather(c: &mut Criterion) {
    let servers = servers(10, 100);
    let o = orchestrator_for(&servers, true);
    o.initialize().unwrap();
    assert_eq!(o.gather_all_resources().unwrap().resources.len(), 100);
    c.bench_function("warm_gather_10x100", |b| b.iter(|| black_box(o.gather_all_resources().unwrap())));
    o.close();
}

fn cold(c: &mut Criterion) {
    let mut g = c.benchmark_group("cold_initialize_gather");
    g.sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    for n in [1, 10, 50] {
        let servers = servers(n, 100);
        g.bench_with_input(BenchmarkId::new("servers_x100_list_only", n), &n, |b, _| {
            b.iter(|| {
                let o = orchestrator_for(&servers, false);
                o.initialize().unwrap();
                let g = o.gather_all_resources().unwrap();
                assert_eq!(g.servers.len(), n);
                o.close();
            })
        });
    }
    g.finish();
}

/// 100 `resources/read` of one server that answers each after 5 ms, concurrently
/// (`Fault::Delay`; the test server answers each on its own thread, or its own connection over
/// Streamable HTTP).
fn reads(c: &mut Criterion) {
    const READS: usize = 100;
    let delay = Duration::from_millis(5);
    let server = TestServer::builder()
        .with_sample_resources(READS)
        .fault(Fault::Delay("resources/read".into(), delay))
        .start()
        .unwrap();
    let stdio = Transport::Stdio {
        command: env!("CARGO_BIN_EXE_mcp-test-server").into(),
        args: ["--resources", "100", "--delay", "resources/read=5"].map(String::from).to_vec(),
        env: Default::default(),
        cwd: None,
    };
    let uris: Vec<String> = (0..READS).map(|i| format!("test://resource/{i}")).collect();
    let uris: Vec<&str> = uris.iter().map(String::as_str).collect();
    let mut g = c.benchmark_group("read_100_at_5ms");
    g.sample_size(20).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    for (name, transport) in [
        ("sse", Transport::Sse { url: server.url().into() }),
        ("streamable_http", Transport::StreamableHttp { url: server.mcp_url().into() }),
        ("stdio", stdio),
    ] {
        let client = Client::connect(&ServerConfig::new("reads", transport)).unwrap();
        assert!(client.read_resources(&uris).iter().all(Result::is_ok), "{name}: every read answers");
        g.bench_function(name, |b| b.iter(|| black_box(client.read_resources(black_box(&uris)))));
        client.close();
    }
    g.finish();
}

criterion_group!(benches, parser, decode, config, warm_gather, cold, reads);
criterion_main!(benches);
