//! The YAML loader and [`Config::new`], end to end: what a document yields, every problem's
//! message, line and column, and that whatever the loader accepts, `Config::new` accepts too.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::error::{Error, Result};

/// The environment the tests see: no test touches the process environment.
fn env(name: &str) -> Option<String> {
    match name {
        "TOKEN" => Some("s3cret-token".into()),
        "HOST" => Some("db.example.com".into()),
        "HOME" => Some("/home/me".into()),
        "NEWLINE" => Some("a\r\nInjected: yes".into()),
        _ => None,
    }
}

fn doc(lines: &[&str]) -> String {
    lines.join("\n") + "\n"
}

fn parse(lines: &[&str]) -> Result<Config> {
    let parsed = Config::from_yaml_str_with_env(&doc(lines), env);
    if let Ok(config) = &parsed {
        // The two ways of building a Config agree: what the loader accepts, `new` accepts.
        let again = Config::new(config.servers.clone(), config.orchestration.clone());
        assert_eq!(again.as_ref().ok(), Some(config), "{again:?}");
    }
    parsed
}

/// The error's message, line and column.
fn fail(lines: &[&str]) -> (String, Option<usize>, Option<usize>) {
    match parse(lines) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(Error::Config { message, line, column, .. }) => (message, line, column),
        Err(other) => panic!("expected a config error, got {other:?}"),
    }
}

fn assert_fail(lines: &[&str], message: &str, line: usize, column: usize) {
    let (m, l, c) = fail(lines);
    assert_eq!((m.as_str(), l, c), (message, Some(line), Some(column)), "document:\n{}", doc(lines));
}

const SERVER_KEYS: &str = "name, url, priority, domains, capabilities, transport, timeout, tool_timeout, headers, enabled, \
                           read_contents, max_listing_bytes, max_listing_items, protocol, tools, prompts, command, args, \
                           env, cwd, auth, log_level";

#[test]
fn the_shipped_config_parses() {
    let config = Config::from_yaml_str_with_env(include_str!("../../mcp_config.yaml"), env).unwrap();
    let names: Vec<&str> = config.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["product_metadata_mcp", "database_mcp"]);
    let db = config.server("database_mcp").unwrap();
    assert_eq!(db.transport, Transport::Sse { url: "http://localhost:8000/sse".into() });
    assert_eq!(db.priority, 10);
    assert_eq!(db.domains, ["sales", "orders"]);
    assert_eq!(db.capabilities, ["execute_query", "list_resources"]);
    assert_eq!(db.timeout, DEFAULT_TIMEOUT);
    let products = config.server("product_metadata_mcp").unwrap();
    assert_eq!(products.transport, Transport::Sse { url: "http://localhost:8002/sse".into() });
    assert_eq!(products.priority, 1);
    let o = &config.orchestration;
    assert_eq!(o.resource_cache_ttl, Duration::from_secs(300));
    assert!(o.fail_fast);
    assert_eq!(o.log_level, Some(log::LevelFilter::Debug));
    assert_eq!(o.max_concurrent_connections, DEFAULT_MAX_CONCURRENT_CONNECTIONS);
    assert_eq!(o.cache_max_bytes, DEFAULT_CACHE_MAX_BYTES);
    assert_eq!(o.request_timeout, DEFAULT_TIMEOUT);
}

#[test]
fn from_path_reads_a_file_and_names_it_in_errors() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("mcp_config.yaml");
    // The shipped file uses no ${VAR}, so the process environment does not matter.
    assert_eq!(Config::from_path(&path).unwrap().servers.len(), 2);

    let missing = Path::new(env!("CARGO_MANIFEST_DIR")).join("no-such-config.yaml");
    let e = Config::from_path(&missing).unwrap_err();
    let Error::Config { message, line: None, column: None, .. } = &e else { panic!("{e:?}") };
    assert!(message.starts_with(&format!("cannot read `{}`: ", missing.display())), "{message}");
}

