//! What detection tells the person who wrote the config (issue 11): a server configured
//! `transport: sse` whose URL answers the GET with 400/404/405 but speaks Streamable HTTP is
//! reached anyway, with a warning that says which transport to configure. (Its own test binary:
//! it installs a global capturing logger.)

#![cfg(feature = "testing")]

use std::time::Duration;

#[path = "support/capture_log.rs"]
mod capture_log;

use mcp_orchestrator::testing::{ProtocolMode, TestServer};
use mcp_orchestrator::{Client, OpId, ServerConfig, Transport};

/// The warnings logged while `f` ran.
fn warnings_of<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    capture_log::install();
    capture_log::take();
    let out = f();
    let records = capture_log::take();
    (out, records.into_iter().filter(|(l, _)| *l == log::Level::Warn).map(|(_, m)| m).collect())
}

fn sse(name: &str, url: &str) -> ServerConfig {
    let mut c = ServerConfig::new(name, Transport::Sse { url: url.into() });
    c.timeout = Duration::from_secs(10);
    c
}

// One test: the logger is global, and tests of one binary run in parallel.
#[test]
fn an_sse_url_that_serves_streamable_http_is_reached_with_a_warning_naming_the_transport() {
    for (mode, version) in [(ProtocolMode::ModernOnly, "2026-07-28"), (ProtocolMode::HandshakeOnly, "2025-11-25")] {
        let server = TestServer::builder().protocol_mode(mode).with_sample_resources(2).start().unwrap();
        // `GET /mcp` answers 405: not an event stream.
        let op = OpId::new();
        let (client, warnings) =
            warnings_of(|| Client::builder(&sse("misconfigured", server.mcp_url())).op(op.clone()).connect().unwrap());
        assert_eq!((client.protocol_version(), client.transport()), (version, "streamable_http"));
        assert_eq!(client.list_resources().unwrap().len(), 2);
        client.close();
        let advice: Vec<&String> = warnings.iter().filter(|w| w.contains("configure `transport: http`")).collect();
        assert_eq!(advice.len(), 1, "{mode:?}: {warnings:?}");
        let advice = advice[0];
        for says in [&format!("op={op}"), "server=misconfigured", "Streamable HTTP", version, "legacy HTTP+SSE"] {
            assert!(advice.contains(says), "{advice:?} does not say {says:?}");
        }
    }

    // A real legacy SSE endpoint: no warning.
    let legacy = TestServer::builder().with_sample_resources(1).start().unwrap();
    let (client, warnings) = warnings_of(|| Client::connect(&sse("right", legacy.url())).unwrap());
    assert_eq!(client.transport(), "sse");
    client.close();
    assert!(warnings.iter().all(|w| !w.contains("configure")), "{warnings:?}");
}
