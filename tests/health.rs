//! Health checks on both eras: `ping` on handshake-era sessions, `server/discover` on the
//! 2026-07-28 wire (answered from the last discover answer while its `ttlMs` lasts), and what
//! `Orchestrator::status()` says of the last check.

#![cfg(feature = "testing")]

#[path = "support/servers.rs"]
#[macro_use]
mod servers;

use std::time::{Duration, SystemTime};

use mcp_orchestrator::{Config, Error, Orchestration, Orchestrator, ServerConfig, ServerStatus};
use servers::{Kind, sample};

over_every_transport!(a_handshake_era_session_is_checked_with_ping);

fn orchestrator(server: ServerConfig) -> Orchestrator {
    Orchestrator::new(Config::new(vec![server], Orchestration::default()).unwrap())
}

/// The one server's status.
fn only(statuses: Vec<ServerStatus>) -> ServerStatus {
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    statuses.into_iter().next().unwrap()
}

fn a_handshake_era_session_is_checked_with_ping(kind: Kind) {
    let s = sample(1).tool("t", "t").start(kind);
    let o = orchestrator(s.config("s", 1));
    o.initialize().unwrap();
    assert!(only(o.status()).last_check.is_none(), "no check before the first");
    let discovers = s.count("server/discover"); // the connect's protocol probe, if any
    let before = SystemTime::now();
    let status = only(o.check_health());
    only(o.check_health());
    assert_eq!(s.count("ping"), 2);
    assert_eq!(s.count("server/discover"), discovers, "no discover on the handshake era");
    assert!(status.connected);
    let check = status.last_check.expect("a check");
    assert_eq!((check.method, check.from_cache), ("ping", false));
    assert!(check.outcome.is_ok(), "{:?}", check.outcome);
    assert!(check.at >= before && check.at <= SystemTime::now(), "{check:?}");
    let (first, later) = (only(o.status()).last_check.unwrap(), only(o.status()).last_check.unwrap());
    assert_eq!(first.at, later.at, "the same check");
    assert!(later.ago >= first.ago, "how long ago grows: {later:?} after {first:?}");
    o.close();
}

fn modern(kind: Kind, ttl_ms: Option<u64>) -> (servers::Srv, Orchestrator) {
    let s = sample(1).tool("t", "t").modern(ttl_ms).start(kind);
    let o = orchestrator(s.config("s", 1));
    o.initialize().unwrap();
    assert_eq!(o.status()[0].protocol_version.as_deref(), Some("2026-07-28"));
    (s, o)
}

fn a_modern_session_within_its_ttl_is_answered_from_the_discover_answer(kind: Kind) {
    let (s, o) = modern(kind, Some(3_600_000));
    let discovers = s.count("server/discover");
    assert!(discovers >= 1, "the connect discovered");
    only(o.check_health());
    let status = only(o.check_health());
    assert_eq!(s.count("server/discover"), discovers, "no probe before ttlMs elapsed");
    assert_eq!(s.count("ping"), 0, "no ping on 2026-07-28");
    let check = status.last_check.expect("a check");
    assert_eq!((check.method, check.from_cache), ("server/discover", true));
    assert_eq!(check.outcome.unwrap(), Duration::ZERO);
    o.close();
}

fn a_modern_session_without_a_ttl_is_probed_with_discover_each_time(kind: Kind) {
    let (s, o) = modern(kind, None); // the test server's discover says ttlMs 0
    let discovers = s.count("server/discover");
    only(o.check_health());
    let status = only(o.check_health());
    assert_eq!(s.count("server/discover"), discovers + 2);
    assert_eq!(s.count("ping"), 0, "no ping on 2026-07-28");
    let check = status.last_check.expect("a check");
    assert_eq!((check.method, check.from_cache), ("server/discover", false));
    assert!(check.outcome.is_ok(), "{:?}", check.outcome);
    o.close();
}

mod modern_streamable_http {
    #[test]
    fn a_modern_session_within_its_ttl_is_answered_from_the_discover_answer() {
        super::a_modern_session_within_its_ttl_is_answered_from_the_discover_answer(super::Kind::StreamableHttp)
    }
    #[test]
    fn a_modern_session_without_a_ttl_is_probed_with_discover_each_time() {
        super::a_modern_session_without_a_ttl_is_probed_with_discover_each_time(super::Kind::StreamableHttp)
    }
}

mod modern_stdio {
    #[test]
    fn a_modern_session_within_its_ttl_is_answered_from_the_discover_answer() {
        super::a_modern_session_within_its_ttl_is_answered_from_the_discover_answer(super::Kind::Stdio)
    }
    #[test]
    fn a_modern_session_without_a_ttl_is_probed_with_discover_each_time() {
        super::a_modern_session_without_a_ttl_is_probed_with_discover_each_time(super::Kind::Stdio)
    }
}

#[test]
fn a_failed_check_is_reported_with_its_error() {
    let s = sample(0).tool("t", "t").start(Kind::StreamableHttp);
    let o = orchestrator(s.config("s", 1));
    o.initialize().unwrap();
    s.kill();
    let check = only(o.check_health()).last_check.expect("a check");
    assert_eq!(check.method, "ping");
    let err = check.outcome.unwrap_err();
    assert_eq!((err.server(), err.method()), (Some("s"), Some("ping")), "{err}");
    assert!(!matches!(err, Error::Config { .. }));
    o.close();
}
