//! The orchestrator's lifecycle: [`Orchestrator::initialize`] connects every server in parallel
//! (fail-fast aborts the rest, a `close()` meanwhile wins through the generation), and
//! [`Orchestrator::close`] ends every session and every process the connects started, in bounded
//! time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::progress::{ProgressEvent, ProgressStage};
use super::slot::{self, Slot};
use super::{COLLECT_SLACK, Orchestrator, Phase};
use crate::client::Client;
use crate::config::ServerConfig;
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::pool::Pool;
use crate::transport::child::Processes;
use crate::transport::{CLOSE_BOUND, deadline_in};
use crossbeam_channel::RecvTimeoutError;

/// How an initialize's connect jobs are told to give up.
struct Abort {
    flag: Arc<AtomicBool>,
    processes: Arc<Processes>,
}

struct Connected {
    config: Arc<ServerConfig>,
    client: Arc<Client>,
}

impl Orchestrator {
    /// Connects to every enabled server in parallel, at most `max_concurrent_connections` at
    /// once, each within its own `timeout`.
    ///
    /// With `fail_fast`, the first failure is returned at once (sessions already open are
    /// closed, those still connecting close themselves). Without it, failures are recorded and
    /// it is an error only when no server connected. Calling it again while connected does
    /// nothing; concurrent calls connect once.
    pub fn initialize(&self) -> Result<()> {
        let op = OpId::new();
        let servers: Vec<ServerConfig> = self.config().enabled_servers().cloned().collect();
        if servers.is_empty() {
            return Err(Error::NoServer { detail: "every server in the config is disabled".into(), op });
        }
        let max_timeout = servers.iter().map(|s| s.timeout).max().unwrap_or_default();
        // No more threads than servers: a pool of 1000 for 3 servers would be waste.
        let size = self.orchestration.max_concurrent_connections.clamp(1, servers.len());
        let rounds = servers.len().div_ceil(size.max(1)) as u32;
        let deadline = deadline_in(max_timeout.saturating_mul(rounds).saturating_add(CLOSE_BOUND + COLLECT_SLACK));

        // Claim the connecting phase, or wait for whoever has it.
        let (pool, generation, abort) = {
            let mut state = self.lock();
            loop {
                match state.phase {
                    Phase::Ready => return Ok(()),
                    Phase::Idle => break,
                    Phase::Connecting => {
                        let wait = deadline.saturating_duration_since(Instant::now());
                        if wait.is_zero() {
                            return Err(Error::Timeout {
                                server: "*".into(),
                                method: "initialize".into(),
                                op,
                                phase: crate::deadline::Phase::ConcurrentInitialize,
                                after: max_timeout,
                            });
                        }
                        state = self.changed.wait_timeout(state, wait).unwrap_or_else(|e| e.into_inner()).0;
                    }
                }
            }
            state.phase = Phase::Connecting;
            state.closed = false;
            state.abort = Arc::new(AtomicBool::new(false));
            state.processes = Arc::new(Processes::default());
            let abort = Abort { flag: state.abort.clone(), processes: state.processes.clone() };
            match &state.pool {
                Some(p) => (p.clone(), state.generation, abort),
                None => match Pool::new(size, "mcp-orchestrator") {
                    Ok(p) => {
                        let p = Arc::new(p);
                        state.pool = Some(p.clone());
                        (p, state.generation, abort)
                    }
                    Err(e) => {
                        state.phase = Phase::Idle;
                        self.changed.notify_all();
                        return Err(Error::NoServer { detail: format!("cannot start the thread pool: {e}"), op });
                    }
                },
            }
        };

        log::info!("op={op}: connecting to {} server(s), {} at a time", servers.len(), pool.size());
        let result = self.connect_all(&op, &pool, servers, deadline, abort);
        let mut state = self.lock();
        if state.generation != generation {
            // close() ran while we connected: what we opened is closed, not installed.
            state.phase = Phase::Idle;
            self.changed.notify_all();
            drop(state);
            if let Ok((clients, _)) = result {
                close_all(clients.into_iter().map(|c| c.client).collect());
            }
            return Err(Error::Closed { what: "orchestrator (closed during initialize)".into(), op });
        }
        match result {
            Ok((clients, mut failures)) => {
                let mut clients: BTreeMap<String, Connected> =
                    clients.into_iter().map(|c| (c.config.name.clone(), c)).collect();
                let o = &self.orchestration;
                // The servers configured now: `add_server` and `remove_server` may have changed
                // them while we connected. A server added meanwhile connects at its first use;
                // a session of a server removed (or replaced) meanwhile is closed.
                let config = state.config.clone();
                state.slots = config
                    .enabled_servers()
                    .map(|s| {
                        let connected = clients.remove(&s.name).filter(|c| *c.config == *s);
                        let failed = failures.remove(&s.name);
                        let slot = match (connected, failed) {
                            (Some(c), _) => Slot::new(c.config, Ok(c.client), o),
                            (None, Some(e)) => Slot::new(Arc::new(s.clone()), Err(e), o),
                            (None, None) => Slot::pending(Arc::new(s.clone())),
                        };
                        Arc::new(slot)
                    })
                    .collect();
                state.phase = Phase::Ready;
                state.last = None;
                state.warm = None;
                self.changed.notify_all();
                drop(state);
                close_in_background(clients.into_values().map(|c| c.client).collect());
                log::info!("op={op}: initialized");
                Ok(())
            }
            Err(e) => {
                state.phase = Phase::Idle;
                self.changed.notify_all();
                drop(state);
                log::debug!("op={op}: initialize failed: {e}");
                Err(e)
            }
        }
    }

