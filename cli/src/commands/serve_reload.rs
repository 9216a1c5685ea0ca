//! `serve`'s config reloading: on `SIGHUP`, and when the config file's modification time
//! changes (looked at every `--reload-poll-ms`), on one named thread, `mcp-reload`. The new
//! config's servers are applied with [`Server::apply_config`] (the others keep their sessions;
//! the downstream clients get `list_changed`); a config that fails to load is logged (its
//! message redacts secrets) and the running one is kept.
//!
//! The thread sleeps in a read of a socket pair with the poll interval as its timeout: the
//! signal handler (`signal_hook`'s self-pipe) and [`Reloader::stop`] write to it, so a signal
//! is seen at once and the stop never waits for an interval. No busy loop: without polling,
//! the read waits for a signal or the stop alone.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use mcp_orchestrator::Config;
use mcp_orchestrator::serve::Server;

/// How long the thread sleeps between wake-ups when the file is not polled (it still wakes at
/// once on a signal or the stop).
const IDLE: Duration = Duration::from_secs(3600);

/// The running reload thread. [`stop`](Self::stop) it before closing the orchestrator.
pub struct Reloader {
    wake: UnixStream,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    signal: signal_hook::SigId,
}

impl Reloader {
    /// Starts watching `path` (every `poll`, if given) and `SIGHUP`.
    pub fn start(server: Arc<Server>, path: PathBuf, poll: Option<Duration>) -> std::io::Result<Reloader> {
        let (mut sleeper, wake) = UnixStream::pair()?;
        let signal = signal_hook::low_level::pipe::register(signal_hook::consts::SIGHUP, wake.try_clone()?)?;
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = stopping.clone();
        let thread = std::thread::Builder::new().name("mcp-reload".into()).spawn(move || {
            let mut seen = modified(&path);
            let mut buf = [0u8; 64];
            loop {
                if let Err(e) = sleeper.set_read_timeout(Some(poll.unwrap_or(IDLE))) {
                    log::error!("serve: config reloading stops: {e}");
                    return;
                }
                let signalled = match sleeper.read(&mut buf) {
                    Ok(0) => return, // every writer is gone
                    Ok(_) => true,
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => {
                        log::error!("serve: config reloading stops: {e}");
                        return;
                    }
                };
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let now = modified(&path);
                if signalled || now != seen {
                    seen = now;
                    let why = if signalled { "SIGHUP" } else { "the file changed" };
                    reload(&server, &path, why);
                }
            }
        });
        match thread {
            Ok(thread) => Ok(Reloader { wake, stopping, thread: Some(thread), signal }),
            Err(e) => {
                signal_hook::low_level::unregister(signal);
                Err(e)
            }
        }
    }

    /// Stops the thread and waits for it (a reload in progress is bounded by the servers'
    /// timeouts).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        signal_hook::low_level::unregister(self.signal);
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.wake.write_all(&[0]);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Reloader {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The file's modification time (`None` when it cannot be read: a change too, when it comes back).
fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn reload(server: &Server, path: &Path, why: &str) {
    match Config::from_path(path) {
        // The message names the file and each problem; its snippets redact secrets.
        Err(e) => log::error!("serve: reloading the config ({why}) failed; keeping the running one: {e}"),
        Ok(config) => match server.apply_config(&config) {
            Ok(changes) if changes.is_empty() => log::info!("serve: config reloaded ({why}): no server changed"),
            Ok(changes) => {
                log::info!(
                    "serve: config reloaded ({why}): added {:?}, removed {:?}, changed {:?}",
                    changes.added,
                    changes.removed,
                    changes.changed
                );
                for (name, e) in &changes.failed {
                    log::warn!("serve: server `{name}` from the reloaded config is not connected: {e}");
                }
            }
            Err(e) => log::error!("serve: applying the reloaded config failed: {e}"),
        },
    }
}