#[test]
fn defaults() {
    let config = parse(&[
        "mcp_servers:",
        "  db:",
        "    url: http://localhost:8000/sse",
        "    priority: 0",
        "    transport: sse",
    ])
    .unwrap();
    let db = &config.servers[0];
    assert_eq!(db.name, "db");
    assert!(db.domains.is_empty() && db.capabilities.is_empty() && db.headers.is_empty());
    assert_eq!(db.timeout, Duration::from_secs(30));
    assert!(db.enabled && db.read_contents);
    assert_eq!(config.orchestration, Orchestration::default());
    assert_eq!(config.orchestration.resource_cache_ttl, Duration::from_secs(300));
    assert!(config.orchestration.fail_fast);
    assert_eq!(config.orchestration.log_level, None);
    assert_eq!(config.orchestration.cache_max_bytes, 100 * 1024 * 1024);
    assert_eq!(config.orchestration.max_concurrent_connections, 10);
    assert_eq!((db.max_listing_bytes, db.max_listing_items), (64 * 1024 * 1024, 100_000));
}

#[test]
fn every_optional_key() {
    let config = parse(&[
        "orchestration:",
        "  resource_cache_ttl: 2.5",
        "  fail_fast: false",
        "  log_level: warning",
        "  max_concurrent_connections: 3",
        "  cache_max_bytes: 1024",
        "  request_timeout: 7",
        "  max_listing_bytes: 5000",
        "  max_listing_items: 50",
        "mcp_servers:",
        "  a:",
        "    url: https://[::1]:8443/mcp",
        "    priority: 2",
        "    transport: streamable_http",
        "    timeout: 0.25",
        "    headers: {X-Api-Key: k}",
        "    enabled: false",
        "    read_contents: false",
        "    max_listing_bytes: 100",
        "    max_listing_items: 3",
        "  b:",
        "    url: http://user@localhost/sse",
        "    priority: 2",
        "    transport: sse",
    ])
    .unwrap();
    let o = &config.orchestration;
    assert_eq!(o.resource_cache_ttl, Duration::from_millis(2500));
    assert!(!o.fail_fast);
    assert_eq!(o.log_level, Some(log::LevelFilter::Warn));
    assert_eq!((o.max_concurrent_connections, o.cache_max_bytes), (3, 1024));
    assert_eq!(o.request_timeout, Duration::from_secs(7));
    let a = config.server("a").unwrap();
    assert_eq!(a.transport, Transport::StreamableHttp { url: "https://[::1]:8443/mcp".into() });
    assert_eq!(a.timeout, Duration::from_millis(250));
    assert_eq!(a.headers.iter().collect::<Vec<_>>(), [("X-Api-Key", "k")]);
    assert!(!a.enabled && !a.read_contents);
    // Without its own `timeout`, a server gets `request_timeout` (even when declared later).
    assert_eq!(config.server("b").unwrap().timeout, Duration::from_secs(7));
    // The listing budget: a server's own keys win over the orchestration's defaults.
    assert_eq!((a.max_listing_bytes, a.max_listing_items), (100, 3));
    let b = config.server("b").unwrap();
    assert_eq!((b.max_listing_bytes, b.max_listing_items), (5000, 50));
    assert_eq!(config.enabled_servers().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["b"]);
}

#[test]
fn log_levels_are_case_insensitive() {
    for (text, level) in [
        ("TRACE", log::LevelFilter::Trace),
        ("debug", log::LevelFilter::Debug),
        ("Info", log::LevelFilter::Info),
        ("WARN", log::LevelFilter::Warn),
        ("Warning", log::LevelFilter::Warn),
        ("error", log::LevelFilter::Error),
        ("off", log::LevelFilter::Off),
    ] {
        let line = format!("  log_level: {text}");
        let config =
            parse(&["mcp_servers:", "  a: {url: 'http://h', priority: 1, transport: sse}", "orchestration:", &line])
                .unwrap();
        assert_eq!(config.orchestration.log_level, Some(level), "{text}");
    }
}

