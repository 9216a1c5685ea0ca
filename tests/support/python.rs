//! Runs the official Python SDK's MCP server (`tests/interop/server.py`) for interop tests.
//!
//! Include it from an integration test with
//! `#[path = "support/python.rs"] mod python;` (or `pub mod python;` in `tests/support/mod.rs`).
//!
//! The interpreter is `$MCP_INTEROP_PYTHON`, else `.venv-interop/bin/python` in the crate root
//! (`.ci/run` creates it; see `tests/interop/README.md` to do it by hand).
//!
//! Tests marked `#[ignore = "needs the Python interop venv…"]` (the
//! `interop_*` test files; `cargo test` reports them as ignored, `-- --ignored` runs them) call
//! [`require_python`] / [`PythonServer::require`], which fail the test when there is no
//! interpreter: a test that was asked to run never passes without running.
//!
//! Every wait has a deadline; the server child is killed and reaped on drop, and it also
//! shuts itself down when its stdin closes, so even a test process that dies without
//! unwinding does not leave it behind.

#![allow(dead_code, reason = "each integration test crate that includes this file uses a different part of it")]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long the server may take to print `LISTENING <port>`. Importing the SDK takes about a
/// second on an idle machine, but more than 10 s was seen on 2 cores under a load average of 12
/// (parallel test binaries and builds): a deadline, not a speed assertion.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The environment variable naming the Python interpreter (with the `mcp` SDK installed).
pub const PYTHON_ENV: &str = "MCP_INTEROP_PYTHON";

const SETUP_HINT: &str = "set it up with `.ci/run`, or by hand: python3 -m venv .venv-interop && \
     .venv-interop/bin/pip install -r tests/interop/requirements.txt -c tests/interop/requirements.lock \
     (see tests/interop/README.md), or point MCP_INTEROP_PYTHON at an interpreter that has it";

/// The crate root.
fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/interop/server.py`.
pub fn server_script() -> PathBuf {
    manifest_dir().join("tests").join("interop").join("server.py")
}

/// The Python interpreter for an interop test that was asked to run (an `#[ignore]`d test run
/// with `--ignored` or `--include-ignored`).
///
/// # Panics
/// When there is no interpreter, in or out of CI, and whenever `MCP_INTEROP_PYTHON` names a
/// file that does not exist.
pub fn require_python() -> PathBuf {
    find_python().unwrap_or_else(|why| panic!("this interop test was asked to run, but there is {why}"))
}

/// The environment variable naming the Python interpreter with `fastmcp-tasks` installed.
pub const TASKS_PYTHON_ENV: &str = "MCP_TASKS_PYTHON";

/// The interpreter for the FastMCP tasks interop test: `$MCP_TASKS_PYTHON`, else
/// `.venv-tasks/bin/python` in the crate root (`pip install -r tests/interop/requirements-tasks.txt`).
///
/// # Panics
/// When there is none (the test was asked to run), or the variable names a missing file.
pub fn require_tasks_python() -> PathBuf {
    let hint = "set it up with: python3 -m venv .venv-tasks && .venv-tasks/bin/pip install -r \
                tests/interop/requirements-tasks.txt, or point MCP_TASKS_PYTHON at an interpreter that has it";
    if let Some(configured) = std::env::var_os(TASKS_PYTHON_ENV).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(configured);
        assert!(path.is_file(), "{TASKS_PYTHON_ENV}={} does not exist; {hint}", path.display());
        return path;
    }
    let default = manifest_dir().join(".venv-tasks").join("bin").join("python");
    assert!(
        default.is_file(),
        "this interop test was asked to run, but {TASKS_PYTHON_ENV} is not set and {} does not exist; {hint}",
        default.display()
    );
    default
}

/// The interpreter, or why there is none.
///
/// # Panics
/// When `MCP_INTEROP_PYTHON` names a file that does not exist (a misconfiguration, not a
/// missing optional set-up).
fn find_python() -> Result<PathBuf, String> {
    if let Some(configured) = std::env::var_os(PYTHON_ENV).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(configured);
        assert!(path.is_file(), "{PYTHON_ENV}={} does not exist; {SETUP_HINT}", path.display());
        return Ok(path);
    }
    let venv = manifest_dir().join(".venv-interop");
    let default = if cfg!(windows) { venv.join("Scripts").join("python.exe") } else { venv.join("bin").join("python") };
    if default.is_file() {
        return Ok(default);
    }
    Err(format!(
        "no Python for the interop tests: {PYTHON_ENV} is not set and {} does not exist; {SETUP_HINT}",
        default.display()
    ))
}

/// What the stdout reader thread reports about start-up.
enum Startup {
    Listening(u16),
    /// The first line was not `LISTENING <port>`.
    Unexpected(String),
}

