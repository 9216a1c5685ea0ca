//! Changing the servers while the orchestrator runs: [`Orchestrator::add_server`],
//! [`Orchestrator::remove_server`] and [`Orchestrator::apply_config`] (the difference between
//! two configs, as `serve` applies an edited config file). The other servers' sessions, cache
//! entries and catalogue parts are left as they are.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use super::progress::{ProgressEvent, ProgressStage};
use super::slot::{Heal, Slot};
use super::{COLLECT_SLACK, Orchestrator, Phase};
use crate::client::Client;
use crate::config::{Config, ServerConfig};
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::pool::Pool;
use crate::transport::{CLOSE_BOUND, deadline_in};

/// What [`Orchestrator::apply_config`] changed, by server name (each list sorted).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ConfigChanges {
    /// Servers that were not configured and now are.
    pub added: Vec<String>,
    /// Servers that were configured and no longer are.
    pub removed: Vec<String>,
    /// Servers whose settings changed: removed, then added with the new settings.
    pub changed: Vec<String>,
    /// Servers of the new config that could not be added (or added back, for a changed one),
    /// with why: a failed connect (see [`Orchestrator::add_server`]).
    pub failed: BTreeMap<String, Error>,
}

impl ConfigChanges {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty() && self.failed.is_empty()
    }
}

/// What [`Orchestrator::detach`] took out.
enum Detached {
    /// The server's slot (to be marked removed and its session closed) and the pool to close
    /// it on.
    Slot(Arc<Slot>, Option<Arc<Pool>>),
    /// The server was configured but had no slot (disabled, or not initialized).
    ConfigOnly,
    /// No such server (or, with `only`, no longer that slot).
    Unknown,
}

impl Orchestrator {
    /// Adds a server while the others stay connected. Its config is validated as a config
    /// file's is, against the servers configured now: a name already configured (enabled or
    /// not) is an [`Error::Config`] `duplicate server `…`` and changes nothing (to replace a
    /// server, remove it first, or use [`apply_config`](Self::apply_config)).
    ///
    /// Once the orchestrator is initialized, an enabled server is connected here, within its
    /// `timeout`; the next [`gather_all_resources`](Self::gather_all_resources) gathers it, and
    /// its tools, prompts and resources join the catalogue by its priority. A failed connect
    /// is returned: with `fail_fast`, the server is not added; without it, it stays
    /// configured and is tried again as a server that was down at `initialize` is (by the next
    /// gather or call, after its back-off). Before `initialize` (or while it runs, or after
    /// `close`), the server is only configured: `initialize` connects it.
    pub fn add_server(&self, server: ServerConfig) -> Result<()> {
        let op = OpId::new();
        let name = server.name.clone();
        let (slot, processes) = {
            let mut state = self.lock();
            let added = server.clone();
            state.config = Arc::new(state.config.with_server(server)?);
            self.changed_servers(&mut state);
            // Before the slot is installed (a gather may connect it at once); after the
            // validation (a duplicate must not replace the configured server's authorizer).
            // Pure: makes an authorizer, sends nothing.
            self.keep_authorizer(&added);
            if !added.enabled || !matches!(state.phase, Phase::Ready) {
                log::info!("op={op} server={name}: added to the config");
                return Ok(());
            }
            let slot = Arc::new(Slot::pending(Arc::new(added)));
            state.slots.push(slot.clone());
            state.slots.sort_by(|a, b| (a.config.priority, &a.config.name).cmp(&(b.config.priority, &b.config.name)));
            (slot, state.processes.clone())
        };
        // An entry a server of that name left behind is not this one's.
        self.cache.invalidate(&name);
        self.progress.emit(|| ProgressEvent::Connecting { server: name.clone(), op: op.clone() });
        let started = Instant::now();
        let deadline = deadline_in(slot.config.timeout);
        let result = slot.session(&op, deadline, Heal::Gather, &self.orchestration, &processes, &self.hooks);
        let elapsed = started.elapsed();
        self.progress.emit(|| match &result {
            Ok((client, _)) => ProgressEvent::Connected {
                server: name.clone(),
                op: op.clone(),
                protocol: client.protocol_version().to_string(),
                transport: client.transport(),
                elapsed,
            },
            Err(e) => ProgressEvent::failed(&name, &op, ProgressStage::Connect, e),
        });
        match result {
            Ok(_) => {
                log::info!("op={op} server={name}: added and connected in {elapsed:?}");
                Ok(())
            }
            Err(e) if self.orchestration.fail_fast => {
                log::warn!("op={op} server={name}: not added: {e}");
                if let Detached::Slot(slot, pool) = self.detach(&name, Some(&slot)) {
                    self.close_removed(&slot, pool, &op);
                }
                Err(e)
            }
            Err(e) => {
                log::warn!("op={op} server={name}: added, but not connected: {e}");
                Err(e)
            }
        }
    }

