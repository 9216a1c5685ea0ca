//! The stdio transport: the server is a child process speaking newline-delimited JSON-RPC on
//! its stdin and stdout (one compact message per line); its stderr goes to the log.
//!
//! Threads, all named; close joins them:
//! - `mcp-stdio:<server>` reads stdout lines (each at most `max_line_bytes`; a longer one ends
//!   the session with a limit error rather than growing without bound) and routes them;
//! - `mcp-stdio-err:<server>` forwards stderr lines to `log::debug!` under the server's name;
//! - `mcp-stdio-in:<server>` owns the child's stdin and writes what callers queue. A caller
//!   waits for its write to complete until its deadline at most: a child that stops reading
//!   blocks only this thread, never a caller past its deadline and never close().
//!
//! Close: stdin is closed (the writer drops it), the child gets [`EXIT_GRACE`] to exit, then
//! its process group gets `SIGTERM` and [`TERM_GRACE`], then — whatever the child did — the
//! group gets `SIGKILL` before the child is reaped (see [`child`](super::child)), so that nothing
//! it started (a launcher's server, a grandchild holding its pipes) outlives the session. The
//! threads then end with the pipes; each is waited for within one shared [`CLOSE_BOUND`].

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender, bounded};

use super::child::{GroupChild, Processes, Signal};
use super::{CLOSE_BOUND, Reply, Router, Transport, excerpt};
use crate::error::{Error, Result};
use crate::op::OpId;

/// How long a closed child may take to exit after its stdin is closed before it is signalled.
pub(crate) const EXIT_GRACE: Duration = Duration::from_secs(2);
/// How long a child may take to exit after `SIGTERM` before its group is killed.
pub(crate) const TERM_GRACE: Duration = Duration::from_secs(1);
/// How long the reader waits for the exit status of a child whose stdout ended.
const STATUS_WAIT: Duration = Duration::from_secs(1);
/// Messages queued for the writer thread at most.
const WRITE_QUEUE: usize = 64;
/// The longest stderr line logged whole (the rest of a longer one is dropped).
const STDERR_LINE_LIMIT: usize = 64 * 1024;

/// What to run.
pub(crate) struct StdioSpec<'a> {
    pub command: &'a str,
    pub args: &'a [String],
    pub env: &'a BTreeMap<String, String>,
    pub cwd: Option<&'a Path>,
    /// The longest stdout line (one message) accepted.
    pub max_line_bytes: usize,
    /// Where to record the child, so that an abandoned connect's child can be ended from outside.
    pub processes: Option<&'a Processes>,
}

/// A line for the writer thread, and where to say how writing it went.
type Queued = (Vec<u8>, Option<Sender<std::io::Result<()>>>);

struct Worker {
    name: &'static str,
    handle: JoinHandle<()>,
    done: Receiver<()>,
}