/// `tests/interop/server.py` over an HTTP transport (`sse` or `streamable_http`), listening on
/// 127.0.0.1. Killed and reaped on drop.
pub struct PythonServer {
    child: Child,
    /// Held open: the server exits when it is closed (`--exit-on-stdin-eof`).
    stdin: Option<ChildStdin>,
    port: u16,
    args: Vec<String>,
}

impl PythonServer {
    /// Starts `server.py` with `args` (which must choose an HTTP transport, e.g.
    /// `&["--transport", "sse", "--resources", "100"]`) and waits for its port.
    ///
    /// # Panics
    /// When there is no interpreter (see [`require_python`]), and when the server cannot be
    /// spawned, exits, prints something else, or does not print `LISTENING <port>` within
    /// [`STARTUP_TIMEOUT`].
    pub fn require(args: &[&str]) -> PythonServer {
        PythonServer::spawn(&require_python(), &server_script(), args)
    }

    /// `tests/interop/tasks_server.py` (FastMCP with the tasks extension) with `args`, on the
    /// interpreter of [`require_tasks_python`]. Panics as [`PythonServer::require`] does.
    pub fn require_tasks(args: &[&str]) -> PythonServer {
        let script = manifest_dir().join("tests").join("interop").join("tasks_server.py");
        PythonServer::spawn(&require_tasks_python(), &script, args)
    }

    fn spawn(python: &Path, script: &Path, args: &[&str]) -> PythonServer {
        assert!(
            !args.windows(2).any(|w| w == ["--transport", "stdio"]),
            "PythonServer runs HTTP transports; for stdio spawn `require_python()` with `server_script()`"
        );
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let mut child = Command::new(python)
            .arg(script)
            .args(&args)
            .arg("--exit-on-stdin-eof")
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {} {}: {e}", python.display(), args.join(" ")));
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let stdin = child.stdin.take();
        // From here on, a panic drops `server`, which kills the child.
        let mut server = PythonServer { child, stdin, port: 0, args };
        let name = script.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let label = format!("{name} {}", server.args.join(" "));
        forward_stderr(stderr, label.clone());

        let (tx, rx) = mpsc::channel();
        spawn_named("interop-stdout", move || {
            let mut lines = BufReader::new(stdout).lines();
            // On EOF or an unreadable line the sender drops, and the receiver sees that.
            let Some(Ok(first)) = lines.next() else { return };
            let startup = match first.trim().strip_prefix("LISTENING ").map(str::parse) {
                Some(Ok(port)) => Startup::Listening(port),
                _ => Startup::Unexpected(first),
            };
            let _ = tx.send(startup);
            // Nothing else is expected on stdout; show it rather than hide it.
            for line in lines.map_while(Result::ok) {
                eprintln!("[{label} stdout] {line}");
            }
        });

        match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(Startup::Listening(port)) => server.port = port,
            Ok(Startup::Unexpected(line)) => {
                panic!("{} printed {line:?} instead of `LISTENING <port>`", server.describe())
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("{} did not print `LISTENING <port>` within {STARTUP_TIMEOUT:?}", server.describe())
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = server.wait_exit(Duration::from_secs(2));
                panic!(
                    "{} closed its stdout before `LISTENING <port>` (exit: {}); its stderr is in the test output",
                    server.describe(),
                    status.map_or_else(|| "still running".to_owned(), |s| s.to_string())
                )
            }
        }
        server
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The legacy SSE endpoint, `http://127.0.0.1:<port>/sse` (POSTs go to `/messages/`).
    pub fn sse_url(&self) -> String {
        format!("{}/sse", self.base_url())
    }

    /// The Streamable HTTP endpoint, `http://127.0.0.1:<port>/mcp`.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base_url())
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn describe(&self) -> String {
        format!("the Python server {} (pid {})", self.args.join(" "), self.child.id())
    }

    /// Waits up to `limit` for the child to exit, polling; `None` if it is still running.
    fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => return None,
            }
        }
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        // SIGKILL, then reap: never a zombie. `kill` fails only if it already exited.
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The reader threads see EOF now and end by themselves.
    }
}

/// Copies the child's stderr, line by line, to ours (the test harness captures it and shows it
/// when the test fails).
pub fn forward_stderr(stderr: impl Read + Send + 'static, label: String) {
    spawn_named("interop-stderr", move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[{label}] {line}");
        }
    });
}

fn spawn_named(name: &str, f: impl FnOnce() + Send + 'static) {
    thread::Builder::new().name(name.to_owned()).spawn(f).unwrap_or_else(|e| panic!("cannot start thread {name}: {e}"));
}

/// The arguments for running `server.py` over stdio: `[server.py, --transport, stdio, extra...]`,
/// to go after [`python`] in a command (e.g. a `transport: stdio` server config).
pub fn stdio_args(extra: &[&str]) -> Vec<String> {
    let mut args = vec![server_script().to_string_lossy().into_owned(), "--transport".to_owned(), "stdio".to_owned()];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}
