//! One configured server's place in the orchestrator: its session (if any), and how it heals.
//!
//! A session found dead (its stream ended, its stdio child exited) or never established (the
//! server was down at `initialize` without `fail_fast`) is re-established on the next use:
//! one caller connects (the *leader*), concurrent callers wait for that one attempt within
//! their own deadlines (single flight). Failed attempts push the next one back: jittered
//! exponential back-off between `backoff_min` and `backoff_max`. The lock covers only the
//! slot's fields: never a connect, a close, a sleep or a callback.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::cache::ResourceCache;
use crate::catalog::ServerResources;
use crate::client::Client;
use crate::config::{Orchestration, ServerConfig};
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::transport::child::Processes;
use crate::transport::{Notification, deadline_in};

/// A program's notification callback: server name, the op id of the session's connect, the
/// notification.
pub(crate) type Subscriber = Arc<dyn Fn(&str, &OpId, &Notification) + Send + Sync>;

/// What every session's notification handler needs: the cache to invalidate, the subscribers
/// to forward to.
#[derive(Clone)]
pub(crate) struct Hooks {
    pub(crate) cache: Weak<ResourceCache<Arc<ServerResources>>>,
    pub(crate) subscribers: Arc<Mutex<Vec<Subscriber>>>,
    /// `listen_for_changes`: open `subscriptions/listen` on 2026-07-28 servers.
    pub(crate) listen: bool,
    /// The program's answers to server requests, for every client it connects.
    pub(crate) handlers: crate::handlers::Handlers,
    /// Each server's authorizer (servers with an `auth` block), with the config it was made
    /// for, kept across reconnects, initializes and a removal followed by an add of the same
    /// endpoint and `auth`: its tokens, its client registration, its flow in progress.
    pub(crate) authorizers: Arc<Mutex<Authorizers>>,
}

/// Each server's authorizer, by name, with the server config it was made for.
pub(crate) type Authorizers = std::collections::BTreeMap<String, (ServerConfig, crate::auth::Authorizer)>;

/// Connects to one server, with the orchestrator's notification handling.
pub(crate) fn connect(server: &ServerConfig, op: &OpId, processes: Arc<Processes>, hooks: &Hooks) -> Result<Client> {
    let hooks = hooks.clone();
    let session_op = op.clone();
    let authorizer =
        hooks.authorizers.lock().unwrap_or_else(|e| e.into_inner()).get(&server.name).map(|(_, a)| a.clone());
    Client::builder(server)
        .op(op.clone())
        .processes(processes)
        .handlers(hooks.handlers.clone())
        .authorizer(authorizer)
        .listen(hooks.listen)
        .on_notification(move |name, n| {
            let drops_entry = matches!(
                n.method.as_str(),
                "notifications/resources/list_changed"
                    | "notifications/resources/updated"
                    | "notifications/tools/list_changed"
                    | "notifications/prompts/list_changed"
            );
            if let (true, Some(cache)) = (drops_entry, hooks.cache.upgrade()) {
                log::info!("op={session_op} server={name}: {}; dropping its cache entry", n.method);
                cache.invalidate(name);
            }
            // The subscribers are called without the lock (they are user code).
            let subscribers: Vec<Subscriber> = hooks.subscribers.lock().unwrap_or_else(|e| e.into_inner()).clone();
            for s in subscribers {
                s(name, &session_op, n);
            }
        })
        .connect()
}

/// The back-off before attempt `failures + 1` after `failures` (≥ 1) failed attempts in a row,
/// within the orchestration's `backoff_min` / `backoff_max` (see [`crate::backoff::backoff`]).
pub(crate) fn backoff(o: &Orchestration, failures: u32) -> Duration {
    crate::backoff::backoff(o.backoff_min, o.backoff_max, failures)
}

/// How a use of the slot may reconnect.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Heal {
    /// A call: up to `1 + max_retries` attempts, waiting out the back-off within its deadline.
    Call,
    /// A gather: at most one attempt, and none while the back-off lasts.
    Gather,
}