/// One session with a child process.
pub(crate) struct StdioTransport {
    server: Arc<str>,
    router: Arc<Router>,
    child: Arc<GroupChild>,
    /// The writer's queue; taken (dropped) on close, which closes the child's stdin.
    writer: Arc<Mutex<Option<Sender<Queued>>>>,
    workers: Mutex<Vec<Worker>>,
    closing: Arc<AtomicBool>,
    command: String,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere cannot leave an Option<Child> or a Sender inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl StdioTransport {
    /// Spawns the child and its threads.
    pub(crate) fn spawn(spec: &StdioSpec<'_>, router: Arc<Router>, op: &OpId) -> Result<StdioTransport> {
        let server: Arc<str> = router.server().into();
        let connect_err = |detail: String| Error::Connect { server: server.to_string(), op: op.clone(), detail };
        let mut command = Command::new(spec.command);
        command.args(spec.args).envs(spec.env).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some(cwd) = spec.cwd {
            command.current_dir(cwd);
        }
        // Its own process group, so that close() can kill what it started too (a launcher such
        // as `npx` or `uv run` and the server under it), not only the direct child.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        log::debug!("op={op} server={server}: spawning `{}` with {} argument(s)", spec.command, spec.args.len());
        let abandoned = || connect_err("abandoned: the call failed or was closed while connecting".into());
        // Announced before the spawn, so that a close() at this moment waits to see the child.
        let slot = match spec.processes {
            Some(processes) => Some(processes.slot().ok_or_else(abandoned)?),
            None => None,
        };
        let mut child = command.spawn().map_err(|e| connect_err(format!("cannot start `{}`: {e}", spec.command)))?;
        let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let child = Arc::new(GroupChild::new(child));
        if let Some(slot) = slot
            && !slot.register(op, child.clone())
        {
            // The call that wanted it has failed or was closed meanwhile.
            child.kill_and_reap(CLOSE_BOUND);
            return Err(abandoned());
        }
        let closing = Arc::new(AtomicBool::new(false));
        let (write_tx, write_rx) = bounded::<Queued>(WRITE_QUEUE);
        let transport = StdioTransport {
            server: server.clone(),
            router: router.clone(),
            child: child.clone(),
            writer: Arc::new(Mutex::new(Some(write_tx))),
            workers: Mutex::new(Vec::new()),
            closing: closing.clone(),
            command: spec.command.to_string(),
        };
        let (Some(stdin), Some(stdout), Some(stderr)) = (stdin, stdout, stderr) else {
            transport.close();
            return Err(connect_err("the child's pipes are missing".into()));
        };

        let started = transport.start_worker("mcp-stdio-in", move || write_loop(stdin, write_rx)).and_then(|()| {
            let (router, child, closing, op) = (router.clone(), child.clone(), closing.clone(), op.clone());
            let (max, writer) = (spec.max_line_bytes, transport.writer.clone());
            transport.start_worker("mcp-stdio", move || read_loop(stdout, max, &router, &child, &closing, &writer, &op))
        });
        let started = started.and_then(|()| {
            let (server, op) = (server.clone(), op.clone());
            transport.start_worker("mcp-stdio-err", move || stderr_loop(stderr, &server, &op))
        });
        if let Err(e) = started {
            transport.close();
            return Err(connect_err(format!("cannot start a thread: {e}")));
        }
        Ok(transport)
    }

    fn start_worker(&self, name: &'static str, f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
        let (done_tx, done_rx) = bounded::<()>(1);
        let thread = std::thread::Builder::new().name(format!("{name}:{}", self.server));
        let handle = thread.stack_size(super::SMALL_STACK).spawn(move || {
            let _done = done_tx; // dropped when the thread ends: close() waits on it
            f();
        })?;
        lock(&self.workers).push(Worker { name, handle, done: done_rx });
        Ok(())
    }

    fn closed(&self, method: &str, op: &OpId, detail: String) -> Error {
        Error::ConnectionClosed { server: self.server.to_string(), method: method.into(), op: op.clone(), detail }
    }

    /// Why writing failed, with the child's exit status when it has exited.
    fn write_failure(&self, what: String) -> String {
        match self.child.wait_exited(Duration::from_millis(200)) {
            Some(status) => format!("{what}; the server process `{}` exited ({status})", self.command),
            None => what,
        }
    }
}

impl Transport for StdioTransport {
    fn send(&self, mut message: Vec<u8>, method: &str, op: &OpId, deadline: Instant) -> Result<()> {
        let timeout = |phase| Error::Timeout {
            server: self.server.to_string(),
            method: method.to_string(),
            op: op.clone(),
            phase,
            after: deadline.saturating_duration_since(Instant::now()),
        };
        let Some(tx) = lock(&self.writer).clone() else {
            return Err(self.closed(method, op, "the client closed the session".into()));
        };
        // Compact JSON has no raw newline; the line ends ours.
        message.push(b'\n');
        log::trace!("op={op} server={}: -> {}", self.server, String::from_utf8_lossy(&message[..message.len() - 1]));
        let (ack_tx, ack_rx) = bounded(1);
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tx.send_timeout((message, Some(ack_tx)), remaining) {
            Ok(()) => {}
            Err(SendTimeoutError::Timeout(_)) => return Err(timeout(crate::deadline::Phase::StdinBlocked)),
            Err(SendTimeoutError::Disconnected(_)) => {
                return Err(self.closed(method, op, self.write_failure("the server's input is closed".into())));
            }
        }
        match ack_rx.recv_deadline(deadline) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                Err(self.closed(method, op, self.write_failure(format!("writing to the server failed: {e}"))))
            }
            Err(RecvTimeoutError::Timeout) => Err(timeout(crate::deadline::Phase::StdinBlocked)),
            Err(RecvTimeoutError::Disconnected) => {
                Err(self.closed(method, op, self.write_failure("the server's input is closed".into())))
            }
        }
    }

    fn close(&self) {
        if self.closing.swap(true, Ordering::SeqCst) {
            return;
        }
        self.router.fail_all(Reply::Closed("the client closed the session".into()));
        // The writer drains its queue, then drops stdin: the child sees end of input.
        drop(lock(&self.writer).take());
        self.end_process();
        let workers = std::mem::take(&mut *lock(&self.workers));
        // One bound for all three threads, not one each.
        let deadline = Instant::now() + CLOSE_BOUND;
        for worker in workers {
            match worker.done.recv_deadline(deadline) {
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = worker.handle.join();
                }
                _ => log::warn!(
                    "server={}: thread {} still busy {CLOSE_BOUND:?} after close (a process outside the group holds a pipe, or a notification callback runs)",
                    self.server,
                    worker.name
                ),
            }
        }
    }
}

impl StdioTransport {
    /// Ends the child and everything in its process group, and reaps it: end of input, then
    /// [`EXIT_GRACE`]; `SIGTERM`, then [`TERM_GRACE`]; then `SIGKILL` to the group whatever
    /// the child did, before reaping (the group's id stays ours until then). Bounded; no lock
    /// is held across a wait.
    fn end_process(&self) {
        let server = &self.server;
        let mut status = self.child.wait_exited(EXIT_GRACE);
        if status.is_none() {
            log::debug!(
                "server={server}: the process did not exit within {EXIT_GRACE:?} of closing its input; SIGTERM"
            );
            self.child.signal(Signal::Term);
            status = self.child.wait_exited(TERM_GRACE);
        }
        if status.is_none() {
            log::debug!("server={server}: the process ignored SIGTERM for {TERM_GRACE:?}; SIGKILL");
        }
        // Also when the child exited by itself: a process it started may still hold its pipes.
        self.child.signal(Signal::Kill);
        self.child.wait_exited(CLOSE_BOUND);
        match self.child.reap() {
            Some(status) => log::debug!("server={server}: the process exited ({status})"),
            None => log::warn!("server={server}: process {} did not exit even after SIGKILL", self.child.id()),
        }
    }
}

