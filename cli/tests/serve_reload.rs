//! `serve` reloads its config while serving: an edited file (its modification time changes)
//! and `SIGHUP` apply the new servers (the others keep their sessions), the downstream client
//! gets `notifications/tools/list_changed` and lists the new tools; a config that fails to load
//! is logged without its secret and the running one is kept.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::thread;
use std::time::{Duration, Instant};

use mcp_orchestrator::testing::{TestServer, text_result};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(30);

/// A `serve` over stdio, its messages and stderr lines read on threads of their own.
struct Serve {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    stderr: Receiver<String>,
    next_id: u64,
}

impl Serve {
    fn start(config: &Path) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-orchestrator"))
            .args(["serve", "--reload-poll-ms", "50", "--config"])
            .arg(config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting serve");
        let (tx, messages) = channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value: Value = serde_json::from_str(&line).expect("serve writes only JSON-RPC on stdout");
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let (tx, stderr) = channel();
        let err = child.stderr.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let stdin = child.stdin.take().unwrap();
        let mut serve = Serve { child, stdin, messages, stderr, next_id: 0 };
        let init = serve.request(
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        );
        assert_eq!(init["result"]["capabilities"]["tools"]["listChanged"], json!(true), "{init}");
        serve.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        serve
    }

    fn send(&mut self, message: Value) {
        writeln!(self.stdin, "{message}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Sends a request and returns its answer (notifications before it are dropped).
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.wait_for(&format!("the answer to {method}"), |m| m["id"] == json!(id))
    }

    /// The first message that `pick` accepts, within the deadline.
    fn wait_for(&self, what: &str, pick: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(m) if pick(&m) => return m,
                Ok(_) => continue,
                Err(_) => panic!("serve sent no {what} within {DEADLINE:?}"),
            }
        }
    }

    /// The first stderr line containing `text`, within the deadline.
    fn wait_for_log(&self, text: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => continue,
                Err(_) => panic!("serve logged no line with {text:?} within {DEADLINE:?}"),
            }
        }
    }

    fn tools(&mut self) -> Vec<String> {
        let answer = self.request("tools/list", json!({}));
        let mut names: Vec<String> = answer["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("{answer}"))
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    }

    fn wait_for_list_changed(&self) {
        self.wait_for("notifications/tools/list_changed", |m| m["method"] == "notifications/tools/list_changed");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn upstream(name: &str, tool: &str) -> TestServer {
    TestServer::builder().name(name).simple_tool(tool, "a tool", |_| Ok(text_result("ok"))).start().unwrap()
}

fn entry(name: &str, server: &TestServer, priority: u32) -> String {
    format!("  {name}:\n    url: \"{}\"\n    transport: streamable_http\n    priority: {priority}\n", server.mcp_url())
}

/// Replaces the file in one step (a rename), with this modification time if given.
fn replace(path: &Path, text: &str, modified: Option<std::time::SystemTime>) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    if let Some(t) = modified {
        std::fs::File::options().write(true).open(&tmp).unwrap().set_modified(t).unwrap();
    }
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn serve_reloads_an_edited_config_and_on_sighup_and_keeps_the_old_one_when_the_new_fails() {
    let a = upstream("a", "a_tool");
    let b = upstream("b", "b_tool");
    let dir = std::env::temp_dir().join(format!("mcp-orch-serve-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("servers.yaml");
    std::fs::write(&config, format!("mcp_servers:\n{}", entry("a", &a, 1))).unwrap();
    let mut serve = Serve::start(&config);
    assert_eq!(serve.tools(), ["a_tool"]);

    // Edited: b added. The file's new modification time is noticed.
    replace(&config, &format!("mcp_servers:\n{}{}", entry("a", &a, 1), entry("b", &b, 2)), None);
    serve.wait_for_list_changed();
    assert_eq!(serve.tools(), ["a_tool", "b_tool"]);
    assert_eq!((a.stats().mcp_sessions, b.stats().mcp_sessions), (1, 1), "a kept its session");

    // A config that does not load: logged, without the secret it holds; the running one stays.
    let broken = format!(
        "mcp_servers:\n{}    headers:\n      Authorization: Bearer sekrit-reload-token\n    bogus_key: 1\n",
        entry("a", &a, 1)
    );
    replace(&config, &broken, None);
    let line = serve.wait_for_log("keeping the running one");
    assert!(line.contains("bogus_key") && line.contains("servers.yaml"), "{line}");
    assert!(!line.contains("sekrit-reload-token"), "the secret was logged: {line}");
    assert_eq!(serve.tools(), ["a_tool", "b_tool"]);

    // SIGHUP reloads though the modification time is the same as before: a removed.
    let same_time = std::fs::metadata(&config).unwrap().modified().unwrap();
    replace(&config, &format!("mcp_servers:\n{}", entry("b", &b, 2)), Some(same_time));
    let hup = Command::new("kill").args(["-HUP", &serve.child.id().to_string()]).status().unwrap();
    assert!(hup.success());
    serve.wait_for_list_changed();
    assert_eq!(serve.tools(), ["b_tool"]);
    assert!(a.wait_until(DEADLINE, |s| s.open_sessions == 0), "a's session was closed");
    assert_eq!(b.stats().mcp_sessions, 1, "b kept its session");
    assert!(serve.child.try_wait().unwrap().is_none(), "serve is still running after SIGHUP");

    let _ = std::fs::remove_dir_all(&dir);
}