pub(crate) struct SlotState {
    pub(crate) client: Option<Arc<Client>>,
    /// The last connect failure (or why the session died).
    pub(crate) error: Option<Error>,
    /// Failed attempts in a row.
    failures: u32,
    /// No attempt before this.
    next_try: Instant,
    /// A leader is connecting.
    connecting: bool,
    /// Bumped by every finished attempt, so that waiters know theirs has landed.
    attempts: u64,
    /// The orchestrator was closed, or the server removed: install nothing.
    pub(crate) closed: bool,
    /// The server was removed (`remove_server`): calls fail saying so.
    pub(crate) removed: bool,
    /// Whether the server ever had a session (a reconnect after a failure is a recovery).
    had_trouble: bool,
    /// The last data a gather got from it, for serving stale.
    pub(crate) last_good: Option<Arc<ServerResources>>,
}

/// One enabled server.
pub(crate) struct Slot {
    pub(crate) config: Arc<ServerConfig>,
    state: Mutex<SlotState>,
    changed: Condvar,
}

impl Slot {
    /// A slot with a session, or with the error of its failed first connect.
    pub(crate) fn new(config: Arc<ServerConfig>, result: Result<Arc<Client>>, o: &Orchestration) -> Slot {
        let (client, error, failures) = match result {
            Ok(c) => (Some(c), None, 0),
            Err(e) => (None, Some(e), 1),
        };
        let next_try = if failures > 0 { deadline_in(backoff(o, 1)) } else { Instant::now() };
        Slot::build(config, client, error, failures, next_try)
    }

    /// A slot whose server has not been connected yet (added while the orchestrator runs): its
    /// first use connects it.
    pub(crate) fn pending(config: Arc<ServerConfig>) -> Slot {
        Slot::build(config, None, None, 0, Instant::now())
    }

