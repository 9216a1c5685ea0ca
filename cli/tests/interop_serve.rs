//! `mcp-orchestrator serve` against the official Python SDK's client (`mcp` 2.3.0,
//! `tests/interop/serve_check.py`) and the official TypeScript SDK's client
//! (`@modelcontextprotocol/sdk` 1.32.2, `tests/interop/serve_check.mjs`): over stdio (the SDK
//! spawns `serve`) and over Streamable HTTP, each lists the merged tools, calls tools of the
//! upstreams, reads a templated resource and gets a prompt, with three test servers behind;
//! both see a `tools/list_changed` an upstream sends, and neither sees gamma's app-only tool.
//!
//! `#[ignore]`d like the library's `tests/interop_*.rs` (they need the interop venv, and Node
//! with the SDK): `MCP_INTEROP_PYTHON=/path/to/.venv-interop/bin/python
//! MCP_INTEROP_NODE_MODULES=/path/to/.ci/node/node_modules cargo test -p mcp-orchestrator-cli
//! --test interop_serve -- --ignored` (`.ci/run` runs it; `MCP_INTEROP_NODE_MODULES` defaults to
//! the repository's `.ci/node/node_modules`, whose `.bin/node` runs the script).

#[path = "../../tests/support/python.rs"]
mod python;
#[path = "../../tests/support/serve_upstreams.rs"]
mod serve_upstreams;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(90);

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop/serve_check.py")
}

/// A config file serving the three upstreams, in the temp directory.
fn config_file(servers: &[mcp_orchestrator::testing::TestServer], tag: &str) -> PathBuf {
    let mut yaml = String::from("mcp_servers:\n");
    for (i, (name, url, transport)) in serve_upstreams::endpoints(servers).into_iter().enumerate() {
        yaml.push_str(&format!(
            "  {name}:\n    url: \"{url}\"\n    transport: \"{transport}\"\n    priority: {}\n",
            i + 1
        ));
    }
    let path = std::env::temp_dir().join(format!("mcp-orch-serve-{}-{tag}.yaml", std::process::id()));
    std::fs::write(&path, yaml).expect("writing the config");
    path
}

/// Runs `serve_check.py` with `args`, making beta send `tools/list_changed` when it is ready
/// (see [`drive`]).
fn check(args: &[String], beta: &mcp_orchestrator::testing::TestServer, what: &str) {
    let python = python::require_python();
    let child = Command::new(python)
        .arg(script())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting serve_check.py");
    drive(child, beta, what);
}

#[test]
#[ignore = "needs the Python interop venv: set MCP_INTEROP_PYTHON (see tests/interop/README.md), run with --ignored"]
fn python_sdk_client_over_stdio() {
    let servers = serve_upstreams::upstreams();
    let config = config_file(&servers, "stdio");
    let bin = env!("CARGO_BIN_EXE_mcp-orchestrator").to_string();
    let args = ["--stdio".into(), bin, "serve".into(), "--config".into(), config.display().to_string()];
    check(&args, &servers[1], "the SDK client over stdio");
    let _ = std::fs::remove_file(config);
}