    /// Removes a server while the others stay connected: it leaves the config, its session is
    /// closed (on the pool, within a bound: its process ends, an HTTP session gets its
    /// `DELETE`), and its cache entry and catalogue part are dropped, so that the next gather,
    /// routing and search no longer see it. Its calls in flight end at once with
    /// [`Error::ConnectionClosed`] saying the server was removed; later calls naming it fail
    /// as for a server that was never configured. An unknown name is an [`Error::NoServer`].
    pub fn remove_server(&self, name: &str) -> Result<()> {
        let op = OpId::new();
        match self.detach(name, None) {
            Detached::Slot(slot, pool) => self.close_removed(&slot, pool, &op),
            Detached::ConfigOnly => {} // configured, but without a slot (disabled, or not initialized)
            Detached::Unknown => {
                return Err(Error::NoServer { detail: format!("no server named `{name}` in the config"), op });
            }
        }
        self.cache.invalidate(name);
        log::info!("op={op} server={name}: removed");
        Ok(())
    }

    /// Makes the configured servers those of `config`, through [`remove_server`](Self::remove_server)
    /// and [`add_server`](Self::add_server): servers no longer in it are removed, new ones
    /// added, and a server whose settings changed is removed and added again. Servers whose
    /// settings are the same keep their sessions and cache entries. The orchestration settings
    /// are those of the config the orchestrator was built with (a change to them is logged
    /// and takes effect with a new orchestrator). A server that fails to be added is in
    /// [`ConfigChanges::failed`]; the others are applied all the same.
    pub fn apply_config(&self, config: &Config) -> Result<ConfigChanges> {
        let op = OpId::new();
        let current = self.config();
        if config.orchestration != current.orchestration {
            log::warn!("op={op}: the orchestration settings changed; they take effect when the program restarts");
        }
        let mut changes = ConfigChanges::default();
        for s in &current.servers {
            match config.server(&s.name) {
                None => changes.removed.push(s.name.clone()),
                Some(new) if new != s => changes.changed.push(s.name.clone()),
                Some(_) => {}
            }
        }
        changes.added =
            config.servers.iter().filter(|s| current.server(&s.name).is_none()).map(|s| s.name.clone()).collect();
        for name in changes.removed.iter().chain(&changes.changed) {
            match self.remove_server(name) {
                Ok(()) | Err(Error::NoServer { .. }) => {} // removed meanwhile by another caller
                Err(e) => return Err(e),
            }
        }
        for name in changes.changed.iter().chain(&changes.added) {
            let Some(server) = config.server(name) else { continue };
            if let Err(e) = self.add_server(server.clone()) {
                changes.failed.insert(name.clone(), e);
            }
        }
        for list in [&mut changes.added, &mut changes.removed, &mut changes.changed] {
            list.sort();
        }
        if !changes.is_empty() {
            log::info!(
                "op={op}: config applied: added {:?}, removed {:?}, changed {:?}, failed {:?}",
                changes.added,
                changes.removed,
                changes.changed,
                changes.failed.keys().collect::<Vec<_>>()
            );
        }
        Ok(changes)
    }

    /// The catalogue no longer matches the configured servers: the warm path must not serve
    /// it, and a gather in flight must not install its result.
    fn changed_servers(&self, state: &mut super::State) {
        state.epoch += 1;
        state.last = None;
        state.warm = None;
    }

    /// Takes a server out of the config and its slot out of the orchestrator (only that slot,
    /// when `only` is given: nothing happens unless the server still has that slot).
    fn detach(&self, name: &str, only: Option<&Arc<Slot>>) -> Detached {
        let mut state = self.lock();
        let at = state.slots.iter().position(|s| s.config.name == name);
        if let Some(only) = only
            && !at.is_some_and(|i| Arc::ptr_eq(&state.slots[i], only))
        {
            return Detached::Unknown;
        }
        if state.config.server(name).is_none() {
            return Detached::Unknown;
        }
        state.config = Arc::new(state.config.without_server(name));
        self.changed_servers(&mut state);
        match at {
            Some(i) => Detached::Slot(state.slots.remove(i), state.pool.clone()),
            None => Detached::ConfigOnly,
        }
    }

    /// Marks a detached slot removed and closes its session on the pool (a thread of its own
    /// without one), waiting no longer than a session's close takes.
    fn close_removed(&self, slot: &Slot, pool: Option<Arc<Pool>>, op: &OpId) {
        let Some(client) = slot.remove() else { return };
        let name = slot.config.name.clone();
        let Some(pool) = pool else {
            super::lifecycle::close_in_background(vec![client]);
            return;
        };
        let rx = pool.fan_out(vec![client], |_, client: Arc<Client>| client.close());
        // A session's close is bounded (its reader, a stdio child's grace, an HTTP DELETE).
        let deadline = deadline_in(CLOSE_BOUND.saturating_mul(3).saturating_add(COLLECT_SLACK));
        if rx.recv_deadline(deadline).is_err() {
            log::warn!("op={op} server={name}: its session is still closing; not waiting any longer");
        }
    }

    /// Gives an added server with an `auth` block an authorizer: the one kept for its name
    /// when it was made for the same endpoint and `auth`, else a new one.
    fn keep_authorizer(&self, server: &ServerConfig) {
        let mut authorizers = self.hooks.authorizers.lock().unwrap_or_else(|e| e.into_inner());
        let same = authorizers
            .get(&server.name)
            .is_some_and(|(was, _)| was.transport == server.transport && was.auth == server.auth);
        if same {
            return;
        }
        authorizers.remove(&server.name);
        if let Some(a) = crate::auth::for_server(server, self.auth_handler.clone()) {
            authorizers.insert(server.name.clone(), (server.clone(), a));
        }
    }
}
