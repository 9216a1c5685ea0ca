//! Every log record of a call carries that call's operation id.
//! (Its own test binary: it installs a global capturing logger.)

#![cfg(feature = "testing")]

use std::sync::Mutex;
use std::time::Duration;

use mcp_orchestrator::testing::TestServer;
use mcp_orchestrator::{Config, Orchestration, Orchestrator, ServerConfig};

struct Capture(Mutex<Vec<(String, String)>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let thread = std::thread::current().name().unwrap_or("?").to_string();
        self.0.lock().unwrap().push((thread, record.args().to_string()));
    }
    fn flush(&self) {}
}

static LOGGER: Capture = Capture(Mutex::new(Vec::new()));

#[test]
fn every_record_of_a_gather_carries_its_op_id_and_headers_are_never_logged() {
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

    LOGGER.0.lock().unwrap().clear();
    let g = o.gather_all_resources().unwrap();
    let records: Vec<(String, String)> = std::mem::take(&mut *LOGGER.0.lock().unwrap());
    // Records of this gather: those logged by the caller and by the pool's threads. (Reader
    // threads log in the context of the session, under the connect call's op id.)
    let of_gather: Vec<&(String, String)> =
        records.iter().filter(|(t, _)| !t.starts_with("mcp-sse:")).collect();
    assert!(of_gather.len() >= 4, "{records:#?}");
    for (thread, text) in &of_gather {
        assert!(text.contains(&format!("op={}", g.op)), "record on {thread} without the op id: {text}");
    }
    let per_server: Vec<&&(String, String)> = of_gather.iter().filter(|(_, t)| t.contains("server=")).collect();
    assert!(per_server.iter().any(|(_, t)| t.contains("server=alpha")));
    assert!(per_server.iter().any(|(_, t)| t.contains("server=beta")));
    let all = format!("{:?}", std::mem::take(&mut *LOGGER.0.lock().unwrap()));
    o.close();
    let closing = format!("{:?}", LOGGER.0.lock().unwrap());
    for text in [&all, &closing, &format!("{records:?}")] {
        assert!(!text.contains("very-secret-token"), "a header value was logged");
    }
}