    fn build(
        config: Arc<ServerConfig>,
        client: Option<Arc<Client>>,
        error: Option<Error>,
        failures: u32,
        next_try: Instant,
    ) -> Slot {
        Slot {
            config,
            state: Mutex::new(SlotState {
                had_trouble: error.is_some(),
                client,
                error,
                failures,
                next_try,
                connecting: false,
                attempts: 0,
                closed: false,
                removed: false,
                last_good: None,
            }),
            changed: Condvar::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live session, if there is one now (no reconnect).
    pub(crate) fn live(&self) -> Option<Arc<Client>> {
        self.lock().client.clone().filter(|c| !c.is_closed())
    }

    /// Marks the slot closed and takes its session (to be closed by the caller); wakes waiters.
    pub(crate) fn close(&self) -> Option<Arc<Client>> {
        self.close_as(false)
    }

    /// [`close`](Self::close), for a server that was removed: later uses say so.
    pub(crate) fn remove(&self) -> Option<Arc<Client>> {
        self.close_as(true)
    }

    /// Whether the server was removed.
    pub(crate) fn is_removed(&self) -> bool {
        self.lock().removed
    }

    fn close_as(&self, removed: bool) -> Option<Arc<Client>> {
        let client = {
            let mut s = self.lock();
            s.closed = true;
            s.removed |= removed;
            s.client.take()
        };
        self.changed.notify_all();
        client
    }

    /// The live session, re-establishing a dead or missing one as `heal` allows. Returns it
    /// and whether a reconnect happened for this call (a recovery).
    pub(crate) fn session(
        &self,
        op: &OpId,
        deadline: Instant,
        heal: Heal,
        o: &Orchestration,
        processes: &Arc<Processes>,
        hooks: &Hooks,
    ) -> Result<(Arc<Client>, bool)> {
        let name = &self.config.name;
        let mut tries_left = match heal {
            Heal::Call => 1 + o.max_retries,
            Heal::Gather => 1,
        };
        let mut waited_for: Option<u64> = None;
        let mut s = self.lock();
        loop {
            if s.closed {
                return Err(self.closed_error(&s, op));
            }
            if let Some(c) = s.client.as_ref().filter(|c| !c.is_closed()) {
                return Ok((c.clone(), waited_for.is_some()));
            }
            let now = Instant::now();
            if s.connecting {
                // Somebody else's attempt: wait for it to land, within our deadline.
                waited_for.get_or_insert(s.attempts);
                if now >= deadline {
                    return Err(self.timeout(op, o));
                }
                s = self.changed.wait_timeout(s, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
                continue;
            }
            if waited_for.is_some_and(|seen| s.attempts != seen && s.client.is_none()) {
                // The attempt we waited for failed: its error is ours (single flight).
                return Err(self.failure(&s, op));
            }
            if tries_left == 0 {
                return Err(self.failure(&s, op));
            }
            if s.next_try > now {
                match heal {
                    Heal::Gather => return Err(self.failure(&s, op)),
                    Heal::Call if s.next_try >= deadline => return Err(self.failure(&s, op)),
                    Heal::Call => {
                        let wait = s.next_try - now;
                        s = self.changed.wait_timeout(s, wait).unwrap_or_else(|e| e.into_inner()).0;
                        continue;
                    }
                }
            }
            // Lead one attempt.
            tries_left -= 1;
            s.connecting = true;
            let dead = s.client.take();
            if dead.is_some() {
                s.had_trouble = true;
            }
            drop(s);
            if let Some(dead) = dead {
                log::info!("op={op} server={name}: the session is dead; reconnecting");
                close_in_background(dead);
            } else {
                log::info!("op={op} server={name}: connecting again");
            }
            let result = connect(&self.config, op, processes.clone(), hooks);
            if result.is_ok() {
                processes.release(op);
            }
            s = self.lock();
            s.connecting = false;
            s.attempts += 1;
            match result {
                Ok(client) if s.closed => {
                    let e = self.closed_error(&s, op);
                    drop(s);
                    self.changed.notify_all();
                    client.close();
                    return Err(e);
                }
                Ok(client) => {
                    let client = Arc::new(client);
                    let recovered = s.had_trouble;
                    s.client = Some(client.clone());
                    s.error = None;
                    s.failures = 0;
                    s.had_trouble = false;
                    drop(s);
                    self.changed.notify_all();
                    log::info!("op={op} server={name}: reconnected");
                    return Ok((client, recovered));
                }
                Err(e) => {
                    if matches!(e, Error::Auth { .. }) {
                        // A refused or failed authorization is not fixed by asking again at
                        // once (and may mean asking a person again): the next call retries.
                        tries_left = 0;
                    }
                    s.failures = s.failures.saturating_add(1);
                    let pause = backoff(o, s.failures);
                    s.next_try = deadline_in(pause);
                    s.had_trouble = true;
                    log::debug!("op={op} server={name}: reconnect failed ({e}); next attempt in {pause:?}");
                    s.error = Some(e);
                    self.changed.notify_all();
                }
            }
        }
    }

    /// The error of a use after the orchestrator's `close()`, or after the server's removal.
    fn closed_error(&self, s: &SlotState, op: &OpId) -> Error {
        let what = if s.removed { format!("server `{}` (removed)", self.config.name) } else { "orchestrator".into() };
        Error::Closed { what, op: op.clone() }
    }

    fn failure(&self, s: &SlotState, op: &OpId) -> Error {
        s.error.clone().unwrap_or_else(|| Error::Connect {
            server: self.config.name.clone(),
            op: op.clone(),
            detail: "the session is dead and was not re-established".into(),
        })
    }

    fn timeout(&self, op: &OpId, _o: &Orchestration) -> Error {
        Error::Timeout {
            server: self.config.name.clone(),
            method: "connect".into(),
            op: op.clone(),
            phase: crate::deadline::Phase::Reconnect,
            after: self.config.timeout,
        }
    }
}

/// Closes a dead session on a thread of its own (`mcp-close:<server>`), off the caller's path.
fn close_in_background(client: Arc<Client>) {
    let closer = client.clone();
    let spawned =
        std::thread::Builder::new().name(format!("mcp-close:{}", client.name())).spawn(move || closer.close());
    if spawned.is_err() {
        client.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_within_its_bounds() {
        let o = Orchestration {
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            ..Orchestration::default()
        };
        for failures in 1..40 {
            let base = (Duration::from_millis(100) * 2u32.pow((failures - 1).min(20))).min(Duration::from_secs(1));
            for _ in 0..50 {
                let b = backoff(&o, failures);
                assert!(b >= base / 2 && b <= base, "failures {failures}: {b:?} outside [{:?}, {base:?}]", base / 2);
            }
        }
        let distinct: std::collections::BTreeSet<Duration> = (0..20).map(|_| backoff(&o, 3)).collect();
        assert!(distinct.len() > 10, "the jitter varies: {distinct:?}");
        let zero = Orchestration { backoff_min: Duration::ZERO, backoff_max: Duration::ZERO, ..o };
        assert_eq!(backoff(&zero, 5), Duration::ZERO);
        let huge = Orchestration { backoff_min: Duration::MAX, backoff_max: Duration::MAX, ..zero };
        assert!(backoff(&huge, u32::MAX) >= Duration::MAX / 2);
    }
}