#[test]
fn a_servers_log_level_is_an_mcp_level() {
    use crate::protocol::LoggingLevel;
    let config = parse(&["mcp_servers:", "  a: {url: 'http://h', priority: 1, transport: sse, log_level: WARNING}"]);
    assert_eq!(config.unwrap().servers[0].log_level, Some(LoggingLevel::Warning));
    let config = parse(&["mcp_servers:", "  a: {url: 'http://h', priority: 1, transport: sse}"]).unwrap();
    assert_eq!(config.servers[0].log_level, None);
    let e =
        parse(&["mcp_servers:", "  a: {url: 'http://h', priority: 1, transport: sse, log_level: warn}"]).unwrap_err();
    assert!(e.to_string().contains("server `a`: unknown `log_level` `warn` (valid, in any case: debug, info"), "{e}");
    let json = r#"{"mcpServers": {"a": {"url": "http://h", "logLevel": "critical"}}}"#;
    assert_eq!(Config::from_str_with_env(json, |_| None).unwrap().servers[0].log_level, Some(LoggingLevel::Critical));
    let json = r#"{"mcpServers": {"a": {"url": "http://h", "logLevel": "loud"}}}"#;
    let e = Config::from_str_with_env(json, |_| None).unwrap_err();
    assert!(e.to_string().contains("unknown `logLevel` `loud`"), "{e}");
}

#[test]
fn stdio_servers() {
    let config = parse(&[
        "mcp_servers:",
        "  files:",
        "    transport: stdio",
        "    priority: 5",
        "    command: python",
        "    args: [\"-m\", files_mcp, \"${HOME}/data\"]",
        "    env:",
        "      TOKEN: \"Bearer ${TOKEN}\"",
        "      PLAIN: 1",
        "    cwd: ${HOME}/srv",
    ])
    .unwrap();
    let files = &config.servers[0];
    let Transport::Stdio { command, args, env, cwd } = &files.transport else { panic!("{files:?}") };
    assert_eq!(command, "python");
    assert_eq!(args, &["-m", "files_mcp", "/home/me/data"]);
    assert_eq!(env.get("TOKEN").map(String::as_str), Some("Bearer s3cret-token"));
    assert_eq!(env.get("PLAIN").map(String::as_str), Some("1"));
    assert_eq!(cwd.as_deref(), Some(Path::new("/home/me/srv")));
    assert_eq!(files.transport.kind(), "stdio");
}

#[test]
fn env_expansion() {
    let config = parse(&[
        "mcp_servers:",
        "  db:",
        "    url: http://${HOST}:8000/sse",
        "    priority: 1",
        "    transport: sse",
        "    headers:",
        "      Authorization: \"Bearer ${TOKEN}\"",
        "      X-Literal: \"$${TOKEN} costs $5\"",
    ])
    .unwrap();
    let db = &config.servers[0];
    assert_eq!(db.transport, Transport::Sse { url: "http://db.example.com:8000/sse".into() });
    let headers: Vec<_> = db.headers.iter().collect();
    assert_eq!(headers, [("Authorization", "Bearer s3cret-token"), ("X-Literal", "${TOKEN} costs $5")]);
}

#[test]
fn unset_variable_names_the_variable_the_key_and_the_line() {
    assert_fail(
        &[
            "mcp_servers:",
            "  db:",
            "    url: http://localhost/sse",
            "    priority: 1",
            "    transport: sse",
            "    headers:",
            "      Authorization: \"Bearer ${MISSING_TOKEN}\"",
        ],
        "server `db`: environment variable `MISSING_TOKEN` (used in `headers.Authorization`) is not set",
        7,
        22,
    );
    assert_fail(
        &["mcp_servers:", "  db:", "    url: http://${NOPE}/sse", "    priority: 1", "    transport: sse"],
        "server `db`: environment variable `NOPE` (used in `url`) is not set",
        3,
        10,
    );
    assert_fail(
        &[
            "mcp_servers:",
            "  p:",
            "    transport: stdio",
            "    priority: 1",
            "    command: run",
            "    args: [a, '${X']",
        ],
        "server `p`: `${` without a closing `}` in `args[1]` (write `$${` for a literal `${`)",
        6,
        15,
    );
    assert_fail(
        &["mcp_servers:", "  p:", "    transport: stdio", "    priority: 1", "    command: run", "    cwd: ${1X}"],
        "server `p`: invalid variable name `1X` in `${…}` of `cwd`",
        6,
        10,
    );
}

