//! The 2026-07-28 wire's cache hints and change notifications (issue 11), against the crate's
//! test server in modern-only mode, over Streamable HTTP and stdio, on real sockets and
//! processes: a server's `ttlMs` wins over the configured TTL, `ttlMs: 0` is not cached,
//! `private` entries stay with their server's credentials; `subscriptions/listen` runs on its
//! own thread, its notifications invalidate the cache and reach subscribers, a dropped or ended
//! stream is opened again, and close ends it.

#![cfg(feature = "testing")]

#[path = "support/stdio.rs"]
mod stdio;
#[path = "support/wait.rs"]
mod wait;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_orchestrator::testing::{ProtocolMode, TestServer, TestServerBuilder};
use mcp_orchestrator::{Config, Notification, Orchestration, Orchestrator, ServerConfig, Transport};
use wait::eventually;

fn modern(name: &str) -> TestServerBuilder {
    // A tool, so that it has the `tools` capability (and its list changes are listened for).
    TestServer::builder().name(name).protocol_mode(ProtocolMode::ModernOnly).with_sample_resources(2).simple_tool(
        "t",
        "a tool",
        |_| Ok(mcp_orchestrator::testing::text_result("t")),
    )
}

fn http(name: &str, server: &TestServer) -> ServerConfig {
    let _ = env_logger::builder().is_test(true).try_init();
    let mut c = ServerConfig::new(name, Transport::Http { url: server.mcp_url().into() });
    c.timeout = Duration::from_secs(10);
    c
}

fn orchestrator(servers: Vec<ServerConfig>, ttl: Duration) -> Orchestrator {
    let mut o = Orchestration::default();
    o.resource_cache_ttl = ttl;
    let o = Orchestrator::new(Config::new(servers, o).unwrap());
    o.initialize().unwrap();
    o
}

/// The notifications a subscriber saw: (server, method).
fn record(o: &Orchestrator) -> Arc<Mutex<Vec<(String, Notification)>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    o.subscribe(move |server, _op, n| s2.lock().unwrap().push((server.to_string(), n.clone())));
    seen
}

fn saw(seen: &Mutex<Vec<(String, Notification)>>, method: &str) -> usize {
    seen.lock().unwrap().iter().filter(|(_, n)| n.method == method).count()
}

/// Waits until exactly one listen stream is open and the last one opened names the resources
/// read (a gather subscribes to what it read: the first subscription may be replaced); returns
/// how many listen requests the server has seen.
fn listening(server: &TestServer) -> u64 {
    let subscribed = |s: &mcp_orchestrator::testing::Stats| {
        s.open_listens == 1 && s.listen_filters.last().is_some_and(|f| f.get("resourceSubscriptions").is_some())
    };
    assert!(server.wait_until(Duration::from_secs(5), subscribed), "{:?}", server.stats());
    server.stats().count("subscriptions/listen")
}

/// The subscription id a notification carries.
fn subscription_id(n: &Notification) -> Option<String> {
    let meta = n.params.as_ref()?.get("_meta")?;
    meta.get("io.modelcontextprotocol/subscriptionId")?.as_str().map(str::to_string)
}

/// How many threads of this process have this name (Linux: `/proc/self/task/*/comm`, which
/// keeps the first 15 bytes of a name).
#[cfg(target_os = "linux")]
fn threads_named(name: &str) -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

#[test]
fn a_servers_ttl_wins_over_the_configured_one() {
    // The server says 200 ms; the configured TTL is an hour: the entry expires with the server's.
    let short = modern("short").cache_hints(200, "public").start().unwrap();
    let o = orchestrator(vec![http("short", &short)], Duration::from_secs(3600));
    o.gather_all_resources().unwrap();
    o.gather_all_resources().unwrap();
    assert_eq!(short.stats().count("resources/list"), 1, "fresh for 200 ms");
    eventually("the server's TTL ends the entry", || {
        o.gather_all_resources().unwrap();
        short.stats().count("resources/list") == 2
    });
    o.close();

    // The server says an hour; the configured TTL is 1 ms: still served from the cache later.
    let long = modern("long").cache_hints(3_600_000, "public").start().unwrap();
    let o = orchestrator(vec![http("long", &long)], Duration::from_millis(1));
    let first = o.gather_all_resources().unwrap();
    std::thread::sleep(Duration::from_millis(20)); // well past the configured TTL
    let again = o.gather_all_resources().unwrap();
    assert_eq!(long.stats().count("resources/list"), 1);
    assert!(Arc::ptr_eq(&first, &again), "the warm path: the same catalogue");
    assert_eq!(o.cache_stats().entries, 1);
}

