//! `serve --transport http` stops on SIGTERM: it closes the orchestrator first (an upstream
//! Streamable HTTP session gets its DELETE) and exits 0.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mcp_orchestrator::testing::{TestServer, text_result};

const DEADLINE: Duration = Duration::from_secs(30);

#[test]
fn http_serve_closes_the_orchestrator_on_sigterm() {
    let up = TestServer::builder()
        .name("up")
        .simple_tool("t", "a tool", |_| Ok(text_result("ok")))
        .start()
        .expect("upstream");
    let config = std::env::temp_dir().join(format!("mcp-orch-serve-signal-{}.yaml", std::process::id()));
    std::fs::write(
        &config,
        format!(
            "mcp_servers:\n  up:\n    url: \"{}\"\n    transport: streamable_http\n    priority: 1\n",
            up.mcp_url()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-orchestrator"))
        .args(["serve", "--config"])
        .arg(&config)
        .args(["--transport", "http", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if line.starts_with("serving on ") {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(DEADLINE).is_err() {
        let _ = child.kill();
        panic!("serve did not start within {DEADLINE:?}");
    }
    assert_eq!(up.stats().open_sessions, 1, "serve connected before serving");
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("serve did not exit within {DEADLINE:?} of SIGTERM");
        }
        thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    assert_eq!(up.stats().closed_sessions, 1, "the upstream session was closed (DELETE)");
    let _ = std::fs::remove_file(config);
}