#[test]
fn header_values_never_appear_in_debug_or_errors() {
    let config = parse(&[
        "mcp_servers:",
        "  db:",
        "    url: http://localhost/sse",
        "    priority: 1",
        "    transport: sse",
        "    headers: {Authorization: \"Bearer ${TOKEN}\", X-Other: \"plain-secret\"}",
    ])
    .unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("s3cret") && !debug.contains("plain-secret"), "{debug}");
    assert!(debug.contains("\"Authorization\": \"<redacted>\""), "{debug}");

    // A header value that expands to a line break: the error names the header, not the value.
    let (message, line, column) = fail(&[
        "mcp_servers:",
        "  db:",
        "    url: http://localhost/sse",
        "    priority: 1",
        "    transport: sse",
        "    headers: {X-Injected: \"${NEWLINE}\", Authorization: \"Bearer ${TOKEN}\"}",
    ]);
    assert_eq!(message, "server `db`: the value of header `X-Injected` contains a line break or control character");
    assert_eq!((line, column), (Some(6), Some(27)));
    assert!(!message.contains("Injected: yes") && !message.contains("s3cret"));
}

#[test]
fn unknown_keys_are_named_with_the_allowed_ones() {
    assert_fail(
        &["mcp_servers:", "  db:", "    url: http://localhost/sse", "    priority: 1", "    transportt: sse"],
        "server `db`: missing required key `transport` (one of http, sse, streamable_http, streamable-http, stdio)",
        2,
        3,
    );
    // The unknown key is reported, and so is the missing one it was probably meant to be.
    let e =
        parse(&["mcp_servers:", "  db:", "    urll: http://localhost/sse", "    priority: 1", "    transport: sse"])
            .unwrap_err();
    let problems: Vec<String> = e.config_problems().iter().map(|p| p.to_string()).collect();
    assert_eq!(
        problems,
        [
            "config: server `db`: missing required key `url` (transport `sse` needs one) at line 2 column 3\n   2 |   db:\n     |   ^".to_owned(),
            format!("config: server `db`: unknown key `urll` (allowed: {SERVER_KEYS}) at line 3 column 5\n   3 |     urll: http://localhost/sse\n     |     ^"),
        ]
    );
    assert_fail(
        &["mcp_servers:", "  a: {url: 'http://h', priority: 1, transport: sse}", "orchestration:", "  ttl: 5"],
        "orchestration: unknown key `ttl` (allowed: resource_cache_ttl, fail_fast, log_level, \
         max_concurrent_connections, cache_max_bytes, request_timeout, max_listing_bytes, max_listing_items, enable_logging, naming, \
         separator, max_retries, backoff_min, backoff_max, serve_stale, listen_for_changes)",
        4,
        3,
    );
    assert_fail(
        &["# comment", "mcp_server:", "  a: {}"],
        "unknown top-level key `mcp_server` (allowed: mcp_servers, orchestration)",
        2,
        1,
    );
}

#[test]
fn several_problems_at_once() {
    let e = parse(&[
        "mcp_servers:",
        "  db:",
        "    url: http://localhost/sse",
        "    priority: high",
        "    transport: sse",
        "    colour: blue",
        "  other:",
        "    url: http://localhost/sse",
        "    priority: 1",
        "    transport: sse",
        "    timeout: soon",
        "  third: {url: 'ftp://h', priority: 1, transport: sse}",
        "orchestration:",
        "  fail_fast: perhaps",
    ])
    .unwrap_err();
    let problems: Vec<(String, Option<usize>)> = e
        .config_problems()
        .iter()
        .map(|p| match p {
            Error::Config { message, line, .. } => (message.clone(), *line),
            other => panic!("{other:?}"),
        })
        .collect();
    let expected = [
        ("server `db`: `priority`: invalid value: expected an integer", 4),
        (&*format!("server `db`: unknown key `colour` (allowed: {SERVER_KEYS})"), 6),
        ("server `other`: `timeout`: invalid value: expected a number", 11),
        ("server `third`: `url` `ftp://h` has scheme `ftp`: only http and https are supported", 12),
        ("orchestration: `fail_fast`: invalid value: expected true or false", 14),
    ];
    assert_eq!(problems, expected.map(|(m, l)| (m.to_owned(), Some(l))));
}

