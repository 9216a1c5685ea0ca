//! The `mcp-orchestrator` command, run as a user runs it: a child process with arguments,
//! against config files in the temp directory and test servers started here.
//!
//! Every child runs under a deadline: it is killed, and the test fails, if it has not exited
//! in time.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mcp_orchestrator::testing::{TestServer, text_result};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(60);

/// What a finished child left.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the command with `args` (and `RUST_LOG` unset), in `dir` if given.
fn run_in(dir: Option<&Path>, args: &[&str], env: &[(&str, &str)]) -> Run {
    run_program(env!("CARGO_BIN_EXE_mcp-orchestrator"), dir, args, env)
}

/// Runs `program` with `args` (and `RUST_LOG` unset), in `dir` if given, within [`DEADLINE`].
fn run_program(program: &str, dir: Option<&Path>, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(program);
    command.args(args).env_remove("RUST_LOG").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let mut child = command.spawn().expect("spawn mcp-orchestrator");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let started = Instant::now();
    let status = loop {
        match child.try_wait().expect("try_wait") {
            Some(status) => break Some(status),
            None if started.elapsed() < DEADLINE => std::thread::sleep(Duration::from_millis(10)),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let stdout = stdout.join().expect("stdout reader");
    let stderr = stderr.join().expect("stderr reader");
    let Some(status) = status else {
        panic!("mcp-orchestrator {args:?} did not exit within {DEADLINE:?}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    };
    Run { code: status.code().unwrap_or(-1), stdout, stderr }
}

fn run(args: &[&str]) -> Run {
    run_in(None, args, &[])
}

/// A file in the temp directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> TempFile {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("mcp-orchestrator-cli-{}-{n}-{name}", std::process::id()));
        std::fs::write(&path, text).expect("write temp file");
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[track_caller]
/// A JSON document's `servers` as (name, status) pairs.
fn statuses(doc: &Value) -> Vec<(&str, &str)> {
    doc["servers"]
        .as_array()
        .unwrap_or_else(|| panic!("no `servers` array: {doc}"))
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect()
}

fn assert_exit(r: &Run, code: i32) {
    assert_eq!(r.code, code, "exit status\nstdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

#[test]
fn check_lists_the_servers_of_a_valid_config() {
    let config = TempFile::new(
        "good.yaml",
        "mcp_servers:\n\
         \x20 database_mcp:\n\
         \x20   url: \"http://localhost:8000/sse\"\n\
         \x20   priority: 10\n\
         \x20   domains: [\"sales\", \"orders\"]\n\
         \x20   capabilities: [\"execute_query\", \"list_resources\"]\n\
         \x20   transport: \"sse\"\n\
         \x20 files:\n\
         \x20   transport: stdio\n\
         \x20   command: python\n\
         \x20   args: [\"-m\", \"files_mcp\"]\n\
         \x20   priority: 3\n\
         \x20   enabled: false\n\
         orchestration:\n\
         \x20 resource_cache_ttl: 300\n\
         \x20 fail_fast: true\n",
    );
    let r = run(&["check", "--config", config.path()]);
    assert_exit(&r, 0);
    for needle in [
        "database_mcp",
        "http://localhost:8000/sse",
        "sales, orders",
        "execute_query, list_resources",
        "python -m files_mcp",
        "stdio",
        "2 server(s), 1 enabled",
    ] {
        assert!(r.stdout.contains(needle), "{needle:?} missing from:\n{}", r.stdout);
    }
    // Priority order: files (3) before database_mcp (10).
    assert!(r.stdout.find("files").unwrap() < r.stdout.find("database_mcp").unwrap(), "{}", r.stdout);
    let line = r.stdout.lines().find(|l| l.starts_with("files")).unwrap();
    assert!(line.contains(" no "), "enabled column: {line}");
}

#[test]
fn check_reads_other_clients_configs_and_says_what_it_assumed() {
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/configs");
    let desktop = configs.join("claude_desktop_config.json");
    let r = run(&["check", "--config", desktop.to_str().unwrap()]);
    assert_exit(&r, 0);
    for needle in ["read as mcpServers config", "github: priority 2 from file order", "ok: 2 server(s)"] {
        assert!(r.stdout.contains(needle), "{needle:?} not in\n{}", r.stdout);
    }
    assert!(!r.stdout.contains("ghp_example"), "{}", r.stdout);

    let talk = configs.join("talk-2-tables_mcp_config.yaml");
    let r = run(&["check", "--config", talk.to_str().unwrap(), "--format", "json"]);
    assert_exit(&r, 0);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["format"], "yaml");
    assert_eq!(doc["orchestration"]["max_retries"], 3);
    assert_eq!(doc["servers"][1]["display_name"], "Database MCP Server");

    // Every problem of a file, each with its line.
    let r = run(&["check", "--config", configs.join("several_errors.yaml").to_str().unwrap()]);
    assert_exit(&r, 2);
    assert!(r.stderr.starts_with("error: config: 4 problems:"), "{}", r.stderr);
}

#[test]
fn check_rejects_a_bad_config_with_the_key_and_the_line() {
    let config = TempFile::new(
        "bad.yaml",
        "mcp_servers:\n  db:\n    url: \"http://localhost:8000/sse\"\n    priority: 1\n    transport: sse\n    urll: 3\n",
    );
    let r = run(&["check", "--config", config.path()]);
    assert_exit(&r, 2);
    assert!(r.stderr.starts_with("error: config:"), "{}", r.stderr);
    assert!(r.stderr.contains("`urll`") && r.stderr.contains("line 6"), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);

    let r = run(&["check", "--config", "/nonexistent/mcp_config.yaml"]);
    assert_exit(&r, 2);
    assert!(r.stderr.contains("/nonexistent/mcp_config.yaml"), "{}", r.stderr);
}

#[test]
fn config_defaults_to_mcp_config_yaml_in_the_current_directory() {
    let dir = std::env::temp_dir().join(format!("mcp-orchestrator-cli-{}-cwd", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let r = run_in(Some(&dir), &["check"], &[]);
    assert_exit(&r, 2);
    assert!(r.stderr.contains("mcp_config.yaml"), "{}", r.stderr);
    std::fs::write(
        dir.join("mcp_config.yaml"),
        "mcp_servers:\n  only:\n    url: http://127.0.0.1:9/sse\n    transport: sse\n    priority: 1\n",
    )
    .unwrap();
    let r = run_in(Some(&dir), &["check"], &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_exit(&r, 0);
    assert!(r.stdout.contains("only"), "{}", r.stdout);
}

#[test]
fn demo_shows_the_seed_resources_and_a_query_through_the_executor() {
    let r = run(&["demo"]);
    assert_exit(&r, 0);
    for needle in [
        "database://metadata",
        "product-aliases://list",
        "column-mappings://list",
        "metadata-summary://info",
        "executor: database_mcp",
        "SELECT * FROM customers LIMIT 3",
        "Ada Lovelace",
        "Alan Turing",
        "(3 rows)",
        "served from the cache",
        "close",
        "metadata-summary://info is offered by product_metadata_mcp (priority 1) and by database_mcp",
        "resources, read-only documents",
    ] {
        assert!(r.stdout.contains(needle), "{needle:?} missing from:\n{}", r.stdout);
    }
    // Only three rows: the fourth customer is not there.
    assert!(!r.stdout.contains("Edsger"), "{}", r.stdout);
    // The library's info lines, on stderr.
    assert!(r.stderr.contains(" INFO ") && !r.stderr.contains(" DEBUG "), "{}", r.stderr);
}

/// Two servers sharing a URI (a has priority 1, b priority 5) and a disabled third one.
fn two_servers() -> (TestServer, TestServer) {
    let template = serde_json::from_value(json!({"uriTemplate": "a://items/{id}", "name": "item"})).unwrap();
    let a = TestServer::builder()
        .name("server-a")
        .text_resource("shared://x", "x-from-a", "text/plain", "hello from a")
        .blob_resource("a://blob", "blob", "application/octet-stream", &[0, 1, 2, 255])
        .template(template)
        .simple_tool("echo", "echoes its arguments", |args| Ok(text_result(args.to_string())))
        .simple_tool("fail", "always fails", |_| Err("it went wrong".to_string()))
        .start()
        .expect("start a");
    let b = TestServer::builder()
        .name("server-b")
        .text_resource("shared://x", "x-from-b", "text/plain", "hello from b")
        .text_resource("b://only", "only-b", "application/json", "{}")
        .start()
        .expect("start b");
    (a, b)
}

fn config_for(a: &TestServer, b: &TestServer, extra: &str) -> TempFile {
    TempFile::new(
        "servers.yaml",
        &format!(
            "mcp_servers:\n\
             \x20 a:\n    url: \"{}\"\n    transport: sse\n    priority: 1\n    capabilities: [execute_query]\n    timeout: 10\n\
             \x20 b:\n    url: \"{}\"\n    transport: sse\n    priority: 5\n    domains: [\"sales\"]\n    timeout: 10\n\
             \x20 c:\n    url: \"http://127.0.0.1:9/sse\"\n    transport: sse\n    priority: 7\n    enabled: false\n\
             orchestration:\n  fail_fast: true\n{extra}",
            a.url(),
            b.url()
        ),
    )
}

#[test]
fn gather_json_is_one_document_with_servers_contents_merged_resources_and_cache() {
    let (a, b) = two_servers();
    let config = config_for(&a, &b, "");
    let r = run(&["gather", "--config", config.path(), "--format", "json"]);
    assert_exit(&r, 0);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));

    assert!(doc["op_id"].as_str().is_some_and(|s| !s.is_empty()), "{doc}");
    let servers = doc["servers"].as_array().unwrap();
    let names: Vec<&str> = servers.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "b", "c"], "priority order");

    let sa = &servers[0];
    assert_eq!(sa["priority"], 1);
    assert_eq!(sa["status"], "ok");
    assert!(sa["error"].is_null());
    assert!(sa["elapsed_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{sa}");
    assert_eq!(sa["from_cache"], false);
    let resources = sa["resources"].as_array().unwrap();
    let shared = resources.iter().find(|r| r["uri"] == "shared://x").unwrap();
    assert_eq!(shared["name"], "x-from-a");
    assert_eq!(shared["mimeType"], "text/plain");
    assert_eq!(shared["contents"], json!([{"uri": "shared://x", "mimeType": "text/plain", "text": "hello from a"}]));
    let blob = resources.iter().find(|r| r["uri"] == "a://blob").unwrap();
    assert_eq!(blob["contents"][0]["blob"], "AAEC/w==");
    assert!(blob["contents"][0].get("text").is_none());
    assert_eq!(sa["templates"][0]["uriTemplate"], "a://items/{id}");
    let tools: Vec<&str> = sa["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(tools, ["echo", "fail"]);
    assert_eq!(sa["tools"][0]["inputSchema"], json!({"type": "object"}));

    let sb = &servers[1];
    assert_eq!((sb["status"].as_str(), sb["priority"].as_u64()), (Some("ok"), Some(5)));
    assert_eq!(sb["resources"].as_array().unwrap().len(), 2);
    assert_eq!(sb["tools"], json!([]));

    let sc = &servers[2];
    assert_eq!(sc["status"], "skipped");
    assert!(sc["error"].is_null());
    assert_eq!(sc["resources"], json!([]));

    let merged = doc["resources"].as_array().unwrap();
    let uris: Vec<&str> = merged.iter().map(|m| m["uri"].as_str().unwrap()).collect();
    assert_eq!(uris, ["a://blob", "b://only", "shared://x"]);
    let x = &merged[2];
    assert_eq!((x["server"].as_str(), x["priority"].as_u64()), (Some("a"), Some(1)));
    assert_eq!(x["name"], "x-from-a");
    assert_eq!(x["mimeType"], "text/plain");
    assert_eq!(x["shadowed"], json!(["b"]));
    assert_eq!(merged[1]["server"], "b");
    assert_eq!(merged[1]["shadowed"], json!([]));

    for key in ["hits", "misses"] {
        assert!(doc["cache"][key].is_u64(), "cache.{key}: {doc}");
    }
}

#[test]
fn gather_table_shows_status_counts_and_shadowing() {
    let (a, b) = two_servers();
    let config = config_for(&a, &b, "");
    let r = run(&["gather", "--config", config.path()]);
    assert_exit(&r, 0);
    let line = |start: &str| r.stdout.lines().find(|l| l.trim_start().starts_with(start)).map(str::to_owned);
    let a_line = line("a ").unwrap_or_else(|| panic!("{}", r.stdout));
    let words: Vec<&str> = a_line.split_whitespace().collect();
    // a  1  ok  <time> ms  2 resources  1 template  2 tools
    assert_eq!(words[..3], ["a", "1", "ok"], "{a_line}");
    assert_eq!(words[words.len() - 3..], ["2", "1", "2"], "{a_line}");
    assert!(line("c ").unwrap().contains("skipped"), "{}", r.stdout);
    let x = line("shared://x").unwrap();
    assert!(x.split_whitespace().take(3).eq(["shared://x", "a", "b"]), "{x}");
    assert!(r.stdout.contains("cache:"), "{}", r.stdout);
}

#[test]
fn gather_fails_fast_with_exit_1_naming_the_server_and_the_op() {
    let down = TestServer::builder().fault(mcp_orchestrator::testing::Fault::RefuseConnections).start().unwrap();
    let config = TempFile::new(
        "down.yaml",
        &format!(
            "mcp_servers:\n  down_mcp:\n    url: \"{}\"\n    transport: sse\n    priority: 1\n    timeout: 5\n",
            down.url()
        ),
    );
    let r = run(&["-q", "gather", "--config", config.path()]);
    assert_exit(&r, 1);
    assert!(r.stderr.contains("server `down_mcp`") && r.stderr.contains(", op "), "{}", r.stderr);
    // -q: errors only (the library logs the failure at error level too, then the command
    // prints it last).
    assert!(r.stderr.lines().last().is_some_and(|l| l.starts_with("error: connect:")), "{}", r.stderr);
    assert!(!r.stderr.contains(" WARN ") && !r.stderr.contains(" INFO "), "-q: errors only\n{}", r.stderr);
}

#[test]
fn log_flags_win_over_rust_log_which_wins_over_the_config_which_wins_over_warn() {
    let (a, b) = two_servers();
    let quiet = config_for(&a, &b, "");
    let r = run(&["gather", "--config", quiet.path()]);
    assert_exit(&r, 0);
    assert!(r.stderr.is_empty(), "no log_level: warnings and errors only:\n{}", r.stderr);
    let config = config_for(&a, &b, "  log_level: DEBUG\n");
    let r = run(&["gather", "--config", config.path()]);
    assert_exit(&r, 0);
    assert!(r.stderr.contains("DEBUG"), "the config's log_level applies:\n{}", r.stderr);
    let r = run_in(None, &["gather", "--config", config.path()], &[("RUST_LOG", "error")]);
    assert_exit(&r, 0);
    assert!(r.stderr.is_empty(), "RUST_LOG wins over the config:\n{}", r.stderr);
    let r = run_in(None, &["-vv", "gather", "--config", config.path()], &[("RUST_LOG", "error")]);
    assert_exit(&r, 0);
    assert!(r.stderr.contains("TRACE"), "-vv wins over RUST_LOG:\n{}", r.stderr);
    let r = run(&["gather", "-q", "--config", config.path()]);
    assert_exit(&r, 0);
    assert!(r.stderr.is_empty(), "-q wins over the config:\n{}", r.stderr);
}

#[test]
fn call_runs_a_tool_on_the_executor_or_a_named_server() {
    let (a, b) = two_servers();
    let config = config_for(&a, &b, "");
    let r = run(&["call", "--config", config.path(), "echo", r#"{"q": 1}"#]);
    assert_exit(&r, 0);
    assert_eq!(r.stdout.trim(), r#"{"q":1}"#);

    let r = run(&["call", "--config", config.path(), "--format", "json", "echo", "{}"]);
    assert_exit(&r, 0);
    let result: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(result["content"], json!([{"type": "text", "text": "{}"}]));
    assert_eq!(result["isError"], false);

    // b has no `echo`: the server's error names it.
    let r = run(&["call", "--config", config.path(), "--server", "b", "echo", "{}"]);
    assert_exit(&r, 1);
    assert!(r.stderr.contains("server `b`") && r.stderr.contains("op "), "{}", r.stderr);

    let r = run(&["call", "--config", config.path(), "fail", "{}"]);
    assert_exit(&r, 1);
    assert!(r.stderr.contains("tool `fail` on server `a` reported an error: it went wrong"), "{}", r.stderr);

    let r = run(&["call", "--config", config.path(), "--server", "nope", "echo", "{}"]);
    assert_exit(&r, 1);
    assert!(r.stderr.contains("no server named `nope`"), "{}", r.stderr);
}

#[test]
fn call_with_bad_json_is_a_usage_error() {
    let r = run(&["call", "execute_query", "{query: SELECT"]);
    assert_exit(&r, 2);
    assert!(r.stderr.contains("ARGS_JSON is not valid JSON"), "{}", r.stderr);
    let r = run(&["call", "execute_query", r#"["not", "an", "object"]"#]);
    assert_exit(&r, 2);
    assert!(r.stderr.contains("must be a JSON object"), "{}", r.stderr);
    let r = run(&["call"]);
    assert_exit(&r, 2);
    let r = run(&["call", "-a", "no-equals-sign", "execute_query"]);
    assert_exit(&r, 2);
    assert!(r.stderr.contains("KEY=VALUE"), "{}", r.stderr);
}

#[test]
fn bad_usage_exits_2() {
    for args in [
        &["frobnicate"][..],
        &[],
        &["gather", "--format", "xml"],
        &["gather", "--bogus"],
        &["check", "--config"],
        &["demo", "extra"],
    ] {
        let r = run(args);
        assert_exit(&r, 2);
        assert!(r.stderr.starts_with("error: ") && r.stderr.contains("--help"), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn every_help_exits_0() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["help"],
        &["check", "--help"],
        &["gather", "--help"],
        &["call", "--help"],
        &["demo", "-h"],
        &["help", "gather"],
    ] {
        let r = run(args);
        assert_exit(&r, 0);
        assert!(r.stdout.contains("Usage: mcp-orchestrator"), "{args:?}: {}", r.stdout);
    }
    let r = run(&["--version"]);
    assert_exit(&r, 0);
    assert_eq!(r.stdout.trim(), format!("mcp-orchestrator {}", env!("CARGO_PKG_VERSION")));
}

/// The secrets a config may hold in a URL and a header.
const USER_SECRET: &str = "USERPW9";
const QUERY_SECRET: &str = "QSECRET1";
const HEADER_SECRET: &str = "HDRSECRET2";

/// A config for one server at `url` with a password and an API key in the URL and another
/// key in a header.
fn config_with_secrets(url: &str) -> TempFile {
    let url = url.replacen("http://", &format!("http://someone:{USER_SECRET}@"), 1);
    TempFile::new(
        "secrets.yaml",
        &format!(
            "mcp_servers:\n  db:\n    url: \"{url}?api_key={QUERY_SECRET}\"\n    transport: sse\n    priority: 1\n    \
             timeout: 10\n    headers:\n      X-Api-Key: \"{HEADER_SECRET}\"\norchestration:\n  log_level: TRACE\n"
        ),
    )
}

#[track_caller]
fn assert_no_secret(args: &[&str], r: &Run) {
    for secret in [USER_SECRET, QUERY_SECRET, HEADER_SECRET] {
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "{args:?} printed {secret}\nstdout:\n{}\nstderr:\n{}",
            r.stdout,
            r.stderr
        );
    }
}

#[test]
fn no_secret_from_a_url_or_a_header_reaches_the_output_even_at_trace() {
    let server = TestServer::builder().name("db").with_sample_resources(2).start().expect("start the server");
    let config = config_with_secrets(server.url());
    let port = server.url().rsplit(':').next().unwrap().trim_end_matches("/sse");
    for (args, code) in [
        (&["check", "--config", config.path()][..], 0),
        (&["check", "--config", config.path(), "--format", "json"], 0),
        (&["gather", "--config", config.path()], 0),
        (&["gather", "--config", config.path(), "--format", "json"], 0),
        (&["-vv", "gather", "--config", config.path(), "--format", "json"], 0),
    ] {
        let r = run_in(None, args, &[("RUST_LOG", "trace,ureq_proto::client=trace,ureq=trace")]);
        assert_exit(&r, code);
        assert_no_secret(args, &r);
        if args.contains(&"gather") {
            // The logs were on: the HTTP requests happened and were logged by the library.
            assert!(r.stderr.contains("TRACE"), "{args:?}: {}", r.stderr);
        }
    }
    let r = run(&["check", "--config", config.path()]);
    let line = r.stdout.lines().find(|l| l.starts_with("db ")).unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(line.contains(&format!("http://127.0.0.1:{port}/sse")), "the URL, redacted: {line}");
}

#[test]
fn no_secret_reaches_the_output_when_the_server_is_down() {
    let down = TestServer::builder().fault(mcp_orchestrator::testing::Fault::RefuseConnections).start().unwrap();
    let config = config_with_secrets(down.url());
    for args in [
        &["gather", "--config", config.path()][..],
        &["gather", "--config", config.path(), "--format", "json"],
        &["-vv", "gather", "--config", config.path()],
    ] {
        let r = run_in(None, args, &[("RUST_LOG", "trace")]);
        assert_exit(&r, 1);
        assert!(r.stderr.contains("server `db`"), "{args:?}: {}", r.stderr);
        assert_no_secret(args, &r);
    }
}

/// A config with `a` (live, priority 1), `down_mcp` (refusing, priority 2) and `off`
/// (disabled), fail_fast on.
fn live_and_down(a: &TestServer, down: &TestServer) -> TempFile {
    TempFile::new(
        "live-and-down.yaml",
        &format!(
            "mcp_servers:\n\
             \x20 a:\n    url: \"{}\"\n    transport: sse\n    priority: 1\n    timeout: 10\n\
             \x20 down_mcp:\n    url: \"{}\"\n    transport: sse\n    priority: 2\n    timeout: 10\n\
             \x20 off:\n    url: \"http://127.0.0.1:9/sse\"\n    transport: sse\n    priority: 3\n    enabled: false\n\
             orchestration:\n  fail_fast: true\n",
            a.url(),
            down.url()
        ),
    )
}

#[test]
fn gather_json_prints_a_document_with_the_error_and_each_server_when_it_fails() {
    let (a, _b) = two_servers();
    let down = TestServer::builder().fault(mcp_orchestrator::testing::Fault::RefuseConnections).start().unwrap();
    let config = live_and_down(&a, &down);
    let r = run(&["gather", "--config", config.path(), "--format", "json"]);
    assert_exit(&r, 1);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    let error = doc["error"].as_str().unwrap_or_else(|| panic!("{doc}"));
    assert!(error.contains("server `down_mcp`"), "{doc}");
    assert!(doc["op_id"].as_str().is_some_and(|op| error.contains(op)), "the error's op: {doc}");
    let servers = doc["servers"].as_array().unwrap();
    let names: Vec<&str> = servers.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "down_mcp", "off"]);
    assert_eq!((servers[1]["status"].as_str(), servers[1]["priority"].as_u64()), (Some("failed"), Some(2)));
    assert!(servers[1]["error"].as_str().is_some_and(|e| e.contains("down_mcp")), "{doc}");
    assert_eq!(servers[2]["status"], "skipped");
    // a's outcome is not known: fail-fast stopped at down_mcp.
    assert!(servers[0]["status"] == "unknown" && servers[0]["error"].is_null(), "{doc}");
    assert_eq!(doc["resources"], json!([]));
    assert!(doc["cache"]["misses"].is_u64(), "{doc}");
    // The error is on stderr too, as for the table.
    assert!(r.stderr.contains("error: ") && r.stderr.contains("down_mcp"), "{}", r.stderr);
}

#[test]
fn gather_no_fail_fast_prints_the_servers_that_answered_and_the_one_that_failed_and_exits_3() {
    let (a, _b) = two_servers();
    let down = TestServer::builder().fault(mcp_orchestrator::testing::Fault::RefuseConnections).start().unwrap();
    let config = live_and_down(&a, &down);
    let r = run(&["gather", "--config", config.path(), "--no-fail-fast", "--format", "json"]);
    assert_exit(&r, 3);
    assert!(r.stderr.contains("partial: 1 of 3 server(s) failed (down_mcp)"), "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert!(doc["error"].is_null(), "{doc}");
    let status = statuses(&doc);
    assert_eq!(status, [("a", "ok"), ("down_mcp", "failed"), ("off", "skipped")]);
    assert!(doc["resources"].as_array().unwrap().iter().any(|m| m["uri"] == "shared://x"), "{doc}");

    let r = run(&["gather", "--config", config.path(), "--no-fail-fast"]);
    assert_exit(&r, 3);
    assert!(r.stdout.contains("down_mcp") && r.stdout.contains("failed"), "{}", r.stdout);
}

#[test]
fn gather_server_picks_servers_from_the_config() {
    let (a, b) = two_servers();
    let config = config_for(&a, &b, "");
    let r = run(&["gather", "--config", config.path(), "--server", "b", "--format", "json"]);
    assert_exit(&r, 0);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    let names: Vec<&str> = doc["servers"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["b"]);
    assert_eq!(doc["resources"].as_array().unwrap().len(), 2, "{doc}");

    let r = run(&["gather", "--config", config.path(), "-s", "a", "--server", "b", "--format", "json"]);
    assert_exit(&r, 0);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["servers"].as_array().unwrap().len(), 2);

    let r = run(&["gather", "--config", config.path(), "--server", "nope"]);
    assert_exit(&r, 2);
    assert!(r.stderr.contains("no server named `nope`") && r.stderr.contains("a, b, c"), "{}", r.stderr);
}

#[test]
fn gather_timeout_replaces_the_configs() {
    let stuck = TestServer::builder()
        .with_sample_resources(1)
        .fault(mcp_orchestrator::testing::Fault::NeverAnswer("resources/list".into()))
        .start()
        .unwrap();
    let config = TempFile::new(
        "stuck.yaml",
        &format!(
            "mcp_servers:\n  stuck:\n    url: \"{}\"\n    transport: sse\n    priority: 1\n    timeout: 120\n",
            stuck.url()
        ),
    );
    let started = Instant::now();
    let r = run(&["gather", "--config", config.path(), "--timeout", "1"]);
    assert_exit(&r, 1);
    assert!(r.stderr.contains("server `stuck`") && r.stderr.contains("resources/list"), "{}", r.stderr);
    // The config says 120 s; --timeout 1 s (generous slack for a loaded machine).
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());

    let r = run(&["gather", "--config", config.path(), "--timeout", "0"]);
    assert_exit(&r, 2);
}

#[test]
fn completions_and_the_man_page_are_generated() {
    let r = run(&["completions", "bash"]);
    assert_exit(&r, 0);
    for needle in ["mcp-orchestrator", "gather", "--no-fail-fast", "--config"] {
        assert!(r.stdout.contains(needle), "{needle:?} missing from the bash completions");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let r = run(&["completions", shell]);
        assert_exit(&r, 0);
        assert!(r.stdout.contains("gather"), "{shell}: {}", r.stdout);
    }
    let r = run(&["completions", "tcsh"]);
    assert_exit(&r, 2);

    let r = run(&["man"]);
    assert_exit(&r, 0);
    assert!(r.stdout.contains(".TH mcp-orchestrator 1"), "{}", r.stdout);
    for needle in ["gather", "check", "demo", "completions", "prompts"] {
        assert!(r.stdout.contains(needle), "{needle:?} missing from the man page:\n{}", r.stdout);
    }
}

#[test]
fn call_takes_arguments_as_pairs_or_none_and_goes_past_a_dead_server_with_no_fail_fast() {
    let (a, _b) = two_servers();
    let down = TestServer::builder().fault(mcp_orchestrator::testing::Fault::RefuseConnections).start().unwrap();
    let config = live_and_down(&a, &down);
    // fail_fast: the dead server fails the call, though the tool is on `a`.
    let r = run(&["call", "--config", config.path(), "--server", "a", "echo"]);
    assert_exit(&r, 1);
    assert!(r.stderr.contains("down_mcp"), "{}", r.stderr);

    let r = run(&["call", "--config", config.path(), "--server", "a", "--format", "json", "echo"]);
    assert_exit(&r, 1);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert!(doc["error"].as_str().is_some_and(|e| e.contains("down_mcp")), "{doc}");
    assert_eq!((doc["tool"].as_str(), doc["servers"][1]["status"].as_str()), (Some("echo"), Some("failed")));

    let r = run(&["call", "--config", config.path(), "--no-fail-fast", "--server", "a", "echo"]);
    assert_exit(&r, 0);
    assert_eq!(r.stdout.trim(), "{}", "no ARGS_JSON: an empty object");

    let r = run(&[
        "call",
        "--config",
        config.path(),
        "--no-fail-fast",
        "--server",
        "a",
        "-a",
        "query=SELECT 1",
        "-a",
        "limit:=3",
        "echo",
        r#"{"query": "replaced", "keep": true}"#,
    ]);
    assert_exit(&r, 0);
    let echoed: Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert_eq!(echoed, json!({"query": "SELECT 1", "limit": 3, "keep": true}));
}

#[test]
fn status_shows_each_server_reachable_or_not_with_protocol_and_latency() {
    let (a, b) = two_servers();
    let r = run(&["status", "--config", config_for(&a, &b, "").path()]);
    assert_exit(&r, 0);
    let line = |start: &str| r.stdout.lines().find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("{}", r.stdout));
    let a_line = line("a ");
    let protocol = mcp_orchestrator::SUPPORTED_PROTOCOL_VERSIONS[0];
    assert!(a_line.contains(" ok ") && a_line.contains(protocol) && a_line.contains(" sse "), "{a_line}");
    assert!(line("c ").contains("disabled"), "{}", r.stdout);

    let down = TestServer::builder().fault(mcp_orchestrator::testing::Fault::RefuseConnections).start().unwrap();
    let config = live_and_down(&a, &down);
    let r = run(&["status", "--config", config.path(), "--format", "json"]);
    assert_exit(&r, 3);
    assert!(r.stderr.contains("partial: 1 of 2 server(s) not reachable (down_mcp)"), "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    let servers = doc["servers"].as_array().unwrap();
    let sa = &servers[0];
    assert_eq!((sa["name"].as_str(), sa["reachable"].as_bool()), (Some("a"), Some(true)), "{doc}");
    assert_eq!(sa["protocol"], protocol);
    assert_eq!(sa["transport"], "sse");
    assert_eq!(sa["server_info"]["name"], "server-a");
    assert!(sa["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0) && sa["error"].is_null(), "{doc}");
    assert_eq!(sa["check"], "ping", "{doc}");
    let sd = &servers[1];
    assert_eq!((sd["name"].as_str(), sd["reachable"].as_bool()), (Some("down_mcp"), Some(false)), "{doc}");
    assert!(sd["error"].as_str().is_some_and(|e| e.contains("down_mcp")) && sd["latency_ms"].is_null(), "{doc}");
    assert_eq!((servers[2]["enabled"].as_bool(), servers[2]["reachable"].as_bool()), (Some(false), Some(false)));

    // `transport: http`: the transport detected (the test server speaks Streamable HTTP).
    let http = TempFile::new(
        "http.yaml",
        &format!("mcp_servers:\n  h:\n    url: \"{}\"\n    transport: http\n    priority: 1\n", a.mcp_url()),
    );
    let r = run(&["status", "--config", http.path(), "--format", "json"]);
    assert_exit(&r, 0);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    let h = &doc["servers"][0];
    assert_eq!((h["transport"].as_str(), h["configured_transport"].as_str()), (Some("streamable_http"), Some("http")));
    assert!(h["protocol"].as_str().is_some_and(|p| mcp_orchestrator::PROTOCOL_VERSIONS.contains(&p)), "{doc}");
    let r = run(&["status", "--config", http.path()]);
    assert!(r.stdout.lines().any(|l| l.starts_with("h ") && l.contains(" streamable_http ")), "{}", r.stdout);

    let r = run(&["status", "--config", config.path(), "--server", "down_mcp"]);
    assert_exit(&r, 1);
    assert!(r.stdout.contains("unreachable") && r.stderr.contains("error: "), "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn check_json_is_the_config_as_understood() {
    let config = TempFile::new(
        "check.yaml",
        "mcp_servers:\n\
         \x20 db:\n    url: \"http://someone:pw@localhost:8000/sse?api_key=k\"\n    priority: 10\n    transport: sse\n\
         \x20   capabilities: [execute_query]\n    headers:\n      X-Api-Key: \"v\"\n\
         \x20 files:\n    transport: stdio\n    command: python\n    args: [\"-m\", \"files_mcp\"]\n    priority: 3\n\
         \x20   env:\n      TOKEN: \"t\"\n    enabled: false\n\
         orchestration:\n  fail_fast: false\n",
    );
    let r = run(&["check", "--config", config.path(), "--format", "json"]);
    assert_exit(&r, 0);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    let files = &doc["servers"][0];
    assert_eq!((files["name"].as_str(), files["transport"].as_str()), (Some("files"), Some("stdio")));
    assert_eq!((files["command"].as_str(), files["enabled"].as_bool()), (Some("python"), Some(false)));
    assert_eq!(files["args"], json!(["-m", "files_mcp"]));
    assert_eq!(files["env"], json!(["TOKEN"]), "names only");
    let db = &doc["servers"][1];
    let url = db["url"].as_str().unwrap();
    assert!(url.starts_with("http://localhost:8000/sse") && !url.contains("pw") && !url.contains("api_key"), "{url}");
    assert_eq!(db["headers"], json!(["X-Api-Key"]), "names only");
    assert_eq!(db["capabilities"], json!(["execute_query"]));
    assert_eq!(db["timeout_s"], 30.0);
    assert_eq!(doc["orchestration"]["fail_fast"], false);
    assert!(!r.stdout.contains("\"v\"") && !r.stdout.contains("\"t\""), "{}", r.stdout);
}

#[test]
fn tools_search_prints_the_best_matches_first() {
    let a = TestServer::builder()
        .name("search-a")
        .simple_tool("create_issue", "open a new issue in the bug tracker", |_| Ok(text_result("ok")))
        .simple_tool("send_email", "send an email message to someone", |_| Ok(text_result("ok")))
        .simple_tool("read_file", "read a file from the disk", |_| Ok(text_result("ok")))
        .start()
        .expect("start");
    let b = TestServer::builder().name("search-b").start().expect("start b");
    let config = config_for(&a, &b, "");
    let r = run(&["tools", "--config", config.path(), "--search", "email someone", "--limit", "2"]);
    assert_exit(&r, 0);
    let first = r.stdout.lines().nth(1).unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(first.split_whitespace().take(2).eq(["send_email", "a"]), "{}", r.stdout);
    assert!(r.stdout.lines().next().is_some_and(|h| h.contains("SCORE") && h.contains("TOKENS")), "{}", r.stdout);

    let r = run(&["tools", "--config", config.path(), "--search", "bug tracker", "--format", "json"]);
    assert_exit(&r, 0);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert_eq!(doc["query"], "bug tracker");
    assert_eq!(doc["matches"][0]["name"], "create_issue");
    assert_eq!(doc["matches"][0]["server"], "a");
    assert!(doc["matches"][0]["tokens"].as_u64().is_some_and(|t| t > 0), "{doc}");

    let r = run(&["tools", "--config", config.path(), "--search", "zebra"]);
    assert_exit(&r, 0);
    assert!(r.stdout.contains("(no matching tools)"), "{}", r.stdout);
    // --limit needs --search.
    assert_exit(&run(&["tools", "--config", config.path(), "--limit", "3"]), 2);
}

#[test]
fn tools_lists_each_tool_with_its_server() {
    let (a, b) = two_servers();
    let config = config_for(&a, &b, "");
    let r = run(&["tools", "--config", config.path()]);
    assert_exit(&r, 0);
    let echo = r.stdout.lines().find(|l| l.starts_with("echo ")).unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(echo.split_whitespace().take(3).eq(["echo", "a", "1"]), "{echo}");
    assert!(echo.contains("echoes its arguments"), "{echo}");
    // Each tool's size in tokens (a positive estimate), and the catalogue's total.
    let tokens: usize = echo.split_whitespace().nth(3).and_then(|t| t.parse().ok()).unwrap_or_else(|| panic!("{echo}"));
    assert!(tokens > 0, "{echo}");
    assert!(r.stdout.contains("2 tools in the merged catalogue, ~"), "{}", r.stdout);

    let r = run(&["tools", "--config", config.path(), "--format", "json"]);
    assert_exit(&r, 0);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    let tools: Vec<(&str, &str)> = doc["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["server"].as_str().unwrap()))
        .collect();
    assert_eq!(tools, [("echo", "a"), ("fail", "a")]);
    assert_eq!(doc["tools"][0]["inputSchema"], json!({"type": "object"}));
    let (t0, t1) = (doc["tools"][0]["tokens"].as_u64().unwrap(), doc["tools"][1]["tokens"].as_u64().unwrap());
    assert_eq!(doc["tool_tokens"].as_u64(), Some(t0 + t1));

    // A dead server: exit 3 with --no-fail-fast, the others' tools still listed.
    let down = TestServer::builder().fault(mcp_orchestrator::testing::Fault::RefuseConnections).start().unwrap();
    let r = run(&["tools", "--config", live_and_down(&a, &down).path(), "--no-fail-fast"]);
    assert_exit(&r, 3);
    assert!(r.stdout.contains("echo") && r.stdout.contains("down_mcp: "), "{}", r.stdout);
}

#[test]
fn resources_lists_the_merge_and_the_templates_and_read_reads_from_the_winner() {
    let (a, b) = two_servers();
    let config = config_for(&a, &b, "");
    let r = run(&["resources", "--config", config.path()]);
    assert_exit(&r, 0);
    let x = r.stdout.lines().find(|l| l.starts_with("shared://x")).unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(x.split_whitespace().take(3).eq(["shared://x", "a", "b"]), "{x}");
    assert!(r.stdout.lines().any(|l| l.starts_with("a://items/{id}") && l.contains(" a ")), "{}", r.stdout);

    let r = run(&["resources", "--config", config.path(), "--format", "json"]);
    assert_exit(&r, 0);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    let uris: Vec<&str> = doc["resources"].as_array().unwrap().iter().map(|m| m["uri"].as_str().unwrap()).collect();
    assert_eq!(uris, ["a://blob", "b://only", "shared://x"]);
    assert_eq!(doc["resources"][2]["shadowed"], json!(["b"]));
    assert_eq!(doc["templates"][0]["uriTemplate"], "a://items/{id}");
    assert_eq!(doc["templates"][0]["server"], "a");

    // The winner's copy: a has priority 1.
    let r = run(&["read", "--config", config.path(), "shared://x"]);
    assert_exit(&r, 0);
    assert_eq!(r.stdout, "hello from a\n");
    let r = run(&["read", "--config", config.path(), "--format", "json", "a://blob"]);
    assert_exit(&r, 0);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert_eq!((doc["server"].as_str(), doc["contents"][0]["blob"].as_str()), (Some("a"), Some("AAEC/w==")));
    let r = run(&["read", "--config", config.path(), "a://blob"]);
    assert_exit(&r, 0);
    assert!(r.stdout.starts_with("[blob a://blob: application/octet-stream"), "{}", r.stdout);
    // --server b: b's copy.
    let r = run(&["read", "--config", config.path(), "--server", "b", "shared://x"]);
    assert_exit(&r, 0);
    assert_eq!(r.stdout, "hello from b\n");

    let r = run(&["read", "--config", config.path(), "nothing://here"]);
    assert_exit(&r, 1);
    assert!(r.stderr.contains("no server lists `nothing://here`"), "{}", r.stderr);
}

#[test]
fn prompts_lists_the_merged_prompts_and_get_routes_to_the_owner() {
    let a = TestServer::builder().name("server-a").prompt("greet", "hello {who}").start().expect("start a");
    let b = TestServer::builder()
        .name("server-b")
        .prompt("greet", "hi {who}")
        .prompt("review", "review {code} in {language}")
        .start()
        .expect("start b");
    let config = config_for(&a, &b, "");
    let r = run(&["prompts", "--config", config.path()]);
    assert_exit(&r, 0);
    let line = |start: &str| r.stdout.lines().find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("{}", r.stdout));
    // greet: a (priority 1) wins, b is shadowed.
    assert!(line("greet ").split_whitespace().take(5).eq(["greet", "a", "1", "who", "b"]), "{}", r.stdout);
    assert!(line("review ").split_whitespace().take(4).eq(["review", "b", "5", "code,"]), "{}", r.stdout);

    let r = run(&["prompts", "--config", config.path(), "--format", "json"]);
    assert_exit(&r, 0);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    let prompts = doc["prompts"].as_array().unwrap();
    let names: Vec<(&str, &str)> =
        prompts.iter().map(|p| (p["name"].as_str().unwrap(), p["server"].as_str().unwrap())).collect();
    assert_eq!(names, [("greet", "a"), ("review", "b")]);
    assert_eq!(prompts[0]["shadowed"], json!(["b"]));
    assert_eq!(prompts[0]["original"], "greet");
    assert_eq!(prompts[0]["priority"], 1);
    assert_eq!(prompts[1]["arguments"][1], json!({"name": "language", "required": true}));
    let status = statuses(&doc);
    assert_eq!(status, [("a", "ok"), ("b", "ok"), ("c", "skipped")]);

    // --server b: b's greet is the only one.
    let r = run(&["prompts", "--config", config.path(), "--server", "b", "--format", "json"]);
    assert_exit(&r, 0);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((doc["prompts"][0]["server"].as_str(), doc["prompts"][0]["shadowed"].clone()), (Some("b"), json!([])));

    // get: from the winner, with the arguments.
    let r = run(&["prompts", "get", "greet", "--config", config.path(), "-a", "who=Ann"]);
    assert_exit(&r, 0);
    assert!(r.stdout.contains("[user]") && r.stdout.contains("Ann"), "{}", r.stdout);
    let r =
        run(&["prompts", "get", "review", "-c", config.path(), "-a", "code=x", "-a", "language=rust", "-f", "json"]);
    assert_exit(&r, 0);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert_eq!((doc["name"].as_str(), doc["server"].as_str()), (Some("review"), Some("b")));
    assert_eq!(doc["messages"][0]["role"], "user");
    let text = doc["messages"][0]["content"]["text"].as_str().unwrap();
    assert!(text.contains('x') && text.contains("rust"), "{doc}");

    let r = run(&["prompts", "get", "nope", "--config", config.path()]);
    assert_exit(&r, 1);
    assert!(r.stderr.contains("no server offers a prompt named `nope`"), "{}", r.stderr);
    let r = run(&["prompts", "get", "nope", "--config", config.path(), "--format", "json"]);
    assert_exit(&r, 1);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert!(doc["error"].as_str().is_some_and(|e| e.contains("`nope`")), "{doc}");
    assert_eq!(doc["servers"][0], json!({"name": "a", "priority": 1, "status": "ok", "error": null}));
    let r = run(&["prompts", "get", "greet", "--config", config.path(), "-a", "who"]);
    assert_exit(&r, 2);

    // A dead server: fail-fast exits 1; --no-fail-fast lists the others' and exits 3, in JSON too.
    let down = TestServer::builder().fault(mcp_orchestrator::testing::Fault::RefuseConnections).start().unwrap();
    let config = live_and_down(&a, &down);
    let r = run(&["prompts", "--config", config.path()]);
    assert_exit(&r, 1);
    assert!(r.stderr.contains("down_mcp"), "{}", r.stderr);
    for listing in ["prompts", "tools", "resources"] {
        let r = run(&[listing, "--config", config.path(), "--format", "json"]);
        assert_exit(&r, 1);
        let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{listing}: {e}: {}", r.stdout));
        assert!(doc["error"].as_str().is_some_and(|e| e.contains("down_mcp")), "{listing}: {doc}");
        assert!(doc["op_id"].as_str().is_some(), "{listing}: {doc}");
        assert_eq!(doc["servers"][1]["status"], "failed", "{listing}: {doc}");
    }
    let r = run(&["prompts", "--config", config.path(), "--no-fail-fast", "--format", "json"]);
    assert_exit(&r, 3);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert_eq!(doc["prompts"][0]["name"], "greet");
    assert_eq!(doc["servers"][1]["status"], "failed");
    assert!(doc["servers"][1]["error"].as_str().is_some_and(|e| e.contains("down_mcp")), "{doc}");
}

/// Runs the command under `script(1)`, which gives it a pseudo-terminal for stdin, stdout and
/// stderr (util-linux; the test fails, rather than passing unrun, where it is missing).
fn run_on_a_terminal(args: &[&str]) -> Run {
    let script = ["/usr/bin/script", "/bin/script"].into_iter().find(|p| Path::new(p).exists());
    let script = script.expect("this test needs util-linux `script` to give the command a terminal");
    let mut line = String::from(env!("CARGO_BIN_EXE_mcp-orchestrator"));
    for arg in args {
        assert!(arg.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c)), "no quoting needed: {arg}");
        line.push(' ');
        line.push_str(arg);
    }
    // -q quiet, -e the command's exit status, -c the command line, /dev/null no typescript file.
    run_program(script, None, &["-qec", &line, "/dev/null"], &[])
}

#[test]
fn progress_is_a_line_per_server_on_a_terminal_and_silent_otherwise() {
    let (a, _b) = two_servers();
    let down = TestServer::builder().fault(mcp_orchestrator::testing::Fault::RefuseConnections).start().unwrap();
    let config = live_and_down(&a, &down);
    let args = ["gather", "--config", config.path(), "--no-fail-fast"];

    // Not a terminal (the pipes of these tests): the library's warnings and the partial
    // notice on stderr, no progress line.
    let r = run(&args);
    assert_exit(&r, 3);
    assert!(!r.stderr.contains("connecting to") && !r.stderr.contains(": connected ("), "{}", r.stderr);
    assert!(!r.stderr.lines().any(|l| l.starts_with("  ")), "{}", r.stderr);
    assert!(r.stderr.lines().last().is_some_and(|l| l.starts_with("partial:")), "{}", r.stderr);

    let r = run_on_a_terminal(&args);
    assert_exit(&r, 3);
    // script(1) merges the terminal's output onto its stdout.
    let out = r.stdout.replace('\r', "");
    assert!(out.contains("connecting to 2 server(s)..."), "{out}");
    assert!(out.contains("  a: connected (sse, protocol "), "{out}");
    assert!(out.contains("  down_mcp: failed to connect: connect: "), "{out}");
    assert!(out.contains("  a: gathered 2 resource(s), 1 template(s), 2 tool(s), 0 prompt(s), 2 read in "), "{out}");
    assert!(out.contains("  down_mcp: failed to gather: "), "{out}");
    assert!(!out.contains("off:"), "a disabled server is not connected: {out}");
}

/// Secrets a stdio server's arguments may carry.
const ARG_SECRETS: [&str; 4] = ["ARGSECRET1", "ARGSECRET2", "ghp_ARGSECRET3", "ARGSECRET4"];

#[test]
fn stdio_arguments_that_look_secret_are_hidden_in_check_status_and_config_errors() {
    let config = TempFile::new(
        "stdio-secrets.yaml",
        "mcp_servers:\n\
         \x20 gh:\n    transport: stdio\n    command: /nonexistent/mcp-server\n    priority: 1\n    timeout: 5\n\
         \x20   args: [\"--token\", \"ARGSECRET1\", \"--api-key=ARGSECRET2\", \"ghp_ARGSECRET3\", \"https://u:ARGSECRET4@h/x\", \"--port\", \"8080\"]\n",
    );
    let shown = "/nonexistent/mcp-server --token *** --api-key=*** *** https://***@h/x --port 8080";
    let no_secret = |r: &Run| {
        for secret in ARG_SECRETS {
            assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret), "{secret}:\n{}\n{}", r.stdout, r.stderr);
        }
    };
    let r = run(&["check", "--config", config.path()]);
    assert_exit(&r, 0);
    no_secret(&r);
    assert!(r.stdout.contains(shown), "{}", r.stdout);
    let r = run(&["check", "--config", config.path(), "--format", "json"]);
    assert_exit(&r, 0);
    no_secret(&r);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert_eq!(doc["servers"][0]["command"], "/nonexistent/mcp-server");
    assert_eq!(
        doc["servers"][0]["args"],
        json!(["--token", "***", "--api-key=***", "***", "https://***@h/x", "--port", "8080"])
    );
    for args in [&["status", "--config", config.path()][..], &["status", "--config", config.path(), "-f", "json"]] {
        let r = run_in(None, args, &[("RUST_LOG", "trace")]);
        assert_exit(&r, 1);
        no_secret(&r);
        assert!(r.stdout.contains("--token ***"), "{args:?}: {}", r.stdout);
    }

    // A config error on the line of the arguments: its snippet hides them too.
    let bad = TempFile::new(
        "stdio-secrets-bad.yaml",
        "mcp_servers:\n  gh:\n    transport: stdio\n    command: srv\n    priority: 1\n    args: \"--token ARGSECRET1 --api-key=ARGSECRET2\"\n",
    );
    let r = run(&["check", "--config", bad.path()]);
    assert_exit(&r, 2);
    no_secret(&r);
    assert!(r.stderr.contains("`args`") && r.stderr.contains("--token ***"), "{}", r.stderr);
}

#[test]
fn every_subcommand_that_reads_a_config_exits_2_on_an_invalid_one_and_3_when_partial() {
    let bad = TempFile::new(
        "invalid.yaml",
        "mcp_servers:\n  db:\n    url: \"http://h/sse\"\n    transport: carrier-pigeon\n",
    );
    for command in [
        &["check"][..],
        &["gather"],
        &["tools"],
        &["resources"],
        &["prompts"],
        &["prompts", "get", "p"],
        &["read", "a://x"],
        &["call", "t"],
        &["status"],
    ] {
        let mut args = command.to_vec();
        args.extend(["--config", bad.path(), "--format", "json"]);
        let r = run(&args);
        assert_exit(&r, 2);
        assert!(
            r.stderr.starts_with("error: config:") && r.stderr.contains("carrier-pigeon"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
    }

    let (a, _b) = two_servers();
    let down = TestServer::builder().fault(mcp_orchestrator::testing::Fault::RefuseConnections).start().unwrap();
    let config = live_and_down(&a, &down);
    for command in [&["resources"][..], &["prompts"], &["read", "shared://x"]] {
        let mut args = command.to_vec();
        args.extend(["--config", config.path(), "--no-fail-fast", "--format", "json"]);
        let r = run(&args);
        assert_exit(&r, 3);
        assert!(r.stderr.contains("partial: 1 of 3 server(s) failed (down_mcp)"), "{args:?}: {}", r.stderr);
        let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", r.stdout));
        assert!(doc.get("error").is_none_or(Value::is_null), "{args:?}: {doc}");
    }
    // read: nothing lists the URI: exit 1 and, with --format json, a document.
    let r = run(&["read", "--config", config.path(), "--no-fail-fast", "--format", "json", "nothing://here"]);
    assert_exit(&r, 1);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert!(doc["error"].as_str().is_some_and(|e| e.contains("nothing://here")), "{doc}");
    let status: Vec<&str> = doc["servers"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["ok", "failed", "skipped"]);
}

#[test]
fn call_task_prints_status_changes_and_the_result_and_tasks_get_wait_cancel_find_a_task_by_id() {
    use mcp_orchestrator::testing::{ProtocolMode, TaskBehaviour};
    let server = TestServer::builder()
        .name("ci")
        .protocol_mode(ProtocolMode::ModernOnly)
        .simple_tool("build", "builds", |_| Ok(text_result("built")))
        .task_tool("build", TaskBehaviour::CompletesAfter(1))
        .simple_tool("deploy", "deploys", |_| Ok(text_result("deployed")))
        .task_tool("deploy", TaskBehaviour::Working)
        .start()
        .expect("start the server");
    let config = TempFile::new(
        "tasks.yaml",
        &format!(
            "mcp_servers:\n  ci:\n    url: \"{}\"\n    transport: streamable_http\n    priority: 1\n    timeout: 10\n",
            server.mcp_url()
        ),
    );
    let r = run(&["call", "--config", config.path(), "--server", "ci", "--task", "build"]);
    assert_exit(&r, 0);
    assert_eq!(r.stdout.trim(), "built");
    let id = r.stderr.lines().find_map(|l| l.strip_prefix("task ")?.strip_suffix(" on server `ci`")).expect(&r.stderr);
    let statuses: Vec<&str> =
        r.stderr.lines().filter_map(|l| l.strip_prefix("task ")).filter(|l| !l.contains(' ')).collect();
    assert_eq!(statuses, ["working", "completed"], "{}", r.stderr);
    assert_eq!(server.stats().task_polls[id], 2);

    // A task that outlives --wait: its id, and how to resume it.
    let r = run(&["call", "--config", config.path(), "-s", "ci", "--task", "--wait", "0.2", "deploy"]);
    assert_exit(&r, 1);
    let id = r.stderr.lines().find_map(|l| l.strip_prefix("task ")?.strip_suffix(" on server `ci`")).expect(&r.stderr);
    assert!(r.stderr.contains(&format!("resume with: mcp-orchestrator tasks wait ci {id}")), "{}", r.stderr);
    let r = run(&["tasks", "get", "--config", config.path(), "ci", id]);
    assert_exit(&r, 0);
    assert_eq!(r.stdout.trim(), format!("{id} working"));
    let r = run(&["tasks", "cancel", "--config", config.path(), "--format", "json", "ci", id]);
    assert_exit(&r, 0);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((doc["taskId"].as_str(), doc["status"].as_str()), (Some(id), Some("cancelled")), "{doc}");
    let r = run(&["tasks", "wait", "--config", config.path(), "ci", id]);
    assert_exit(&r, 1);
    assert!(r.stderr.contains(&format!("cancelled: task `{id}` was cancelled")), "{}", r.stderr);
    let r = run(&["tasks", "get", "--config", config.path(), "ci", "no-such-task"]);
    assert_exit(&r, 1);
    assert!(r.stderr.contains("-32602") && r.stderr.contains("tasks/get"), "{}", r.stderr);
}
