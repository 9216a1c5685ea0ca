//! Measures connect + handshake + the full resource listing against one server, several times,
//! and prints the median (and min/max): the figure quoted for the SSE client.
//!
//! ```sh
//! .venv-interop/bin/python tests/interop/server.py --transport sse --resources 100   # prints LISTENING <port>
//! cargo run --release --example handshake_list -- http://127.0.0.1:<port>/sse 21
//! ```

use std::time::{Duration, Instant};

use mcp_orchestrator::{Client, ServerConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: handshake_list SSE_URL [RUNS]")?;
    let runs: usize = args.next().map_or(Ok(11), |r| r.parse())?;
    let mut connect = Vec::new();
    let mut list = Vec::new();
    let mut count = 0;
    for _ in 0..runs.max(1) {
        let t0 = Instant::now();
        let client = Client::connect(&ServerConfig::sse("bench", url.as_str()))?;
        let t1 = Instant::now();
        count = client.list_resources()?.len();
        let t2 = Instant::now();
        client.close();
        connect.push(t1 - t0);
        list.push(t2 - t1);
    }
    let report = |name: &str, v: &mut Vec<Duration>| {
        v.sort();
        println!("{name:<22} median {:>9.3?}  min {:>9.3?}  max {:>9.3?}", v[v.len() / 2], v[0], v[v.len() - 1]);
    };
    // Each run's total, paired before the sorts below.
    let mut total: Vec<Duration> = connect.iter().zip(&list).map(|(a, b)| *a + *b).collect();
    println!("{count} resources, {} runs", connect.len());
    report("connect + handshake", &mut connect);
    report("list (all pages)", &mut list);
    report("total", &mut total);
    Ok(())
}