#[test]
fn missing_required_keys() {
    assert_fail(
        &["mcp_servers:", "  db:", "    url: http://localhost/sse", "    transport: sse"],
        "server `db`: missing required key `priority` (an integer >= 0; lower is preferred)",
        2,
        3,
    );
    assert_fail(
        &["mcp_servers:", "  db:", "    url: http://localhost/sse", "    priority: 1"],
        "server `db`: missing required key `transport` (one of http, sse, streamable_http, streamable-http, stdio)",
        2,
        3,
    );
    assert_fail(
        &["mcp_servers:", "  db:", "    priority: 1", "    transport: streamable_http"],
        "server `db`: missing required key `url` (transport `streamable_http` needs one)",
        2,
        3,
    );
    assert_fail(
        &["mcp_servers:", "  p: {priority: 1, transport: stdio}"],
        "server `p`: missing required key `command` (transport `stdio` needs one)",
        2,
        3,
    );
    assert_fail(&["orchestration:", "  fail_fast: true"], "missing required top-level key `mcp_servers`", 1, 1);
    let (message, line, column) = fail(&["# nothing here"]);
    assert_eq!(
        (message.as_str(), line, column),
        ("missing required top-level key `mcp_servers` (the document is empty)", None, None)
    );
}

#[test]
fn bad_urls_point_at_the_url() {
    let cases = [
        ("ftp://localhost/x", "has scheme `ftp`: only http and https are supported"),
        ("localhost:8000/sse", "is not an http or https URL (expected `http://host[:port]/path`)"),
        ("http:///sse", "has no host"),
        ("http://:8000/sse", "has no host"),
        ("http://localhost:80a0/sse", "has an invalid port `80a0` (expected a number from 1 to 65535)"),
        ("http://localhost:99999/sse", "has an invalid port `99999` (expected a number from 1 to 65535)"),
        ("http://local host/sse", "contains whitespace or a control character"),
        ("http://[::1/sse", "has an unclosed `[` in its host"),
    ];
    for (url, why) in cases {
        let line = format!("    url: \"{url}\"");
        assert_fail(
            &["mcp_servers:", "  db:", "    priority: 1", "    transport: sse", &line],
            &format!("server `db`: `url` `{url}` {why}"),
            5,
            10,
        );
    }
    // Credentials in the URL are not echoed.
    assert_fail(
        &["mcp_servers:", "  db:", "    priority: 1", "    transport: sse", "    url: http://me:pw@:80/sse"],
        "server `db`: `url` `http://***@:80/sse` has no host",
        5,
        10,
    );
    // After expansion, the message shows the URL as written, not the variable's value.
    assert_fail(
        &["mcp_servers:", "  db:", "    priority: 1", "    transport: sse", "    url: ftp://${HOST}/"],
        "server `db`: `url` `ftp://${HOST}/` (after expanding variables) has scheme `ftp`: only http and https \
         are supported",
        5,
        10,
    );
}

#[test]
fn unknown_transport_lists_the_valid_ones() {
    assert_fail(
        &["mcp_servers:", "  db:", "    url: http://localhost/sse", "    priority: 1", "    transport: websocket"],
        "server `db`: unknown transport `websocket` (valid: http, sse, streamable_http, streamable-http, stdio)",
        5,
        16,
    );
}

#[test]
fn protocol_and_the_detecting_transport() {
    let config = Config::from_yaml_str_with_env(
        &doc(&[
            "mcp_servers:",
            "  a: {url: 'http://h/mcp', priority: 1, transport: http}",
            "  b: {url: 'http://h/mcp', priority: 2, transport: streamable-http, protocol: 2026-07-28}",
            "  c: {url: 'http://h/sse', priority: 3, transport: sse, protocol: '2024-11-05'}",
            "  d: {command: run, priority: 4, transport: stdio, protocol: auto}",
        ]),
        env,
    )
    .unwrap();
    let [a, b, c, d] = &config.servers[..] else { panic!() };
    assert_eq!(a.transport, Transport::Http { url: "http://h/mcp".into() });
    assert_eq!(a.transport.kind(), "http");
    assert_eq!(a.protocol, ProtocolChoice::Auto);
    assert_eq!(b.transport, Transport::StreamableHttp { url: "http://h/mcp".into() });
    assert_eq!(b.protocol, ProtocolChoice::Version("2026-07-28".into()));
    assert_eq!(c.protocol, ProtocolChoice::Version("2024-11-05".into()));
    assert_eq!(d.protocol, ProtocolChoice::Auto);
    assert_fail(
        &[
            "mcp_servers:",
            "  db:",
            "    url: http://h/mcp",
            "    priority: 1",
            "    transport: http",
            "    protocol: 2027-01-01",
        ],
        "server `db`: unknown protocol `2027-01-01` (valid: auto, 2026-07-28, 2025-11-25, 2025-06-18, 2025-03-26, \
         2024-11-05)",
        6,
        15,
    );
    let mut built = ServerConfig::new("x", Transport::Http { url: "http://h/mcp".into() });
    built.protocol = ProtocolChoice::Version("1999-01-01".into());
    let e = Config::new(vec![built], Orchestration::default()).unwrap_err();
    assert!(e.to_string().contains("unknown protocol `1999-01-01`"), "{e}");
}

