//! [`Orchestrator`]: many servers as one — parallel connect with fail-fast, parallel gather,
//! the merged catalogue, routing by name or URI, sessions that heal, bounded close.

mod progress;
mod slot;
mod status;

pub use progress::{ProgressEvent, ProgressStage};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::cache::{CacheStats, Fetched, ResourceCache, Stamp};
use crate::catalog::{Gathered, ServerOutcome, ServerResources, Status};
use crate::client::Client;
use crate::config::{Config, ServerConfig};
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::pool::Pool;
use crate::protocol::{CallToolResult, GetPromptResult, ResourceContents};
use crate::search::ToolMatch;
use crate::transport::Notification;
use crate::transport::child::Processes;
use crate::transport::{CLOSE_BOUND, deadline_in};
use crossbeam_channel::RecvTimeoutError;
use progress::Progress;
/// The reconnect back-off (`slot.rs`), also used between `subscriptions/listen` attempts.
pub(crate) use slot::backoff;
use slot::{Heal, Hooks, Slot, Subscriber};
pub use status::ServerStatus;

/// The capability (in a server's config) that makes it an executor.
pub const EXECUTE_QUERY: &str = "execute_query";
/// Slack added to the collecting deadline on top of the servers' own timeouts.
const COLLECT_SLACK: Duration = Duration::from_secs(5);

enum Phase {
    Idle,
    Connecting,
    Ready,
}

/// How an initialize's connect jobs are told to give up.
struct Abort {
    flag: Arc<AtomicBool>,
    processes: Arc<Processes>,
}

struct Connected {
    config: Arc<ServerConfig>,
    client: Arc<Client>,
}

struct State {
    phase: Phase,
    pool: Option<Arc<Pool>>,
    /// Every enabled server, in priority order, with its session or why it has none.
    slots: Vec<Arc<Slot>>,
    /// The last gather, returned again while every server's cache entry is the same.
    last: Option<Arc<Gathered>>,
    /// The cache's stamp when a gather last found that every server's entry was the one `last`
    /// was built from (with `last`, and how many entries that was): while the cache says it
    /// still holds, the warm path compares the stamp instead of looking the entries up.
    warm: Option<(Arc<Gathered>, Stamp, u64)>,
    /// Bumped by every `close()`: work started before it must not install its results after.
    generation: u64,
    /// Tells the connect jobs of the initialize in progress to give up (set by fail-fast and
    /// by `close()`).
    abort: Arc<AtomicBool>,
    /// The stdio processes the last initialize started: fail-fast kills those still
    /// connecting, `close()` every one its sessions did not end.
    processes: Arc<Processes>,
    /// `close()` ran and no `initialize` since: calls fail with `Error::Closed`, not
    /// `Error::NotInitialized`.
    closed: bool,
}

/// Many MCP servers used as one.
///
/// `Send + Sync`: share it with `Arc`. Every public call gets an operation id ([`OpId`]) that
/// its log records, its errors and its HTTP requests carry.
pub struct Orchestrator {
    config: Config,
    state: Mutex<State>,
    changed: Condvar,
    cache: Arc<ResourceCache<Arc<ServerResources>>>,
    hooks: Hooks,
    progress: Progress,
}

impl Orchestrator {
    /// The same orchestrator answering every server's elicitation, sampling and roots requests
    /// with `handlers` (each call names the server in its [`RequestContext`](crate::RequestContext)).
    /// Takes effect for the sessions `initialize` opens afterwards.
    pub fn with_handlers(mut self, handlers: crate::handlers::Handlers) -> Orchestrator {
        self.hooks.handlers = handlers;
        self
    }

    /// The same orchestrator with the person's step of the OAuth authorization code flow, for
    /// every server whose config has an `auth` block of `type: oauth`: it gets the authorization
    /// URL (and the server's name) when a server needs a person and no token is held, and
    /// returns the redirect it received (see [`AuthorizationHandler`](crate::AuthorizationHandler);
    /// the command line's opens a browser and listens on the loopback redirect port).
    /// Tokens are kept per server for the orchestrator's life (and in the `token_file`, when the
    /// config names one): reconnects and a new `initialize` reuse them.
    pub fn with_authorization_handler(self, handler: Arc<dyn crate::auth::AuthorizationHandler>) -> Orchestrator {
        for authorizer in self.hooks.authorizers.values() {
            authorizer.set_handler(handler.clone());
        }
        self
    }