#[test]
fn ttl_zero_is_not_cached_and_no_hints_mean_the_configured_ttl() {
    let zero = modern("zero").cache_hints(0, "private").start().unwrap();
    let plain = modern("plain").start().unwrap();
    let o = orchestrator(vec![http("zero", &zero), http("plain", &plain)], Duration::from_secs(3600));
    for _ in 0..3 {
        let g = o.gather_all_resources().unwrap();
        assert_eq!(g.resources.len(), 2, "both servers list the same two URIs; one wins each");
    }
    // `ttlMs: 0`: every gather asks again; no hints: the configured hour.
    assert_eq!(zero.stats().count("resources/list"), 3);
    assert_eq!(zero.stats().count("resources/read"), 6);
    assert_eq!(plain.stats().count("resources/list"), 1);
    let stats = o.cache_stats();
    assert_eq!((stats.not_stored, stats.entries), (3, 1), "{stats:?}");
}

#[test]
fn private_entries_stay_with_their_servers_credentials() {
    // One endpoint, two configured servers with different credentials: each is fetched with its
    // own and served from its own entry, never from the other's.
    let server = modern("private").cache_hints(3_600_000, "private").start().unwrap();
    let mut alice = http("alice", &server);
    alice.headers.insert("Authorization", "Bearer alice-token");
    let mut bob = http("bob", &server);
    bob.headers.insert("Authorization", "Bearer bob-token");
    let o = orchestrator(vec![alice, bob], Duration::from_secs(3600));
    o.gather_all_resources().unwrap();
    o.gather_all_resources().unwrap();
    assert_eq!(server.stats().count("resources/list"), 2, "one fetch per credential, then cached");
    assert_eq!(o.cache_stats().entries, 2);
}

#[test]
fn listen_notifications_invalidate_the_cache_and_reach_subscribers() {
    let server = modern("lsthttp").start().unwrap();
    let o = orchestrator(vec![http("lsthttp", &server)], Duration::from_secs(3600));
    let seen = record(&o);
    o.gather_all_resources().unwrap();
    listening(&server);
    #[cfg(target_os = "linux")]
    assert_eq!(threads_named("mcp-listen:lsth"), 1, "one named listen thread (names are cut at 15 bytes)");
    let listen = server.stats().last_headers["subscriptions/listen"].clone();
    assert_eq!(listen.get("mcp-method").map(String::as_str), Some("subscriptions/listen"));
    assert_eq!(listen.get("mcp-protocol-version").map(String::as_str), Some("2026-07-28"));

    let mut lists = 1;
    for method in [
        "notifications/tools/list_changed",
        "notifications/prompts/list_changed",
        "notifications/resources/list_changed",
    ] {
        assert_eq!(server.notify(method, None), 1, "{method}: sent on the listen stream");
        eventually(&format!("{method} drops the entry"), || o.cache_stats().entries == 0);
        eventually(&format!("{method} reaches the subscriber"), || saw(&seen, method) == 1);
        o.gather_all_resources().unwrap();
        lists += 1;
        assert_eq!(server.stats().count("resources/list"), lists, "{method}: gathered again");
    }
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().all(|(s, _)| s == "lsthttp"));
    assert!(!seen.iter().any(|(_, n)| n.method == "notifications/subscriptions/acknowledged"), "{seen:?}");
    let meta = seen[0].1.params.as_ref().and_then(|p| p.get("_meta")).cloned();
    assert!(meta.is_some_and(|m| m["io.modelcontextprotocol/subscriptionId"].is_string()), "{seen:?}");

    // Close ends the stream and joins the thread.
    o.close();
    assert!(server.wait_until(Duration::from_secs(5), |s| s.open_listens == 0), "close ends the stream");
    #[cfg(target_os = "linux")]
    assert_eq!(threads_named("mcp-listen:lsth"), 0, "the listen thread is joined on close");
}

#[test]
fn a_dropped_or_ended_listen_stream_is_opened_again() {
    let server = modern("lst-again").start().unwrap();
    let o = orchestrator(vec![http("lst-again", &server)], Duration::from_secs(3600));
    o.gather_all_resources().unwrap();
    let n = listening(&server);
    // Dropped without a response: listened for again (after a short back-off).
    assert_eq!(server.close_streams(), 1);
    let ok = server.wait_until(Duration::from_secs(5), |s| s.count("subscriptions/listen") == n + 1);
    assert!(ok && listening(&server) == n + 1, "{:?}", server.stats());
    // Ended gracefully (the response): listened for again too.
    assert_eq!(server.end_listens(), 1);
    let ok = server.wait_until(Duration::from_secs(5), |s| s.count("subscriptions/listen") == n + 2);
    assert!(ok && listening(&server) == n + 2, "{:?}", server.stats());
    // Notifications on the new stream still invalidate.
    server.notify("notifications/resources/list_changed", None);
    eventually("the entry is dropped", || o.cache_stats().entries == 0);
    o.close();
    assert!(server.wait_until(Duration::from_secs(5), |s| s.open_listens == 0));
}

