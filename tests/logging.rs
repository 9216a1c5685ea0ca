//! Every log record of a call carries that call's operation id.
//! (Its own test binary: it installs a global capturing logger.)

#![cfg(feature = "testing")]

use std::sync::Mutex;
use std::time::Duration;

use mcp_orchestrator::testing::TestServer;
use mcp_orchestrator::{Config, Orchestration, Orchestrator, ServerConfig};

/// (thread, target, message) of every record.
struct Capture(Mutex<Vec<(String, String, String)>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let thread = std::thread::current().name().unwrap_or("?").to_string();
        self.0.lock().unwrap().push((thread, record.target().to_string(), record.args().to_string()));
    }
    fn flush(&self) {}
}

static LOGGER: Capture = Capture(Mutex::new(Vec::new()));

#[test]
fn every_record_of_a_gather_carries_its_op_id_and_headers_are_never_logged() {
    // Trace level: payloads are logged, header values must still never be.
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let a = TestServer::builder().with_sample_resources(3).start().unwrap();
    let b = TestServer::builder().with_sample_resources(2).start().unwrap();
    let mut sa = ServerConfig::sse("alpha", a.url());
    sa.headers.insert("Authorization", "Bearer very-secret-token");
    sa.timeout = Duration::from_secs(10);
    let mut sb = ServerConfig::sse("beta", b.url());
    sb.priority = 2;
    let o = Orchestrator::new(Config::new(vec![sa, sb], Orchestration::default()).unwrap());
    o.initialize().unwrap();

    let connect_records = format!("{:?}", std::mem::take(&mut *LOGGER.0.lock().unwrap()));
    let g = o.gather_all_resources().unwrap();
    let records: Vec<(String, String, String)> = std::mem::take(&mut *LOGGER.0.lock().unwrap());
    // This crate's records of this gather: those logged by the caller and by the pool's threads.
    // (Reader threads log in the session's context, under the connect call's op id; ureq's own
    // records are not ours.)
    let of_gather: Vec<&(String, String, String)> = records
        .iter()
        .filter(|(thread, target, _)| {
            target.starts_with("mcp_orchestrator")
                && !target.starts_with("mcp_orchestrator::testing")
                && !thread.starts_with("mcp-sse:")
        })
        .collect();
    assert!(of_gather.len() >= 4, "{records:#?}");
    for (thread, _, text) in &of_gather {
        assert!(text.contains(&format!("op={}", g.op)), "record on {thread} without the op id: {text}");
    }
    assert!(of_gather.iter().any(|(_, _, t)| t.contains("server=alpha")));
    assert!(of_gather.iter().any(|(_, _, t)| t.contains("server=beta")));
    let all = format!("{:?}", std::mem::take(&mut *LOGGER.0.lock().unwrap()));
    o.close();
    let closing = format!("{:?}", LOGGER.0.lock().unwrap());
    for text in [&connect_records, &all, &closing, &format!("{records:?}")] {
        assert!(!text.contains("very-secret-token"), "a header value was logged");
    }
}