#[test]
fn bad_priorities() {
    assert_fail(
        &["mcp_servers:", "  db:", "    url: http://localhost/sse", "    priority: -1", "    transport: sse"],
        "server `db`: `priority` must be 0 or more, got -1",
        4,
        15,
    );
    assert_fail(
        &["mcp_servers:", "  db:", "    url: http://localhost/sse", "    priority: 5000000000", "    transport: sse"],
        "server `db`: `priority` must be at most 4294967295, got 5000000000",
        4,
        15,
    );
    assert_fail(
        &["mcp_servers:", "  db:", "    url: http://localhost/sse", "    priority: high", "    transport: sse"],
        "server `db`: `priority`: invalid value: expected an integer",
        4,
        15,
    );
}

#[test]
fn duplicates_are_errors_not_last_wins() {
    assert_fail(
        &[
            "mcp_servers:",
            "  db: {url: 'http://a', priority: 1, transport: sse}",
            "  other: {url: 'http://b', priority: 1, transport: sse}",
            "  db: {url: 'http://c', priority: 2, transport: sse}",
        ],
        "duplicate server `db`",
        4,
        3,
    );
    assert_fail(
        &["mcp_servers:", "  db:", "    url: http://a", "    priority: 1", "    url: http://b", "    transport: sse"],
        "server `db`: duplicate key `url`",
        5,
        5,
    );
    assert_fail(
        &[
            "mcp_servers:",
            "  a: {url: 'http://h', priority: 1, transport: sse}",
            "orchestration: {fail_fast: true}",
            "mcp_servers: {}",
        ],
        "duplicate key `mcp_servers`",
        4,
        1,
    );
    assert_fail(
        &[
            "mcp_servers:",
            "  db:",
            "    url: http://a",
            "    priority: 1",
            "    transport: sse",
            "    headers: {X-A: 1, x-a: 2}",
        ],
        "server `db`: duplicate header `x-a`",
        6,
        28,
    );
}

#[test]
fn empty_server_lists() {
    assert_fail(&["mcp_servers: {}"], "`mcp_servers` is empty: configure at least one server", 1, 1);
    assert_fail(
        &["orchestration:", "  fail_fast: false", "mcp_servers:"],
        "`mcp_servers` is empty: configure at least one server",
        3,
        1,
    );
}

#[test]
fn keys_of_the_other_transport() {
    assert_fail(
        &["mcp_servers:", "  p:", "    transport: stdio", "    priority: 1", "    command: run", "    url: http://h"],
        "server `p`: key `url` is not allowed with transport `stdio` (it is for `http`, `sse` and `streamable_http`)",
        6,
        10,
    );
    assert_fail(
        &["mcp_servers:", "  db:", "    url: http://h", "    priority: 1", "    transport: sse", "    command: run"],
        "server `db`: key `command` is not allowed with transport `sse` (it is for `stdio`)",
        6,
        14,
    );
    // Block-style collections: the error points at the key, not at the first entry.
    assert_fail(
        &[
            "mcp_servers:",
            "  p:",
            "    transport: stdio",
            "    priority: 1",
            "    command: run",
            "    headers:",
            "      # a comment between the key and its entries",
            "      Authorization: x",
        ],
        "server `p`: key `headers` is not allowed with transport `stdio` (it is for `http`, `sse` and `streamable_http`)",
        6,
        5,
    );
    assert_fail(
        &[
            "mcp_servers:",
            "  db:",
            "    url: http://h",
            "    priority: 1",
            "    transport: sse",
            "    args:",
            "    - x",
        ],
        "server `db`: key `args` is not allowed with transport `sse` (it is for `stdio`)",
        6,
        5,
    );
    assert_fail(
        &["mcp_servers:", "  db:", "    url: http://h", "    priority: 1", "    transport: sse", "    env: {A: b}"],
        "server `db`: key `env` is not allowed with transport `sse` (it is for `stdio`)",
        6,
        10,
    );
}

