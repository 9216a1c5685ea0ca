//! [`Orchestrator`]: many servers as one — parallel connect with fail-fast, parallel gather,
//! the merged catalogue, routing by name or URI, sessions that heal, bounded close.
//!
//! This file: the struct and its state, the constructor and its hooks (handlers, authorization,
//! progress, notifications), and the small helpers the other files share (the state's lock,
//! the slots, healing one). `lifecycle.rs` connects and closes, `gather.rs` gathers,
//! `routing.rs` routes calls by name or URI, `tasks.rs` starts and resumes tool calls run as
//! tasks, `executor.rs` picks servers by capability or domain, `runtime.rs` adds and removes
//! servers while the others stay connected; `slot.rs` is one server's session and its healing,
//! `progress.rs` and `status.rs` what a program observes.

mod executor;
mod gather;
mod lifecycle;
mod progress;
mod routing;
mod runtime;
mod slot;
mod status;
mod tasks;

pub use executor::EXECUTE_QUERY;
pub use progress::{ProgressEvent, ProgressStage};
pub use runtime::ConfigChanges;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::cache::{CacheStats, ResourceCache, Stamp};
use crate::catalog::{Gathered, ServerResources};
use crate::client::Client;
use crate::config::{Config, Orchestration};
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::pool::Pool;
use crate::transport::Notification;
use crate::transport::child::Processes;
use crate::transport::deadline_in;
use progress::Progress;
/// The reconnect back-off (`slot.rs`), also used between `subscriptions/listen` attempts.
use slot::{Heal, Hooks, Slot, Subscriber};
pub use status::ServerStatus;

/// Slack added to the collecting deadline on top of the servers' own timeouts.
const COLLECT_SLACK: Duration = Duration::from_secs(5);

enum Phase {
    Idle,
    Connecting,
    Ready,
}

struct State {
    phase: Phase,
    /// The servers configured now: the config given to `new`, then changed by `add_server` and
    /// `remove_server`. Read with `slots` under one lock, so that the two agree.
    config: Arc<Config>,
    /// Bumped by every `add_server` and `remove_server`: a gather that began before it does
    /// not install its catalogue as the warm-path answer.
    epoch: u64,
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
    /// The orchestration settings of the config given to `new` (they never change).
    orchestration: Orchestration,
    state: Mutex<State>,
    changed: Condvar,
    cache: Arc<ResourceCache<Arc<ServerResources>>>,
    hooks: Hooks,
    progress: Progress,
    /// Where `serve` installs the relay that passes server requests downstream.
    relay: Arc<crate::handlers::RelaySlot>,
    /// The person's step of OAuth, for the authorizers of servers added later.
    auth_handler: Option<Arc<dyn crate::auth::AuthorizationHandler>>,
}

impl Orchestrator {
    /// The same orchestrator answering every server's elicitation, sampling and roots requests
    /// with `handlers` (each call names the server in its [`RequestContext`](crate::RequestContext)).
    /// Takes effect for the sessions `initialize` opens afterwards.
    pub fn with_handlers(mut self, handlers: crate::handlers::Handlers) -> Orchestrator {
        self.hooks.handlers = handlers.with_relay_slot(Arc::clone(&self.relay));
        self
    }

    /// The same orchestrator declaring, to every server, that it renders MCP Apps whose UI
    /// resources have one of these MIME types (see [`Handlers::ui_mime_types`](crate::Handlers::ui_mime_types)).
    /// Call it after [`with_handlers`](Self::with_handlers), which replaces the declaration.
    /// Takes effect for the sessions `initialize` opens afterwards.
    pub fn with_ui_mime_types(mut self, mime_types: impl IntoIterator<Item = impl Into<String>>) -> Orchestrator {
        self.hooks.handlers = self.hooks.handlers.clone().ui_mime_types(mime_types);
        self
    }

    /// The same orchestrator with the person's step of the OAuth authorization code flow, for
    /// every server whose config has an `auth` block of `type: oauth`: it gets the authorization
    /// URL (and the server's name) when a server needs a person and no token is held, and
    /// returns the redirect it received (see [`AuthorizationHandler`](crate::AuthorizationHandler);
    /// the command line's opens a browser and listens on the loopback redirect port).
    /// Tokens are kept per server for the orchestrator's life (and in the `token_file`, when the
    /// config names one): reconnects and a new `initialize` reuse them.
    pub fn with_authorization_handler(mut self, handler: Arc<dyn crate::auth::AuthorizationHandler>) -> Orchestrator {
        for (_, authorizer) in self.hooks.authorizers.lock().unwrap_or_else(|e| e.into_inner()).values() {
            authorizer.set_handler(handler.clone());
        }
        self.auth_handler = Some(handler);
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
        let authorizers = Arc::new(Mutex::new(
            config
                .servers
                .iter()
                .filter_map(|s| Some((s.name.clone(), (s.clone(), crate::auth::for_server(s, None)?))))
                .collect(),
        ));
        let relay = Arc::new(crate::handlers::RelaySlot::default());
        Orchestrator {
            orchestration: config.orchestration.clone(),
            state: Mutex::new(State {
                phase: Phase::Idle,
                config: Arc::new(config),
                epoch: 0,
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
                handlers: crate::handlers::Handlers::default().with_relay_slot(Arc::clone(&relay)),
                authorizers,
            },
            cache,
            progress: Progress::default(),
            relay,
            auth_handler: None,
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

    /// Passes every server request (elicitation, sampling, roots) to `relay` instead of the
    /// handlers (replacing the relay installed before, if any); the sessions opened afterwards
    /// declare every kind in their `initialize`.
    pub(crate) fn install_relay(&self, relay: Arc<dyn crate::handlers::Relay>) {
        self.relay.install(relay);
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

    /// The config as it is now: the one it was built with, changed by
    /// [`add_server`](Self::add_server), [`remove_server`](Self::remove_server) and
    /// [`apply_config`](Self::apply_config) since.
    pub fn config(&self) -> Arc<Config> {
        self.lock().config.clone()
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
        slot.session(op, deadline, Heal::Call, &self.orchestration, &processes, &self.hooks).map(|(c, _)| c)
    }

    /// The cache's counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }
}

impl std::fmt::Debug for Orchestrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orchestrator").field("servers", &self.config().servers.len()).finish_non_exhaustive()
    }
}
