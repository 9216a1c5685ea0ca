//! [`Orchestrator`]: many servers as one — parallel connect with fail-fast, parallel gather,
//! priority merge, cache, executor lookup, bounded close.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::cache::{CacheStats, ResourceCache};
use crate::catalog::{Gathered, ServerOutcome, ServerResources, Status};
use crate::client::Client;
use crate::config::{Config, ServerConfig};
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::pool::Pool;
use crate::protocol::CallToolResult;
use crate::transport::child::Processes;
use crate::transport::{CLOSE_BOUND, deadline_in};
use crossbeam_channel::RecvTimeoutError;

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
    /// Connected servers, in priority order.
    clients: Vec<Connected>,
    /// Why each server that did not connect failed.
    failures: BTreeMap<String, Error>,
    /// The last gather, returned again while every server's cache entry is the same.
    last: Option<Arc<Gathered>>,
    /// Bumped by every `close()`: work started before it must not install its results after.
    generation: u64,
    /// Tells the connect jobs of the initialize in progress to give up (set by fail-fast and
    /// by `close()`).
    abort: Arc<AtomicBool>,
    /// The stdio processes the last initialize started: fail-fast kills those still
    /// connecting, `close()` every one its sessions did not end.
    processes: Arc<Processes>,
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
}

impl Orchestrator {
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
        Orchestrator {
            config,
            state: Mutex::new(State {
                phase: Phase::Idle,
                pool: None,
                clients: Vec::new(),
                failures: BTreeMap::new(),
                last: None,
                generation: 0,
                abort: Arc::new(AtomicBool::new(false)),
                processes: Arc::new(Processes::default()),
            }),
            changed: Condvar::new(),
            cache,
        }
    }

    /// The config it was built with.
    pub fn config(&self) -> &Config {
        &self.config
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
            Ok((clients, failures)) => {
                state.clients = clients;
                state.failures = failures;
                state.phase = Phase::Ready;
                state.last = None;
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
        let cache: Weak<ResourceCache<Arc<ServerResources>>> = Arc::downgrade(&self.cache);
        let parent = op.clone();
        let abort_job = abort.flag.clone();
        let processes = abort.processes.clone();
        let total = servers.len();
        let rx = pool.fan_out(servers, move |i, server: ServerConfig| {
            let child = parent.child(i);
            if abort_job.load(Ordering::SeqCst) {
                log::debug!("op={child} server={}: not connecting: the call already failed", server.name);
                return (server, None);
            }
            let cache = cache.clone();
            let started = Instant::now();
            let result = Client::builder(&server)
                .op(child.clone())
                .processes(processes.clone())
                .on_notification(move |name, n| {
                    let drops_entry = matches!(
                        n.method.as_str(),
                        "notifications/resources/list_changed"
                            | "notifications/resources/updated"
                            | "notifications/tools/list_changed"
                    );
                    if let (true, Some(cache)) = (drops_entry, cache.upgrade()) {
                        log::info!("server={name}: {}; dropping its cache entry", n.method);
                        cache.invalidate(name);
                    }
                })
                .connect();
            match &result {
                Ok(_) => log::debug!("op={child} server={}: connected in {:?}", server.name, started.elapsed()),
                // Under fail-fast the error is returned to the caller: no need to log it twice.
                Err(e) if fail_fast => log::debug!("op={child} server={}: {e}", server.name),
                Err(e) => log::warn!("op={child} server={}: {e}", server.name),
            }
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

    /// Gathers every connected server's resources, templates, tools and contents, in parallel,
    /// and merges them by URI (lowest priority number wins). Within the cache TTL a server
    /// that answered is not asked again; when every server answered last time, the call sends
    /// no request and returns the same `Arc` as the last call. (A server that failed is asked
    /// again each time.) Each server's part — listings, all pages, and its reads — must finish
    /// within that server's `timeout`.
    ///
    /// A session that died (its server went away) stays dead until [`close`](Self::close) and
    /// [`initialize`](Self::initialize); its server's outcome says why.
    ///
    /// With `fail_fast`, a server that fails fails the call; without it, the failure is in that
    /// server's outcome.
    pub fn gather_all_resources(&self) -> Result<Arc<Gathered>> {
        let op = OpId::new();
        let (pool, clients, failures, last, generation) = {
            let state = self.lock();
            match state.phase {
                Phase::Ready => {}
                _ => return Err(Error::Closed { what: "orchestrator (not initialized)".into(), op }),
            }
            let clients: Vec<(Arc<ServerConfig>, Arc<Client>)> =
                state.clients.iter().map(|c| (c.config.clone(), c.client.clone())).collect();
            let failures: BTreeMap<String, Error> = state.failures.clone();
            (state.pool.clone(), clients, failures, state.last.clone(), state.generation)
        };
        let Some(pool) = pool else { return Err(Error::Closed { what: "orchestrator".into(), op }) };

        // Warm path: every server's entry is fresh and is the one the last gather used. One
        // lock and one clock reading for all servers; `last.servers` holds every configured
        // server in the same priority order as `clients`, so the comparison walks both once.
        let cached = self.cache.get_many(clients.iter().map(|(s, _)| s.name.as_str()));
        if let Some(last) = &last {
            let mut previous = last.servers.iter().filter_map(|o| o.data.as_ref().map(|d| (&o.name, d)));
            let same = failures.is_empty()
                && clients.iter().zip(&cached).all(|((s, _), entry)| match (entry, previous.next()) {
                    (Some(a), Some((name, b))) => *name == s.name && Arc::ptr_eq(a, b),
                    _ => false,
                })
                && previous.next().is_none();
            if same {
                log::debug!("op={op}: gather served from the cache (built by op {})", last.op);
                return Ok(last.clone());
            }
        }

        let started = Instant::now();
        let fail_fast = self.config.orchestration.fail_fast;
        let mut outcomes: BTreeMap<String, ServerOutcome> = BTreeMap::new();
        let mut misses = Vec::new();
        for (i, ((server, client), entry)) in clients.into_iter().zip(cached).enumerate() {
            match entry {
                Some(data) => {
                    outcomes.insert(server.name.clone(), outcome(&server, Ok(data), Duration::ZERO, true));
                }
                None => misses.push((i, server, client)),
            }
        }
        let max_timeout = misses.iter().map(|(_, s, _)| s.timeout).max().unwrap_or_default();
        let rounds = misses.len().div_ceil(pool.size()) as u32;
        let deadline = deadline_in(max_timeout.saturating_mul(rounds).saturating_add(COLLECT_SLACK));
        let total = misses.len();
        if total > 0 {
            log::info!("op={op}: gathering from {total} server(s)");
        }
        let cache = self.cache.clone();
        let parent = op.clone();
        let rx = pool.fan_out(misses, move |_, (i, server, client): (usize, Arc<ServerConfig>, Arc<Client>)| {
            let child = parent.child(i);
            let t0 = Instant::now();
            let deadline = deadline_in(server.timeout);
            let result = cache.get_or_fetch(
                &server.name,
                deadline,
                || fetch(&client, &server, &child, deadline),
                || Error::Timeout {
                    server: server.name.clone(),
                    method: "gather".into(),
                    op: child.clone(),
                    phase: crate::deadline::Phase::ConcurrentGather,
                    after: server.timeout,
                },
            );
            let elapsed = t0.elapsed();
            match &result {
                Ok((data, hit)) => log::debug!(
                    "op={child} server={}: {} resources, {} templates, {} tools in {elapsed:?}{}",
                    server.name,
                    data.resources.len(),
                    data.templates.len(),
                    data.tools.len(),
                    if *hit { " (from a concurrent gather)" } else { "" }
                ),
                Err(e) if fail_fast => log::debug!("op={child} server={}: gather failed: {e}", server.name),
                Err(e) => log::warn!("op={child} server={}: gather failed: {e}", server.name),
            }
            (server, result, elapsed)
        });
        for _ in 0..total {
            match rx.recv_deadline(deadline) {
                Ok((_, (server, result, elapsed))) => {
                    if let (true, Err(e)) = (fail_fast, &result) {
                        log::debug!("op={op}: gather failed (fail_fast): {e}");
                        return Err(e.clone());
                    }
                    let from_cache = matches!(result, Ok((_, true)));
                    outcomes.insert(server.name.clone(), outcome(&server, result.map(|(d, _)| d), elapsed, from_cache));
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
                    let error = failures.get(&s.name).cloned().unwrap_or_else(|| Error::Timeout {
                        server: s.name.clone(),
                        method: "gather".into(),
                        op: op.clone(),
                        phase: crate::deadline::Phase::NoResult,
                        after: started.elapsed(),
                    });
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
            "op={op}: gathered {} resources from {} server(s) in {:?}",
            gathered.resources.len(),
            gathered.servers.iter().filter(|s| s.status == Status::Ok).count(),
            started.elapsed()
        );
        let mut state = self.lock();
        if matches!(state.phase, Phase::Ready) && state.generation == generation {
            state.last = Some(gathered.clone());
        }
        Ok(gathered)
    }

    /// The executor (doc alias `get_executor_mcp`): the connected server with the lowest
    /// priority number whose config lists the `execute_query` capability.
    #[doc(alias = "get_executor_mcp")]
    pub fn executor(&self) -> Result<Arc<Client>> {
        let op = OpId::new();
        let state = self.lock();
        if !matches!(state.phase, Phase::Ready) {
            return Err(Error::Closed { what: "orchestrator (not initialized)".into(), op });
        }
        match state
            .clients
            .iter()
            .find(|c| !c.client.is_closed() && c.config.capabilities.iter().any(|cap| cap == EXECUTE_QUERY))
        {
            Some(c) => {
                log::debug!("op={op} server={}: chosen as executor", c.config.name);
                Ok(c.client.clone())
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

    /// The connected servers that serve a domain, in priority order.
    pub fn servers_for_domain(&self, domain: &str) -> Vec<Arc<Client>> {
        let state = self.lock();
        state
            .clients
            .iter()
            .filter(|c| c.config.domains.iter().any(|d| d == domain))
            .map(|c| c.client.clone())
            .collect()
    }

    /// A connected server by name.
    pub fn client(&self, server: &str) -> Result<Arc<Client>> {
        let op = OpId::new();
        let state = self.lock();
        if !matches!(state.phase, Phase::Ready) {
            return Err(Error::Closed { what: "orchestrator (not initialized)".into(), op });
        }
        match state.clients.iter().find(|c| c.config.name == server) {
            Some(c) => Ok(c.client.clone()),
            None => {
                let detail = match state.failures.get(server) {
                    Some(e) => format!("server `{server}` did not connect: {e}"),
                    None if self.config.servers.iter().any(|s| s.name == server) => {
                        format!("server `{server}` is not connected (disabled?)")
                    }
                    None => format!("no server named `{server}` in the config"),
                };
                Err(Error::NoServer { detail, op })
            }
        }
    }

    /// Calls a tool on a named server (or, with `None`, on the [`executor`](Self::executor)).
    /// The result is never cached.
    pub fn call_tool(&self, server: Option<&str>, tool: &str, arguments: serde_json::Value) -> Result<CallToolResult> {
        let client = match server {
            Some(name) => self.client(name)?,
            None => self.executor()?,
        };
        let op = OpId::new();
        log::info!("op={op} server={}: calling tool `{tool}`", client.name());
        client.call_tool_in(&op, tool, arguments, deadline_in(client.timeout()))
    }

    /// The cache's counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Why each server that did not connect failed (with `fail_fast: false`).
    pub fn connect_failures(&self) -> BTreeMap<String, Error> {
        self.lock().failures.clone()
    }

    /// Closes every session and stops the threads. Idempotent and bounded in time; calls after
    /// it fail with [`Error::Closed`] until the next [`initialize`](Self::initialize). When it
    /// returns, no process the library started (a stdio server, or one it started) remains,
    /// including those of connects still in flight or abandoned by fail-fast.
    pub fn close(&self) {
        let op = OpId::new();
        let (clients, pool, processes) = {
            let mut state = self.lock();
            // An initialize in progress sees the new generation when it finishes, closes what it
            // opened and resets the phase itself; its queued connect jobs give up now.
            state.generation += 1;
            state.abort.store(true, Ordering::SeqCst);
            if matches!(state.phase, Phase::Ready) {
                state.phase = Phase::Idle;
            }
            state.last = None;
            state.failures.clear();
            (std::mem::take(&mut state.clients), state.pool.take(), state.processes.clone())
        };
        if !clients.is_empty() {
            log::info!("op={op}: closing {} session(s)", clients.len());
        }
        close_all(clients.into_iter().map(|c| c.client).collect());
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

/// One server's listings and contents, for the cache. Reads are pipelined on the session.
fn fetch(
    client: &Client,
    server: &ServerConfig,
    op: &OpId,
    deadline: Instant,
) -> Result<(Arc<ServerResources>, usize)> {
    let caps = &client.server().capabilities;
    let mut data = ServerResources::default();
    if caps.resources.is_some() {
        data.resources = client.list_resources_in(op, deadline)?;
        data.templates = client.list_resource_templates_in(op, deadline)?;
    }
    if caps.tools.is_some() {
        data.tools = client.list_tools_in(op, deadline)?;
    }
    if caps.prompts.is_some() {
        data.prompts = client.list_prompts_in(op, deadline)?;
    }
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