/// Kills the serve child when the test ends, however it ends.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `serve --transport http` on a free loopback port for `config`, and its URL.
fn start_http(config: &PathBuf) -> (Serving, String) {
    let mut serving = Serving(
        Command::new(env!("CARGO_BIN_EXE_mcp-orchestrator"))
            .args(["serve", "--config"])
            .arg(config)
            .args(["--transport", "http", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting serve"),
    );
    let stderr = serving.0.stderr.take().expect("serve's stderr");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            eprintln!("serve: {line}");
            if let Some(url) = line.strip_prefix("serving on ") {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let url = rx.recv_timeout(DEADLINE).expect("serve prints its URL");
    (serving, url)
}

#[test]
#[ignore = "needs the Python interop venv: set MCP_INTEROP_PYTHON (see tests/interop/README.md), run with --ignored"]
fn python_sdk_client_over_streamable_http() {
    let servers = serve_upstreams::upstreams();
    let config = config_file(&servers, "http");
    let (serving, url) = start_http(&config);
    check(&["--url".into(), url], &servers[1], "the SDK client over Streamable HTTP");
    drop(serving);
    let _ = std::fs::remove_file(config);
}

/// The `node_modules` holding the TypeScript SDK (and `.bin/node`): `$MCP_INTEROP_NODE_MODULES`,
/// else the repository's `.ci/node/node_modules` (`.ci/run` installs it). A test asked to run
/// fails without it.
fn node_modules() -> PathBuf {
    let dir = std::env::var_os("MCP_INTEROP_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.ci/node/node_modules"));
    assert!(
        dir.join("@modelcontextprotocol/sdk/package.json").is_file() && dir.join(".bin/node").exists(),
        "no TypeScript SDK and node in {} (run .ci/run, or set MCP_INTEROP_NODE_MODULES)",
        dir.display()
    );
    dir
}

/// Runs `serve_check.mjs` with `args`, making beta send `tools/list_changed` when it is ready
/// (see [`drive`]).
fn check_ts(args: &[String], beta: &mcp_orchestrator::testing::TestServer, what: &str) {
    let modules = node_modules();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop/serve_check.mjs");
    let child = Command::new(modules.join(".bin/node"))
        .arg(script)
        .arg("--sdk")
        .arg(&modules)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting serve_check.mjs");
    drive(child, beta, what);
}

/// Reads a check script's lines; when it prints `ready-for-change`, makes beta (legacy SSE)
/// send `tools/list_changed`, again every second until the script saw one (a GET stream may
/// open a little after the calls), within [`DEADLINE`]. The script must end well, printing
/// `ok <transport>` and `saw list_changed`.
fn drive(mut child: Child, beta: &mcp_orchestrator::testing::TestServer, what: &str) {
    let stdout = child.stdout.take().expect("its stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let started = Instant::now();
    let mut out = Vec::new();
    let mut changing = false;
    loop {
        let left = DEADLINE.saturating_sub(started.elapsed());
        if left.is_zero() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: did not finish within {DEADLINE:?}: {out:?}");
        }
        if changing {
            beta.notify("notifications/tools/list_changed", None);
        }
        match rx.recv_timeout(if changing { Duration::from_secs(1) } else { left }) {
            Ok(line) => {
                changing = line == "ready-for-change";
                out.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = child.wait().expect("waiting for node");
    assert!(status.success() && out.iter().any(|l| l.starts_with("ok ")), "{what}: {out:?}");
    assert!(out.iter().any(|l| l == "saw list_changed"), "{what}: {out:?}");
}

#[test]
#[ignore = "needs node and the TypeScript SDK (.ci/node, or MCP_INTEROP_NODE_MODULES), run with --ignored"]
fn typescript_sdk_client_over_stdio() {
    let servers = serve_upstreams::upstreams();
    let config = config_file(&servers, "ts-stdio");
    let bin = env!("CARGO_BIN_EXE_mcp-orchestrator").to_string();
    let args = ["--stdio".into(), bin, "serve".into(), "--config".into(), config.display().to_string()];
    check_ts(&args, &servers[1], "the TypeScript SDK client over stdio");
    let _ = std::fs::remove_file(config);
}

#[test]
#[ignore = "needs node and the TypeScript SDK (.ci/node, or MCP_INTEROP_NODE_MODULES), run with --ignored"]
fn typescript_sdk_client_over_streamable_http() {
    let servers = serve_upstreams::upstreams();
    let config = config_file(&servers, "ts-http");
    let (serving, url) = start_http(&config);
    check_ts(&["--url".into(), url], &servers[1], "the TypeScript SDK client over Streamable HTTP");
    drop(serving);
    let _ = std::fs::remove_file(config);
}