impl Drop for StdioTransport {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer thread: writes queued lines until the queue closes or a write fails.
fn write_loop(mut stdin: ChildStdin, queue: Receiver<Queued>) {
    for (line, ack) in queue {
        let result = stdin.write_all(&line).and_then(|()| stdin.flush());
        let failed = result.is_err();
        if let Some(ack) = ack {
            let _ = ack.try_send(result);
        }
        if failed {
            break;
        }
    }
    // Dropping stdin closes the child's input.
}

/// Reads one line of at most `max` bytes (without its end). `Ok(None)` at end of input,
/// `Err(None)` for a line longer than `max`.
fn read_line(
    reader: &mut impl BufRead,
    max: usize,
    line: &mut Vec<u8>,
) -> std::result::Result<bool, Option<std::io::Error>> {
    line.clear();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let n = reader.by_ref().take(limit).read_until(b'\n', line).map_err(Some)?;
    if n == 0 {
        return Ok(false);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    } else if line.len() > max {
        return Err(None);
    }
    Ok(true)
}

/// The reader thread: routes each stdout line; at end of output fails what is pending with the
/// child's exit status.
fn read_loop(
    stdout: impl Read,
    max: usize,
    router: &Router,
    child: &GroupChild,
    closing: &AtomicBool,
    writer: &Mutex<Option<Sender<Queued>>>,
    op: &OpId,
) {
    let server = router.server().to_string();
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut line = Vec::new();
    let reply = |body: Vec<u8>, method: &str| {
        let mut body = body;
        body.push(b'\n');
        // Cloned, not held: close() drops the last long-lived sender to close the child's input.
        let tx = lock(writer).clone();
        if tx.is_none_or(|tx| tx.send_timeout((body, None), Duration::from_secs(1)).is_err()) {
            log::warn!("op={op} server={server}: could not answer the server's `{method}`: its input is not accepting");
        }
    };
    let why = loop {
        match read_line(&mut reader, max, &mut line) {
            Ok(true) => {
                let Ok(text) = std::str::from_utf8(&line) else {
                    log::warn!(
                        "op={op} server={server}: ignoring an output line that is not UTF-8 ({} bytes)",
                        line.len()
                    );
                    continue;
                };
                if text.trim().is_empty() {
                    continue;
                }
                log::trace!("op={op} server={server}: <- {text}");
                if !text.trim_start().starts_with(['{', '[']) {
                    log::warn!(
                        "op={op} server={server}: ignoring output that is not JSON-RPC: {:?}",
                        excerpt(text, 80)
                    );
                    continue;
                }
                router.handle(text, &reply);
            }
            Ok(false) => {
                let status = child.wait_exited(STATUS_WAIT);
                break Reply::Closed(match status {
                    Some(status) => format!("the server process exited ({status})"),
                    None => "the server process closed its output".into(),
                });
            }
            Err(None) => {
                log::warn!("op={op} server={server}: an output line is longer than {max} bytes; dropping the session");
                break Reply::Limit { what: "message size", limit: max };
            }
            Err(Some(e)) => break Reply::Closed(format!("reading the server's output failed: {e}")),
        }
    };
    let drain = matches!(why, Reply::Limit { .. });
    if closing.load(Ordering::SeqCst) {
        router.fail_all(Reply::Closed("the client closed the session".into()));
    } else {
        log::debug!("op={op} server={server}: output ended: {why:?}");
        router.fail_all(why);
    }
    if drain {
        // Keep the child from blocking on a full pipe, so that it can see the end of its input
        // and exit at close; the bytes are discarded (bounded memory) until its output ends.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    }
}

/// The stderr thread: each line to the log at debug, under the server's name.
fn stderr_loop(stderr: impl Read, server: &str, op: &OpId) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        match read_line(&mut reader, STDERR_LINE_LIMIT, &mut line) {
            Ok(true) => log::debug!("op={op} server={server} stderr: {}", String::from_utf8_lossy(&line)),
            Ok(false) | Err(Some(_)) => return,
            Err(None) => {
                log::debug!("op={op} server={server} stderr: {}…", String::from_utf8_lossy(&line));
                // Skip to the end of the over-long line, a bounded piece at a time.
                let mut rest = Vec::new();
                loop {
                    rest.clear();
                    match reader.by_ref().take(STDERR_LINE_LIMIT as u64).read_until(b'\n', &mut rest) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if rest.last() == Some(&b'\n') => break,
                        Ok(_) => {}
                    }
                }
            }
        }
    }
}