    fn connect_all(
        &self,
        op: &OpId,
        pool: &Pool,
        servers: Vec<ServerConfig>,
        deadline: Instant,
        abort: Abort,
    ) -> Result<(Vec<Connected>, BTreeMap<String, Error>)> {
        let fail_fast = self.orchestration.fail_fast;
        let mut unreported: BTreeMap<String, u32> = servers.iter().map(|s| (s.name.clone(), s.priority)).collect();
        let hooks = self.hooks.clone();
        let parent = op.clone();
        let abort_job = abort.flag.clone();
        let processes = abort.processes.clone();
        let total = servers.len();
        let progress = self.progress.clone();
        let rx = pool.fan_out(servers, move |i, server: ServerConfig| {
            let child = parent.child(i);
            if abort_job.load(Ordering::SeqCst) {
                log::debug!("op={child} server={}: not connecting: the call already failed", server.name);
                return (server, None);
            }
            progress.emit(|| ProgressEvent::Connecting { server: server.name.clone(), op: child.clone() });
            let started = Instant::now();
            let result = slot::connect(&server, &child, processes.clone(), &hooks);
            let elapsed = started.elapsed();
            match &result {
                Ok(_) => log::debug!("op={child} server={}: connected in {elapsed:?}", server.name),
                // Under fail-fast the error is returned to the caller: no need to log it twice.
                Err(e) if fail_fast => log::debug!("op={child} server={}: {e}", server.name),
                Err(e) => log::warn!("op={child} server={}: {e}", server.name),
            }
            progress.emit(|| match &result {
                Ok(client) => ProgressEvent::Connected {
                    server: server.name.clone(),
                    op: child.clone(),
                    protocol: client.protocol_version().to_string(),
                    transport: client.transport(),
                    elapsed,
                },
                Err(e) => ProgressEvent::failed(&server.name, &child, ProgressStage::Connect, e),
            });
            (server, Some(result))
        });

        let mut clients: Vec<Connected> = Vec::new();
        let mut failures = BTreeMap::new();
        let fail = |e: Error, clients: Vec<Connected>, abort: &Abort| {
            abort.flag.store(true, Ordering::SeqCst);
            // Connects still in flight are abandoned: their processes are killed now (their jobs
            // reap them, and so does `close()`). Open sessions are closed gracefully, off the
            // caller's path (a stdio server may take its exit grace); `close()` ends their
            // processes at once if it comes first.
            abort.processes.abort();
            close_in_background(clients.into_iter().map(|c| c.client).collect());
            Err(e)
        };
        for _ in 0..total {
            let received = rx.recv_deadline(deadline);
            if let Ok((_, (server, _))) = &received {
                unreported.remove(&server.name);
            }
            match received {
                Ok((i, (server, Some(Ok(client))))) => {
                    abort.processes.release(&op.child(i));
                    clients.push(Connected { config: Arc::new(server), client: Arc::new(client) })
                }
                Ok((_, (server, Some(Err(e))))) => {
                    if fail_fast {
                        // Clients that finish after this point are dropped with the channel,
                        // and a dropped Client closes its session.
                        drop(rx);
                        return fail(e, clients, &abort);
                    }
                    failures.insert(server.name, e);
                }
                Ok((_, (_, None))) => {}
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        // A server whose job never reported (it panicked, or the deadline passed) is a failure,
        // never a silent omission.
        for (name, _) in unreported {
            let e = Error::Timeout {
                server: name.clone(),
                method: "connect".into(),
                op: op.clone(),
                phase: crate::deadline::Phase::ConnectJob,
                after: deadline.saturating_duration_since(Instant::now()),
            };
            if fail_fast {
                return fail(e, clients, &abort);
            }
            failures.insert(name, e);
        }
        if clients.is_empty() {
            let detail = if failures.is_empty() {
                "no server connected".to_string()
            } else {
                let why: Vec<String> = failures.values().map(|e| e.to_string()).collect();
                format!("no server connected: {}", why.join("; "))
            };
            return Err(Error::NoServer { detail, op: op.clone() });
        }
        clients.sort_by(|a, b| (a.config.priority, &a.config.name).cmp(&(b.config.priority, &b.config.name)));
        Ok((clients, failures))
    }

    /// Why each server that has no session now failed to connect (with `fail_fast: false`, or
    /// after a session died and could not be re-established).
    pub fn connect_failures(&self) -> BTreeMap<String, Error> {
        let slots = self.lock().slots.clone();
        slots
            .iter()
            .filter_map(|s| {
                let st = s.lock();
                match (&st.client, &st.error) {
                    (None, Some(e)) => Some((s.config.name.clone(), e.clone())),
                    _ => None,
                }
            })
            .collect()
    }

    /// Closes every session and stops the threads. Idempotent and bounded in time; calls after
    /// it fail with [`Error::Closed`] until the next [`initialize`](Self::initialize). When it
    /// returns, no process the library started (a stdio server, or one it started) remains,
    /// including those of connects still in flight or abandoned by fail-fast.
    pub fn close(&self) {
        let op = OpId::new();
        let (slots, pool, processes) = {
            let mut state = self.lock();
            // An initialize in progress sees the new generation when it finishes, closes what it
            // opened and resets the phase itself; its queued connect jobs give up now.
            state.generation += 1;
            state.closed = true;
            state.abort.store(true, Ordering::SeqCst);
            if matches!(state.phase, Phase::Ready) {
                state.phase = Phase::Idle;
            }
            state.last = None;
            state.warm = None;
            (std::mem::take(&mut state.slots), state.pool.take(), state.processes.clone())
        };
        // Reconnects in flight see their slot closed and close what they open.
        let clients: Vec<Arc<Client>> = slots.iter().filter_map(|s| s.close()).collect();
        if !clients.is_empty() {
            log::info!("op={op}: closing {} session(s)", clients.len());
        }
        close_all(clients);
        // Whatever the sessions did not end — the processes of connects still in flight, or of
        // an initialize that this close interrupted — is killed and reaped here.
        processes.reap_all(CLOSE_BOUND);
        // Dropping the last handle to the pool ends its threads once their jobs return.
        drop(pool);
        self.cache.clear();
    }
}

impl Drop for Orchestrator {
    fn drop(&mut self) {
        self.close();
    }
}

/// [`close_all`] on a thread of its own (`mcp-close-all`), which ends when they are closed
/// (each close is bounded). Without a thread, dropping them closes them here.
pub(super) fn close_in_background(clients: Vec<Arc<Client>>) {
    if clients.is_empty() {
        return;
    }
    let spawned = std::thread::Builder::new().name("mcp-close-all".into()).spawn(move || close_all(clients));
    if let Err(e) = spawned {
        log::warn!("cannot start a thread to close sessions ({e}); closing them here");
    }
}

/// A close that has not finished within this has company: the sessions not yet closed are
/// closed in parallel. A close of a responsive server takes well under a millisecond (a flag,
/// an agent shut down, a DELETE, a join).
const QUICK_CLOSE: Duration = Duration::from_millis(5);
/// However quick each close, after this long the sessions not yet closed are closed in
/// parallel, so that many quick closes do not add up.
const QUICK_CLOSES: Duration = Duration::from_millis(50);

/// Closes sessions within about one close's bound (each is bounded) and [`QUICK_CLOSES`]. This
/// thread closes them one after the other; a watcher (`mcp-close-watch`) sees its progress and,
/// as soon as one close has taken [`QUICK_CLOSE`] or all of them [`QUICK_CLOSES`], closes every
/// session not yet started on a thread of its own (`mcp-close:<server>`). On responsive servers
/// that is one thread for all of them, where a thread per session cost 7-9 % of a 50-200
/// server gather's CPU (BENCHMARKS.md, "Issue 22").
pub(super) fn close_all(clients: Vec<Arc<Client>>) {
    if clients.len() <= 1 {
        clients.iter().for_each(|c| c.close());
        return;
    }
    let next = AtomicUsize::new(0); // the next session to close, whoever closes it
    let closed = AtomicUsize::new(0);
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
    std::thread::scope(|scope| {
        let watcher = std::thread::Builder::new().name("mcp-close-watch".into()).spawn_scoped(scope, || {
            let started = Instant::now();
            let mut seen = 0;
            loop {
                match done_rx.recv_timeout(QUICK_CLOSE) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => return, // this thread has closed them all
                }
                let now = closed.load(Ordering::SeqCst);
                if now == seen || started.elapsed() >= QUICK_CLOSES {
                    break;
                }
                seen = now;
            }
            close_rest_in_parallel(scope, &clients, &next);
        });
        if watcher.is_err() {
            // No watcher to be had: a thread per session, as far as threads can be had.
            close_rest_in_parallel(scope, &clients, &next);
            return;
        }
        while let Some(client) = clients.get(next.fetch_add(1, Ordering::SeqCst)) {
            client.close();
            closed.fetch_add(1, Ordering::SeqCst);
        }
        drop(done_tx);
    });
}

/// Closes every session of `clients` from `next` on, each on a thread of its own (`mcp-close:
/// <server>`) in `scope`, or here when no thread can be had.
fn close_rest_in_parallel<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    clients: &'env [Arc<Client>],
    next: &AtomicUsize,
) {
    while let Some(client) = clients.get(next.fetch_add(1, Ordering::SeqCst)) {
        let spawned = std::thread::Builder::new()
            .name(format!("mcp-close:{}", client.name()))
            .spawn_scoped(scope, move || client.close());
        if spawned.is_err() {
            client.close();
        }
    }
}