#[test]
fn orchestration_values() {
    let server = "  a: {url: 'http://h', priority: 1, transport: sse}";
    assert_fail(
        &["mcp_servers:", server, "orchestration:", "  log_level: LOUD"],
        "orchestration: unknown `log_level` `LOUD` (valid, in any case: TRACE, DEBUG, INFO, WARN, WARNING, ERROR, OFF)",
        4,
        14,
    );
    assert_fail(
        &["mcp_servers:", server, "orchestration:", "  max_concurrent_connections: 0"],
        "orchestration: `max_concurrent_connections` must be at least 1, got 0",
        4,
        31,
    );
    assert_fail(
        &["mcp_servers:", server, "orchestration:", "  request_timeout: 0"],
        "orchestration: `request_timeout` must be a number of seconds greater than 0, got 0",
        4,
        20,
    );
    assert_fail(
        &["mcp_servers:", server, "orchestration:", "  resource_cache_ttl: -5"],
        "orchestration: `resource_cache_ttl` must be a number of seconds 0 or more, got -5",
        4,
        23,
    );
    assert_fail(
        &["mcp_servers:", server, "orchestration:", "  cache_max_bytes: -1"],
        "orchestration: `cache_max_bytes` must be 0 or more, got -1",
        4,
        20,
    );
    assert_fail(
        &["mcp_servers:", server, "orchestration:", "  max_listing_bytes: 0"],
        "orchestration: `max_listing_bytes` must be at least 1, got 0",
        4,
        22,
    );
    assert_fail(
        &["mcp_servers:", "  a: {url: 'http://h', priority: 1, transport: sse, max_listing_items: -2}"],
        "server `a`: `max_listing_items` must be at least 1, got -2",
        2,
        72,
    );
    assert_fail(
        &["mcp_servers:", server, "orchestration:", "  fail_fast: perhaps"],
        "orchestration: `fail_fast`: invalid value: expected true or false",
        4,
        14,
    );
}

#[test]
fn values_of_the_wrong_type() {
    let server = |extra: &str| format!("  a: {{url: 'http://h', priority: 1, transport: sse, {extra}}}");
    assert_fail(
        &["mcp_servers:", &server("timeout: 30s")],
        "server `a`: `timeout`: invalid value: expected a number",
        2,
        62,
    );
    assert_fail(
        &["mcp_servers:", &server("enabled: maybe")],
        "server `a`: `enabled`: invalid value: expected true or false",
        2,
        62,
    );
    assert_fail(&["mcp_servers:", &server("domains: sales")], "server `a`: `domains`: expected a list", 2, 62);
    assert_fail(&["mcp_servers:", &server("headers: [a]")], "server `a`: `headers`: expected a mapping", 2, 62);
    assert_fail(&["mcp_servers:", &server(""), "orchestration: 5"], "orchestration: expected a mapping", 3, 16);
}

#[test]
fn anchors_and_merge_keys_work() {
    let config = parse(&[
        "mcp_servers:",
        "  a: &base",
        "    url: http://h",
        "    priority: 1",
        "    transport: sse",
        "  b:",
        "    <<: *base",
        "    priority: 2",
    ])
    .unwrap();
    let b = config.server("b").unwrap();
    assert_eq!((b.priority, &b.transport), (2, &Transport::Sse { url: "http://h".into() }));
}

#[test]
fn non_positive_server_timeouts() {
    for (value, shown) in [("0", "0"), ("-2.5", "-2.5"), (".nan", "NaN")] {
        let line = format!("    timeout: {value}");
        assert_fail(
            &["mcp_servers:", "  db:", "    url: http://h", "    priority: 1", "    transport: sse", &line],
            &format!("server `db`: `timeout` must be a number of seconds greater than 0, got {shown}"),
            6,
            14,
        );
    }
}

