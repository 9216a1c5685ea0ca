//! What `serve` adds to a routed `tools/call` over stdio: the same call of the same upstream
//! (the `mcp-test-server` binary over stdio, a tool answering a fixed text) made directly with a
//! `Client`, and through `serve_stdio` (in-process, on OS pipes: a host writes one JSON-RPC line
//! and reads the answer's line). Target: the median through serve at most 1 ms above the
//! direct call's.
//!
//! `cargo bench --all-features --bench serve` measures (the medians are in
//! `target/criterion/serve_tools_call/*/new/estimates.json`); `cargo test --benches
//! --all-features` runs each once.

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mcp_orchestrator::serve::{Server, serve_stdio};
use mcp_orchestrator::{Client, Config, Orchestration, Orchestrator, ServerConfig, Transport};
use serde_json::json;

fn upstream() -> ServerConfig {
    let transport = Transport::Stdio {
        command: env!("CARGO_BIN_EXE_mcp-test-server").into(),
        args: ["--tool", "echo=hello"].map(String::from).to_vec(),
        env: Default::default(),
        cwd: None,
    };
    let mut c = ServerConfig::new("up", transport);
    c.timeout = Duration::from_secs(10);
    c
}

/// A host on the far end of `serve_stdio`'s pipes.
struct Host {
    to_serve: std::io::PipeWriter,
    from_serve: BufReader<std::io::PipeReader>,
    line: String,
    next_id: u64,
}

impl Host {
    fn rpc(&mut self, method: &str, params: serde_json::Value) -> String {
        self.next_id += 1;
        let request = json!({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params});
        writeln!(self.to_serve, "{request}").expect("serve reads");
        self.line.clear();
        self.from_serve.read_line(&mut self.line).expect("serve answers");
        std::mem::take(&mut self.line)
    }
}

fn tools_call(c: &mut Criterion) {
    let mut g = c.benchmark_group("serve_tools_call");
    g.sample_size(200).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));

    let client = Client::connect(&upstream()).expect("the upstream starts");
    let direct = client.call_tool("echo", json!({})).expect("the call answers");
    assert!(format!("{direct:?}").contains("hello"), "{direct:?}");
    g.bench_function("direct", |b| b.iter(|| black_box(client.call_tool("echo", json!({})).unwrap())));
    client.close();

    let o = Arc::new(Orchestrator::new(Config::new(vec![upstream()], Orchestration::default()).unwrap()));
    let server = Server::new(Arc::clone(&o));
    o.initialize().expect("the upstream starts");
    let (serve_in, to_serve) = std::io::pipe().unwrap();
    let (from_serve, serve_out) = std::io::pipe().unwrap();
    let serving = thread::spawn(move || serve_stdio(server, BufReader::new(serve_in), serve_out));
    let mut host = Host { to_serve, from_serve: BufReader::new(from_serve), line: String::new(), next_id: 0 };
    let init =
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}});
    assert!(host.rpc("initialize", init).contains("protocolVersion"));
    let call = json!({"name": "echo", "arguments": {}});
    let answer = host.rpc("tools/call", call.clone());
    assert!(answer.contains("hello"), "{answer}");
    g.bench_function("through_serve", |b| b.iter(|| black_box(host.rpc("tools/call", call.clone()))));
    g.finish();

    drop(host);
    serving.join().expect("serve_stdio ends").expect("its output was writable");
    o.close();
}

criterion_group!(benches, tools_call);
criterion_main!(benches);
