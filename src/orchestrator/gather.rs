//! [`Orchestrator::gather_all_resources`]: the warm path that sends nothing, the fan-out of each
//! server's fetch (listings, then pipelined reads) through the cache, `serve_stale`, and the
//! merge into one catalogue.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::progress::{ProgressEvent, ProgressStage};
use super::slot::{Heal, Hooks, Slot};
use super::{COLLECT_SLACK, Orchestrator, Phase};
use crate::cache::{Fetched, ResourceCache};
use crate::catalog::{Gathered, ServerOutcome, ServerResources, Status};
use crate::client::Client;
use crate::config::ServerConfig;
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::transport::child::Processes;
use crate::transport::deadline_in;

impl Orchestrator {
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
        let (pool, slots, last, generation, processes, config, epoch) = {
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
            (
                state.pool.clone(),
                state.slots.clone(),
                state.last.clone(),
                state.generation,
                state.processes.clone(),
                state.config.clone(),
                state.epoch,
            )
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
                if state.generation == generation
                    && state.epoch == epoch
                    && state.last.as_ref().is_some_and(|l| Arc::ptr_eq(l, last))
                {
                    state.warm = Some((last.clone(), stamp, cached.len() as u64));
                }
                return Ok(last.clone());
            }
        }

        let started = Instant::now();
        let o = &self.orchestration;
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
        let orchestration = self.orchestration.clone();
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
        // Servers removed while we gathered: left out (this catalogue is not installed).
        let mut removed = std::collections::BTreeSet::new();
        for _ in 0..total {
            match rx.recv_deadline(deadline) {
                Ok((_, (slot, _, _))) if slot.is_removed() => {
                    removed.insert(slot.config.name.clone());
                }
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
        let mut servers = Vec::with_capacity(config.servers.len());
        for s in config.servers.iter().filter(|s| !removed.contains(&s.name)) {
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
        let gathered = Arc::new(Gathered::merge(op.clone(), servers, &config));
        log::info!(
            "op={op}: gathered {} resources, {} tools, {} prompts from {} server(s) in {:?}",
            gathered.resources.len(),
            gathered.tools.len(),
            gathered.prompts.len(),
            gathered.servers.iter().filter(|s| s.status == Status::Ok).count(),
            started.elapsed()
        );
        let mut state = self.lock();
        if matches!(state.phase, Phase::Ready) && state.generation == generation && state.epoch == epoch {
            state.last = Some(gathered.clone());
        }
        Ok(gathered)
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
    // A server with tools that lists none is likely still warming up: its answer is served,
    // not stored, so that the next gather asks again instead of serving it for the TTL.
    if value.tools.is_empty() && client.server().capabilities.tools.is_some() {
        log::info!("op={op} server={}: it listed no tools: not cached, asked again at the next gather", server.name);
        return Ok(Fetched { value, bytes, ttl: Some(Duration::ZERO) });
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