    /// An orchestrator for a validated config. Does no I/O.
    pub fn new(mut config: Config) -> Orchestrator {
        // `Config`'s fields are public: restore the order and uniqueness the merge relies on,
        // whatever a caller did to them after validation.
        config.servers.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        let mut seen = std::collections::BTreeSet::new();
        config.servers.retain(|s| {
            let first = seen.insert(s.name.clone());
            if !first {
                log::warn!("server `{}` is configured twice; the first (by priority) is used", s.name);
            }
            first
        });
        let o = &config.orchestration;
        let cache = Arc::new(ResourceCache::new(o.resource_cache_ttl, o.cache_max_bytes));
        let listen = o.listen_for_changes;
        let authorizers = Arc::new(
            config.servers.iter().filter_map(|s| Some((s.name.clone(), crate::auth::for_server(s, None)?))).collect(),
        );
        Orchestrator {
            config,
            state: Mutex::new(State {
                phase: Phase::Idle,
                pool: None,
                slots: Vec::new(),
                last: None,
                warm: None,
                generation: 0,
                abort: Arc::new(AtomicBool::new(false)),
                processes: Arc::new(Processes::default()),
                closed: false,
            }),
            changed: Condvar::new(),
            hooks: Hooks {
                cache: Arc::downgrade(&cache),
                subscribers: Arc::new(Mutex::new(Vec::new())),
                listen,
                handlers: crate::handlers::Handlers::default(),
                authorizers,
            },
            cache,
            progress: Progress::default(),
        }
    }

    /// Calls `f` with each server's progress as [`initialize`](Self::initialize) connects
    /// (connecting, connected, failed) and [`gather_all_resources`](Self::gather_all_resources)
    /// gathers (gathering, gathered, failed); see [`ProgressEvent`] for the order. A gather
    /// answered from the cache reports nothing for the servers it did not ask.
    ///
    /// `f` runs on the pool thread doing that server's work, holding no lock of the
    /// orchestrator (it may call it; a slow `f` delays that server's part). A panic in `f` is
    /// caught and logged. Register before `initialize` to see every event.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use mcp_orchestrator::{Config, Orchestrator, ProgressEvent, ServerConfig};
    ///
    /// // Port 9 (discard) on loopback: nothing listens, the connect fails at once.
    /// let config = Config::builder().server(ServerConfig::sse("down", "http://127.0.0.1:9/sse")).build()?;
    /// let orchestrator = Orchestrator::new(config);
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// orchestrator.on_progress(move |e: &ProgressEvent| log.lock().unwrap().push(format!("{}: {e:?}", e.server())));
    /// assert!(orchestrator.initialize().is_err());
    /// let seen = seen.lock().unwrap();
    /// assert!(seen[0].starts_with("down: Connecting") && seen[1].starts_with("down: Failed"), "{seen:?}");
    /// # Ok::<(), mcp_orchestrator::Error>(())
    /// ```
    pub fn on_progress(&self, f: impl Fn(&ProgressEvent) + Send + Sync + 'static) {
        self.progress.add(Arc::new(f));
    }

    /// Calls `f(server, op, notification)` for every notification any server sends (on the
    /// session's reader thread: keep it short, and do not call the orchestrator from it). The
    /// op id is that of the connect that opened the session. Notifications that change a
    /// server's lists (`…/list_changed`, `resources/updated`) also drop its cache entry.
    /// Subscribe before [`initialize`](Self::initialize) to see every one.
    pub fn subscribe(&self, f: impl Fn(&str, &OpId, &Notification) + Send + Sync + 'static) {
        let f: Subscriber = Arc::new(f);
        self.hooks.subscribers.lock().unwrap_or_else(|e| e.into_inner()).push(f);
    }