#[test]
fn syntax_and_shape_errors_have_locations() {
    let (message, line, column) = fail(&["mcp_servers:", "  db:", "    url: \"http://h", "    priority: 1"]);
    assert!(message.contains("quote"), "{message}");
    assert_eq!(line, Some(3));
    assert!(column.is_some());
    assert_fail(&["mcp_servers:", "  db:", "  other: 1"], "server `db`: expected a mapping", 2, 5);
    assert_fail(&["- a", "- b"], "expected a mapping", 1, 1);
    assert_fail(&["mcp_servers: [a, b]"], "mcp_servers: expected a mapping", 1, 14);
}

#[test]
fn servers_are_sorted_by_priority_then_name() {
    let config = parse(&[
        "mcp_servers:",
        "  zeta: {url: 'http://z', priority: 1, transport: sse}",
        "  beta: {url: 'http://b', priority: 2, transport: sse}",
        "  alpha: {url: 'http://a', priority: 2, transport: sse}",
        "  omega: {url: 'http://o', priority: 0, transport: sse}",
    ])
    .unwrap();
    let order: Vec<_> = config.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(order, ["omega", "zeta", "alpha", "beta"]);
}

#[test]
fn fifty_servers() {
    let mut text = String::from("mcp_servers:\n");
    for i in 0..50 {
        text.push_str(&format!(
            "  server_{i:02}:\n    url: \"http://localhost:{}/sse\"\n    priority: {}\n    transport: sse\n",
            9000 + i,
            49 - i
        ));
    }
    let config = Config::from_yaml_str_with_env(&text, env).unwrap();
    assert_eq!(config.servers.len(), 50);
    assert_eq!(config.servers[0].name, "server_49");
    assert_eq!(config.servers[49].name, "server_00");
}

#[test]
fn config_new_validates_and_sorts() {
    let b = ServerConfig { priority: 2, ..ServerConfig::sse("b", "http://localhost:1/sse") };
    let a = ServerConfig { priority: 2, ..ServerConfig::sse("a", "http://localhost:2/sse") };
    let c = ServerConfig { priority: 1, ..ServerConfig::sse("c", "http://localhost:3/sse") };
    let config = Config::new(vec![b.clone(), a.clone(), c], Orchestration::default()).unwrap();
    assert_eq!(config.servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["c", "a", "b"]);

    let message = |r: Result<Config>| match r {
        Err(Error::Config { message, line: None, column: None, .. }) => message,
        other => panic!("{other:?}"),
    };
    assert_eq!(message(Config::new(vec![], Orchestration::default())), "no servers: configure at least one server");
    assert_eq!(message(Config::new(vec![a.clone(), a.clone()], Orchestration::default())), "duplicate server `a`");
    assert_eq!(
        message(Config::new(vec![ServerConfig::sse("x", "ws://h")], Orchestration::default())),
        "server `x`: `url` `ws://h` has scheme `ws`: only http and https are supported"
    );
    let zero = Orchestration { max_concurrent_connections: 0, ..Orchestration::default() };
    assert_eq!(
        message(Config::new(vec![a.clone()], zero)),
        "orchestration: `max_concurrent_connections` must be at least 1, got 0"
    );
    let no_timeout = ServerConfig { timeout: Duration::ZERO, ..a.clone() };
    assert_eq!(
        message(Config::new(vec![no_timeout], Orchestration::default())),
        "server `a`: `timeout` must be greater than 0"
    );
    let no_budget = ServerConfig { max_listing_items: 0, ..a.clone() };
    assert_eq!(
        message(Config::new(vec![no_budget], Orchestration::default())),
        "server `a`: `max_listing_bytes` and `max_listing_items` must be at least 1"
    );
    let stdio =
        ServerConfig::new("p", Transport::Stdio { command: " ".into(), args: vec![], env: BTreeMap::new(), cwd: None });
    assert_eq!(message(Config::new(vec![stdio], Orchestration::default())), "server `p`: `command` is empty");
    let mut bad_header = a;
    bad_header.headers.insert("X-Token", "secret\nvalue");
    let text = message(Config::new(vec![bad_header], Orchestration::default()));
    assert!(!text.contains("secret"), "{text}");
}