#[test]
fn resources_read_by_a_gather_are_subscribed_to() {
    let server = modern("lst-res").start().unwrap();
    let o = orchestrator(vec![http("lst-res", &server)], Duration::from_secs(3600));
    let seen = record(&o);
    o.gather_all_resources().unwrap();
    // The subscription names what was read (the first one, made at connect, is replaced
    // unless the gather came first).
    let n = listening(&server);
    let filter = server.stats().listen_filters.last().cloned().unwrap();
    assert_eq!(filter["resourceSubscriptions"], serde_json::json!(["test://resource/0", "test://resource/1"]));
    assert_eq!(filter["toolsListChanged"], true);
    // Only URIs subscribed to are sent (the server filters, as the spec says).
    let updated = "notifications/resources/updated";
    assert_eq!(server.notify(updated, Some(serde_json::json!({"uri": "test://elsewhere"}))), 0);
    assert_eq!(server.notify(updated, Some(serde_json::json!({"uri": "test://resource/1"}))), 1);
    eventually("resources/updated drops the entry", || o.cache_stats().entries == 0);
    eventually("and reaches the subscriber", || saw(&seen, updated) == 1);
    // The same URIs again: no new subscription.
    o.gather_all_resources().unwrap();
    assert_eq!(server.stats().count("resources/read"), 4);
    assert_eq!(listening(&server), n);
    o.close();
    assert!(server.wait_until(Duration::from_secs(5), |s| s.open_listens == 0));
}

#[test]
fn a_plain_client_without_a_notification_callback_does_not_listen() {
    let server = modern("quiet").start().unwrap();
    let client = mcp_orchestrator::Client::connect(&http("quiet", &server)).unwrap();
    assert_eq!(client.list_tools().unwrap().len(), 1);
    assert_eq!(server.stats().count("subscriptions/listen"), 0);
    // With one, it does.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let client = mcp_orchestrator::Client::builder(&http("loud", &server))
        .on_notification(move |_, n| s2.lock().unwrap().push(n.method.clone()))
        .connect()
        .unwrap();
    assert!(server.wait_until(Duration::from_secs(5), |s| s.open_listens == 1));
    server.notify("notifications/tools/list_changed", None);
    eventually("the callback sees it", || seen.lock().unwrap().iter().any(|m| m == "notifications/tools/list_changed"));
    client.close();
    assert!(server.wait_until(Duration::from_secs(5), |s| s.open_listens == 0));
}

#[test]
fn an_orchestrator_with_listen_for_changes_off_opens_no_stream() {
    let server = modern("nolisten").start().unwrap();
    let config = Config::builder()
        .server(http("nolisten", &server))
        .listen_for_changes(false)
        .resource_cache_ttl(Duration::from_secs(3600))
        .build()
        .unwrap();
    let o = Orchestrator::new(config);
    o.initialize().unwrap();
    let g = o.gather_all_resources().unwrap();
    assert_eq!(g.resources.len(), 2);
    assert_eq!(server.stats().count("subscriptions/listen"), 0);
    assert_eq!(threads_named("mcp-listen:noli"), 0, "no listen thread (names are cut at 15 bytes)");
    // The same server, the default (on): the orchestrator listens.
    let on = orchestrator(vec![http("nolisten", &server)], Duration::from_secs(3600));
    assert!(server.wait_until(Duration::from_secs(5), |s| s.open_listens == 1), "{:?}", server.stats());
    assert_eq!(threads_named("mcp-listen:noli"), 1);
    on.close();
    o.close();
}

#[test]
fn stdio_listen_and_cache_hints() {
    // The stdio test server acknowledges the listen, then sends a resources/list_changed on it.
    let config = stdio::config("lststdio", &["--protocol", "modern", "--resources", "2", "--notify-after-initialized"]);
    let mut o = Orchestration::default();
    o.resource_cache_ttl = Duration::from_secs(3600);
    let o = Orchestrator::new(Config::new(vec![config], o).unwrap());
    let seen = record(&o);
    o.initialize().unwrap();
    eventually("list_changed arrives through subscriptions/listen", || {
        saw(&seen, "notifications/resources/list_changed") == 1
    });
    let n = seen.lock().unwrap()[0].1.clone();
    assert_eq!(subscription_id(&n).as_deref(), Some("mcp-orchestrator-listen-1"), "{n:?}");
    #[cfg(target_os = "linux")]
    assert_eq!(threads_named("mcp-listen:lsts"), 1);
    // A gather reads the resources: the subscription is cancelled and made again naming them
    // (this server acknowledges each with another list_changed).
    o.gather_all_resources().unwrap();
    eventually("a second subscription", || saw(&seen, "notifications/resources/list_changed") == 2);
    let n = seen.lock().unwrap()[1].1.clone();
    assert_eq!(subscription_id(&n).as_deref(), Some("mcp-orchestrator-listen-2"), "{n:?}");
    o.close();
    #[cfg(target_os = "linux")]
    assert_eq!(threads_named("mcp-listen:lsts"), 0, "joined on close");

    // `ttlMs: 0` over stdio: every gather lists again.
    let config =
        stdio::config("zero-stdio", &["--protocol", "modern", "--resources", "1", "--cache-hints", "0=private"]);
    let o = orchestrator(vec![config], Duration::from_secs(3600));
    o.gather_all_resources().unwrap();
    o.gather_all_resources().unwrap();
    let stats = o.cache_stats();
    assert_eq!((stats.misses, stats.not_stored, stats.entries), (2, 2, 0), "{stats:?}");
}