    /// The config it was built with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The error of a call that needs a connected orchestrator: closed, or not initialized.
    fn not_ready(&self, state: &State, op: OpId) -> Error {
        if state.closed {
            Error::Closed { what: "orchestrator".into(), op }
        } else {
            Error::NotInitialized { what: "orchestrator".into(), op }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connects to every enabled server in parallel, at most `max_concurrent_connections` at
    /// once, each within its own `timeout`.
    ///
    /// With `fail_fast`, the first failure is returned at once (sessions already open are
    /// closed, those still connecting close themselves). Without it, failures are recorded and
    /// it is an error only when no server connected. Calling it again while connected does
    /// nothing; concurrent calls connect once.
    pub fn initialize(&self) -> Result<()> {
        let op = OpId::new();
        let servers: Vec<ServerConfig> = self.config.servers.iter().filter(|s| s.enabled).cloned().collect();
        if servers.is_empty() {
            return Err(Error::NoServer { detail: "every server in the config is disabled".into(), op });
        }
        let max_timeout = servers.iter().map(|s| s.timeout).max().unwrap_or_default();
        // No more threads than servers: a pool of 1000 for 3 servers would be waste.
        let size = self.config.orchestration.max_concurrent_connections.clamp(1, servers.len());
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
                let o = &self.config.orchestration;
                state.slots = self
                    .config
                    .servers
                    .iter()
                    .filter(|s| s.enabled)
                    .filter_map(|s| {
                        let result = match (clients.remove(&s.name), failures.remove(&s.name)) {
                            (Some(c), _) => Ok(c.client),
                            (None, Some(e)) => Err(e),
                            (None, None) => return None,
                        };
                        Some(Arc::new(Slot::new(Arc::new(s.clone()), result, o)))
                    })
                    .collect();
                state.phase = Phase::Ready;
                state.last = None;
                state.warm = None;
                self.changed.notify_all();
                drop(state);
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
        let fail_fast = self.config.orchestration.fail_fast;
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

    /// Gathers every enabled server's resources, templates, tools, prompts and contents, in
    /// parallel, and merges them into the catalogue (lowest priority number wins; see
    /// [`Gathered`]). Within the cache TTL a server that answered is not asked again; when every
    /// server answered last time, the call sends no request and returns the same `Arc` as the
    /// last call. Each server's part — listings, all pages, and its reads — must finish within
    /// that server's `timeout`.
    ///
    /// A server whose session died is reconnected here (one attempt, not while its back-off
    /// lasts), and so is a server that was down at [`initialize`](Self::initialize) without
    /// `fail_fast`: when it comes up it joins the catalogue and its outcome says `recovered`.
    /// With `serve_stale` (the default), a server whose refresh fails keeps its last good part,
    /// marked [`Status::Stale`] with the error.
    ///
    /// With `fail_fast`, a server that fails (and has nothing stale to serve) fails the call;
    /// without it, the failure is in that server's outcome.
    ///
    /// Not initialized yet (or the last `initialize` failed), it calls
    /// [`initialize`](Self::initialize) first; after [`close`](Self::close) it fails with
    /// [`Error::Closed`] until `initialize` is called again.
    pub fn gather_all_resources(&self) -> Result<Arc<Gathered>> {
        let op = OpId::new();
        let needs_initialize = {
            let state = self.lock();
            if state.closed && !matches!(state.phase, Phase::Ready) {
                return Err(Error::Closed { what: "orchestrator".into(), op });
            }
            !matches!(state.phase, Phase::Ready)
        };
        if needs_initialize {
            self.initialize()?;
        }
        let (pool, slots, last, generation, processes) = {
            let mut state = self.lock();
            if !matches!(state.phase, Phase::Ready) {
                return Err(self.not_ready(&state, op));
            }
            let warm = match (&state.warm, &state.last) {
                (Some((g, stamp, hits)), Some(last)) if Arc::ptr_eq(g, last) => Some((last.clone(), *stamp, *hits)),
                _ => None,
            };
            if let Some((last, stamp, hits)) = warm {
                // Hottest path: the cache has not changed since a gather found every entry to be
                // the one `last` was built from, and none has expired: one counter compared.
                drop(state);
                if self.cache.unchanged(stamp, hits) {
                    return Ok(last);
                }
                state = self.lock();
                if !matches!(state.phase, Phase::Ready) {
                    return Err(self.not_ready(&state, op));
                }
            }
            (state.pool.clone(), state.slots.clone(), state.last.clone(), state.generation, state.processes.clone())
        };
        let Some(pool) = pool else { return Err(Error::Closed { what: "orchestrator".into(), op }) };

        // Warm path: every server's entry is fresh and is the one the last gather used. One
        // lock and one clock reading for all servers; `last.servers` holds every configured
        // server in the same priority order as `slots`, so the comparison walks both once.
        let (cached, stamp) = self.cache.get_many_stamped(slots.iter().map(|s| s.config.name.as_str()));
        if let Some(last) = &last {
            let mut previous = last.servers.iter().filter(|o| o.status != Status::Skipped);
            let same = slots.iter().zip(&cached).all(|(slot, entry)| match (entry, previous.next()) {
                (Some(a), Some(o)) => {
                    o.name == slot.config.name
                        && o.status == Status::Ok
                        && o.data.as_ref().is_some_and(|b| Arc::ptr_eq(a, b))
                }
                _ => false,
            }) && previous.next().is_none();
            if same {
                log::debug!("op={op}: gather served from the cache (built by op {})", last.op);
                let mut state = self.lock();
                if state.generation == generation && state.last.as_ref().is_some_and(|l| Arc::ptr_eq(l, last)) {
                    state.warm = Some((last.clone(), stamp, cached.len() as u64));
                }
                return Ok(last.clone());
            }
        }

        let started = Instant::now();
        let o = &self.config.orchestration;
        let fail_fast = o.fail_fast;
        let mut outcomes: BTreeMap<String, ServerOutcome> = BTreeMap::new();
        let mut misses = Vec::new();
        for (i, (slot, entry)) in slots.into_iter().zip(cached).enumerate() {
            match entry {
                Some(data) => {
                    let protocol = slot.live().map(|c| c.protocol_version().to_string());
                    let mut out = outcome(&slot.config, Ok(data), Duration::ZERO, true);
                    out.protocol = protocol;
                    outcomes.insert(slot.config.name.clone(), out);
                }
                None => misses.push((i, slot)),
            }
        }
        let max_timeout = misses.iter().map(|(_, s)| s.config.timeout).max().unwrap_or_default();
        let rounds = misses.len().div_ceil(pool.size()) as u32;
        // A dead session's reconnect and the fetch each have the server's timeout.
        let deadline = deadline_in(max_timeout.saturating_mul(2 * rounds).saturating_add(COLLECT_SLACK));
        let total = misses.len();
        if total > 0 {
            log::info!("op={op}: gathering from {total} server(s)");
        }
        let cache = self.cache.clone();
        let parent = op.clone();
        let orchestration = self.config.orchestration.clone();
        let hooks = self.hooks.clone();
        let progress = self.progress.clone();
        let rx = pool.fan_out(misses, move |_, (i, slot): (usize, Arc<Slot>)| {
            let child = parent.child(i);
            let name = &slot.config.name;
            progress.emit(|| ProgressEvent::Gathering { server: name.clone(), op: child.clone() });
            let t0 = Instant::now();
            let out = gather_one(&slot, &child, &cache, &orchestration, &processes, &hooks);
            let elapsed = t0.elapsed();
            progress.emit(|| match &out {
                Ok((data, ..)) => ProgressEvent::Gathered {
                    server: name.clone(),
                    op: child.clone(),
                    resources: data.resources.len(),
                    templates: data.templates.len(),
                    tools: data.tools.len(),
                    prompts: data.prompts.len(),
                    contents: data.contents.len(),
                    elapsed,
                },
                Err(e) => ProgressEvent::failed(name, &child, ProgressStage::Gather, e),
            });
            (slot, out, elapsed)
        });
        for _ in 0..total {
            match rx.recv_deadline(deadline) {
                Ok((_, (slot, result, elapsed))) => {
                    let server = &slot.config;
                    let out = match result {
                        Ok((data, hit, protocol, recovered)) => {
                            log::debug!(
                                "op={op} server={}: {} resources, {} templates, {} tools, {} prompts in {elapsed:?}{}",
                                server.name,
                                data.resources.len(),
                                data.templates.len(),
                                data.tools.len(),
                                data.prompts.len(),
                                if hit { " (from a concurrent gather)" } else { "" }
                            );
                            slot.lock().last_good = Some(data.clone());
                            let mut out = outcome(server, Ok(data), elapsed, hit);
                            out.protocol = Some(protocol);
                            out.recovered = recovered;
                            out
                        }
                        Err(e) => {
                            let stale = if o.serve_stale { slot.lock().last_good.clone() } else { None };
                            match stale {
                                Some(data) => {
                                    log::warn!(
                                        "op={op} server={}: gather failed, serving stale data: {e}",
                                        server.name
                                    );
                                    let mut out = outcome(server, Ok(data), elapsed, false);
                                    out.status = Status::Stale;
                                    out.error = Some(e);
                                    out
                                }
                                None if fail_fast => {
                                    log::debug!("op={op}: gather failed (fail_fast): {e}");
                                    return Err(e);
                                }
                                None => {
                                    log::warn!("op={op} server={}: gather failed: {e}", server.name);
                                    outcome(server, Err(e), elapsed, false)
                                }
                            }
                        }
                    };
                    outcomes.insert(server.name.clone(), out);
                }
                Err(_) => break,
            }
        }

        // Every configured server appears, in priority order.
        let mut servers = Vec::with_capacity(self.config.servers.len());
        for s in &self.config.servers {
            let o = match outcomes.remove(&s.name) {
                Some(o) => o,
                None if !s.enabled => skipped(s),
                None => {
                    let error = Error::Timeout {
                        server: s.name.clone(),
                        method: "gather".into(),
                        op: op.clone(),
                        phase: crate::deadline::Phase::NoResult,
                        after: started.elapsed(),
                    };
                    if fail_fast {
                        return Err(error);
                    }
                    ServerOutcome { status: Status::Failed, error: Some(error), ..skipped(s) }
                }
            };
            servers.push(o);
        }
        let gathered = Arc::new(Gathered::merge(op.clone(), servers, &self.config));
        log::info!(
            "op={op}: gathered {} resources, {} tools, {} prompts from {} server(s) in {:?}",
            gathered.resources.len(),
            gathered.tools.len(),
            gathered.prompts.len(),
            gathered.servers.iter().filter(|s| s.status == Status::Ok).count(),
            started.elapsed()
        );
        let mut state = self.lock();
        if matches!(state.phase, Phase::Ready) && state.generation == generation {
            state.last = Some(gathered.clone());
        }
        Ok(gathered)
    }

    /// The catalogue for routing: the last gather while it is warm, else a new gather (or, when
    /// that fails, the last one, if any).
    fn catalogue(&self) -> Result<Arc<Gathered>> {
        match self.gather_all_resources() {
            Ok(g) => Ok(g),
            Err(e) => self.lock().last.clone().ok_or(e),
        }
    }

    /// The executor (doc alias `get_executor_mcp`): the server with the lowest priority number
    /// whose config lists the `execute_query` capability and that has (or regains) a session.
    #[doc(alias = "get_executor_mcp")]
    pub fn executor(&self) -> Result<Arc<Client>> {
        let op = OpId::new();
        let slots = self.slots(&op)?;
        // The first capable server that has (or regains) a session; the others are not touched.
        let chosen = slots.iter().filter(|s| s.config.capabilities.iter().any(|c| c == EXECUTE_QUERY)).find_map(|s| {
            self.heal(s, &op).map_err(|e| log::debug!("op={op} server={}: not the executor: {e}", s.config.name)).ok()
        });
        match chosen {
            Some(c) => {
                log::debug!("op={op} server={}: chosen as executor", c.name());
                Ok(c)
            }
            None => {
                let configured: Vec<&str> = self
                    .config
                    .servers
                    .iter()
                    .filter(|s| s.capabilities.iter().any(|c| c == EXECUTE_QUERY))
                    .map(|s| s.name.as_str())
                    .collect();
                let detail = if configured.is_empty() {
                    format!("no server's config lists the `{EXECUTE_QUERY}` capability")
                } else {
                    format!("no connected server has `{EXECUTE_QUERY}` (configured on: {})", configured.join(", "))
                };
                Err(Error::NoServer { detail, op })
            }
        }
    }

    /// The servers whose config lists `capability` (e.g. `execute_query`), in priority order,
    /// each with a live session: a dead one is re-established first (as [`client`](Self::client)
    /// does); those that cannot be reached are left out.
    pub fn servers_with_capability(&self, capability: &str) -> Result<Vec<Arc<Client>>> {
        let op = OpId::new();
        let slots = self.slots(&op)?;
        Ok(slots
            .iter()
            .filter(|s| s.config.capabilities.iter().any(|c| c == capability))
            .filter_map(|s| match self.heal(s, &op) {
                Ok(c) => Some(c),
                Err(e) => {
                    log::debug!("op={op} server={}: left out: {e}", s.config.name);
                    None
                }
            })
            .collect())
    }

    /// The connected servers that serve a domain, in priority order (no reconnect).
    pub fn servers_for_domain(&self, domain: &str) -> Vec<Arc<Client>> {
        let state = self.lock();
        state.slots.iter().filter(|s| s.config.domains.iter().any(|d| d == domain)).filter_map(|s| s.live()).collect()
    }

    fn slots(&self, op: &OpId) -> Result<Vec<Arc<Slot>>> {
        let state = self.lock();
        if !matches!(state.phase, Phase::Ready) {
            return Err(self.not_ready(&state, op.clone()));
        }
        Ok(state.slots.clone())
    }

    /// A slot's live session, re-established as a call may (attempts, back-off, deadline).
    fn heal(&self, slot: &Slot, op: &OpId) -> Result<Arc<Client>> {
        let processes = self.lock().processes.clone();
        let deadline = deadline_in(slot.config.timeout);
        slot.session(op, deadline, Heal::Call, &self.config.orchestration, &processes, &self.hooks).map(|(c, _)| c)
    }

    /// A server's session by name. A dead session (its stream ended, its process exited) is
    /// re-established first, with back-off, at most `1 + max_retries` attempts within the
    /// server's timeout; concurrent callers wait for the same attempt.
    pub fn client(&self, server: &str) -> Result<Arc<Client>> {
        let op = OpId::new();
        self.client_in(server, &op)
    }

    fn client_in(&self, server: &str, op: &OpId) -> Result<Arc<Client>> {
        let slots = self.slots(op)?;
        match slots.iter().find(|s| s.config.name == server) {
            Some(slot) => self.heal(slot, op),
            None => {
                let detail = if self.config.servers.iter().any(|s| s.name == server) {
                    format!("server `{server}` is disabled")
                } else {
                    format!("no server named `{server}` in the config")
                };
                Err(Error::NoServer { detail, op: op.clone() })
            }
        }
    }

    /// Runs `f` on a server's session; when it fails because the session died under it, once
    /// more on a new session (for requests that may be repeated: reads, listings, prompts).
    fn with_retry<T>(&self, server: &str, op: &OpId, f: impl Fn(&Client) -> Result<T>) -> Result<T> {
        let client = self.client_in(server, op)?;
        match f(&client) {
            Err(e) if client.is_closed() && matches!(e, Error::ConnectionClosed { .. } | Error::Closed { .. }) => {
                log::info!("op={op} server={server}: the session died during the call; once more on a new one");
                let client = self.client_in(server, op)?;
                f(&client)
            }
            other => other,
        }
    }

    /// Calls a tool by its name in the catalogue (see [`Gathered::tools`] and
    /// [`Naming`](crate::Naming)) on the server that owns it, under its original name. The
    /// result is never cached.
    pub fn call_tool(&self, name: &str, arguments: serde_json::Value) -> Result<CallToolResult> {
        let g = self.catalogue()?;
        let Some(tool) = g.tool(name) else {
            return Err(Error::NoServer { detail: format!("no server offers a tool named `{name}`"), op: OpId::new() });
        };
        self.call_tool_on(Some(&tool.server), &tool.original, arguments)
    }

    /// Searches the catalogue's tools ([`Gathered::search_tools_matching`]): ranked words for a
    /// `&str`, or any [`ToolQuery`](crate::ToolQuery); at most `limit` matches, best first. The
    /// catalogue is the one [`call_tool`](Self::call_tool) routes by — the last gather while it
    /// is warm, else a new one — so a warm search sends no request, and its index is built once
    /// per gathered catalogue. Fails as that gather fails, or for an invalid regex.
    pub fn search_tools<'q>(&self, query: impl Into<crate::ToolQuery<'q>>, limit: usize) -> Result<Vec<ToolMatch>> {
        self.catalogue()?.search_tools_matching(query.into(), limit)
    }

    /// Calls a tool on a named server (or, with `None`, on the [`executor`](Self::executor)),
    /// by the server's own name for it. The result is never cached. A session found dead before
    /// the call is re-established; a call whose session dies while it is in flight is not
    /// repeated (a tool may have effects).
    pub fn call_tool_on(
        &self,
        server: Option<&str>,
        tool: &str,
        arguments: serde_json::Value,
    ) -> Result<CallToolResult> {
        let op = OpId::new();
        let client = match server {
            Some(name) => self.client_in(name, &op)?,
            None => self.executor()?,
        };
        log::info!("op={op} server={}: calling tool `{tool}`", client.name());
        client.call_tool_in(&op, tool, arguments, deadline_in(client.timeout()))
    }

    /// Gets a prompt by its name in the catalogue, from the server that owns it.
    pub fn get_prompt(&self, name: &str, arguments: &BTreeMap<String, String>) -> Result<GetPromptResult> {
        let g = self.catalogue()?;
        let Some(prompt) = g.prompt(name) else {
            return Err(Error::NoServer {
                detail: format!("no server offers a prompt named `{name}`"),
                op: OpId::new(),
            });
        };
        self.get_prompt_on(&prompt.server, &prompt.original, arguments)
    }

    /// Gets a prompt from a named server, by the server's own name for it.
    pub fn get_prompt_on(
        &self,
        server: &str,
        name: &str,
        arguments: &BTreeMap<String, String>,
    ) -> Result<GetPromptResult> {
        let op = OpId::new();
        log::info!("op={op} server={server}: getting prompt `{name}`");
        self.with_retry(server, &op, |c| c.get_prompt_in(&op, name, arguments, deadline_in(c.timeout())))
    }

    /// Reads a resource from the server that owns its URI: the winner of the merged view for a
    /// listed URI — answered from the cache when a gather read it — or else the first server
    /// (by priority) with a template that matches the URI (RFC 6570 level 1).
    pub fn read_resource(&self, uri: &str) -> Result<Vec<ResourceContents>> {
        let g = self.catalogue()?;
        if let Some(contents) = g.contents(uri) {
            return Ok(contents.to_vec());
        }
        let Some(route) = g.route_uri(uri) else {
            return Err(Error::NoServer {
                detail: format!("no server lists `{uri}` or has a template that matches it"),
                op: OpId::new(),
            });
        };
        self.read_resource_on(route.server, uri)
    }

    /// Reads a resource from a named server (never from the cache).
    pub fn read_resource_on(&self, server: &str, uri: &str) -> Result<Vec<ResourceContents>> {
        let op = OpId::new();
        log::debug!("op={op} server={server}: reading a resource");
        self.with_retry(server, &op, |c| c.read_resource_in(&op, uri, deadline_in(c.timeout())))
    }

    /// The cache's counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
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

/// One server's part of a gather: its session (re-established if dead, one attempt), then its
/// cache entry or a fetch; a fetch that fails because the session died is made once more on a
/// new session. Returns the data, whether it came from a concurrent gather, the protocol
/// version, and whether the server was recovered.
fn gather_one(
    slot: &Slot,
    op: &OpId,
    cache: &ResourceCache<Arc<ServerResources>>,
    o: &crate::config::Orchestration,
    processes: &Arc<Processes>,
    hooks: &Hooks,
) -> Result<(Arc<ServerResources>, bool, String, bool)> {
    let server = &slot.config;
    let mut recovered = false;
    for round in 0..2 {
        let deadline = deadline_in(server.timeout);
        let (client, rec) = slot.session(op, deadline, Heal::Gather, o, processes, hooks)?;
        recovered |= rec;
        let result = cache.get_or_fetch_for(
            &server.name,
            deadline,
            || fetch(&client, server, op, deadline),
            || Error::Timeout {
                server: server.name.clone(),
                method: "gather".into(),
                op: op.clone(),
                phase: crate::deadline::Phase::ConcurrentGather,
                after: server.timeout,
            },
        );
        match result {
            Ok((data, hit)) => return Ok((data, hit, client.protocol_version().to_string(), recovered)),
            Err(e) if round == 0 && client.is_closed() => {
                log::info!("op={op} server={}: the session died during the gather ({e}); once more", server.name);
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns in its second round")
}

impl Drop for Orchestrator {
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for Orchestrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orchestrator").field("servers", &self.config.servers.len()).finish_non_exhaustive()
    }
}

/// [`close_all`] on a thread of its own (`mcp-close-all`), which ends when they are closed
/// (each close is bounded). Without a thread, dropping them closes them here.
fn close_in_background(clients: Vec<Arc<Client>>) {
    if clients.is_empty() {
        return;
    }
    let spawned = std::thread::Builder::new().name("mcp-close-all".into()).spawn(move || close_all(clients));
    if let Err(e) = spawned {
        log::warn!("cannot start a thread to close sessions ({e}); closing them here");
    }
}

/// Closes sessions in parallel (each close is bounded, so all of them take about one bound).
fn close_all(clients: Vec<Arc<Client>>) {
    if clients.len() <= 1 {
        clients.iter().for_each(|c| c.close());
        return;
    }
    std::thread::scope(|scope| {
        for client in &clients {
            let spawned = std::thread::Builder::new()
                .name(format!("mcp-close:{}", client.name()))
                .spawn_scoped(scope, move || client.close());
            if spawned.is_err() {
                client.close(); // no thread to be had: close it here
            }
        }
    });
}

fn outcome(
    server: &ServerConfig,
    result: Result<Arc<ServerResources>>,
    elapsed: Duration,
    from_cache: bool,
) -> ServerOutcome {
    let (status, error, data) = match result {
        Ok(d) => (Status::Ok, None, Some(d)),
        Err(e) => (Status::Failed, Some(e), None),
    };
    ServerOutcome { status, error, elapsed, from_cache, data, ..skipped(server) }
}

fn skipped(server: &ServerConfig) -> ServerOutcome {
    ServerOutcome {
        name: server.name.clone(),
        priority: server.priority,
        status: Status::Skipped,
        error: None,
        elapsed: Duration::ZERO,
        from_cache: false,
        protocol: None,
        transport: server.transport.kind(),
        recovered: false,
        data: None,
    }
}

/// One server's listings and contents, for the cache, with how long they stay fresh: on the
/// 2026-07-28 wire, the shortest `ttlMs` of all its list and read results (a server's TTL wins
/// over the configured one; `0`: not cached); without hints, the configured TTL.
fn fetch(
    client: &Client,
    server: &ServerConfig,
    op: &OpId,
    deadline: Instant,
) -> Result<Fetched<Arc<ServerResources>>> {
    client.collect_cache_hints(op);
    let result = fetch_data(client, server, op, deadline);
    let hints = client.take_cache_hints(op);
    let (value, bytes) = result?;
    // The 2026-07-28 wire: `resources/updated` of what was read comes only when asked for.
    let subscribe = client.server().capabilities.resources.as_ref().and_then(|r| r.subscribe) == Some(true);
    if subscribe && client.is_modern() {
        client.watch_resources(value.contents.keys().cloned().collect(), op);
    }
    if let Some(ttl) = hints.ttl {
        log::debug!(
            "op={op} server={}: the server's cache hints: fresh for {ttl:?}{}",
            server.name,
            if hints.private { ", private" } else { "" }
        );
    }
    // `private` results stay in this orchestrator's cache, whose entry for a server is only
    // ever fetched and served with that server's one configured credential (README, "Cache").
    Ok(Fetched { value, bytes, ttl: hints.ttl })
}

/// One server's listings and contents. Reads are pipelined on the session.
fn fetch_data(
    client: &Client,
    server: &ServerConfig,
    op: &OpId,
    deadline: Instant,
) -> Result<(Arc<ServerResources>, usize)> {
    let mut data = ServerResources::default();
    // The first pages of every listing in flight together: one round trip, not four.
    let listed = client.list_catalogue_in(op, deadline)?;
    data.resources = listed.resources;
    data.templates = listed.templates;
    data.tools = listed.tools;
    data.prompts = listed.prompts;
    if server.read_contents && !data.resources.is_empty() {
        let uris: Vec<&str> = data.resources.iter().map(|r| r.uri.as_str()).collect();
        let results = client.read_resources_in(op, &uris, deadline);
        for (uri, result) in uris.iter().zip(results) {
            match result {
                Ok(contents) => {
                    data.contents.insert(uri.to_string(), contents);
                }
                // A resource the server cannot read, or answers malformed, is recorded; a
                // failure of the session itself (closed, timed out) is the server's failure.
                Err(e @ (Error::Rpc { .. } | Error::Protocol { .. })) => {
                    data.read_errors.insert(uri.to_string(), e.to_string());
                }
                Err(e) => return Err(e),
            }
        }
    }
    let bytes = data.owned_bytes();
    Ok((Arc::new(data), bytes))
}
